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
            Ok(()),
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
            Ok(()),
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
