//! Cancel requests reach only the query of the client that sent them; COPY streams both ways.

mod support;

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt, pin_mut};
use support::{Options, TestEnv, orders, sqlstate};

#[tokio::test]
async fn a_cancel_ends_only_its_own_clients_query() {
    cancel_isolation(false).await;
}

/// With the server reached through its socket, cancels take that way too.
#[tokio::test]
async fn a_cancel_ends_only_its_own_clients_query_over_a_unix_socket() {
    cancel_isolation(true).await;
}

async fn cancel_isolation(unix_socket: bool) {
    let env = TestEnv::with(Options {
        pool_size: 4,
        unix_socket,
        ..Options::default()
    })
    .await;
    let acme = env.client("acme_app", "app").await;
    // inet_client_addr() is NULL for a Unix-domain connection.
    let row = acme
        .query_one("SELECT inet_client_addr() IS NULL", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, bool>(0), unix_socket, "the backend transport");
    let globex = env.client("globex_app", "app").await;
    let acme_cancel = acme.cancel_token();
    let started = Instant::now();
    let acme_sleep = acme.simple_query("SELECT pg_sleep(5)");
    let globex_sleep = globex.simple_query("SELECT pg_sleep(1.5)");
    let cancel = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        acme_cancel
            .cancel_query(tokio_postgres::NoTls)
            .await
            .unwrap();
    };
    let (acme_result, globex_result, ()) = tokio::join!(acme_sleep, globex_sleep, cancel);
    assert_eq!(
        sqlstate(&acme_result.unwrap_err()),
        "57014",
        "acme's query was cancelled"
    );
    assert!(
        globex_result.is_ok(),
        "globex's query ran to its end: {globex_result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    // The cancelled session goes on.
    let n = orders(&acme).await;
    assert_eq!(n, 2);
}

#[tokio::test]
async fn a_cancel_while_idle_hits_nobody() {
    let env = TestEnv::with(Options {
        pool_size: 1,
        ..Options::default()
    })
    .await;
    let acme = env.client("acme_app", "app").await;
    let globex = env.client("globex_app", "app").await;
    acme.simple_query("SELECT 1").await.unwrap();
    // acme holds no backend now; its cancel must not reach globex's query on the same one.
    let run = globex.simple_query("SELECT pg_sleep(1)");
    let cancel = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        acme.cancel_token()
            .cancel_query(tokio_postgres::NoTls)
            .await
            .unwrap();
    };
    let (result, ()) = tokio::join!(run, cancel);
    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn copy_in_and_out_in_text_csv_and_binary() {
    let env = TestEnv::start().await;
    let acme = env.client("acme_app", "app").await;
    let sink = acme
        .copy_in("COPY orders (id, item, amount) FROM STDIN WITH (FORMAT csv)")
        .await
        .unwrap();
    pin_mut!(sink);
    let rows: String = (10..1010)
        .map(|i| format!("{i},copied {i},{i}.25\n"))
        .collect();
    sink.send(bytes::Bytes::from(rows)).await.unwrap();
    assert_eq!(sink.finish().await.unwrap(), 1000);

    for format in ["text", "csv", "binary"] {
        let stream = acme
            .copy_out(&format!("COPY orders TO STDOUT WITH (FORMAT {format})"))
            .await
            .unwrap();
        pin_mut!(stream);
        let mut bytes = 0;
        while let Some(chunk) = stream.next().await {
            bytes += chunk.unwrap().len();
        }
        assert!(bytes > 20_000, "{format}: {bytes} bytes");
    }
    // globex did not get acme's rows.
    let globex = env.client("globex_app", "app").await;
    let n = orders(&globex).await;
    assert_eq!(n, 4);
}
