//! The one piece of state every session shares, passed down explicitly.

use std::sync::Arc;

use pgwire::api::auth::mechanism::AuthMechanismFactory;
use pgwire::api::{PidSecretKeyGenerator, RandomPidSecretKeyGenerator};

use crate::config::Config;
use crate::frontend::{CancelRegistry, Credentials, StatementRegistry, mechanisms};
use crate::isolation::row::Scopes;
use crate::pool::Pools;
use crate::tenant::Directory;

pub struct Shared {
    pub config: Arc<Config>,
    pub pools: Pools,
    pub directory: Directory,
    /// Row-isolated databases: their catalogs, which a reload replaces.
    pub scopes: Scopes,
    pub cancels: Arc<CancelRegistry>,
    /// Pooled names of named prepared statements, shared by all clients.
    pub statements: Arc<StatementRegistry>,
    /// Creates the authentication exchange for each login.
    pub mechanisms: Arc<dyn AuthMechanismFactory>,
    /// Hands out the (pid, secret) a client cancels with; one counter for all sessions.
    pub keys: Arc<dyn PidSecretKeyGenerator>,
}

impl Shared {
    /// `scopes` are the row-isolated databases' catalogs, discovered beforehand.
    pub fn new(config: Config, scopes: Scopes) -> Shared {
        let pools = Pools::build(&config);
        let directory = Directory::build(&config, &pools, &scopes);
        let credentials = Arc::new(Credentials::from_config(&config));
        Shared {
            mechanisms: mechanisms(config.proxy.auth_method, credentials),
            config: Arc::new(config),
            pools,
            directory,
            scopes,
            cancels: Arc::default(),
            statements: Arc::default(),
            keys: Arc::new(RandomPidSecretKeyGenerator::default()),
        }
    }
}
