//! A rewritten text that serves every tenant of a database.
//!
//! Where the tenant's key belongs, the rewriter writes the marker parameter [`KEY_MARKER`];
//! a text rewritten from a [`Shape`](super::shape::Shape) also holds the shape's literal
//! markers. Their positions are found once, by lexing the printed text, and
//! [`Template::for_tenant`] copies the text with the session tenant's key (and the literals)
//! put in at those positions: the text is never searched again, so nothing a client wrote
//! can be mistaken for a marker.
//!
//! The key goes in as a literal, not as a read of the session setting: Postgres then plans
//! `"tenant_id" = 'acme'::TEXT` as a constant, and the confinement of a rewritten statement
//! does not depend on the backend connection's setting being current.

use std::ops::Range;
use std::sync::Arc;

use super::shape;
use super::{RowKey, refuse};
use crate::isolation::Violation;
use crate::isolation::lexer;

/// Stands for the tenant's key in a template. Texts that hold this string anywhere are
/// refused before they are parsed, so every one in a printed template is the rewriter's.
pub(super) const KEY_MARKER: &str = "$2000000000";

/// A rewritten text with holes for the tenant's key and for literals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    text: Arc<str>,
    holes: Arc<[Hole]>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Hole {
    at: Range<usize>,
    fill: Fill,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fill {
    Key,
    /// The shape's literal of this number; `apart` when swapping it in keeps it one token.
    Literal {
        index: usize,
        apart: bool,
    },
}

/// SQL confined to the session tenant's rows. Only a template makes one, so code that
/// demands it knows the text went through the rewriter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewrittenSql(Arc<str>);

impl RewrittenSql {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Template {
    /// Finds the holes of a printed text. Every occurrence of [`KEY_MARKER`] must be a
    /// parameter that stands apart from its neighbours, or the text is refused.
    pub(super) fn new(text: String) -> Result<Template, Violation> {
        let slip = || {
            refuse(
                "the rewritten statement would not read back the same (please report this statement)",
            )
        };
        let mut holes = Vec::new();
        // What the lexer cannot read (U& strings) the guard refuses in a client's text too.
        for at in lexer::parameter_spans(&text).map_err(refuse)? {
            let marker = &text[at.clone()];
            let apart = shape::stands_apart(&text, at.start, at.end);
            let fill = if marker == KEY_MARKER {
                if !apart {
                    return Err(slip());
                }
                Fill::Key
            } else if let Some(index) = shape::literal_index(marker) {
                Fill::Literal { index, apart }
            } else {
                continue;
            };
            holes.push(Hole { at, fill });
        }
        let keys = holes.iter().filter(|h| h.fill == Fill::Key).count();
        if keys != text.matches(KEY_MARKER).count() {
            return Err(slip());
        }
        Ok(Template {
            text: text.into(),
            holes: holes.into(),
        })
    }

    /// The text with its markers, as cached.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The text for the tenant of `key`. Literal markers stay as they are: they were the
    /// client's own `$n` parameters.
    pub fn for_tenant(&self, key: &RowKey) -> RewrittenSql {
        self.splice(key, None)
            .expect("without literals every hole can be filled")
    }

    /// The text for the tenant of `key`, with the shape's `literals` in place of their
    /// markers; `None` when one would not stay a token of its own there (then the client's
    /// text is rewritten itself).
    pub(super) fn for_shape(&self, key: &RowKey, literals: &[&str]) -> Option<RewrittenSql> {
        self.splice(key, Some(literals))
    }

    fn splice(&self, key: &RowKey, literals: Option<&[&str]>) -> Option<RewrittenSql> {
        let extra: usize = literals.map_or(0, |l| l.iter().map(|s| s.len()).sum());
        let mut out =
            String::with_capacity(self.text.len() + extra + self.holes.len() * key.literal().len());
        let mut at = 0;
        for hole in self.holes.iter() {
            let value = match (hole.fill, literals) {
                (Fill::Key, _) => key.literal(),
                (Fill::Literal { .. }, None) => continue,
                (Fill::Literal { index, apart }, Some(literals)) => {
                    if !apart {
                        return None;
                    }
                    literals.get(index)?
                }
            };
            out.push_str(&self.text[at..hole.at.start]);
            out.push_str(value);
            at = hole.at.end;
        }
        out.push_str(&self.text[at..]);
        Some(RewrittenSql(out.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(text: &str) -> Template {
        Template::new(text.into()).unwrap()
    }

    #[test]
    fn every_marker_must_be_a_parameter_of_its_own() {
        // In a string: the count of markers and of key parameters differ.
        assert!(Template::new("SELECT '$2000000000', $2000000000".into()).is_err());
        // Glued to a word it would not stay one token.
        assert!(Template::new("SELECT E$2000000000".into()).is_err());
        assert!(Template::new("SELECT $20000000001".into()).is_err());
    }

    #[test]
    fn keys_and_literals_are_spliced_in_one_pass() {
        let key = RowKey::new("o'k");
        let t = template(
            "SELECT * FROM t WHERE \"tenant_id\" = $2000000000::TEXT AND a = $1000000001 \
             AND b = $1000000000 AND c = $1",
        );
        assert_eq!(
            t.for_shape(&key, &["'x'", "42"]).unwrap().as_str(),
            "SELECT * FROM t WHERE \"tenant_id\" = 'o''k'::TEXT AND a = 42 AND b = 'x' AND c = $1"
        );
        assert_eq!(
            t.for_tenant(&key).as_str(),
            "SELECT * FROM t WHERE \"tenant_id\" = 'o''k'::TEXT AND a = $1000000001 \
             AND b = $1000000000 AND c = $1"
        );
        assert_eq!(t.for_shape(&key, &["'x'"]), None, "a literal is missing");
    }

    #[test]
    fn a_literal_marker_glued_to_a_neighbour_is_not_filled() {
        let key = RowKey::new("k");
        let t = template("SELECT 1.$1000000000");
        assert_eq!(t.for_shape(&key, &["5"]), None);
        assert_eq!(
            template("SELECT $1000000000")
                .for_shape(&key, &["5"])
                .unwrap()
                .as_str(),
            "SELECT 5"
        );
    }
}
