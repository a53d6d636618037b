//! Isolation policy: decides, for each SQL text a client sends, whether it may run for the
//! session's tenant.
//!
//! [`Policy::check`] is the one gate every `Query` and `Parse` passes before a backend sees it.
//! It fails closed: whatever it cannot prove harmless is refused with a [`Violation`] naming
//! the rule.

#[cfg(test)]
mod bypass_tests;
mod guard;
mod lexer;
#[cfg(test)]
mod lexer_tests;
mod pinned;
#[cfg(test)]
mod pooling_tests;
mod quote;
pub mod row;
mod schema;
mod session;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

use crate::config::PoolMode;

pub use pinned::{is_pinned_search_path, is_pinned_value, sets_pinned_search_path};
pub use quote::{quote_ident, quote_literal};

pub use session::{SessionEffect, SettingChange, SettingValue, duration_ms};

/// How one tenant is confined. Built once per tenant from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    /// The tenant has its own database: only session-level escapes need guarding.
    Database,
    /// The tenant owns `schema` in a shared database, may also name `shared` schemas, and may
    /// name no other schema. `neighbours` are the other tenants' schemas in the database.
    Schema {
        schema: String,
        shared: Vec<String>,
        neighbours: Vec<String>,
    },
    /// The tenant's rows are in tables shared with other tenants, marked with `key`. `scope`
    /// rewrites every statement; it is `None` when only Postgres' row-level security
    /// enforces isolation.
    Row {
        scope: Option<Arc<row::RowScope>>,
        key: row::RowKey,
    },
}

/// Why a statement was refused. The message names the rule and never another tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub rule: Rule,
    pub detail: String,
}

/// The rules a statement can break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// SQL the checks cannot read (bad encoding, unterminated quote, ...).
    Unreadable,
    /// Changing a setting or role that confines the session.
    ProtectedSetting,
    /// Naming a schema other than the tenant's own or a shared one.
    ForeignSchema,
    /// A statement kind that reaches beyond one tenant (roles, databases, server files, ...).
    ForbiddenStatement,
    /// A function or catalog view that reads other sessions' data or outside the database.
    ForbiddenFunction,
    /// SQL built at run time, which no static check can follow.
    DynamicSql,
    /// State that must outlive the transaction, under transaction pooling.
    SessionOnly,
    /// A row tenant's statement the rewriter cannot confine to the tenant's rows.
    RowScope,
    /// A setting beyond what the tenant's plan allows.
    PlanLimit,
    /// A statement Postgres refuses inside a transaction block, which the proxy must see run
    /// outside one to set the session up after it.
    TransactionBlock,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rule = match self.rule {
            Rule::Unreadable => "statement cannot be checked",
            Rule::ProtectedSetting => "setting is pinned by the proxy",
            Rule::ForeignSchema => "schema is outside the tenant",
            Rule::ForbiddenStatement => "statement is not allowed for tenants",
            Rule::ForbiddenFunction => "function is not allowed for tenants",
            Rule::DynamicSql => "dynamic SQL is not allowed for tenants",
            Rule::RowScope => "statement cannot be confined to the tenant's rows",
            Rule::PlanLimit => "the tenant's plan does not allow this",
            Rule::TransactionBlock => "this cannot run inside a transaction block",
            Rule::SessionOnly => {
                "this needs pool_mode = \"session\" (transaction pooling shares server connections)"
            }
        };
        write!(f, "tenantgate: {rule}: {}", self.detail)
    }
}

/// What a Query that is one `DEALLOCATE` statement releases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deallocation {
    All,
    /// A statement name, as Postgres resolves it (folded unless quoted).
    Named(String),
}

/// Recognises a Query that is exactly one `DEALLOCATE [PREPARE] name|ALL`: drivers such as
/// psycopg release their protocol-level statements that way, and the proxy pools those.
pub fn deallocation(sql: &str) -> Option<Deallocation> {
    let statements = lexer::statements(sql).ok()?;
    let [statement] = statements.as_slice() else {
        return None;
    };
    let rest = match statement.as_slice() {
        [first, second, rest @ ..] if first.is_kw("deallocate") && second.is_kw("prepare") => rest,
        [first, rest @ ..] if first.is_kw("deallocate") => rest,
        _ => return None,
    };
    match rest {
        [name] if name.is_kw("all") => Some(Deallocation::All),
        [lexer::Token::Word { text, .. }] => Some(Deallocation::Named(text.to_string())),
        _ => None,
    }
}

/// Settings a tenant may not change, by SET, startup options or set_config(): they confine
/// the session or make the proxy's checks read SQL differently from Postgres.
pub fn is_protected_setting(name: &str) -> bool {
    const PROTECTED: &[&str] = &[
        "search_path",
        "role",
        "session_authorization",
        "standard_conforming_strings",
        "client_encoding",
        "session_replication_role",
        "row_security",
        "default_transaction_read_only",
        "transaction_read_only",
        "local_preload_libraries",
        "session_preload_libraries",
    ];
    let name = name.trim().to_ascii_lowercase();
    PROTECTED.contains(&name.as_str()) || name.starts_with("tenantgate.")
}

/// What a statement that passed the checks does beyond its own result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checked {
    pub session: SessionEffect,
    /// A row tenant's statement as it must run instead.
    pub rewritten: Option<row::template::RewrittenSql>,
}

impl Policy {
    /// Checks one SQL text (possibly several statements) for this tenant, with a backend
    /// connection of its own for the session.
    pub fn check(&self, sql: &str) -> Result<Checked, Violation> {
        self.check_pooled(sql, PoolMode::Session)
    }

    /// Checks `sql` for a session pooled in `mode`: in transaction pooling, what needs a
    /// backend session to outlive the transaction is refused too.
    pub fn check_pooled(&self, sql: &str, mode: PoolMode) -> Result<Checked, Violation> {
        let statements = lex(sql)?;
        // A pool's reset (Npgsql, Rails): the proxy sets the session up again after it.
        if let [only] = statements.as_slice()
            && is_discard_all(only)
        {
            return Ok(Checked {
                session: SessionEffect::DiscardAll,
                rewritten: None,
            });
        }
        // `RESET ALL` (pool reset queries hold one): the proxy sets the tenant's context again
        // right after it, in the same text, so nothing of the client's runs without it.
        let reset = statements.iter().position(is_reset_all);
        let (before, after) = match reset {
            Some(i) => (&statements[..i], &statements[i + 1..]),
            None => (statements.as_slice(), &[][..]),
        };
        let mut settings = Vec::new();
        self.check_statements(sql, before, 0, mode, &mut settings)?;
        let mut later = Vec::new();
        self.check_statements(sql, after, 0, mode, &mut later)?;
        let rewritten = match self {
            Policy::Row {
                scope: Some(scope),
                key,
            } => scope.rewrite(sql, key)?,
            _ => None,
        };
        let Some(i) = reset else {
            let session = session::effect(sql, &statements, settings);
            return Ok(Checked { session, rewritten });
        };
        // In a `BEGIN ATOMIC` body a `;` does not end the statement for Postgres: the setup
        // could land inside the body.
        if statements.iter().flatten().any(|t| t.is_kw("atomic")) {
            return Err(refuse_reset("RESET ALL in a text with a BEGIN ATOMIC body"));
        }
        let at = match after {
            [] => None,
            _ if !later.is_empty() => {
                return Err(refuse_reset(
                    "a setting changed after RESET ALL in the same text",
                ));
            }
            _ if rewritten.is_some() => {
                return Err(refuse_reset(
                    "RESET ALL before statements that must be rewritten",
                ));
            }
            _ => Some(lexer::statement_ends(sql).map_err(unreadable)?[i]),
        };
        let session = SessionEffect::ResetAll {
            statements: i + 1,
            at,
        };
        Ok(Checked { session, rewritten })
    }

    /// `depth` counts routine bodies (DO blocks, function bodies) around `sql`; `settings`
    /// collects the names of settings the statements change.
    fn check_text(
        &self,
        sql: &str,
        depth: usize,
        mode: PoolMode,
        settings: &mut Vec<String>,
    ) -> Result<(), Violation> {
        const MAX_DEPTH: usize = 4;
        if depth > MAX_DEPTH {
            return Err(Violation {
                rule: Rule::Unreadable,
                detail: "routine bodies nested too deep".into(),
            });
        }
        self.check_statements(sql, &lex(sql)?, depth, mode, settings)
    }

    fn check_statements(
        &self,
        sql: &str,
        statements: &[lexer::Statement<'_>],
        depth: usize,
        mode: PoolMode,
        settings: &mut Vec<String>,
    ) -> Result<(), Violation> {
        // Tenants sharing a database must not reach each other through database-wide
        // features (notifications, prepared transactions).
        let schema_tenant = matches!(self, Policy::Schema { .. } | Policy::Row { .. });
        for statement in statements {
            if depth > 0 && statement.iter().any(|t| t.is_kw("execute")) {
                return Err(Violation {
                    rule: Rule::DynamicSql,
                    detail: "EXECUTE in a DO block or function body".into(),
                });
            }
            for part in guard::parts(statement, depth > 0) {
                guard::check(part, schema_tenant)?;
                if mode == PoolMode::Transaction {
                    guard::session_features(part)?;
                }
                session::session_changes(part, settings);
                for body in guard::routine_bodies(part) {
                    self.check_text(body, depth + 1, mode, settings)?;
                }
            }
        }
        match self {
            Policy::Schema {
                schema,
                shared,
                neighbours,
            } => {
                let names = schema::Names {
                    own: schema,
                    shared,
                    neighbours,
                };
                schema::check(sql, statements, &names, depth > 0)
            }
            Policy::Row { .. } => row_statements(statements),
            Policy::Database => Ok(()),
        }
    }
}

/// What no row tenant may run, whatever enforces its isolation: EXPLAIN shows the planner's
/// estimates, which Postgres computes from every tenant's rows (the most common values of a
/// column among them), so probing values would tell what other tenants store.
fn row_statements(statements: &[lexer::Statement<'_>]) -> Result<(), Violation> {
    match statements
        .iter()
        .find(|s| s.first().is_some_and(|t| t.is_kw("explain")))
    {
        Some(_) => Err(Violation {
            rule: Rule::RowScope,
            detail: "EXPLAIN (its estimates are computed from every tenant's rows)".into(),
        }),
        None => Ok(()),
    }
}

fn is_reset_all(statement: &lexer::Statement<'_>) -> bool {
    matches!(statement.as_slice(), [reset, all] if reset.is_kw("reset") && all.is_kw("all"))
}

fn is_discard_all(statement: &lexer::Statement<'_>) -> bool {
    matches!(statement.as_slice(), [discard, all] if discard.is_kw("discard") && all.is_kw("all"))
}

/// How many statements `sql` holds: for texts the proxy writes itself, which always lex.
pub fn statement_count(sql: &str) -> usize {
    lexer::statements(sql).map_or(0, |s| s.len())
}

fn refuse_reset(detail: &str) -> Violation {
    Violation {
        rule: Rule::ProtectedSetting,
        detail: detail.into(),
    }
}

fn lex(sql: &str) -> Result<Vec<lexer::Statement<'_>>, Violation> {
    lexer::statements(sql).map_err(unreadable)
}

fn unreadable(detail: String) -> Violation {
    Violation {
        rule: Rule::Unreadable,
        detail,
    }
}
