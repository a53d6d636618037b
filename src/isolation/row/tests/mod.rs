//! The rewriter against tables of statements: input SQL → the exact text sent instead, the
//! client's text unchanged, or a refusal (a substring of its detail).
//!
//! Expected texts use these shorthands (see [`expand`]):
//!
//! | shorthand | stands for |
//! |---|---|
//! | `{kt}`, `{ki}`, `{ku}` | the key marker as the column's type: `$2000000000::TEXT` (`INTEGER`, `UUID`), where each tenant's key goes |
//! | `{o}`, `{c}`, `{e}` | `(SELECT * FROM orders WHERE "tenant_id" = {kt})`, the same of `customers`, and of `events` with `{ki}` |
//! | `{O}`, `{C}`, `{E}` | the same, fenced with `OFFSET 0` (see `fence.rs`) |
//! | `{bad}` | the expression that raises when an inserted tenant column is not the session's key (before its cast to the column type) |
//!
//! Every changed text must also parse back to a statement that prints as the same text.

use std::ops::ControlFlow;
use std::sync::Arc;

use sqlparser::ast::{Expr, Statement, ValueWithSpan, Visit, Visitor};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::catalog::{Catalog, CatalogBuilder};
use super::rewrite::{Cache, Rewritten, rewrite};
use super::template::KEY_MARKER;
use super::{RowKey, RowScope};
use crate::isolation::{Policy, Rule};

/// The test database: five tenant tables (text, integer and uuid keys), plain relations,
/// catalog relations and an unsafe view, and a few built-in functions.
fn builder() -> CatalogBuilder {
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
    .relation("pg_catalog", "pg_statistic_ext")
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
    b
}

fn catalog() -> Catalog {
    builder().build()
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

/// What the rewriter must make of an input.
#[derive(Debug)]
enum Expect {
    /// Forwarded as the client wrote it.
    Same,
    /// Replaced by this text (with the shorthands of the module documentation).
    Out(&'static str),
    /// Refused by the rewriter, with this substring in the detail.
    Refused(&'static str),
}

use Expect::{Out, Refused, Same};

const KEY: &str = KEY_MARKER;
const BAD: &str = "('tenantgate: the tenant column must hold the session tenant''s key' || \
                   left(coalesce(current_setting('tenantgate.tenant_id', true), ''), 0))::INTEGER::TEXT";

/// Expands the shorthands of an expected text.
fn expand(expected: &str) -> String {
    // Upper case: the fenced form (see fence.rs).
    expected
        .replace(
            "{O}",
            "(SELECT * FROM orders WHERE \"tenant_id\" = {kt} OFFSET 0)",
        )
        .replace(
            "{C}",
            "(SELECT * FROM customers WHERE \"tenant_id\" = {kt} OFFSET 0)",
        )
        .replace(
            "{E}",
            "(SELECT * FROM events WHERE \"tenant_id\" = {ki} OFFSET 0)",
        )
        .replace("{o}", "(SELECT * FROM orders WHERE \"tenant_id\" = {kt})")
        .replace(
            "{c}",
            "(SELECT * FROM customers WHERE \"tenant_id\" = {kt})",
        )
        .replace("{e}", "(SELECT * FROM events WHERE \"tenant_id\" = {ki})")
        .replace("{kt}", &format!("{KEY}::TEXT"))
        .replace("{ki}", &format!("{KEY}::INTEGER"))
        .replace("{ku}", &format!("{KEY}::UUID"))
        .replace("{bad}", BAD)
}

fn parse(sql: &str) -> Vec<Statement> {
    Parser::parse_sql(&PostgreSqlDialect {}, sql)
        .unwrap_or_else(|e| panic!("{sql:?} does not parse: {e}"))
}

fn printed(statements: &[Statement]) -> String {
    statements
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Runs a table of cases against the test catalog; reports every failing input at once.
fn check(group: &str, cases: &[(&str, Expect)]) {
    let c = catalog();
    let mut failures = Vec::new();
    for (sql, expect) in cases {
        let got = rewrite(&c, sql);
        let ok = match (expect, &got) {
            (Same, Ok(Rewritten::Unchanged)) => true,
            (Out(out), Ok(Rewritten::Changed(s))) => s.as_str() == expand(out),
            (Refused(detail), Err(v)) => v.rule == Rule::RowScope && v.detail.contains(detail),
            _ => false,
        };
        if !ok {
            let expected = match expect {
                Out(out) => format!("Out({})", expand(out)),
                other => format!("{other:?}"),
            };
            let got = match &got {
                Ok(Rewritten::Unchanged) => "Same".to_string(),
                Ok(Rewritten::Changed(s)) => format!("Out({})", s.as_str()),
                Err(v) => format!("Refused({:?}: {})", v.rule, v.detail),
            };
            failures.push(format!(
                "input:    {sql}\nexpected: {expected}\ngot:      {got}"
            ));
            continue;
        }
        if let Ok(Rewritten::Changed(s)) = &got {
            let again = printed(&parse(s.as_str()));
            if again != s.as_str() {
                failures.push(format!(
                    "input:    {sql}\nrewritten text does not print back the same:\n  {}\n  {again}",
                    s.as_str()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{group}: {} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// The literals (as printed) and cast types of a text, in order.
#[derive(Default)]
struct Literals {
    values: Vec<String>,
    types: Vec<String>,
}

impl Visitor for Literals {
    type Break = ();

    fn pre_visit_value(&mut self, value: &ValueWithSpan) -> ControlFlow<()> {
        self.values.push(value.value.to_string());
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if let Expr::Cast { data_type, .. } = expr {
            self.types.push(data_type.to_string());
        }
        ControlFlow::Continue(())
    }
}

fn literals(sql: &str) -> Literals {
    let mut found = Literals::default();
    let _ = parse(sql).visit(&mut found);
    found
}

/// What `outer` holds beyond `inner`, when `inner` is a subsequence of it; `None` otherwise.
fn beyond(inner: &[String], outer: &[String]) -> Option<Vec<String>> {
    let mut rest = Vec::new();
    let mut wanted = inner.iter().peekable();
    for item in outer {
        if wanted.peek() == Some(&item) {
            wanted.next();
        } else {
            rest.push(item.clone());
        }
    }
    wanted.peek().is_none().then_some(rest)
}

/// The literals the rewriter may add: none of them is a tenant's key.
fn added_literal_allowed(literal: &str) -> bool {
    literal == KEY_MARKER
        || literal == "'tenantgate.tenant_id'"
        || literal == "true"
        || literal == "''"
        || literal == "0"
        || literal.starts_with("'tenantgate: the tenant column must hold")
}

mod cache;
mod fidelity;
mod reads;
mod refusals;
mod writes;
