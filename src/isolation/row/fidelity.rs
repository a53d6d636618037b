//! A changed statement is printed from its AST, so what the client wrote must survive the
//! trip through sqlparser. Two checks, both only for statements that are printed:
//!
//! * [`misread`]: constructs sqlparser reads differently from Postgres, so printing them
//!   would change their meaning (`0x1F` prints as the bit string `X'1F'`, `0b101` as
//!   `0 AS b101`, adjacent string literals as an alias, `U&"x"` as `U & "x"`);
//! * [`reparsed`]: the printed text must parse back to the very AST that was printed, which
//!   catches printer slips such as `- -1` printed as `--1`, a comment that would swallow the
//!   tenant predicate after it.

use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, Expr, Select, SelectItem, Statement, Value, ValueWithSpan, Visit, Visitor,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::refuse;
use crate::isolation::Violation;

/// Refuses constructs of `statement` that would not print back with their meaning.
pub(super) fn misread(statement: &Statement) -> Result<(), Violation> {
    match statement.visit(&mut Misread) {
        ControlFlow::Break(detail) => Err(refuse(format!(
            "{detail} in a statement that must be rewritten"
        ))),
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// Refuses a printed text that does not parse back to `statements`.
pub(super) fn reparsed(statements: &[Statement], printed: &str) -> Result<(), Violation> {
    match Parser::parse_sql(&PostgreSqlDialect {}, printed) {
        Ok(again) if again == statements => Ok(()),
        _ => Err(refuse(
            "the rewritten statement would not read back the same (please report this statement)",
        )),
    }
}

struct Misread;

impl Visitor for Misread {
    type Break = &'static str;

    fn pre_visit_value(&mut self, value: &ValueWithSpan) -> ControlFlow<&'static str> {
        match value.value {
            Value::HexStringLiteral(_) => ControlFlow::Break("a hexadecimal literal"),
            _ => ControlFlow::Continue(()),
        }
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<&'static str> {
        for item in &select.projection {
            let SelectItem::ExprWithAlias { expr, alias } = item else {
                continue;
            };
            if alias.quote_style == Some('\'') {
                return ControlFlow::Break("adjacent string literals");
            }
            if let Expr::Value(
                number @ ValueWithSpan {
                    value: Value::Number(..),
                    ..
                },
            ) = expr
                && number.span.end == alias.span.start
            {
                return ControlFlow::Break("a number literal with a prefix or suffix");
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<&'static str> {
        match expr {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::BitwiseAnd,
                right,
            } if matches!(left.as_ref(), Expr::Identifier(u) if u.quote_style.is_none() && u.value.eq_ignore_ascii_case("u"))
                && matches!(right.as_ref(), Expr::Identifier(i) if i.quote_style.is_some()) =>
            {
                ControlFlow::Break("a U&\"...\" identifier")
            }
            _ => ControlFlow::Continue(()),
        }
    }
}
