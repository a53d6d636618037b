//! Row tenants hooli (3 orders) and piedpiper (7 orders) share table `saas.public.orders`:
//! every read, write and COPY through the proxy touches only the session tenant's rows, with
//! rewriting, with Postgres row-level security, and with both.

mod support;

use support::{Options, SAAS_TABLES, TestEnv, sqlstate};
use tokio_postgres::SimpleQueryMessage;

/// Every value of every row a simple query returned, as text.
async fn texts(client: &tokio_postgres::Client, sql: &str) -> Vec<Vec<String>> {
    client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| r.get(i).unwrap_or("NULL").to_owned())
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

async fn one(client: &tokio_postgres::Client, sql: &str) -> String {
    texts(client, sql).await.remove(0).remove(0)
}

/// Rows per tenant in the shared table, read directly.
async fn direct_counts(env: &TestEnv) -> Vec<(String, i64)> {
    let db = env.cluster.connect("saas").await.unwrap();
    db.query(
        "SELECT tenant_id, count(*) FROM orders GROUP BY 1 ORDER BY 1",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

fn rewrite_env() -> Options {
    Options {
        pool_size: 1,
        saas_sql: SAAS_TABLES.into(),
        ..Options::default()
    }
}

#[tokio::test]
async fn reads_see_only_the_tenants_rows() {
    let env = TestEnv::with(rewrite_env()).await;
    let hooli = env.client("hooli_app", "saas").await;
    errors_are_no_oracle(&hooli, "rewrite").await;
    let pp = env.client("piedpiper_app", "saas").await;
    for _ in 0..2 {
        // One server connection, switching tenants each time.
        assert_eq!(one(&hooli, "SELECT count(*) FROM orders").await, "3");
        assert_eq!(one(&pp, "SELECT count(*) FROM orders").await, "7");
        let n: i64 = hooli
            .query_one("SELECT count(*) FROM public.orders WHERE id > $1", &[&0i32])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 3);
    }
    for sql in [
        "SELECT count(*) FROM orders o JOIN customers c USING (tenant_id)",
        "SELECT count(*) FROM countries, orders WHERE countries.code = 'us'",
        "SELECT count(*) FROM (SELECT * FROM orders) s",
        "SELECT count(*) FROM orders WHERE id IN (SELECT id FROM orders)",
        "WITH RECURSIVE r AS (SELECT id FROM orders UNION SELECT id FROM r) SELECT count(*) FROM r",
        "SELECT (SELECT count(*) FROM orders) + (SELECT count(*) FROM customers) - 1",
        "SELECT count(*) FROM orders UNION ALL SELECT 0 ORDER BY 1 DESC LIMIT 1",
        "SELECT count(*) FROM countries c LEFT JOIN orders o ON true WHERE c.code = 'us'",
    ] {
        assert_eq!(one(&hooli, sql).await, "3", "{sql}");
    }
    // Outer joins keep their meaning: the other tenant's customers are not there to match.
    let rows = texts(
        &pp,
        "SELECT c.name, count(o.id) FROM customers c LEFT JOIN orders o USING (tenant_id) \
         GROUP BY 1 ORDER BY 1",
    )
    .await;
    assert_eq!(rows, vec![vec!["Jared", "7"], vec!["Richard", "7"]]);
    let copied = texts(&hooli, "SELECT string_agg(tenant_id, ',') FROM orders").await;
    assert_eq!(copied[0][0], "hooli,hooli,hooli");
}

#[tokio::test]
async fn writes_stay_within_the_tenant() {
    let env = TestEnv::with(rewrite_env()).await;
    let hooli = env.client("hooli_app", "saas").await;
    // The tenant column is filled in, in every form of INSERT.
    hooli
        .batch_execute(
            "INSERT INTO orders (id, item, amount) VALUES (1001, 'a', 1), (1002, 'b', 2);
             INSERT INTO orders VALUES (1003, 'hooli', 'c', 3);
             INSERT INTO orders (id, item, amount) SELECT id + 10000, item, amount FROM orders WHERE id < 1000;",
        )
        .await
        .unwrap();
    hooli
        .execute(
            "INSERT INTO orders (id, tenant_id, item, amount) VALUES ($1, $2, 'd', 4)",
            &[&1100i32, &"hooli"],
        )
        .await
        .unwrap();
    assert_eq!(
        direct_counts(&env).await,
        vec![("hooli".into(), 10), ("piedpiper".into(), 7)]
    );
    // A row for another tenant is refused, in simple and extended protocol.
    let err = hooli
        .simple_query("INSERT INTO orders VALUES (7000, 'piedpiper', 'x', 1)")
        .await
        .unwrap_err();
    assert!(
        sqlstate(&err).starts_with("22") || sqlstate(&err) == "42501",
        "{err}"
    );
    let err = hooli
        .execute(
            "INSERT INTO orders (id, tenant_id, item, amount) VALUES ($1, $2, 'x', 1)",
            &[&7001i32, &"piedpiper"],
        )
        .await
        .unwrap_err();
    assert!(
        sqlstate(&err).starts_with("22") || sqlstate(&err) == "42501",
        "{err}"
    );
    // UPDATE and DELETE reach the tenant's rows only; the tenant column cannot change.
    assert_eq!(
        hooli
            .execute("UPDATE orders SET amount = 0", &[])
            .await
            .unwrap(),
        10
    );
    let err = hooli
        .simple_query("UPDATE orders SET tenant_id = 'piedpiper'")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42501");
    // An upsert that meets another tenant's row leaves it alone.
    hooli
        .simple_query(
            "INSERT INTO orders (id, item, amount) VALUES (501, 'stolen', 0) \
             ON CONFLICT (id) DO UPDATE SET item = excluded.item",
        )
        .await
        .unwrap();
    let db = env.cluster.connect("saas").await.unwrap();
    let item: String = db
        .query_one("SELECT item FROM orders WHERE id = 501", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(item, "piedpiper item 1");
    assert_eq!(hooli.execute("DELETE FROM orders", &[]).await.unwrap(), 10);
    assert_eq!(direct_counts(&env).await, vec![("piedpiper".into(), 7)]);
}

#[tokio::test]
async fn copy_out_is_filtered_and_copy_in_refused() {
    let env = TestEnv::with(rewrite_env()).await;
    let hooli = env.client("hooli_app", "saas").await;
    let out = env.psql("hooli_app", "saas", "COPY orders TO STDOUT").await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(!text.contains("piedpiper"), "{text}");
    let out = env
        .psql(
            "hooli_app",
            "saas",
            "COPY (SELECT id FROM orders) TO STDOUT",
        )
        .await;
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);
    let err = hooli
        .simple_query("COPY orders FROM STDIN")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42501");
}

#[tokio::test]
async fn what_cannot_be_confined_is_refused() {
    let env = TestEnv::with(rewrite_env()).await;
    let hooli = env.client("hooli_app", "saas").await;
    for sql in [
        "SELECT * FROM order_items",
        "SELECT all_orders()",
        "SELECT * FROM not_there",
        "DROP TABLE orders",
        "ALTER TABLE orders DISABLE ROW LEVEL SECURITY",
        "TRUNCATE orders",
        "SET tenantgate.tenant_id = 'piedpiper'",
        "SELECT set_config('tenantgate.tenant_id', 'piedpiper', false)",
        "RESET tenantgate.tenant_id",
        "WITH orders AS (SELECT 1) SELECT * FROM orders",
        "SELECT * FROM pg_stats",
        "DO $$BEGIN PERFORM 1; END$$",
        "SELECT ts_stat('SELECT * FROM orders')",
    ] {
        let err = hooli.simple_query(sql).await.unwrap_err();
        assert_eq!(sqlstate(&err), "42501", "{sql}: {err}");
        let err = hooli.prepare(sql).await.unwrap_err();
        assert_eq!(sqlstate(&err), "42501", "{sql} (extended): {err}");
    }
    assert_eq!(one(&hooli, "SELECT count(*) FROM orders").await, "3");
}

#[tokio::test]
async fn prepared_statements_and_pgbench_style_traffic() {
    let env = TestEnv::with(rewrite_env()).await;
    let hooli = env.client("hooli_app", "saas").await;
    let pp = env.client("piedpiper_app", "saas").await;
    let statement = "SELECT count(*) FROM orders WHERE id > $1";
    let (a, b) = (
        hooli.prepare(statement).await.unwrap(),
        pp.prepare(statement).await.unwrap(),
    );
    for _ in 0..3 {
        let n: i64 = hooli.query_one(&a, &[&0i32]).await.unwrap().get(0);
        assert_eq!(n, 3);
        let n: i64 = pp.query_one(&b, &[&0i32]).await.unwrap().get(0);
        assert_eq!(n, 7);
    }
}

fn rls_env(enforcement: &'static str) -> Options {
    Options {
        pool_size: 1,
        saas_sql: SAAS_TABLES.into(),
        enforcement,
        provision_rls: true,
        ..Options::default()
    }
}

/// Errors are no oracle: no expression of the query that could fail on a row runs before
/// the tenant's rows are picked (piedpiper holds order 501 and customer "Richard"). With
/// sequential scans, so that no index condition on the tenant column filters first.
async fn errors_are_no_oracle(hooli: &tokio_postgres::Client, enforcement: &str) {
    for off in ["SET enable_indexscan = off", "SET enable_bitmapscan = off"] {
        hooli.simple_query(off).await.unwrap();
    }
    for sql in [
        "SELECT count(*) FROM orders WHERE 1 / (id - 501) IS NULL",
        "SELECT count(*) FROM (SELECT 1 / (id - 501) AS x FROM orders) s WHERE x IS NULL",
    ] {
        assert_eq!(one(hooli, sql).await, "0", "{enforcement}: {sql}");
    }
    let err = hooli
        .simple_query("SELECT count(*) FROM customers WHERE name::int IS NOT NULL")
        .await
        .unwrap_err();
    let message = err.as_db_error().map(|e| e.message().to_owned());
    assert_eq!(
        message.as_deref(),
        Some("invalid input syntax for type integer: \"Gavin\""),
        "{enforcement}"
    );
    let before = one(hooli, "SELECT count(*) FROM orders").await;
    hooli
        .simple_query("DELETE FROM orders WHERE 1 / (id - 501) IS NULL AND id < 0")
        .await
        .unwrap_or_else(|e| panic!("{enforcement}: {e}"));
    assert_eq!(one(hooli, "SELECT count(*) FROM orders").await, before);
    for on in ["RESET enable_indexscan", "RESET enable_bitmapscan"] {
        hooli.simple_query(on).await.unwrap();
    }
}

#[tokio::test]
async fn row_level_security_confines_without_rewriting() {
    for enforcement in ["rls", "both"] {
        let env = TestEnv::with(rls_env(enforcement)).await;
        let hooli = env.client("hooli_app", "saas").await;
        let pp = env.client("piedpiper_app", "saas").await;
        for _ in 0..2 {
            assert_eq!(one(&hooli, "SELECT count(*) FROM orders").await, "3");
            assert_eq!(one(&pp, "SELECT count(*) FROM orders").await, "7");
        }
        // Postgres' own check refuses another tenant's row.
        let err = hooli
            .simple_query("INSERT INTO orders VALUES (2000, 'piedpiper', 'x', 1)")
            .await
            .unwrap_err();
        assert!(
            ["42501", "22P02"].contains(&sqlstate(&err).as_str()),
            "{enforcement}: {err}"
        );
        hooli
            .simple_query(
                "INSERT INTO orders (id, tenant_id, item, amount) VALUES (2001, 'hooli', 'y', 1)",
            )
            .await
            .unwrap();
        let err = hooli
            .simple_query("SET tenantgate.tenant_id = 'piedpiper'")
            .await
            .unwrap_err();
        assert_eq!(sqlstate(&err), "42501");
        errors_are_no_oracle(&hooli, enforcement).await;
        assert_eq!(
            direct_counts(&env).await,
            vec![("hooli".into(), 4), ("piedpiper".into(), 7)],
            "{enforcement}"
        );
    }
}

#[tokio::test]
async fn rls_enforcement_needs_provisioned_policies() {
    let env = TestEnv::with(rewrite_env()).await;
    let text =
        tenantgate::devcluster::example_config(&env.cluster, &env.examples, "127.0.0.1:0", "")
            .replace("enforcement = \"rewrite\"", "enforcement = \"rls\"");
    let path = env.cluster.dir().join("rls.toml");
    let config = tenantgate::config::parse(&path, &text).unwrap();
    let Err(e) = tenantgate::server::Server::bind(config.clone()).await else {
        panic!("RLS enforcement starts only with the policies in place");
    };
    assert!(e.to_string().contains("tenant_isolation"), "{e}");
    let dry = tenantgate::isolation::row::provision(&config, true)
        .await
        .unwrap();
    assert!(
        dry.contains("CREATE POLICY tenant_isolation ON \"public\".\"orders\""),
        "{dry}"
    );
    assert!(
        tenantgate::server::Server::bind(config.clone())
            .await
            .is_err(),
        "a dry run changes nothing"
    );
    for _ in 0..2 {
        // Idempotent.
        tenantgate::isolation::row::provision(&config, false)
            .await
            .unwrap();
    }
    tenantgate::server::Server::bind(config)
        .await
        .expect("starts once provisioned");
}

#[tokio::test]
async fn a_reload_finds_tables_created_since_start() {
    let env = TestEnv::with(rewrite_env()).await;
    let hooli = env.client("hooli_app", "saas").await;
    let err = hooli
        .simple_query("SELECT * FROM invoices")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42501", "unknown until a reload: {err}");
    env.cluster
        .execute(
            "saas",
            "SET ROLE tenantgate;
             CREATE TABLE invoices (id int, tenant_id text NOT NULL);
             INSERT INTO invoices VALUES (1, 'hooli'), (2, 'piedpiper'), (3, 'piedpiper');",
        )
        .await
        .unwrap();
    env.reloader.reload().await;
    assert_eq!(one(&hooli, "SELECT count(*) FROM invoices").await, "1");
}

/// The key literal that rewrites carry reads back, in Postgres, as exactly the configured key,
/// whatever quotes and backslashes it holds and with either string syntax.
#[tokio::test]
async fn key_literals_read_back_as_the_key() {
    let env = TestEnv::with(Options::default()).await;
    let db = env.cluster.connect("saas").await.unwrap();
    for conforming in ["on", "off"] {
        db.batch_execute(&format!("SET standard_conforming_strings = {conforming}"))
            .await
            .unwrap();
        for key in [
            "acme",
            "o'k",
            r"back\slash",
            r"\'; DROP TABLE orders; --",
            "é ü 日本",
        ] {
            let literal = tenantgate::isolation::row::RowKey::new(key);
            let read = one(&db, &format!("SELECT {}::text", literal.literal())).await;
            assert_eq!(
                read,
                key,
                "{} with standard_conforming_strings {conforming}",
                literal.literal()
            );
        }
    }
}
