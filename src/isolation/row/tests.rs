use super::catalog::Catalog;
use super::rewrite::{Rewritten, rewrite};

fn catalog() -> Catalog {
    let mut b = Catalog::builder("tenant_id", vec!["public".into()]);
    let cols = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    b.tenant_table(
        "public",
        "orders",
        cols(&["id", "tenant_id", "item", "amount"]),
        "text",
    )
    .tenant_table(
        "public",
        "customers",
        cols(&["id", "tenant_id", "name"]),
        "text",
    )
    .tenant_table(
        "public",
        "events",
        cols(&["id", "tenant_id", "kind", "payload"]),
        "integer",
    )
    .tenant_table(
        "public",
        "my_orders",
        cols(&["id", "tenant_id", "item"]),
        "text",
    )
    .tenant_table(
        "public",
        "Invoices",
        cols(&["id", "tenant_id", "total"]),
        "uuid",
    )
    .relation("public", "countries")
    .relation("public", "plans")
    .relation("pg_catalog", "pg_class")
    .relation("pg_catalog", "pg_stats")
    .relation("information_schema", "tables")
    .unsafe_view("public", "order_totals");
    for f in [
        "count",
        "sum",
        "now",
        "lower",
        "coalesce",
        "generate_series",
        "unnest",
        "jsonb_build_object",
        "ts_stat",
        "pg_sleep",
        "nullif",
        "current_setting",
    ] {
        b.function(f);
    }
    b.build()
}

#[test]
#[ignore]
fn scratch() {
    let c = catalog();
    let input = std::fs::read_to_string("/tmp/scratch.sql").unwrap();
    for sql in input.split("\n---\n") {
        let sql = sql.trim();
        match rewrite(&c, sql) {
            Ok(Rewritten::Unchanged) => println!("IN : {sql}\nSAME\n"),
            Ok(Rewritten::Changed(s)) => println!("IN : {sql}\nOUT: {}\n", s.as_str()),
            Err(v) => println!("IN : {sql}\nERR: {}\n", v.detail),
        }
    }
}
