//! Session settings under transaction pooling: a client keeps what it SETs across server
//! connections, other clients never see it, and a plan's statement_timeout holds.

mod support;

use std::time::Duration;

use support::{Options, TestEnv, show, sqlstate};

fn one_connection(acme_plan: &'static str) -> Options {
    Options {
        pool_size: 1,
        acme_plan,
        ..Options::default()
    }
}

#[tokio::test]
async fn unreported_settings_follow_their_client_only() {
    let env = TestEnv::with(one_connection("")).await;
    let a = env.client("acme_app", "app").await;
    let b = env.client("acme_app", "app").await;
    let g = env.client("globex_app", "app").await;
    let default_lock = show(&b, "lock_timeout").await;
    a.simple_query("SET lock_timeout = '4s'").await.unwrap();
    a.simple_query("SET SESSION extra_float_digits TO 1")
        .await
        .unwrap();
    for _ in 0..2 {
        // All three share one server connection; each sees its own values.
        assert_eq!(show(&b, "lock_timeout").await, default_lock);
        assert_eq!(show(&g, "lock_timeout").await, default_lock);
        assert_eq!(show(&a, "lock_timeout").await, "4s");
        assert_eq!(show(&a, "extra_float_digits").await, "1");
    }
    // RESET goes back to the server default, and a failed SET changes nothing.
    a.simple_query("RESET lock_timeout").await.unwrap();
    assert!(a.simple_query("SET lock_timeout = 'soon'").await.is_err());
    assert_eq!(show(&b, "work_mem").await, show(&a, "work_mem").await);
    assert_eq!(show(&a, "lock_timeout").await, default_lock);
}

/// A SET inside a transaction block lasts only if the block commits, as in Postgres; the
/// proxy must not carry a rolled-back value to the client's next connection.
#[tokio::test]
async fn a_set_in_a_rolled_back_block_is_undone() {
    let env = TestEnv::with(one_connection("")).await;
    let a = env.client("acme_app", "app").await;
    let b = env.client("acme_app", "app").await;
    let default_lock = show(&b, "lock_timeout").await;
    let run = |sql: &'static str| a.simple_query(sql);
    run("BEGIN").await.unwrap();
    run("SET lock_timeout = '4s'").await.unwrap();
    assert_eq!(show(&a, "lock_timeout").await, "4s");
    run("ROLLBACK").await.unwrap();
    // b takes the one server connection in between, so a's settings are set up again.
    for client in [&a, &b, &a] {
        assert_eq!(show(client, "lock_timeout").await, default_lock);
    }
    // A failed block rolls back too, whatever ends it.
    run("BEGIN").await.unwrap();
    run("SET lock_timeout = '5s'").await.unwrap();
    assert!(run("SELECT 1/0").await.is_err());
    run("COMMIT").await.unwrap();
    for client in [&a, &b, &a] {
        assert_eq!(show(client, "lock_timeout").await, default_lock);
    }
    // A committed block keeps it, also for the client's next connection.
    run("BEGIN").await.unwrap();
    run("SET lock_timeout = '6s'").await.unwrap();
    run("COMMIT").await.unwrap();
    assert_eq!(show(&b, "lock_timeout").await, default_lock);
    assert_eq!(show(&a, "lock_timeout").await, "6s");
    // After a rollback to a savepoint the proxy cannot tell what held: the server connection
    // is reset before anyone else gets it.
    run("BEGIN").await.unwrap();
    run("SAVEPOINT s").await.unwrap();
    run("SET lock_timeout = '7s'").await.unwrap();
    run("ROLLBACK TO SAVEPOINT s").await.unwrap();
    run("SET work_mem = '9MB'").await.unwrap();
    run("COMMIT").await.unwrap();
    assert_eq!(show(&b, "lock_timeout").await, default_lock);
    assert_ne!(show(&b, "work_mem").await, "9MB");
}

#[tokio::test]
async fn a_set_among_other_statements_is_reset_before_the_next_client() {
    let env = TestEnv::with(one_connection("")).await;
    let a = env.client("acme_app", "app").await;
    let b = env.client("acme_app", "app").await;
    let default_mem = show(&b, "work_mem").await;
    a.batch_execute("SELECT 1; SET work_mem = '7MB'")
        .await
        .unwrap();
    assert_eq!(show(&b, "work_mem").await, default_mem);
}

#[tokio::test]
async fn startup_settings_hold_on_every_connection() {
    let env = TestEnv::with(one_connection("")).await;
    let mut config = env.config("acme_app", "app");
    config.options("-c lock_timeout=3s");
    let (a, conn) = config.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let b = env.client("acme_app", "app").await;
    for _ in 0..2 {
        assert_eq!(show(&a, "lock_timeout").await, "3s");
        assert_ne!(show(&b, "lock_timeout").await, "3s");
    }
}

#[tokio::test]
async fn statement_timeout_is_held_to_the_plan() {
    let env = TestEnv::with(one_connection("statement_timeout = \"2s\"")).await;
    let a = env.client("acme_app", "app").await;
    assert_eq!(show(&a, "statement_timeout").await, "2s");
    // Lower is fine and follows the client; the plan's limit is the most.
    a.simple_query("SET statement_timeout = 500").await.unwrap();
    let b = env.client("acme_app", "app").await;
    assert_eq!(show(&b, "statement_timeout").await, "2s");
    assert_eq!(show(&a, "statement_timeout").await, "500ms");
    let err = a.simple_query("SELECT pg_sleep(1)").await.unwrap_err();
    assert_eq!(sqlstate(&err), "57014");
    for escape in [
        "SET statement_timeout = 0",
        "SET statement_timeout = '1h'",
        "SET LOCAL statement_timeout = '10s'",
        "SELECT 1; SET statement_timeout = 0",
        "SELECT set_config('statement_timeout', '0', false)",
        "DO $$ BEGIN SET statement_timeout = 0; END $$",
        "SET statement_timeout = 'forever'",
    ] {
        let err = a.simple_query(escape).await.unwrap_err();
        assert_eq!(sqlstate(&err), "42501", "{escape}: {err}");
    }
    // RESET returns to the plan's value, not to the server's (no limit).
    a.simple_query("RESET statement_timeout").await.unwrap();
    assert_eq!(show(&a, "statement_timeout").await, "2s");
    a.simple_query("SET statement_timeout TO DEFAULT")
        .await
        .unwrap();
    let err = tokio::time::timeout(
        Duration::from_secs(20),
        a.simple_query("SELECT pg_sleep(5)"),
    )
    .await
    .expect("the plan's timeout ends the query")
    .unwrap_err();
    assert_eq!(sqlstate(&err), "57014");
    // A client asking for more at startup is refused.
    let mut config = env.config("acme_app", "app");
    config.options("-c statement_timeout=0");
    let Err(err) = config.connect(tokio_postgres::NoTls).await else {
        panic!("a statement_timeout above the plan's is refused at startup");
    };
    assert_eq!(sqlstate(&err), "42501");
}

/// What drivers set when they connect (Rails: `SET standard_conforming_strings = on`) is the
/// value the proxy pins: accepted, for schema and row tenants alike; any other is refused.
#[tokio::test]
async fn pinned_settings_may_be_set_to_their_pinned_value() {
    let env = TestEnv::start().await;
    for (user, db) in [("acme_app", "app"), ("hooli_app", "saas")] {
        let c = env.client(user, db).await;
        for sql in [
            "SET standard_conforming_strings = on",
            "SET client_encoding TO 'UTF8'",
            "SET NAMES 'utf8'",
        ] {
            c.simple_query(sql)
                .await
                .unwrap_or_else(|e| panic!("{user}: {sql}: {e}"));
        }
        assert_eq!(show(&c, "standard_conforming_strings").await, "on");
        let err = c
            .simple_query("SET standard_conforming_strings = off")
            .await
            .unwrap_err();
        assert_eq!(sqlstate(&err), "42501", "{user}");
        assert_eq!(show(&c, "standard_conforming_strings").await, "on");
    }
}

/// Tenant acme logged in with `lock_timeout` 3s, under a plan limiting statement_timeout to
/// 2s, then three settings changed: what a pool's reset must undo.
async fn acme_with_changed_settings(env: &TestEnv) -> tokio_postgres::Client {
    let mut config = env.config("acme_app", "app");
    config.options("-c lock_timeout=3s");
    let (a, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    a.simple_query("SET lock_timeout = '5s'").await.unwrap();
    a.simple_query("SET statement_timeout = 500").await.unwrap();
    a.simple_query("SET application_name = 'changed'")
        .await
        .unwrap();
    a
}

/// `RESET ALL` (the end of every pool's reset query) returns the client's settings to what
/// they were at login, as in Postgres, while the tenant's context and the plan's limits
/// stay: the proxy sets them again in the same text, and the client sees only its own
/// statement's answer.
#[tokio::test]
async fn reset_all_returns_to_the_login_settings_and_keeps_the_tenant_confined() {
    let env = TestEnv::with(one_connection("statement_timeout = \"2s\"")).await;
    let a = acme_with_changed_settings(&env).await;
    let g = env.client("globex_app", "app").await;
    let answers = a
        .simple_query("SELECT 1; CLOSE ALL; UNLISTEN *; RESET ALL;")
        .await
        .unwrap();
    let completions = answers
        .iter()
        .filter(|m| matches!(m, tokio_postgres::SimpleQueryMessage::CommandComplete(_)))
        .count();
    assert_eq!(completions, 4, "one answer per statement of the client's");
    for _ in 0..2 {
        assert_eq!(show(&a, "lock_timeout").await, "3s", "the login value");
        assert_eq!(
            show(&a, "statement_timeout").await,
            "2s",
            "the plan's limit"
        );
        assert_eq!(show(&a, "application_name").await, "");
        // Still confined to acme's schema, also after globex took the connection in between.
        let rows = a.simple_query("SELECT count(*) FROM orders").await.unwrap();
        let tokio_postgres::SimpleQueryMessage::Row(row) = &rows[1] else {
            panic!("{rows:?}");
        };
        assert_eq!(row.get(0), Some("2"));
        assert_eq!(show(&g, "lock_timeout").await, "0");
    }
    // Statements after it run with the context set again; a setting changed after it, or
    // RESET ALL in a prepared statement, is refused.
    let rows = a
        .simple_query("RESET ALL; SELECT count(*) FROM orders")
        .await
        .unwrap();
    assert!(
        matches!(rows.as_slice(), [
            tokio_postgres::SimpleQueryMessage::CommandComplete(0),
            tokio_postgres::SimpleQueryMessage::RowDescription(_),
            tokio_postgres::SimpleQueryMessage::Row(row),
            tokio_postgres::SimpleQueryMessage::CommandComplete(1),
        ] if row.get(0) == Some("2")),
        "{rows:?}"
    );
    let err = a
        .simple_query("RESET ALL; SET work_mem = '1MB'")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42501");
    let err = a.prepare("RESET ALL").await.unwrap_err();
    assert_eq!(sqlstate(&err), "42501");
    // Rolled back, it changes nothing.
    a.simple_query("SET lock_timeout = '6s'").await.unwrap();
    a.simple_query("BEGIN").await.unwrap();
    a.simple_query("RESET ALL").await.unwrap();
    a.simple_query("ROLLBACK").await.unwrap();
    assert_eq!(show(&g, "lock_timeout").await, "0");
    assert_eq!(show(&a, "lock_timeout").await, "6s");
}

/// pgjdbc's setTransactionIsolation sends `SET SESSION CHARACTERISTICS AS TRANSACTION
/// ISOLATION LEVEL …` (Spring does before each transaction with an isolation of its own): the
/// level follows the client to its next connections, so its transactions never silently run
/// at another level, and no one else gets it.
#[tokio::test]
async fn the_session_isolation_level_follows_its_client() {
    let env = TestEnv::with(one_connection("")).await;
    let a = env.client("acme_app", "app").await;
    let b = env.client("acme_app", "app").await;
    a.simple_query("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE")
        .await
        .unwrap();
    for _ in 0..2 {
        assert_eq!(show(&b, "transaction_isolation").await, "read committed");
        a.simple_query("BEGIN").await.unwrap();
        assert_eq!(show(&a, "transaction_isolation").await, "serializable");
        a.simple_query("COMMIT").await.unwrap();
    }
}

/// Drivers that send everything with the extended protocol (pgjdbc, tokio-postgres'
/// `execute`) set their settings with Parse/Bind/Execute: the change follows the client once
/// the transaction it ran in commits, as a simple query's does.
#[tokio::test]
async fn an_extended_protocol_set_follows_its_client() {
    let env = TestEnv::with(one_connection("")).await;
    let a = env.client("acme_app", "app").await;
    let b = env.client("acme_app", "app").await;
    let default_lock = show(&b, "lock_timeout").await;
    a.execute("SET lock_timeout = '4s'", &[]).await.unwrap();
    for _ in 0..2 {
        assert_eq!(show(&b, "lock_timeout").await, default_lock);
        assert_eq!(show(&a, "lock_timeout").await, "4s");
    }
    // Rolled back with its block, it is gone, on this connection and the next.
    a.batch_execute("BEGIN").await.unwrap();
    a.execute("SET lock_timeout = '5s'", &[]).await.unwrap();
    a.batch_execute("ROLLBACK").await.unwrap();
    for _ in 0..2 {
        assert_eq!(show(&b, "lock_timeout").await, default_lock);
        assert_eq!(show(&a, "lock_timeout").await, "4s");
    }
}

/// Pools that reset a connection with `DISCARD ALL` (Npgsql on reuse, Rails' `reset!`): the
/// session is reset as in Postgres (settings back to login, prepared statements gone) while
/// the tenant's context and the plan's limits stay, set again by the proxy right after it.
#[tokio::test]
async fn discard_all_resets_the_session_and_keeps_the_tenant_confined() {
    let env = TestEnv::with(one_connection("statement_timeout = \"2s\"")).await;
    let a = acme_with_changed_settings(&env).await;
    let g = env.client("globex_app", "app").await;
    let statement = a.prepare("SELECT count(*) FROM orders").await.unwrap();
    let answers = a.simple_query("DISCARD ALL").await.unwrap();
    assert!(
        matches!(
            answers.as_slice(),
            [tokio_postgres::SimpleQueryMessage::CommandComplete(0)]
        ),
        "only the client's own answer: {answers:?}"
    );
    for _ in 0..2 {
        assert_eq!(show(&a, "lock_timeout").await, "3s", "the login value");
        assert_eq!(
            show(&a, "statement_timeout").await,
            "2s",
            "the plan's limit"
        );
        assert_eq!(show(&a, "application_name").await, "");
        let count: i64 = a
            .query_one("SELECT count(*) FROM orders", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(count, 2, "still confined to acme's schema");
        assert_eq!(show(&g, "lock_timeout").await, "0");
        assert_eq!(show(&g, "search_path").await, "globex");
    }
    let err = a.query(&statement, &[]).await.unwrap_err();
    assert_eq!(
        sqlstate(&err),
        "26000",
        "its prepared statements are gone: {err}"
    );
    // Inside a block Postgres refuses it, and so does the proxy; the block is aborted.
    a.simple_query("BEGIN").await.unwrap();
    let err = a.simple_query("DISCARD ALL").await.unwrap_err();
    assert_eq!(sqlstate(&err), "25001", "{err}");
    let err = a.simple_query("SELECT 1").await.unwrap_err();
    assert_eq!(sqlstate(&err), "25P02", "{err}");
    a.simple_query("ROLLBACK").await.unwrap();
    // With anything else in the text, or prepared, it is refused.
    let err = a.simple_query("DISCARD ALL; SELECT 1").await.unwrap_err();
    assert_eq!(sqlstate(&err), "42501");
    let err = a.prepare("DISCARD ALL").await.unwrap_err();
    assert_eq!(sqlstate(&err), "42501");
    assert_eq!(show(&a, "search_path").await, "acme");
}

/// In session pooling `DISCARD ALL` also ends what a session holds (temporary tables), as in
/// Postgres, and the tenant's context stays.
#[tokio::test]
async fn discard_all_in_session_pooling_drops_the_sessions_state() {
    let env = TestEnv::with(Options {
        pool_mode: "session",
        pool_size: 1,
        ..Options::default()
    })
    .await;
    let a = env.client("acme_app", "app").await;
    a.batch_execute("CREATE TEMP TABLE scratch (x int)")
        .await
        .unwrap();
    a.simple_query("DISCARD ALL").await.unwrap();
    let err = a.simple_query("SELECT * FROM scratch").await.unwrap_err();
    assert_eq!(sqlstate(&err), "42P01", "{err}");
    assert_eq!(show(&a, "search_path").await, "acme");
    let count: i64 = a
        .query_one("SELECT count(*) FROM orders", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 2);
}

/// Npgsql resets a pooled connection that has prepared statements with one text that returns
/// to the login role, resets every setting and drops what the session holds: it runs whole,
/// with the tenant's context set again right after its `RESET ALL`, and the client sees one
/// answer per statement of its own.
#[tokio::test]
async fn npgsqls_reset_text_runs_and_keeps_the_tenant_confined() {
    const RESET: &str = "SET SESSION AUTHORIZATION DEFAULT;RESET ALL;CLOSE ALL;UNLISTEN *;\
        SELECT pg_advisory_unlock_all();DISCARD SEQUENCES;DISCARD TEMP";
    let env = TestEnv::with(one_connection("statement_timeout = \"2s\"")).await;
    let a = env.client("acme_app", "app").await;
    let g = env.client("globex_app", "app").await;
    a.simple_query("SET lock_timeout = '5s'").await.unwrap();
    let statement = a.prepare("SELECT count(*) FROM orders").await.unwrap();
    let answers = a.simple_query(RESET).await.unwrap();
    let completions = answers
        .iter()
        .filter(|m| matches!(m, tokio_postgres::SimpleQueryMessage::CommandComplete(_)))
        .count();
    assert_eq!(completions, 7, "{answers:?}");
    for _ in 0..2 {
        assert_eq!(show(&a, "lock_timeout").await, "0", "reset");
        assert_eq!(
            show(&a, "statement_timeout").await,
            "2s",
            "the plan's limit"
        );
        assert_eq!(show(&a, "search_path").await, "acme");
        let count: i64 = a.query_one(&statement, &[]).await.unwrap().get(0);
        assert_eq!(count, 2, "its prepared statements stay, confined");
        assert_eq!(show(&g, "search_path").await, "globex");
    }
}

/// Prisma, behind a pooler, sends `SET search_path = "<schema>"` when it connects: set to the
/// path the proxy pins for the tenant it changes nothing and is accepted; any other path is
/// refused as before.
#[tokio::test]
async fn setting_the_pinned_search_path_is_accepted() {
    let env = TestEnv::with(Options::default()).await;
    let acme = env.client("acme_app", "app").await;
    acme.simple_query("SET search_path = \"acme\";\n")
        .await
        .unwrap();
    acme.execute("SET search_path TO acme", &[]).await.unwrap();
    for sql in ["SET search_path = public", "SET search_path = acme, globex"] {
        let err = acme.simple_query(sql).await.unwrap_err();
        assert_eq!(sqlstate(&err), "42501", "{sql}");
    }
    assert_eq!(show(&acme, "search_path").await, "acme");
    let hooli = env.client("hooli_app", "saas").await;
    hooli
        .simple_query("SET search_path = \"public\"")
        .await
        .unwrap();
    let err = hooli
        .simple_query("SET search_path = pg_catalog")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42501");
}

/// Prisma sends its URL's schema as `options=-c search_path="<schema>"` when it talks to
/// Postgres directly: the tenant's own path is accepted (it changes nothing), any other is
/// refused at login.
#[tokio::test]
async fn a_startup_search_path_must_be_the_tenants_own() {
    let env = TestEnv::with(Options::default()).await;
    let mut config = env.config("acme_app", "app");
    config.options("-c search_path=\"acme\"");
    let (a, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let count: i64 = a
        .query_one("SELECT count(*) FROM orders", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 2);
    for options in ["-c search_path=globex", "-c search_path=acme,globex"] {
        let mut config = env.config("acme_app", "app");
        config.options(options);
        let Err(err) = config.connect(tokio_postgres::NoTls).await else {
            panic!("{options} was accepted");
        };
        assert_eq!(sqlstate(&err), "42501", "{options}: {err}");
    }
}
