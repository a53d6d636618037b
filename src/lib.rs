//! tenantgate: a PostgreSQL wire-protocol proxy that confines every statement to one tenant.
//!
//! The modules follow the path of a connection, top to bottom:
//!
//! ```text
//! client ─▶ listener ─▶ frontend ─▶ tenant ─▶ isolation ─▶ pool ─▶ backend ─▶ Postgres
//! ```
//!
//! * [`listener`]: accepts sockets, caps connections, spawns one session task each.
//! * [`frontend`]: startup, authentication, and the message relay of one client session.
//! * [`tenant`]: tenant identities and resolution of a login to exactly one tenant.
//! * [`isolation`]: decides, per SQL-carrying message, whether it may run for the tenant.
//! * [`pool`]: shared backend pools, checkout, and the tenant context switch.
//! * [`backend`]: raw connections to Postgres (startup, authentication as the proxy role).
//!
//! Leaves used by all of them: [`config`], [`protocol`], [`error`]. [`server`] wires the
//! pieces together and [`shared`] is the one state value passed down the path.
//! [`devcluster`] starts throwaway Postgres clusters for `tenantgate dev` and the tests.

pub mod backend;
pub mod frontend;
pub mod isolation;
pub mod listener;
pub mod pool;
pub mod tenant;

pub mod config;
pub mod devcluster;
pub mod error;
pub mod protocol;
pub mod server;
pub mod shared;
