//! node-postgres (JavaScript) through the proxy, for a schema tenant and a row tenant, in
//! transaction pooling with one server connection per database (see
//! tests/clients/node/pg_check.js; scripts/test.sh installs `pg` from the npm registry).

mod support;

use support::check_client;

#[tokio::test]
async fn node_postgres_works_through_the_proxy() {
    check_client("node", "node/pg_check.js", &[]).await;
}
