//! node-postgres (JavaScript) through the proxy, for a schema tenant and a row tenant, in
//! transaction pooling with one server connection per database (see
//! tests/clients/node/pg_check.js; scripts/test.sh installs `pg` from the npm registry).

mod support;

use support::{Options, PASSWORD, TestEnv};

#[tokio::test]
async fn node_postgres_works_through_the_proxy() {
    let env = TestEnv::with(Options {
        pool_size: 1,
        ..Options::default()
    })
    .await;
    let url = |user: &str, db: &str| {
        format!(
            "postgresql://{user}:{PASSWORD}@127.0.0.1:{}/{db}",
            env.addr().port()
        )
    };
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/node/pg_check.js"
    );
    let out = tokio::process::Command::new("timeout")
        .args(["120", "node", script])
        .env("ACME_URL", url("acme_app", "app"))
        .env("HOOLI_URL", url("hooli_app", "saas"))
        .kill_on_drop(true)
        .output()
        .await
        .expect("run node (scripts/test.sh installs node-postgres)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.trim() == "ok",
        "node-postgres check failed:\n{stdout}\n{stderr}"
    );
}
