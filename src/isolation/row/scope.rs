//! The walk over one statement: every relation and function is checked, every read of a
//! tenant table is replaced by a derived table that filters first (or, where no outer join
//! can null it, gets the tenant predicate in its SELECT's WHERE), and every write to one is
//! handed to [`write`](super::write) or [`insert`](super::insert).
//!
//! sqlparser's `VisitorMut` reaches every table factor, expression, query and statement, also
//! the statements nested in CTEs, EXPLAIN and PREPARE, so nested DML gets the same treatment
//! as top-level DML. Wrapping happens in `post_visit_table_factor` (the new subquery is never
//! walked again), predicates in `post_visit_select` and writes in `post_visit_statement`
//! (after their reads), so nothing the rewriter adds is itself checked or wrapped.

use std::borrow::Cow;
use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, Expr, Function, Ident, JoinOperator, ObjectName, ObjectNamePart, Query, Select,
    SetExpr, Statement, TableAlias, TableFactor, TableWithJoins, VisitMut, VisitorMut,
};

use super::catalog::{self, Catalog, Relation};
use super::sql::{self, KeyAst};
use super::{fence, insert, kinds, refuse, write};
use crate::isolation::Violation;

/// A tenant relation a statement names, with the key expression of its column type.
pub(super) struct Target<'c> {
    pub columns: &'c [String],
    pub key: &'c KeyAst,
}

/// Checks and rewrites `statement` in place; `true` when it changed.
pub(super) fn confine(catalog: &Catalog, statement: &mut Statement) -> Result<bool, Violation> {
    let mut scope = Scope {
        catalog,
        ctes: Vec::new(),
        frames: Vec::new(),
        targets: Vec::new(),
        selects: Vec::new(),
        merges: 0,
        changed: false,
        fence: fence::needed(statement),
    };
    match statement.visit(&mut scope) {
        ControlFlow::Break(violation) => Err(violation),
        ControlFlow::Continue(()) => Ok(scope.changed),
    }
}

struct Scope<'c> {
    catalog: &'c Catalog,
    /// Folded CTE names in scope, innermost last; `frames` marks where each query's start.
    ctes: Vec<String>,
    frames: Vec<usize>,
    /// Addresses of the table factors confined by a predicate on their statement or SELECT,
    /// not wrapped: DML targets, and tenant tables a SELECT reads alone.
    targets: Vec<usize>,
    /// For each SELECT being walked, innermost last: the predicates its WHERE gets.
    selects: Vec<Vec<Confined>>,
    /// How many MERGE statements enclose the walk.
    merges: usize,
    changed: bool,
    /// The statement has an expression that could fail on another tenant's row.
    fence: bool,
}

/// A tenant table a SELECT confines in its own WHERE: the factor's address and predicate.
struct Confined {
    factor: usize,
    predicate: Expr,
}

/// Postgres' case folding: unquoted identifiers fold to lower case (ASCII only, as for UTF-8
/// databases), quoted ones are exact.
pub(super) fn fold(ident: &Ident) -> Cow<'_, str> {
    if ident.quote_style.is_none() && ident.value.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(ident.value.to_ascii_lowercase())
    } else {
        Cow::Borrowed(&ident.value)
    }
}

fn idents(name: &ObjectName) -> Result<Vec<&Ident>, Violation> {
    name.0
        .iter()
        .map(|part| match part {
            ObjectNamePart::Identifier(ident) => Ok(ident),
            ObjectNamePart::Function(_) => Err(refuse(format!("name \"{name}\" is computed"))),
        })
        .collect()
}

fn address(factor: &TableFactor) -> usize {
    std::ptr::from_ref(factor) as usize
}

impl<'c> Scope<'c> {
    /// What a relation name in FROM (or a DML target) is: `Ok(None)` for a CTE or a relation
    /// without tenant rows; refused when it is unknown or cannot be confined.
    fn target(&self, name: &ObjectName) -> Result<Option<Target<'c>>, Violation> {
        let parts = idents(name)?;
        let relation = match parts.as_slice() {
            [one] => {
                let folded = fold(one);
                if self.ctes.iter().any(|c| *c == folded) {
                    return Ok(None);
                }
                if one.quote_style.is_none() && folded == "only" {
                    return Err(refuse("FROM ONLY (write the table name alone)"));
                }
                self.catalog.relation(None, &folded)
            }
            [schema, one] => self.catalog.relation(Some(&fold(schema)), &fold(one)),
            _ => return Err(refuse(format!("three-part name \"{name}\""))),
        };
        match relation {
            Relation::Plain => Ok(None),
            Relation::Tenant(tenant) => match tenant.key {
                Some(key) => Ok(Some(Target {
                    columns: &tenant.table.columns,
                    key,
                })),
                None => Err(refuse(format!(
                    "the type of the tenant column of \"{name}\" cannot be read"
                ))),
            },
            Relation::Unsafe => Err(refuse(format!(
                "view \"{name}\" reads tenant rows but has no tenant column"
            ))),
            Relation::Activity => Err(refuse(format!(
                "\"{name}\" shows other tenants' data or sessions"
            ))),
            Relation::Unknown => Err(refuse(format!(
                "relation \"{name}\" is not known to tenantgate; reload after creating it"
            ))),
        }
    }

    fn function(&self, name: &ObjectName) -> Result<(), Violation> {
        // SQL syntax that sqlparser prints as a call; Postgres' grammar owns these names.
        const SYNTAX: &[&str] = &[
            "coalesce",
            "nullif",
            "greatest",
            "least",
            "current_date",
            "current_time",
            "current_timestamp",
            "localtime",
            "localtimestamp",
            "current_user",
            "current_role",
            "current_catalog",
            "current_schema",
            "session_user",
            "system_user",
            "user",
            // `ARRAY(SELECT ...)`: the constructor; its query is walked like any other.
            "array",
        ];
        let parts = idents(name)?;
        let (schema_ok, last) = match parts.as_slice() {
            [one] if one.quote_style.is_none() && SYNTAX.contains(&fold(one).as_ref()) => {
                return Ok(());
            }
            [one] => (true, fold(one)),
            [schema, one] => (fold(schema) == "pg_catalog", fold(one)),
            _ => (false, Cow::Borrowed("")),
        };
        if schema_ok && self.catalog.function_allowed(&last) {
            Ok(())
        } else if schema_ok && catalog::reads_beyond_tenant(&last) {
            Err(refuse(format!(
                "function \"{name}\" can read other tenants' rows or sessions"
            )))
        } else {
            Err(refuse(format!(
                "function \"{name}\" is not a built-in; functions could read other tenants' rows"
            )))
        }
    }

    fn enter_query(&mut self, query: &Query) -> Result<(), Violation> {
        self.frames.push(self.ctes.len());
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                let name = fold(&cte.alias.name);
                if self.catalog.reaches(&name) {
                    return Err(refuse(format!(
                        "CTE name \"{}\" shadows a relation",
                        cte.alias.name
                    )));
                }
                self.ctes.push(name.into_owned());
            }
        }
        query_body(&query.body)
    }

    fn table_factor(&mut self, factor: &mut TableFactor) -> Result<(), Violation> {
        match factor {
            TableFactor::Table {
                name, args: None, ..
            } => {
                let Some(target) = self.target(name)? else {
                    return Ok(());
                };
                if self.targets.contains(&address(factor)) {
                    return Ok(());
                }
                if self.merges > 0 {
                    return Err(refuse("MERGE reading a tenant table"));
                }
                wrap(factor, target.key, self.fence)?;
                self.changed = true;
                Ok(())
            }
            TableFactor::Table {
                name,
                args: Some(_),
                ..
            }
            | TableFactor::Function { name, .. } => self.function(name),
            TableFactor::UNNEST { .. } => {
                self.function(&ObjectName::from(vec![Ident::new("unnest")]))
            }
            TableFactor::Derived { sample: None, .. }
            | TableFactor::NestedJoin { .. }
            | TableFactor::JsonTable { .. }
            | TableFactor::XmlTable { .. } => Ok(()),
            _ => Err(refuse("this kind of table expression")),
        }
    }

    /// The tenant tables a SELECT reads that no outer join can null get the tenant predicate
    /// in that SELECT's WHERE: what Postgres would flatten their derived tables into, without
    /// the cost of planning subqueries (a fifth of a point lookup's time, measured on PG 15).
    /// Tables on the nullable side of an outer join are wrapped, which keeps the join exact.
    /// Not when fenced, and not under a column alias list, which could rename the tenant
    /// column.
    fn enter_select(&mut self, select: &Select) -> Result<(), Violation> {
        let mut confined = Vec::new();
        if !self.fence && self.merges == 0 {
            for factor in select.from.iter().flat_map(preserved) {
                if let Some((name, alias)) = unmodified(factor)
                    && alias.is_none_or(|a| a.columns.is_empty())
                    && let Some(qualifier) = write::qualifier(name, alias.map(|a| &a.name))
                    && let Some(target) = self.target(name)?
                {
                    confined.push(Confined {
                        factor: address(factor),
                        predicate: target.key.predicate(Some(qualifier)),
                    });
                }
            }
        }
        self.targets.extend(confined.iter().map(|c| c.factor));
        self.selects.push(confined);
        Ok(())
    }

    fn leave_select(&mut self, select: &mut Select) {
        let confined = self.selects.pop().unwrap_or_default();
        if confined.is_empty() {
            return;
        }
        self.targets
            .retain(|t| !confined.iter().any(|c| c.factor == *t));
        let predicates = confined.into_iter().map(|c| c.predicate);
        select.selection = sql::and_all(select.selection.take(), predicates);
        self.changed = true;
    }

    fn enter_statement(&mut self, statement: &Statement) -> Result<(), Violation> {
        kinds::check(statement)?;
        match statement {
            Statement::Update(update) => {
                let (factor, name) = write::update_target(update)?;
                if self.target(name)?.is_some() {
                    write::check_assignments(&update.assignments, self.catalog.tenant_column())?;
                }
                self.targets.push(address(factor));
            }
            Statement::Delete(delete) => {
                let (factor, _) = write::delete_target(delete)?;
                self.targets.push(address(factor));
            }
            Statement::Insert(insert) => {
                let name = insert::target_name(insert)?;
                self.target(name)?;
            }
            Statement::Merge(merge) => {
                if let TableFactor::Table { name, .. } = &merge.table
                    && self.target(name)?.is_some()
                {
                    return Err(refuse("MERGE into a tenant table"));
                }
                self.targets.push(address(&merge.table));
                self.merges += 1;
            }
            Statement::Copy { source, to, .. } => {
                if let Some(name) = write::copy_table(source)
                    && self.target(name)?.is_some()
                    && !to
                {
                    return Err(refuse(
                        "COPY FROM into a tenant table (use INSERT; the tenant column cannot be filled per row)",
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn leave_statement(&mut self, statement: &mut Statement) -> Result<(), Violation> {
        let column = self.catalog.tenant_column();
        match statement {
            Statement::Update(update) => {
                let (factor, name) = write::update_target(update)?;
                let factor = address(factor);
                if let Some(target) = self.target(name)? {
                    write::confine_update(update, target.key, self.fence);
                    self.changed = true;
                }
                self.targets.retain(|t| *t != factor);
            }
            Statement::Delete(delete) => {
                let (factor, name) = write::delete_target(delete)?;
                let factor = address(factor);
                if let Some(target) = self.target(name)? {
                    write::confine_delete(delete, target.key, self.fence);
                    self.changed = true;
                }
                self.targets.retain(|t| *t != factor);
            }
            Statement::Insert(ins) => {
                if let Some(target) = self.target(insert::target_name(ins)?)? {
                    insert::confine(ins, &target, column)?;
                    self.changed = true;
                }
            }
            Statement::Merge(merge) => {
                let factor = address(&merge.table);
                self.targets.retain(|t| *t != factor);
                self.merges -= 1;
            }
            Statement::Copy { source, .. } => {
                if let Some(name) = write::copy_table(source)
                    && let Some(target) = self.target(name)?
                {
                    write::confine_copy(source, target.key);
                    self.changed = true;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// The parts of a query body that no hook reaches: `TABLE x` (which sqlparser reads
/// unreliably, swallowing the tokens after it) and `SELECT ... INTO`, which creates a table.
fn query_body(body: &SetExpr) -> Result<(), Violation> {
    match body {
        SetExpr::Table(_) => Err(refuse("TABLE x (write SELECT * FROM x)")),
        SetExpr::Select(select) if select.into.is_some() => {
            Err(refuse("SELECT ... INTO (it creates a table)"))
        }
        SetExpr::SetOperation { left, right, .. } => {
            query_body(left)?;
            query_body(right)
        }
        _ => Ok(()),
    }
}

/// The factors of a FROM item that every row of the item's join comes from with its values:
/// none is on the nullable side of an outer join (or a join kind Postgres does not have).
fn preserved(item: &TableWithJoins) -> Vec<&TableFactor> {
    let mut preserved = vec![&item.relation];
    for join in &item.joins {
        match join.join_operator {
            JoinOperator::Join(_) | JoinOperator::Inner(_) | JoinOperator::CrossJoin(_) => {
                preserved.push(&join.relation);
            }
            JoinOperator::Left(_) | JoinOperator::LeftOuter(_) => {}
            JoinOperator::Right(_) | JoinOperator::RightOuter(_) => {
                preserved.clear();
                preserved.push(&join.relation);
            }
            _ => preserved.clear(),
        }
    }
    preserved
}

/// The name and alias of a reference to a table as it is: no TABLESAMPLE, hints, partitions,
/// version or other modifier.
fn unmodified(factor: &TableFactor) -> Option<(&ObjectName, Option<&TableAlias>)> {
    match factor {
        TableFactor::Table {
            name,
            alias,
            args: None,
            with_hints,
            version: None,
            with_ordinality: false,
            partitions,
            json_path: None,
            sample: None,
            index_hints,
        } if with_hints.is_empty() && partitions.is_empty() && index_hints.is_empty() => {
            Some((name, alias.as_ref()))
        }
        _ => None,
    }
}

/// Replaces a tenant table reference by `(SELECT * FROM t WHERE "tenant_id" = <key>) AS a`,
/// with `OFFSET 0` when fenced.
fn wrap(factor: &mut TableFactor, key: &KeyAst, fence: bool) -> Result<(), Violation> {
    let Some((name, alias)) = unmodified(factor) else {
        return Err(refuse("TABLESAMPLE or a table modifier on a tenant table"));
    };
    let alias = match alias {
        Some(alias) => TableAlias {
            explicit: true,
            ..alias.clone()
        },
        None => {
            let last = idents(name)?
                .pop()
                .cloned()
                .unwrap_or_else(|| Ident::new(""));
            sql::alias(last, Vec::new())
        }
    };
    let filtered = key.filtered(name, &[]);
    let filtered = if fence {
        sql::fenced(filtered)
    } else {
        filtered
    };
    *factor = sql::derived(filtered, alias);
    Ok(())
}

impl VisitorMut for Scope<'_> {
    type Break = Violation;

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<Violation> {
        into_flow(self.enter_query(query))
    }

    fn post_visit_query(&mut self, _query: &mut Query) -> ControlFlow<Violation> {
        if let Some(start) = self.frames.pop() {
            self.ctes.truncate(start);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<Violation> {
        into_flow(self.enter_select(select))
    }

    fn post_visit_select(&mut self, select: &mut Select) -> ControlFlow<Violation> {
        self.leave_select(select);
        ControlFlow::Continue(())
    }

    fn post_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<Violation> {
        into_flow(self.table_factor(factor))
    }

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<Violation> {
        into_flow(match expr {
            Expr::Function(Function { name, .. }) => self.function(name),
            Expr::BinaryOp {
                op: BinaryOperator::PGCustomBinaryOperator(parts),
                ..
            } if parts.len() > 1 && parts[0] != "pg_catalog" => {
                Err(refuse("OPERATOR() of a schema other than pg_catalog"))
            }
            _ => Ok(()),
        })
    }

    fn pre_visit_statement(&mut self, statement: &mut Statement) -> ControlFlow<Violation> {
        into_flow(self.enter_statement(statement))
    }

    fn post_visit_statement(&mut self, statement: &mut Statement) -> ControlFlow<Violation> {
        into_flow(self.leave_statement(statement))
    }
}

fn into_flow(result: Result<(), Violation>) -> ControlFlow<Violation> {
    match result {
        Ok(()) => ControlFlow::Continue(()),
        Err(violation) => ControlFlow::Break(violation),
    }
}
