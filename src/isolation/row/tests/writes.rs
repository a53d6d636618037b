//! UPDATE, DELETE, MERGE, INSERT and COPY.

use super::*;

/// UPDATE and DELETE keep their target and gain `AND <target>."tenant_id" = <key>`; tables
/// in FROM/USING and subqueries are wrapped like any read. MERGE cannot be confined.
#[test]
fn writes() {
    check(
        "writes",
        &[
            (
                "UPDATE orders SET item = 'x' WHERE id = 1",
                Out("UPDATE orders SET item = 'x' WHERE (id = 1) AND orders.\"tenant_id\" = {kt}"),
            ),
            (
                "UPDATE orders SET item = 'x'",
                Out("UPDATE orders SET item = 'x' WHERE orders.\"tenant_id\" = {kt}"),
            ),
            (
                "UPDATE orders o SET item = 'x' WHERE o.id = 1",
                Out("UPDATE orders o SET item = 'x' WHERE (o.id = 1) AND o.\"tenant_id\" = {kt}"),
            ),
            (
                "UPDATE \"orders\" AS \"O\" SET item = 'x'",
                Out("UPDATE \"orders\" AS \"O\" SET item = 'x' WHERE \"O\".\"tenant_id\" = {kt}"),
            ),
            // The OR stays inside parentheses.
            (
                "UPDATE public.orders SET item = 'x' WHERE id = 1 OR id = 2",
                Out(
                    "UPDATE public.orders SET item = 'x' WHERE (id = 1 OR id = 2) AND orders.\"tenant_id\" = {kt}",
                ),
            ),
            (
                "UPDATE orders o SET item = c.name FROM customers c WHERE c.id = o.id",
                Out(
                    "UPDATE orders o SET item = c.name FROM {c} AS c WHERE (c.id = o.id) AND o.\"tenant_id\" = {kt}",
                ),
            ),
            (
                "UPDATE orders SET item = c.name FROM countries c WHERE c.id = orders.id RETURNING orders.*",
                Out(
                    "UPDATE orders SET item = c.name FROM countries c WHERE (c.id = orders.id) AND orders.\"tenant_id\" = {kt} RETURNING orders.*",
                ),
            ),
            (
                "UPDATE orders SET item = 'x' FROM orders o2 WHERE o2.id = orders.id",
                Out(
                    "UPDATE orders SET item = 'x' FROM {o} AS o2 WHERE (o2.id = orders.id) AND orders.\"tenant_id\" = {kt}",
                ),
            ),
            (
                "UPDATE countries SET name = o.item FROM orders o WHERE o.id = countries.id",
                Out("UPDATE countries SET name = o.item FROM {o} AS o WHERE o.id = countries.id"),
            ),
            (
                "UPDATE countries SET name = 'x' WHERE id IN (SELECT id FROM orders)",
                Out(
                    "UPDATE countries SET name = 'x' WHERE id IN (SELECT id FROM orders WHERE orders.\"tenant_id\" = {kt})",
                ),
            ),
            (
                "UPDATE orders SET (item, amount) = (SELECT item, amount FROM orders WHERE id = 2) WHERE id = 1",
                Out(
                    "UPDATE orders SET (item, amount) = (SELECT item, amount FROM orders WHERE (id = 2) AND orders.\"tenant_id\" = {kt}) WHERE (id = 1) AND orders.\"tenant_id\" = {kt}",
                ),
            ),
            (
                "UPDATE orders SET item = (SELECT name FROM customers WHERE customers.id = orders.id)",
                Out(
                    "UPDATE orders SET item = (SELECT name FROM customers WHERE (customers.id = orders.id) AND customers.\"tenant_id\" = {kt}) WHERE orders.\"tenant_id\" = {kt}",
                ),
            ),
            (
                "UPDATE orders SET item = 'x' RETURNING (SELECT count(*) FROM customers)",
                Out(
                    "UPDATE orders SET item = 'x' WHERE orders.\"tenant_id\" = {kt} RETURNING (SELECT count(*) FROM customers WHERE customers.\"tenant_id\" = {kt})",
                ),
            ),
            (
                "WITH x AS (SELECT 1) UPDATE orders SET item = 'x'",
                Out(
                    "WITH x AS (SELECT 1) UPDATE orders SET item = 'x' WHERE orders.\"tenant_id\" = {kt}",
                ),
            ),
            (
                "PREPARE q AS UPDATE orders SET item = $1 WHERE id = $2",
                Out(
                    "PREPARE q AS UPDATE orders SET item = $1 WHERE (id = $2) AND orders.\"tenant_id\" = {kt}",
                ),
            ),
            ("UPDATE plans SET name = 'x'", Same),
            // Rows cannot move to another tenant.
            (
                "UPDATE orders SET tenant_id = 'other' WHERE id = 1",
                Refused("assigning the tenant column"),
            ),
            (
                "UPDATE orders SET \"tenant_id\" = 'other'",
                Refused("assigning the tenant column"),
            ),
            (
                "UPDATE orders SET TENANT_ID = 'other'",
                Refused("assigning the tenant column"),
            ),
            (
                "UPDATE orders SET (item, tenant_id) = ('x', 'y')",
                Refused("assigning the tenant column"),
            ),
            (
                "INSERT INTO orders (id, item) VALUES (1, 'a'); UPDATE orders SET tenant_id = 'b'",
                Refused("assigning the tenant column"),
            ),
            ("UPDATE ONLY orders SET item = 'x'", Refused("FROM ONLY")),
            (
                "UPDATE orders SET item = 'x' WHERE CURRENT OF c",
                Refused("cannot be parsed"),
            ),
            (
                "UPDATE nosuch SET a = 1",
                Refused("relation \"nosuch\" is not known"),
            ),
            // DELETE.
            (
                "DELETE FROM orders WHERE id = 1",
                Out("DELETE FROM orders WHERE (id = 1) AND orders.\"tenant_id\" = {kt}"),
            ),
            (
                "DELETE FROM orders",
                Out("DELETE FROM orders WHERE orders.\"tenant_id\" = {kt}"),
            ),
            (
                "DELETE FROM orders WHERE id = 1 OR true",
                Out("DELETE FROM orders WHERE (id = 1 OR true) AND orders.\"tenant_id\" = {kt}"),
            ),
            (
                "DELETE FROM orders AS o WHERE o.id = 1",
                Out("DELETE FROM orders AS o WHERE (o.id = 1) AND o.\"tenant_id\" = {kt}"),
            ),
            (
                "DELETE FROM public.orders WHERE id = 1",
                Out("DELETE FROM public.orders WHERE (id = 1) AND orders.\"tenant_id\" = {kt}"),
            ),
            (
                "DELETE FROM orders o USING customers c WHERE c.id = o.id",
                Out(
                    "DELETE FROM orders o USING {c} AS c WHERE (c.id = o.id) AND o.\"tenant_id\" = {kt}",
                ),
            ),
            (
                "DELETE FROM countries c USING orders o WHERE o.id = c.id",
                Out("DELETE FROM countries c USING {o} AS o WHERE o.id = c.id"),
            ),
            (
                "DELETE FROM orders WHERE id IN (SELECT id FROM customers) RETURNING *",
                Out(
                    "DELETE FROM orders WHERE (id IN (SELECT id FROM customers WHERE customers.\"tenant_id\" = {kt})) AND orders.\"tenant_id\" = {kt} RETURNING *",
                ),
            ),
            (
                "WITH c AS (SELECT id FROM customers) DELETE FROM orders WHERE id IN (SELECT id FROM c)",
                Out(
                    "WITH c AS (SELECT id FROM customers WHERE customers.\"tenant_id\" = {kt}) DELETE FROM orders WHERE (id IN (SELECT id FROM c)) AND orders.\"tenant_id\" = {kt}",
                ),
            ),
            (
                "EXPLAIN ANALYZE DELETE FROM orders",
                Out("EXPLAIN ANALYZE DELETE FROM orders WHERE orders.\"tenant_id\" = {kt}"),
            ),
            ("DELETE FROM countries WHERE id = 1", Same),
            ("DELETE FROM order_totals", Refused("has no tenant column")),
            // MERGE: refused whenever it writes or reads a tenant table.
            (
                "MERGE INTO orders o USING customers c ON o.id = c.id WHEN MATCHED THEN UPDATE SET item = c.name",
                Refused("MERGE into a tenant table"),
            ),
            (
                "MERGE INTO public.orders o USING plans p ON o.id = p.id WHEN NOT MATCHED THEN INSERT (id) VALUES (p.id)",
                Refused("MERGE into a tenant table"),
            ),
            (
                "MERGE INTO countries t USING orders o ON t.id = o.id WHEN MATCHED THEN DELETE",
                Refused("MERGE reading a tenant table"),
            ),
            (
                "MERGE INTO countries t USING (SELECT * FROM orders) p ON t.id = p.id WHEN MATCHED THEN DELETE",
                Refused("MERGE reading a tenant table"),
            ),
            (
                "MERGE INTO countries t USING plans p ON t.id = p.id WHEN MATCHED THEN UPDATE SET name = (SELECT item FROM orders LIMIT 1)",
                Refused("MERGE reading a tenant table"),
            ),
            (
                "MERGE INTO countries t USING plans p ON t.id = p.id WHEN MATCHED THEN DELETE",
                Same,
            ),
        ],
    );
}

/// INSERT: the tenant column is appended with the session key when absent, and checked at
/// run time when present (a row for another tenant makes the statement fail).
#[test]
fn inserts() {
    check(
        "insert",
        &[
            (
                "INSERT INTO orders (id, item) VALUES (1, 'a')",
                Out("INSERT INTO orders (id, item, \"tenant_id\") VALUES (1, 'a', {kt})"),
            ),
            (
                "INSERT INTO orders (id, item) VALUES (1, 'a'), (2, 'b')",
                Out(
                    "INSERT INTO orders (id, item, \"tenant_id\") VALUES (1, 'a', {kt}), (2, 'b', {kt})",
                ),
            ),
            (
                "INSERT INTO public.orders (id) VALUES (1)",
                Out("INSERT INTO public.orders (id, \"tenant_id\") VALUES (1, {kt})"),
            ),
            (
                "INSERT INTO \"Invoices\" (id, total) VALUES (1, 2)",
                Out("INSERT INTO \"Invoices\" (id, total, \"tenant_id\") VALUES (1, 2, {ku})"),
            ),
            (
                "INSERT INTO orders DEFAULT VALUES",
                Out("INSERT INTO orders (\"tenant_id\") VALUES ({kt})"),
            ),
            // No column list: the catalog's first columns, as many as the source has.
            (
                "INSERT INTO orders VALUES (1)",
                Out("INSERT INTO orders (\"id\", \"tenant_id\") VALUES (1, {kt})"),
            ),
            (
                "INSERT INTO orders VALUES (1, 'acme', 'a', 3)",
                Out(
                    "INSERT INTO orders (\"id\", \"tenant_id\", \"item\", \"amount\") VALUES (1, CASE WHEN ('acme')::TEXT = {kt} THEN {kt} ELSE {bad}::TEXT END, 'a', 3)",
                ),
            ),
            (
                "INSERT INTO orders SELECT id, 'x' FROM countries",
                Out(
                    "INSERT INTO orders (\"id\", \"tenant_id\") SELECT tenantgate_src.c1, CASE WHEN (tenantgate_src.c2)::TEXT = {kt} THEN {kt} ELSE {bad}::TEXT END FROM (SELECT id, 'x' FROM countries) AS tenantgate_src (c1, c2)",
                ),
            ),
            (
                "INSERT INTO orders VALUES (1, 2, 3, 4, 5)",
                Refused("more values than the table has columns"),
            ),
            (
                "INSERT INTO orders SELECT * FROM countries",
                Refused("source of unknown width"),
            ),
            // Tenant column given: checked per row; DEFAULT is the key.
            (
                "INSERT INTO orders (id, tenant_id, item) VALUES (1, 'acme', 'a')",
                Out(
                    "INSERT INTO orders (id, tenant_id, item) VALUES (1, CASE WHEN ('acme')::TEXT = {kt} THEN {kt} ELSE {bad}::TEXT END, 'a')",
                ),
            ),
            (
                "INSERT INTO orders (id, tenant_id, item) VALUES (1, $1, 'a'), (2, DEFAULT, 'b')",
                Out(
                    "INSERT INTO orders (id, tenant_id, item) VALUES (1, CASE WHEN ($1)::TEXT = {kt} THEN {kt} ELSE {bad}::TEXT END, 'a'), (2, {kt}, 'b')",
                ),
            ),
            (
                "INSERT INTO orders (id, \"tenant_id\") VALUES (1, 'x')",
                Out(
                    "INSERT INTO orders (id, \"tenant_id\") VALUES (1, CASE WHEN ('x')::TEXT = {kt} THEN {kt} ELSE {bad}::TEXT END)",
                ),
            ),
            (
                "INSERT INTO events (id, tenant_id) VALUES (1, 7)",
                Out(
                    "INSERT INTO events (id, tenant_id) VALUES (1, CASE WHEN (7)::INTEGER = {ki} THEN {ki} ELSE {bad}::INTEGER END)",
                ),
            ),
            // A quoted upper-case name is another column: the tenant column is still appended.
            (
                "INSERT INTO orders (id, \"TENANT_ID\") VALUES (1, 'x')",
                Out("INSERT INTO orders (id, \"TENANT_ID\", \"tenant_id\") VALUES (1, 'x', {kt})"),
            ),
            (
                "INSERT INTO orders (id, tenant_id, tenant_id) VALUES (1, 'a', 'b')",
                Refused("the tenant column listed twice"),
            ),
            (
                "INSERT INTO orders (tenant_id.x) VALUES (1)",
                Refused("a subfield of the tenant column"),
            ),
            (
                "INSERT INTO orders (id, item) VALUES (1, 'a'), (2)",
                Refused("one value per listed column"),
            ),
            // INSERT ... SELECT and other sources: wrapped, each row gets (or passes) the key.
            (
                "INSERT INTO orders (id, item) SELECT id, name FROM customers",
                Out(
                    "INSERT INTO orders (id, item, \"tenant_id\") SELECT tenantgate_src.*, {kt} FROM (SELECT id, name FROM customers WHERE customers.\"tenant_id\" = {kt}) AS tenantgate_src",
                ),
            ),
            (
                "INSERT INTO orders (id, item) SELECT id, name FROM countries",
                Out(
                    "INSERT INTO orders (id, item, \"tenant_id\") SELECT tenantgate_src.*, {kt} FROM (SELECT id, name FROM countries) AS tenantgate_src",
                ),
            ),
            (
                "INSERT INTO orders (item) SELECT o.item FROM orders o",
                Out(
                    "INSERT INTO orders (item, \"tenant_id\") SELECT tenantgate_src.*, {kt} FROM (SELECT o.item FROM orders o WHERE o.\"tenant_id\" = {kt}) AS tenantgate_src",
                ),
            ),
            (
                "INSERT INTO orders (id, tenant_id) SELECT id, tenant_id FROM customers",
                Out(
                    "INSERT INTO orders (id, tenant_id) SELECT tenantgate_src.c1, CASE WHEN (tenantgate_src.c2)::TEXT = {kt} THEN {kt} ELSE ('tenantgate: the tenant column must hold the session tenant''s key' || left(coalesce(current_setting('tenantgate.tenant_id', true), ''), 0))::INTEGER::TEXT::TEXT END FROM (SELECT id, tenant_id FROM customers WHERE customers.\"tenant_id\" = {kt}) AS tenantgate_src (c1, c2)",
                ),
            ),
            (
                "INSERT INTO orders (id, tenant_id) SELECT id, 'other' FROM countries",
                Out(
                    "INSERT INTO orders (id, tenant_id) SELECT tenantgate_src.c1, CASE WHEN (tenantgate_src.c2)::TEXT = {kt} THEN {kt} ELSE {bad}::TEXT END FROM (SELECT id, 'other' FROM countries) AS tenantgate_src (c1, c2)",
                ),
            ),
            (
                "INSERT INTO orders (id, item) SELECT 1, 'a' UNION SELECT 2, 'b'",
                Out(
                    "INSERT INTO orders (id, item, \"tenant_id\") SELECT tenantgate_src.*, {kt} FROM (SELECT 1, 'a' UNION SELECT 2, 'b') AS tenantgate_src",
                ),
            ),
            (
                "INSERT INTO orders (id, item) VALUES (1, 'a') ORDER BY 1",
                Out(
                    "INSERT INTO orders (id, item, \"tenant_id\") SELECT tenantgate_src.*, {kt} FROM (VALUES (1, 'a') ORDER BY 1) AS tenantgate_src",
                ),
            ),
            (
                "INSERT INTO orders (id, item) WITH x AS (SELECT 1, 'a') SELECT * FROM x",
                Out(
                    "INSERT INTO orders (id, item, \"tenant_id\") WITH x AS (SELECT 1, 'a') SELECT tenantgate_src.*, {kt} FROM (SELECT * FROM x) AS tenantgate_src",
                ),
            ),
            (
                "WITH c AS (SELECT id FROM customers) INSERT INTO orders (id) SELECT id FROM c",
                Out(
                    "WITH c AS (SELECT id FROM customers WHERE customers.\"tenant_id\" = {kt}) INSERT INTO orders (id, \"tenant_id\") SELECT tenantgate_src.*, {kt} FROM (SELECT id FROM c) AS tenantgate_src",
                ),
            ),
            (
                "INSERT INTO orders (id, item) VALUES (1, (SELECT name FROM customers LIMIT 1))",
                Out(
                    "INSERT INTO orders (id, item, \"tenant_id\") VALUES (1, (SELECT name FROM customers WHERE customers.\"tenant_id\" = {kt} LIMIT 1), {kt})",
                ),
            ),
            // ON CONFLICT: DO NOTHING as is; DO UPDATE only of the tenant's own row.
            (
                "INSERT INTO orders (id, item) VALUES (1, 'a') ON CONFLICT (id) DO NOTHING",
                Out(
                    "INSERT INTO orders (id, item, \"tenant_id\") VALUES (1, 'a', {kt}) ON CONFLICT(id) DO NOTHING",
                ),
            ),
            (
                "INSERT INTO orders (id, item) VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET item = excluded.item",
                Out(
                    "INSERT INTO orders (id, item, \"tenant_id\") VALUES (1, 'a', {kt}) ON CONFLICT(id) DO UPDATE SET item = excluded.item WHERE orders.\"tenant_id\" = {kt}",
                ),
            ),
            (
                "INSERT INTO orders AS o (id, item) VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET item = excluded.item WHERE o.amount > 0",
                Out(
                    "INSERT INTO orders AS o (id, item, \"tenant_id\") VALUES (1, 'a', {kt}) ON CONFLICT(id) DO UPDATE SET item = excluded.item WHERE o.\"tenant_id\" = {kt} AND CASE WHEN o.\"tenant_id\" = {kt} THEN (o.amount > 0) END",
                ),
            ),
            (
                "INSERT INTO orders (id, item) VALUES (1, 'a') ON CONFLICT ON CONSTRAINT orders_pkey DO UPDATE SET item = 'b'",
                Out(
                    "INSERT INTO orders (id, item, \"tenant_id\") VALUES (1, 'a', {kt}) ON CONFLICT ON CONSTRAINT orders_pkey DO UPDATE SET item = 'b' WHERE orders.\"tenant_id\" = {kt}",
                ),
            ),
            (
                "INSERT INTO orders (id, tenant_id) VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET item = 'y'",
                Out(
                    "INSERT INTO orders (id, tenant_id) VALUES (1, CASE WHEN ('x')::TEXT = {kt} THEN {kt} ELSE {bad}::TEXT END) ON CONFLICT(id) DO UPDATE SET item = 'y' WHERE orders.\"tenant_id\" = {kt}",
                ),
            ),
            (
                "INSERT INTO orders (id, item) VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET tenant_id = excluded.tenant_id",
                Refused("assigning the tenant column"),
            ),
            // RETURNING.
            (
                "INSERT INTO orders (id, item) VALUES (1, 'a') RETURNING *",
                Out(
                    "INSERT INTO orders (id, item, \"tenant_id\") VALUES (1, 'a', {kt}) RETURNING *",
                ),
            ),
            (
                "INSERT INTO orders (id, item) VALUES (1, 'a') RETURNING id, tenant_id",
                Out(
                    "INSERT INTO orders (id, item, \"tenant_id\") VALUES (1, 'a', {kt}) RETURNING id, tenant_id",
                ),
            ),
            (
                "INSERT INTO orders (id, item) SELECT id, item FROM orders WHERE false ON CONFLICT DO NOTHING RETURNING *",
                Out(
                    "INSERT INTO orders (id, item, \"tenant_id\") SELECT tenantgate_src.*, {kt} FROM (SELECT id, item FROM orders WHERE (false) AND orders.\"tenant_id\" = {kt}) AS tenantgate_src ON CONFLICT DO NOTHING RETURNING *",
                ),
            ),
            // Other tables.
            ("INSERT INTO countries (id, name) VALUES (1, 'x')", Same),
            (
                "INSERT INTO countries (id, name) SELECT id, item FROM orders",
                Out(
                    "INSERT INTO countries (id, name) SELECT id, item FROM orders WHERE orders.\"tenant_id\" = {kt}",
                ),
            ),
            (
                "INSERT INTO nosuch VALUES (1)",
                Refused("relation \"nosuch\" is not known"),
            ),
            (
                "INSERT INTO order_totals VALUES (1)",
                Refused("has no tenant column"),
            ),
        ],
    );
}

#[test]
fn copy() {
    check(
        "copy",
        &[
            (
                "COPY orders FROM STDIN",
                Refused("COPY FROM into a tenant table"),
            ),
            (
                "COPY orders (id, item) FROM STDIN",
                Refused("COPY FROM into a tenant table"),
            ),
            (
                "COPY orders TO STDOUT",
                Out("COPY (SELECT * FROM orders WHERE \"tenant_id\" = {kt}) TO STDOUT"),
            ),
            (
                "COPY orders (id, item) TO STDOUT WITH (FORMAT csv)",
                Out(
                    "COPY (SELECT id, item FROM orders WHERE \"tenant_id\" = {kt}) TO STDOUT (FORMAT csv)",
                ),
            ),
            (
                "COPY public.orders TO STDOUT",
                Out("COPY (SELECT * FROM public.orders WHERE \"tenant_id\" = {kt}) TO STDOUT"),
            ),
            (
                "COPY (SELECT * FROM orders) TO STDOUT",
                Out("COPY (SELECT * FROM orders WHERE orders.\"tenant_id\" = {kt}) TO STDOUT"),
            ),
            (
                "COPY (SELECT * FROM orders o JOIN customers c ON c.id = o.id) TO STDOUT WITH (FORMAT binary)",
                Out(
                    "COPY (SELECT * FROM orders o JOIN customers c ON c.id = o.id WHERE o.\"tenant_id\" = {kt} AND c.\"tenant_id\" = {kt}) TO STDOUT (FORMAT binary)",
                ),
            ),
            (
                "COPY (DELETE FROM orders RETURNING *) TO STDOUT",
                Out(
                    "COPY (DELETE FROM orders WHERE orders.\"tenant_id\" = {kt} RETURNING *) TO STDOUT",
                ),
            ),
            ("COPY countries TO STDOUT", Same),
            ("COPY countries FROM STDIN", Same),
            (
                "COPY order_totals TO STDOUT",
                Refused("has no tenant column"),
            ),
            (
                "COPY orders TO '/tmp/x'",
                Refused("COPY to or from a server file or program"),
            ),
        ],
    );
}
