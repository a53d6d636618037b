//! Errors must not tell one tenant about another tenant's rows.
//!
//! Postgres flattens the filtering subquery a tenant table becomes and orders the conditions
//! of one scan by cost, so a condition of the client's may run on a row before the tenant
//! predicate rejects it. For a plain comparison of a column with a value that is harmless:
//! it cannot fail. An expression that can fail on a value (`name::int`, `1 / amount`,
//! `f(col)`) would turn into an oracle: its error (`invalid input syntax for type integer:
//! "<another tenant's name>"`) or its mere failure reveals the row.
//!
//! So a statement with such an expression where Postgres may evaluate it early is *fenced*:
//! its filtering subqueries get `OFFSET 0`, which Postgres neither flattens nor pushes
//! conditions into, and the `WHERE` of its UPDATE/DELETE (and ON CONFLICT DO UPDATE) only
//! runs once the row is known to be the tenant's (`pred AND CASE WHEN pred THEN (w) END`).
//! Statements without one keep the flattened form, where indexes serve every condition.
//!
//! Early evaluation is possible for conditions (WHERE, JOIN ... ON, HAVING, the WHERE of
//! writes) and for the output columns of nested queries, which Postgres may substitute into
//! the conditions of the query around them. The output of the statement's own top-level
//! query is computed for returned rows only.

use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, DoUpdate, Expr, Join, JoinConstraint, JoinOperator, OnConflictAction, OnInsert,
    Query, Select, SelectItem, SetExpr, Statement, TableFactor, UnaryOperator, Value, Visit,
    Visitor,
};

/// Whether `statement` needs the fenced form.
pub(super) fn needed(statement: &Statement) -> bool {
    let mut finder = Finder {
        exempt: top_query(statement)
            .map(|q| q as *const Query)
            .into_iter()
            .collect(),
    };
    statement.visit(&mut finder).is_break()
}

/// The query whose output goes to the client: its columns are computed for returned rows.
fn top_query(statement: &Statement) -> Option<&Query> {
    match statement {
        Statement::Query(query) => Some(query),
        Statement::Explain { statement, .. } => top_query(statement),
        _ => None,
    }
}

struct Finder {
    /// Queries whose output is computed only for rows they return: the top-level query and
    /// scalar and EXISTS subqueries, which Postgres never merges into the query around them.
    exempt: Vec<*const Query>,
}

impl Visitor for Finder {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        let exempt = self.exempt.contains(&(query as *const Query));
        body(&query.body, exempt)
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if let Expr::Subquery(query)
        | Expr::Exists {
            subquery: query, ..
        } = expr
        {
            self.exempt.push(&**query as *const Query);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::NestedJoin {
            table_with_joins, ..
        } = factor
        {
            joins(&table_with_joins.joins)?;
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<()> {
        match statement {
            Statement::Update(update) => {
                condition(update.selection.as_ref())?;
                joins(&update.table.joins)
            }
            Statement::Delete(delete) => condition(delete.selection.as_ref()),
            Statement::Insert(insert) => match &insert.on {
                Some(OnInsert::OnConflict(conflict)) => match &conflict.action {
                    OnConflictAction::DoUpdate(DoUpdate { selection, .. }) => {
                        condition(selection.as_ref())
                    }
                    OnConflictAction::DoNothing => ControlFlow::Continue(()),
                },
                _ => ControlFlow::Continue(()),
            },
            _ => ControlFlow::Continue(()),
        }
    }
}

fn body(body: &SetExpr, exempt: bool) -> ControlFlow<()> {
    match body {
        SetExpr::Select(select) => self::select(select, exempt),
        SetExpr::SetOperation { left, right, .. } => {
            self::body(left, exempt)?;
            self::body(right, exempt)
        }
        _ => ControlFlow::Continue(()),
    }
}

fn select(select: &Select, exempt: bool) -> ControlFlow<()> {
    condition(select.selection.as_ref())?;
    condition(select.having.as_ref())?;
    for from in &select.from {
        joins(&from.joins)?;
    }
    if !exempt {
        for item in &select.projection {
            if let SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } = item {
                fails_if(may_fail(expr))?;
            }
        }
    }
    ControlFlow::Continue(())
}

fn joins(joins: &[Join]) -> ControlFlow<()> {
    for join in joins {
        let constraint = match &join.join_operator {
            JoinOperator::Join(c)
            | JoinOperator::Inner(c)
            | JoinOperator::Left(c)
            | JoinOperator::LeftOuter(c)
            | JoinOperator::Right(c)
            | JoinOperator::RightOuter(c)
            | JoinOperator::FullOuter(c)
            | JoinOperator::Semi(c)
            | JoinOperator::LeftSemi(c)
            | JoinOperator::RightSemi(c)
            | JoinOperator::Anti(c)
            | JoinOperator::LeftAnti(c)
            | JoinOperator::RightAnti(c)
            | JoinOperator::StraightJoin(c) => c,
            _ => continue,
        };
        if let JoinConstraint::On(expr) = constraint {
            fails_if(may_fail(expr))?;
        }
    }
    ControlFlow::Continue(())
}

fn condition(expr: Option<&Expr>) -> ControlFlow<()> {
    fails_if(expr.is_some_and(may_fail))
}

fn fails_if(fails: bool) -> ControlFlow<()> {
    if fails {
        ControlFlow::Break(())
    } else {
        ControlFlow::Continue(())
    }
}

/// Whether evaluating `expr` on a row may fail depending on the row's values. Nested
/// queries are judged on their own (the visitor reaches them); here they count as values.
fn may_fail(expr: &Expr) -> bool {
    use BinaryOperator::{
        And, ArrowAt, AtArrow, Eq, Gt, GtEq, Lt, LtEq, NotEq, Or, PGOverlap, Question, QuestionAnd,
        QuestionPipe,
    };
    match expr {
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => false,
        Expr::Nested(e) => may_fail(e),
        Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr,
        } => may_fail(expr),
        Expr::BinaryOp {
            left,
            op: And | Or,
            right,
        } => may_fail(left) || may_fail(right),
        // Comparisons, and containment and key tests of arrays and jsonb (which GIN indexes
        // serve): none fails on a value.
        Expr::BinaryOp {
            left,
            op:
                Eq | NotEq | Lt | LtEq | Gt | GtEq | AtArrow | ArrowAt | PGOverlap | Question
                | QuestionAnd | QuestionPipe,
            right,
        }
        | Expr::IsDistinctFrom(left, right)
        | Expr::IsNotDistinctFrom(left, right) => !operand(left) || !operand(right),
        Expr::IsNull(e)
        | Expr::IsNotNull(e)
        | Expr::IsTrue(e)
        | Expr::IsNotTrue(e)
        | Expr::IsFalse(e)
        | Expr::IsNotFalse(e)
        | Expr::IsUnknown(e)
        | Expr::IsNotUnknown(e) => may_fail(e),
        Expr::InList { expr, list, .. } => !operand(expr) || !list.iter().all(operand),
        Expr::Between {
            expr, low, high, ..
        } => !operand(expr) || !operand(low) || !operand(high),
        Expr::InSubquery { expr, .. } => !operand(expr),
        Expr::AnyOp {
            left,
            compare_op: Eq | NotEq | Lt | LtEq | Gt | GtEq,
            right,
            ..
        }
        | Expr::AllOp {
            left,
            compare_op: Eq | NotEq | Lt | LtEq | Gt | GtEq,
            right,
        } => !operand(left) || !operand(right),
        // A pattern can fail only at an escape character at its end, which the match may
        // or may not reach depending on the value.
        Expr::Like {
            expr,
            pattern,
            escape_char: None,
            any: false,
            ..
        }
        | Expr::ILike {
            expr,
            pattern,
            escape_char: None,
            any: false,
            ..
        } => !operand(expr) || !plain_pattern(pattern),
        Expr::Exists { .. } | Expr::Subquery(_) => false,
        other => reads_columns(other),
    }
}

/// A column, or a value that is the same for every row (a literal, a parameter, `now()`).
fn operand(expr: &Expr) -> bool {
    match expr {
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => true,
        Expr::Nested(e) => operand(e),
        other => !reads_columns(other),
    }
}

fn plain_pattern(pattern: &Expr) -> bool {
    match pattern {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => !s.ends_with('\\'),
            _ => false,
        },
        _ => false,
    }
}

/// Whether `expr` names a column (or anything that may be one) outside nested queries.
fn reads_columns(expr: &Expr) -> bool {
    struct Columns {
        depth: usize,
    }
    impl Visitor for Columns {
        type Break = ();
        fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            self.depth += 1;
            ControlFlow::Continue(())
        }
        fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            self.depth -= 1;
            ControlFlow::Continue(())
        }
        fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
            let column = matches!(expr, Expr::Identifier(_) | Expr::CompoundIdentifier(_));
            fails_if(column && self.depth == 0)
        }
    }
    expr.visit(&mut Columns { depth: 0 }).is_break()
}

#[cfg(test)]
mod tests {
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::parser::Parser;

    fn needed(sql: &str) -> bool {
        let statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap();
        super::needed(&statements[0])
    }

    #[test]
    fn comparisons_of_columns_with_values_need_no_fence() {
        for sql in [
            "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
            "SELECT * FROM orders o JOIN customers c ON c.id = o.customer_id \
             WHERE o.amount > 10 AND (c.name = 'x' OR c.name IS NULL) AND o.id IN (1, 2)",
            "SELECT * FROM orders WHERE created > now() - interval '7 days' AND id = ANY($1)",
            "SELECT * FROM orders WHERE item LIKE 'ab%' AND id BETWEEN 1 AND $2",
            "SELECT * FROM events WHERE payload @> '{\"k\": 1}' AND payload ? 'k' AND tags && $1",
            "SELECT amount * 2, lower(item) FROM orders WHERE id = (SELECT max(id) FROM orders)",
            "SELECT * FROM orders WHERE EXISTS (SELECT 1 FROM customers c WHERE c.id = orders.id)",
            "UPDATE orders SET amount = amount + 1 WHERE id = $1",
            "DELETE FROM orders WHERE id = 3 AND item <> 'x'",
            "INSERT INTO orders (id, item) VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET item = 'y'",
        ] {
            assert!(!needed(sql), "{sql}");
        }
    }

    #[test]
    fn expressions_that_may_fail_on_a_row_need_one() {
        for sql in [
            "SELECT * FROM orders WHERE item::int IS NOT NULL",
            "SELECT count(*) FROM orders WHERE 1 / (amount - 7) IS NULL",
            "SELECT * FROM orders o JOIN customers c ON c.id = o.amount / 0",
            "SELECT * FROM orders o LEFT JOIN customers c ON c.name::int = 1",
            "SELECT * FROM (SELECT 1 / amount AS x FROM orders) s WHERE x IS NULL",
            "WITH s AS (SELECT item::int AS v FROM orders) SELECT * FROM s",
            "SELECT * FROM orders WHERE id IN (SELECT 1 / amount FROM orders)",
            "SELECT item FROM orders GROUP BY item HAVING item::int > 0",
            "SELECT * FROM orders WHERE item LIKE $1",
            "SELECT * FROM orders WHERE lower(item) = 'x'",
            "UPDATE orders SET amount = 1 WHERE item::int = 1",
            "DELETE FROM orders WHERE 1 / amount = 1",
            "INSERT INTO orders (id, item) VALUES (1, 'x') ON CONFLICT (id) \
             DO UPDATE SET item = 'y' WHERE orders.item::int = 1",
            "EXPLAIN SELECT * FROM orders WHERE item::int = 1",
        ] {
            assert!(needed(sql), "{sql}");
        }
    }
}
