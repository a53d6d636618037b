//! Wires the listener to the shared state and runs until shutdown.

use std::fmt::Write as _;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{AllowedTenants, Config, Isolation};
use crate::isolation::row;
use crate::listener::accept_loop;
use crate::shared::Shared;

/// How long sessions get to end after shutdown is requested.
const DRAIN: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("row isolation: {0}")]
    Row(#[from] row::discover::DiscoverError),
}

pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl Server {
    /// Binds the client listener; nothing is served until [`Server::run_until`].
    pub async fn bind(config: Config) -> Result<Server, ServeError> {
        let addr = config.proxy.listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Listen { addr, source })?;
        let scopes = row::load(&config).await?;
        Ok(Server {
            listener,
            shared: Arc::new(Shared::new(config, scopes)),
        })
    }

    /// A handle that re-reads the row-isolated databases' catalogs (what SIGHUP does).
    pub fn reloader(&self) -> Reloader {
        Reloader(self.shared.clone())
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves clients until `shutdown` completes, then ends every session.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let token = CancellationToken::new();
        let sessions = TaskTracker::new();
        tracing::info!(listen = %self.local_addr(), tenants = self.shared.config.tenants.len(), "tenantgate is serving");
        #[cfg(unix)]
        tokio::spawn(reload_on_hangup(self.reloader(), token.clone()));
        let accept = tokio::spawn(accept_loop(
            self.listener,
            self.shared,
            sessions.clone(),
            token.clone(),
        ));
        shutdown.await;
        tracing::info!("shutting down");
        token.cancel();
        let _ = accept.await;
        sessions.close();
        let _ = tokio::time::timeout(DRAIN, sessions.wait()).await;
        Ok(())
    }
}

/// Re-reads the catalogs of the row-isolated databases, so tables created since start are
/// known. (The configuration file itself is read once, at start.)
#[derive(Clone)]
pub struct Reloader(Arc<Shared>);

impl Reloader {
    pub async fn reload(&self) {
        let errors = row::reload(&self.0.config, &self.0.scopes).await;
        for e in &errors {
            tracing::error!("reload: {e}; the previous catalog stays in use");
        }
        if errors.is_empty() {
            tracing::info!("reloaded the row-isolated databases' catalogs");
        }
    }
}

#[cfg(unix)]
async fn reload_on_hangup(reloader: Reloader, token: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot install a SIGHUP handler; reload is unavailable");
        return;
    };
    loop {
        tokio::select! {
            _ = token.cancelled() => return,
            received = hangup.recv() => {
                if received.is_none() {
                    return;
                }
                reloader.reload().await;
            }
        }
    }
}

/// Runs the proxy until Ctrl-C or SIGTERM.
pub async fn serve(config: Config) -> Result<(), ServeError> {
    let server = Server::bind(config).await?;
    server.run_until(shutdown_signal()).await
}

/// Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// The summary `tenantgate check` prints: what the configuration resolves to.
pub fn describe(config: &Config) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "configuration {} is valid", config.source.display());
    let _ = writeln!(
        s,
        "listen {}  pool_mode {:?}  auth {:?}",
        config.proxy.listen, config.proxy.pool_mode, config.proxy.auth_method
    );
    let _ = writeln!(s, "\npools (one per cluster and database):");
    let mut keys: Vec<(&str, &str)> = config
        .tenants
        .iter()
        .map(|t| (t.cluster.as_str(), t.database.as_str()))
        .collect();
    keys.sort();
    keys.dedup();
    for (cluster, database) in keys {
        let c = config.cluster(cluster).expect("validated");
        let tenants: Vec<&str> = config
            .tenants
            .iter()
            .filter(|t| t.cluster == cluster && t.database == database)
            .map(|t| t.id.as_str())
            .collect();
        let _ = writeln!(
            s,
            "  {cluster}/{database}  {}:{} as {}  size {}  tenants {}",
            c.host,
            c.port,
            c.user,
            c.pool_size,
            tenants.join(", ")
        );
    }
    let _ = writeln!(s, "\ntenants:");
    for t in &config.tenants {
        let how = match &t.isolation {
            Isolation::Database => format!("database {}", t.database),
            Isolation::Row { key } => format!(
                "rows with {} = {key:?} in {} ({:?})",
                config.row.tenant_column, t.database, config.row.enforcement
            ),
            Isolation::Schema {
                schema,
                shared_schemas,
            } if shared_schemas.is_empty() => {
                format!("schema {schema} in {}", t.database)
            }
            Isolation::Schema {
                schema,
                shared_schemas,
            } => {
                format!(
                    "schema {schema} (+ shared {}) in {}",
                    shared_schemas.join(", "),
                    t.database
                )
            }
        };
        let plan = t
            .plan
            .as_deref()
            .map(|p| format!("  plan {p}"))
            .unwrap_or_default();
        let _ = writeln!(s, "  {}  {how}  cluster {}{plan}", t.id, t.cluster);
    }
    let _ = writeln!(s, "\nusers:");
    for u in &config.users {
        let allowed = match &u.allowed {
            AllowedTenants::Any => "any tenant".to_owned(),
            AllowedTenants::Only(ids) => ids.join(", "),
        };
        let default = u
            .default_tenant
            .as_deref()
            .map(|t| format!("  default {t}"))
            .unwrap_or_default();
        let _ = writeln!(s, "  {}  tenants: {allowed}{default}", u.name);
    }
    s
}
