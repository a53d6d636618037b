//! Bad input gets a clear error with the right SQLSTATE, and the proxy keeps serving
//! everyone else.

mod support;

use std::time::Duration;

use support::{Options, TestEnv, orders, sqlstate};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn assert_still_serving(env: &TestEnv) {
    let client = env.client("globex_app", "app").await;
    let n = orders(&client).await;
    assert_eq!(n, 4);
}

#[tokio::test]
async fn logins_fail_with_the_right_sqlstate() {
    let env = TestEnv::start().await;
    let mut wrong_password = env.config("acme_app", "app");
    wrong_password.password("wrong");
    let cases = [
        (wrong_password, "28P01"),
        (env.config("nobody", "app"), "28P01"),
        // acme_app may only use acme.
        (env.config("acme_app.globex", "app"), "28000"),
        (env.config("acme_app", "nosuchdb"), "3D000"),
        // a database that names a tenant the user may not use
        (env.config("acme_app", "globex"), "28000"),
    ];
    for (config, expected) in cases {
        let err = env
            .try_client(config.clone())
            .await
            .expect_err("login must fail");
        assert_eq!(sqlstate(&err), expected, "{config:?}: {err}");
    }
    assert_still_serving(&env).await;
}

#[tokio::test]
async fn startup_options_cannot_unpin_the_tenant() {
    let env = TestEnv::start().await;
    for options in [
        "-c search_path=globex",
        "-c role=postgres",
        "--search-path=globex",
        "-c tenantgate.tenant_id=globex",
    ] {
        let mut config = env.config("acme_app", "app");
        config.options(options);
        let err = env.try_client(config).await.expect_err(options);
        assert_eq!(sqlstate(&err), "42501", "{options}: {err}");
    }
    // Harmless options are accepted.
    let mut config = env.config("acme_app", "app");
    config.options("-c geqo=off").application_name("billing");
    let client = env.try_client(config).await.unwrap();
    let n = orders(&client).await;
    assert_eq!(n, 2);
}

#[tokio::test]
async fn oversized_and_malformed_messages_end_only_that_session() {
    let env = TestEnv::with(Options {
        proxy: "max_message_size = 4096",
        ..Options::default()
    })
    .await;
    let client = env.client("acme_app", "app").await;
    let big = format!("SELECT '{}'", "x".repeat(8000));
    let err = client.simple_query(&big).await.unwrap_err();
    assert_eq!(sqlstate(&err), "54000", "{err}");
    assert!(client.is_closed() || client.simple_query("SELECT 1").await.is_err());

    // Garbage instead of a startup packet.
    let mut raw = TcpStream::connect(env.addr()).await.unwrap();
    raw.write_all(&[0, 0, 0, 12, 1, 2, 3, 4, 5, 6, 7, 8])
        .await
        .unwrap();
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), raw.read_to_end(&mut reply))
        .await
        .expect("closed");
    assert_eq!(
        reply.first(),
        Some(&b'E'),
        "an ErrorResponse, then close: {reply:?}"
    );

    assert_still_serving(&env).await;
}

#[tokio::test]
async fn clients_that_never_finish_startup_are_dropped() {
    let env = TestEnv::with(Options {
        proxy: "startup_timeout = \"300ms\"",
        ..Options::default()
    })
    .await;
    let mut idle = TcpStream::connect(env.addr()).await.unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut buf))
        .await
        .expect("the proxy hangs up");
    assert_eq!(n.unwrap_or(0), 0);
    assert_still_serving(&env).await;
}

#[tokio::test]
async fn a_client_gone_mid_transaction_leaves_no_trace() {
    let env = TestEnv::with(Options {
        pool_size: 1,
        ..Options::default()
    })
    .await;
    {
        let mut doomed = env.client("acme_app", "app").await;
        let tx = doomed.transaction().await.unwrap();
        tx.execute("UPDATE orders SET item = 'half-done' WHERE id = 1", &[])
            .await
            .unwrap();
        std::mem::forget(tx); // no ROLLBACK is sent: the client just goes away
    }
    // With a pool of one, the next client gets a connection only once the first is gone;
    // the row lock must be gone with it and the update rolled back.
    let next = env.client("acme_app", "app").await;
    let item: String = tokio::time::timeout(
        Duration::from_secs(10),
        next.query_one(
            "SELECT item FROM orders WHERE id = 1 FOR UPDATE NOWAIT",
            &[],
        ),
    )
    .await
    .expect("no lock left behind")
    .unwrap()
    .get(0);
    assert_eq!(item, "acme item 1");
}

#[tokio::test]
async fn a_backend_that_goes_away_is_an_error_not_a_crash() {
    let mut env = TestEnv::start().await;
    let client = env.client("acme_app", "app").await;
    client.simple_query("SELECT 1").await.unwrap();
    env.cluster.kill();
    let err = client
        .simple_query("SELECT count(*) FROM orders")
        .await
        .unwrap_err();
    let state = sqlstate(&err);
    assert!(
        // 08006 from the proxy, or the orphaned server process's own 57P01/57P02 on its way out
        ["08006", "57P01", "57P02", "57P03"].contains(&state.as_str())
            || state.starts_with("no SQLSTATE"),
        "{state}: {err}"
    );
    // New logins still get in (authentication is the proxy's), and their statements get a
    // clear error; the proxy itself keeps running.
    let other = env.client("globex_app", "app").await;
    let err = other.simple_query("SELECT 1").await.unwrap_err();
    assert_eq!(sqlstate(&err), "08006", "{err}");
    let err = other.simple_query("SELECT 1").await.unwrap_err();
    assert_eq!(sqlstate(&err), "08006", "the session survives: {err}");
}
