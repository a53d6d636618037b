//! Reads of tenant tables: references under every alias, joins, and fenced statements.

use super::*;

#[test]
fn select_references() {
    check(
        "select",
        &[
            // Every spelling of a tenant table, with and without an alias.
            (
                "SELECT id FROM orders WHERE id = 1",
                Out("SELECT id FROM orders WHERE (id = 1) AND orders.\"tenant_id\" = {kt}"),
            ),
            (
                "SELECT o.id FROM orders o",
                Out("SELECT o.id FROM orders o WHERE o.\"tenant_id\" = {kt}"),
            ),
            (
                "SELECT o.id FROM orders AS o",
                Out("SELECT o.id FROM orders AS o WHERE o.\"tenant_id\" = {kt}"),
            ),
            (
                "SELECT orders.id FROM orders",
                Out("SELECT orders.id FROM orders WHERE orders.\"tenant_id\" = {kt}"),
            ),
            (
                "SELECT \"O\".id FROM ORDERS \"O\"",
                Out("SELECT \"O\".id FROM ORDERS \"O\" WHERE \"O\".\"tenant_id\" = {kt}"),
            ),
            (
                "SELECT * FROM \"orders\"",
                Out("SELECT * FROM \"orders\" WHERE \"orders\".\"tenant_id\" = {kt}"),
            ),
            (
                "SELECT * FROM public.orders",
                Out("SELECT * FROM public.orders WHERE orders.\"tenant_id\" = {kt}"),
            ),
            (
                "SELECT * FROM PUBLIC.ORDERS",
                Out("SELECT * FROM PUBLIC.ORDERS WHERE ORDERS.\"tenant_id\" = {kt}"),
            ),
            (
                "SELECT * FROM \"public\".\"orders\"",
                Out("SELECT * FROM \"public\".\"orders\" WHERE \"orders\".\"tenant_id\" = {kt}"),
            ),
            (
                "SELECT * FROM \"Invoices\"",
                Out("SELECT * FROM \"Invoices\" WHERE \"Invoices\".\"tenant_id\" = {ku}"),
            ),
            (
                "SELECT * FROM my_orders",
                Out("SELECT * FROM my_orders WHERE my_orders.\"tenant_id\" = {kt}"),
            ),
            // Read alone, a table gets the predicate in its SELECT's WHERE, before grouping;
            // then a schema-qualified column still resolves.
            (
                "SELECT item, count(*) FROM orders GROUP BY item HAVING count(*) > 1",
                Out(
                    "SELECT item, count(*) FROM orders WHERE orders.\"tenant_id\" = {kt} GROUP BY item HAVING count(*) > 1",
                ),
            ),
            (
                "SELECT public.orders.id FROM public.orders",
                Out("SELECT public.orders.id FROM public.orders WHERE orders.\"tenant_id\" = {kt}"),
            ),
            // A column alias list could rename the tenant column: wrapped instead.
            (
                "SELECT * FROM orders o (a, b, c, d)",
                Out("SELECT * FROM {o} AS o (a, b, c, d)"),
            ),
            (
                "SELECT o FROM orders o",
                Out("SELECT o FROM orders o WHERE o.\"tenant_id\" = {kt}"),
            ),
            (
                "SELECT x.* FROM orders x",
                Out("SELECT x.* FROM orders x WHERE x.\"tenant_id\" = {kt}"),
            ),
            // Case folding: "Invoices" needs quotes, "Orders" is no relation.
            (
                "SELECT * FROM invoices",
                Refused("\"invoices\" is not known"),
            ),
            (
                "SELECT * FROM \"Orders\"",
                Refused("Orders\"\" is not known"),
            ),
            // Relations without tenant rows are left alone.
            ("SELECT * FROM countries", Same),
            (
                "SELECT c.name FROM countries c JOIN plans p ON p.id = c.id",
                Same,
            ),
            ("SELECT 1", Same),
            ("VALUES (1)", Same),
            ("SELECT * FROM generate_series(1, 3) g", Same),
            ("SELECT * FROM unnest(ARRAY[1,2]) u", Same),
            (
                "SELECT * FROM json_table('[]', '$' COLUMNS (a int PATH '$.a')) jt",
                Same,
            ),
            // Names that cannot be confined.
            (
                "SELECT * FROM order_totals",
                Refused("view \"order_totals\" reads tenant rows but has no tenant column"),
            ),
            (
                "SELECT * FROM nosuch",
                Refused("relation \"nosuch\" is not known"),
            ),
            (
                "SELECT * FROM other.orders",
                Refused("\"other.orders\" is not known"),
            ),
            (
                "SELECT * FROM pg_catalog.orders",
                Refused("\"pg_catalog.orders\" is not known"),
            ),
            ("SELECT * FROM db.public.orders", Refused("three-part name")),
            ("SELECT * FROM ONLY orders", Refused("FROM ONLY")),
            (
                "SELECT * FROM orders TABLESAMPLE SYSTEM (10)",
                Refused("TABLESAMPLE"),
            ),
            (
                "SELECT * FROM orders WITH (NOLOCK)",
                Refused("a table modifier"),
            ),
            ("TABLE orders", Refused("cannot be parsed")),
            ("SELECT * INTO newt FROM orders", Refused("SELECT ... INTO")),
            // Subqueries: scalar, IN, EXISTS, ANY, in VALUES, CASE, HAVING, derived tables.
            (
                "SELECT (SELECT count(*) FROM orders) AS n",
                Out("SELECT (SELECT count(*) FROM orders WHERE orders.\"tenant_id\" = {kt}) AS n"),
            ),
            // The ARRAY constructor (as psql's \d writes it); a function named "array" can
            // only be called quoted.
            (
                "SELECT array(SELECT item FROM orders ORDER BY 1)",
                Out(
                    "SELECT array(SELECT item FROM orders WHERE orders.\"tenant_id\" = {kt} ORDER BY 1)",
                ),
            ),
            ("SELECT \"array\"(1)", Refused("is not a built-in")),
            (
                "SELECT * FROM customers WHERE id IN (SELECT id FROM orders)",
                Out(
                    "SELECT * FROM customers WHERE (id IN (SELECT id FROM orders WHERE orders.\"tenant_id\" = {kt})) AND customers.\"tenant_id\" = {kt}",
                ),
            ),
            (
                "SELECT * FROM countries c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.id = c.id)",
                Out(
                    "SELECT * FROM countries c WHERE EXISTS (SELECT 1 FROM orders o WHERE (o.id = c.id) AND o.\"tenant_id\" = {kt})",
                ),
            ),
            (
                "SELECT * FROM orders o WHERE o.id = ANY(SELECT id FROM customers)",
                Out(
                    "SELECT * FROM orders o WHERE (o.id = ANY(SELECT id FROM customers WHERE customers.\"tenant_id\" = {kt})) AND o.\"tenant_id\" = {kt}",
                ),
            ),
            (
                "SELECT * FROM orders WHERE EXISTS (SELECT 1 FROM customers c WHERE c.id IN (SELECT id FROM events))",
                Out(
                    "SELECT * FROM orders WHERE (EXISTS (SELECT 1 FROM customers c WHERE (c.id IN (SELECT id FROM events WHERE events.\"tenant_id\" = {ki})) AND c.\"tenant_id\" = {kt})) AND orders.\"tenant_id\" = {kt}",
                ),
            ),
            (
                "VALUES ((SELECT count(*) FROM orders))",
                Out("VALUES ((SELECT count(*) FROM orders WHERE orders.\"tenant_id\" = {kt}))"),
            ),
            (
                "SELECT CASE WHEN EXISTS (SELECT 1 FROM orders) THEN 1 END",
                Out(
                    "SELECT CASE WHEN EXISTS (SELECT 1 FROM orders WHERE orders.\"tenant_id\" = {kt}) THEN 1 END",
                ),
            ),
            (
                "SELECT item, sum(amount) FROM orders GROUP BY item HAVING sum(amount) > (SELECT count(*) FROM customers)",
                Out(
                    "SELECT item, sum(amount) FROM {O} AS orders GROUP BY item HAVING sum(amount) > (SELECT count(*) FROM {C} AS customers)",
                ),
            ),
            (
                "SELECT count(*) OVER (PARTITION BY item) FROM orders",
                Out(
                    "SELECT count(*) OVER (PARTITION BY item) FROM orders WHERE orders.\"tenant_id\" = {kt}",
                ),
            ),
            (
                "SELECT * FROM (SELECT * FROM orders) sub",
                Out("SELECT * FROM (SELECT * FROM orders WHERE orders.\"tenant_id\" = {kt}) sub"),
            ),
            // LATERAL.
            (
                "SELECT * FROM customers c, LATERAL (SELECT * FROM orders o WHERE o.id = c.id) x",
                Out(
                    "SELECT * FROM customers c, LATERAL (SELECT * FROM orders o WHERE (o.id = c.id) AND o.\"tenant_id\" = {kt}) x WHERE c.\"tenant_id\" = {kt}",
                ),
            ),
            (
                "SELECT * FROM customers c CROSS JOIN LATERAL (SELECT * FROM orders o WHERE o.id = c.id) x",
                Out(
                    "SELECT * FROM customers c CROSS JOIN LATERAL (SELECT * FROM orders o WHERE (o.id = c.id) AND o.\"tenant_id\" = {kt}) x WHERE c.\"tenant_id\" = {kt}",
                ),
            ),
            (
                "SELECT * FROM orders, LATERAL generate_series(1, amount) g",
                Out(
                    "SELECT * FROM orders, LATERAL generate_series(1, amount) g WHERE orders.\"tenant_id\" = {kt}",
                ),
            ),
            // CTEs, recursive and data-modifying ones included.
            (
                "WITH o AS (SELECT * FROM orders) SELECT * FROM o",
                Out(
                    "WITH o AS (SELECT * FROM orders WHERE orders.\"tenant_id\" = {kt}) SELECT * FROM o",
                ),
            ),
            (
                "WITH a AS (SELECT * FROM orders), b AS (SELECT * FROM a JOIN customers c ON c.id = a.id) SELECT * FROM b",
                Out(
                    "WITH a AS (SELECT * FROM orders WHERE orders.\"tenant_id\" = {kt}), b AS (SELECT * FROM a JOIN customers c ON c.id = a.id WHERE c.\"tenant_id\" = {kt}) SELECT * FROM b",
                ),
            ),
            (
                "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r",
                Same,
            ),
            (
                "WITH RECURSIVE r AS (SELECT id FROM orders WHERE id = 1 UNION ALL SELECT o.id FROM orders o JOIN r ON o.id = r.id + 1) SELECT * FROM r",
                Out(
                    "WITH RECURSIVE r AS (SELECT id FROM {O} AS orders WHERE id = 1 UNION ALL SELECT o.id FROM {O} AS o JOIN r ON o.id = r.id + 1) SELECT * FROM r",
                ),
            ),
            (
                "WITH RECURSIVE t(n) AS (VALUES (1) UNION ALL SELECT n+1 FROM t WHERE n < 5) SELECT * FROM t JOIN orders o ON o.id = t.n",
                Out(
                    "WITH RECURSIVE t (n) AS (VALUES (1) UNION ALL SELECT n + 1 FROM t WHERE n < 5) SELECT * FROM t JOIN {O} AS o ON o.id = t.n",
                ),
            ),
            (
                "WITH d AS (DELETE FROM orders WHERE id = 1 RETURNING *) SELECT * FROM d",
                Out(
                    "WITH d AS (DELETE FROM orders WHERE (id = 1) AND orders.\"tenant_id\" = {kt} RETURNING *) SELECT * FROM d",
                ),
            ),
            (
                "WITH i AS (INSERT INTO orders (id) VALUES (1) RETURNING id) SELECT * FROM i",
                Out(
                    "WITH i AS (INSERT INTO orders (id, \"tenant_id\") VALUES (1, {kt}) RETURNING id) SELECT * FROM i",
                ),
            ),
            (
                "WITH u AS (UPDATE orders SET item = 'x' RETURNING *) SELECT count(*) FROM u",
                Out(
                    "WITH u AS (UPDATE orders SET item = 'x' WHERE orders.\"tenant_id\" = {kt} RETURNING *) SELECT count(*) FROM u",
                ),
            ),
            (
                "WITH d AS (DELETE FROM orders RETURNING *) INSERT INTO countries (id) SELECT id FROM d",
                Out(
                    "WITH d AS (DELETE FROM orders WHERE orders.\"tenant_id\" = {kt} RETURNING *) INSERT INTO countries (id) SELECT id FROM d",
                ),
            ),
            ("WITH x AS (SELECT 1) SELECT * FROM x", Same),
            // A CTE may not shadow a relation, and is only in scope in its own query.
            (
                "WITH orders AS (SELECT 1) SELECT * FROM orders",
                Refused("CTE name \"orders\" shadows a relation"),
            ),
            (
                "WITH pg_locks AS (SELECT 1) SELECT * FROM pg_locks",
                Refused("shadows a relation"),
            ),
            (
                "SELECT * FROM (WITH z AS (SELECT * FROM orders) SELECT * FROM z) q, z",
                Refused("relation \"z\" is not known"),
            ),
            // Set operations.
            (
                "SELECT id FROM orders UNION SELECT id FROM customers",
                Out(
                    "SELECT id FROM orders WHERE orders.\"tenant_id\" = {kt} UNION SELECT id FROM customers WHERE customers.\"tenant_id\" = {kt}",
                ),
            ),
            (
                "SELECT id FROM orders INTERSECT SELECT id FROM customers",
                Out(
                    "SELECT id FROM orders WHERE orders.\"tenant_id\" = {kt} INTERSECT SELECT id FROM customers WHERE customers.\"tenant_id\" = {kt}",
                ),
            ),
            (
                "SELECT id FROM orders EXCEPT ALL SELECT id FROM countries",
                Out(
                    "SELECT id FROM orders WHERE orders.\"tenant_id\" = {kt} EXCEPT ALL SELECT id FROM countries",
                ),
            ),
            (
                "(SELECT id FROM orders) UNION ALL (SELECT id FROM events) ORDER BY 1",
                Out(
                    "(SELECT id FROM orders WHERE orders.\"tenant_id\" = {kt}) UNION ALL (SELECT id FROM events WHERE events.\"tenant_id\" = {ki}) ORDER BY 1",
                ),
            ),
            (
                "SELECT * FROM orders WHERE id IN (SELECT id FROM countries UNION SELECT id FROM customers)",
                Out(
                    "SELECT * FROM orders WHERE (id IN (SELECT id FROM countries UNION SELECT id FROM customers WHERE customers.\"tenant_id\" = {kt})) AND orders.\"tenant_id\" = {kt}",
                ),
            ),
            // Functions: built-ins pass, anything else is refused.
            (
                "SELECT lower(item) FROM orders",
                Out("SELECT lower(item) FROM orders WHERE orders.\"tenant_id\" = {kt}"),
            ),
            (
                "SELECT pg_catalog.lower(item) FROM orders",
                Out("SELECT pg_catalog.lower(item) FROM orders WHERE orders.\"tenant_id\" = {kt}"),
            ),
            ("SELECT \"lower\"('x'), LOWER('x')", Same),
            (
                "SELECT * FROM myfunc()",
                Refused("function \"myfunc\" is not a built-in"),
            ),
            (
                "SELECT myfunc(id) FROM orders",
                Refused("function \"myfunc\" is not a built-in"),
            ),
            (
                "SELECT public.lower('x')",
                Refused("function \"public.lower\" is not a built-in"),
            ),
            ("SELECT 1 OPERATOR(pg_catalog.+) 2", Same),
            (
                "SELECT * FROM orders WHERE 1 OPERATOR(public.=) 1",
                Refused("OPERATOR() of a schema other than pg_catalog"),
            ),
            // Row locks: the lock reaches through the derived table to the filtered rows.
            (
                "SELECT * FROM orders FOR UPDATE",
                Out("SELECT * FROM orders WHERE orders.\"tenant_id\" = {kt} FOR UPDATE"),
            ),
            (
                "SELECT * FROM orders o FOR SHARE OF o",
                Out("SELECT * FROM orders o WHERE o.\"tenant_id\" = {kt} FOR SHARE OF o"),
            ),
            (
                "SELECT * FROM orders o JOIN customers c ON c.id = o.id FOR UPDATE OF o NOWAIT",
                Out(
                    "SELECT * FROM orders o JOIN customers c ON c.id = o.id WHERE o.\"tenant_id\" = {kt} AND c.\"tenant_id\" = {kt} FOR UPDATE OF o NOWAIT",
                ),
            ),
            // Statements that carry a query.
            (
                "EXPLAIN SELECT * FROM orders",
                Out("EXPLAIN SELECT * FROM orders WHERE orders.\"tenant_id\" = {kt}"),
            ),
            (
                "EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM orders",
                Out(
                    "EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM orders WHERE orders.\"tenant_id\" = {kt}",
                ),
            ),
            (
                "PREPARE p (int) AS SELECT * FROM orders WHERE id = $1",
                Out(
                    "PREPARE p (INT) AS SELECT * FROM orders WHERE (id = $1) AND orders.\"tenant_id\" = {kt}",
                ),
            ),
            ("EXECUTE p(1)", Same),
            (
                "DECLARE c CURSOR FOR SELECT * FROM orders",
                Out("DECLARE c CURSOR FOR SELECT * FROM orders WHERE orders.\"tenant_id\" = {kt}"),
            ),
            ("FETCH 10 FROM c", Same),
            (
                "BEGIN; SELECT * FROM orders; COMMIT",
                Out("BEGIN; SELECT * FROM orders WHERE orders.\"tenant_id\" = {kt}; COMMIT"),
            ),
            (
                "SELECT 1; SELECT * FROM orders",
                Out("SELECT 1; SELECT * FROM orders WHERE orders.\"tenant_id\" = {kt}"),
            ),
        ],
    );
}

/// Statements with an expression that could fail on another tenant's row are fenced (see
/// fence.rs); plain comparisons keep the flattened, indexable form.
#[test]
fn error_oracles() {
    check(
        "error_oracles",
        &[
            (
                "SELECT count(*) FROM orders WHERE 1 / (amount - 7) IS NULL",
                Out("SELECT count(*) FROM {O} AS orders WHERE 1 / (amount - 7) IS NULL"),
            ),
            (
                "SELECT * FROM (SELECT 1 / amount AS x FROM orders) s WHERE x IS NULL",
                Out("SELECT * FROM (SELECT 1 / amount AS x FROM {O} AS orders) s WHERE x IS NULL"),
            ),
            (
                "SELECT o.id FROM orders o LEFT JOIN customers c ON c.name::int = o.id",
                Out("SELECT o.id FROM {O} AS o LEFT JOIN {C} AS c ON c.name::INT = o.id"),
            ),
            (
                "DELETE FROM orders WHERE item::int = 1",
                Out(
                    "DELETE FROM orders WHERE orders.\"tenant_id\" = {kt} AND CASE WHEN orders.\"tenant_id\" = {kt} THEN (item::INT = 1) END",
                ),
            ),
            (
                "UPDATE orders o SET amount = 1 FROM customers c WHERE c.id = o.id AND c.name::int = 1",
                Out(
                    "UPDATE orders o SET amount = 1 FROM {C} AS c WHERE o.\"tenant_id\" = {kt} AND CASE WHEN o.\"tenant_id\" = {kt} THEN (c.id = o.id AND c.name::INT = 1) END",
                ),
            ),
            (
                "SELECT id FROM orders WHERE id = 1 AND item LIKE 'x%' AND amount IN (1, 2)",
                Out(
                    "SELECT id FROM orders WHERE (id = 1 AND item LIKE 'x%' AND amount IN (1, 2)) AND orders.\"tenant_id\" = {kt}",
                ),
            ),
            (
                "DELETE FROM orders WHERE id = $1",
                Out("DELETE FROM orders WHERE (id = $1) AND orders.\"tenant_id\" = {kt}"),
            ),
        ],
    );
}

/// A tenant table no outer join can null gets the predicate in the SELECT's WHERE: its rows
/// are filtered as if before the join. One on the nullable side is replaced by a derived
/// table that filters its rows before the join, so an outer join keeps its null-extended
/// rows and no join becomes an inner one.
#[test]
fn joins() {
    check(
        "joins",
        &[
            (
                "SELECT * FROM orders o JOIN customers c ON c.id = o.id RIGHT JOIN events e ON e.id = o.id",
                Out(
                    "SELECT * FROM {o} AS o JOIN {c} AS c ON c.id = o.id RIGHT JOIN events e ON e.id = o.id WHERE e.\"tenant_id\" = {ki}",
                ),
            ),
            (
                "SELECT * FROM orders o LEFT JOIN customers c ON c.id = o.id JOIN events e ON e.id = o.id",
                Out(
                    "SELECT * FROM orders o LEFT JOIN {c} AS c ON c.id = o.id JOIN events e ON e.id = o.id WHERE o.\"tenant_id\" = {kt} AND e.\"tenant_id\" = {ki}",
                ),
            ),
            (
                "SELECT * FROM orders o (a, b) JOIN customers c ON c.id = o.a",
                Out(
                    "SELECT * FROM {o} AS o (a, b) JOIN customers c ON c.id = o.a WHERE c.\"tenant_id\" = {kt}",
                ),
            ),
            (
                "SELECT * FROM orders o JOIN customers c ON c.id = o.id",
                Out(
                    "SELECT * FROM orders o JOIN customers c ON c.id = o.id WHERE o.\"tenant_id\" = {kt} AND c.\"tenant_id\" = {kt}",
                ),
            ),
            (
                "SELECT * FROM orders o INNER JOIN countries c USING (id)",
                Out(
                    "SELECT * FROM orders o INNER JOIN countries c USING(id) WHERE o.\"tenant_id\" = {kt}",
                ),
            ),
            (
                "SELECT count(*) FROM orders, customers",
                Out(
                    "SELECT count(*) FROM orders, customers WHERE orders.\"tenant_id\" = {kt} AND customers.\"tenant_id\" = {kt}",
                ),
            ),
            (
                "SELECT * FROM countries c, orders o WHERE o.id = c.id",
                Out(
                    "SELECT * FROM countries c, orders o WHERE (o.id = c.id) AND o.\"tenant_id\" = {kt}",
                ),
            ),
            (
                "SELECT * FROM orders JOIN orders o2 ON o2.id = orders.id",
                Out(
                    "SELECT * FROM orders JOIN orders o2 ON o2.id = orders.id WHERE orders.\"tenant_id\" = {kt} AND o2.\"tenant_id\" = {kt}",
                ),
            ),
            // Nullable side a tenant table: filtered before the join, the ON clause untouched.
            (
                "SELECT * FROM countries c LEFT JOIN orders o ON o.id = c.id",
                Out("SELECT * FROM countries c LEFT JOIN {o} AS o ON o.id = c.id"),
            ),
            (
                "SELECT * FROM countries c LEFT JOIN orders o ON o.id = c.id WHERE o.id IS NULL",
                Out(
                    "SELECT * FROM countries c LEFT JOIN {o} AS o ON o.id = c.id WHERE o.id IS NULL",
                ),
            ),
            (
                "SELECT * FROM orders o LEFT OUTER JOIN customers c ON c.id = o.id",
                Out(
                    "SELECT * FROM orders o LEFT OUTER JOIN {c} AS c ON c.id = o.id WHERE o.\"tenant_id\" = {kt}",
                ),
            ),
            (
                "SELECT * FROM countries c RIGHT JOIN orders o ON o.id = c.id",
                Out(
                    "SELECT * FROM countries c RIGHT JOIN orders o ON o.id = c.id WHERE o.\"tenant_id\" = {kt}",
                ),
            ),
            (
                "SELECT * FROM orders o FULL OUTER JOIN customers c ON c.id = o.id",
                Out("SELECT * FROM {o} AS o FULL JOIN {c} AS c ON c.id = o.id"),
            ),
            (
                "SELECT * FROM countries NATURAL FULL JOIN orders",
                Out("SELECT * FROM countries NATURAL FULL JOIN {o} AS orders"),
            ),
            (
                "SELECT * FROM orders o NATURAL JOIN customers c",
                Out(
                    "SELECT * FROM orders o NATURAL JOIN customers c WHERE o.\"tenant_id\" = {kt} AND c.\"tenant_id\" = {kt}",
                ),
            ),
            // Nested joins, lateral outer joins, VALUES.
            (
                "SELECT * FROM (orders o JOIN customers c ON c.id = o.id) LEFT JOIN events e ON e.id = o.id",
                Out(
                    "SELECT * FROM ({o} AS o JOIN {c} AS c ON c.id = o.id) LEFT JOIN {e} AS e ON e.id = o.id",
                ),
            ),
            (
                "SELECT * FROM countries c LEFT JOIN (orders o JOIN customers cu ON cu.id = o.id) ON o.id = c.id",
                Out(
                    "SELECT * FROM countries c LEFT JOIN ({o} AS o JOIN {c} AS cu ON cu.id = o.id) ON o.id = c.id",
                ),
            ),
            (
                "SELECT * FROM countries c LEFT JOIN LATERAL (SELECT * FROM orders o WHERE o.id = c.id) x ON true",
                Out(
                    "SELECT * FROM countries c LEFT JOIN LATERAL (SELECT * FROM orders o WHERE (o.id = c.id) AND o.\"tenant_id\" = {kt}) x ON true",
                ),
            ),
            (
                "SELECT * FROM orders o LEFT JOIN LATERAL (SELECT * FROM customers c WHERE c.id = o.id LIMIT 1) x ON true",
                Out(
                    "SELECT * FROM orders o LEFT JOIN LATERAL (SELECT * FROM customers c WHERE (c.id = o.id) AND c.\"tenant_id\" = {kt} LIMIT 1) x ON true WHERE o.\"tenant_id\" = {kt}",
                ),
            ),
            (
                "SELECT * FROM (VALUES (1), (2)) v(x) JOIN orders o ON o.id = v.x",
                Out(
                    "SELECT * FROM (VALUES (1), (2)) v (x) JOIN orders o ON o.id = v.x WHERE o.\"tenant_id\" = {kt}",
                ),
            ),
        ],
    );
}
