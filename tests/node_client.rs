//! node-postgres (JavaScript) through the proxy, for a schema tenant and a row tenant, in
//! transaction pooling with one server connection per database (see
//! tests/clients/node/pg_check.js; scripts/test.sh installs `pg` from the npm registry).

mod support;

use support::{Options, TestEnv};

#[tokio::test]
async fn node_postgres_works_through_the_proxy() {
    let env = TestEnv::with(Options {
        pool_size: 1,
        ..Options::default()
    })
    .await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/node/pg_check.js"
    );
    env.run_client(
        "node",
        script,
        &[
            ("ACME_URL", env.url("acme_app", "app")),
            ("HOOLI_URL", env.url("hooli_app", "saas")),
        ],
    )
    .await;
}
