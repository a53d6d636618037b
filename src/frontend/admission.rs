//! What the tenant's isolation policy and plan make of one client SQL text: refused, or
//! admitted with the text to run instead (a row tenant's rewrite, a reset held to the plan)
//! and what running it does to the session's settings.

use std::sync::Arc;
use std::time::Duration;

use super::settings::{is_reported, within_plan};
use crate::config::PoolMode;
use crate::isolation::row::template::RewrittenSql;
use crate::isolation::{
    Checked, Policy, Rule, SessionEffect, SettingChange, SettingValue, Violation,
    sets_pinned_search_path,
};
use crate::tenant::TenantContext;

#[derive(Debug)]
pub struct Admission {
    policy: Arc<Policy>,
    mode: PoolMode,
    /// The plan's statement_timeout, the most a client may set.
    statement_timeout: Option<Duration>,
    /// The `search_path` the proxy pins for the tenant, which a client may set (to no effect).
    search_path: Option<Vec<String>>,
}

/// A statement that may run, and what running it does to the session.
pub struct Admitted {
    pub session: SessionEffect,
    /// SQL to send instead of the client's.
    pub replacement: Option<Replacement>,
}

pub enum Replacement {
    /// A reset of statement_timeout, held to the plan's value.
    PlanReset(String),
    /// A row tenant's statement, confined to its rows.
    Rewritten(RewrittenSql),
}

impl Replacement {
    pub fn as_str(&self) -> &str {
        match self {
            Replacement::PlanReset(sql) => sql,
            Replacement::Rewritten(sql) => sql.as_str(),
        }
    }
}

impl Admitted {
    /// The SQL to run: the replacement, or the client's own text.
    pub fn sql<'a>(&'a self, client: &'a [u8]) -> &'a [u8] {
        self.replacement
            .as_ref()
            .map_or(client, |r| r.as_str().as_bytes())
    }

    /// Whether running it leaves settings behind that the proxy does not follow.
    pub fn changes_untracked(&self) -> bool {
        match &self.session {
            SessionEffect::None | SessionEffect::ResetAll { .. } | SessionEffect::DiscardAll => {
                false
            }
            SessionEffect::Change(c) => !c.local,
            SessionEffect::Untracked(names) => names.iter().any(|n| !is_reported(n)),
        }
    }
}

impl Admission {
    pub fn new(tenant: &TenantContext) -> Self {
        Admission {
            policy: tenant.policy.clone(),
            mode: tenant.pool.mode,
            statement_timeout: tenant.pool.statement_timeout,
            search_path: tenant.pool.context.search_path().map(<[String]>::to_vec),
        }
    }

    pub fn admit(&self, sql: &[u8]) -> Result<Admitted, Violation> {
        let sql = std::str::from_utf8(sql).map_err(|_| Violation {
            rule: Rule::Unreadable,
            detail: "SQL text is not valid UTF-8".into(),
        })?;
        let Checked {
            mut session,
            rewritten,
        } = match self.policy.check_pooled(sql, self.mode) {
            // Looked at only when refused, so other texts are not lexed twice.
            Err(v) if v.rule == Rule::ProtectedSetting && self.sets_pinned_search_path(sql) => {
                Checked::default()
            }
            checked => checked?,
        };
        let replacement = match self.hold_to_plan(&mut session)? {
            Some(reset) => Some(Replacement::PlanReset(reset)),
            None => rewritten.map(Replacement::Rewritten),
        };
        Ok(Admitted {
            session,
            replacement,
        })
    }

    /// Whether `sql` sets the `search_path` the proxy pins for the tenant, to no effect.
    fn sets_pinned_search_path(&self, sql: &str) -> bool {
        self.search_path
            .as_deref()
            .is_some_and(|path| sets_pinned_search_path(sql, path))
    }

    /// [`admit`](Self::admit) for the text of a Parse.
    pub fn admit_parse(&self, sql: &[u8]) -> Result<Admitted, Violation> {
        let admitted = self.admit(sql)?;
        let reset = match admitted.session {
            SessionEffect::ResetAll { .. } => Some("RESET ALL"),
            SessionEffect::DiscardAll => Some("DISCARD ALL"),
            _ => None,
        };
        if let Some(reset) = reset {
            return Err(Violation {
                rule: Rule::ProtectedSetting,
                detail: format!("{reset} in a prepared statement (send it as a simple query)"),
            });
        }
        match admitted.replacement {
            // Rewriting a prepared statement's text is not worth it for a reset.
            Some(Replacement::PlanReset(_)) => Err(Violation {
                rule: Rule::PlanLimit,
                detail: "reset statement_timeout with a simple query, or set a value".into(),
            }),
            _ => Ok(admitted),
        }
    }

    /// Keeps statement_timeout within the plan: values above it are refused, and a reset
    /// returns to the plan's value instead of the server's (no limit). Other ways to change
    /// it (among other statements, in a routine, set_config) are refused under a limit.
    fn hold_to_plan(&self, session: &mut SessionEffect) -> Result<Option<String>, Violation> {
        const NAME: &str = "statement_timeout";
        let Some(limit) = self.statement_timeout else {
            return Ok(None);
        };
        match session {
            SessionEffect::Change(c) if c.name == NAME => match &c.value {
                SettingValue::To(v) => within_plan(NAME, v, Some(limit)).map(|()| None),
                SettingValue::Default => {
                    let value = format!("'{}ms'", limit.as_millis());
                    let local = if c.local { "LOCAL " } else { "" };
                    let sql = format!("SET {local}{NAME} = {value}");
                    c.value = SettingValue::To(value);
                    Ok(Some(sql))
                }
            },
            s if s.touches(NAME) => Err(Violation {
                rule: Rule::PlanLimit,
                detail: format!(
                    "under the plan's limit {NAME} changes only by a SET or RESET sent alone"
                ),
            }),
            _ => Ok(None),
        }
    }
}

/// The change of a statement that is exactly one session-level `SET`/`RESET`.
pub fn followed_change(session: &SessionEffect) -> Option<SettingChange> {
    match session {
        SessionEffect::Change(c) if !c.local => Some(c.clone()),
        _ => None,
    }
}
