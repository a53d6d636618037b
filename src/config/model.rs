//! The TOML shape of DESIGN.md's configuration contract, parsed strictly.
//!
//! Values that later checks refer back to are `Spanned`, so a validation error can name the
//! line it is about.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub proxy: ProxySection,
    #[serde(default)]
    pub clusters: Vec<ClusterSection>,
    #[serde(default)]
    pub tenants: Vec<TenantSection>,
    #[serde(default)]
    pub users: Vec<UserSection>,
    #[serde(default)]
    pub plans: BTreeMap<String, Spanned<PlanSection>>,
    pub row: Option<RowSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxySection {
    pub listen: Spanned<String>,
    pub admin_listen: Option<Spanned<String>>,
    #[serde(default)]
    pub pool_mode: PoolMode,
    #[serde(default)]
    pub auth_method: AuthMethod,
    /// Time a client has to finish startup and authentication.
    pub startup_timeout: Option<Spanned<String>>,
    /// Time a statement may wait for a backend connection before it is refused.
    pub query_wait_timeout: Option<Spanned<String>>,
    /// Time to open and authenticate one backend connection.
    pub server_connect_timeout: Option<Spanned<String>>,
    /// Largest frontend message accepted, in bytes.
    pub max_message_size: Option<Spanned<u64>>,
    pub max_client_connections: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PoolMode {
    #[default]
    Transaction,
    Session,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum AuthMethod {
    #[default]
    #[serde(rename = "scram-sha-256")]
    ScramSha256,
    #[serde(rename = "md5")]
    Md5,
    /// Cleartext password, as Postgres calls it in pg_hba.conf.
    #[serde(rename = "password")]
    Cleartext,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSection {
    pub name: Spanned<String>,
    pub host: Spanned<String>,
    #[serde(default = "default_port")]
    pub port: u16,
    pub user: String,
    pub password: Option<String>,
    pub password_env: Option<Spanned<String>>,
    #[serde(default = "default_pool_size")]
    pub pool_size: Spanned<u32>,
}

fn default_port() -> u16 {
    5432
}

fn default_pool_size() -> Spanned<u32> {
    Spanned::new(0..0, 20)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IsolationMode {
    Database,
    Schema,
    Row,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSection {
    pub id: Spanned<String>,
    pub isolation: Spanned<IsolationMode>,
    pub cluster: Spanned<String>,
    pub database: Spanned<String>,
    pub schema: Option<Spanned<String>>,
    /// Schemas every tenant of the database may read and name, such as `public`.
    #[serde(default)]
    pub shared_schemas: Vec<Spanned<String>>,
    pub key: Option<String>,
    pub plan: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSection {
    pub name: Spanned<String>,
    pub password: Spanned<String>,
    pub tenant: Option<Spanned<String>>,
    pub tenants: Option<Spanned<TenantList>>,
}

/// `tenants = ["a", "b"]` or `tenants = "*"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum TenantList {
    Named(Vec<String>),
    Any(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanSection {
    pub max_client_connections: Option<u32>,
    pub pool_size: Option<u32>,
    pub statement_timeout: Option<Spanned<String>>,
    pub queries_per_second: Option<u32>,
    pub pool_mode: Option<PoolMode>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowSection {
    pub tenant_column: Option<Spanned<String>>,
    #[serde(default)]
    pub enforcement: Enforcement,
    /// Relations (`table` or `schema.table`) to treat as tenant tables although discovery
    /// would not, and ones it must leave alone.
    #[serde(default)]
    pub include: Vec<Spanned<String>>,
    #[serde(default)]
    pub exclude: Vec<Spanned<String>>,
    /// Schemas row tenants see, pinned as their search_path.
    pub search_path: Option<Vec<Spanned<String>>>,
}

/// How row tenants are confined.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Enforcement {
    /// The proxy rewrites every statement.
    #[default]
    Rewrite,
    /// Postgres row-level security policies filter by `tenantgate.tenant_id`.
    Rls,
    /// Both, defence in depth.
    Both,
}

impl Enforcement {
    pub fn rewrites(self) -> bool {
        matches!(self, Enforcement::Rewrite | Enforcement::Both)
    }

    pub fn uses_rls(self) -> bool {
        matches!(self, Enforcement::Rls | Enforcement::Both)
    }
}
