//! A plan's limits on its tenants: `queries_per_second` and `max_client_connections` (acme is
//! on the plan, globex is not).

mod support;

use std::time::{Duration, Instant};

use support::{Options, TestEnv, sqlstate};

async fn run_statements(client: &tokio_postgres::Client, n: usize) -> Duration {
    let start = Instant::now();
    for i in 0..n {
        client
            .simple_query(&format!("SELECT {i}"))
            .await
            .unwrap_or_else(|e| panic!("statement {i}: {e}"));
    }
    start.elapsed()
}

#[tokio::test]
async fn queries_per_second_slows_the_tenant_down_and_no_one_else() {
    let env = TestEnv::with(Options {
        acme_plan: "queries_per_second = 20",
        ..Options::default()
    })
    .await;
    let acme = env.client("acme_app", "app").await;
    let acme_too = env.client("acme_app", "app").await;
    let globex = env.client("globex_app", "app").await;
    // A second's worth goes at once; 40 more at 20 per second take 2 s, spread over two
    // clients or not, extended protocol (each Execute) included.
    let (a, b) = tokio::join!(run_statements(&acme, 40), async {
        let start = Instant::now();
        for i in 0..20i32 {
            let row = acme_too.query_one("SELECT $1::int", &[&i]).await.unwrap();
            assert_eq!(row.get::<_, i32>(0), i);
        }
        start.elapsed()
    });
    let slowest = a.max(b);
    assert!(
        slowest >= Duration::from_millis(1800),
        "60 statements in {slowest:?}"
    );
    let other = run_statements(&globex, 60).await;
    assert!(other < slowest, "globex took {other:?}, acme {slowest:?}");
}

#[tokio::test]
async fn max_client_connections_refuses_the_client_beyond_it() {
    let env = TestEnv::with(Options {
        acme_plan: "max_client_connections = 2",
        ..Options::default()
    })
    .await;
    let first = env.client("acme_app", "app").await;
    let second = env.client("acme_app", "app").await;
    let Err(err) = env.try_client(env.config("acme_app", "app")).await else {
        panic!("a third acme client is refused");
    };
    assert_eq!(sqlstate(&err), "53300");
    // Other tenants are not counted, and a client that leaves makes room.
    env.client("globex_app", "app").await;
    drop(first);
    let mut third = None;
    for _ in 0..50 {
        if let Ok(c) = env.try_client(env.config("acme_app", "app")).await {
            third = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let third = third.expect("a place is free once a client left");
    assert_eq!(support::show(&third, "server_version_num").await.len(), 6);
    second.simple_query("SELECT 1").await.unwrap();
}
