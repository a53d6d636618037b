//! The row rewriter's cost per statement: parse + confine + print for texts seen the first
//! time, and the cache lookup that every later execution of the same text pays.
//!
//! `cargo bench --bench rewrite`; goals: a cache hit under 1 µs, a cold rewrite of a
//! 200-character join under 30 µs. The `sqlparser parse` group shows the two parses a cold
//! rewrite makes (the client's text and the printed rewrite, read back).

use std::hint::black_box;

// The allocator the proxy runs with (see src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, criterion_group, criterion_main};
use tenantgate::isolation::row::catalog::Catalog;
use tenantgate::isolation::row::rewrite::rewrite;
use tenantgate::isolation::row::{RowKey, RowScope};

fn catalog() -> Catalog {
    let columns = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut b = Catalog::builder("tenant_id", vec!["public".into()]);
    b.tenant_table(
        "public",
        "orders",
        columns(&[
            "id",
            "tenant_id",
            "customer_id",
            "item",
            "amount",
            "created",
        ]),
        "text",
    )
    .tenant_table(
        "public",
        "customers",
        columns(&["id", "tenant_id", "name", "country"]),
        "text",
    )
    .relation("public", "countries");
    for f in ["count", "sum", "now", "lower"] {
        b.function(f);
    }
    b.build()
}

const SIMPLE: &str = "SELECT id, item, amount FROM orders WHERE id = $1";
const INSERT: &str = "INSERT INTO orders (id, customer_id, item, amount) VALUES ($1, $2, $3, $4)";
/// About 200 characters: two tenant tables joined, filtered, ordered.
const JOIN: &str = "SELECT o.id, o.item, o.amount, c.name FROM orders o \
    JOIN customers c ON c.id = o.customer_id \
    WHERE o.amount > $1 AND c.country = $2 AND o.created > $3 \
    ORDER BY o.created DESC LIMIT 50";
/// The same size, with an outer join to a plain table, grouping and an interval.
const REPORT: &str = "SELECT c.name, k.name AS country, count(*), sum(o.amount) \
    FROM orders o JOIN customers c ON c.id = o.customer_id \
    LEFT JOIN countries k ON k.code = c.country \
    WHERE o.created > now() - interval '7 days' GROUP BY 1, 2 ORDER BY 4 DESC";

fn cold(c: &mut Criterion) {
    let catalog = catalog();
    let mut group = c.benchmark_group("cold");
    for (name, sql) in [
        ("select", SIMPLE),
        ("insert", INSERT),
        ("join", JOIN),
        ("report", REPORT),
    ] {
        group.bench_function(format!("{name} ({} chars)", sql.len()), |b| {
            b.iter(|| rewrite(&catalog, black_box(sql)).expect("confined"))
        });
    }
    group.finish();
}

fn cached(c: &mut Criterion) {
    let scope = RowScope::new(catalog());
    let key = RowKey::new("acme");
    scope.rewrite(JOIN, &key).expect("confined");
    c.bench_function("cache hit (join)", |b| {
        b.iter(|| scope.rewrite(black_box(JOIN), &key).expect("confined"))
    });
}

/// The simple protocol inlines values: every text is new, and only its shape is cached.
fn shaped(c: &mut Criterion) {
    let scope = RowScope::new(catalog());
    let key = RowKey::new("acme");
    let texts: Vec<String> = (0..1000)
        .map(|i| format!("SELECT item, amount FROM orders WHERE id = {i} AND item <> 'x{i}'"))
        .collect();
    let mut next = texts.iter().cycle();
    c.bench_function("shape hit (new literals)", |b| {
        b.iter(|| {
            scope
                .rewrite(black_box(next.next().expect("cycles")), &key)
                .expect("confined")
        })
    });
}

/// What a cold rewrite cannot go below: sqlparser reading the client's text, and reading the
/// printed rewrite back (the fidelity check, see `isolation::row::fidelity`).
fn parse_floor(c: &mut Criterion) {
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::parser::Parser;
    use tenantgate::isolation::row::rewrite::Rewritten;
    let Ok(Rewritten::Changed(template)) = rewrite(&catalog(), JOIN) else {
        panic!("the join is rewritten");
    };
    let printed = template.as_str();
    let mut group = c.benchmark_group("sqlparser parse");
    for (name, sql) in [("join", JOIN), ("join rewritten", printed)] {
        group.bench_function(format!("{name} ({} chars)", sql.len()), |b| {
            b.iter(|| Parser::parse_sql(&PostgreSqlDialect {}, black_box(sql)).expect("parses"))
        });
    }
    group.finish();
}

criterion_group!(benches, cold, cached, shaped, parse_floor);
criterion_main!(benches);
