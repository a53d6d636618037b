//! Texts that differ only in their literal values share one rewrite.
//!
//! Simple-protocol clients inline values (`WHERE aid = 4711`), so each execution is a new
//! text and would miss a cache keyed by text. A [`Shape`] stands each plain literal in for a
//! marker parameter (`$1000000000`, `$1000000001`, ...); the shape is rewritten once, and
//! each text's own literals are put back into the rewritten shape.
//!
//! This is sound because the rewriter never looks at a value: what it does to `$n` it does
//! to any literal in its place (the extended protocol relies on the same), and a literal is
//! put back only where it stands apart from its neighbours, so it reads as the same token.

use std::fmt::Write;

use crate::isolation::lexer;

/// A marker is `$` and this many digits, far above any real parameter number (at most 65535).
const MARKER_DIGITS: usize = 10;
const MARKER_BASE: usize = 1_000_000_000;
/// Texts with more literals are rewritten as they are.
const MAX_LITERALS: usize = 10_000;

/// A SQL text with its literals taken out.
pub(super) struct Shape<'a> {
    /// The text with a marker for each literal: valid SQL, rewritten in the text's place.
    pub key: String,
    /// The literals as written, by marker number.
    pub literals: Vec<&'a str>,
}

impl<'a> Shape<'a> {
    /// `None` when the text has no literal to take out, or cannot be read.
    pub(super) fn of(sql: &'a str) -> Option<Shape<'a>> {
        if has_long_number_after_dollar(sql) {
            return None;
        }
        let spans = lexer::literal_spans(sql).ok()?;
        if spans.len() > MAX_LITERALS {
            return None;
        }
        let mut key = String::with_capacity(sql.len() + 8 * spans.len());
        let mut literals = Vec::with_capacity(spans.len());
        let mut at = 0;
        for span in spans {
            if !stands_apart(sql, span.start, span.end) {
                continue;
            }
            key.push_str(&sql[at..span.start]);
            // Writing to a String cannot fail.
            let _ = write!(key, "${}", MARKER_BASE + literals.len());
            literals.push(&sql[span.clone()]);
            at = span.end;
        }
        if literals.is_empty() {
            return None;
        }
        key.push_str(&sql[at..]);
        Some(Shape { key, literals })
    }
}

/// A marker or literal at `start..end` of `text` stays one token when swapped for the
/// other: nothing that could join it (a word, a quote, a dot, a dollar) touches either end.
pub(super) fn stands_apart(text: &str, start: usize, end: usize) -> bool {
    let joins = |c: char| {
        c.is_ascii_alphanumeric() || !c.is_ascii() || matches!(c, '_' | '$' | '\'' | '"' | '.')
    };
    !text[..start].chars().next_back().is_some_and(joins)
        && !text[end..].chars().next().is_some_and(joins)
}

/// The literal number of a shape marker (`$1000000000` is 0), `None` for anything else.
pub(super) fn literal_index(marker: &str) -> Option<usize> {
    let digits = marker.strip_prefix('$')?;
    if digits.len() != MARKER_DIGITS {
        return None;
    }
    let index = digits.parse::<usize>().ok()?.checked_sub(MARKER_BASE)?;
    (index < MAX_LITERALS).then_some(index)
}

/// A text that already holds something like a marker is left alone, so that every marker
/// in a rewritten shape is one of ours.
fn has_long_number_after_dollar(sql: &str) -> bool {
    let bytes = sql.as_bytes();
    bytes.iter().enumerate().any(|(i, &b)| {
        b == b'$'
            && bytes[i + 1..]
                .iter()
                .take(6)
                .take_while(|b| b.is_ascii_digit())
                .count()
                >= 6
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_become_markers() {
        let sql = "SELECT * FROM t WHERE a = 42 AND b = 'x''y' AND c = $1 LIMIT 5";
        let shape = Shape::of(sql).unwrap();
        assert_eq!(
            shape.key,
            "SELECT * FROM t WHERE a = $1000000000 AND b = $1000000001 AND c = $1 LIMIT $1000000002"
        );
        assert_eq!(shape.literals, ["42", "'x''y'", "5"]);
        assert_eq!(literal_index("$1000000002"), Some(2));
        assert_eq!(literal_index("$1"), None);
        assert_eq!(literal_index("$2000000000"), None);
    }

    #[test]
    fn texts_differing_in_values_share_a_shape() {
        let a = Shape::of("SELECT abalance FROM pgbench_accounts WHERE aid = 1;").unwrap();
        let b = Shape::of("SELECT abalance FROM pgbench_accounts WHERE aid = 99999;").unwrap();
        assert_eq!(a.key, b.key);
    }

    #[test]
    fn literals_that_touch_a_neighbour_stay_in_the_text() {
        // `0x1F` and `1.e`: a number glued to a word is left to the rewriter's own checks.
        let shape = Shape::of("SELECT 0x1F, 7 FROM t").unwrap();
        assert_eq!(shape.key, "SELECT 0x1F, $1000000000 FROM t");
        assert!(Shape::of("SELECT 1a FROM t").is_none());
        assert!(Shape::of("SELECT * FROM t").is_none());
    }

    #[test]
    fn texts_with_marker_like_parameters_are_left_alone() {
        assert!(Shape::of("SELECT $1000000000, 1").is_none());
        assert!(Shape::of("SELECT 'a$123456' || 1").is_none());
    }
}
