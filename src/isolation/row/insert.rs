//! INSERT into a tenant table: every new row gets the session tenant's key.
//!
//! * tenant column not listed: it is appended, with `<key>` as its value in every row;
//! * tenant column listed: each value must equal the key, checked at run time (see
//!   [`KeyAst::checked`]); `DEFAULT` becomes the key;
//! * no column list: the catalog's first k columns, k being the width of the source;
//! * `DEFAULT VALUES`: `("tenant_id") VALUES (<key>)`.
//!
//! A source other than a plain VALUES list is wrapped as `SELECT ... FROM (<source>) AS
//! tenantgate_src`, so each of its rows passes the same expression.

use std::borrow::Cow;

use sqlparser::ast::{
    AccessExpr, Expr, Ident, Insert, ObjectName, OnConflictAction, OnInsert, Query, SelectItem,
    SetExpr, TableObject, Values,
};

use super::refuse;
use super::scope::{Target, fold};
use super::sql::{self, KeyAst};
use super::write;
use crate::isolation::Violation;

/// The relation an INSERT writes; refused for forms Postgres does not have.
pub(super) fn target_name(insert: &Insert) -> Result<&ObjectName, Violation> {
    let nonstandard = insert.or.is_some()
        || insert.ignore
        || insert.overwrite
        || insert.replace_into
        || insert.has_table_keyword
        || insert.priority.is_some()
        || insert.partitioned.is_some()
        || !insert.after_columns.is_empty()
        || insert.output.is_some()
        || insert.insert_alias.is_some()
        || insert.settings.is_some()
        || insert.format_clause.is_some()
        || insert.multi_table_insert_type.is_some()
        || !insert.multi_table_into_clauses.is_empty()
        || !insert.multi_table_when_clauses.is_empty()
        || insert.multi_table_else_clause.is_some()
        || !insert.assignments.is_empty()
        || matches!(insert.on, Some(OnInsert::DuplicateKeyUpdate(_)));
    match &insert.table {
        TableObject::TableName(name) if !nonstandard => Ok(name),
        _ => Err(refuse("this form of INSERT")),
    }
}

pub(super) fn confine(
    insert: &mut Insert,
    target: &Target<'_>,
    tenant_column: &str,
) -> Result<(), Violation> {
    let key = target.key;
    confine_conflict(insert, key, tenant_column)?;
    let Some(source) = insert.source.as_deref_mut() else {
        insert.columns = vec![sql::column_name(tenant_column)];
        insert.source = Some(Box::new(key.key_row()));
        return Ok(());
    };
    if insert.columns.is_empty() {
        insert.columns = implicit_columns(source, target.columns)?;
    }
    let position = tenant_position(&insert.columns, tenant_column)?;
    let width = insert.columns.len();
    if position.is_none() {
        insert.columns.push(sql::column_name(tenant_column));
    }
    if let Some(values) = plain_values(source) {
        return confine_values(values, position, width, key);
    }
    if let Some(source) = insert.source.take() {
        insert.source = Some(Box::new(wrap(*source, position, width, key)));
    }
    Ok(())
}

/// ON CONFLICT DO UPDATE may meet another tenant's row: it may not move the row, and only
/// updates it when it is the tenant's own.
fn confine_conflict(insert: &mut Insert, key: &KeyAst, column: &str) -> Result<(), Violation> {
    let Some(OnInsert::OnConflict(conflict)) = &mut insert.on else {
        return Ok(());
    };
    let OnConflictAction::DoUpdate(update) = &mut conflict.action else {
        return Ok(());
    };
    write::check_assignments(&update.assignments, column)?;
    let TableObject::TableName(name) = &insert.table else {
        return Ok(());
    };
    let alias = insert.table_alias.as_ref().map(|a| &a.alias);
    write::confine_conflict_update(&mut update.selection, name, alias, key);
    Ok(())
}

/// The catalog's first k columns, k being the width every row of the source has.
fn implicit_columns(source: &Query, columns: &[String]) -> Result<Vec<ObjectName>, Violation> {
    let Some(width) = width(&source.body) else {
        return Err(refuse(
            "INSERT without a column list from a source of unknown width; name the columns",
        ));
    };
    if width > columns.len() {
        return Err(refuse("INSERT of more values than the table has columns"));
    }
    Ok(columns[..width]
        .iter()
        .map(|c| sql::column_name(c))
        .collect())
}

/// How many columns a query body yields, when the text alone tells.
fn width(body: &SetExpr) -> Option<usize> {
    match body {
        SetExpr::Values(values) => {
            let first = values.rows.first()?.content.len();
            values
                .rows
                .iter()
                .all(|r| r.content.len() == first)
                .then_some(first)
        }
        SetExpr::Select(select) => select
            .projection
            .iter()
            .all(single_column)
            .then_some(select.projection.len()),
        SetExpr::Query(query) => width(&query.body),
        SetExpr::SetOperation { left, .. } => width(left),
        _ => None,
    }
}

/// Whether a select item yields exactly one column (`*`, `t.*` and `(x).*` may yield many).
fn single_column(item: &SelectItem) -> bool {
    let expr = match item {
        SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } => expr,
        _ => return false,
    };
    match expr {
        Expr::Wildcard(_) | Expr::QualifiedWildcard(..) => false,
        Expr::CompoundFieldAccess { access_chain, .. } => !matches!(
            access_chain.last(),
            Some(AccessExpr::Dot(
                Expr::Wildcard(_) | Expr::QualifiedWildcard(..)
            ))
        ),
        _ => true,
    }
}

/// Where the tenant column is in the INSERT's column list.
fn tenant_position(
    columns: &[ObjectName],
    tenant_column: &str,
) -> Result<Option<usize>, Violation> {
    let mut position = None;
    for (i, name) in columns.iter().enumerate() {
        let parts: Vec<Cow<'_, str>> = name
            .0
            .iter()
            .map(|p| p.as_ident().map_or(Cow::Borrowed(""), fold))
            .collect();
        match parts.as_slice() {
            [one] if one != tenant_column => {}
            [_] if position.is_some() => return Err(refuse("the tenant column listed twice")),
            [_] => position = Some(i),
            _ if parts.iter().any(|p| p == tenant_column || p.is_empty()) => {
                return Err(refuse("a subfield of the tenant column"));
            }
            _ => {}
        }
    }
    Ok(position)
}

/// The VALUES list of a source that is nothing but one.
fn plain_values(source: &mut Query) -> Option<&mut Values> {
    let plain = source.with.is_none()
        && source.order_by.is_none()
        && source.limit_clause.is_none()
        && source.fetch.is_none()
        && source.locks.is_empty();
    match source.body.as_mut() {
        SetExpr::Values(values) if plain => Some(values),
        _ => None,
    }
}

fn confine_values(
    values: &mut Values,
    position: Option<usize>,
    width: usize,
    key: &KeyAst,
) -> Result<(), Violation> {
    for row in &mut values.rows {
        if row.content.len() != width {
            return Err(refuse("VALUES rows must have one value per listed column"));
        }
        match position {
            None => row.content.push(key.key()),
            Some(i) => {
                let value =
                    std::mem::replace(&mut row.content[i], Expr::Identifier(Ident::new("")));
                row.content[i] = if is_default(&value) {
                    key.key()
                } else {
                    key.checked(value)
                };
            }
        }
    }
    Ok(())
}

fn is_default(expr: &Expr) -> bool {
    matches!(expr, Expr::Identifier(i) if i.quote_style.is_none() && i.value.eq_ignore_ascii_case("default"))
}

/// `SELECT tenantgate_src.*, <key> FROM (<source>) AS tenantgate_src` when the tenant column
/// is appended; `SELECT tenantgate_src.c1, ..., <checked ck>, ... FROM (<source>) AS
/// tenantgate_src (c1, ..., cn)` when the source supplies it.
fn wrap(source: Query, position: Option<usize>, width: usize, key: &KeyAst) -> Query {
    let Some(position) = position else {
        let projection = vec![sql::source_star(), SelectItem::UnnamedExpr(key.key())];
        return sql::wrap_source(source, projection, Vec::new());
    };
    let columns: Vec<Ident> = (1..=width).map(|i| Ident::new(format!("c{i}"))).collect();
    let projection = columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            let value = sql::source_column(column);
            SelectItem::UnnamedExpr(if i == position {
                key.checked(value)
            } else {
                value
            })
        })
        .collect();
    sql::wrap_source(source, projection, columns)
}
