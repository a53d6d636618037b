//! Escape attempts by row tenant hooli against piedpiper's rows in the shared tables. Each
//! must fail, or return none of piedpiper's data; afterwards piedpiper's rows are unchanged.

mod support;

use support::{Options, SAAS_TABLES, TestEnv};
use tokio_postgres::SimpleQueryMessage;

/// Words only piedpiper's rows contain.
const FOREIGN: &[&str] = &["piedpiper", "richard", "jared"];

const ATTACKS: &[&str] = &[
    // plain and qualified names, quoting, case
    "SELECT * FROM orders",
    "SELECT * FROM public.orders",
    "SELECT * FROM \"orders\"",
    "SELECT * FROM \"public\".\"orders\"",
    "SELECT * FROM \"ORDERS\"",
    "SELECT * FROM saas.public.orders",
    "SeLeCt * FrOm OrDeRs",
    "SELECT\t*\nFROM\torders",
    "SELECT * FROM ONLY orders",
    "SELECT * FROM orders *",
    "TABLE orders",
    "SELECT * FROM U&\"orders\"",
    "SELECT * FROM U&\"\\006frders\"",
    // comments
    "SELECT * FROM/**/orders",
    "SELECT * FROM orders /* WHERE false */",
    "SELECT * FROM orders -- comment\n WHERE true",
    "SELECT * FROM /* nested /* comment */ */ orders",
    "SELECT * FROM orders WHERE tenant_id = 'piedpiper' -- ' OR true",
    // predicates that try to widen the filter
    "SELECT * FROM orders WHERE tenant_id = 'piedpiper' OR true",
    "SELECT * FROM orders WHERE true OR tenant_id <> 'hooli'",
    "SELECT * FROM orders WHERE id = 501",
    "SELECT * FROM orders WHERE tenant_id IN ('hooli', 'piedpiper')",
    "SELECT * FROM orders WHERE NOT (tenant_id = 'hooli')",
    // joins, subqueries, set operations
    "SELECT o.*, c.* FROM orders o JOIN customers c ON true",
    "SELECT * FROM orders o LEFT JOIN customers c USING (tenant_id)",
    "SELECT * FROM orders o RIGHT JOIN customers c USING (tenant_id)",
    "SELECT * FROM orders o FULL JOIN customers c USING (tenant_id)",
    "SELECT * FROM customers c FULL JOIN orders o ON c.id = o.id",
    "SELECT * FROM countries CROSS JOIN orders",
    "SELECT * FROM orders NATURAL JOIN customers",
    "SELECT * FROM (SELECT * FROM orders) o",
    "SELECT * FROM (SELECT * FROM (SELECT * FROM (SELECT * FROM orders) a) b) c",
    "SELECT * FROM countries, LATERAL (SELECT * FROM orders) x",
    "SELECT * FROM countries k, LATERAL (SELECT item FROM orders WHERE k.code IS NOT NULL) x",
    "SELECT (SELECT string_agg(item, ',') FROM orders)",
    "SELECT ARRAY(SELECT item FROM orders)",
    "SELECT * FROM customers WHERE id IN (SELECT id FROM customers)",
    "SELECT name FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.tenant_id = c.tenant_id)",
    "SELECT * FROM orders UNION SELECT * FROM orders",
    "SELECT item FROM orders UNION ALL SELECT name FROM customers",
    "SELECT item FROM orders INTERSECT SELECT item FROM orders",
    "SELECT item FROM orders EXCEPT SELECT 'x'",
    "(SELECT item FROM orders) UNION (SELECT name FROM customers) ORDER BY 1",
    "SELECT * FROM (VALUES (1)) v(x) JOIN orders ON true",
    "SELECT * FROM orders WHERE tenant_id = ANY (SELECT tenant_id FROM customers)",
    // CTEs
    "WITH a AS (SELECT * FROM orders) SELECT * FROM a",
    "WITH a AS (WITH b AS (SELECT * FROM orders) SELECT * FROM b) SELECT * FROM a",
    "WITH orders AS (SELECT * FROM public.orders) SELECT * FROM orders",
    "WITH customers AS (SELECT 1) SELECT * FROM customers",
    "WITH RECURSIVE r(id) AS (SELECT id FROM orders UNION SELECT id FROM r) SELECT item FROM orders JOIN r USING (id)",
    "WITH x AS MATERIALIZED (SELECT * FROM orders) SELECT * FROM x",
    "WITH d AS (DELETE FROM orders WHERE tenant_id = 'piedpiper' RETURNING *) SELECT * FROM d",
    "WITH u AS (UPDATE orders SET item = item RETURNING *) SELECT * FROM u",
    "WITH i AS (INSERT INTO orders (id, item, amount) VALUES (5000, 'x', 1) RETURNING *) SELECT * FROM orders",
    // whole rows, JSON, aggregates, windows
    "SELECT o FROM orders o",
    "SELECT row_to_json(o) FROM orders o",
    "SELECT to_jsonb(orders) FROM orders",
    "SELECT json_agg(orders) FROM orders",
    "SELECT string_agg(item, ',') FROM orders",
    "SELECT item, count(*) OVER () FROM orders",
    "SELECT tenant_id, count(*) FROM orders GROUP BY GROUPING SETS ((tenant_id), ())",
    "SELECT DISTINCT ON (tenant_id) tenant_id, item FROM orders",
    // locking, cursors, explain
    "SELECT * FROM orders FOR UPDATE",
    "SELECT * FROM orders o FOR SHARE OF o",
    "BEGIN; DECLARE c CURSOR FOR SELECT * FROM orders; FETCH ALL c; COMMIT",
    "BEGIN; DECLARE c CURSOR FOR SELECT * FROM public.orders; FETCH ALL FROM c; CLOSE c; COMMIT",
    "EXPLAIN ANALYZE SELECT * FROM orders",
    "EXPLAIN (FORMAT JSON) SELECT * FROM orders WHERE id > 500",
    "LOCK TABLE orders",
    // multiple statements in one Query
    "SELECT 1; SELECT * FROM orders",
    "SELECT 1; SET tenantgate.tenant_id = 'piedpiper'; SELECT * FROM orders",
    "SELECT * FROM orders; SELECT * FROM customers",
    // the tenant setting and the session
    "SET tenantgate.tenant_id = 'piedpiper'",
    "SET SESSION tenantgate.tenant_id TO 'piedpiper'",
    "SET LOCAL tenantgate.tenant_id = 'piedpiper'",
    "RESET tenantgate.tenant_id",
    "RESET ALL",
    "SELECT * FROM orders",
    "DISCARD ALL",
    "SELECT * FROM orders",
    "DISCARD ALL; SELECT * FROM orders",
    "SELECT set_config('tenantgate.tenant_id', 'piedpiper', false)",
    "SELECT set_config('tenantgate.' || 'tenant_id', 'piedpiper', false)",
    "SELECT pg_catalog.set_config('tenantgate.tenant_id', 'piedpiper', true)",
    "SELECT \"set_config\"('tenantgate.tenant_id', 'piedpiper', true)",
    "UPDATE pg_settings SET setting = 'piedpiper' WHERE name = 'tenantgate.tenant_id'",
    "SET ROLE postgres",
    "SET SESSION AUTHORIZATION postgres",
    "SET row_security = off",
    "SET search_path = pg_catalog",
    "SET search_path TO public, pg_temp",
    "SELECT * FROM pg_temp.orders",
    "CREATE TEMP TABLE orders AS SELECT 1",
    "CREATE TEMP VIEW v AS SELECT * FROM orders",
    "PREPARE p AS SELECT * FROM orders",
    "EXECUTE p",
    // views and functions that read by name
    "SELECT * FROM order_items",
    "SELECT * FROM nested_items",
    "SELECT * FROM order_view",
    "SELECT all_items()",
    "SELECT * FROM all_items()",
    "SELECT public.all_items()",
    "SELECT query_to_xml('SELECT * FROM orders', true, true, '')",
    "SELECT table_to_xml('orders', true, true, '')",
    "SELECT * FROM ts_stat('SELECT to_tsvector(item) FROM orders')",
    "SELECT ts_rewrite('a'::tsquery, 'SELECT ''a''::tsquery, item::tsquery FROM orders')",
    "SELECT * FROM dblink('dbname=saas', 'SELECT item FROM orders') AS t(item text)",
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT lo_import('/etc/passwd')",
    "DO $$BEGIN PERFORM * FROM orders; END$$",
    "DO $$BEGIN EXECUTE 'SELECT * FROM orders'; END$$",
    "CREATE FUNCTION f() RETURNS SETOF orders LANGUAGE sql AS 'SELECT * FROM orders'",
    // statistics and activity
    "SELECT * FROM pg_stats WHERE tablename = 'orders'",
    "SELECT * FROM pg_statistic",
    "SELECT * FROM pg_stat_user_tables",
    "SELECT query FROM pg_stat_activity",
    "SELECT * FROM pg_locks",
    "SELECT pg_stat_get_live_tuples('orders'::regclass)",
    // casts and strings
    "SELECT 'orders'::regclass",
    "SELECT (SELECT o FROM orders o LIMIT 1)::text",
    "SELECT E'\\x27' || item FROM orders",
    "SELECT $q$x$q$ || item FROM orders",
    "SELECT item::text || '{}'::text[]::text FROM orders",
    "SELECT item FROM orders WHERE item ~ 'p.*'",
    // the marker where the rewriter puts the tenant's key, forged in every way a text can
    // hold it, and literals that try to reach past their own place
    "SELECT * FROM orders WHERE tenant_id = $2000000000",
    "SELECT * FROM orders WHERE item = '$2000000000' OR tenant_id <> 'x'",
    "SELECT * FROM orders WHERE item = $$ $2000000000 $$ OR true",
    "SELECT * FROM orders /* $2000000000 */ WHERE true",
    "SELECT * FROM orders WHERE item = E'\\x242000000000' OR true",
    "SELECT * FROM orders WHERE item = $1000000000",
    "SELECT * FROM orders WHERE item = 'x'' OR tenant_id <> ''' OR id = 1",
    "SELECT * FROM orders WHERE id = 1 OR item = 'piedpiper'",
    // writes aimed at the other tenant
    "UPDATE orders SET item = 'pwned' WHERE tenant_id = 'piedpiper'",
    "UPDATE orders SET item = 'pwned' WHERE id = 501",
    "UPDATE orders SET tenant_id = 'piedpiper'",
    "UPDATE orders SET (item, tenant_id) = ('x', 'piedpiper')",
    "UPDATE orders o SET item = p.item FROM orders p WHERE p.id = 501",
    "DELETE FROM orders WHERE tenant_id = 'piedpiper'",
    "DELETE FROM orders WHERE id > 500",
    "DELETE FROM customers c USING orders o WHERE o.tenant_id = c.tenant_id AND c.name = 'Richard'",
    "INSERT INTO orders VALUES (6000, 'piedpiper', 'planted', 1)",
    "INSERT INTO orders (id, tenant_id, item, amount) SELECT 6001, 'piedpiper', 'planted', 1",
    "INSERT INTO orders (id, item, amount) VALUES (501, 'x', 1) ON CONFLICT (id) DO UPDATE SET item = 'pwned'",
    "INSERT INTO orders (id, item, amount) VALUES (502, 'x', 1) ON CONFLICT (id) DO UPDATE SET tenant_id = 'hooli'",
    "INSERT INTO orders (id, item, amount) VALUES (503, 'x', 1) ON CONFLICT DO NOTHING RETURNING *",
    "MERGE INTO orders o USING countries c ON true WHEN MATCHED THEN DELETE",
    "TRUNCATE orders",
    "DROP TABLE orders",
    "ALTER TABLE orders DISABLE ROW LEVEL SECURITY",
    "ALTER TABLE orders RENAME TO old_orders",
    "COPY orders FROM STDIN",
    "COPY orders TO '/tmp/orders'",
    "COPY orders TO PROGRAM 'cat'",
    "LISTEN orders",
    "NOTIFY orders, 'x'",
    "SELECT pg_notify('orders', 'x')",
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity",
    "VACUUM orders",
    "ANALYZE orders",
    "GRANT ALL ON orders TO PUBLIC",
    "CREATE RULE r AS ON SELECT TO orders DO INSTEAD SELECT * FROM customers",
    "CREATE TRIGGER t BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION f()",
    // Errors as oracles: an expression that fails on another tenant's value (hooli's own
    // "Gavin" left out, so that its own row does not fail first).
    "SELECT * FROM customers WHERE nullif(name, 'Gavin')::int IS NOT NULL",
    "SELECT * FROM customers c JOIN orders o ON o.id = c.id WHERE nullif(c.name, 'Gavin')::int = 1",
    "SELECT * FROM (SELECT nullif(name, 'Gavin')::int AS n FROM customers) s WHERE n > 0",
    "WITH s AS (SELECT nullif(name, 'Gavin')::int AS n FROM customers) SELECT * FROM s WHERE n > 0",
    "SELECT * FROM orders WHERE EXISTS (SELECT 1 FROM customers c WHERE nullif(c.name, 'Gavin')::int = 1)",
    "DELETE FROM customers WHERE nullif(name, 'Gavin')::int = 1",
    "UPDATE customers SET name = name WHERE nullif(name, 'Gavin')::int = 1",
    "SELECT * FROM customers WHERE nullif(name, 'Gavin')::date IS NULL",
];

fn leaked(rows: &[String]) -> Option<&String> {
    rows.iter().find(|v| {
        let v = v.to_lowercase();
        FOREIGN.iter().any(|f| v.contains(f))
    })
}

async fn piedpiper_rows(env: &TestEnv) -> (String, String) {
    let db = env.cluster.connect("saas").await.unwrap();
    let orders = db
        .query_one(
            "SELECT coalesce(string_agg(format('%s|%s|%s', id, item, amount), ',' ORDER BY id), '') \
             FROM orders WHERE tenant_id = 'piedpiper'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let customers = db
        .query_one(
            "SELECT string_agg(format('%s|%s', id, name), ',' ORDER BY id) FROM customers \
             WHERE tenant_id = 'piedpiper'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    (orders, customers)
}

#[tokio::test]
async fn escape_attempts_fail_or_see_only_the_tenants_rows() {
    assert!(ATTACKS.len() >= 100, "{} attacks", ATTACKS.len());
    let env = TestEnv::with(Options {
        pool_size: 2,
        saas_sql: SAAS_TABLES.into(),
        ..Options::default()
    })
    .await;
    let before = piedpiper_rows(&env).await;
    let hooli = env.client("hooli_app", "saas").await;
    let mut answered = 0;
    for sql in ATTACKS {
        let values: Vec<String> = match hooli.simple_query(sql).await {
            Ok(messages) => messages
                .iter()
                .filter_map(|m| match m {
                    SimpleQueryMessage::Row(r) => Some(
                        (0..r.len())
                            .filter_map(|i| r.get(i).map(str::to_owned))
                            .collect::<Vec<_>>(),
                    ),
                    _ => None,
                })
                .flatten()
                .collect(),
            Err(e) => {
                // Nor may an error quote it.
                let said = e
                    .as_db_error()
                    .map(|d| format!("{} {}", d.message(), d.detail().unwrap_or("")))
                    .unwrap_or_default();
                assert_eq!(
                    leaked(&[said]),
                    None,
                    "{sql}: its error shows another tenant's data"
                );
                // A failed transaction block must not stick to the next attack.
                let _ = hooli.simple_query("ROLLBACK").await;
                continue;
            }
        };
        answered += 1;
        assert_eq!(
            leaked(&values),
            None,
            "{sql} returned another tenant's data"
        );
        // Also through the extended protocol where the statement is a single query.
        if !sql.contains(';')
            && let Ok(rows) = hooli.query(*sql, &[]).await
        {
            for row in rows {
                for i in 0..row.len() {
                    if let Ok(Some(v)) = row.try_get::<_, Option<String>>(i) {
                        assert_eq!(leaked(std::slice::from_ref(&v)), None, "{sql} (extended)");
                    }
                }
            }
        }
    }
    assert_eq!(
        piedpiper_rows(&env).await,
        before,
        "piedpiper's rows changed"
    );
    // The tenant's own data stays reachable: not everything was simply refused.
    assert!(answered >= 40, "only {answered} attacks answered at all");
    let n: i64 = hooli
        .query_one("SELECT count(*) FROM orders WHERE tenant_id = 'hooli'", &[])
        .await
        .unwrap()
        .get(0);
    assert!(n >= 3);
}
