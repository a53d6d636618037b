//! pgbench through the proxy: initialisation (COPY, DDL, VACUUM) and 16 clients of the
//! select-only and TPC-B workloads complete without a failed transaction.

mod support;

use support::{Options, TestEnv, stdout};

fn failed_transactions(report: &str) -> Option<u64> {
    let line = report
        .lines()
        .find(|l| l.starts_with("number of failed transactions"))?;
    line.split(':')
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

async fn run_workloads(env: &TestEnv, user: &str, database: &str) {
    let init = env.pgbench(user, database, &["-i", "-s", "2", "-q"]).await;
    assert!(
        init.status.success(),
        "pgbench -i: {}",
        String::from_utf8_lossy(&init.stderr)
    );
    for workload in [&["-S"][..], &[][..], &["-S", "-M", "extended"][..]] {
        let mut args = vec!["-n", "-c", "16", "-j", "2", "-T", "4"];
        args.extend_from_slice(workload);
        let report = stdout(&env.pgbench(user, database, &args).await);
        assert_eq!(
            failed_transactions(&report),
            Some(0),
            "{user} {workload:?}:\n{report}"
        );
        assert!(report.contains("tps = "), "{report}");
    }
}

#[tokio::test]
async fn pgbench_runs_through_a_database_tenant() {
    let env = TestEnv::with(Options {
        pool_size: 4,
        ..Options::default()
    })
    .await;
    run_workloads(&env, "initech_app", "initech").await;
}

#[tokio::test]
async fn pgbench_runs_through_a_schema_tenant_sharing_its_pool() {
    let env = TestEnv::with(Options {
        pool_size: 4,
        ..Options::default()
    })
    .await;
    run_workloads(&env, "acme_app", "app").await;
    // The tables went into acme's schema, not globex's.
    let globex = env.client("globex_app", "app").await;
    let err = globex
        .simple_query("SELECT count(*) FROM pgbench_accounts")
        .await
        .unwrap_err();
    assert_eq!(support::sqlstate(&err), "42P01");
    let owner = env.cluster.connect("app").await.unwrap();
    let schema: String = owner
        .query_one(
            "SELECT schemaname::text FROM pg_tables WHERE tablename = 'pgbench_accounts'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(schema, "acme");
}

/// pgbench's tables with a tenant column, tenant hooli's rows and a copy of the accounts as
/// piedpiper's; pgbench then runs through the proxy as row tenant hooli.
#[tokio::test]
async fn pgbench_runs_through_a_row_tenant() {
    let env = TestEnv::with(Options {
        pool_size: 4,
        ..Options::default()
    })
    .await;
    let init = tokio::process::Command::new(env.cluster.bin("pgbench"))
        .args(["-i", "-s", "2", "-q", "-h", "127.0.0.1", "-U", "tenantgate"])
        .args(["-p", &env.cluster.port().to_string(), "saas"])
        .env("PGPASSWORD", &env.examples.proxy_password)
        .output()
        .await
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let mut sql = String::from("SET ROLE tenantgate;");
    for table in ["accounts", "branches", "tellers", "history"] {
        // No default: a row the rewriter did not fill in would fail NOT NULL.
        sql.push_str(&format!(
            "ALTER TABLE pgbench_{table} ADD COLUMN tenant_id text NOT NULL DEFAULT 'hooli';
             ALTER TABLE pgbench_{table} ALTER COLUMN tenant_id DROP DEFAULT;"
        ));
    }
    sql.push_str(
        "INSERT INTO pgbench_accounts SELECT aid + 1000000, bid, 0, filler, 'piedpiper' FROM pgbench_accounts;",
    );
    env.cluster.execute("saas", &sql).await.unwrap();
    env.reloader.reload().await;
    for workload in [
        &["-S"][..],
        &[][..],
        &["-M", "prepared"][..],
        &["-S", "-M", "extended"][..],
    ] {
        let mut args = vec!["-n", "-c", "8", "-j", "2", "-T", "3"];
        args.extend_from_slice(workload);
        let report = stdout(&env.pgbench("hooli_app", "saas", &args).await);
        assert_eq!(
            failed_transactions(&report),
            Some(0),
            "{workload:?}:\n{report}"
        );
        assert!(report.contains("tps = "), "{report}");
    }
    let db = env.cluster.connect("saas").await.unwrap();
    let row = db
        .query_one(
            "SELECT (SELECT count(*) FROM pgbench_history WHERE tenant_id = 'hooli'),
                    (SELECT count(*) FROM pgbench_history WHERE tenant_id <> 'hooli'),
                    (SELECT sum(abalance) FROM pgbench_accounts WHERE tenant_id = 'piedpiper')::int8",
            &[],
        )
        .await
        .unwrap();
    let (own, foreign, untouched): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert!(own > 0, "TPC-B wrote history rows");
    assert_eq!((foreign, untouched), (0, 0));
}
