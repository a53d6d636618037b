//! What is refused, by the rewriter and by the guard before it, and the catalog-read policy.

use super::*;

/// Refusals by the rewriter itself, each naming the construct.
#[test]
fn refusals() {
    check(
        "refusals",
        &[
            ("SELEC * FROM orders", Refused("statement cannot be parsed")),
            (
                "SELECT * FROM orders WHERE",
                Refused("statement cannot be parsed"),
            ),
            (
                "DO $$ BEGIN EXECUTE 'SELECT 1'; END $$",
                Refused("statement cannot be parsed"),
            ),
            // DDL and other statement kinds.
            (
                "ALTER TABLE orders ADD COLUMN x int",
                Refused("ALTER TABLE is not allowed"),
            ),
            ("DROP TABLE orders", Refused("DROP is not allowed")),
            ("TRUNCATE orders", Refused("TRUNCATE is not allowed")),
            ("TRUNCATE countries", Refused("TRUNCATE is not allowed")),
            (
                "CREATE INDEX ON orders (item)",
                Refused("CREATE INDEX is not allowed"),
            ),
            (
                "CREATE TABLE t (id int)",
                Refused("CREATE TABLE is not allowed"),
            ),
            (
                "CREATE VIEW v AS SELECT * FROM orders",
                Refused("CREATE VIEW is not allowed"),
            ),
            (
                "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$",
                Refused("CREATE FUNCTION is not allowed"),
            ),
            (
                "GRANT SELECT ON orders TO public",
                Refused("GRANT is not allowed"),
            ),
            (
                "COMMENT ON TABLE orders IS 'x'",
                Refused("COMMENT is not allowed"),
            ),
            ("VACUUM orders", Refused("VACUUM is not allowed")),
            ("ANALYZE orders", Refused("ANALYZE is not allowed")),
            ("LOCK TABLE orders", Refused("LOCK is not allowed")),
            ("CALL p()", Refused("CALL is not allowed")),
            (
                "EXPLAIN CREATE TABLE t (a int)",
                Refused("EXPLAIN of CREATE TABLE"),
            ),
            (
                "PREPARE x AS CREATE TABLE t (a int)",
                Refused("PREPARE of CREATE TABLE"),
            ),
            (
                "SELECT * FROM customers WHERE id = 1; DROP TABLE orders",
                Refused("DROP is not allowed"),
            ),
            // Functions that read other rows or reach outside.
            (
                "SELECT dblink('x', 'y')",
                Refused("function \"dblink\" can read other tenants'"),
            ),
            (
                "SELECT pg_read_file('/etc/passwd')",
                Refused("function \"pg_read_file\" can read"),
            ),
            (
                "SELECT lo_import('/etc/passwd')",
                Refused("function \"lo_import\" can read"),
            ),
            (
                "SELECT query_to_xml('SELECT * FROM orders', true, true, '')",
                Refused("function \"query_to_xml\" can read"),
            ),
            // Listed as a built-in by the loader, refused anyway.
            (
                "SELECT * FROM ts_stat('SELECT payload FROM events')",
                Refused("function \"ts_stat\" can read"),
            ),
            (
                "SELECT set_config('tenantgate.tenant_id', 'other', false)",
                Refused("function \"set_config\" can read"),
            ),
            (
                "SELECT pg_catalog.set_config('a.b', 'x', false)",
                Refused("function \"pg_catalog.set_config\" can read"),
            ),
            (
                "SELECT nextval('seq')",
                Refused("function \"nextval\" is not a built-in"),
            ),
            // Settings and roles.
            ("SET ROLE admin", Refused("this form of SET")),
            (
                "SET tenantgate.tenant_id = 'x'",
                Refused("this form of SET"),
            ),
            (
                "SET tenantgate.\"tenant_id\" = 'x'",
                Refused("this form of SET"),
            ),
            (
                "SET \"tenantgate.tenant_id\" = 'x'",
                Refused("this form of SET"),
            ),
            (
                "SET \"TenantGate.Tenant_Id\" TO 'x'",
                Refused("this form of SET"),
            ),
            ("SET search_path = x", Refused("this form of SET")),
            ("SET \"Search_Path\" = x", Refused("this form of SET")),
            ("SET SESSION \"role\" = 'x'", Refused("this form of SET")),
            // The values the proxy pins change nothing; any other is refused.
            ("SET standard_conforming_strings = on", Same),
            ("SET client_encoding TO 'UTF8'", Same),
            ("SET NAMES 'utf8'", Same),
            (
                "SET standard_conforming_strings = off",
                Refused("this form of SET"),
            ),
            ("SET NAMES 'LATIN1'", Refused("this form of SET")),
            // The guard admits one, and the proxy sets the context again after it (see
            // isolation::tests).
            ("RESET ALL", Same),
            // Back to the role the proxy logged in as: no change (pools reset with these).
            ("SET SESSION AUTHORIZATION DEFAULT", Same),
            ("SET ROLE NONE", Same),
            ("RESET ROLE", Same),
            ("RESET SESSION AUTHORIZATION", Same),
            (
                "SET SESSION AUTHORIZATION admin",
                Refused("this form of SET"),
            ),
            ("UNLISTEN *", Same),
            (
                "RESET tenantgate.tenant_id",
                Refused("RESET is not allowed"),
            ),
            (
                "RESET \"tenantgate.tenant_id\"",
                Refused("RESET is not allowed"),
            ),
            ("DISCARD ALL", Refused("DISCARD is not allowed")),
            ("LISTEN ch", Refused("LISTEN (channels are shared")),
            ("NOTIFY ch", Refused("NOTIFY (channels are shared")),
            // Allowed session statements.
            ("SET application_name = 'x'", Same),
            ("SET LOCAL statement_timeout = 0", Same),
            ("SET TIME ZONE 'UTC'", Same),
            ("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", Same),
            ("RESET statement_timeout", Same),
            ("DISCARD PLANS", Same),
            ("SHOW search_path", Same),
            ("SELECT current_setting('tenantgate.tenant_id')", Same),
            ("START TRANSACTION ISOLATION LEVEL SERIALIZABLE", Same),
            ("SAVEPOINT a", Same),
            ("ROLLBACK TO SAVEPOINT a", Same),
            ("DEALLOCATE p", Same),
            ("CLOSE c", Same),
        ],
    );
}

/// The catalog-read policy: catalog relations the loader lists are plain relations
/// (readable, unchanged); statistics, activity, locks, large objects and prepared
/// transactions are refused even when the loader lists them (`pg_stats` is listed in the
/// test catalog); anything unlisted is unknown and refused.
#[test]
fn catalog_reads() {
    check(
        "catalog",
        &[
            ("SELECT relname FROM pg_class", Same),
            ("SELECT relname FROM pg_catalog.pg_class", Same),
            (
                "SELECT reltuples FROM pg_class WHERE relname = 'orders'",
                Same,
            ),
            ("SELECT * FROM information_schema.tables", Same),
            (
                "SELECT * FROM pg_stats",
                Refused("\"pg_stats\" shows other tenants' data"),
            ),
            (
                "SELECT * FROM pg_catalog.pg_stats",
                Refused("\"pg_catalog.pg_stats\" shows other tenants' data"),
            ),
            (
                "SELECT * FROM pg_statistic",
                Refused("\"pg_statistic\" shows other tenants'"),
            ),
            (
                "SELECT * FROM pg_statistic_ext_data",
                Refused("shows other tenants'"),
            ),
            // The definitions of extended statistics (psql's \d reads them) are no data.
            ("SELECT stxname FROM pg_statistic_ext", Same),
            (
                "SELECT * FROM pg_stat_user_tables",
                Refused("shows other tenants'"),
            ),
            (
                "SELECT * FROM pg_stat_activity",
                Refused("\"pg_stat_activity\" shows other"),
            ),
            (
                "SELECT * FROM pg_locks",
                Refused("\"pg_locks\" shows other tenants'"),
            ),
            (
                "SELECT * FROM pg_largeobject",
                Refused("shows other tenants'"),
            ),
            (
                "SELECT * FROM pg_prepared_xacts",
                Refused("shows other tenants'"),
            ),
            (
                "SELECT * FROM pg_namespace",
                Refused("relation \"pg_namespace\" is not known"),
            ),
        ],
    );
}

/// An expected text for the tenant whose key is `acme`.
fn for_acme(expected: &str) -> String {
    expand(expected).replace(KEY_MARKER, "'acme'")
}

/// What the guard refuses before the rewriter sees the text, through [`Policy::check`].
#[test]
fn policy_refusals() {
    let policy = Policy::Row {
        scope: Some(Arc::new(RowScope::new(catalog()))),
        key: RowKey::new("acme"),
    };
    let cases: &[(&str, Rule, &str)] = &[
        (
            "DO $$ BEGIN EXECUTE 'SELECT 1'; END $$",
            Rule::DynamicSql,
            "EXECUTE in a DO block",
        ),
        (
            "DO $$ BEGIN PERFORM 1; END $$",
            Rule::RowScope,
            "cannot be parsed",
        ),
        ("SET ROLE admin", Rule::ProtectedSetting, "SET role"),
        (
            "SET \"tenantgate.tenant_id\" = 'x'",
            Rule::ProtectedSetting,
            "SET tenantgate.tenant_id",
        ),
        ("RESET ROLE postgres", Rule::ProtectedSetting, "RESET role"),
        (
            "SELECT set_config('tenantgate.tenant_id', 'other', false)",
            Rule::ProtectedSetting,
            "set_config('tenantgate.tenant_id')",
        ),
        (
            "SELECT set_config('application_name', 'x', false)",
            Rule::RowScope,
            "function \"set_config\" can read",
        ),
        (
            "SELECT * FROM pg_stat_activity",
            Rule::ForbiddenFunction,
            "pg_stat_activity",
        ),
        (
            "SELECT * FROM pg_locks",
            Rule::ForbiddenFunction,
            "pg_locks",
        ),
        (
            "SELECT * FROM pg_stats",
            Rule::ForbiddenFunction,
            "pg_stats",
        ),
        (
            "SELECT * FROM pg_statistic",
            Rule::RowScope,
            "\"pg_statistic\" shows other tenants'",
        ),
        (
            "EXPLAIN SELECT * FROM orders WHERE item = 'x'",
            Rule::RowScope,
            "EXPLAIN (its estimates",
        ),
        (
            "SELECT 1; explain (analyze) SELECT * FROM orders",
            Rule::RowScope,
            "EXPLAIN (its estimates",
        ),
        (
            "SELECT dblink('x', 'SELECT 1')",
            Rule::ForbiddenFunction,
            "dblink",
        ),
        (
            "SELECT pg_read_file('/etc/passwd')",
            Rule::ForbiddenFunction,
            "pg_read_file",
        ),
        (
            "SELECT lo_import('/etc/passwd')",
            Rule::ForbiddenFunction,
            "lo_import",
        ),
        (
            "SELECT query_to_xml('SELECT * FROM orders', true, true, '')",
            Rule::ForbiddenFunction,
            "query_to_xml",
        ),
        (
            "COPY orders TO '/tmp/x'",
            Rule::ForbiddenStatement,
            "COPY to or from a server file",
        ),
        (
            "COPY orders FROM STDIN",
            Rule::RowScope,
            "COPY FROM into a tenant table",
        ),
        ("CREATE ROLE x", Rule::ForbiddenStatement, "CREATE ROLE"),
        (
            "ALTER TABLE orders ADD COLUMN x int",
            Rule::RowScope,
            "ALTER TABLE",
        ),
        ("DROP TABLE orders", Rule::RowScope, "DROP"),
        ("LISTEN ch", Rule::ForbiddenStatement, "LISTEN"),
        (
            "SELECT * FROM order_totals",
            Rule::RowScope,
            "has no tenant column",
        ),
    ];
    let mut failures = Vec::new();
    for (sql, rule, detail) in cases {
        match policy.check(sql) {
            Err(v) if v.rule == *rule && v.detail.contains(detail) => {}
            other => failures.push(format!(
                "input:    {sql}\nexpected: Err({rule:?}, ..{detail}..)\ngot:      {other:?}"
            )),
        }
    }
    // Passing the guard, rewritten by the rewriter.
    for (sql, out) in [
        (
            "SELECT * FROM orders",
            "SELECT * FROM orders WHERE orders.\"tenant_id\" = {kt}",
        ),
        (
            "INSERT INTO orders (id) VALUES ($1)",
            "INSERT INTO orders (id, \"tenant_id\") VALUES ($1, {kt})",
        ),
    ] {
        match policy.check(sql) {
            Ok(c) if c.rewritten.as_ref().map(|r| r.as_str()) == Some(&for_acme(out)) => {}
            other => failures.push(format!(
                "input:    {sql}\nexpected: Ok({})\ngot:      {other:?}",
                for_acme(out)
            )),
        }
    }
    match policy.check("SELECT * FROM countries") {
        Ok(c) if c.rewritten.is_none() => {}
        other => failures.push(format!("SELECT * FROM countries: {other:?}")),
    }
    // Row-level security alone does not hide the estimates either.
    let rls_only = Policy::Row {
        scope: None,
        key: RowKey::new("acme"),
    };
    match rls_only.check("EXPLAIN SELECT * FROM orders") {
        Err(v) if v.rule == Rule::RowScope => {}
        other => failures.push(format!("EXPLAIN under RLS alone: {other:?}")),
    }
    assert!(
        failures.is_empty(),
        "policy: {} cases failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
