//! Backend pools: one per (cluster, database), shared by every tenant that lives there, and a
//! [`TenantPool`] view per tenant that adds its plan's share and its session context.

mod context;
mod manager;
mod rate;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use deadpool::managed::{Object, Pool, PoolError, QueueMode, TimeoutType, Timeouts};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub use context::{Context, Preamble, write_preamble};
pub use manager::Manager;
use rate::RateLimit;

use crate::backend::{BackendError, Connection, Endpoint, Target};
use crate::config::{Config, Isolation, PoolMode};
use crate::error::ClientError;
use crate::isolation::row::RowKey;

/// Identifies one backend pool.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PoolKey {
    pub cluster: String,
    pub database: String,
}

/// One pool of connections to one database, logged in as the cluster's proxy role.
#[derive(Debug)]
pub struct DbPool {
    pub key: PoolKey,
    pool: Pool<Manager>,
    server_params: Arc<OnceLock<Vec<(String, String)>>>,
}

/// What one tenant sees of its pool.
#[derive(Debug)]
pub struct TenantPool {
    pub db: Arc<DbPool>,
    pub context: Context,
    pub mode: PoolMode,
    /// The plan's `statement_timeout`: the default and the most a client may set.
    pub statement_timeout: Option<Duration>,
    wait_timeout: Duration,
    /// The plan's `pool_size`: how much of the shared pool the tenant may hold at once.
    share: Option<Arc<Semaphore>>,
    /// The plan's `max_client_connections`.
    clients: Option<Arc<Semaphore>>,
    /// The plan's `queries_per_second`.
    rate: Option<RateLimit>,
}

/// A backend connection held by one session.
#[derive(Debug)]
pub struct Checkout {
    conn: Object<Manager>,
    _share: Option<OwnedSemaphorePermit>,
}

/// A client's place among its tenant's `max_client_connections`.
#[derive(Debug)]
pub struct ClientSlot(#[allow(dead_code)] Option<OwnedSemaphorePermit>);

/// All pools of one configuration.
#[derive(Debug)]
pub struct Pools {
    by_tenant: HashMap<String, Arc<TenantPool>>,
}

impl Pools {
    pub fn build(config: &Config) -> Pools {
        let mut by_key: HashMap<PoolKey, Arc<DbPool>> = HashMap::new();
        let mut by_tenant = HashMap::new();
        for t in &config.tenants {
            let cluster = config
                .cluster(&t.cluster)
                .expect("validated: tenant names a cluster");
            let key = PoolKey {
                cluster: t.cluster.clone(),
                database: t.database.clone(),
            };
            let db = by_key
                .entry(key.clone())
                .or_insert_with(|| Arc::new(DbPool::new(key, cluster, config)))
                .clone();
            let plan = t.plan.as_deref().and_then(|p| config.plan(p));
            let search_path = match &t.isolation {
                Isolation::Schema {
                    schema,
                    shared_schemas,
                } => Some(
                    std::iter::once(schema.clone())
                        .chain(shared_schemas.iter().cloned())
                        .collect::<Vec<_>>(),
                ),
                Isolation::Row { .. } => Some(config.row.search_path.clone()),
                Isolation::Database => None,
            };
            let row_key = match &t.isolation {
                Isolation::Row { key } => Some(RowKey::new(key)),
                _ => None,
            };
            let tenant = TenantPool {
                db,
                context: Context::new(search_path.as_deref(), row_key.as_ref()),
                statement_timeout: plan.and_then(|p| p.statement_timeout),
                mode: plan
                    .and_then(|p| p.pool_mode)
                    .unwrap_or(config.proxy.pool_mode),
                wait_timeout: config.proxy.query_wait_timeout,
                share: plan
                    .and_then(|p| p.pool_size)
                    .map(|n| Arc::new(Semaphore::new(n as usize))),
                clients: plan
                    .and_then(|p| p.max_client_connections)
                    .map(|n| Arc::new(Semaphore::new(n as usize))),
                rate: plan.and_then(|p| p.queries_per_second).map(RateLimit::new),
            };
            by_tenant.insert(t.id.clone(), Arc::new(tenant));
        }
        Pools { by_tenant }
    }

    pub fn for_tenant(&self, id: &str) -> Option<Arc<TenantPool>> {
        self.by_tenant.get(id).cloned()
    }
}

impl DbPool {
    fn new(key: PoolKey, cluster: &crate::config::Cluster, config: &Config) -> DbPool {
        let server_params = Arc::new(OnceLock::new());
        let manager = Manager {
            target: Target {
                endpoint: Endpoint::new(&cluster.host, cluster.port),
                user: cluster.user.clone(),
                password: cluster.password.clone(),
                database: key.database.clone(),
            },
            connect_timeout: config.proxy.server_connect_timeout,
            server_params: server_params.clone(),
        };
        let pool = Pool::builder(manager)
            .max_size(cluster.pool_size as usize)
            // Most recently used first: warm connections, and their tenant context, get reused.
            .queue_mode(QueueMode::Lifo)
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .expect("a runtime is set, so building cannot fail");
        DbPool {
            key,
            pool,
            server_params,
        }
    }

    /// ParameterStatus values to report to clients, read from a real server connection.
    pub async fn server_params(&self, wait: Duration) -> Result<&[(String, String)], ClientError> {
        if self.server_params.get().is_none() {
            let timeouts = Timeouts {
                wait: Some(wait),
                create: None,
                recycle: None,
            };
            drop(
                self.pool
                    .timeout_get(&timeouts)
                    .await
                    .map_err(|e| pool_error(e, wait))?,
            );
        }
        Ok(self
            .server_params
            .get()
            .map(Vec::as_slice)
            .unwrap_or_default())
    }
}

impl TenantPool {
    /// Admits one more client of this tenant, or refuses it when the plan's limit is reached.
    pub fn admit_client(&self, tenant: &str) -> Result<ClientSlot, ClientError> {
        match &self.clients {
            None => Ok(ClientSlot(None)),
            Some(s) => s
                .clone()
                .try_acquire_owned()
                .map(|p| ClientSlot(Some(p)))
                .map_err(|_| ClientError::TooManyConnections(format!("tenant \"{tenant}\""))),
        }
    }

    /// Whether the plan limits `queries_per_second`.
    pub fn is_rate_limited(&self) -> bool {
        self.rate.is_some()
    }

    /// Books `statements` (Query and Execute messages) on the plan's rate: when they may run.
    pub fn book(&self, statements: u32) -> Option<tokio::time::Instant> {
        self.rate.as_ref().map(|r| r.book(statements))
    }

    /// Waits for a backend connection within the tenant's share and the wait timeout.
    pub async fn checkout(&self) -> Result<Checkout, ClientError> {
        let wait = self.wait_timeout;
        let get = async {
            let share = match &self.share {
                Some(s) => Some(
                    s.clone()
                        .acquire_owned()
                        .await
                        .expect("the semaphore is never closed"),
                ),
                None => None,
            };
            let conn = self.db.pool.get().await.map_err(|e| pool_error(e, wait))?;
            Ok(Checkout {
                conn,
                _share: share,
            })
        };
        tokio::time::timeout(wait, get)
            .await
            .map_err(|_| ClientError::PoolTimeout(wait))?
    }
}

impl Checkout {
    pub fn conn(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Returns the connection to the pool: only call between transactions with nothing unread.
    pub fn release(self) {
        drop(self);
    }

    /// Closes the connection instead of returning it (mid-transaction, or in doubt).
    pub fn discard(self) {
        drop(Object::take(self.conn));
    }
}

fn pool_error(e: PoolError<BackendError>, wait: Duration) -> ClientError {
    match e {
        PoolError::Backend(e) => ClientError::Backend(e),
        PoolError::Timeout(TimeoutType::Wait) => ClientError::PoolTimeout(wait),
        PoolError::Timeout(_) => ClientError::Backend(BackendError::Timeout(wait)),
        other => ClientError::Unsupported(format!("pool unavailable: {other}")),
    }
}
