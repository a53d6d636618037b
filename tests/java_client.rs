//! pgjdbc (Java) through the proxy, in transaction pooling with one server connection for
//! two tenants: named statements from the first execution, batches, transactions, types,
//! COPY, a query timeout that cancels, refusals and a row tenant (tests/clients/PgjdbcCheck.java;
//! scripts/test.sh installs Debian's pgjdbc, and the JDK runs the source file directly).

mod support;

use support::{Options, TestEnv};

/// Where Debian's libpostgresql-jdbc-java puts the driver.
const PGJDBC: &str = "/usr/share/java/postgresql.jar";

#[tokio::test]
async fn pgjdbc_works_through_the_proxy() {
    let env = TestEnv::with(Options {
        pool_size: 1,
        ..Options::default()
    })
    .await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/PgjdbcCheck.java"
    );
    env.run_client(
        "java",
        script,
        &[
            ("CLASSPATH", PGJDBC.to_owned()),
            ("ACME_DSN", env.url("acme_app", "app")),
            ("GLOBEX_DSN", env.url("globex_app", "app")),
            ("HOOLI_DSN", env.url("hooli_app", "saas")),
        ],
    )
    .await;
}
