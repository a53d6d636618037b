//! Differential test of row isolation: random queries over tenant and shared tables, run as
//! row tenant hooli through the proxy, must answer exactly what the same query answers
//! directly on a database that holds only hooli's rows. A refusal counts as a difference
//! unless the query uses a construct the proxy documents as refused.

mod support;

use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestRunner};
use support::{Options, TestEnv};
use tokio_postgres::{Client, SimpleQueryMessage};

/// Tables of both databases; `{rows}` is replaced by each database's rows.
const TABLES: &str = "
    CREATE TABLE customers (id int PRIMARY KEY, tenant_id text NOT NULL, name text NOT NULL,
                            country text);
    CREATE TABLE countries (code text PRIMARY KEY, name text NOT NULL);
    INSERT INTO countries VALUES ('us', 'United States'), ('de', 'Germany'), ('fr', 'France');";

const SHARED_ROWS: &str = "
    INSERT INTO customers VALUES (1, 'hooli', 'Gavin', 'us'), (2, 'piedpiper', 'Richard', 'us'),
        (3, 'piedpiper', 'Jared', 'de'), (4, 'hooli', 'Denpok', NULL), (5, 'piedpiper', 'Monica', 'fr');
    INSERT INTO orders VALUES (4, 'hooli', 'phone', 5), (205, 'piedpiper', 'box', 2);";

/// One relation of a generated FROM clause: (table, columns usable in conditions).
#[derive(Debug, Clone, Copy)]
enum Table {
    Orders,
    Customers,
    Countries,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Orders => "orders",
            Table::Customers => "customers",
            Table::Countries => "countries",
        }
    }

    /// A text column and a key column.
    fn columns(self) -> (&'static str, &'static str) {
        match self {
            Table::Orders => ("item", "id"),
            Table::Customers => ("name", "id"),
            Table::Countries => ("name", "code"),
        }
    }
}

fn table() -> impl Strategy<Value = Table> {
    prop_oneof![
        Just(Table::Orders),
        Just(Table::Customers),
        Just(Table::Countries)
    ]
}

/// A FROM item for `t` under alias `a`: the table, a filtered subquery, or a CTE-like
/// derived table.
fn from_item(t: Table, a: &str, form: u8, n: i32) -> String {
    let (_, key) = t.columns();
    match form % 4 {
        0 => format!("{} {a}", t.name()),
        1 => format!("public.{} AS {a}", t.name()),
        2 => format!("(SELECT * FROM {} WHERE {key} IS NOT NULL) {a}", t.name()),
        _ => match t {
            Table::Countries => format!("(SELECT * FROM countries WHERE code <> 'zz') {a}"),
            _ => format!("(SELECT * FROM {} WHERE id > {n}) {a}", t.name()),
        },
    }
}

fn join_condition(l: (Table, &str), r: (Table, &str), pick: u8) -> String {
    use Table::*;
    let ((lt, la), (rt, ra)) = (l, r);
    match (lt, rt, pick % 3) {
        (_, _, 0) => "true".into(),
        (Orders | Customers, Orders | Customers, 1) => format!("{la}.tenant_id = {ra}.tenant_id"),
        (Orders | Customers, Orders | Customers, _) => format!("{la}.id = {ra}.id"),
        (Customers, Countries, _) => format!("{la}.country = {ra}.code"),
        (Countries, Customers, _) => format!("{la}.code = {ra}.country"),
        (_, _, _) => format!("{la}.{} IS NOT NULL", lt.columns().1),
    }
}

/// A WHERE condition on alias `a` of table `t`.
fn condition(t: Table, a: &str, pick: u8, n: i32) -> String {
    let (text, key) = t.columns();
    match (t, pick % 6) {
        (_, 0) => "true".into(),
        (Table::Countries, 1) => format!("{a}.code IN (SELECT country FROM customers)"),
        (_, 1) => format!("{a}.{key} > {n}"),
        (_, 2) => format!(
            "EXISTS (SELECT 1 FROM orders x WHERE x.{}::text <> {a}.{text})",
            "id"
        ),
        (_, 3) => {
            format!("{a}.{text} IN (SELECT name FROM customers UNION SELECT item FROM orders)")
        }
        (_, 4) => format!("(SELECT count(*) FROM customers) > {}", n % 4),
        _ => format!("{a}.{text} LIKE '%o%'"),
    }
}

const JOINS: &[&str] = &["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN"];

/// One generated query.
fn query() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((table(), any::<u8>(), any::<u8>(), 0..300i32), 1..4),
        any::<u8>(),
        any::<u8>(),
        0..300i32,
        0u8..4,
    )
        .prop_map(|(items, where_pick, shape, n, wrap)| {
            let aliases: Vec<String> = (0..items.len()).map(|i| format!("t{i}")).collect();
            let mut from = from_item(items[0].0, &aliases[0], items[0].1, items[0].3);
            for i in 1..items.len() {
                let (t, form, pick, m) = items[i];
                let on = join_condition((items[i - 1].0, &aliases[i - 1]), (t, &aliases[i]), pick);
                let join = JOINS[usize::from(form) % JOINS.len()];
                from.push_str(&format!(" {join} {} ON {on}", from_item(t, &aliases[i], form, m)));
            }
            let (first, a0) = (items[0].0, &aliases[0]);
            let (text, _) = first.columns();
            let filter = condition(first, a0, where_pick, n);
            let select = format!(
                "SELECT count(*) AS n, coalesce(string_agg({a0}.{text}, ',' ORDER BY {a0}.{text}), '') AS t \
                 FROM {from} WHERE {filter}"
            );
            match (shape % 4, wrap) {
                (0, _) => select,
                (1, _) => format!("WITH q AS ({select}) SELECT * FROM q"),
                (2, _) => format!(
                    "{select} UNION ALL SELECT count(*), coalesce(string_agg(item, ',' ORDER BY item), '') FROM orders"
                ),
                _ => format!("SELECT n, t FROM ({select}) s WHERE n >= 0 ORDER BY 1, 2"),
            }
        })
}

async fn answer(client: &Client, sql: &str) -> Result<Vec<Vec<Option<String>>>, String> {
    let messages = client.simple_query(sql).await.map_err(|e| e.to_string())?;
    Ok(messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
            }
            _ => None,
        })
        .collect())
}

/// Database `oracle`: the same tables with only hooli's rows.
async fn oracle(env: &TestEnv) -> Client {
    env.cluster
        .execute("postgres", "CREATE DATABASE oracle OWNER tenantgate")
        .await
        .unwrap();
    let saas = env.cluster.connect("saas").await.unwrap();
    let db = env.cluster.connect("oracle").await.unwrap();
    db.batch_execute(
        "CREATE TABLE orders (id int PRIMARY KEY, tenant_id text NOT NULL, item text NOT NULL, amount numeric NOT NULL);",
    )
    .await
    .unwrap();
    db.batch_execute(TABLES).await.unwrap();
    for (table, columns) in [
        ("orders", "id, tenant_id, item, amount"),
        ("customers", "id, tenant_id, name, country"),
    ] {
        let rows = saas
            .query(
                &format!("SELECT format('(%s)', concat_ws(', ', {})) FROM {table} WHERE tenant_id = 'hooli'", quoted(columns)),
                &[],
            )
            .await
            .unwrap();
        let values: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        db.batch_execute(&format!(
            "INSERT INTO {table} ({columns}) VALUES {}",
            values.join(", ")
        ))
        .await
        .unwrap();
    }
    db
}

/// `a, b` → `quote_nullable(a), quote_nullable(b)`.
fn quoted(columns: &str) -> String {
    columns
        .split(", ")
        .map(|c| format!("quote_nullable({c})"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn random_queries_answer_as_if_only_the_tenants_rows_existed() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (env, proxy, direct) = runtime.block_on(async {
        let env = TestEnv::with(Options {
            pool_size: 2,
            saas_sql: format!("{TABLES}{SHARED_ROWS}"),
            ..Options::default()
        })
        .await;
        let proxy = env.client("hooli_app", "saas").await;
        let direct = oracle(&env).await;
        (env, proxy, direct)
    });
    let cases = if std::env::var_os("CI").is_some() {
        300
    } else {
        150
    };
    let mut runner = TestRunner::new(RunnerConfig {
        cases,
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    let answered = std::sync::atomic::AtomicUsize::new(0);
    let result = runner.run(&query(), |sql| {
        runtime.block_on(async {
            let expected = answer(&direct, &sql).await;
            let got = answer(&proxy, &sql).await;
            match (&expected, &got) {
                (Ok(e), Ok(g)) if e == g => {
                    answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    Ok(())
                }
                // Both fail alike (e.g. a type error the generator made): no difference.
                (Err(_), Err(_)) => Ok(()),
                _ => Err(TestCaseError::fail(format!(
                    "{sql}\n  direct, hooli's rows only: {expected:?}\n  through the proxy: {got:?}"
                ))),
            }
        })
    });
    drop(env);
    if let Err(e) = result {
        panic!("{e}");
    }
    // The generator makes valid SQL: most cases must have compared real answers.
    let answered = answered.into_inner();
    assert!(
        answered * 10 >= cases as usize * 9,
        "only {answered} of {cases} cases answered"
    );
}
