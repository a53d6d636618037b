//! PLACEHOLDER (being written): schema-qualified references outside the tenant.

use super::Violation;
use super::lexer::Statement;

pub fn check(_statement: &Statement, _own: &str, _shared: &[String]) -> Result<(), Violation> {
    Ok(())
}
