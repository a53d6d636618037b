//! Raw connections to Postgres: startup and authentication as the proxy's role.
//!
//! After login a [`Connection`] is only a socket and a read buffer; the relay moves bytes
//! through it without decoding rows.

mod startup;
pub mod stream;

use std::collections::{BTreeMap, HashSet};

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;

pub use startup::connect;
pub use stream::{Endpoint, ServerStream};

/// Where and as whom to log in.
#[derive(Debug, Clone)]
pub struct Target {
    pub endpoint: Endpoint,
    pub user: String,
    pub password: crate::config::Secret,
    pub database: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("cannot reach the database server: {0}")]
    Io(#[from] std::io::Error),
    #[error("the database server refused the proxy's login: {message}")]
    Refused { code: String, message: String },
    #[error("the database server sent an unexpected message during login: {0}")]
    Protocol(String),
    #[error("the database server did not answer within {0:?}")]
    Timeout(std::time::Duration),
}

/// A logged-in backend connection.
#[derive(Debug)]
pub struct Connection {
    pub stream: ServerStream,
    /// Bytes read from the server and not yet handled; empty between transactions.
    pub read_buf: BytesMut,
    pub cancel_key: CancelKey,
    /// ParameterStatus values the server reported at login.
    pub params: Vec<(String, String)>,
    /// The tenant context this connection was last set up for (see `pool::context`).
    pub context: Option<u64>,
    /// A client left session state behind (session pooling): discard it before reuse.
    pub needs_discard: bool,
    /// Ids of the pooled named statements prepared on this connection.
    pub prepared: HashSet<u64>,
    /// Settings Postgres does not report that clients set here: name → SQL value.
    pub unreported: BTreeMap<String, String>,
}

/// What a CancelRequest for this connection must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelKey {
    pub endpoint: Endpoint,
    pub pid: i32,
    pub secret: i32,
}

impl CancelKey {
    /// Asks the server to cancel whatever this connection runs now. Best effort: errors are
    /// only logged, as Postgres itself never answers a cancel.
    pub async fn cancel(self) {
        let mut buf = BytesMut::with_capacity(16);
        postgres_protocol::message::frontend::cancel_request(self.pid, self.secret, &mut buf);
        match self.endpoint.connect().await {
            Ok(mut s) => {
                if let Err(e) = s.write_all(&buf).await {
                    tracing::debug!(error = %e, "sending cancel request failed");
                }
            }
            Err(e) => tracing::debug!(error = %e, "connecting for cancel request failed"),
        }
    }
}
