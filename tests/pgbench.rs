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
