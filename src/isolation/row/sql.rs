//! The SQL the rewriter adds, as AST nodes built once and cloned per use.
//!
//! Type-independent shapes are parsed once per process; the key expression and what depends
//! on the tenant column's type are built once per catalog, in [`KeyAst`].

use std::sync::LazyLock;

use sqlparser::ast::helpers::attached_token::AttachedToken;
use sqlparser::ast::{
    BinaryOperator, CaseWhen, CastKind, DataType, Expr, Ident, ObjectName, Query, SelectItem,
    SetExpr, Statement, TableAlias, TableAliasColumnDef, TableFactor,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use super::TENANT_SETTING;
use super::template::KEY_MARKER;

/// The alias of a wrapped INSERT source.
pub(super) const SOURCE_ALIAS: &str = "tenantgate_src";

static SELECT_STAR: LazyLock<Query> = LazyLock::new(|| template("SELECT * FROM tenantgate_rel"));
static WRAPPED_SOURCE: LazyLock<Query> =
    LazyLock::new(|| template("SELECT * FROM (SELECT 1) AS tenantgate_src"));
static ONE_ROW: LazyLock<Query> = LazyLock::new(|| template("VALUES (1)"));
/// `OFFSET 0`: Postgres neither flattens such a subquery nor pushes conditions into it.
static FENCE: LazyLock<Query> = LazyLock::new(|| template("SELECT 1 OFFSET 0"));
/// Raises at run time: the message is no integer. The `current_setting` makes the expression
/// stable, so the planner cannot fold it (and raise) while the row matches.
static MISMATCH: LazyLock<Expr> = LazyLock::new(|| {
    expression(&format!(
        "('tenantgate: the tenant column must hold the session tenant''s key' \
         || left(coalesce(current_setting('{TENANT_SETTING}', true), ''), 0))::INTEGER::TEXT"
    ))
    .expect("the mismatch template parses")
});

fn template(sql: &str) -> Query {
    match Parser::parse_sql(&PostgreSqlDialect {}, sql).as_deref() {
        Ok([Statement::Query(query)]) => (**query).clone(),
        _ => panic!("template {sql} parses as one query"),
    }
}

/// Parses exactly one expression, nothing before or after it.
fn expression(sql: &str) -> Option<Expr> {
    let mut parser = Parser::new(&PostgreSqlDialect {}).try_with_sql(sql).ok()?;
    let expr = parser.parse_expr().ok()?;
    (parser.peek_token().token == Token::EOF).then_some(expr)
}

/// The key expression of one tenant column type and the nodes built from it.
pub(crate) struct KeyAst {
    column: Ident,
    data_type: DataType,
    /// `$2000000000::<type>`: the [`KEY_MARKER`], which each tenant's key literal replaces.
    key: Expr,
    /// `... ELSE <mismatch> END`: raises, typed as the column.
    mismatch: Expr,
}

impl KeyAst {
    /// `None` when `column_type` does not read as exactly one type name.
    pub(super) fn new(column: &str, column_type: &str) -> Option<KeyAst> {
        let key = expression(&format!("{KEY_MARKER}::{column_type}"))?;
        let Expr::Cast {
            kind: CastKind::DoubleColon,
            data_type,
            ..
        } = &key
        else {
            return None;
        };
        let data_type = data_type.clone();
        let mismatch = cast(MISMATCH.clone(), &data_type);
        Some(KeyAst {
            column: quoted(column),
            data_type,
            key,
            mismatch,
        })
    }

    pub(super) fn key(&self) -> Expr {
        self.key.clone()
    }

    /// `[qualifier.]"tenant_id" = <key>`.
    pub(super) fn predicate(&self, qualifier: Option<&Ident>) -> Expr {
        let column = match qualifier {
            Some(q) => Expr::CompoundIdentifier(vec![q.clone(), self.column.clone()]),
            None => Expr::Identifier(self.column.clone()),
        };
        Expr::BinaryOp {
            left: Box::new(column),
            op: BinaryOperator::Eq,
            right: Box::new(self.key()),
        }
    }

    /// `value` when it equals the key, else a run-time error: `CASE WHEN (value)::T = <key>
    /// THEN <key> ELSE <mismatch> END`. The cast keeps a `$n` typed as the column; the value
    /// is evaluated once.
    pub(super) fn checked(&self, value: Expr) -> Expr {
        let condition = Expr::BinaryOp {
            left: Box::new(cast(Expr::Nested(Box::new(value)), &self.data_type)),
            op: BinaryOperator::Eq,
            right: Box::new(self.key()),
        };
        Expr::Case {
            case_token: AttachedToken::empty(),
            end_token: AttachedToken::empty(),
            operand: None,
            conditions: vec![CaseWhen {
                condition,
                result: self.key(),
            }],
            else_result: Some(Box::new(self.mismatch.clone())),
        }
    }

    /// `SELECT <columns or *> FROM <name> WHERE "tenant_id" = <key>`.
    pub(super) fn filtered(&self, name: &ObjectName, columns: &[Ident]) -> Query {
        let mut query = SELECT_STAR.clone();
        if let SetExpr::Select(select) = query.body.as_mut() {
            if let TableFactor::Table { name: from, .. } = &mut select.from[0].relation {
                *from = name.clone();
            }
            select.selection = Some(self.predicate(None));
            if !columns.is_empty() {
                select.projection = columns
                    .iter()
                    .map(|c| SelectItem::UnnamedExpr(Expr::Identifier(c.clone())))
                    .collect();
            }
        }
        query
    }

    /// `VALUES (<key>)`.
    pub(super) fn key_row(&self) -> Query {
        let mut query = ONE_ROW.clone();
        if let SetExpr::Values(values) = query.body.as_mut() {
            values.rows[0].content = vec![self.key()];
        }
        query
    }
}

fn cast(expr: Expr, data_type: &DataType) -> Expr {
    Expr::Cast {
        kind: CastKind::DoubleColon,
        expr: Box::new(expr),
        data_type: data_type.clone(),
        format: None,
    }
}

/// A name printed in double quotes, exactly as stored.
pub(super) fn quoted(name: &str) -> Ident {
    Ident::with_quote('"', name)
}

/// A column name for an INSERT column list, quoted.
pub(super) fn column_name(name: &str) -> ObjectName {
    ObjectName::from(vec![quoted(name)])
}

/// `query OFFSET 0` (see [`fence`](super::fence)).
pub(super) fn fenced(mut query: Query) -> Query {
    query.limit_clause = FENCE.limit_clause.clone();
    query
}

/// `predicate AND CASE WHEN predicate THEN (condition) END`, or `predicate` alone: the
/// condition runs only on rows the predicate admitted, whatever order Postgres picks.
pub(super) fn guarded(condition: Option<Expr>, predicate: Expr) -> Expr {
    let Some(condition) = condition else {
        return predicate;
    };
    let case = Expr::Case {
        case_token: AttachedToken::empty(),
        end_token: AttachedToken::empty(),
        operand: None,
        conditions: vec![CaseWhen {
            condition: predicate.clone(),
            result: Expr::Nested(Box::new(condition)),
        }],
        else_result: None,
    };
    Expr::BinaryOp {
        left: Box::new(predicate),
        op: BinaryOperator::And,
        right: Box::new(case),
    }
}

/// `(left) AND c1 AND c2 ...`, or the conjuncts alone; `left` when there are none.
pub(super) fn and_all(
    left: Option<Expr>,
    conjuncts: impl IntoIterator<Item = Expr>,
) -> Option<Expr> {
    let mut conjuncts = conjuncts.into_iter();
    let Some(first) = conjuncts.next() else {
        return left;
    };
    Some(conjuncts.fold(and(left, first), |all, c| Expr::BinaryOp {
        left: Box::new(all),
        op: BinaryOperator::And,
        right: Box::new(c),
    }))
}

/// `(left) AND right`, or `right` alone.
pub(super) fn and(left: Option<Expr>, right: Expr) -> Expr {
    match left {
        Some(left) => Expr::BinaryOp {
            left: Box::new(Expr::Nested(Box::new(left))),
            op: BinaryOperator::And,
            right: Box::new(right),
        },
        None => right,
    }
}

/// `(<subquery>) AS <alias>`.
pub(super) fn derived(subquery: Query, alias: TableAlias) -> TableFactor {
    TableFactor::Derived {
        lateral: false,
        subquery: Box::new(subquery),
        alias: Some(alias),
        sample: None,
    }
}

pub(super) fn alias(name: Ident, columns: Vec<Ident>) -> TableAlias {
    TableAlias {
        explicit: true,
        name,
        columns: columns
            .into_iter()
            .map(|name| TableAliasColumnDef {
                name,
                data_type: None,
            })
            .collect(),
        at: None,
    }
}

/// `SELECT <projection> FROM (<source>) AS tenantgate_src [(<columns>)]`. The source's WITH
/// moves to the new query so that data-modifying CTEs stay at the top level.
pub(super) fn wrap_source(
    mut source: Query,
    projection: Vec<SelectItem>,
    columns: Vec<Ident>,
) -> Query {
    let mut query = WRAPPED_SOURCE.clone();
    query.with = source.with.take();
    if let SetExpr::Select(select) = query.body.as_mut() {
        select.projection = projection;
        select.from[0].relation = derived(source, alias(Ident::new(SOURCE_ALIAS), columns));
    }
    query
}

/// `tenantgate_src.<name>`.
pub(super) fn source_column(name: &Ident) -> Expr {
    Expr::CompoundIdentifier(vec![Ident::new(SOURCE_ALIAS), name.clone()])
}

/// `tenantgate_src.*`.
pub(super) fn source_star() -> SelectItem {
    match &WRAPPED_SOURCE_STAR.body.as_ref() {
        SetExpr::Select(select) => select.projection[0].clone(),
        _ => unreachable!("the template is a SELECT"),
    }
}

static WRAPPED_SOURCE_STAR: LazyLock<Query> =
    LazyLock::new(|| template("SELECT tenantgate_src.* FROM tenantgate_src"));
