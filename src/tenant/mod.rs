//! Tenant identities and the resolution of a login to exactly one tenant.
//!
//! Resolution order (first match wins), as DESIGN.md specifies: TLS SNI host name, user name
//! suffix (`app.acme`), database name, the user's fixed tenant. The resolved tenant must be
//! one the user is allowed, or the login fails.

mod resolve;

use std::fmt;
use std::sync::Arc;

use crate::isolation::Policy;
use crate::pool::TenantPool;

pub use resolve::{Directory, LoginRequest, configured_user};

/// A tenant id that names a configured tenant.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(Arc<str>);

impl TenantId {
    pub fn new(id: &str) -> Self {
        TenantId(Arc::from(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantId({})", self.0)
    }
}

/// Everything a session needs to confine itself to one tenant. Only tenant resolution hands
/// one out, so holding a `TenantContext` proves the login was authorized for it.
#[derive(Debug, Clone)]
pub struct TenantContext {
    pub id: TenantId,
    pub policy: Arc<Policy>,
    pub pool: Arc<TenantPool>,
    /// The database name the tenant's data lives in, reported to the client.
    pub database: Arc<str>,
}
