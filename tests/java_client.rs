//! pgjdbc (Java) through the proxy, in transaction pooling with one server connection for
//! two tenants: named statements from the first execution, batches, transactions, types,
//! COPY, a query timeout that cancels, refusals and a row tenant (tests/clients/PgjdbcCheck.java;
//! scripts/test.sh installs Debian's pgjdbc, and the JDK runs the source file directly).

mod support;

use support::check_client;

/// Where Debian's libpostgresql-jdbc-java puts the driver.
const PGJDBC: &str = "/usr/share/java/postgresql.jar";

#[tokio::test]
async fn pgjdbc_works_through_the_proxy() {
    check_client(
        "java",
        "PgjdbcCheck.java",
        &[("CLASSPATH", PGJDBC.to_owned())],
    )
    .await;
}
