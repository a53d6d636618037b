//! psycopg 3 (Python) through the proxy: prepared statements, binary results, COPY,
//! pipelining, cancel and refusals, in transaction pooling with fewer connections than clients.

mod support;

use support::{Options, PASSWORD, TestEnv};

#[tokio::test]
async fn psycopg_works_through_the_proxy() {
    let env = TestEnv::with(Options {
        pool_size: 1,
        ..Options::default()
    })
    .await;
    let dsn = |user: &str| {
        format!(
            "postgresql://{user}:{PASSWORD}@127.0.0.1:{}/app",
            env.addr().port()
        )
    };
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/psycopg_check.py"
    );
    let out = tokio::process::Command::new("timeout")
        .args(["120", "python3", script])
        .env("ACME_DSN", dsn("acme_app"))
        .env("GLOBEX_DSN", dsn("globex_app"))
        .kill_on_drop(true)
        .output()
        .await
        .expect("run python3 (scripts/test.sh installs psycopg)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.trim() == "ok",
        "psycopg check failed:\n{stdout}\n{stderr}"
    );
}
