//! Checks every tenant's statements pass, whatever the isolation mode.
//!
//! All tenants of a cluster reach Postgres as one role, so anything that acts on that role,
//! on the server, on other sessions or on what confines the session is refused:
//!
//! | rule | refused |
//! |---|---|
//! | protected setting | `SET`/`SET LOCAL`/`RESET` of `search_path`, `role`, `session_authorization`, `tenantgate.*`, `standard_conforming_strings`, `client_encoding` and the other names of [`is_protected_setting`](super::is_protected_setting); `SET ROLE`, `SET SESSION AUTHORIZATION` (but not their resets to the login role, see `resets_identity`), `SET NAMES`, `SET SCHEMA`, `RESET ALL` (but one per text is neutralised, see [`Policy::check_pooled`](super::Policy::check_pooled)), `DISCARD ALL` (but as a text's only statement it is followed by the tenant's setup, ditto); a `SET` of `standard_conforming_strings` or `client_encoding` to the value the proxy pins is allowed; `SET` clauses of functions and procedures naming those settings; `set_config()` unless its first argument is a string naming an unprotected setting |
//! | forbidden statement | `CREATE`/`ALTER`/`DROP` of roles, users, groups, databases, tablespaces, subscriptions, publications, extensions, servers, foreign-data wrappers, user mappings, event triggers, languages; `ALTER SYSTEM`, `DROP OWNED`, `REASSIGN OWNED`, `LOAD`, `CHECKPOINT`, `SECURITY LABEL`, `IMPORT FOREIGN SCHEMA`; `COPY` to or from a server file or `PROGRAM` |
//! | forbidden function | server files (`pg_read_file`, `pg_ls_*`, `pg_stat_file`, …), large objects (`lo_*`, database-wide), `dblink*`, other sessions (`pg_terminate_backend`, `pg_cancel_backend`, `pg_stat_get_*`), SQL given as text (`query_to_xml` and the other `*_to_xml*`, `ts_stat`, `ts_rewrite`), server control (`pg_reload_conf`, …); and the views that show other sessions or other tables' values: `pg_stat_activity`, `pg_locks`, `pg_stats*`, `pg_stat_statements`, `pg_prepared_xacts`, `pg_stat_replication`, `pg_stat_ssl`, `pg_stat_gssapi`, `pg_stat_progress_*`, `pg_largeobject*` |
//! | shared by schema tenants | for schema tenants only: `LISTEN`, `NOTIFY`, `pg_notify()` (channels are database-wide; `UNLISTEN` only ends the session's own subscriptions), `PREPARE TRANSACTION`, `COMMIT PREPARED`, `ROLLBACK PREPARED` (ids are database-wide), and `CREATE`/`ALTER`/`DROP SCHEMA`, `IMPORT FOREIGN SCHEMA` |
//! | dynamic SQL | `EXECUTE` inside the body of a `DO` block or a function or procedure: SQL built at run time escapes every static check. Bodies are otherwise checked like any statement. Bodies in languages other than `sql` and `plpgsql`, which no static check can read. |
//! | session only | in transaction pooling: temporary objects, `WITH HOLD` cursors, `LISTEN`, session advisory locks, SQL-level `PREPARE`/`EXECUTE`/`DEALLOCATE` (see [`session_features`]) |
//!
//! Inside routine bodies every statement PL/pgSQL nests after `BEGIN`, `THEN`, `ELSE`, `LOOP`
//! or a label is checked as a statement of its own (see [`parts`]). `pg_settings` may only be
//! read: an `UPDATE` of it runs `set_config()`.
//!
//! In session pooling SQL-level `PREPARE`/`EXECUTE` are allowed: the prepared statement is
//! part of the checked text. The proxy's own `tenantgate_…` statement names are reserved.

use super::lexer::Token;
use super::{Rule, Violation, is_pinned_value, is_protected_setting};

fn refuse(rule: Rule, detail: impl Into<String>) -> Violation {
    Violation {
        rule,
        detail: detail.into(),
    }
}

/// Checks one statement; `schema_tenant` adds the refusal of what schema tenants share:
/// schemas themselves, notification channels and prepared-transaction ids.
/// Routine bodies are checked by the caller, see [`routine_bodies`].
pub fn check(statement: &[Token<'_>], schema_tenant: bool) -> Result<(), Violation> {
    forbidden_statement(statement, schema_tenant)?;
    routine_language(statement)?;
    settings(statement)?;
    settings_view(statement)?;
    functions_and_views(statement, schema_tenant)
}

/// The statement and, inside a routine body (`in_body`), each statement nested in it:
/// PL/pgSQL starts one after `BEGIN`, `THEN`, `ELSE`, `LOOP` and a `<<label>>` without a `;`
/// in between, so `BEGIN DROP OWNED BY CURRENT_USER` must face the same checks as
/// `DROP OWNED BY CURRENT_USER`.
pub fn parts<'s, 'a>(
    statement: &'s [Token<'a>],
    in_body: bool,
) -> impl Iterator<Item = &'s [Token<'a>]> {
    let nested = (1..statement.len()).filter(move |&i| {
        let before = &statement[i - 1];
        in_body
            && (matches!(before, Token::Op(">>"))
                || ["begin", "then", "else", "loop"]
                    .iter()
                    .any(|kw| before.is_kw(kw)))
    });
    std::iter::once(statement).chain(nested.map(move |i| &statement[i..]))
}

fn words<'s>(statement: &'s [Token<'_>]) -> impl Iterator<Item = &'s str> {
    statement.iter().map_while(|t| match t {
        Token::Word {
            text,
            quoted: false,
        } => Some(text.as_ref()),
        _ => None,
    })
}

/// Statement kinds that act beyond one tenant.
fn forbidden_statement(statement: &[Token<'_>], schema_tenant: bool) -> Result<(), Violation> {
    const OBJECTS: &[&str] = &[
        "role",
        "user",
        "group",
        "database",
        "tablespace",
        "subscription",
        "publication",
        "extension",
        "server",
        "language",
    ];
    let head: Vec<&str> = words(statement).take(4).collect();
    let object = match head.as_slice() {
        ["create", "or", "replace", rest @ ..]
        | ["create", rest @ ..]
        | ["alter", rest @ ..]
        | ["drop", rest @ ..] => {
            let rest: Vec<&str> = rest
                .iter()
                .copied()
                .filter(|w| !matches!(*w, "trusted" | "procedural"))
                .collect();
            match rest.as_slice() {
                [o, ..] if OBJECTS.contains(o) => Some(o.to_string()),
                ["foreign", "data", ..] => Some("foreign data wrapper".into()),
                ["user", "mapping", ..] => Some("user mapping".into()),
                ["event", "trigger", ..] => Some("event trigger".into()),
                ["system", ..] => Some("system".into()),
                ["owned", ..] => Some("owned".into()),
                ["schema", ..] if schema_tenant => Some("schema".into()),
                _ => None,
            }
        }
        ["reassign", "owned", ..] => Some("owned".into()),
        ["load", ..] | ["checkpoint", ..] => Some(head[0].to_string()),
        ["security", "label", ..] => Some("security label".into()),
        ["import", "foreign", "schema", ..] => Some("foreign schema".into()),
        // Notification channels and prepared-transaction ids belong to the whole database,
        // which schema tenants share. (UNLISTEN only ends this session's own subscriptions.)
        ["listen" | "notify", ..] if schema_tenant => {
            Some("(channels are shared by the database's tenants)".into())
        }
        ["prepare", "transaction", ..] | ["commit" | "rollback", "prepared", ..]
            if schema_tenant =>
        {
            Some("prepared transaction (ids are shared by the database's tenants)".into())
        }
        _ => None,
    };
    if let Some(object) = object {
        let verb = head.first().copied().unwrap_or_default().to_uppercase();
        // Object names in capitals, as SQL writes them; a reason in parentheses as it is.
        let object = match object.split_once(" (") {
            Some((name, reason)) => format!("{} ({reason}", name.to_uppercase()),
            None if object.starts_with('(') => object,
            None => object.to_uppercase(),
        };
        return Err(refuse(Rule::ForbiddenStatement, format!("{verb} {object}")));
    }
    if head.first() == Some(&"copy") {
        copy_target(statement)?;
    }
    reserved_statement_names(statement)
}

/// The proxy prepares statements under `tenantgate_…` names on shared connections; SQL-level
/// PREPARE, EXECUTE and DEALLOCATE may not touch them.
fn reserved_statement_names(statement: &[Token<'_>]) -> Result<(), Violation> {
    let name = match statement {
        [first, name, ..] if first.is_kw("prepare") || first.is_kw("execute") => name,
        [first, second, name, ..] if first.is_kw("deallocate") && second.is_kw("prepare") => name,
        [first, name, ..] if first.is_kw("deallocate") => name,
        _ => return Ok(()),
    };
    match name.word() {
        Some(n) if n.to_ascii_lowercase().starts_with("tenantgate_") => Err(refuse(
            Rule::ForbiddenStatement,
            format!("prepared statement names starting with tenantgate_ are reserved ({n})"),
        )),
        _ => Ok(()),
    }
}

/// `COPY … FROM/TO` must use the client's stream, never a server file or program.
fn copy_target(statement: &[Token<'_>]) -> Result<(), Violation> {
    let mut depth = 0i32;
    for (i, t) in statement.iter().enumerate() {
        match t {
            Token::Punct('(') => depth += 1,
            Token::Punct(')') => depth -= 1,
            t if depth == 0 && (t.is_kw("from") || t.is_kw("to")) => {
                return match statement.get(i + 1) {
                    Some(next) if next.is_kw("stdin") || next.is_kw("stdout") => Ok(()),
                    _ => Err(refuse(
                        Rule::ForbiddenStatement,
                        "COPY to or from a server file or program; use STDIN/STDOUT",
                    )),
                };
            }
            _ => {}
        }
    }
    Ok(())
}

/// `SET`, `RESET`, `DISCARD ALL` and `set_config()` of protected settings.
fn settings(statement: &[Token<'_>]) -> Result<(), Violation> {
    // Routine definitions have SET clauses but no assignments.
    let definition = statement
        .first()
        .is_some_and(|t| t.is_kw("create") || t.is_kw("alter") || t.is_kw("do"));
    for (i, t) in statement.iter().enumerate() {
        let rest = &statement[i + 1..];
        if t.is_kw("set") && (definition || !is_assignment(&statement[..i])) {
            set_clause(rest)?;
        } else if t.is_kw("reset") {
            reset(rest)?;
        } else if t.is_kw("discard") && rest.first().is_some_and(|n| n.is_kw("all")) {
            return Err(refuse(Rule::ProtectedSetting, "DISCARD ALL"));
        } else if t.word() == Some("set_config") {
            set_config(rest)?;
        } else if definition && matches!(t, Token::Str(s) if names_set_config(s)) {
            // `CREATE AGGREGATE … (SFUNC = 'set_config')` names the function by a string.
            return Err(refuse(Rule::ProtectedSetting, "set_config as a routine"));
        }
    }
    Ok(())
}

/// `set_config(…)` is allowed only as a call whose first argument is one string literal
/// naming an unprotected setting: `'search' || '_path'` is computed, and a bare reference
/// (`CREATE AGGREGATE … (SFUNC = set_config)`) calls it with arguments no one can see.
fn set_config(rest: &[Token<'_>]) -> Result<(), Violation> {
    match (rest.first(), rest.get(1), rest.get(2)) {
        (Some(open), Some(Token::Str(name)), Some(comma))
            if open.is_punct('(') && comma.is_punct(',') =>
        {
            if is_protected_setting(name) {
                return Err(refuse(
                    Rule::ProtectedSetting,
                    format!("set_config('{name}')"),
                ));
            }
            Ok(())
        }
        _ => Err(refuse(
            Rule::ProtectedSetting,
            "set_config() whose first argument is not a single string literal",
        )),
    }
}

fn names_set_config(s: &str) -> bool {
    let s = s.trim().to_ascii_lowercase();
    s == "set_config" || s == "pg_catalog.set_config"
}

/// Writing `pg_settings` runs `set_config()` through the view's rules, also through a view
/// or rule built on it; only plain reads of it are allowed.
fn settings_view(statement: &[Token<'_>]) -> Result<(), Violation> {
    if !statement.iter().any(|t| t.word() == Some("pg_settings")) {
        return Ok(());
    }
    let read = statement.first().is_some_and(|t| t.is_kw("select"))
        && !statement.iter().any(|t| {
            ["update", "insert", "delete", "merge", "into"]
                .iter()
                .any(|kw| t.is_kw(kw))
        });
    if read {
        return Ok(());
    }
    Err(refuse(
        Rule::ProtectedSetting,
        "pg_settings outside a plain SELECT (writing it changes settings)",
    ))
}

/// Bodies the checks can read: SQL and PL/pgSQL. Any other language (`plperl`, `plv8`, `c`,
/// `internal`, …) runs code, and SQL built in it, that no static check follows.
fn routine_language(statement: &[Token<'_>]) -> Result<(), Violation> {
    let head: Vec<&str> = words(statement).take(4).collect();
    let is_do = head.first() == Some(&"do");
    if !is_do && !is_routine_definition(&head) {
        return Ok(());
    }
    let mut depth = 0i32;
    for (i, t) in statement.iter().enumerate() {
        match t {
            Token::Punct('(') => depth += 1,
            Token::Punct(')') => depth -= 1,
            t if depth == 0 && t.is_kw("language") => {
                let language = match statement.get(i + 1) {
                    Some(Token::Word { text, .. }) => text.to_string(),
                    Some(Token::Str(text)) => text.to_string(),
                    _ => String::new(),
                };
                if !matches!(language.as_str(), "sql" | "plpgsql") {
                    return Err(refuse(
                        Rule::DynamicSql,
                        format!("LANGUAGE {language}: only sql and plpgsql bodies can be checked"),
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn is_routine_definition(head: &[&str]) -> bool {
    matches!(
        head,
        ["create", "function" | "procedure", ..]
            | ["create", "or", "replace", "function" | "procedure"]
    )
}

/// Whether a `SET` preceded by `before` starts an UPDATE's assignment list:
/// `UPDATE [ONLY] name [*] [[AS] alias] SET`, `DO UPDATE SET`, `THEN UPDATE SET`.
fn is_assignment(before: &[Token<'_>]) -> bool {
    for t in before.iter().rev().take(7) {
        match t {
            t if t.is_kw("update") => return true,
            Token::Word { .. } | Token::Punct('.') | Token::Op("*") => continue,
            _ => return false,
        }
    }
    false
}

fn set_clause(rest: &[Token<'_>]) -> Result<(), Violation> {
    let rest = match rest.first() {
        Some(t)
            if t.is_kw("session")
                && !rest
                    .get(1)
                    .is_some_and(|n| n.is_kw("authorization") || n.is_kw("characteristics")) =>
        {
            &rest[1..]
        }
        Some(t) if t.is_kw("local") => &rest[1..],
        _ => rest,
    };
    let name = setting_name(rest);
    if sets_pinned_value(rest) || resets_identity(rest, true) {
        return Ok(());
    }
    let refused = match name.as_deref() {
        Some("role") | Some("names") | Some("schema") => true,
        Some("session") => rest.get(1).is_some_and(|t| t.is_kw("authorization")),
        Some(n) => is_protected_setting(n),
        None => false,
    };
    if refused {
        return Err(refuse(
            Rule::ProtectedSetting,
            format!("SET {}", name.unwrap_or_default()),
        ));
    }
    Ok(())
}

/// A `SET` of a setting the proxy pins on every server connection, to the value it pins,
/// changes nothing: drivers send these when they connect (Rails:
/// `SET standard_conforming_strings = on`; `SET client_encoding TO 'UTF8'`; `SET NAMES 'utf8'`).
/// `rest` starts at the setting's name and must hold nothing after the value.
fn sets_pinned_value(rest: &[Token<'_>]) -> bool {
    let (name, value) = match rest {
        [name, value] if name.is_kw("names") => (name, value),
        [name, assign, value] if matches!(assign, Token::Op("=")) || assign.is_kw("to") => {
            (name, value)
        }
        _ => return false,
    };
    match (name.word(), value) {
        (Some(name), Token::Word { text, .. } | Token::Str(text)) => is_pinned_value(name, text),
        _ => false,
    }
}

/// `SET SESSION AUTHORIZATION DEFAULT`, `SET ROLE NONE`, `RESET SESSION AUTHORIZATION` and
/// `RESET ROLE` (`rest` starts after `SET`/`RESET`) return to the role the proxy logged in as,
/// which is where every server connection always is: the proxy never changes the role, and
/// clients may not. Pools reset connections with them (Npgsql:
/// `SET SESSION AUTHORIZATION DEFAULT;RESET ALL;…`).
fn resets_identity(rest: &[Token<'_>], set: bool) -> bool {
    let keywords: Option<Vec<&str>> = rest
        .iter()
        .map(|t| match t {
            Token::Word {
                text,
                quoted: false,
            } => Some(text.as_ref()),
            _ => None,
        })
        .collect();
    matches!(
        (set, keywords.as_deref()),
        (
            true,
            Some(["session", "authorization", "default"] | ["role", "none"])
        ) | (false, Some(["session", "authorization"] | ["role"]))
    )
}

fn reset(rest: &[Token<'_>]) -> Result<(), Violation> {
    if resets_identity(rest, false) {
        return Ok(());
    }
    let name = setting_name(rest).unwrap_or_default();
    if matches!(name.as_str(), "all" | "role" | "session") || is_protected_setting(&name) {
        return Err(refuse(Rule::ProtectedSetting, format!("RESET {name}")));
    }
    Ok(())
}

/// A setting name: a word, or `word.word` for custom settings.
fn setting_name(tokens: &[Token<'_>]) -> Option<String> {
    let first = tokens.first()?.word()?.to_ascii_lowercase();
    match (tokens.get(1), tokens.get(2).and_then(Token::word)) {
        (Some(Token::Punct('.')), Some(second)) => {
            Some(format!("{first}.{}", second.to_ascii_lowercase()))
        }
        _ => Some(first),
    }
}

fn forbidden_name(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "pg_stat_activity",
        "pg_locks",
        "pg_stat_statements",
        "pg_stat_statements_info",
        "pg_prepared_xacts",
        "pg_stat_replication",
        "pg_stat_ssl",
        "pg_stat_gssapi",
        "pg_stat_wal_receiver",
        "pg_stat_subscription",
        "pg_backend_memory_contexts",
        "pg_terminate_backend",
        "pg_cancel_backend",
        "pg_reload_conf",
        "pg_rotate_logfile",
        "pg_promote",
        "pg_stat_file",
        "pg_blocking_pids",
        "pg_safe_snapshot_blocking_pids",
        "pg_log_backend_memory_contexts",
        "pg_current_logfile",
        "loread",
        "lowrite",
        "ts_stat",
        "ts_rewrite",
        "connectby",
        "pg_stat_reset",
        "pg_stat_reset_shared",
        "pg_stat_reset_single_table_counters",
        "pg_notification_queue_usage",
    ];
    const PREFIXES: &[&str] = &[
        "pg_stats",
        "pg_stat_progress_",
        "pg_stat_get_",
        "pg_read_",
        "pg_ls_",
        "pg_file_",
        "lo_",
        "dblink",
        "pg_largeobject",
        "pg_stat_statements",
        "crosstab",
    ];
    EXACT.contains(&name)
        || PREFIXES.iter().any(|p| name.starts_with(p))
        || name.contains("_to_xml")
        || name.starts_with("query_to_xml")
}

fn functions_and_views(statement: &[Token<'_>], schema_tenant: bool) -> Result<(), Violation> {
    for t in statement {
        if let Some(name) = t.word() {
            let name = name.to_ascii_lowercase();
            if forbidden_name(&name) || (schema_tenant && name == "pg_notify") {
                return Err(refuse(Rule::ForbiddenFunction, name));
            }
        }
    }
    Ok(())
}

/// The bodies of a `DO` block or of a function or procedure being created: SQL (or PL/pgSQL)
/// that runs later and must pass the same checks, and may not build SQL at run time.
pub fn routine_bodies<'s>(statement: &'s [Token<'_>]) -> Vec<&'s str> {
    let head: Vec<&str> = words(statement).take(4).collect();
    let is_do = head.first() == Some(&"do");
    let is_routine = is_routine_definition(&head);
    if !(is_do || is_routine) {
        return Vec::new();
    }
    statement
        .iter()
        .enumerate()
        .filter_map(|(i, t)| match t {
            Token::Str(body)
                if is_do || statement[..i].iter().rev().take(3).any(|p| p.is_kw("as")) =>
            {
                Some(body.as_ref())
            }
            _ => None,
        })
        .collect()
}

/// What needs a server session to outlive the transaction, which transaction pooling cannot
/// give: temp tables, WITH HOLD cursors, LISTEN, session advisory locks and SQL-level
/// prepared statements (protocol-level ones are pooled by the proxy).
pub fn session_features(statement: &[Token<'_>]) -> Result<(), Violation> {
    let head: Vec<&str> = words(statement).take(5).collect();
    let creates_temporary = statement.iter().enumerate().any(|(i, t)| {
        t.is_kw("create")
            && statement[i + 1..]
                .iter()
                .find(|w| {
                    !(w.is_kw("or") || w.is_kw("replace") || w.is_kw("global") || w.is_kw("local"))
                })
                .is_some_and(|w| w.is_kw("temp") || w.is_kw("temporary"))
    });
    let dropped_at_commit = statement
        .windows(3)
        .any(|w| w[0].is_kw("on") && w[1].is_kw("commit") && w[2].is_kw("drop"));
    let feature = match head.as_slice() {
        _ if creates_temporary && !dropped_at_commit => Some("temporary objects"),
        ["declare", ..]
            if statement
                .windows(2)
                .any(|w| w[0].is_kw("with") && w[1].is_kw("hold")) =>
        {
            Some("WITH HOLD cursors")
        }
        ["listen", ..] => Some("LISTEN"),
        ["prepare", second, ..] if *second != "transaction" => {
            Some("SQL-level PREPARE (use the protocol's Parse, which is pooled)")
        }
        ["execute", ..] | ["deallocate", ..] => Some("SQL-level EXECUTE/DEALLOCATE"),
        _ => None,
    };
    if let Some(feature) = feature {
        return Err(refuse(Rule::SessionOnly, feature));
    }
    let session_lock = statement.iter().find_map(|t| {
        t.word().filter(|w| {
            let w = w.to_ascii_lowercase();
            w.starts_with("pg_")
                && w.contains("advisory")
                && !w.contains("xact")
                && w != "pg_advisory_unlock_all"
        })
    });
    match session_lock {
        Some(f) => Err(refuse(
            Rule::SessionOnly,
            format!("session advisory lock {f}(); use pg_advisory_xact_lock()"),
        )),
        None => Ok(()),
    }
}
