//! The tenant context a backend connection is set up for, and the preamble that switches it.
//!
//! The preamble is written in front of the client's first message on a checked-out
//! connection, in the same write, so a switch costs no extra round trip. Its responses are
//! swallowed by the relay.
//!
//! Switching tenants starts with `DISCARD ALL`: temp tables, WITH HOLD cursors, prepared
//! statements, advisory locks and settings of the previous tenant's clients must not be
//! reachable by the next tenant (a held cursor or a prepared statement over a qualified name
//! would otherwise hand over the previous tenant's rows).

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::BytesMut;

use crate::isolation::quote_ident;
use crate::isolation::row::{RowKey, TENANT_SETTING};
use crate::protocol::query_message;

static NEXT_CONTEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Pooled prepared statements one server connection keeps at most; past it they are all
/// deallocated and clients prepare theirs again where they need them.
const MAX_PREPARED_PER_CONNECTION: usize = 1000;

/// The session settings that confine one tenant on a shared connection.
#[derive(Debug)]
pub struct Context {
    id: u64,
    setup: String,
    search_path: Option<Vec<String>>,
}

impl Context {
    /// `search_path` is `Some` for schema and row tenants, `row_key` for row tenants. (The
    /// plan's statement_timeout is a client setting: clients may lower it.)
    pub fn new(search_path: Option<&[String]>, row_key: Option<&RowKey>) -> Context {
        let mut settings = Vec::new();
        if let Some(schemas) = search_path {
            let list: Vec<String> = schemas.iter().map(|s| quote_ident(s)).collect();
            settings.push(format!("SET search_path TO {}", list.join(", ")));
        }
        if let Some(key) = row_key {
            settings.push(format!("SET {TENANT_SETTING} = {}", key.literal()));
        }
        Context {
            id: NEXT_CONTEXT_ID.fetch_add(1, Ordering::Relaxed),
            setup: settings.join("; "),
            search_path: search_path.map(<[String]>::to_vec),
        }
    }

    /// The `search_path` pinned for the tenant, if one is.
    pub fn search_path(&self) -> Option<&[String]> {
        self.search_path.as_deref()
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn setup_sql(&self) -> &str {
        &self.setup
    }
}

/// What [`write_preamble`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preamble {
    /// Query messages written, each answered by one ReadyForQuery to swallow.
    pub queries: usize,
    /// Whether it starts with `DISCARD ALL`, which resets every session setting.
    pub discards: bool,
}

/// Writes what `conn` needs before it can serve `context`.
pub fn write_preamble(
    conn: &mut crate::backend::Connection,
    context: &Context,
    out: &mut BytesMut,
) -> Preamble {
    let mut queries = 0;
    let switching = conn.context.is_some_and(|id| id != context.id);
    let discards = conn.needs_discard || switching;
    if discards {
        // A message of its own: DISCARD ALL refuses to run in a (implicit) transaction block.
        query_message(out, "DISCARD ALL");
        queries += 1;
        conn.needs_discard = false;
        conn.context = None;
        conn.prepared.clear();
        conn.unreported.clear();
    }
    if !discards && conn.prepared.len() > MAX_PREPARED_PER_CONNECTION {
        query_message(out, "DEALLOCATE ALL");
        queries += 1;
        conn.prepared.clear();
    }
    if conn.context != Some(context.id) {
        if !context.setup.is_empty() {
            query_message(out, &context.setup);
            queries += 1;
        }
        conn.context = Some(context.id);
    }
    Preamble { queries, discards }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_pins_search_path() {
        let c = Context::new(Some(&["acme".into(), "pub\"lic".into()]), None);
        assert_eq!(c.setup_sql(), "SET search_path TO \"acme\", \"pub\"\"lic\"");
        let r = Context::new(Some(&["public".into()]), Some(&RowKey::new("o'k")));
        assert_eq!(
            r.setup_sql(),
            "SET search_path TO \"public\"; SET tenantgate.tenant_id = 'o''k'"
        );
        let d = Context::new(None, None);
        assert_eq!(d.setup_sql(), "");
        assert_ne!(c.id(), d.id());
    }
}
