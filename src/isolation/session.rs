//! What a client's SQL does to its session's settings.
//!
//! Under transaction pooling a client's session settings live on whichever server connection
//! it holds at the moment. A text that is exactly one `SET`/`RESET` is read precisely, so the
//! proxy can carry the setting to the client's next connections; any other session-level
//! change (a SET among other statements, in a routine body, `set_config(.., false)`) leaves the
//! connection's settings unknown, and the proxy resets it before anyone else uses it.

use sqlparser::ast::{
    ContextModifier, Expr, Reset, Set, Statement as Ast, TransactionIsolationLevel,
    TransactionMode, Value,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::lexer::{Statement, Token};

/// The value a `SET` gives, as SQL text Postgres accepts after `SET name =`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingValue {
    To(String),
    /// `RESET name` or `SET name TO DEFAULT`.
    Default,
}

/// One setting change of a lone `SET`/`RESET` statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingChange {
    /// Lower case, as Postgres matches setting names.
    pub name: String,
    pub value: SettingValue,
    /// `SET LOCAL`: ends with the transaction.
    pub local: bool,
}

impl SettingChange {
    /// `RESET ALL`: every setting back to its session default.
    pub fn all() -> SettingChange {
        SettingChange {
            name: "*".into(),
            value: SettingValue::Default,
            local: false,
        }
    }

    pub fn is_all(&self) -> bool {
        self.name == "*"
    }
}

/// How a checked text changes the session's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SessionEffect {
    #[default]
    None,
    /// The text is this one change.
    Change(SettingChange),
    /// Session-level changes the proxy does not follow, of these settings (lower case;
    /// `*` when a name cannot be told).
    Untracked(Vec<String>),
    /// The text's statement number `statements` (from 1) is `RESET ALL`: every setting goes
    /// back to its session default, what came before in the text included, and the proxy sets
    /// the tenant's context, the plan's limits and the client's login settings again right
    /// after it, in the same text: at byte `at` of it (just past the `;` that ends `RESET ALL`)
    /// when statements follow, else at its end.
    ResetAll {
        statements: usize,
        at: Option<usize>,
    },
    /// The text is one `DISCARD ALL`: the session is reset whole (settings, prepared
    /// statements, temporary tables, listens, advisory locks), and the proxy sets it up again
    /// right after it, in a message of its own (it cannot run in a multi-statement text).
    DiscardAll,
}

impl SessionEffect {
    /// Whether `name` may change, including under a name the proxy could not tell.
    pub fn touches(&self, name: &str) -> bool {
        match self {
            SessionEffect::None | SessionEffect::ResetAll { .. } | SessionEffect::DiscardAll => {
                false
            }
            SessionEffect::Change(c) => c.name == name,
            SessionEffect::Untracked(names) => names.iter().any(|n| n == name || n == "*"),
        }
    }
}

/// The session effect of `sql`, lexed into `statements`, whose statement parts (top level
/// and in routine bodies) named the settings in `names` (see [`session_changes`]).
pub fn effect(sql: &str, statements: &[Statement<'_>], mut names: Vec<String>) -> SessionEffect {
    if names.is_empty() {
        return SessionEffect::None;
    }
    if let [statement] = statements
        && starts_set_or_reset(statement)
        && let Some(change) = lone_change(sql)
    {
        return SessionEffect::Change(change);
    }
    names.sort();
    names.dedup();
    SessionEffect::Untracked(names)
}

/// Adds the names of settings one statement part may change beyond its transaction. A
/// routine's own `SET` clauses count too: they hold while it runs, which matters for limits.
pub fn session_changes(part: &[Token<'_>], names: &mut Vec<String>) {
    let head = part.first();
    if head.is_some_and(|t| t.is_kw("set")) {
        let rest = &part[1..];
        let rest = match rest.first() {
            Some(t) if t.is_kw("local") => &rest[1..],
            Some(t) if t.is_kw("transaction") => return,
            Some(t) if t.is_kw("session") => &rest[1..],
            _ => rest,
        };
        names.push(setting_name(rest));
    } else if head.is_some_and(|t| t.is_kw("reset")) {
        names.push(setting_name(&part[1..]));
    } else if head.is_some_and(|t| t.is_kw("create") || t.is_kw("alter")) {
        for (i, t) in part.iter().enumerate() {
            if t.is_kw("set") && part.get(i + 1).is_some_and(|n| n.word().is_some()) {
                names.push(setting_name(&part[i + 1..]));
            }
        }
    }
    // set_config(name, value, is_local): the guard lets only a literal name through.
    for (i, t) in part.iter().enumerate() {
        if t.word() == Some("set_config")
            && let Some(Token::Str(name)) = part.get(i + 2)
        {
            names.push(name.trim().to_ascii_lowercase());
        }
    }
}

fn setting_name(tokens: &[Token<'_>]) -> String {
    let mut words = tokens.iter().map_while(|t| match t {
        Token::Word { text, .. } => Some(text.to_ascii_lowercase()),
        Token::Punct('.') => Some(".".into()),
        _ => None,
    });
    match words.next() {
        // SET TIME ZONE, SET SESSION CHARACTERISTICS, ...: what they change is not one name.
        Some(first) if first == "time" => "timezone".into(),
        Some(first) => {
            let mut name = first;
            let mut rest: Vec<String> = words.take(2).collect();
            if rest.first().is_some_and(|p| p == ".") && rest.len() == 2 {
                name.push('.');
                name.push_str(&rest.remove(1));
            }
            name
        }
        None => "*".into(),
    }
}

fn starts_set_or_reset(statement: &Statement<'_>) -> bool {
    statement
        .first()
        .is_some_and(|t| t.is_kw("set") || t.is_kw("reset"))
}

/// Reads a text that is one `SET [SESSION|LOCAL] name {=|TO} value` or `RESET name`.
fn lone_change(sql: &str) -> Option<SettingChange> {
    let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).ok()?;
    if statements.len() != 1 {
        return None;
    }
    match statements.pop()? {
        Ast::Set(Set::SingleAssignment {
            scope,
            hivevar: false,
            variable,
            values,
        }) => {
            let value = match values.as_slice() {
                [Expr::Identifier(i)]
                    if i.quote_style.is_none() && i.value.eq_ignore_ascii_case("default") =>
                {
                    SettingValue::Default
                }
                [] => return None,
                values => SettingValue::To(
                    values
                        .iter()
                        .map(|v| match v {
                            // Postgres takes a bare word as the string it spells.
                            Expr::Identifier(i) if i.quote_style.is_none() => {
                                Value::SingleQuotedString(i.value.clone()).to_string()
                            }
                            v => v.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
            };
            // The value is sent again, as printed, on every connection the client gets: it
            // must read back as one value of one statement, or the change is not followed.
            if let SettingValue::To(v) = &value
                && !matches!(
                    super::lexer::statements(&format!("SET x = {v}")).as_deref(),
                    Ok([_])
                )
            {
                return None;
            }
            Some(SettingChange {
                name: variable.to_string().to_ascii_lowercase(),
                value,
                local: scope == Some(ContextModifier::Local),
            })
        }
        // What pgjdbc's setTransactionIsolation sends (Spring does before a transaction with
        // an isolation of its own): the session's default_transaction_isolation.
        Ast::Set(Set::SetTransaction {
            modes,
            snapshot: None,
            session: true,
        }) => match modes.as_slice() {
            [TransactionMode::IsolationLevel(level)] => Some(SettingChange {
                name: "default_transaction_isolation".into(),
                value: SettingValue::To(isolation_level(level)?.into()),
                local: false,
            }),
            _ => None,
        },
        Ast::Reset(r) => match r.reset {
            Reset::ConfigurationParameter(name) => Some(SettingChange {
                name: name.to_string().to_ascii_lowercase(),
                value: SettingValue::Default,
                local: false,
            }),
            _ => None,
        },
        _ => None,
    }
}

fn isolation_level(level: &TransactionIsolationLevel) -> Option<&'static str> {
    Some(match level {
        TransactionIsolationLevel::ReadUncommitted => "'read uncommitted'",
        TransactionIsolationLevel::ReadCommitted => "'read committed'",
        TransactionIsolationLevel::RepeatableRead => "'repeatable read'",
        TransactionIsolationLevel::Serializable => "'serializable'",
        TransactionIsolationLevel::Snapshot => return None,
    })
}

/// Reads a duration setting's value as Postgres does for `statement_timeout` (milliseconds
/// by default; units us, ms, s, min, h, d).
pub fn duration_ms(value: &str) -> Option<f64> {
    let v = value.trim().trim_matches('\'').trim();
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(v.len());
    let (number, unit) = v.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match unit.trim() {
        "" | "ms" => 1.0,
        "us" => 0.001,
        "s" => 1000.0,
        "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return None,
    };
    Some(number * factor)
}
