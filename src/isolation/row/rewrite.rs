//! The rewriter's entry points: [`rewrite`] for one SQL text, [`Cache`] to do it once per
//! distinct text.
//!
//! A text is parsed into statements; each is walked by [`scope`](super::scope), which refuses
//! what it cannot confine and rewrites what it can. When nothing changed the client's bytes
//! go through untouched; otherwise every statement is printed from its AST, after the checks
//! of [`fidelity`](super::fidelity), into a [`Template`] that serves every tenant.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::catalog::Catalog;
use super::shape::Shape;
use super::template::{KEY_MARKER, RewrittenSql, Template};
use super::{RowKey, fidelity, refuse, scope};
use crate::isolation::Violation;

/// What to send for a row tenant's SQL text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rewritten {
    /// Forward the client's text as it is.
    Unchanged,
    /// Forward this text, filled in for the session's tenant, instead.
    Changed(Template),
}

/// Confines every statement of `sql` to the tenant of a key to be filled in, or refuses the
/// text.
pub fn rewrite(catalog: &Catalog, sql: &str) -> Result<Rewritten, Violation> {
    if sql.contains(KEY_MARKER) {
        return Err(refuse(format!(
            "the text holds {KEY_MARKER}, which tenantgate reserves"
        )));
    }
    let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql)
        .map_err(|e| refuse(format!("statement cannot be parsed: {e}")))?;
    let mut changed = false;
    for statement in &mut statements {
        changed |= scope::confine(catalog, statement)?;
    }
    if !changed {
        return Ok(Rewritten::Unchanged);
    }
    for statement in &statements {
        fidelity::misread(statement)?;
    }
    let printed = statements
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    fidelity::reparsed(&statements, &printed)?;
    Ok(Rewritten::Changed(Template::new(printed)?))
}

/// Whether `sql` has something like a `$n` parameter (in a string or comment too: then it is
/// merely not shared with texts of the same shape).
fn has_parameters(sql: &str) -> bool {
    sql.as_bytes()
        .windows(2)
        .any(|w| w[0] == b'$' && w[1].is_ascii_digit())
}

/// Texts longer than this are rewritten every time: they are rare, and would let a few
/// statements hold much memory.
const MAX_CACHED_TEXT: usize = 16 * 1024;

/// Rewrites by SQL text (or by shape, see [`Shape`]), refusals included. Bounded: when full,
/// an arbitrary entry makes room. A cache serves one catalog; given another (after a reload),
/// it starts over.
pub struct Cache {
    capacity: usize,
    entries: RwLock<Entries>,
}

struct Entries {
    catalog: u64,
    by_text: HashMap<Box<str>, Result<Rewritten, Violation>>,
}

impl Cache {
    /// A cache of at most `capacity` texts (0 caches nothing).
    pub fn new(capacity: usize) -> Self {
        Cache {
            capacity,
            entries: RwLock::new(Entries {
                catalog: 0,
                by_text: HashMap::new(),
            }),
        }
    }

    /// [`rewrite`], remembered, for the tenant of `key`; `None` when the client's text goes
    /// as it is. Texts that differ only in literal values share one entry.
    pub fn rewrite(
        &self,
        catalog: &Catalog,
        sql: &str,
        key: &RowKey,
    ) -> Result<Option<RewrittenSql>, Violation> {
        // A text with parameters comes from a client that prepares statements and sends the
        // same text again: looked up as it is, with no lexing.
        if !has_parameters(sql)
            && let Some(shape) = Shape::of(sql)
        {
            match self.remembered(catalog, &shape.key) {
                Ok(Rewritten::Unchanged) => return Ok(None),
                Ok(Rewritten::Changed(template)) => {
                    if let Some(filled) = template.for_shape(key, &shape.literals) {
                        return Ok(Some(filled));
                    }
                }
                // A literal where no parameter may stand (`numeric(10, 2)`, `DATE '…'`):
                // the text is rewritten as it is.
                Err(_) => {}
            }
        }
        Ok(match self.remembered(catalog, sql)? {
            Rewritten::Unchanged => None,
            Rewritten::Changed(template) => Some(template.for_tenant(key)),
        })
    }

    pub(super) fn remembered(&self, catalog: &Catalog, sql: &str) -> Result<Rewritten, Violation> {
        if let Some(hit) = self.get(catalog, sql) {
            return hit;
        }
        let result = rewrite(catalog, sql);
        if sql.len() <= MAX_CACHED_TEXT && self.capacity > 0 {
            self.insert(catalog, sql, result.clone());
        }
        result
    }

    /// How many texts are cached.
    pub fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .by_text
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn get(&self, catalog: &Catalog, sql: &str) -> Option<Result<Rewritten, Violation>> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        if entries.catalog != catalog.id() {
            return None;
        }
        entries.by_text.get(sql).cloned()
    }

    fn insert(&self, catalog: &Catalog, sql: &str, result: Result<Rewritten, Violation>) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.catalog != catalog.id() {
            entries.catalog = catalog.id();
            entries.by_text.clear();
        }
        if entries.by_text.len() >= self.capacity
            && !entries.by_text.contains_key(sql)
            && let Some(victim) = entries.by_text.keys().next().cloned()
        {
            entries.by_text.remove(&victim);
        }
        entries.by_text.insert(sql.into(), result);
    }
}
