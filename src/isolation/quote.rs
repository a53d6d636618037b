//! Values and names written into the SQL the proxy sends on a client's behalf.

/// Quotes an identifier for any input (always quoted, so case and keywords are kept).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes a string as Postgres' quote_literal does: as an `E''` string when it holds a
/// backslash, so that it reads the same whatever `standard_conforming_strings` says.
pub fn quote_literal(value: &str) -> String {
    let quoted = value.replace('\'', "''");
    if value.contains('\\') {
        format!("E'{}'", quoted.replace('\\', "\\\\"))
    } else {
        format!("'{quoted}'")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_postgres() {
        assert_eq!(quote_ident("Pub\"lic"), "\"Pub\"\"lic\"");
        assert_eq!(quote_literal("o'k"), "'o''k'");
        assert_eq!(quote_literal(r"a\'b"), r"E'a\\''b'");
    }
}
