//! The statement kinds a row tenant may send, and the forms of them that Postgres reads the
//! way sqlparser does. Everything else is refused, naming the statement kind.

use sqlparser::ast::{
    CopyTarget, DeclareType, DescribeAlias, DiscardObject, Expr, ObjectName, Reset, ResetStatement,
    Set, SetSessionAuthorizationParam, SetSessionAuthorizationParamKind, Statement, Value,
};

use super::refuse;
use crate::isolation::{Violation, is_pinned_value, is_protected_setting};

pub(super) fn check(statement: &Statement) -> Result<(), Violation> {
    match statement {
        Statement::Query(_)
        | Statement::Insert(_)
        | Statement::Update(_)
        | Statement::Delete(_)
        | Statement::Merge(_)
        | Statement::Savepoint { .. }
        | Statement::ReleaseSavepoint { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::ShowVariable { .. }
        | Statement::Close { .. }
        | Statement::Deallocate { .. } => Ok(()),
        Statement::StartTransaction {
            statements,
            exception,
            ..
        } if statements.is_empty() && exception.is_none() => Ok(()),
        Statement::Set(set) => set_statement(set),
        // The guard lets one RESET ALL through, and the proxy sets the session's context again
        // right after it.
        Statement::Reset(ResetStatement {
            reset: Reset::ALL | Reset::SessionAuthorization,
        }) => Ok(()),
        Statement::Reset(ResetStatement {
            reset: Reset::ConfigurationParameter(name),
        }) if !is_protected_setting(&setting_name(name))
            || setting_name(name).eq_ignore_ascii_case("role") =>
        {
            Ok(())
        }
        Statement::Discard { object_type } if *object_type != DiscardObject::ALL => Ok(()),
        Statement::Copy { target, values, .. } => copy(target, values),
        Statement::Explain {
            describe_alias: DescribeAlias::Explain,
            query_plan: false,
            estimate: false,
            statement,
            ..
        } => explained(statement),
        Statement::Prepare { statement, .. } => prepared(statement),
        Statement::Execute {
            name: Some(_),
            immediate: false,
            into,
            using,
            output: false,
            default: false,
            ..
        } if into.is_empty() && using.is_empty() => Ok(()),
        Statement::Declare { stmts } => {
            let cursor = |d: &sqlparser::ast::Declare| {
                d.declare_type == Some(DeclareType::Cursor)
                    && d.for_query.is_some()
                    && d.assignment.is_none()
                    && d.data_type.is_none()
            };
            if stmts.iter().all(cursor) {
                Ok(())
            } else {
                Err(refuse("DECLARE of anything but a cursor"))
            }
        }
        Statement::Fetch { into: None, .. } => Ok(()),
        // UNLISTEN only ends this session's own subscriptions (pool reset queries send it).
        Statement::UNLISTEN { .. } => Ok(()),
        Statement::LISTEN { .. } | Statement::NOTIFY { .. } => Err(refuse(format!(
            "{} (channels are shared by all tenants of the database)",
            kind(statement)
        ))),
        other => Err(refuse(format!(
            "{} is not allowed for row tenants",
            kind(other)
        ))),
    }
}

fn set_statement(set: &Set) -> Result<(), Violation> {
    match set {
        Set::SingleAssignment {
            hivevar: false,
            variable,
            values,
            ..
        } => {
            let name = setting_name(variable);
            match values.as_slice() {
                _ if !is_protected_setting(&name) => Ok(()),
                [value] if value_text(value).is_some_and(|v| is_pinned_value(&name, v)) => Ok(()),
                _ => Err(refuse("this form of SET")),
            }
        }
        Set::SetNames {
            charset_name,
            collation_name: None,
        } if is_pinned_value("names", &charset_name.value) => Ok(()),
        Set::SetTimeZone { .. } | Set::SetTransaction { .. } => Ok(()),
        // Back to the role the proxy logged in as, where every connection always is (see
        // `guard::resets_identity`).
        Set::SetRole {
            role_name: None, ..
        }
        | Set::SetSessionAuthorization(SetSessionAuthorizationParam {
            kind: SetSessionAuthorizationParamKind::Default,
            ..
        }) => Ok(()),
        _ => Err(refuse("this form of SET")),
    }
}

/// A SET value written as a word or a string.
fn value_text(value: &Expr) -> Option<&str> {
    match value {
        Expr::Identifier(ident) => Some(&ident.value),
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => Some(s),
            _ => None,
        },
        _ => None,
    }
}

/// The setting a name reaches: Postgres looks settings up by the identifiers' text, quoted
/// or not and in any case, so `"tenantgate.tenant_id"` and `"Search_Path"` are protected
/// settings too (`to_string()` would keep the quotes).
fn setting_name(name: &ObjectName) -> String {
    name.0
        .iter()
        .map(|part| match part.as_ident() {
            Some(ident) => ident.value.clone(),
            None => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn copy(target: &CopyTarget, values: &[Option<String>]) -> Result<(), Violation> {
    match target {
        CopyTarget::Stdin | CopyTarget::Stdout if values.is_empty() => Ok(()),
        CopyTarget::Stdin | CopyTarget::Stdout => Err(refuse("COPY with inline data")),
        _ => Err(refuse("COPY to or from a server file or program")),
    }
}

fn explained(statement: &Statement) -> Result<(), Violation> {
    match statement {
        Statement::Query(_)
        | Statement::Insert(_)
        | Statement::Update(_)
        | Statement::Delete(_)
        | Statement::Merge(_)
        | Statement::Execute { .. }
        | Statement::Declare { .. } => Ok(()),
        other => Err(refuse(format!("EXPLAIN of {}", kind(other)))),
    }
}

fn prepared(statement: &Statement) -> Result<(), Violation> {
    match statement {
        Statement::Query(_)
        | Statement::Insert(_)
        | Statement::Update(_)
        | Statement::Delete(_)
        | Statement::Merge(_) => Ok(()),
        other => Err(refuse(format!("PREPARE of {}", kind(other)))),
    }
}

/// The statement kind in words, from its variant name: `CreateTable` → `CREATE TABLE`.
fn kind(statement: &Statement) -> String {
    let debug = format!("{statement:?}");
    let variant: String = debug
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let mut words = String::new();
    let mut previous_lower = false;
    for c in variant.chars() {
        if c.is_ascii_uppercase() && previous_lower {
            words.push(' ');
        }
        previous_lower = c.is_ascii_lowercase();
        words.push(c.to_ascii_uppercase());
    }
    words
}
