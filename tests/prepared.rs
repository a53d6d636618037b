//! Named prepared statements work in transaction pooling: clients' names never collide on
//! shared backend connections, a statement follows its client to whatever connection it gets,
//! and a client can only execute statements it prepared itself.

mod support;

use support::{Options, TestEnv, show, sqlstate, stdout};

#[tokio::test]
async fn pgbench_prepared_runs_with_fewer_connections_than_clients() {
    let env = TestEnv::with(Options {
        pool_size: 4,
        ..Options::default()
    })
    .await;
    let init = env
        .pgbench("initech_app", "initech", &["-i", "-s", "1", "-q"])
        .await;
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    for workload in [&["-S"][..], &[][..]] {
        let mut args = vec!["-n", "-c", "16", "-j", "2", "-T", "4", "-M", "prepared"];
        args.extend_from_slice(workload);
        let report = stdout(&env.pgbench("initech_app", "initech", &args).await);
        assert!(
            report.contains("number of failed transactions: 0 "),
            "{workload:?}:\n{report}"
        );
    }
}

#[tokio::test]
async fn statements_follow_their_client_across_connections_and_tenants() {
    let env = TestEnv::with(Options {
        pool_size: 1,
        ..Options::default()
    })
    .await;
    let acme = env.client("acme_app", "app").await;
    let acme2 = env.client("acme_app", "app").await;
    let globex = env.client("globex_app", "app").await;
    // Same text, same client-side names (tokio-postgres numbers them per client).
    let sql = "SELECT count(*) FROM orders WHERE id > $1";
    let a = acme.prepare(sql).await.unwrap();
    let a2 = acme2.prepare(sql).await.unwrap();
    let g = globex.prepare(sql).await.unwrap();
    for round in 0..3 {
        let n: i64 = acme.query_one(&a, &[&0i32]).await.unwrap().get(0);
        assert_eq!(n, 2, "acme, round {round}");
        let n: i64 = globex.query_one(&g, &[&0i32]).await.unwrap().get(0);
        assert_eq!(n, 4, "globex, round {round}");
        let n: i64 = acme2.query_one(&a2, &[&1i32]).await.unwrap().get(0);
        assert_eq!(n, 1, "second acme client, round {round}");
    }
    // Closing one client's statement leaves the other's working.
    drop(a);
    let n: i64 = acme2.query_one(&a2, &[&0i32]).await.unwrap().get(0);
    assert_eq!(n, 2);
    // Binary parameters and results, and a transaction over several statements.
    let mut acme2 = acme2;
    let tx = acme2.transaction().await.unwrap();
    let insert = tx
        .prepare("INSERT INTO orders VALUES ($1, $2, $3::int) RETURNING id")
        .await
        .unwrap();
    let id: i32 = tx
        .query_one(&insert, &[&7i32, &"binary", &3i32])
        .await
        .unwrap()
        .get(0);
    assert_eq!(id, 7);
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn a_failed_pipeline_does_not_lose_later_statements() {
    let env = TestEnv::with(Options {
        pool_size: 1,
        ..Options::default()
    })
    .await;
    let acme = env.client("acme_app", "app").await;
    // The statement is prepared in the same pipeline as a failing one: Postgres skips it,
    // and the proxy must notice that the connection does not have it.
    let failing = acme.query("SELECT 1/0", &[]);
    let later = acme.prepare("SELECT count(*) FROM orders");
    let (failing, later) = tokio::join!(failing, later);
    assert_eq!(sqlstate(&failing.unwrap_err()), "22012");
    let statement = match later {
        Ok(s) => s,
        Err(_) => acme.prepare("SELECT count(*) FROM orders").await.unwrap(),
    };
    let n: i64 = acme.query_one(&statement, &[]).await.unwrap().get(0);
    assert_eq!(n, 2);
    // The pooled names are out of reach of SQL-level EXECUTE.
    let err = acme
        .simple_query("EXECUTE tenantgate_s1")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42501");
}

#[tokio::test]
async fn session_settings_follow_their_client_across_connections() {
    let env = TestEnv::with(Options {
        pool_size: 1,
        ..Options::default()
    })
    .await;
    let a = env.client("acme_app", "app").await;
    let b = env.client("acme_app", "app").await;
    let (zone, style) = (show(&b, "TimeZone").await, show(&b, "DateStyle").await);
    a.batch_execute(
        "SET TimeZone = 'Asia/Tokyo'; SET application_name = 'billing'; SET DateStyle = 'SQL, DMY'",
    )
    .await
    .unwrap();
    for _ in 0..2 {
        // b shares a's only server connection but keeps its own settings, and a keeps a's.
        assert_eq!(show(&b, "TimeZone").await, zone);
        assert_eq!(show(&b, "application_name").await, "");
        assert_eq!(show(&b, "DateStyle").await, style);
        assert_eq!(show(&a, "TimeZone").await, "Asia/Tokyo");
        assert_eq!(show(&a, "application_name").await, "billing");
        assert_eq!(show(&a, "DateStyle").await, "SQL, DMY");
    }
}
