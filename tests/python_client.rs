//! Python drivers through the proxy, in transaction pooling with fewer connections than
//! clients: psycopg 3 (prepared statements, binary results, COPY, pipelining, cancel and
//! refusals), asyncpg (a cache of named statements reused on any server connection, binary
//! types, executemany, binary COPY, cancel on timeout) and the SQLAlchemy ORM on both.

mod support;

use support::check_client;

#[tokio::test]
async fn psycopg_works_through_the_proxy() {
    check_client("python3", "psycopg_check.py", &[]).await;
}

#[tokio::test]
async fn asyncpg_works_through_the_proxy() {
    check_client("python3", "asyncpg_check.py", &[]).await;
}

#[tokio::test]
async fn sqlalchemy_orm_works_through_the_proxy() {
    check_client("python3", "sqlalchemy_check.py", &[]).await;
}
