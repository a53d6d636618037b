//! The deadpool manager that opens and vets raw backend connections.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use deadpool::managed::{Metrics, RecycleError, RecycleResult};

use crate::backend::{self, BackendError, Connection, Target};

#[derive(Debug)]
pub struct Manager {
    pub target: Target,
    pub connect_timeout: Duration,
    /// ParameterStatus values of the first connection, reported to clients at login.
    pub server_params: Arc<OnceLock<Vec<(String, String)>>>,
}

impl deadpool::managed::Manager for Manager {
    type Type = Connection;
    type Error = BackendError;

    async fn create(&self) -> Result<Connection, BackendError> {
        let conn = tokio::time::timeout(self.connect_timeout, backend::connect(&self.target))
            .await
            .map_err(|_| BackendError::Timeout(self.connect_timeout))??;
        let _ = self.server_params.set(conn.params.clone());
        Ok(conn)
    }

    /// Connections come back to the pool only between transactions with nothing unread, so
    /// the one thing to vet here is that the server has not closed or written to them since.
    async fn recycle(&self, conn: &mut Connection, _: &Metrics) -> RecycleResult<BackendError> {
        if !conn.read_buf.is_empty() {
            return Err(RecycleError::message("unread bytes from the server"));
        }
        let mut probe = [0u8; 1];
        match backend::stream::try_read(&conn.stream, &mut probe) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(()),
            Ok(0) => Err(RecycleError::message("closed by the server")),
            Ok(_) => Err(RecycleError::message(
                "unexpected message from an idle server connection",
            )),
            Err(e) => Err(RecycleError::Backend(e.into())),
        }
    }
}
