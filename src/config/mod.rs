//! Configuration: the strict TOML model, its validation, and the validated [`Config`].
//!
//! [`load`] reads a file and reports every problem at once, each naming the file, the key and
//! the line, so `tenantgate check` can show a DBA everything to fix in one pass.

mod model;
mod validate;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use model::{AuthMethod, Enforcement, PoolMode};

/// A validated configuration. Every cross-reference in it resolves.
#[derive(Debug, Clone)]
pub struct Config {
    pub source: PathBuf,
    pub proxy: Proxy,
    pub clusters: Vec<Cluster>,
    pub tenants: Vec<Tenant>,
    pub users: Vec<User>,
    pub plans: Vec<Plan>,
    pub row: RowSettings,
}

/// The `[row]` section: how row tenants' shared tables are found and guarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowSettings {
    pub tenant_column: String,
    pub enforcement: Enforcement,
    /// `schema.table` names.
    pub include: Vec<QualifiedName>,
    pub exclude: Vec<QualifiedName>,
    pub search_path: Vec<String>,
}

/// A relation name from the configuration, its schema filled in from the row search_path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QualifiedName {
    pub schema: String,
    pub name: String,
}

impl fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

#[derive(Debug, Clone)]
pub struct Proxy {
    pub listen: SocketAddr,
    pub admin_listen: Option<SocketAddr>,
    pub pool_mode: PoolMode,
    pub auth_method: AuthMethod,
    pub startup_timeout: Duration,
    pub query_wait_timeout: Duration,
    pub server_connect_timeout: Duration,
    pub max_message_size: usize,
    pub max_client_connections: u32,
}

#[derive(Debug, Clone)]
pub struct Cluster {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Secret,
    pub pool_size: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Isolation {
    /// The tenant owns its database.
    Database,
    /// The tenant owns `schema` in a shared database; `shared_schemas` are readable by all.
    Schema {
        schema: String,
        shared_schemas: Vec<String>,
    },
    /// The tenant's rows carry `key` in the tenant column of shared tables.
    Row { key: String },
}

#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: String,
    pub isolation: Isolation,
    pub cluster: String,
    pub database: String,
    pub plan: Option<String>,
}

#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    /// Plaintext, `SCRAM-SHA-256$...` verifier or `md5...` hash, checked by validation.
    pub password: Secret,
    /// The tenant used when nothing else in the login names one.
    pub default_tenant: Option<String>,
    pub allowed: AllowedTenants,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedTenants {
    Any,
    Only(Vec<String>),
}

impl AllowedTenants {
    pub fn permits(&self, tenant: &str) -> bool {
        match self {
            AllowedTenants::Any => true,
            AllowedTenants::Only(ids) => ids.iter().any(|t| t == tenant),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub name: String,
    pub max_client_connections: Option<u32>,
    pub pool_size: Option<u32>,
    pub statement_timeout: Option<Duration>,
    pub queries_per_second: Option<u32>,
    pub pool_mode: Option<PoolMode>,
}

impl Config {
    pub fn plan(&self, name: &str) -> Option<&Plan> {
        self.plans.iter().find(|p| p.name == name)
    }

    pub fn cluster(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.name == name)
    }
}

/// A value never printed: passwords and keys.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if self.key.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": {}: {}", self.key, self.message)
        }
    }
}

/// Every problem found in one configuration file.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(
            f,
            "{n} problem{} in the configuration:",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}

/// Reads and validates a configuration file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        problems: vec![Problem {
            file: path.to_owned(),
            line: None,
            key: String::new(),
            message: format!("cannot read the file: {e}"),
        }],
    })?;
    parse(path, &text)
}

/// Validates configuration text; `path` is only used to name the file in errors.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    validate::validate(path, text)
}

/// Parses `"30s"`, `"250ms"`, `"5m"`, `"1h"` or a bare number of milliseconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let ms = match unit.trim() {
        "" | "ms" => n,
        "s" => n.checked_mul(1000)?,
        "m" | "min" => n.checked_mul(60_000)?,
        "h" => n.checked_mul(3_600_000)?,
        _ => return None,
    };
    Some(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1500"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("5 weeks"), None);
    }

    const BASE: &str = r#"[proxy]
listen = "127.0.0.1:6432"

[[clusters]]
name = "main"
host = "127.0.0.1"
user = "tenantgate"
password = "x"

[[users]]
name = "u"
password = "x"
tenants = "*"
"#;

    fn tenant(id: &str, isolation: &str, database: &str, key: Option<&str>) -> String {
        let key = key.map(|k| format!("key = \"{k}\"\n")).unwrap_or_default();
        format!(
            "\n[[tenants]]\nid = \"{id}\"\nisolation = \"{isolation}\"\ncluster = \"main\"\ndatabase = \"{database}\"\n{key}"
        )
    }

    fn problems(text: &str) -> Vec<String> {
        match parse(Path::new("t.toml"), text) {
            Ok(_) => Vec::new(),
            Err(e) => e
                .problems
                .iter()
                .map(|p| format!("{}: {}", p.key, p.message))
                .collect(),
        }
    }

    #[test]
    fn row_tenants_and_the_row_section() {
        let text = format!(
            "{BASE}{}{}\n[row]\ntenant_column = \"org\"\nenforcement = \"both\"\ninclude = [\"app.notes\", \"events\"]\n",
            tenant("a", "row", "saas", None),
            tenant("b", "row", "saas", Some("B-1")),
        );
        let config = parse(Path::new("t.toml"), &text).unwrap();
        assert_eq!(
            config.tenants[0].isolation,
            Isolation::Row { key: "a".into() }
        );
        assert_eq!(
            config.tenants[1].isolation,
            Isolation::Row { key: "B-1".into() }
        );
        assert_eq!(config.row.tenant_column, "org");
        assert_eq!(config.row.enforcement, Enforcement::Both);
        assert_eq!(config.row.search_path, vec!["public"]);
        assert_eq!(
            config
                .row
                .include
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec!["app.notes", "public.events"]
        );
        let defaults = parse(
            Path::new("t.toml"),
            &format!("{BASE}{}", tenant("a", "row", "saas", None)),
        )
        .unwrap();
        assert_eq!(defaults.row.tenant_column, "tenant_id");
        assert_eq!(defaults.row.enforcement, Enforcement::Rewrite);
    }

    #[test]
    fn row_configuration_problems() {
        let text = format!(
            "{BASE}{}{}{}{}{}\n[row]\ninclude = [\"a.b.c\"]\n",
            tenant("a", "row", "saas", Some("k")),
            tenant("b", "row", "saas", Some("k")),
            tenant("c", "schema", "saas", None),
            tenant("d", "schema", "app", Some("x")),
            tenant("e", "row", "saas", Some("nul\\u0000")),
        );
        let found = problems(&text);
        for expected in [
            "tenants[1].key: key \"k\" is already tenant \"a\"'s in this database",
            "tenants[2].database: database \"saas\" holds row-isolated tenants",
            "tenants[3].key: only row-isolated tenants have a key",
            "row.include[0]: expected \"table\" or \"schema.table\"",
            "tenants[4].key: must not contain a NUL character",
        ] {
            assert!(
                found.iter().any(|p| p.starts_with(expected)),
                "{expected} in {found:#?}"
            );
        }
        let bad_mode = format!(
            "{BASE}{}\n[row]\nenforcement = \"maybe\"\n",
            tenant("a", "row", "saas", None)
        );
        assert!(
            problems(&bad_mode).iter().any(|p| p.contains("maybe")),
            "{:?}",
            problems(&bad_mode)
        );
    }
}

/// The parts of a Postgres SCRAM verifier, `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramVerifier {
    pub iterations: usize,
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

/// Splits and decodes a SCRAM verifier; `None` if it is malformed.
pub fn scram_verifier_parts(text: &str) -> Option<ScramVerifier> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let rest = text.strip_prefix("SCRAM-SHA-256$")?;
    let (iter_salt, keys) = rest.split_once('$')?;
    let (iterations, salt) = iter_salt.split_once(':')?;
    let (stored_key, server_key) = keys.split_once(':')?;
    let v = ScramVerifier {
        iterations: iterations.parse().ok().filter(|&n| n > 0)?,
        salt: b64.decode(salt).ok()?,
        stored_key: b64.decode(stored_key).ok()?,
        server_key: b64.decode(server_key).ok()?,
    };
    (v.stored_key.len() == 32 && v.server_key.len() == 32).then_some(v)
}
