//! Values the proxy pins on every server connection, which a client may set to the same value
//! to no effect: drivers and ORMs do when they connect (Rails' `SET standard_conforming_strings
//! = on`, Prisma's `SET search_path = "<schema>"`).

use super::lexer::{Token, statements};

/// Whether `value` is what the proxy pins `setting` to on every server connection, so that a
/// client setting it so changes nothing (drivers do on connect).
pub fn is_pinned_value(setting: &str, value: &str) -> bool {
    let value = value.trim().to_ascii_lowercase();
    match setting.trim().to_ascii_lowercase().as_str() {
        "standard_conforming_strings" => matches!(value.as_str(), "on" | "true" | "yes"),
        "client_encoding" | "names" => matches!(value.as_str(), "utf8" | "utf-8" | "unicode"),
        _ => false,
    }
}

/// Whether `sql` is one `SET search_path` to exactly `pinned`, the path the proxy pins for the
/// tenant: it changes nothing, like a pinned value (Prisma sends `SET search_path = "<schema>"`
/// when it connects through a pooler). Names compare as Postgres reads them: unquoted folded to
/// lower case, quoted and string elements exactly.
pub fn sets_pinned_search_path(sql: &str, pinned: &[String]) -> bool {
    let Ok(lexed) = statements(sql) else {
        return false;
    };
    let [statement] = lexed.as_slice() else {
        return false;
    };
    let rest = match statement.as_slice() {
        [set, scope, rest @ ..]
            if set.is_kw("set") && (scope.is_kw("session") || scope.is_kw("local")) =>
        {
            rest
        }
        [set, rest @ ..] if set.is_kw("set") => rest,
        _ => return false,
    };
    let [name, assign, list @ ..] = rest else {
        return false;
    };
    if !name.is_kw("search_path") || !(assign.is_kw("to") || matches!(assign, Token::Op("="))) {
        return false;
    }
    is_path(list, pinned)
}

/// Whether `value`, a `search_path` given at startup (`options=-c search_path=…`), is exactly
/// `pinned`: then it changes nothing and the login may go on.
pub fn is_pinned_search_path(value: &str, pinned: &[String]) -> bool {
    match statements(value).as_deref() {
        Ok([list]) => is_path(list, pinned),
        _ => false,
    }
}

/// Whether `list` is the elements of `pinned`, separated by commas: a word (folded unless
/// quoted) or a string each.
fn is_path(list: &[Token<'_>], pinned: &[String]) -> bool {
    let mut elements = Vec::new();
    for (i, token) in list.iter().enumerate() {
        match (i % 2, token) {
            (0, Token::Word { text, .. } | Token::Str(text)) => elements.push(text),
            (1, t) if t.is_punct(',') => {}
            _ => return false,
        }
    }
    list.len() % 2 == 1
        && elements
            .iter()
            .map(|e| e.as_ref())
            .eq(pinned.iter().map(String::as_str))
}
