//! The isolation policy against a table of statements: what must pass and what must be
//! refused, including attempts to slip past the lexer.

use super::{Policy, Rule};

pub(super) fn schema() -> Policy {
    Policy::Schema {
        schema: "acme".into(),
        shared: vec!["public".into()],
        neighbours: vec!["globex".into(), "Initech".into()],
    }
}

pub(super) fn check_all(policy: &Policy, cases: &[(&str, Option<Rule>)]) {
    let mut failures = Vec::new();
    for (sql, expected) in cases {
        let got = policy.check(sql).err().map(|v| v.rule);
        if got != *expected {
            failures.push(format!(
                "{sql:?}: expected {expected:?}, got {got:?} ({:?})",
                policy.check(sql).err()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

const ALLOWED_EVERYWHERE: &[&str] = &[
    "SELECT 1",
    "select * from orders where id = $1",
    "SELECT o.id, o.item FROM orders o JOIN customers c ON c.id = o.customer_id",
    "SELECT count(*) FROM orders",
    "INSERT INTO orders (id, item) VALUES (1, 'a.b'), (2, 'globex.orders')",
    "UPDATE users SET role = 'admin' WHERE id = 1",
    "UPDATE users SET search_path = 'x'",
    "INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET role = excluded.role",
    "WITH x AS (UPDATE t SET role = 1 RETURNING *) SELECT * FROM x",
    "DELETE FROM orders WHERE id = 3",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "SET application_name = 'app'",
    "SET TIME ZONE 'UTC'",
    "SET statement_timeout = 0",
    "SET LOCAL lock_timeout = '1s'",
    "SET SESSION datestyle TO iso",
    "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
    "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
    "SET CONSTRAINTS ALL DEFERRED",
    "RESET statement_timeout",
    "SHOW search_path",
    "SELECT current_setting('search_path')",
    "SELECT set_config('application_name', 'x', false)",
    "SELECT set_config('app.user_id', '42', true)",
    "DISCARD PLANS",
    "COPY orders FROM STDIN",
    "COPY orders (id, item) TO STDOUT WITH (FORMAT csv)",
    "COPY (SELECT * FROM orders) TO STDOUT",
    "CREATE TABLE t (id int primary key, role text)",
    "ALTER TABLE t ALTER COLUMN role SET NOT NULL",
    "ALTER TABLE t ALTER COLUMN role SET DEFAULT 'x'",
    "CREATE INDEX ON orders (item)",
    "DROP TABLE IF EXISTS t",
    "TRUNCATE orders",
    "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql AS $$ SELECT a + 1 $$",
    "CREATE OR REPLACE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.x := 1; RETURN NEW; END$$",
    "DO $$BEGIN PERFORM 1; END$$",
    "PREPARE p AS SELECT * FROM orders WHERE id = $1",
    "EXECUTE p(1)",
    "DEALLOCATE p",
    "VACUUM ANALYZE orders",
    "SELECT 'pg_stat_activity'",
    "SELECT E'it\\'s', 'a''b', $q$ ; set role x $q$",
    "SELECT 1; SELECT 2",
    "EXPLAIN SELECT * FROM orders",
    "SELECT nextval('orders_id_seq')",
    "SELECT x::int, y::text[] FROM t",
    "SELECT '{1,2}'::int[] @> ARRAY[1]",
    "SELECT data->>'k', data #> '{a,b}' FROM t",
    "",
    ";",
];

#[test]
fn ordinary_sql_passes_for_both_policies() {
    let cases: Vec<(&str, Option<Rule>)> = ALLOWED_EVERYWHERE.iter().map(|s| (*s, None)).collect();
    check_all(&Policy::Database, &cases);
    check_all(&schema(), &cases);
}

#[test]
fn session_escapes_are_refused_for_both_policies() {
    use Rule::*;
    let cases = [
        ("SET search_path = globex", Some(ProtectedSetting)),
        ("set search_path to globex, public", Some(ProtectedSetting)),
        ("SET SESSION search_path = globex", Some(ProtectedSetting)),
        ("SET LOCAL search_path = globex", Some(ProtectedSetting)),
        ("SET \"search_path\" = globex", Some(ProtectedSetting)),
        ("SeT/**/SeArCh_PaTh = globex", Some(ProtectedSetting)),
        ("SET SCHEMA 'globex'", Some(ProtectedSetting)),
        ("SET ROLE postgres", Some(ProtectedSetting)),
        ("SET LOCAL ROLE postgres", Some(ProtectedSetting)),
        ("SET role = 'postgres'", Some(ProtectedSetting)),
        ("SET SESSION AUTHORIZATION postgres", Some(ProtectedSetting)),
        // Returning to the role the proxy logged in as changes nothing (pools send these).
        ("SET SESSION AUTHORIZATION DEFAULT", None),
        ("SET ROLE NONE", None),
        ("RESET ROLE", None),
        ("RESET SESSION AUTHORIZATION", None),
        ("SET ROLE \"none\"", Some(ProtectedSetting)),
        ("SET ROLE none_of_yours", Some(ProtectedSetting)),
        ("RESET ROLE; SET ROLE postgres", Some(ProtectedSetting)),
        (
            "SET SESSION AUTHORIZATION DEFAULT postgres",
            Some(ProtectedSetting),
        ),
        // RESET ALL (pool reset queries): the proxy sets the context
        // again right after it. Anywhere else it is refused.
        ("RESET ALL", None),
        ("SELECT 1; CLOSE ALL; UNLISTEN *; RESET ALL;", None),
        ("RESET ALL; SELECT 1", None),
        (
            "SET SESSION AUTHORIZATION DEFAULT;RESET ALL;CLOSE ALL;UNLISTEN *;\
             SELECT pg_advisory_unlock_all();DISCARD SEQUENCES;DISCARD TEMP",
            None,
        ),
        ("RESET ALL; SET work_mem = '1MB'", Some(ProtectedSetting)),
        (
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; RESET ALL; END",
            Some(ProtectedSetting),
        ),
        (
            "RESET ALL; SELECT set_config('work_mem', '1MB', false)",
            Some(ProtectedSetting),
        ),
        (
            "RESET ALL; SET search_path = globex",
            Some(ProtectedSetting),
        ),
        ("RESET ALL; RESET ALL", Some(ProtectedSetting)),
        ("DO $$ BEGIN RESET ALL; END $$", Some(ProtectedSetting)),
        ("RESET search_path", Some(ProtectedSetting)),
        // DISCARD ALL as a text's only statement: the proxy sets the session up again after
        // it, in a message of its own (it cannot share a text). Anywhere else it is refused.
        ("DISCARD ALL", None),
        ("discard all;", None),
        ("DISCARD ALL; SELECT 1", Some(ProtectedSetting)),
        ("SELECT 1; DISCARD ALL", Some(ProtectedSetting)),
        ("DO $$ BEGIN DISCARD ALL; END $$", Some(ProtectedSetting)),
        (
            "SET tenantgate.tenant_id = 'globex'",
            Some(ProtectedSetting),
        ),
        (
            "SET TenantGate . Tenant_ID = 'globex'",
            Some(ProtectedSetting),
        ),
        ("RESET tenantgate.tenant_id", Some(ProtectedSetting)),
        (
            "SET standard_conforming_strings = off",
            Some(ProtectedSetting),
        ),
        ("SET client_encoding = 'LATIN1'", Some(ProtectedSetting)),
        ("SET NAMES 'LATIN1'", Some(ProtectedSetting)),
        // The values the proxy pins, as drivers set them on connect, change nothing.
        ("SET standard_conforming_strings = on", None),
        ("SET SESSION standard_conforming_strings TO 'on'", None),
        ("SET client_encoding TO 'UTF8'", None),
        ("SET NAMES 'utf8'", None),
        (
            "SET standard_conforming_strings = on; SET role = x",
            Some(ProtectedSetting),
        ),
        (
            "SET standard_conforming_strings = on, off",
            Some(ProtectedSetting),
        ),
        (
            "SET standard_conforming_strings = 'on' || 'x'",
            Some(ProtectedSetting),
        ),
        (
            "SET session_replication_role = replica",
            Some(ProtectedSetting),
        ),
        ("SET row_security = off", Some(ProtectedSetting)),
        (
            "SELECT set_config('search_path', 'globex', false)",
            Some(ProtectedSetting),
        ),
        (
            "SELECT pg_catalog.set_config('role', 'postgres', false)",
            Some(ProtectedSetting),
        ),
        (
            "SELECT SET_CONFIG('tenantgate.tenant_id', 'x', true)",
            Some(ProtectedSetting),
        ),
        (
            "SELECT set_config(lower('SEARCH_PATH'), 'globex', false)",
            Some(ProtectedSetting),
        ),
        (
            "SELECT * FROM (SELECT set_config('search_path','globex',false)) s",
            Some(ProtectedSetting),
        ),
        ("SELECT 1; SET search_path = globex", Some(ProtectedSetting)),
        ("SELECT ';'; SET ROLE x", Some(ProtectedSetting)),
        ("SELECT $a$;$a$; SET ROLE x", Some(ProtectedSetting)),
        ("SELECT 1 /* ; */ ; set role x", Some(ProtectedSetting)),
        ("select 1 -- ;\n; set role x", Some(ProtectedSetting)),
        (
            "ALTER ROLE tenantgate SET search_path = globex",
            Some(ForbiddenStatement),
        ),
        (
            "ALTER DATABASE app SET search_path = globex",
            Some(ForbiddenStatement),
        ),
        (
            "ALTER SYSTEM SET log_statement = 'all'",
            Some(ForbiddenStatement),
        ),
        (
            "CREATE FUNCTION f() RETURNS int SET search_path = globex LANGUAGE sql AS 'SELECT 1'",
            Some(ProtectedSetting),
        ),
        (
            "CREATE FUNCTION f(update int) RETURNS int SET search_path = globex LANGUAGE sql AS 'SELECT 1'",
            Some(ProtectedSetting),
        ),
        (
            "ALTER FUNCTION f() SET search_path TO globex",
            Some(ProtectedSetting),
        ),
        (
            "ALTER TABLE orders SET SCHEMA globex",
            Some(ProtectedSetting),
        ),
        (
            "CREATE FUNCTION f() RETURNS update SET search_path = globex LANGUAGE sql AS 'SELECT 1'",
            Some(ProtectedSetting),
        ),
        ("DO $$BEGIN UPDATE users SET role = 'x'; END$$", None),
        (
            "DO $$BEGIN IF true THEN UPDATE users u SET role = 'x'; END IF; END$$",
            None,
        ),
    ];
    check_all(&Policy::Database, &cases);
    check_all(&schema(), &cases);
}

#[test]
fn statements_beyond_one_tenant_are_refused() {
    use Rule::*;
    let cases = [
        ("CREATE ROLE evil LOGIN SUPERUSER", Some(ForbiddenStatement)),
        ("create user evil", Some(ForbiddenStatement)),
        ("DROP ROLE tenantgate", Some(ForbiddenStatement)),
        (
            "ALTER USER tenantgate WITH PASSWORD 'x'",
            Some(ForbiddenStatement),
        ),
        ("CREATE DATABASE other", Some(ForbiddenStatement)),
        ("DROP DATABASE initech", Some(ForbiddenStatement)),
        (
            "ALTER DATABASE initech RENAME TO x",
            Some(ForbiddenStatement),
        ),
        (
            "CREATE TABLESPACE t LOCATION '/tmp'",
            Some(ForbiddenStatement),
        ),
        ("CREATE EXTENSION dblink", Some(ForbiddenStatement)),
        (
            "CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw",
            Some(ForbiddenStatement),
        ),
        ("CREATE FOREIGN DATA WRAPPER w", Some(ForbiddenStatement)),
        (
            "CREATE USER MAPPING FOR CURRENT_USER SERVER s",
            Some(ForbiddenStatement),
        ),
        (
            "CREATE SUBSCRIPTION s CONNECTION 'x' PUBLICATION p",
            Some(ForbiddenStatement),
        ),
        (
            "CREATE PUBLICATION p FOR ALL TABLES",
            Some(ForbiddenStatement),
        ),
        (
            "CREATE EVENT TRIGGER e ON ddl_command_start EXECUTE FUNCTION f()",
            Some(ForbiddenStatement),
        ),
        (
            "CREATE TRUSTED LANGUAGE plx HANDLER h",
            Some(ForbiddenStatement),
        ),
        ("DROP OWNED BY tenantgate CASCADE", Some(ForbiddenStatement)),
        (
            "REASSIGN OWNED BY tenantgate TO postgres",
            Some(ForbiddenStatement),
        ),
        ("LOAD 'evil'", Some(ForbiddenStatement)),
        ("CHECKPOINT", Some(ForbiddenStatement)),
        ("SECURITY LABEL ON TABLE t IS 'x'", Some(ForbiddenStatement)),
        ("COPY orders FROM '/etc/passwd'", Some(ForbiddenStatement)),
        ("COPY orders TO '/tmp/out'", Some(ForbiddenStatement)),
        ("COPY orders FROM PROGRAM 'id'", Some(ForbiddenStatement)),
        ("COPY (SELECT 1) TO PROGRAM 'cat'", Some(ForbiddenStatement)),
        (
            "SELECT pg_read_file('/etc/passwd')",
            Some(ForbiddenFunction),
        ),
        (
            "SELECT pg_catalog.pg_read_binary_file('x')",
            Some(ForbiddenFunction),
        ),
        ("SELECT * FROM pg_ls_dir('.')", Some(ForbiddenFunction)),
        ("SELECT lo_import('/etc/passwd')", Some(ForbiddenFunction)),
        ("SELECT lo_get(16384)", Some(ForbiddenFunction)),
        (
            "SELECT loread(lo_open(1, 262144), 100)",
            Some(ForbiddenFunction),
        ),
        (
            "SELECT * FROM dblink('host=x', 'select 1') AS t(a int)",
            Some(ForbiddenFunction),
        ),
        (
            "SELECT query_to_xml('select * from globex.orders', true, false, '')",
            Some(ForbiddenFunction),
        ),
        (
            "SELECT table_to_xml('orders', true, false, '')",
            Some(ForbiddenFunction),
        ),
        (
            "SELECT database_to_xml(true, false, '')",
            Some(ForbiddenFunction),
        ),
        (
            "SELECT * FROM ts_stat('select v from globex.docs')",
            Some(ForbiddenFunction),
        ),
        (
            "SELECT query FROM pg_stat_activity",
            Some(ForbiddenFunction),
        ),
        (
            "SELECT query FROM pg_catalog.\"pg_stat_activity\"",
            Some(ForbiddenFunction),
        ),
        ("SELECT * FROM PG_STAT_ACTIVITY", Some(ForbiddenFunction)),
        (
            "SELECT * FROM pg_stat_get_activity(NULL)",
            Some(ForbiddenFunction),
        ),
        (
            "SELECT * FROM pg_stats WHERE tablename = 'orders'",
            Some(ForbiddenFunction),
        ),
        ("SELECT * FROM pg_locks", Some(ForbiddenFunction)),
        ("SELECT * FROM pg_prepared_xacts", Some(ForbiddenFunction)),
        ("SELECT pg_terminate_backend(123)", Some(ForbiddenFunction)),
        ("SELECT pg_cancel_backend(123)", Some(ForbiddenFunction)),
        ("SELECT pg_reload_conf()", Some(ForbiddenFunction)),
        (
            "DO $$BEGIN EXECUTE 'SET search_path = globex'; END$$",
            Some(DynamicSql),
        ),
        (
            "DO $$BEGIN EXECUTE format('select * from %I.orders', 'globex'); END$$",
            Some(DynamicSql),
        ),
        (
            "DO LANGUAGE plpgsql $x$ begin execute 'x'; end $x$",
            Some(DynamicSql),
        ),
        (
            "CREATE FUNCTION f() RETURNS SETOF record LANGUAGE plpgsql AS $$BEGIN RETURN QUERY EXECUTE 'x'; END$$",
            Some(DynamicSql),
        ),
        (
            "DO $$BEGIN SET search_path = globex; END$$",
            Some(ProtectedSetting),
        ),
        (
            "DO $$BEGIN PERFORM set_config('search_path', 'globex', false); END$$",
            Some(ProtectedSetting),
        ),
        (
            "DO $$BEGIN PERFORM pg_read_file('/etc/passwd'); END$$",
            Some(ForbiddenFunction),
        ),
        (
            "DO $$BEGIN RESET search_path; END$$",
            Some(ProtectedSetting),
        ),
        (
            "DO $$ BEGIN PERFORM 'unterminated ; END $$",
            Some(Unreadable),
        ),
    ];
    check_all(&Policy::Database, &cases);
    check_all(&schema(), &cases);
}

#[test]
fn unreadable_sql_is_refused() {
    use Rule::*;
    let cases = [
        ("SELECT 'open", Some(Unreadable)),
        ("SELECT \"open", Some(Unreadable)),
        ("SELECT /* open", Some(Unreadable)),
        ("SELECT /* /* */ SET ROLE x", Some(Unreadable)),
        ("SELECT $$ open", Some(Unreadable)),
        ("SELECT U&\"\\0067lobex\".orders", Some(Unreadable)),
        ("SELECT * FROM u&\"d\\0061t\"", Some(Unreadable)),
        ("SELECT \"\"", Some(Unreadable)),
        ("SELECT \\", Some(Unreadable)),
    ];
    check_all(&Policy::Database, &cases);
    check_all(&schema(), &cases);
}

#[test]
fn schema_tenants_name_only_their_own_schemas() {
    use Rule::*;
    let cases = [
        ("SELECT * FROM acme.orders", None),
        ("SELECT * FROM public.countries", None),
        ("SELECT * FROM pg_catalog.pg_class", None),
        ("SELECT * FROM information_schema.tables", None),
        ("SELECT acme.orders.id FROM acme.orders", None),
        ("SELECT o.id, o.* FROM orders o", None),
        ("SELECT orders.id FROM orders", None),
        (
            "SELECT o.id FROM orders o WHERE o.id IN (SELECT c.order_id FROM customers c)",
            None,
        ),
        ("SELECT a.x FROM t a UNION SELECT b.x FROM u b", None),
        ("SELECT count(o.*) FROM orders o", None),
        (
            "UPDATE orders o SET item = 'x' FROM customers c WHERE c.id = o.cid",
            None,
        ),
        ("INSERT INTO acme.orders SELECT * FROM orders", None),
        (
            "SELECT 'acme.orders'::regclass, nextval('acme.seq'), nextval('seq')",
            None,
        ),
        ("SELECT * FROM globex.orders", Some(ForeignSchema)),
        ("select * from GLOBEX.orders", Some(ForeignSchema)),
        ("SELECT * FROM \"globex\".\"orders\"", Some(ForeignSchema)),
        ("SELECT * FROM globex /* x */ . orders", Some(ForeignSchema)),
        ("SELECT * FROM app.globex.orders", Some(ForeignSchema)),
        (
            "SELECT * FROM orders o, globex.orders g",
            Some(ForeignSchema),
        ),
        (
            "SELECT * FROM orders o JOIN globex.orders g ON g.id = o.id",
            Some(ForeignSchema),
        ),
        (
            "SELECT * FROM orders WHERE id IN (SELECT id FROM globex.orders)",
            Some(ForeignSchema),
        ),
        (
            "WITH x AS (SELECT * FROM globex.orders) SELECT * FROM x",
            Some(ForeignSchema),
        ),
        (
            "SELECT * FROM orders UNION ALL SELECT * FROM globex.orders",
            Some(ForeignSchema),
        ),
        (
            "SELECT * FROM orders o, LATERAL (SELECT * FROM globex.orders) l",
            Some(ForeignSchema),
        ),
        (
            "SELECT globex.orders.id FROM globex.orders",
            Some(ForeignSchema),
        ),
        ("SELECT * FROM globex.orders AS globex", Some(ForeignSchema)),
        (
            "SELECT globex.id FROM orders globex, globex.orders",
            Some(ForeignSchema),
        ),
        ("TABLE globex.orders", Some(ForeignSchema)),
        // sqlparser cannot read TABLE; the refusal says the name could not be verified.
        ("TABLE elsewhere.orders", Some(Unreadable)),
        (
            "INSERT INTO globex.orders VALUES (9, 'x')",
            Some(ForeignSchema),
        ),
        ("UPDATE globex.orders SET item = 'x'", Some(ForeignSchema)),
        ("DELETE FROM globex.orders", Some(ForeignSchema)),
        ("TRUNCATE globex.orders", Some(ForeignSchema)),
        ("DROP TABLE globex.orders", Some(ForeignSchema)),
        ("CREATE TABLE globex.spy (x int)", Some(ForeignSchema)),
        (
            "CREATE VIEW v AS SELECT * FROM globex.orders",
            Some(ForeignSchema),
        ),
        ("COPY globex.orders TO STDOUT", Some(ForeignSchema)),
        ("LOCK TABLE globex.orders", Some(ForeignSchema)),
        ("SELECT globex.f()", Some(ForeignSchema)),
        ("SELECT 1::globex.mytype", Some(ForeignSchema)),
        ("SELECT * FROM pg_temp.t", Some(ForeignSchema)),
        ("SELECT * FROM pg_toast.pg_toast_1234", Some(ForeignSchema)),
        ("SELECT 'globex.orders'::regclass", Some(ForeignSchema)),
        (
            "SELECT nextval('globex.orders_id_seq')",
            Some(ForeignSchema),
        ),
        ("SELECT setval('\"globex\".s', 1)", Some(ForeignSchema)),
        ("SELECT pg_get_viewdef('globex.v')", Some(ForeignSchema)),
        ("SELECT to_regclass('globex.orders')", Some(ForeignSchema)),
        (
            "PREPARE p AS SELECT * FROM globex.orders",
            Some(ForeignSchema),
        ),
        (
            "EXPLAIN ANALYZE SELECT * FROM globex.orders",
            Some(ForeignSchema),
        ),
        (
            "DECLARE c CURSOR FOR SELECT * FROM globex.orders",
            Some(ForeignSchema),
        ),
        ("SELECT 1; SELECT * FROM globex.orders", Some(ForeignSchema)),
        (
            "DO $$BEGIN PERFORM count(*) FROM globex.orders; END$$",
            Some(ForeignSchema),
        ),
        (
            "DO $$BEGIN PERFORM count(*) FROM \"Initech\".orders; END$$",
            Some(ForeignSchema),
        ),
        (
            "CREATE FUNCTION t() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.x := OLD.x; RETURN NEW; END$$",
            None,
        ),
        ("SELECT * FROM unknown_schema.t", Some(ForeignSchema)),
        (
            "CREATE FUNCTION f() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM globex.orders'",
            Some(ForeignSchema),
        ),
        ("CREATE SCHEMA spy", Some(ForbiddenStatement)),
        ("DROP SCHEMA globex CASCADE", Some(ForbiddenStatement)),
        ("ALTER SCHEMA globex RENAME TO x", Some(ForbiddenStatement)),
        (
            "IMPORT FOREIGN SCHEMA x FROM SERVER s INTO acme",
            Some(ForbiddenStatement),
        ),
    ];
    check_all(&schema(), &cases);
}

#[test]
fn database_tenants_may_use_any_schema_of_their_database() {
    let cases = [
        ("SELECT * FROM reporting.daily", None),
        ("CREATE SCHEMA reporting", None),
        ("LISTEN events", None),
        ("NOTIFY events, 'hi'", None),
        ("SELECT pg_notify('events', 'hi')", None),
        ("SELECT nextval('reporting.s')", None),
    ];
    check_all(&Policy::Database, &cases);
}

#[test]
fn quoted_schema_names_are_case_sensitive() {
    let policy = Policy::Schema {
        schema: "Acme".into(),
        shared: vec![],
        neighbours: vec!["acme".into()],
    };
    check_all(
        &policy,
        &[
            ("SELECT * FROM \"Acme\".orders", None),
            ("SELECT * FROM acme.orders", Some(Rule::ForeignSchema)),
            ("SELECT * FROM Acme.orders", Some(Rule::ForeignSchema)),
        ],
    );
}
