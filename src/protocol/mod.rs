//! Wire level only: frame splitting and the few messages tenantgate writes itself.
//!
//! Everything else travels as bytes; see DESIGN.md, principle 1.

mod frame;
mod message;

pub use frame::{Frame, FrameError, Header, split_frame};
pub use message::{
    Severity, TransactionStatus, cstring, error_response, message, parameter_status,
    parse_message_parts, query_message, query_text, ready_for_query,
};

/// SQLSTATE codes tenantgate sends itself.
pub mod sqlstate {
    pub const CONNECTION_FAILURE: &str = "08006";
    pub const PROTOCOL_VIOLATION: &str = "08P01";
    pub const INVALID_AUTHORIZATION: &str = "28000";
    pub const INVALID_PASSWORD: &str = "28P01";
    pub const ACTIVE_SQL_TRANSACTION: &str = "25001";
    pub const INVALID_CATALOG_NAME: &str = "3D000";
    pub const INSUFFICIENT_PRIVILEGE: &str = "42501";
    pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
    pub const TOO_MANY_CONNECTIONS: &str = "53300";
    pub const PROGRAM_LIMIT_EXCEEDED: &str = "54000";
    pub const QUERY_CANCELED: &str = "57014";
    pub const CANNOT_CONNECT_NOW: &str = "57P03";
    pub const ADMIN_SHUTDOWN: &str = "57P01";
    pub const INTERNAL_ERROR: &str = "XX000";
}
