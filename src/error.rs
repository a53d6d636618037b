//! The errors a client can see, and the one place they map to SQLSTATEs.
//!
//! Messages never name another tenant, a backend address or a secret: the client gets the
//! rule it broke, the log gets the details.

use crate::backend::BackendError;
use crate::isolation::{Rule, Violation};
use crate::protocol::{FrameError, Severity, sqlstate};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    // ---- login: FATAL, the session ends
    #[error("password authentication failed for user \"{0}\"")]
    BadPassword(String),
    #[error("{0}")]
    NotAuthorized(String),
    #[error("database \"{0}\" does not exist")]
    UnknownDatabase(String),
    #[error("startup parameter {0} is not allowed: the proxy pins it for the tenant")]
    ForbiddenStartupParameter(String),
    #[error("{0}")]
    UnsupportedStartup(String),
    #[error("too many connections for {0}")]
    TooManyConnections(String),
    #[error("tenantgate is shutting down")]
    ShuttingDown,

    // ---- protocol: FATAL
    #[error("invalid frontend message: {0}")]
    Protocol(String),
    #[error("{0}")]
    Frame(#[from] FrameError),

    // ---- statements: ERROR, the session goes on
    #[error("{0}")]
    Refused(Violation),
    #[error("no server connection became free within {0:?} (pool exhausted)")]
    PoolTimeout(std::time::Duration),
    #[error("{0}")]
    Unsupported(String),

    // ---- backend trouble
    #[error("{0}")]
    Backend(#[from] BackendError),
    #[error("the server connection was lost")]
    BackendLost,
    #[error("the server connection could not be set up for the tenant")]
    ContextSetupFailed,
    /// The client went away; nothing is sent.
    #[error("the client connection was lost")]
    ClientGone,
}

impl ClientError {
    pub fn sqlstate(&self) -> &'static str {
        use ClientError::*;
        match self {
            BadPassword(_) => sqlstate::INVALID_PASSWORD,
            NotAuthorized(_) => sqlstate::INVALID_AUTHORIZATION,
            UnknownDatabase(_) => sqlstate::INVALID_CATALOG_NAME,
            // Features that need session pooling are not forbidden, only unavailable.
            Refused(v) if v.rule == Rule::SessionOnly => sqlstate::FEATURE_NOT_SUPPORTED,
            Refused(v) if v.rule == Rule::TransactionBlock => sqlstate::ACTIVE_SQL_TRANSACTION,
            ForbiddenStartupParameter(_) | Refused(_) => sqlstate::INSUFFICIENT_PRIVILEGE,
            UnsupportedStartup(_) | Unsupported(_) => sqlstate::FEATURE_NOT_SUPPORTED,
            TooManyConnections(_) | PoolTimeout(_) => sqlstate::TOO_MANY_CONNECTIONS,
            ShuttingDown => sqlstate::ADMIN_SHUTDOWN,
            Protocol(_) => sqlstate::PROTOCOL_VIOLATION,
            Frame(FrameError::BadLength(_)) => sqlstate::PROTOCOL_VIOLATION,
            Frame(FrameError::TooLarge { .. }) => sqlstate::PROGRAM_LIMIT_EXCEEDED,
            // A server that is starting up or shutting down says so itself (57P03, 57P01).
            Backend(BackendError::Refused { code, .. }) if code.starts_with("57P") => {
                sqlstate::CANNOT_CONNECT_NOW
            }
            Backend(_) | BackendLost | ContextSetupFailed | ClientGone => {
                sqlstate::CONNECTION_FAILURE
            }
        }
    }

    pub fn severity(&self) -> Severity {
        use ClientError::*;
        match self {
            Refused(_) | PoolTimeout(_) | Unsupported(_) | Backend(_) => Severity::Error,
            _ => Severity::Fatal,
        }
    }

    /// The text the client sees. Backend errors are summarised: their details (host names,
    /// role names) stay in the log.
    pub fn client_message(&self) -> String {
        match self {
            ClientError::Backend(BackendError::Refused { code, .. }) if code.starts_with("57P") => {
                "tenantgate: the database server is not accepting connections right now".into()
            }
            ClientError::Backend(_) => "tenantgate: cannot connect to the database server".into(),
            ClientError::Refused(v) => v.to_string(),
            other => other.to_string(),
        }
    }

    /// Writes this error as an ErrorResponse.
    pub fn write(&self, buf: &mut bytes::BytesMut) {
        crate::protocol::error_response(
            buf,
            self.severity(),
            self.sqlstate(),
            &self.client_message(),
        );
    }
}
