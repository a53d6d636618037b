//! What the policy does for pooling: session-only features under transaction pooling, and
//! the DEALLOCATE statements the proxy maps to its pooled statements.

use super::{Policy, Rule};

#[test]
fn transaction_pooling_refuses_what_must_outlive_the_transaction() {
    use crate::config::PoolMode;
    let policy = Policy::Database;
    let refused = [
        "CREATE TEMP TABLE t (x int)",
        "create temporary table t as select 1",
        "CREATE GLOBAL TEMPORARY TABLE t (x int)",
        "CREATE TEMP VIEW v AS SELECT 1",
        "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
        "LISTEN events",
        "PREPARE p AS SELECT 1",
        "EXECUTE p",
        "DEALLOCATE ALL",
        "SELECT pg_advisory_lock(1)",
        "SELECT pg_try_advisory_lock_shared(1, 2)",
        "DO $$BEGIN CREATE TEMP TABLE t (x int); END$$",
    ];
    for sql in refused {
        let got = policy
            .check_pooled(sql, PoolMode::Transaction)
            .err()
            .map(|v| v.rule);
        assert_eq!(got, Some(Rule::SessionOnly), "{sql}");
        assert_eq!(
            policy.check_pooled(sql, PoolMode::Session),
            Ok(Default::default()),
            "{sql} is fine in session pooling"
        );
    }
    for sql in [
        "CREATE TEMP TABLE t (x int) ON COMMIT DROP",
        "DECLARE c CURSOR FOR SELECT 1",
        "SELECT pg_advisory_xact_lock(1)",
        "NOTIFY events",
        "PREPARE TRANSACTION 'x'",
        "CREATE TABLE t (x int)",
        "SELECT 1",
    ] {
        assert_eq!(
            policy.check_pooled(sql, PoolMode::Transaction),
            Ok(Default::default()),
            "{sql}"
        );
    }
}

#[test]
fn recognises_deallocation() {
    use super::{Deallocation, deallocation};
    assert_eq!(
        deallocation("DEALLOCATE _pg3_0"),
        Some(Deallocation::Named("_pg3_0".into()))
    );
    assert_eq!(
        deallocation("deallocate prepare \"S1\";"),
        Some(Deallocation::Named("S1".into()))
    );
    assert_eq!(deallocation("DEALLOCATE ALL"), Some(Deallocation::All));
    assert_eq!(deallocation("DEALLOCATE a; SELECT 1"), None);
    assert_eq!(deallocation("SELECT 1"), None);
}

#[test]
fn session_effects_of_settings() {
    use super::{SessionEffect, SettingChange, SettingValue};
    let effect = |sql: &str| Policy::Database.check(sql).unwrap().session;
    let change = |name: &str, value: SettingValue, local: bool| {
        SessionEffect::Change(SettingChange {
            name: name.into(),
            value,
            local,
        })
    };
    let to = |v: &str| SettingValue::To(v.into());
    assert_eq!(effect("SELECT 1"), SessionEffect::None);
    assert_eq!(effect("UPDATE t SET x = 1"), SessionEffect::None);
    assert_eq!(
        effect("SET lock_timeout = '1s'"),
        change("lock_timeout", to("'1s'"), false)
    );
    assert_eq!(
        effect("set session Work_Mem to 64000"),
        change("work_mem", to("64000"), false)
    );
    assert_eq!(
        effect("SET LOCAL statement_timeout TO DEFAULT"),
        change("statement_timeout", SettingValue::Default, true)
    );
    assert_eq!(
        effect("RESET lock_timeout"),
        change("lock_timeout", SettingValue::Default, false)
    );
    assert_eq!(
        effect("SET datestyle = iso, mdy"),
        change("datestyle", to("'iso', 'mdy'"), false)
    );
    assert_eq!(
        effect("SELECT 1; SET work_mem = '1MB'"),
        SessionEffect::Untracked(vec!["work_mem".into()])
    );
    assert_eq!(
        effect("SELECT set_config('work_mem', '1MB', false)"),
        SessionEffect::Untracked(vec!["work_mem".into()])
    );
    assert_eq!(
        effect("DO $$BEGIN SET statement_timeout = 0; END$$"),
        SessionEffect::Untracked(vec!["statement_timeout".into()])
    );
    assert_eq!(
        effect(
            "CREATE FUNCTION f() RETURNS int SET statement_timeout = 0 AS 'SELECT 1' LANGUAGE sql"
        ),
        SessionEffect::Untracked(vec!["statement_timeout".into()])
    );
}

#[test]
fn a_set_of_the_pinned_search_path_is_recognised() {
    use super::sets_pinned_search_path;
    let pinned = ["acme".to_owned(), "Shared".to_owned()];
    for sql in [
        "SET search_path = acme, \"Shared\"",
        "set SESSION search_path TO \"acme\",'Shared';",
        "SET LOCAL search_path = 'acme' , \"Shared\"",
    ] {
        assert!(sets_pinned_search_path(sql, &pinned), "{sql}");
    }
    for sql in [
        "SET search_path = acme",
        "SET search_path = acme, shared",
        "SET search_path = \"acme\", \"Shared\", globex",
        "SET search_path = acme, \"Shared\"; SELECT 1",
        "SET search_path = acme \"Shared\"",
        "SET search_path = acme,, \"Shared\"",
        "SET search_path = ','",
        "SET search_path =",
        "SET search_path TO DEFAULT",
        "RESET search_path",
        "SET role = acme",
    ] {
        assert!(!sets_pinned_search_path(sql, &pinned), "{sql}");
    }
}
