//! Each tenant sees only its own rows, through psql and tokio-postgres, in simple and extended
//! protocol, inside and outside transactions, with backend connections changing hands between
//! tenants; and escape attempts are refused.

mod support;

use support::{Options, TestEnv, sqlstate, stdout};
use tokio_postgres::SimpleQueryMessage;

/// (user, database, rows in its orders table)
const TENANTS: &[(&str, &str, i64)] = &[
    ("acme_app", "app", 2),
    ("globex_app", "app", 4),
    ("initech_app", "initech", 5),
    ("umbrella_app", "umbrella", 6),
    ("hooli_app", "saas", 3),
    ("piedpiper_app", "saas", 7),
];

async fn simple_count(client: &tokio_postgres::Client, sql: &str) -> i64 {
    let rows = client.simple_query(sql).await.unwrap();
    let row = rows.iter().find_map(|m| match m {
        SimpleQueryMessage::Row(r) => Some(r.get(0).unwrap().parse::<i64>().unwrap()),
        _ => None,
    });
    row.expect("one row")
}

#[tokio::test]
async fn each_tenant_sees_only_its_rows_across_pool_reuse() {
    // One backend connection per database: schema tenants take turns on the same connection.
    let env = TestEnv::with(Options {
        pool_size: 1,
        ..Options::default()
    })
    .await;
    let mut clients = Vec::new();
    for (user, db, _) in TENANTS {
        clients.push(env.client(user, db).await);
    }
    for round in 0..3 {
        for ((user, _, expected), client) in TENANTS.iter().zip(&clients) {
            let extended: i64 = client
                .query_one("SELECT count(*) FROM orders", &[])
                .await
                .unwrap()
                .get(0);
            assert_eq!(
                extended, *expected,
                "{user}, extended protocol, round {round}"
            );
            let simple = simple_count(client, "SELECT count(*) FROM orders").await;
            assert_eq!(simple, *expected, "{user}, simple protocol, round {round}");
            let items: Vec<String> = client
                .query(
                    "SELECT item FROM orders WHERE id >= $1 ORDER BY id LIMIT 1",
                    &[&1i32],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            let tenant = user.trim_end_matches("_app");
            assert_eq!(
                items,
                vec![format!("{tenant} item 1")],
                "{user} reads its own first row"
            );
        }
    }
}

#[tokio::test]
async fn transactions_keep_their_backend_and_their_tenant() {
    let env = TestEnv::with(Options {
        pool_size: 2,
        ..Options::default()
    })
    .await;
    let mut acme = env.client("acme_app", "app").await;
    let globex = env.client("globex_app", "app").await;
    let tx = acme.transaction().await.unwrap();
    tx.execute("INSERT INTO orders VALUES (100, 'in tx', 1)", &[])
        .await
        .unwrap();
    let pid: i32 = tx
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    // Another tenant works meanwhile and must neither see the row nor take the connection.
    assert_eq!(
        simple_count(&globex, "SELECT count(*) FROM orders").await,
        4
    );
    let inside: i64 = tx
        .query_one("SELECT count(*) FROM orders", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(inside, 3);
    let same_pid: i32 = tx
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        pid, same_pid,
        "a transaction stays on one backend connection"
    );
    tx.rollback().await.unwrap();
    assert_eq!(simple_count(&acme, "SELECT count(*) FROM orders").await, 2);

    let tx = acme.transaction().await.unwrap();
    tx.execute("INSERT INTO orders VALUES (101, 'committed', 1)", &[])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(simple_count(&acme, "SELECT count(*) FROM orders").await, 3);
    assert_eq!(
        simple_count(&globex, "SELECT count(*) FROM orders").await,
        4
    );
}

/// psql's describe commands read the catalogs with queries of their own (ARRAY(SELECT ...),
/// pg_policy, pg_statistic_ext, format functions): they work for schema and row tenants.
#[tokio::test]
async fn psql_describes_the_tenants_tables() {
    let env = TestEnv::start().await;
    for (user, db) in [("acme_app", "app"), ("hooli_app", "saas")] {
        // Unaligned and tuples only: `\d` prints the columns, `\dt` the table's name.
        for (command, expected) in [
            ("\\d orders", "id|integer"),
            ("\\d+ orders", "id|integer"),
            ("\\dt", "orders"),
            ("\\di", "orders_"),
            ("\\dp orders", "orders"),
        ] {
            let out = env.psql(user, db, command).await;
            assert!(
                out.status.success() && stdout(&out).contains(expected),
                "{user}: {command}: {}{}",
                stdout(&out),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[tokio::test]
async fn psql_sees_the_tenant_of_each_login() {
    let env = TestEnv::with(Options {
        pool_size: 1,
        ..Options::default()
    })
    .await;
    for (user, db, expected) in TENANTS {
        let out = env.psql(user, db, "SELECT count(*) FROM orders").await;
        assert_eq!(stdout(&out), expected.to_string(), "{user}");
    }
    // `user.tenant` picks a tenant for a user allowed several; the database name may too.
    assert_eq!(
        stdout(
            &env.psql("ops.globex", "app", "SELECT count(*) FROM orders")
                .await
        ),
        "4"
    );
    assert_eq!(
        stdout(
            &env.psql("ops", "umbrella", "SELECT count(*) FROM orders")
                .await
        ),
        "6"
    );
    let out = env
        .psql(
            "acme_app",
            "app",
            "BEGIN; SELECT count(*) FROM orders; COMMIT;",
        )
        .await;
    assert!(stdout(&out).contains('2'));
}

/// Statements that must be refused with 42501 for the schema tenant acme.
const ESCAPES: &[&str] = &[
    "SELECT * FROM globex.orders",
    "SELECT * FROM \"globex\".orders",
    "SELECT * FROM GLOBEX . orders",
    "SELECT * FROM app.globex.orders",
    "SELECT * FROM orders o JOIN globex.orders g USING (id)",
    "WITH g AS (SELECT * FROM globex.orders) SELECT * FROM g",
    "SELECT * FROM orders UNION ALL SELECT * FROM globex.orders",
    "INSERT INTO globex.orders VALUES (99, 'x', 1)",
    "UPDATE globex.orders SET item = 'x'",
    "DELETE FROM globex.orders",
    "TRUNCATE globex.orders",
    "COPY globex.orders TO STDOUT",
    "SELECT nextval('globex.orders_id_seq')",
    "SET search_path = globex",
    "SET search_path TO globex, public",
    "SET LOCAL search_path = globex",
    "SeT/**/SeArCh_PaTh = globex",
    "RESET search_path",
    // RESET ALL is neutralised (session_settings.rs), but not what follows it in the text.
    "RESET ALL; SET search_path = globex",
    "RESET ALL; RESET ALL",
    // DISCARD ALL alone is followed by the tenant's setup (session_settings.rs); with
    // anything after it, that would run unconfined.
    "DISCARD ALL; SELECT * FROM orders",
    "SELECT 1; DISCARD ALL",
    "SET ROLE postgres",
    "RESET ROLE; SET ROLE postgres",
    "SET SESSION AUTHORIZATION postgres",
    "SELECT set_config('search_path', 'globex', false)",
    "SELECT 1; SET search_path = globex",
    "DROP SCHEMA globex CASCADE",
    "ALTER TABLE orders SET SCHEMA globex",
    "CREATE FUNCTION spy() RETURNS bigint SET search_path = globex LANGUAGE sql AS 'SELECT count(*) FROM orders'",
    "DO $$BEGIN EXECUTE 'SELECT * FROM glo' || 'bex.orders'; END$$",
    "SELECT query FROM pg_stat_activity",
    "SELECT pg_read_file('/etc/passwd')",
    "COPY orders TO PROGRAM 'cat'",
    "DROP OWNED BY tenantgate",
    "CREATE ROLE evil SUPERUSER",
    "LISTEN orders_changed",
    "SELECT pg_notify('orders_changed', 'x')",
    "SELECT * FROM pg_temp.spy",
];

#[tokio::test]
async fn escape_attempts_are_refused_and_the_session_goes_on() {
    let env = TestEnv::with(Options {
        pool_size: 1,
        ..Options::default()
    })
    .await;
    let acme = env.client("acme_app", "app").await;
    for sql in ESCAPES {
        let simple = acme.simple_query(sql).await.expect_err(sql);
        assert_eq!(
            sqlstate(&simple),
            "42501",
            "simple protocol: {sql}: {simple}"
        );
        if !sql.contains(';') {
            let extended = acme.execute(*sql, &[]).await.expect_err(sql);
            assert_eq!(
                sqlstate(&extended),
                "42501",
                "extended protocol: {sql}: {extended}"
            );
        }
        assert_eq!(
            simple_count(&acme, "SELECT count(*) FROM orders").await,
            2,
            "after {sql}"
        );
    }
    // Nothing leaked into the connection the other tenant uses next.
    let globex = env.client("globex_app", "app").await;
    assert_eq!(
        simple_count(&globex, "SELECT count(*) FROM orders").await,
        4
    );
    let path: String = globex
        .query_one("SHOW search_path", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(path, "globex");
}

#[tokio::test]
async fn a_refusal_inside_a_transaction_aborts_it_like_a_failing_statement() {
    let env = TestEnv::start().await;
    let mut acme = env.client("acme_app", "app").await;
    let tx = acme.transaction().await.unwrap();
    tx.execute("INSERT INTO orders VALUES (50, 'doomed', 1)", &[])
        .await
        .unwrap();
    let refused = tx
        .simple_query("SELECT * FROM globex.orders")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&refused), "42501");
    let aborted = tx.query("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(sqlstate(&aborted), "25P02", "the transaction is aborted");
    // COMMIT of an aborted transaction rolls back, as in Postgres.
    let _ = tx.commit().await;
    assert_eq!(simple_count(&acme, "SELECT count(*) FROM orders").await, 2);

    // In a pipeline, the refused statement fails and the ones before it still run.
    let ok = acme.query_one("SELECT count(*) FROM orders", &[]);
    let bad = acme.query("SELECT * FROM globex.orders", &[]);
    let (ok, bad) = tokio::join!(ok, bad);
    assert_eq!(ok.unwrap().get::<_, i64>(0), 2);
    assert_eq!(sqlstate(&bad.unwrap_err()), "42501");
    assert_eq!(simple_count(&acme, "SELECT count(*) FROM orders").await, 2);
}

#[tokio::test]
async fn database_tenants_are_routed_to_their_own_database() {
    let env = TestEnv::start().await;
    let initech = env.client("initech_app", "initech").await;
    let db: String = initech
        .query_one("SELECT current_database()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(db, "initech");
    // A database tenant may use any schema of its own database, but no other database.
    initech
        .batch_execute("CREATE SCHEMA reports; CREATE TABLE reports.daily (d date)")
        .await
        .unwrap();
    initech
        .execute("INSERT INTO reports.daily VALUES (current_date)", &[])
        .await
        .unwrap();
    let err = initech
        .simple_query("CREATE DATABASE stolen")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42501");
    let umbrella = env.client("umbrella_app", "umbrella").await;
    let err = umbrella
        .simple_query("SELECT * FROM reports.daily")
        .await
        .unwrap_err();
    assert_eq!(
        sqlstate(&err),
        "42P01",
        "initech's schema does not exist in umbrella's database"
    );
}

#[tokio::test]
async fn session_state_never_crosses_to_another_tenant() {
    let env = TestEnv::with(Options {
        pool_size: 1,
        ..Options::default()
    })
    .await;
    let acme = env.client("acme_app", "app").await;
    // What would outlive the transaction on a shared connection needs session pooling.
    for sql in [
        "CREATE TEMP TABLE spy AS SELECT * FROM orders",
        "PREPARE leak AS SELECT count(*) FROM acme.orders",
        "DECLARE held CURSOR WITH HOLD FOR SELECT * FROM orders",
        "SELECT pg_advisory_lock(42)",
    ] {
        let err = acme.simple_query(sql).await.unwrap_err();
        assert_eq!(sqlstate(&err), "0A000", "{sql}: {err}");
        let message = err
            .as_db_error()
            .map(|e| e.message().to_owned())
            .unwrap_or_default();
        assert!(message.contains("pool_mode"), "{message}");
    }
    // Settings a client may change do not follow the connection to another tenant.
    acme.batch_execute("SET statement_timeout = 1234; SET application_name = 'acme-app'")
        .await
        .unwrap();
    let globex = env.client("globex_app", "app").await;
    let timeout: String = globex
        .query_one("SHOW statement_timeout", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(timeout, "0");
}

#[tokio::test]
async fn session_pooling_keeps_one_backend_per_client() {
    let env = TestEnv::with(Options {
        pool_mode: "session",
        pool_size: 2,
        ..Options::default()
    })
    .await;
    let acme = env.client("acme_app", "app").await;
    acme.batch_execute("CREATE TEMP TABLE scratch (x int); INSERT INTO scratch VALUES (1)")
        .await
        .unwrap();
    let globex = env.client("globex_app", "app").await;
    assert_eq!(
        simple_count(&globex, "SELECT count(*) FROM orders").await,
        4
    );
    assert_eq!(
        simple_count(&acme, "SELECT count(*) FROM scratch").await,
        1,
        "session state survives between transactions"
    );
    drop(acme);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // The connection acme used is reset before the next client gets it.
    let next = env.client("globex_app", "app").await;
    let err = next
        .simple_query("SELECT * FROM scratch")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42P01");
}
