//! Python drivers through the proxy, in transaction pooling with fewer connections than
//! clients: psycopg 3 (prepared statements, binary results, COPY, pipelining, cancel and
//! refusals), asyncpg (a cache of named statements reused on any server connection, binary
//! types, executemany, binary COPY, cancel on timeout) and the SQLAlchemy ORM on both.

mod support;

use support::{Options, TestEnv};

#[tokio::test]
async fn psycopg_works_through_the_proxy() {
    let env = TestEnv::with(Options {
        pool_size: 1,
        ..Options::default()
    })
    .await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/psycopg_check.py"
    );
    env.run_client(
        "python3",
        script,
        &[
            ("ACME_DSN", env.url("acme_app", "app")),
            ("GLOBEX_DSN", env.url("globex_app", "app")),
            ("HOOLI_DSN", env.url("hooli_app", "saas")),
        ],
    )
    .await;
}

#[tokio::test]
async fn asyncpg_works_through_the_proxy() {
    let env = TestEnv::with(Options {
        pool_size: 1,
        ..Options::default()
    })
    .await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/asyncpg_check.py"
    );
    env.run_client(
        "python3",
        script,
        &[
            ("ACME_DSN", env.url("acme_app", "app")),
            ("GLOBEX_DSN", env.url("globex_app", "app")),
            ("HOOLI_DSN", env.url("hooli_app", "saas")),
        ],
    )
    .await;
}

#[tokio::test]
async fn sqlalchemy_orm_works_through_the_proxy() {
    let env = TestEnv::with(Options {
        pool_size: 1,
        ..Options::default()
    })
    .await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/sqlalchemy_check.py"
    );
    env.run_client(
        "python3",
        script,
        &[
            ("ACME_DSN", env.url("acme_app", "app")),
            ("GLOBEX_DSN", env.url("globex_app", "app")),
            ("HOOLI_DSN", env.url("hooli_app", "saas")),
        ],
    )
    .await;
}
