//! Schema tenants may name only their own schema, the shared schemas, `pg_catalog` and
//! `information_schema`.
//!
//! Unqualified names are always fine: the proxy pins `search_path`. A dotted name `a.b` is
//! either a qualified object (relation, function, type, …: `a` is a schema) or a column
//! reference (`a` is a table or alias already in the statement; those can only reach relations
//! the FROM list brought in, which are checked themselves). The lexer finds every dotted name:
//!
//! 1. a name with another tenant's schema (or `pg_temp*`, `pg_toast*`) as its schema part is
//!    refused outright, also in PL/pgSQL bodies;
//! 2. at the top level, every other name whose first part is not an allowed schema must be
//!    proven a column reference by sqlparser's AST, or the statement is refused; SQL that
//!    sqlparser cannot parse is refused then, too (it fails closed). Most statements carry no
//!    such name and are never parsed.
//!
//! In routine bodies (PL/pgSQL cannot be parsed by sqlparser) only rule 1 applies, so a schema
//! that is no tenant's and not shared is caught there only by Postgres' own privileges.
//!
//! Strings that name objects count as well: `'other.t'::regclass`, `nextval('other.s')`,
//! `to_regclass(..)`, and the first string argument of `pg_*` functions.

use std::collections::HashMap;
use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, Ident, SelectItem, SelectItemQualifiedWildcardKind, SetExpr, Visit, Visitor,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::lexer::{Statement, Token, statements};
use super::{Rule, Violation};

/// A dotted name as Postgres resolves it: unquoted parts folded, quoted parts exact.
type Chain = Vec<String>;

/// The schema names one tenant's checks know about.
pub struct Names<'a> {
    pub own: &'a str,
    pub shared: &'a [String],
    pub neighbours: &'a [String],
}

impl Names<'_> {
    fn allowed(&self, name: &str) -> bool {
        name == self.own
            || self.shared.iter().any(|s| s == name)
            || name == "pg_catalog"
            || name == "information_schema"
    }

    /// A schema that certainly is not the tenant's.
    fn foreign(&self, name: &str) -> bool {
        !self.allowed(name)
            && (self.neighbours.iter().any(|s| s == name)
                || name.starts_with("pg_temp")
                || name.starts_with("pg_toast"))
    }

    /// The schema part of a dotted name, if it is one of the foreign schemas: the first part,
    /// or the second of `database.schema.object`.
    fn foreign_part<'c>(&self, chain: &'c Chain) -> Option<&'c str> {
        chain
            .iter()
            .take(2.min(chain.len() - 1))
            .find(|p| self.foreign(p))
            .map(String::as_str)
    }
}

/// Checks every statement of `sql` (already split into `lexed`); `in_body` for routine bodies.
pub fn check(
    sql: &str,
    lexed: &[Statement<'_>],
    names: &Names<'_>,
    in_body: bool,
) -> Result<(), Violation> {
    let mut suspects: Vec<Chain> = Vec::new();
    for statement in lexed {
        string_names(statement, names)?;
        sequence_arguments(statement)?;
        schema_names(statement, names)?;
        for chain in dotted_names(statement) {
            if let Some(schema) = names.foreign_part(&chain) {
                return Err(foreign(schema));
            }
            if !names.allowed(&chain[0]) {
                suspects.push(chain);
            }
        }
    }
    if suspects.is_empty() || in_body {
        return Ok(());
    }
    let mut columns = column_references(sql)?;
    for chain in suspects {
        match columns.get_mut(&chain) {
            Some(n) if *n > 0 => *n -= 1,
            _ => return Err(foreign(&chain[0])),
        }
    }
    Ok(())
}

fn foreign(schema: &str) -> Violation {
    Violation {
        rule: Rule::ForeignSchema,
        detail: format!(
            "\"{schema}\" is not the tenant's schema (qualify names with the tenant's own schema or none)"
        ),
    }
}

/// Every `a.b[.c…]` in the statement, including `a.*`.
fn dotted_names(statement: &Statement<'_>) -> Vec<Chain> {
    let mut chains = Vec::new();
    let mut i = 0;
    while i < statement.len() {
        let starts_chain = matches!(statement[i], Token::Word { .. })
            && statement.get(i + 1).is_some_and(|t| t.is_punct('.'))
            && (i == 0 || !statement[i - 1].is_punct('.'));
        if !starts_chain {
            i += 1;
            continue;
        }
        let mut chain = vec![statement[i].word().expect("a word").to_owned()];
        let mut j = i + 1;
        while statement.get(j).is_some_and(|t| t.is_punct('.')) {
            match statement.get(j + 1) {
                Some(Token::Word { text, .. }) => chain.push(text.to_string()),
                Some(Token::Op("*")) => chain.push("*".into()),
                _ => break,
            }
            j += 2;
        }
        chains.push(chain);
        i = j;
    }
    chains
}

/// Strings used as object names.
fn string_names(statement: &Statement<'_>, names: &Names<'_>) -> Result<(), Violation> {
    const NAME_FUNCTIONS: &[&str] = &[
        "nextval",
        "currval",
        "setval",
        "has_table_privilege",
        "has_sequence_privilege",
        "has_column_privilege",
        "has_function_privilege",
    ];
    for (i, t) in statement.iter().enumerate() {
        let Token::Str(text) = t else { continue };
        // `'x'::regclass`, `CAST('x' AS regclass)`, `regclass 'x'`, each also `pg_catalog.regclass`.
        let cast_to = if statement.get(i + 1) == Some(&Token::Cast)
            || (i >= 2
                && statement[i - 1].is_punct('(')
                && statement[i - 2].is_kw("cast")
                && statement.get(i + 1).is_some_and(|t| t.is_kw("as")))
        {
            reg_type_at(statement, i + 2)
        } else {
            None
        };
        let typed = i >= 1 && statement[i - 1].word().is_some_and(is_reg_type);
        let function = (i >= 2 && statement[i - 1].is_punct('('))
            .then(|| statement[i - 2].word())
            .flatten();
        let function_arg = function.is_some_and(|f| {
            NAME_FUNCTIONS.contains(&f) || f.starts_with("pg_") || f.starts_with("to_reg")
        });
        let namespace = cast_to == Some("regnamespace")
            || (typed && statement[i - 1].word() == Some("regnamespace"))
            || function == Some("to_regnamespace");
        if namespace {
            // A bare schema name; lexed, it must be one allowed word.
            match statements(text).as_deref() {
                Ok([one]) if one.len() == 1 && one[0].word().is_some_and(|w| names.allowed(w)) => {}
                _ => return Err(foreign(text)),
            }
            continue;
        }
        if !(cast_to.is_some() || typed || function_arg) {
            continue;
        }
        // A string that does not read as SQL tokens names nothing Postgres could resolve.
        let Ok(lexed) = statements(text) else {
            continue;
        };
        for chain in lexed.iter().flat_map(dotted_names) {
            let schema = if chain.len() >= 3 {
                &chain[1]
            } else {
                &chain[0]
            };
            if !names.allowed(schema) {
                return Err(foreign(schema));
            }
        }
    }
    Ok(())
}

const REG_TYPES: &[&str] = &[
    "regclass",
    "regproc",
    "regprocedure",
    "regoper",
    "regoperator",
    "regtype",
    "regnamespace",
    "regconfig",
    "regdictionary",
    "regcollation",
];

fn is_reg_type(word: &str) -> bool {
    REG_TYPES.contains(&word)
}

/// The object-identifier type named at `i` (`regclass` or `pg_catalog.regclass`), if any.
fn reg_type_at<'s>(statement: &'s Statement<'_>, i: usize) -> Option<&'s str> {
    let name = match statement.get(i).and_then(Token::word)? {
        "pg_catalog" if statement.get(i + 1).is_some_and(|t| t.is_punct('.')) => {
            statement.get(i + 2).and_then(Token::word)?
        }
        name => name,
    };
    is_reg_type(name).then_some(name)
}

/// Sequence functions change or read a sequence named at run time: the name must be a string
/// literal the checks can read (or `pg_get_serial_sequence(…)` of literals, checked above),
/// not `('x')`, `concat('oth', 'er.s')` or a parameter.
fn sequence_arguments(statement: &Statement<'_>) -> Result<(), Violation> {
    const SEQUENCE_FUNCTIONS: &[&str] = &["nextval", "currval", "setval", "pg_sequence_last_value"];
    for (i, t) in statement.iter().enumerate() {
        let is_call = t.word().is_some_and(|w| SEQUENCE_FUNCTIONS.contains(&w))
            && statement.get(i + 1).is_some_and(|t| t.is_punct('('));
        if !is_call {
            continue;
        }
        let literal = matches!(statement.get(i + 2), Some(Token::Str(_)))
            && statement
                .get(i + 3)
                .is_some_and(|t| t.is_punct(')') || t.is_punct(',') || *t == Token::Cast);
        let serial = statement
            .get(i + 2)
            .is_some_and(|t| t.is_kw("pg_get_serial_sequence"))
            || (statement.get(i + 2).is_some_and(|t| t.is_kw("pg_catalog"))
                && statement
                    .get(i + 4)
                    .is_some_and(|t| t.is_kw("pg_get_serial_sequence")));
        if !(literal || serial) {
            return Err(Violation {
                rule: Rule::DynamicSql,
                detail: format!(
                    "{}() of a sequence name computed at run time; name the sequence with a string literal",
                    t.word().unwrap_or_default()
                ),
            });
        }
    }
    Ok(())
}

/// Schemas named on their own: `GRANT … ON SCHEMA x`, `… IN SCHEMA x, y`, `REINDEX SCHEMA x`.
fn schema_names(statement: &Statement<'_>, names: &Names<'_>) -> Result<(), Violation> {
    for (i, t) in statement.iter().enumerate() {
        let introduced = t.is_kw("schema")
            && i >= 1
            && ["on", "in", "reindex"]
                .iter()
                .any(|kw| statement[i - 1].is_kw(kw) || statement[i - 1].is_punct(')'));
        if !introduced {
            continue;
        }
        let mut j = i + 1;
        if statement.get(j).is_some_and(|t| t.is_kw("concurrently")) {
            j += 1;
        }
        while let Some(name) = statement.get(j).and_then(Token::word) {
            if !names.allowed(name) {
                return Err(foreign(name));
            }
            if !statement.get(j + 1).is_some_and(|t| t.is_punct(',')) {
                break;
            }
            j += 2;
        }
    }
    Ok(())
}

/// How often each dotted name occurs as a column reference (or `alias.*`) in the AST.
fn column_references(sql: &str) -> Result<HashMap<Chain, usize>, Violation> {
    let parsed = Parser::parse_sql(&PostgreSqlDialect {}, sql).map_err(|e| Violation {
        rule: Rule::Unreadable,
        detail: format!("a qualified name could not be verified ({e}); qualify names with the tenant's schema or none"),
    })?;
    let mut collector = Columns::default();
    for statement in &parsed {
        let _ = statement.visit(&mut collector);
    }
    Ok(collector.found)
}

#[derive(Default)]
struct Columns {
    found: HashMap<Chain, usize>,
    /// Roots of field accesses already counted as part of a longer name.
    counted_roots: Vec<Chain>,
}

impl Columns {
    fn add(&mut self, idents: &[&Ident], wildcard: bool) {
        let mut chain: Chain = idents.iter().map(|i| fold(i)).collect();
        if wildcard {
            chain.push("*".into());
        }
        if chain.len() >= 2 {
            *self.found.entry(chain).or_default() += 1;
        }
    }

    fn select_items(&mut self, body: &SetExpr) {
        match body {
            SetExpr::Select(select) => {
                for item in &select.projection {
                    if let SelectItem::QualifiedWildcard(
                        SelectItemQualifiedWildcardKind::ObjectName(name),
                        _,
                    ) = item
                    {
                        let idents: Vec<&Ident> =
                            name.0.iter().filter_map(|p| p.as_ident()).collect();
                        self.add(&idents, true);
                    }
                }
            }
            SetExpr::SetOperation { left, right, .. } => {
                self.select_items(left);
                self.select_items(right);
            }
            _ => {}
        }
    }
}

fn fold(ident: &Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_ascii_lowercase(),
    }
}

impl Visitor for Columns {
    type Break = ();

    fn pre_visit_query(&mut self, query: &sqlparser::ast::Query) -> ControlFlow<()> {
        self.select_items(&query.body);
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        match expr {
            Expr::CompoundIdentifier(idents) => {
                let chain: Chain = idents.iter().map(fold).collect();
                match self.counted_roots.iter().position(|c| *c == chain) {
                    Some(i) => drop(self.counted_roots.swap_remove(i)),
                    None => self.add(&idents.iter().collect::<Vec<_>>(), false),
                }
            }
            Expr::QualifiedWildcard(name, _) => {
                let idents: Vec<&Ident> = name.0.iter().filter_map(|p| p.as_ident()).collect();
                self.add(&idents, true);
            }
            Expr::Function(function) => {
                // `f(t.*)` is an argument, not an expression, and the visitor does not see it.
                if let sqlparser::ast::FunctionArguments::List(list) = &function.args {
                    for arg in &list.args {
                        let (sqlparser::ast::FunctionArg::Unnamed(a)
                        | sqlparser::ast::FunctionArg::Named { arg: a, .. }
                        | sqlparser::ast::FunctionArg::ExprNamed { arg: a, .. }) = arg;
                        if let sqlparser::ast::FunctionArgExpr::QualifiedWildcard(name) = a {
                            let idents: Vec<&Ident> =
                                name.0.iter().filter_map(|p| p.as_ident()).collect();
                            self.add(&idents, true);
                        }
                    }
                }
            }
            Expr::CompoundFieldAccess { root, access_chain } => {
                let root_idents: Vec<&Ident> = match root.as_ref() {
                    Expr::Identifier(first) => vec![first],
                    Expr::CompoundIdentifier(idents) => {
                        self.counted_roots.push(idents.iter().map(fold).collect());
                        idents.iter().collect()
                    }
                    _ => vec![],
                };
                if !root_idents.is_empty() {
                    let mut idents = root_idents;
                    for access in access_chain {
                        match access {
                            sqlparser::ast::AccessExpr::Dot(Expr::Identifier(i)) => idents.push(i),
                            _ => break,
                        }
                    }
                    self.add(&idents, false);
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}
