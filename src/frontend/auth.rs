//! Client credentials: the configured users' passwords, in the forms pgwire's SCRAM, MD5 and
//! cleartext mechanisms ask for.
//!
//! Plain passwords are salted once at load (4096 PBKDF2 rounds per login would dominate
//! `pgbench -C`); SCRAM verifiers are used as they are, without any password material.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use md5::{Digest, Md5};
use pgwire::api::auth::cleartext::CleartextPasswordAuth;
use pgwire::api::auth::md5pass::{Md5PasswordAuth, hash_md5_password};
use pgwire::api::auth::mechanism::AuthMechanismFactory;
use pgwire::api::auth::sasl::SaslMechanisms;
use pgwire::api::auth::sasl::scram::{
    SCRAM_ITERATIONS, ScramAuth, ScramSecret, gen_salted_password,
};
use pgwire::api::auth::{AuthSource, LoginInfo, Password};
use pgwire::error::{PgWireError, PgWireResult};

use crate::config::{AuthMethod, Config, scram_verifier_parts};
use crate::tenant::configured_user;

enum Credential {
    Plain {
        password: String,
        salt: Vec<u8>,
        salted: Vec<u8>,
    },
    Scram(ScramVerifierSecret),
    /// `md5` followed by hex(md5(password || user name)).
    Md5Hash(String),
}

struct ScramVerifierSecret {
    iterations: usize,
    salt: Vec<u8>,
    stored_key: Vec<u8>,
    server_key: Vec<u8>,
}

pub struct Credentials {
    users: HashMap<String, Credential>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("users", &self.users.len())
            .finish()
    }
}

impl Credentials {
    pub fn from_config(config: &Config) -> Credentials {
        let users = config
            .users
            .iter()
            .map(|u| (u.name.clone(), credential(u.password.expose())))
            .collect();
        Credentials { users }
    }

    fn get(&self, login: &LoginInfo) -> PgWireResult<&Credential> {
        let name = login.user().unwrap_or_default();
        configured_user(name, |n| self.users.contains_key(n))
            .and_then(|n| self.users.get(n))
            .ok_or_else(|| PgWireError::InvalidPassword(name.to_owned()))
    }
}

fn credential(text: &str) -> Credential {
    if let Some(v) = scram_verifier_parts(text) {
        return Credential::Scram(ScramVerifierSecret {
            iterations: v.iterations,
            salt: v.salt,
            stored_key: v.stored_key,
            server_key: v.server_key,
        });
    }
    if text.len() == 35
        && text.starts_with("md5")
        && text[3..].bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Credential::Md5Hash(text.to_ascii_lowercase());
    }
    let salt: [u8; 16] = rand::random();
    let salted = gen_salted_password(text, &salt, SCRAM_ITERATIONS);
    Credential::Plain {
        password: text.to_owned(),
        salt: salt.to_vec(),
        salted,
    }
}

/// The pgwire mechanism factory for the configured method.
pub fn mechanisms(
    method: AuthMethod,
    credentials: Arc<Credentials>,
) -> Arc<dyn AuthMechanismFactory> {
    match method {
        AuthMethod::ScramSha256 => Arc::new(SaslMechanisms::new(vec![Arc::new(ScramAuth::new(
            credentials,
        ))])),
        AuthMethod::Md5 => Arc::new(Md5PasswordAuth::new(credentials)),
        AuthMethod::Cleartext => Arc::new(CleartextPasswordAuth::new(credentials)),
    }
}

#[async_trait]
impl AuthSource for Credentials {
    /// Used by MD5: the salted hash the client must send for a fresh random salt.
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        let salt: [u8; 4] = rand::random();
        let user = login.user().unwrap_or_default();
        let expected = match self.get(login)? {
            Credential::Plain { password, .. } => hash_md5_password(user, password, &salt),
            Credential::Md5Hash(stored) => salted_md5(&stored[3..], &salt),
            Credential::Scram(_) => return Err(PgWireError::InvalidPassword(user.to_owned())),
        };
        Ok(Password::new(Some(salt.to_vec()), expected.into_bytes()))
    }

    async fn verify_password(
        &self,
        login: &LoginInfo,
        presented: &[u8],
    ) -> PgWireResult<Option<()>> {
        let user = login.user().unwrap_or_default();
        let presented = std::str::from_utf8(presented)
            .map_err(|_| PgWireError::InvalidPassword(user.to_owned()))?;
        let ok = match self.get(login)? {
            Credential::Plain { password, .. } => {
                constant_time_eq(password.as_bytes(), presented.as_bytes())
            }
            Credential::Md5Hash(stored) => {
                // The stored hash was made with the configured name, not `user.tenant`.
                let name = configured_user(user, |n| self.users.contains_key(n)).unwrap_or(user);
                let hex = format!("{:x}", Md5::digest(format!("{presented}{name}")));
                constant_time_eq(&stored.as_bytes()[3..], hex.as_bytes())
            }
            Credential::Scram(v) => {
                let salted = gen_salted_password(presented, &v.salt, v.iterations);
                match ScramSecret::verifier_from_salted_password(
                    v.salt.clone(),
                    salted,
                    v.iterations,
                ) {
                    ScramSecret::Verifier { stored_key, .. } => {
                        constant_time_eq(&stored_key, &v.stored_key)
                    }
                    ScramSecret::SaltedPassword { .. } => false,
                }
            }
        };
        if ok {
            Ok(None)
        } else {
            Err(PgWireError::InvalidPassword(user.to_owned()))
        }
    }

    async fn get_scram_secret(&self, login: &LoginInfo) -> PgWireResult<(ScramSecret, Option<()>)> {
        let secret = match self.get(login)? {
            Credential::Plain { salt, salted, .. } => ScramSecret::SaltedPassword {
                salt: salt.clone(),
                salted_password: salted.clone(),
            },
            Credential::Scram(v) => ScramSecret::Verifier {
                salt: v.salt.clone(),
                iterations: v.iterations,
                stored_key: v.stored_key.clone(),
                server_key: v.server_key.clone(),
            },
            Credential::Md5Hash(_) => {
                return Err(PgWireError::InvalidPassword(
                    login.user().unwrap_or_default().to_owned(),
                ));
            }
        };
        Ok((secret, None))
    }
}

fn salted_md5(hex: &str, salt: &[u8]) -> String {
    let mut h = Md5::new();
    h.update(hex.as_bytes());
    h.update(salt);
    format!("md5{:x}", h.finalize())
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
