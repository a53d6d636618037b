//! UPDATE, DELETE and COPY of tenant tables: the statement keeps its shape and gains a
//! predicate on the tenant column (COPY TO becomes COPY of a filtered query).

use sqlparser::ast::{
    Assignment, AssignmentTarget, CopySource, Delete, Expr, FromTable, Ident, ObjectName,
    TableAlias, TableFactor, TableWithJoins, Update,
};

use super::refuse;
use super::scope::fold;
use super::sql::{self, KeyAst};
use crate::isolation::Violation;

/// The table an UPDATE writes and its name; refused unless it is one plain table.
pub(super) fn update_target(update: &Update) -> Result<(&TableFactor, &ObjectName), Violation> {
    let nonstandard = update.or.is_some()
        || update.output.is_some()
        || !update.order_by.is_empty()
        || update.limit.is_some()
        || matches!(
            update.from,
            Some(sqlparser::ast::UpdateTableFromKind::BeforeSet(_))
        );
    if nonstandard {
        return Err(refuse("this form of UPDATE"));
    }
    plain_table(&update.table, "UPDATE")
}

/// The table a DELETE writes and its name; refused unless it is one plain table.
pub(super) fn delete_target(delete: &Delete) -> Result<(&TableFactor, &ObjectName), Violation> {
    let tables = match &delete.from {
        FromTable::WithFromKeyword(tables) => tables,
        FromTable::WithoutKeyword(_) => return Err(refuse("DELETE without FROM")),
    };
    let nonstandard = !delete.tables.is_empty()
        || delete.output.is_some()
        || !delete.order_by.is_empty()
        || delete.limit.is_some();
    match tables.as_slice() {
        [table] if !nonstandard => plain_table(table, "DELETE"),
        _ => Err(refuse("this form of DELETE")),
    }
}

fn plain_table<'s>(
    table: &'s TableWithJoins,
    verb: &str,
) -> Result<(&'s TableFactor, &'s ObjectName), Violation> {
    match &table.relation {
        TableFactor::Table {
            name, args: None, ..
        } if table.joins.is_empty() => Ok((&table.relation, name)),
        _ => Err(refuse(format!("{verb} of anything but one table"))),
    }
}

/// Refuses assignments to the tenant column, also in tuple form and to its subfields.
pub(super) fn check_assignments(
    assignments: &[Assignment],
    tenant_column: &str,
) -> Result<(), Violation> {
    let names = assignments.iter().flat_map(|a| match &a.target {
        AssignmentTarget::ColumnName(name) => std::slice::from_ref(name),
        AssignmentTarget::Tuple(names) => names.as_slice(),
    });
    for name in names {
        let touches = name
            .0
            .iter()
            .any(|part| part.as_ident().is_none_or(|i| fold(i) == tenant_column));
        if touches {
            return Err(refuse(
                "assigning the tenant column (rows cannot move between tenants)",
            ));
        }
    }
    Ok(())
}

/// The name that refers to the target's row inside the statement: its alias, else its
/// table name's last part.
pub(super) fn qualifier<'a>(name: &'a ObjectName, alias: Option<&'a Ident>) -> Option<&'a Ident> {
    alias.or_else(|| name.0.last().and_then(|p| p.as_ident()))
}

fn alias_name(factor: &TableFactor) -> Option<&Ident> {
    match factor {
        TableFactor::Table {
            alias: Some(TableAlias { name, .. }),
            ..
        } => Some(name),
        _ => None,
    }
}

/// `WHERE w` → `WHERE (w) AND <target>."tenant_id" = <key>`; qualified, because a FROM
/// relation may have a tenant column too.
/// With `fence`, the WHERE is guarded instead (see [`fence`](super::fence)).
pub(super) fn confine_update(update: &mut Update, key: &KeyAst, fence: bool) {
    let predicate = match &update.table.relation {
        factor @ TableFactor::Table { name, .. } => {
            key.predicate(qualifier(name, alias_name(factor)))
        }
        _ => return,
    };
    update.selection = Some(confined(update.selection.take(), predicate, fence));
}

pub(super) fn confine_delete(delete: &mut Delete, key: &KeyAst, fence: bool) {
    let FromTable::WithFromKeyword(tables) = &delete.from else {
        return;
    };
    let predicate = match tables.first().map(|t| &t.relation) {
        Some(factor @ TableFactor::Table { name, .. }) => {
            key.predicate(qualifier(name, alias_name(factor)))
        }
        _ => return,
    };
    delete.selection = Some(confined(delete.selection.take(), predicate, fence));
}

fn confined(selection: Option<Expr>, predicate: Expr, fence: bool) -> Expr {
    if fence {
        sql::guarded(selection, predicate)
    } else {
        sql::and(selection, predicate)
    }
}

/// The table a COPY names, if it names one rather than a query.
pub(super) fn copy_table(source: &CopySource) -> Option<&ObjectName> {
    match source {
        CopySource::Table { table_name, .. } => Some(table_name),
        CopySource::Query(_) => None,
    }
}

/// `COPY t [(cols)] TO ...` → `COPY (SELECT cols-or-* FROM t WHERE "tenant_id" = <key>) TO ...`.
pub(super) fn confine_copy(source: &mut CopySource, key: &KeyAst) {
    if let CopySource::Table {
        table_name,
        columns,
    } = source
    {
        let query = key.filtered(table_name, columns);
        *source = CopySource::Query(Box::new(query));
    }
}

/// ON CONFLICT DO UPDATE: the conflicting row may be another tenant's, so the update is
/// confined like an UPDATE, through the insert's alias or table name. Its condition is
/// always guarded: Postgres evaluates it on the conflicting row, in the order written.
pub(super) fn confine_conflict_update(
    selection: &mut Option<Expr>,
    name: &ObjectName,
    alias: Option<&Ident>,
    key: &KeyAst,
) {
    let predicate = key.predicate(qualifier(name, alias));
    *selection = Some(sql::guarded(selection.take(), predicate));
}
