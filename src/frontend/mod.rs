//! The frontend session: everything between one client socket and the pool.
//!
//! [`startup`] authenticates and resolves the tenant; [`relay`] then runs the message loop,
//! with [`inbound`] translating client frames (each SQL text through [`admission`]: the
//! tenant's isolation policy and plan), [`outbound`]
//! streaming backend responses, and [`tracker`] pairing the two. [`cancel`] routes
//! CancelRequests to the one backend a session holds; [`throttle`] holds a tenant to its
//! plan's rate.

mod admission;
mod auth;
mod cancel;
mod inbound;
mod outbound;
mod prepared;
mod relay;
mod settings;
mod startup;
mod throttle;
mod tracker;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tracing::Instrument;

pub use auth::{Credentials, mechanisms};
pub use cancel::CancelRegistry;
pub use prepared::Registry as StatementRegistry;

use crate::error::ClientError;
use crate::shared::Shared;
use startup::Opening;

/// Serves one client connection from its first byte to its last.
pub async fn serve_client<S>(stream: S, peer: SocketAddr, shared: Arc<Shared>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static,
{
    let timeout = shared.config.proxy.startup_timeout;
    let opening =
        match tokio::time::timeout(timeout, startup::handshake(stream, peer, &shared)).await {
            Err(_) => {
                tracing::info!(%peer, "client did not finish startup within {timeout:?}");
                return;
            }
            Ok(Err(ClientError::ClientGone)) => return,
            Ok(Err(e)) => {
                tracing::info!(%peer, error = %e, "login refused");
                return;
            }
            Ok(Ok(opening)) => opening,
        };
    let login = match opening {
        Opening::Cancel { pid, secret } => {
            shared.cancels.cancel(pid, &secret).await;
            return;
        }
        Opening::Session(login) => login,
    };
    let span = tracing::info_span!("session", pid = login.pid, %peer, user = %login.user, tenant = %login.tenant.id);
    async move {
        tracing::debug!("logged in");
        let cancel = shared.cancels.register(login.pid, login.secret.to_vec());
        let relay = relay::Relay::new(
            login.stream,
            login.leftover,
            login.tenant,
            shared.config.proxy.max_message_size,
            cancel,
            shared.statements.clone(),
            login.settings,
        );
        match relay.run().await {
            Ok(()) | Err(ClientError::ClientGone) => tracing::debug!("session ended"),
            Err(e) => tracing::warn!(error = %e, "session ended with an error"),
        }
        drop(login.slot);
    }
    .instrument(span)
    .await;
}
