//! The tenant directory and login resolution.

use std::collections::HashMap;
use std::sync::Arc;

use super::{TenantContext, TenantId};
use crate::config::{Config, Isolation, User};
use crate::error::ClientError;
use crate::isolation::Policy;
use crate::isolation::row::{RowKey, Scopes};
use crate::pool::Pools;

/// The schemas of the other schema tenants in `tenant`'s database.
fn neighbour_schemas(config: &Config, tenant: &crate::config::Tenant) -> Vec<String> {
    config
        .tenants
        .iter()
        .filter(|t| {
            t.id != tenant.id && t.cluster == tenant.cluster && t.database == tenant.database
        })
        .filter_map(|t| match &t.isolation {
            Isolation::Schema { schema, .. } => Some(schema.clone()),
            Isolation::Database | Isolation::Row { .. } => None,
        })
        .collect()
}

/// The configured user name a login name refers to: the name itself, or for `user.tenant`
/// the part before the last dot.
pub fn configured_user(login_name: &str, exists: impl Fn(&str) -> bool) -> Option<&str> {
    if exists(login_name) {
        return Some(login_name);
    }
    let (base, _) = login_name.rsplit_once('.')?;
    exists(base).then_some(base)
}

/// What a client said about itself when it logged in.
#[derive(Debug, Clone, Copy)]
pub struct LoginRequest<'a> {
    pub sni: Option<&'a str>,
    /// The user name as sent, possibly `user.tenant`.
    pub user: &'a str,
    pub database: Option<&'a str>,
}

/// Tenants and users of one configuration snapshot.
#[derive(Debug)]
pub struct Directory {
    tenants: HashMap<String, TenantContext>,
    users: HashMap<String, User>,
}

impl Directory {
    pub fn build(config: &Config, pools: &Pools, scopes: &Scopes) -> Directory {
        let tenants = config
            .tenants
            .iter()
            .map(|t| {
                let policy = match &t.isolation {
                    Isolation::Database => Policy::Database,
                    Isolation::Schema {
                        schema,
                        shared_schemas,
                    } => Policy::Schema {
                        schema: schema.clone(),
                        shared: shared_schemas.clone(),
                        neighbours: neighbour_schemas(config, t),
                    },
                    Isolation::Row { key } => Policy::Row {
                        key: RowKey::new(key),
                        scope: scopes
                            .get(&(t.cluster.clone(), t.database.clone()))
                            .cloned()
                            .expect("row databases are discovered before the directory is built"),
                    },
                };
                let context = TenantContext {
                    id: TenantId::new(&t.id),
                    policy: Arc::new(policy),
                    pool: pools
                        .for_tenant(&t.id)
                        .expect("pools are built for every configured tenant"),
                    database: Arc::from(t.database.as_str()),
                };
                (t.id.clone(), context)
            })
            .collect();
        let users = config
            .users
            .iter()
            .map(|u| (u.name.clone(), u.clone()))
            .collect();
        Directory { tenants, users }
    }

    /// The configured user a login name refers to.
    pub fn user(&self, login_name: &str) -> Option<&User> {
        configured_user(login_name, |n| self.users.contains_key(n)).and_then(|n| self.users.get(n))
    }

    /// Resolves an authenticated login to the one tenant it may use.
    pub fn resolve(&self, login: LoginRequest<'_>) -> Result<TenantContext, ClientError> {
        let user = self
            .user(login.user)
            .ok_or_else(|| ClientError::BadPassword(login.user.to_owned()))?;
        let suffix = (!self.users.contains_key(login.user))
            .then(|| login.user.rsplit_once('.').map(|(_, t)| t))
            .flatten();
        let from_sni = login
            .sni
            .and_then(|host| host.split('.').next())
            .filter(|t| self.tenants.contains_key(*t));
        let from_database = login.database.filter(|d| self.tenants.contains_key(*d));
        let chosen = from_sni
            .or(suffix)
            .or(from_database)
            .or(user.default_tenant.as_deref())
            .ok_or_else(|| {
                ClientError::NotAuthorized(format!(
                    "user \"{}\" has no default tenant; name one as user.tenant or as the database",
                    user.name
                ))
            })?;
        let tenant = self
            .tenants
            .get(chosen)
            .filter(|_| user.allowed.permits(chosen))
            .ok_or_else(|| {
                ClientError::NotAuthorized(format!(
                    "user \"{}\" may not use tenant \"{chosen}\"",
                    user.name
                ))
            })?;
        // A database name that is not a tenant id must be the tenant's own database (or the
        // libpq default, the user name), so a typo is an error rather than a silent redirect.
        if let Some(db) = login.database
            && from_database.is_none()
            && db != &*tenant.database
            && db != login.user
            && db != user.name
        {
            return Err(ClientError::UnknownDatabase(db.to_owned()));
        }
        Ok(tenant.clone())
    }
}
