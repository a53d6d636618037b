//! LISTEN/NOTIFY needs a server session of its own: in session pooling notifications reach
//! the listening client; in transaction pooling LISTEN is refused with a clear error.

mod support;

use std::time::Duration;

use futures::StreamExt;
use support::{Options, TestEnv, sqlstate};
use tokio_postgres::AsyncMessage;

#[tokio::test]
async fn notifications_reach_their_listener_in_session_pooling() {
    let env = TestEnv::with(Options {
        pool_mode: "session",
        ..Options::default()
    })
    .await;
    let (listener, mut connection) = env
        .config("initech_app", "initech")
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notification(n) = message {
                let _ = tx.send((n.channel().to_owned(), n.payload().to_owned()));
            }
        }
    });
    listener
        .batch_execute("LISTEN orders_changed")
        .await
        .unwrap();
    let notifier = env.client("initech_app", "initech").await;
    notifier
        .batch_execute("NOTIFY orders_changed, 'order 7'")
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("the notification arrives")
        .unwrap();
    assert_eq!(got, ("orders_changed".to_owned(), "order 7".to_owned()));
}

#[tokio::test]
async fn listen_needs_session_pooling() {
    let env = TestEnv::start().await;
    let client = env.client("initech_app", "initech").await;
    let err = client
        .batch_execute("LISTEN orders_changed")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "0A000");
    let message = err.as_db_error().unwrap().message();
    assert!(message.contains("pool_mode = \"session\""), "{message}");
}
