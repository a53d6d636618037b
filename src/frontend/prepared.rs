//! Named prepared statements in transaction pooling.
//!
//! Every libpq client names its statements `P_0`, `P_1`, …, so on shared backend connections
//! the names collide, and a client's next transaction may land on a connection that never saw
//! its Parse. The proxy therefore gives each distinct statement (SQL text and parameter types)
//! one pooled name, `tenantgate_s<id>`, shared by every client that prepares the same text;
//! keeps each client's own names in [`ClientStatements`]; renames Bind, Describe and Close;
//! and prepares a statement again on a connection that lacks it, in front of the message that
//! needs it. Each backend connection remembers the ids it has prepared.
//!
//! A client can only reach statements through its own names, so it can only execute SQL it
//! sent itself, and that SQL passed its tenant's policy when it was parsed.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::{BufMut, Bytes, BytesMut};

use crate::isolation::SettingChange;
use crate::protocol::message;

/// Distinct statements remembered at most; past it the memory starts over (see `intern`).
const MAX_REMEMBERED: usize = 10_000;

/// The process-wide ids of distinct statements.
#[derive(Debug, Default)]
pub struct Registry {
    inner: Mutex<Remembered>,
}

#[derive(Debug, Default)]
struct Remembered {
    ids: HashMap<Box<[u8]>, u64>,
    last_id: u64,
}

impl Registry {
    /// The id of the statement `sql` with the Parse message's parameter-type `tail`.
    ///
    /// Clients that put values into statement texts would grow the map without end, so it is
    /// forgotten when full. Nothing breaks: clients keep their statements' ids, and a text
    /// prepared again only gets a new id, so connections may hold it twice for a while.
    pub fn intern(&self, sql: &[u8], tail: &[u8]) -> u64 {
        let mut key = Vec::with_capacity(sql.len() + 1 + tail.len());
        key.extend_from_slice(sql);
        key.push(0);
        key.extend_from_slice(tail);
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&id) = inner.ids.get(key.as_slice()) {
            return id;
        }
        if inner.ids.len() >= MAX_REMEMBERED {
            inner.ids.clear();
        }
        inner.last_id += 1;
        let id = inner.last_id;
        inner.ids.insert(key.into_boxed_slice(), id);
        id
    }
}

/// One client's named statement.
#[derive(Debug, Clone)]
pub struct Statement {
    pub id: u64,
    /// The Parse message under the pooled name, to prepare it on any connection.
    pub parse: Bytes,
    /// Running it changes session settings in a way the proxy does not follow: the
    /// connection it runs on must be reset before anyone else uses it.
    pub changes_session: bool,
    /// It is exactly this setting change, which follows the client once it has run.
    pub change: Option<SettingChange>,
}

/// The names one client has prepared.
#[derive(Debug, Default)]
pub struct ClientStatements {
    by_name: HashMap<Box<[u8]>, Statement>,
}

impl ClientStatements {
    pub fn insert(&mut self, name: &[u8], statement: Statement) {
        self.by_name.insert(name.into(), statement);
    }

    pub fn get(&self, name: &[u8]) -> Option<&Statement> {
        self.by_name.get(name)
    }

    pub fn remove(&mut self, name: &[u8]) {
        self.by_name.remove(name);
    }

    pub fn clear(&mut self) {
        self.by_name.clear();
    }
}

/// The name a statement has on backend connections.
pub fn pooled_name(id: u64) -> String {
    format!("tenantgate_s{id}")
}

/// A Parse message preparing `sql` under the pooled name of `id`.
pub fn parse_message(id: u64, sql: &[u8], tail: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(sql.len() + tail.len() + 32);
    message(&mut out, b'P', |b| {
        b.put_slice(pooled_name(id).as_bytes());
        b.put_u8(0);
        b.put_slice(sql);
        b.put_u8(0);
        b.put_slice(tail);
    });
    out.freeze()
}

/// Appends `tag` `prefix` `name\0` `rest`: a Bind, Describe or Close with its statement renamed.
pub fn renamed(out: &mut BytesMut, tag: u8, prefix: &[u8], name: &str, rest: &[u8]) {
    message(out, tag, |b| {
        b.put_slice(prefix);
        b.put_slice(name.as_bytes());
        b.put_u8(0);
        b.put_slice(rest);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_statements_share_an_id() {
        let r = Registry::default();
        let a = r.intern(b"SELECT 1", b"\0\0");
        assert_eq!(r.intern(b"SELECT 1", b"\0\0"), a);
        assert_ne!(
            r.intern(b"SELECT 1", b"\0\x01\0\0\0\x17"),
            a,
            "parameter types are part of it"
        );
        assert_ne!(r.intern(b"SELECT 2", b"\0\0"), a);
    }

    #[test]
    fn ids_stay_unique_when_the_memory_starts_over() {
        let r = Registry::default();
        let first = r.intern(b"SELECT 0", b"");
        for i in 1..=MAX_REMEMBERED as u64 {
            r.intern(format!("SELECT {i}").as_bytes(), b"");
        }
        let again = r.intern(b"SELECT 0", b"");
        assert!(
            again > first,
            "a forgotten text gets a fresh id, never a reused one"
        );
    }

    #[test]
    fn parse_message_is_well_formed() {
        let m = parse_message(7, b"SELECT $1", b"\0\x01\0\0\0\x17");
        assert_eq!(m[0], b'P');
        assert_eq!(
            i32::from_be_bytes([m[1], m[2], m[3], m[4]]) as usize + 1,
            m.len()
        );
        assert!(m[5..].starts_with(b"tenantgate_s7\0SELECT $1\0"));
    }
}
