//! The accept loop: caps client connections and runs one session task per socket.

use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::ClientError;
use crate::frontend::serve_client;
use crate::shared::Shared;

/// Accepts clients until `shutdown` is cancelled; sessions are spawned on `sessions`, and
/// end when `shutdown` is cancelled.
pub async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    sessions: TaskTracker,
    shutdown: CancellationToken,
) {
    let cap = Arc::new(Semaphore::new(
        shared.config.proxy.max_client_connections as usize,
    ));
    loop {
        let (mut socket, peer) = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = socket.set_nodelay(true);
        let Ok(permit) = cap.clone().try_acquire_owned() else {
            sessions.spawn(async move {
                let mut out = BytesMut::new();
                ClientError::TooManyConnections("tenantgate".into()).write(&mut out);
                let _ = socket.write_all(&out).await;
            });
            continue;
        };
        let shared = shared.clone();
        let shutdown = shutdown.clone();
        sessions.spawn(async move {
            tokio::select! {
                _ = serve_client(socket, peer, shared) => {}
                _ = shutdown.cancelled() => {}
            }
            drop(permit);
        });
    }
}
