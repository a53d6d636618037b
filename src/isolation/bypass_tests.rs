//! Bypasses of the isolation policy that were confirmed against a real PostgreSQL 15 (each
//! let another tenant's data or settings be reached), kept as regressions, with the
//! legitimate forms next to them that must still pass.

use super::Rule;
use super::tests::{check_all, schema};

/// Each of these got past the checks and was confirmed against PostgreSQL 15 running as the
/// shared role with `search_path` pinned: it read or changed another tenant's data, changed
/// `search_path`, or dropped every tenant's schema.
#[test]
fn bypasses_confirmed_against_postgres_are_refused() {
    use Rule::*;
    let cases = [
        // A continued E string keeps escaping: Postgres reads the `SELECT` after `;` as code.
        (
            "SELECT E'x'\n'\\' , $$' ; SELECT * FROM globex.orders; -- $$",
            Some(ForeignSchema),
        ),
        (
            "SELECT E'x'\n'\\' , $$' ; SET ROLE postgres; -- $$",
            Some(ProtectedSetting),
        ),
        (
            "SELECT set_config('search' || '_path', 'globex', false)",
            Some(ProtectedSetting),
        ),
        (
            "SELECT set_config('search'\n'_path', 'globex', false)",
            Some(ProtectedSetting),
        ),
        (
            "SELECT set_config(lower('SEARCH_PATH'), 'globex', false)",
            Some(ProtectedSetting),
        ),
        (
            "UPDATE pg_settings SET setting = 'globex' WHERE name = 'search_path'",
            Some(ProtectedSetting),
        ),
        (
            "CREATE VIEW s AS SELECT * FROM pg_catalog.pg_settings",
            Some(ProtectedSetting),
        ),
        (
            "CREATE AGGREGATE a(text, boolean) (SFUNC = set_config, STYPE = text, INITCOND = 'search_path')",
            Some(ProtectedSetting),
        ),
        (
            "CREATE AGGREGATE a(text, boolean) (SFUNC = 'set_config', STYPE = text)",
            Some(ProtectedSetting),
        ),
        // The first statement of a PL/pgSQL block follows BEGIN/THEN/ELSE/LOOP, not a `;`.
        (
            "DO $$ BEGIN IF true THEN DROP OWNED BY CURRENT_USER CASCADE; END IF; END $$",
            Some(ForbiddenStatement),
        ),
        (
            "DO $$ BEGIN CREATE SCHEMA evil; END $$",
            Some(ForbiddenStatement),
        ),
        ("DO $$ BEGIN LISTEN chan; END $$", Some(ForbiddenStatement)),
        (
            "DO $$ <<b>> BEGIN COPY orders TO PROGRAM 'id'; END $$",
            Some(ForbiddenStatement),
        ),
        (
            "DO $$ DECLARE r record; BEGIN FOR r IN SELECT * FROM orders FOR UPDATE LOOP SET search_path = globex; END LOOP; END $$",
            Some(ProtectedSetting),
        ),
        (
            "DO $$ BEGIN CREATE FUNCTION g() RETURNS SETOF text LANGUAGE plpgsql AS $q$ BEGIN RETURN QUERY EXECUTE 'SELECT 1'; END $q$; END $$",
            Some(DynamicSql),
        ),
        (
            "DO LANGUAGE plperl $$ spi_exec_query('SET ROLE x') $$",
            Some(DynamicSql),
        ),
        (
            "CREATE FUNCTION f() RETURNS void LANGUAGE plv8 AS $$ plv8.execute('x') $$",
            Some(DynamicSql),
        ),
        (
            "CREATE FUNCTION f() RETURNS text LANGUAGE c AS 'lib', 'sym'",
            Some(DynamicSql),
        ),
        ("SELECT nextval(('globex.orders_id_seq'))", Some(DynamicSql)),
        (
            "SELECT nextval(concat('globex.', 'orders_id_seq'))",
            Some(DynamicSql),
        ),
        ("SELECT setval($1, 1)", Some(DynamicSql)),
        (
            "SELECT nextval('globex'\n'.orders_id_seq')",
            Some(ForeignSchema),
        ),
        (
            "SELECT CAST('globex.orders' AS regclass)",
            Some(ForeignSchema),
        ),
        (
            "SELECT 'globex.orders'::pg_catalog.regclass",
            Some(ForeignSchema),
        ),
        ("SELECT regclass 'globex.orders'", Some(ForeignSchema)),
        ("SELECT 'globex'::regnamespace", Some(ForeignSchema)),
        (
            "GRANT SELECT ON ALL TABLES IN SCHEMA globex TO PUBLIC",
            Some(ForeignSchema),
        ),
        ("COMMENT ON SCHEMA globex IS 'x'", Some(ForeignSchema)),
        (
            "SELECT * FROM crosstab('SELECT * FROM globex.orders') AS t(a text)",
            Some(ForbiddenFunction),
        ),
        // Still allowed:
        (
            "SELECT nextval('acme.orders_id_seq'), currval('s'::regclass)",
            None,
        ),
        (
            "SELECT setval(pg_get_serial_sequence('orders', 'id'), 1)",
            None,
        ),
        (
            "SELECT 'acme.t'::regclass, CAST('t' AS regclass), 'acme'::regnamespace",
            None,
        ),
        (
            "SELECT name, setting FROM pg_settings WHERE name = 'TimeZone'",
            None,
        ),
        ("GRANT USAGE ON SCHEMA acme, public TO PUBLIC", None),
        ("SELECT 'a'\n'b', E'c'\n'd', B'01'", None),
        (
            "DO $$ DECLARE r record; BEGIN FOR r IN SELECT id FROM orders LOOP PERFORM r.id; END LOOP; END $$",
            None,
        ),
        (
            "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN IF NEW.x IS NULL THEN NEW.x := 1; END IF; RETURN NEW; END$$",
            None,
        ),
    ];
    check_all(&schema(), &cases);
}

/// Arbitrary input never panics the checks: random mixes of the characters that steer the
/// lexer (quotes, dollars, comments, backslashes, multibyte letters).
#[test]
fn random_input_never_panics() {
    const PIECES: &[&str] = &[
        "'",
        "\"",
        "$",
        "$$",
        "$a$",
        "E'",
        "U&",
        "/*",
        "*/",
        "--",
        "\n",
        "\\",
        ";",
        ".",
        "(",
        ")",
        "::",
        " ",
        "select",
        "set",
        "search_path",
        "do",
        "begin",
        "execute",
        "globex",
        "acme",
        "é",
        "日本",
        "0",
        "1e",
        "x",
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let policies = [schema(), super::Policy::Database];
    for _ in 0..20_000 {
        let len = (next() % 24) as usize;
        let sql: String = (0..len)
            .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
            .collect();
        for policy in &policies {
            let _ = policy.check(&sql);
        }
    }
}
