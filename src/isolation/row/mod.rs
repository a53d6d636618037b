//! Row isolation: tenants share tables that carry a tenant column.
//!
//! `discover` reads which relations hold tenant rows from the database; `catalog` is what the
//! rewriter knows of them; `rewrite` turns a statement into one that can only touch the
//! session tenant's rows, or refuses it. A rewrite is a `template` with a marker where the
//! tenant's key goes, so it does not depend on the tenant and one cache serves them all; the
//! session's [`RowKey`] is filled in for each execution.
//!
//! Inside the rewriter: `scope` walks a statement (checks every relation and function, wraps
//! reads of tenant tables), `write` and `insert` confine the writes, `kinds` is the statement
//! allowlist, `sql` builds the added SQL, and `fidelity` refuses statements that would not
//! print back with their meaning.

pub mod catalog;
pub mod discover;
mod fence;
mod fidelity;
mod insert;
mod kinds;
pub mod rewrite;
mod scope;
mod shape;
mod sql;
pub mod template;
#[cfg(test)]
mod tests;
mod write;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use crate::config::{Cluster, Config, Isolation};
use catalog::Catalog;
use discover::{DiscoverError, Discovered};
use rewrite::Cache;
use template::RewrittenSql;

use super::{Rule, Violation, quote_literal};

/// The backend setting that carries the session tenant's key.
pub const TENANT_SETTING: &str = "tenantgate.tenant_id";

fn refuse(detail: impl Into<String>) -> Violation {
    Violation {
        rule: Rule::RowScope,
        detail: detail.into(),
    }
}

/// A row tenant's key as a SQL string literal, to stand where a rewrite's key marker stands
/// and in the `SET` of the tenant setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowKey(Arc<str>);

impl RowKey {
    pub fn new(key: &str) -> RowKey {
        RowKey(quote_literal(key).into())
    }

    pub fn literal(&self) -> &str {
        &self.0
    }
}

/// Rewrites kept per shared database.
const CACHE_ENTRIES: usize = 10_000;

/// One shared database's tenant tables and the rewrites cached for them. A reload swaps in
/// a newly discovered catalog; statements being rewritten finish with the old one.
pub struct RowScope {
    current: RwLock<Arc<Snapshot>>,
}

struct Snapshot {
    catalog: Catalog,
    cache: Cache,
}

impl Snapshot {
    fn new(catalog: Catalog) -> Arc<Snapshot> {
        Arc::new(Snapshot {
            catalog,
            cache: Cache::new(CACHE_ENTRIES),
        })
    }
}

impl RowScope {
    pub fn new(catalog: Catalog) -> RowScope {
        RowScope {
            current: RwLock::new(Snapshot::new(catalog)),
        }
    }

    /// The statement confined to the rows of `key`'s tenant (`None`: the client's text as it
    /// is), or why it cannot be.
    pub fn rewrite(&self, sql: &str, key: &RowKey) -> Result<Option<RewrittenSql>, Violation> {
        let snapshot = self.snapshot();
        snapshot.cache.rewrite(&snapshot.catalog, sql, key)
    }

    /// Uses `catalog` from now on, with an empty cache.
    pub fn replace(&self, catalog: Catalog) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Snapshot::new(catalog);
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl fmt::Debug for RowScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RowScope")
    }
}

/// Scopes are compared by identity: one per database and configuration.
impl PartialEq for RowScope {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for RowScope {}

/// Databases holding row tenants, by (cluster, database).
pub type Place = (String, String);

/// Row isolation of every shared database, with `None` where only RLS enforces it.
pub type Scopes = BTreeMap<Place, Option<Arc<RowScope>>>;

/// Discovers every database that holds row tenants; with RLS enforcement, checks that
/// Postgres will enforce it (policies in place, a role that does not bypass them).
pub async fn load(config: &Config) -> Result<Scopes, DiscoverError> {
    let mut scopes = Scopes::new();
    for (place, cluster) in row_databases(config) {
        let found = discover_database(cluster, &place.1, config).await?;
        if config.row.enforcement.uses_rls()
            && let Some(message) = found.rls_problem(&cluster.user)
        {
            return Err(DiscoverError::Invalid {
                database: place.1,
                message,
            });
        }
        let scope = config
            .row
            .enforcement
            .rewrites()
            .then(|| Arc::new(RowScope::new(found.catalog(&config.row))));
        scopes.insert(place, scope);
    }
    Ok(scopes)
}

/// Each database that holds row tenants, once, with its cluster.
fn row_databases(config: &Config) -> Vec<(Place, &Cluster)> {
    let mut places: Vec<(Place, &Cluster)> = Vec::new();
    for t in &config.tenants {
        let place = (t.cluster.clone(), t.database.clone());
        if !matches!(t.isolation, Isolation::Row { .. }) || places.iter().any(|(p, _)| *p == place)
        {
            continue;
        }
        let cluster = config
            .cluster(&t.cluster)
            .expect("validated configurations name existing clusters");
        places.push((place, cluster));
    }
    places
}

/// `tenantgate provision-rls`: the tenant policy on every tenant table of every row database.
/// Returns the SQL it ran (or, with `dry_run`, would run), per database.
pub async fn provision(config: &Config, dry_run: bool) -> Result<String, DiscoverError> {
    let mut report = String::new();
    for ((cluster_name, database), cluster) in row_databases(config) {
        let found = discover_database(cluster, &database, config).await?;
        let sql = found.provision_sql(&config.row);
        if !dry_run {
            let failed = |source| DiscoverError::Query {
                database: database.clone(),
                source,
            };
            let client = connect(cluster, &database).await.map_err(failed)?;
            client.batch_execute(&sql).await.map_err(failed)?;
        }
        report.push_str(&format!(
            "-- database {database} on cluster {cluster_name}\n{sql}"
        ));
    }
    Ok(report)
}

/// Discovers the row databases again and swaps the new catalogs into `scopes` (SIGHUP).
/// A database that cannot be read keeps its old catalog; the errors are returned.
pub async fn reload(config: &Config, scopes: &Scopes) -> Vec<DiscoverError> {
    let mut errors = Vec::new();
    for ((cluster, database), scope) in scopes {
        let Some(scope) = scope else { continue };
        let Some(cluster) = config.cluster(cluster) else {
            continue;
        };
        match discover_database(cluster, database, config).await {
            Ok(found) => scope.replace(found.catalog(&config.row)),
            Err(e) => errors.push(e),
        }
    }
    errors
}

/// Reads one database's catalog over a control connection.
pub async fn discover_database(
    cluster: &Cluster,
    database: &str,
    config: &Config,
) -> Result<Discovered, DiscoverError> {
    let client = connect(cluster, database)
        .await
        .map_err(|source| DiscoverError::Query {
            database: database.to_owned(),
            source,
        })?;
    discover::discover(&client, database, &config.row).await
}

/// A control-plane connection (tokio-postgres) as the cluster's proxy role.
pub async fn connect(
    cluster: &Cluster,
    database: &str,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::Config::new()
        .host(&cluster.host)
        .port(cluster.port)
        .user(&cluster.user)
        .password(cluster.password.expose())
        .dbname(database)
        .application_name("tenantgate control")
        .connect(tokio_postgres::NoTls)
        .await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("control connection ended: {e}");
        }
    });
    Ok(client)
}
