//! The rewriter against tables of statements: input SQL → the exact text sent instead, the
//! client's text unchanged, or a refusal (a substring of its detail).
//!
//! Expected texts use these shorthands (see [`expand`]):
//!
//! | shorthand | stands for |
//! |---|---|
//! | `{kt}`, `{ki}`, `{ku}` | the session key as the column's type: `NULLIF(current_setting('tenantgate.tenant_id', true), '')::TEXT` (`INTEGER`, `UUID`) |
//! | `{o}`, `{c}`, `{e}` | `(SELECT * FROM orders WHERE "tenant_id" = {kt})`, the same of `customers`, and of `events` with `{ki}` |
//! | `{bad}` | the expression that raises when an inserted tenant column is not the session's key (before its cast to the column type) |
//!
//! Every changed text must also parse back to a statement that prints as the same text.

use std::ops::ControlFlow;
use std::sync::Arc;

use sqlparser::ast::{Expr, Statement, ValueWithSpan, Visit, Visitor};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::RowScope;
use super::catalog::{Catalog, CatalogBuilder};
use super::rewrite::{Cache, Rewritten, rewrite};
use crate::isolation::{Policy, Rule};

/// The test database: five tenant tables (text, integer and uuid keys), plain relations,
/// catalog relations and an unsafe view, and a few built-in functions.
fn builder() -> CatalogBuilder {
    let mut b = Catalog::builder("tenant_id", vec!["public".into()]);
    let cols = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    b.tenant_table(
        "public",
        "orders",
        cols(&["id", "tenant_id", "item", "amount"]),
        "text",
    )
    .tenant_table(
        "public",
        "customers",
        cols(&["id", "tenant_id", "name"]),
        "text",
    )
    .tenant_table(
        "public",
        "events",
        cols(&["id", "tenant_id", "kind", "payload"]),
        "integer",
    )
    .tenant_table(
        "public",
        "my_orders",
        cols(&["id", "tenant_id", "item"]),
        "text",
    )
    .tenant_table(
        "public",
        "Invoices",
        cols(&["id", "tenant_id", "total"]),
        "uuid",
    )
    .relation("public", "countries")
    .relation("public", "plans")
    .relation("pg_catalog", "pg_class")
    .relation("pg_catalog", "pg_stats")
    .relation("information_schema", "tables")
    .unsafe_view("public", "order_totals");
    for f in [
        "count",
        "sum",
        "now",
        "lower",
        "coalesce",
        "generate_series",
        "unnest",
        "jsonb_build_object",
        "ts_stat",
        "pg_sleep",
        "nullif",
        "current_setting",
    ] {
        b.function(f);
    }
    b
}

fn catalog() -> Catalog {
    builder().build()
}

#[test]
#[ignore]
fn scratch() {
    let c = catalog();
    let input = std::fs::read_to_string("/tmp/scratch.sql").unwrap();
    for sql in input.split("\n---\n") {
        let sql = sql.trim();
        match rewrite(&c, sql) {
            Ok(Rewritten::Unchanged) => println!("IN : {sql}\nSAME\n"),
            Ok(Rewritten::Changed(s)) => println!("IN : {sql}\nOUT: {}\n", s.as_str()),
            Err(v) => println!("IN : {sql}\nERR: {}\n", v.detail),
        }
    }
}

/// What the rewriter must make of an input.
#[derive(Debug)]
enum Expect {
    /// Forwarded as the client wrote it.
    Same,
    /// Replaced by this text (with the shorthands of the module documentation).
    Out(&'static str),
    /// Refused by the rewriter, with this substring in the detail.
    Refused(&'static str),
}

use Expect::{Out, Refused, Same};

const KEY: &str = "NULLIF(current_setting('tenantgate.tenant_id', true), '')";
const BAD: &str = "('tenantgate: the tenant column must hold the session tenant''s key' || \
                   left(coalesce(current_setting('tenantgate.tenant_id', true), ''), 0))::INTEGER::TEXT";

/// Expands the shorthands of an expected text.
fn expand(expected: &str) -> String {
    // Upper case: the fenced form (see fence.rs).
    expected
        .replace(
            "{O}",
            "(SELECT * FROM orders WHERE \"tenant_id\" = {kt} OFFSET 0)",
        )
        .replace(
            "{C}",
            "(SELECT * FROM customers WHERE \"tenant_id\" = {kt} OFFSET 0)",
        )
        .replace(
            "{E}",
            "(SELECT * FROM events WHERE \"tenant_id\" = {ki} OFFSET 0)",
        )
        .replace("{o}", "(SELECT * FROM orders WHERE \"tenant_id\" = {kt})")
        .replace(
            "{c}",
            "(SELECT * FROM customers WHERE \"tenant_id\" = {kt})",
        )
        .replace("{e}", "(SELECT * FROM events WHERE \"tenant_id\" = {ki})")
        .replace("{kt}", &format!("{KEY}::TEXT"))
        .replace("{ki}", &format!("{KEY}::INTEGER"))
        .replace("{ku}", &format!("{KEY}::UUID"))
        .replace("{bad}", BAD)
}

fn parse(sql: &str) -> Vec<Statement> {
    Parser::parse_sql(&PostgreSqlDialect {}, sql)
        .unwrap_or_else(|e| panic!("{sql:?} does not parse: {e}"))
}

fn printed(statements: &[Statement]) -> String {
    statements
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Runs a table of cases against the test catalog; reports every failing input at once.
fn check(group: &str, cases: &[(&str, Expect)]) {
    let c = catalog();
    let mut failures = Vec::new();
    for (sql, expect) in cases {
        let got = rewrite(&c, sql);
        let ok = match (expect, &got) {
            (Same, Ok(Rewritten::Unchanged)) => true,
            (Out(out), Ok(Rewritten::Changed(s))) => s.as_str() == expand(out),
            (Refused(detail), Err(v)) => v.rule == Rule::RowScope && v.detail.contains(detail),
            _ => false,
        };
        if !ok {
            let expected = match expect {
                Out(out) => format!("Out({})", expand(out)),
                other => format!("{other:?}"),
            };
            let got = match &got {
                Ok(Rewritten::Unchanged) => "Same".to_string(),
                Ok(Rewritten::Changed(s)) => format!("Out({})", s.as_str()),
                Err(v) => format!("Refused({:?}: {})", v.rule, v.detail),
            };
            failures.push(format!(
                "input:    {sql}\nexpected: {expected}\ngot:      {got}"
            ));
            continue;
        }
        if let Ok(Rewritten::Changed(s)) = &got {
            let again = printed(&parse(s.as_str()));
            if again != s.as_str() {
                failures.push(format!(
                    "input:    {sql}\nrewritten text does not print back the same:\n  {}\n  {again}",
                    s.as_str()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{group}: {} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn select_references() {
    check(
        "select",
        &[
            // Every spelling of a tenant table, with and without an alias.
            (
                "SELECT id FROM orders WHERE id = 1",
                Out("SELECT id FROM {o} AS orders WHERE id = 1"),
            ),
            (
                "SELECT o.id FROM orders o",
                Out("SELECT o.id FROM {o} AS o"),
            ),
            (
                "SELECT o.id FROM orders AS o",
                Out("SELECT o.id FROM {o} AS o"),
            ),
            (
                "SELECT orders.id FROM orders",
                Out("SELECT orders.id FROM {o} AS orders"),
            ),
            (
                "SELECT \"O\".id FROM ORDERS \"O\"",
                Out(
                    "SELECT \"O\".id FROM (SELECT * FROM ORDERS WHERE \"tenant_id\" = {kt}) AS \"O\"",
                ),
            ),
            (
                "SELECT * FROM \"orders\"",
                Out(
                    "SELECT * FROM (SELECT * FROM \"orders\" WHERE \"tenant_id\" = {kt}) AS \"orders\"",
                ),
            ),
            (
                "SELECT * FROM public.orders",
                Out(
                    "SELECT * FROM (SELECT * FROM public.orders WHERE \"tenant_id\" = {kt}) AS orders",
                ),
            ),
            (
                "SELECT * FROM PUBLIC.ORDERS",
                Out(
                    "SELECT * FROM (SELECT * FROM PUBLIC.ORDERS WHERE \"tenant_id\" = {kt}) AS ORDERS",
                ),
            ),
            (
                "SELECT * FROM \"public\".\"orders\"",
                Out(
                    "SELECT * FROM (SELECT * FROM \"public\".\"orders\" WHERE \"tenant_id\" = {kt}) AS \"orders\"",
                ),
            ),
            (
                "SELECT * FROM \"Invoices\"",
                Out(
                    "SELECT * FROM (SELECT * FROM \"Invoices\" WHERE \"tenant_id\" = {ku}) AS \"Invoices\"",
                ),
            ),
            (
                "SELECT * FROM my_orders",
                Out(
                    "SELECT * FROM (SELECT * FROM my_orders WHERE \"tenant_id\" = {kt}) AS my_orders",
                ),
            ),
            (
                "SELECT * FROM orders o (a, b, c, d)",
                Out("SELECT * FROM {o} AS o (a, b, c, d)"),
            ),
            ("SELECT o FROM orders o", Out("SELECT o FROM {o} AS o")),
            ("SELECT x.* FROM orders x", Out("SELECT x.* FROM {o} AS x")),
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
                Out("SELECT (SELECT count(*) FROM {o} AS orders) AS n"),
            ),
            (
                "SELECT * FROM customers WHERE id IN (SELECT id FROM orders)",
                Out("SELECT * FROM {c} AS customers WHERE id IN (SELECT id FROM {o} AS orders)"),
            ),
            (
                "SELECT * FROM countries c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.id = c.id)",
                Out(
                    "SELECT * FROM countries c WHERE EXISTS (SELECT 1 FROM {o} AS o WHERE o.id = c.id)",
                ),
            ),
            (
                "SELECT * FROM orders o WHERE o.id = ANY(SELECT id FROM customers)",
                Out("SELECT * FROM {o} AS o WHERE o.id = ANY(SELECT id FROM {c} AS customers)"),
            ),
            (
                "SELECT * FROM orders WHERE EXISTS (SELECT 1 FROM customers c WHERE c.id IN (SELECT id FROM events))",
                Out(
                    "SELECT * FROM {o} AS orders WHERE EXISTS (SELECT 1 FROM {c} AS c WHERE c.id IN (SELECT id FROM {e} AS events))",
                ),
            ),
            (
                "VALUES ((SELECT count(*) FROM orders))",
                Out("VALUES ((SELECT count(*) FROM {o} AS orders))"),
            ),
            (
                "SELECT CASE WHEN EXISTS (SELECT 1 FROM orders) THEN 1 END",
                Out("SELECT CASE WHEN EXISTS (SELECT 1 FROM {o} AS orders) THEN 1 END"),
            ),
            (
                "SELECT item, sum(amount) FROM orders GROUP BY item HAVING sum(amount) > (SELECT count(*) FROM customers)",
                Out(
                    "SELECT item, sum(amount) FROM {O} AS orders GROUP BY item HAVING sum(amount) > (SELECT count(*) FROM {C} AS customers)",
                ),
            ),
            (
                "SELECT count(*) OVER (PARTITION BY item) FROM orders",
                Out("SELECT count(*) OVER (PARTITION BY item) FROM {o} AS orders"),
            ),
            (
                "SELECT * FROM (SELECT * FROM orders) sub",
                Out("SELECT * FROM (SELECT * FROM {o} AS orders) sub"),
            ),
            // LATERAL.
            (
                "SELECT * FROM customers c, LATERAL (SELECT * FROM orders o WHERE o.id = c.id) x",
                Out("SELECT * FROM {c} AS c, LATERAL (SELECT * FROM {o} AS o WHERE o.id = c.id) x"),
            ),
            (
                "SELECT * FROM customers c CROSS JOIN LATERAL (SELECT * FROM orders o WHERE o.id = c.id) x",
                Out(
                    "SELECT * FROM {c} AS c CROSS JOIN LATERAL (SELECT * FROM {o} AS o WHERE o.id = c.id) x",
                ),
            ),
            (
                "SELECT * FROM orders, LATERAL generate_series(1, amount) g",
                Out("SELECT * FROM {o} AS orders, LATERAL generate_series(1, amount) g"),
            ),
            // CTEs, recursive and data-modifying ones included.
            (
                "WITH o AS (SELECT * FROM orders) SELECT * FROM o",
                Out("WITH o AS (SELECT * FROM {o} AS orders) SELECT * FROM o"),
            ),
            (
                "WITH a AS (SELECT * FROM orders), b AS (SELECT * FROM a JOIN customers c ON c.id = a.id) SELECT * FROM b",
                Out(
                    "WITH a AS (SELECT * FROM {o} AS orders), b AS (SELECT * FROM a JOIN {c} AS c ON c.id = a.id) SELECT * FROM b",
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
                Out("SELECT id FROM {o} AS orders UNION SELECT id FROM {c} AS customers"),
            ),
            (
                "SELECT id FROM orders INTERSECT SELECT id FROM customers",
                Out("SELECT id FROM {o} AS orders INTERSECT SELECT id FROM {c} AS customers"),
            ),
            (
                "SELECT id FROM orders EXCEPT ALL SELECT id FROM countries",
                Out("SELECT id FROM {o} AS orders EXCEPT ALL SELECT id FROM countries"),
            ),
            (
                "(SELECT id FROM orders) UNION ALL (SELECT id FROM events) ORDER BY 1",
                Out(
                    "(SELECT id FROM {o} AS orders) UNION ALL (SELECT id FROM {e} AS events) ORDER BY 1",
                ),
            ),
            (
                "SELECT * FROM orders WHERE id IN (SELECT id FROM countries UNION SELECT id FROM customers)",
                Out(
                    "SELECT * FROM {o} AS orders WHERE id IN (SELECT id FROM countries UNION SELECT id FROM {c} AS customers)",
                ),
            ),
            // Functions: built-ins pass, anything else is refused.
            (
                "SELECT lower(item) FROM orders",
                Out("SELECT lower(item) FROM {o} AS orders"),
            ),
            (
                "SELECT pg_catalog.lower(item) FROM orders",
                Out("SELECT pg_catalog.lower(item) FROM {o} AS orders"),
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
                Out("SELECT * FROM {o} AS orders FOR UPDATE"),
            ),
            (
                "SELECT * FROM orders o FOR SHARE OF o",
                Out("SELECT * FROM {o} AS o FOR SHARE OF o"),
            ),
            (
                "SELECT * FROM orders o JOIN customers c ON c.id = o.id FOR UPDATE OF o NOWAIT",
                Out("SELECT * FROM {o} AS o JOIN {c} AS c ON c.id = o.id FOR UPDATE OF o NOWAIT"),
            ),
            // Statements that carry a query.
            (
                "EXPLAIN SELECT * FROM orders",
                Out("EXPLAIN SELECT * FROM {o} AS orders"),
            ),
            (
                "EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM orders",
                Out("EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM {o} AS orders"),
            ),
            (
                "PREPARE p (int) AS SELECT * FROM orders WHERE id = $1",
                Out("PREPARE p (INT) AS SELECT * FROM {o} AS orders WHERE id = $1"),
            ),
            ("EXECUTE p(1)", Same),
            (
                "DECLARE c CURSOR FOR SELECT * FROM orders",
                Out("DECLARE c CURSOR FOR SELECT * FROM {o} AS orders"),
            ),
            ("FETCH 10 FROM c", Same),
            (
                "BEGIN; SELECT * FROM orders; COMMIT",
                Out("BEGIN; SELECT * FROM {o} AS orders; COMMIT"),
            ),
            (
                "SELECT 1; SELECT * FROM orders",
                Out("SELECT 1; SELECT * FROM {o} AS orders"),
            ),
        ],
    );
}

/// The predicate lives inside a derived table that replaces the tenant table, so it filters
/// that table's rows before any join: an outer join keeps its null-extended rows, and no
/// join becomes an inner one.
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
                    "SELECT id FROM {o} AS orders WHERE id = 1 AND item LIKE 'x%' AND amount IN (1, 2)",
                ),
            ),
            (
                "DELETE FROM orders WHERE id = $1",
                Out("DELETE FROM orders WHERE (id = $1) AND orders.\"tenant_id\" = {kt}"),
            ),
        ],
    );
}

#[test]
fn joins() {
    check(
        "joins",
        &[
            (
                "SELECT * FROM orders o JOIN customers c ON c.id = o.id",
                Out("SELECT * FROM {o} AS o JOIN {c} AS c ON c.id = o.id"),
            ),
            (
                "SELECT * FROM orders o INNER JOIN countries c USING (id)",
                Out("SELECT * FROM {o} AS o INNER JOIN countries c USING(id)"),
            ),
            (
                "SELECT count(*) FROM orders, customers",
                Out("SELECT count(*) FROM {o} AS orders, {c} AS customers"),
            ),
            (
                "SELECT * FROM countries c, orders o WHERE o.id = c.id",
                Out("SELECT * FROM countries c, {o} AS o WHERE o.id = c.id"),
            ),
            (
                "SELECT * FROM orders JOIN orders o2 ON o2.id = orders.id",
                Out("SELECT * FROM {o} AS orders JOIN {o} AS o2 ON o2.id = orders.id"),
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
                Out("SELECT * FROM {o} AS o LEFT OUTER JOIN {c} AS c ON c.id = o.id"),
            ),
            (
                "SELECT * FROM countries c RIGHT JOIN orders o ON o.id = c.id",
                Out("SELECT * FROM countries c RIGHT JOIN {o} AS o ON o.id = c.id"),
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
                Out("SELECT * FROM {o} AS o NATURAL JOIN {c} AS c"),
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
                    "SELECT * FROM countries c LEFT JOIN LATERAL (SELECT * FROM {o} AS o WHERE o.id = c.id) x ON true",
                ),
            ),
            (
                "SELECT * FROM orders o LEFT JOIN LATERAL (SELECT * FROM customers c WHERE c.id = o.id LIMIT 1) x ON true",
                Out(
                    "SELECT * FROM {o} AS o LEFT JOIN LATERAL (SELECT * FROM {c} AS c WHERE c.id = o.id LIMIT 1) x ON true",
                ),
            ),
            (
                "SELECT * FROM (VALUES (1), (2)) v(x) JOIN orders o ON o.id = v.x",
                Out("SELECT * FROM (VALUES (1), (2)) v (x) JOIN {o} AS o ON o.id = v.x"),
            ),
        ],
    );
}

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
                Out("UPDATE countries SET name = 'x' WHERE id IN (SELECT id FROM {o} AS orders)"),
            ),
            (
                "UPDATE orders SET (item, amount) = (SELECT item, amount FROM orders WHERE id = 2) WHERE id = 1",
                Out(
                    "UPDATE orders SET (item, amount) = (SELECT item, amount FROM {o} AS orders WHERE id = 2) WHERE (id = 1) AND orders.\"tenant_id\" = {kt}",
                ),
            ),
            (
                "UPDATE orders SET item = (SELECT name FROM customers WHERE customers.id = orders.id)",
                Out(
                    "UPDATE orders SET item = (SELECT name FROM {c} AS customers WHERE customers.id = orders.id) WHERE orders.\"tenant_id\" = {kt}",
                ),
            ),
            (
                "UPDATE orders SET item = 'x' RETURNING (SELECT count(*) FROM customers)",
                Out(
                    "UPDATE orders SET item = 'x' WHERE orders.\"tenant_id\" = {kt} RETURNING (SELECT count(*) FROM {c} AS customers)",
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
                    "DELETE FROM orders WHERE (id IN (SELECT id FROM {c} AS customers)) AND orders.\"tenant_id\" = {kt} RETURNING *",
                ),
            ),
            (
                "WITH c AS (SELECT id FROM customers) DELETE FROM orders WHERE id IN (SELECT id FROM c)",
                Out(
                    "WITH c AS (SELECT id FROM {c} AS customers) DELETE FROM orders WHERE (id IN (SELECT id FROM c)) AND orders.\"tenant_id\" = {kt}",
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
                    "INSERT INTO orders (id, item, \"tenant_id\") SELECT tenantgate_src.*, {kt} FROM (SELECT id, name FROM {c} AS customers) AS tenantgate_src",
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
                    "INSERT INTO orders (item, \"tenant_id\") SELECT tenantgate_src.*, {kt} FROM (SELECT o.item FROM {o} AS o) AS tenantgate_src",
                ),
            ),
            (
                "INSERT INTO orders (id, tenant_id) SELECT id, tenant_id FROM customers",
                Out(
                    "INSERT INTO orders (id, tenant_id) SELECT tenantgate_src.c1, CASE WHEN (tenantgate_src.c2)::TEXT = {kt} THEN {kt} ELSE {bad}::TEXT END FROM (SELECT id, tenant_id FROM {c} AS customers) AS tenantgate_src (c1, c2)",
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
                    "WITH c AS (SELECT id FROM {c} AS customers) INSERT INTO orders (id, \"tenant_id\") SELECT tenantgate_src.*, {kt} FROM (SELECT id FROM c) AS tenantgate_src",
                ),
            ),
            (
                "INSERT INTO orders (id, item) VALUES (1, (SELECT name FROM customers LIMIT 1))",
                Out(
                    "INSERT INTO orders (id, item, \"tenant_id\") VALUES (1, (SELECT name FROM {c} AS customers LIMIT 1), {kt})",
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
                    "INSERT INTO orders (id, item, \"tenant_id\") SELECT tenantgate_src.*, {kt} FROM (SELECT id, item FROM {o} AS orders WHERE false) AS tenantgate_src ON CONFLICT DO NOTHING RETURNING *",
                ),
            ),
            // Other tables.
            ("INSERT INTO countries (id, name) VALUES (1, 'x')", Same),
            (
                "INSERT INTO countries (id, name) SELECT id, item FROM orders",
                Out("INSERT INTO countries (id, name) SELECT id, item FROM {o} AS orders"),
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
                Out("COPY (SELECT * FROM {o} AS orders) TO STDOUT"),
            ),
            (
                "COPY (SELECT * FROM orders o JOIN customers c ON c.id = o.id) TO STDOUT WITH (FORMAT binary)",
                Out(
                    "COPY (SELECT * FROM {o} AS o JOIN {c} AS c ON c.id = o.id) TO STDOUT (FORMAT binary)",
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

/// Refusals by the rewriter itself, each naming the construct.
#[test]
fn refusals() {
    check(
        "refusals",
        &[
            ("SELEC * FROM orders", Refused("statement cannot be parsed")),
            (
                "SELECT * FROM orders WHERE",
                Refused("statement cannot be parsed"),
            ),
            (
                "DO $$ BEGIN EXECUTE 'SELECT 1'; END $$",
                Refused("statement cannot be parsed"),
            ),
            // DDL and other statement kinds.
            (
                "ALTER TABLE orders ADD COLUMN x int",
                Refused("ALTER TABLE is not allowed"),
            ),
            ("DROP TABLE orders", Refused("DROP is not allowed")),
            ("TRUNCATE orders", Refused("TRUNCATE is not allowed")),
            ("TRUNCATE countries", Refused("TRUNCATE is not allowed")),
            (
                "CREATE INDEX ON orders (item)",
                Refused("CREATE INDEX is not allowed"),
            ),
            (
                "CREATE TABLE t (id int)",
                Refused("CREATE TABLE is not allowed"),
            ),
            (
                "CREATE VIEW v AS SELECT * FROM orders",
                Refused("CREATE VIEW is not allowed"),
            ),
            (
                "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$",
                Refused("CREATE FUNCTION is not allowed"),
            ),
            (
                "GRANT SELECT ON orders TO public",
                Refused("GRANT is not allowed"),
            ),
            (
                "COMMENT ON TABLE orders IS 'x'",
                Refused("COMMENT is not allowed"),
            ),
            ("VACUUM orders", Refused("VACUUM is not allowed")),
            ("ANALYZE orders", Refused("ANALYZE is not allowed")),
            ("LOCK TABLE orders", Refused("LOCK is not allowed")),
            ("CALL p()", Refused("CALL is not allowed")),
            (
                "EXPLAIN CREATE TABLE t (a int)",
                Refused("EXPLAIN of CREATE TABLE"),
            ),
            (
                "PREPARE x AS CREATE TABLE t (a int)",
                Refused("PREPARE of CREATE TABLE"),
            ),
            (
                "SELECT * FROM customers WHERE id = 1; DROP TABLE orders",
                Refused("DROP is not allowed"),
            ),
            // Functions that read other rows or reach outside.
            (
                "SELECT dblink('x', 'y')",
                Refused("function \"dblink\" can read other tenants'"),
            ),
            (
                "SELECT pg_read_file('/etc/passwd')",
                Refused("function \"pg_read_file\" can read"),
            ),
            (
                "SELECT lo_import('/etc/passwd')",
                Refused("function \"lo_import\" can read"),
            ),
            (
                "SELECT query_to_xml('SELECT * FROM orders', true, true, '')",
                Refused("function \"query_to_xml\" can read"),
            ),
            // Listed as a built-in by the loader, refused anyway.
            (
                "SELECT * FROM ts_stat('SELECT payload FROM events')",
                Refused("function \"ts_stat\" can read"),
            ),
            (
                "SELECT set_config('tenantgate.tenant_id', 'other', false)",
                Refused("function \"set_config\" can read"),
            ),
            (
                "SELECT pg_catalog.set_config('a.b', 'x', false)",
                Refused("function \"pg_catalog.set_config\" can read"),
            ),
            (
                "SELECT nextval('seq')",
                Refused("function \"nextval\" is not a built-in"),
            ),
            // Settings and roles.
            ("SET ROLE admin", Refused("this form of SET")),
            (
                "SET tenantgate.tenant_id = 'x'",
                Refused("this form of SET"),
            ),
            (
                "SET tenantgate.\"tenant_id\" = 'x'",
                Refused("this form of SET"),
            ),
            (
                "SET \"tenantgate.tenant_id\" = 'x'",
                Refused("this form of SET"),
            ),
            (
                "SET \"TenantGate.Tenant_Id\" TO 'x'",
                Refused("this form of SET"),
            ),
            ("SET search_path = x", Refused("this form of SET")),
            ("SET \"Search_Path\" = x", Refused("this form of SET")),
            ("SET SESSION \"role\" = 'x'", Refused("this form of SET")),
            ("RESET ALL", Refused("RESET is not allowed")),
            (
                "RESET tenantgate.tenant_id",
                Refused("RESET is not allowed"),
            ),
            (
                "RESET \"tenantgate.tenant_id\"",
                Refused("RESET is not allowed"),
            ),
            ("DISCARD ALL", Refused("DISCARD is not allowed")),
            ("LISTEN ch", Refused("LISTEN (channels are shared")),
            ("NOTIFY ch", Refused("NOTIFY (channels are shared")),
            // Allowed session statements.
            ("SET application_name = 'x'", Same),
            ("SET LOCAL statement_timeout = 0", Same),
            ("SET TIME ZONE 'UTC'", Same),
            ("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", Same),
            ("RESET statement_timeout", Same),
            ("DISCARD PLANS", Same),
            ("SHOW search_path", Same),
            ("SELECT current_setting('tenantgate.tenant_id')", Same),
            ("START TRANSACTION ISOLATION LEVEL SERIALIZABLE", Same),
            ("SAVEPOINT a", Same),
            ("ROLLBACK TO SAVEPOINT a", Same),
            ("DEALLOCATE p", Same),
            ("CLOSE c", Same),
        ],
    );
}

/// The catalog-read policy: catalog relations the loader lists are plain relations
/// (readable, unchanged); statistics, activity, locks, large objects and prepared
/// transactions are refused even when the loader lists them (`pg_stats` is listed in the
/// test catalog); anything unlisted is unknown and refused.
#[test]
fn catalog_reads() {
    check(
        "catalog",
        &[
            ("SELECT relname FROM pg_class", Same),
            ("SELECT relname FROM pg_catalog.pg_class", Same),
            (
                "SELECT reltuples FROM pg_class WHERE relname = 'orders'",
                Same,
            ),
            ("SELECT * FROM information_schema.tables", Same),
            (
                "SELECT * FROM pg_stats",
                Refused("\"pg_stats\" shows other tenants' data"),
            ),
            (
                "SELECT * FROM pg_catalog.pg_stats",
                Refused("\"pg_catalog.pg_stats\" shows other tenants' data"),
            ),
            (
                "SELECT * FROM pg_statistic",
                Refused("\"pg_statistic\" shows other tenants'"),
            ),
            (
                "SELECT * FROM pg_stat_user_tables",
                Refused("shows other tenants'"),
            ),
            (
                "SELECT * FROM pg_stat_activity",
                Refused("\"pg_stat_activity\" shows other"),
            ),
            (
                "SELECT * FROM pg_locks",
                Refused("\"pg_locks\" shows other tenants'"),
            ),
            (
                "SELECT * FROM pg_largeobject",
                Refused("shows other tenants'"),
            ),
            (
                "SELECT * FROM pg_prepared_xacts",
                Refused("shows other tenants'"),
            ),
            (
                "SELECT * FROM pg_namespace",
                Refused("relation \"pg_namespace\" is not known"),
            ),
        ],
    );
}

/// What the guard refuses before the rewriter sees the text, through [`Policy::check`].
#[test]
fn policy_refusals() {
    let policy = Policy::Row {
        scope: Some(Arc::new(RowScope::new(catalog()))),
    };
    let cases: &[(&str, Rule, &str)] = &[
        (
            "DO $$ BEGIN EXECUTE 'SELECT 1'; END $$",
            Rule::DynamicSql,
            "EXECUTE in a DO block",
        ),
        (
            "DO $$ BEGIN PERFORM 1; END $$",
            Rule::RowScope,
            "cannot be parsed",
        ),
        ("SET ROLE admin", Rule::ProtectedSetting, "SET role"),
        (
            "SET \"tenantgate.tenant_id\" = 'x'",
            Rule::ProtectedSetting,
            "SET tenantgate.tenant_id",
        ),
        ("RESET ROLE", Rule::ProtectedSetting, "RESET role"),
        (
            "SELECT set_config('tenantgate.tenant_id', 'other', false)",
            Rule::ProtectedSetting,
            "set_config('tenantgate.tenant_id')",
        ),
        (
            "SELECT set_config('application_name', 'x', false)",
            Rule::RowScope,
            "function \"set_config\" can read",
        ),
        (
            "SELECT * FROM pg_stat_activity",
            Rule::ForbiddenFunction,
            "pg_stat_activity",
        ),
        (
            "SELECT * FROM pg_locks",
            Rule::ForbiddenFunction,
            "pg_locks",
        ),
        (
            "SELECT * FROM pg_stats",
            Rule::ForbiddenFunction,
            "pg_stats",
        ),
        (
            "SELECT * FROM pg_statistic",
            Rule::RowScope,
            "\"pg_statistic\" shows other tenants'",
        ),
        (
            "SELECT dblink('x', 'SELECT 1')",
            Rule::ForbiddenFunction,
            "dblink",
        ),
        (
            "SELECT pg_read_file('/etc/passwd')",
            Rule::ForbiddenFunction,
            "pg_read_file",
        ),
        (
            "SELECT lo_import('/etc/passwd')",
            Rule::ForbiddenFunction,
            "lo_import",
        ),
        (
            "SELECT query_to_xml('SELECT * FROM orders', true, true, '')",
            Rule::ForbiddenFunction,
            "query_to_xml",
        ),
        (
            "COPY orders TO '/tmp/x'",
            Rule::ForbiddenStatement,
            "COPY to or from a server file",
        ),
        (
            "COPY orders FROM STDIN",
            Rule::RowScope,
            "COPY FROM into a tenant table",
        ),
        ("CREATE ROLE x", Rule::ForbiddenStatement, "CREATE ROLE"),
        (
            "ALTER TABLE orders ADD COLUMN x int",
            Rule::RowScope,
            "ALTER TABLE",
        ),
        ("DROP TABLE orders", Rule::RowScope, "DROP"),
        ("LISTEN ch", Rule::ForbiddenStatement, "LISTEN"),
        (
            "SELECT * FROM order_totals",
            Rule::RowScope,
            "has no tenant column",
        ),
    ];
    let mut failures = Vec::new();
    for (sql, rule, detail) in cases {
        match policy.check(sql) {
            Err(v) if v.rule == *rule && v.detail.contains(detail) => {}
            other => failures.push(format!(
                "input:    {sql}\nexpected: Err({rule:?}, ..{detail}..)\ngot:      {other:?}"
            )),
        }
    }
    // Passing the guard, rewritten by the rewriter.
    for (sql, out) in [
        ("SELECT * FROM orders", "SELECT * FROM {o} AS orders"),
        (
            "INSERT INTO orders (id) VALUES ($1)",
            "INSERT INTO orders (id, \"tenant_id\") VALUES ($1, {kt})",
        ),
    ] {
        match policy.check(sql) {
            Ok(c) if c.rewritten.as_ref().map(|r| r.as_str()) == Some(&expand(out)) => {}
            other => failures.push(format!(
                "input:    {sql}\nexpected: Ok({})\ngot:      {other:?}",
                expand(out)
            )),
        }
    }
    match policy.check("SELECT * FROM countries") {
        Ok(c) if c.rewritten.is_none() => {}
        other => failures.push(format!("SELECT * FROM countries: {other:?}")),
    }
    assert!(
        failures.is_empty(),
        "policy: {} cases failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// The literals (as printed) and cast types of a text, in order.
#[derive(Default)]
struct Literals {
    values: Vec<String>,
    types: Vec<String>,
}

impl Visitor for Literals {
    type Break = ();

    fn pre_visit_value(&mut self, value: &ValueWithSpan) -> ControlFlow<()> {
        self.values.push(value.value.to_string());
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if let Expr::Cast { data_type, .. } = expr {
            self.types.push(data_type.to_string());
        }
        ControlFlow::Continue(())
    }
}

fn literals(sql: &str) -> Literals {
    let mut found = Literals::default();
    let _ = parse(sql).visit(&mut found);
    found
}

/// What `outer` holds beyond `inner`, when `inner` is a subsequence of it; `None` otherwise.
fn beyond(inner: &[String], outer: &[String]) -> Option<Vec<String>> {
    let mut rest = Vec::new();
    let mut wanted = inner.iter().peekable();
    for item in outer {
        if wanted.peek() == Some(&item) {
            wanted.next();
        } else {
            rest.push(item.clone());
        }
    }
    wanted.peek().is_none().then_some(rest)
}

/// The literals the rewriter may add: none of them is a tenant's key.
fn added_literal_allowed(literal: &str) -> bool {
    literal == "'tenantgate.tenant_id'"
        || literal == "true"
        || literal == "''"
        || literal == "0"
        || literal.starts_with("'tenantgate: the tenant column must hold")
}

/// Round trips: the exact text sent, and the client's literals and casts in it unchanged
/// (string forms, escapes, dollar quotes, `$n`, arrays, JSON operators); what sqlparser
/// would print with another meaning is refused instead.
#[test]
fn fidelity() {
    let cases: &[(&str, Expect)] = &[
        (
            "SELECT id::int, CAST(amount AS numeric(10,2)), item::varchar(20) FROM orders",
            Out(
                "SELECT id::INT, CAST(amount AS NUMERIC(10,2)), item::VARCHAR(20) FROM {o} AS orders",
            ),
        ),
        (
            "SELECT amount::double precision, id::bigint[] FROM orders WHERE id = $1 AND item = $2::text",
            Out(
                "SELECT amount::DOUBLE PRECISION, id::BIGINT[] FROM {o} AS orders WHERE id = $1 AND item = $2::TEXT",
            ),
        ),
        (
            "SELECT item::text::varchar, id::numeric::int, 1::int8, 'a'::character varying(3) FROM orders",
            Out(
                "SELECT item::TEXT::VARCHAR, id::NUMERIC::INT, 1::INT8, 'a'::CHARACTER VARYING(3) FROM {o} AS orders",
            ),
        ),
        (
            "SELECT now()::timestamptz, '1'::timestamp(3) with time zone, 'a'::\"char\", 100::money FROM orders",
            Out(
                "SELECT now()::TIMESTAMPTZ, '1'::TIMESTAMP(3) WITH TIME ZONE, 'a'::\"char\", 100::money FROM {o} AS orders",
            ),
        ),
        (
            "SELECT interval '1 day', date '2020-01-01' FROM orders",
            Out("SELECT INTERVAL '1 day', DATE '2020-01-01' FROM {o} AS orders"),
        ),
        (
            "SELECT $1, $2::int, $10 FROM orders WHERE id = $3",
            Out("SELECT $1, $2::INT, $10 FROM {o} AS orders WHERE id = $3"),
        ),
        (
            "SELECT id FROM orders WHERE item = ANY($1::text[])",
            Out("SELECT id FROM {o} AS orders WHERE item = ANY($1::TEXT[])"),
        ),
        (
            "SELECT $$a 'quoted' $ string$$ || item FROM orders",
            Out("SELECT $$a 'quoted' $ string$$ || item FROM {o} AS orders"),
        ),
        (
            "SELECT $tag$ it's $$ nested $tag$, $$$$, $q$$$q$ FROM orders",
            Out("SELECT $tag$ it's $$ nested $tag$, $$$$, $q$$$q$ FROM {o} AS orders"),
        ),
        (
            "SELECT ARRAY[1,2], '{1,2}'::int[], (ARRAY[id, 2])[1] FROM orders",
            Out("SELECT ARRAY[1, 2], '{1,2}'::INT[], (ARRAY[id, 2])[1] FROM {o} AS orders"),
        ),
        (
            "SELECT a[1], a[1:2], a[2][3] FROM (SELECT ARRAY[1,2,3] AS a FROM orders) s",
            Out(
                "SELECT a[1], a[1:2], a[2][3] FROM (SELECT ARRAY[1, 2, 3] AS a FROM {o} AS orders) s",
            ),
        ),
        (
            "SELECT CAST($1 AS int[]), '{{1,2},{3,4}}'::int[][], ARRAY[ARRAY[1,2]], ARRAY[]::int[] FROM orders",
            Out(
                "SELECT CAST($1 AS INT[]), '{{1,2},{3,4}}'::INT[][], ARRAY[ARRAY[1, 2]], ARRAY[]::INT[] FROM {o} AS orders",
            ),
        ),
        (
            "SELECT id FROM orders WHERE id = ANY(ARRAY[1,2]) AND id <> ALL('{3}'::int[]) AND ARRAY[id] && ARRAY[2]",
            Out(
                "SELECT id FROM {O} AS orders WHERE id = ANY(ARRAY[1, 2]) AND id <> ALL('{3}'::INT[]) AND ARRAY[id] && ARRAY[2]",
            ),
        ),
        (
            "SELECT payload -> 'a', payload ->> 'b', payload #> '{a,b}', payload #>> '{a}' FROM events WHERE payload @> '{\"k\":1}' AND payload ? 'k'",
            Out(
                "SELECT payload -> 'a', payload ->> 'b', payload #> '{a,b}', payload #>> '{a}' FROM {e} AS events WHERE payload @> '{\"k\":1}' AND payload ? 'k'",
            ),
        ),
        (
            "SELECT payload ?| ARRAY['a','b'], payload ?& ARRAY['a'], payload <@ '{}'::jsonb, payload #- '{a}' FROM events",
            Out(
                "SELECT payload ?| ARRAY['a', 'b'], payload ?& ARRAY['a'], payload <@ '{}'::JSONB, payload #- '{a}' FROM {e} AS events",
            ),
        ),
        (
            "SELECT (payload->>'x')::int, payload -> 0 -> 'a' FROM events WHERE payload @? '$.a' AND payload ? $1",
            Out(
                "SELECT (payload ->> 'x')::INT, payload -> 0 -> 'a' FROM {E} AS events WHERE payload @? '$.a' AND payload ? $1",
            ),
        ),
        (
            "SELECT E'line\\nbreak', E'it\\'s', E'\\\\', e'\\t' FROM orders",
            Out("SELECT E'line\\nbreak', E'it\\'s', E'\\\\', E'\\t' FROM {o} AS orders"),
        ),
        // Escapes are decoded and printed back escaped: same value, never a closing quote.
        (
            "SELECT E'\\x27; DELETE FROM orders; --', E'\\u0027', E'\\047', E'a''b' FROM orders",
            Out(
                "SELECT E'\\'; DELETE FROM orders; --', E'\\'', E'\\'', E'a\\'b' FROM {o} AS orders",
            ),
        ),
        (
            "SELECT E'\\x41', E'\\u00e9', E'a\\zb', U&'\\0041', U&'\\0027' FROM orders",
            Out("SELECT E'A', E'é', E'azb', U&'A', U&'''' FROM {o} AS orders"),
        ),
        (
            "SELECT 'it''s', 'a\\b', 'two\nlines', N'abc', B'101' FROM orders",
            Out("SELECT 'it''s', 'a\\b', 'two\nlines', N'abc', B'101' FROM {o} AS orders"),
        ),
        (
            "SELECT 1e3, .5, 1.5e-3, 1_000 FROM orders",
            Out("SELECT 1e3, .5, 1.5e-3, 1_000 FROM {o} AS orders"),
        ),
        (
            "SELECT \"Weird \"\"Name\"\"\", item ~* 'x', item LIKE 'a%' ESCAPE '\\' FROM orders -- c",
            Out(
                "SELECT \"Weird \"\"Name\"\"\", item ~* 'x', item LIKE 'a%' ESCAPE '\\' FROM {o} AS orders",
            ),
        ),
        (
            "INSERT INTO events (id, payload) VALUES ($1, $2::jsonb || '{\"a\": [1, 2]}') RETURNING payload->'a'",
            Out(
                "INSERT INTO events (id, payload, \"tenant_id\") VALUES ($1, $2::JSONB || '{\"a\": [1, 2]}', {ki}) RETURNING payload -> 'a'",
            ),
        ),
        (
            "UPDATE events SET payload = payload || $$ {\"x\": \"it's\"} $$::jsonb WHERE id = $1::int",
            Out(
                "UPDATE events SET payload = payload || $$ {\"x\": \"it's\"} $$::JSONB WHERE (id = $1::INT) AND events.\"tenant_id\" = {ki}",
            ),
        ),
        // Printed with another meaning, so refused.
        ("SELECT X'1F' FROM orders", Refused("a hexadecimal literal")),
        ("SELECT 0x1F FROM orders", Refused("a hexadecimal literal")),
        (
            "SELECT 'a' 'b' FROM orders",
            Refused("adjacent string literals"),
        ),
        (
            "SELECT 'a' -- c\n'b' FROM orders",
            Refused("adjacent string literals"),
        ),
        (
            "SELECT 1abc FROM orders",
            Refused("a number literal with a prefix or suffix"),
        ),
        (
            "SELECT 0b101 FROM orders",
            Refused("a number literal with a prefix or suffix"),
        ),
        (
            "SELECT 0o17 FROM orders",
            Refused("a number literal with a prefix or suffix"),
        ),
        (
            "SELECT U&\"d\\0061t\" FROM orders",
            Refused("a U&\"...\" identifier"),
        ),
        (
            "SELECT - -1 FROM orders",
            Refused("would not read back the same"),
        ),
        // Unchanged statements are forwarded as written, whatever sqlparser would print.
        ("SELECT X'1F', 'a' 'b', - -1 FROM countries", Same),
    ];
    check("fidelity", cases);
    let mut failures = Vec::new();
    for (sql, expect) in cases {
        let Out(out) = expect else { continue };
        let (before, after) = (literals(sql), literals(&expand(out)));
        match beyond(&before.values, &after.values) {
            Some(added) if added.iter().all(|l| added_literal_allowed(l)) => {}
            other => failures.push(format!("{sql}: literals {:?} → {other:?}", before.values)),
        }
        if beyond(&before.types, &after.types).is_none() {
            failures.push(format!(
                "{sql}: casts {:?} → {:?}",
                before.types, after.types
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn cache() {
    let c = catalog();
    let cache = Cache::new(100);
    let sql = "SELECT * FROM orders WHERE id = $1";
    let first = cache.rewrite(&c, sql);
    assert_eq!(cache.len(), 1);
    let second = cache.rewrite(&c, sql);
    assert_eq!(cache.len(), 1);
    assert_eq!(
        first,
        rewrite(&c, sql),
        "the cache gives what rewrite gives"
    );
    let (Ok(Rewritten::Changed(a)), Ok(Rewritten::Changed(b))) = (&first, &second) else {
        panic!("{first:?}");
    };
    assert!(
        std::ptr::eq(a.as_str(), b.as_str()),
        "the second rewrite is the cached text itself"
    );
    // The text reads the key from the session setting and holds no key of its own: the
    // same entry serves every tenant of the database.
    let added = beyond(&literals(sql).values, &literals(a.as_str()).values).unwrap();
    assert_eq!(added, ["'tenantgate.tenant_id'", "true", "''"]);
    // Refusals and unchanged texts are cached too.
    let refused = cache.rewrite(&c, "SELECT * FROM nosuch");
    assert!(refused.is_err());
    assert_eq!(cache.rewrite(&c, "SELECT * FROM nosuch"), refused);
    assert_eq!(
        cache.rewrite(&c, "SELECT * FROM countries"),
        Ok(Rewritten::Unchanged)
    );
    assert_eq!(cache.len(), 3);
    // A new catalog (a reload) empties the cache: nothing of the old one is served.
    let mut b = builder();
    b.relation("public", "nosuch");
    let reloaded = b.build();
    assert_eq!(
        cache.rewrite(&reloaded, "SELECT * FROM nosuch"),
        Ok(Rewritten::Unchanged)
    );
    assert_eq!(cache.len(), 1);
    assert!(cache.rewrite(&c, "SELECT * FROM nosuch").is_err());
    assert_eq!(cache.len(), 1);
}

#[test]
fn cache_bounds() {
    let c = catalog();
    let full = Cache::new(2);
    for sql in ["SELECT 1", "SELECT 2", "SELECT * FROM orders"] {
        full.rewrite(&c, sql).unwrap();
    }
    assert_eq!(full.len(), 2);
    assert!(matches!(
        full.rewrite(&c, "SELECT * FROM orders"),
        Ok(Rewritten::Changed(_))
    ));
    let none = Cache::new(0);
    none.rewrite(&c, "SELECT 1").unwrap();
    assert!(none.is_empty());
    let long = format!(
        "SELECT * FROM orders WHERE item = E'{}'",
        "x".repeat(17 * 1024)
    );
    let cache = Cache::new(10);
    assert!(matches!(
        cache.rewrite(&c, &long),
        Ok(Rewritten::Changed(_))
    ));
    assert!(cache.is_empty(), "texts over 16 KiB are not cached");
}

#[test]
fn cache_shapes() {
    let c = catalog();
    let cache = Cache::new(10);
    let rewritten = |sql: &str| match cache.rewrite(&c, sql) {
        Ok(Rewritten::Changed(out)) => out.as_str().to_owned(),
        other => panic!("{sql}: {other:?}"),
    };
    let one = rewritten("SELECT item FROM orders WHERE id = 1 AND item <> 'a''b'");
    let two = rewritten("SELECT item FROM orders WHERE id = 22 AND item <> 'c'");
    assert_eq!(cache.len(), 1, "one shape serves both texts");
    assert_eq!(
        one,
        rewritten_fresh(
            &c,
            "SELECT item FROM orders WHERE id = 1 AND item <> 'a''b'"
        )
    );
    assert_eq!(
        two,
        rewritten_fresh(&c, "SELECT item FROM orders WHERE id = 22 AND item <> 'c'")
    );
    // No parameter may stand for a type modifier: that text is rewritten as it is.
    let sql = "SELECT amount::numeric(10, 2) FROM orders WHERE id = 3";
    assert_eq!(rewritten(sql), rewritten_fresh(&c, sql));
    assert_eq!(cache.len(), 3, "the failed shape and the text itself");
    // Texts with parameters are looked up as they are.
    rewritten("SELECT item FROM orders WHERE id = $1 LIMIT 5");
    rewritten("SELECT item FROM orders WHERE id = $1 LIMIT 5");
    rewritten("SELECT item FROM orders WHERE id = $1 LIMIT 6");
    assert_eq!(cache.len(), 5);
    // A refusal is a refusal whatever the literals.
    assert!(cache.rewrite(&c, "DROP TABLE orders; SELECT 1").is_err());
}

fn rewritten_fresh(c: &Catalog, sql: &str) -> String {
    match rewrite(c, sql) {
        Ok(Rewritten::Changed(out)) => out.as_str().to_owned(),
        other => panic!("{sql}: {other:?}"),
    }
}

#[test]
fn scope_reload() {
    let scope = RowScope::new(catalog());
    let sql = "SELECT * FROM orders";
    let (Ok(Rewritten::Changed(a)), Ok(Rewritten::Changed(b))) =
        (scope.rewrite(sql), scope.rewrite(sql))
    else {
        panic!("{sql} is rewritten");
    };
    assert!(std::ptr::eq(a.as_str(), b.as_str()), "a cache hit");
    assert!(scope.rewrite("SELECT * FROM nosuch").is_err());
    let mut builder = builder();
    builder.relation("public", "nosuch");
    scope.replace(builder.build());
    assert_eq!(
        scope.rewrite("SELECT * FROM nosuch"),
        Ok(Rewritten::Unchanged)
    );
    match scope.rewrite(sql) {
        Ok(Rewritten::Changed(c)) => {
            assert_eq!(c.as_str(), a.as_str());
            assert!(!std::ptr::eq(c.as_str(), a.as_str()), "rewritten anew");
        }
        other => panic!("{other:?}"),
    }
}
