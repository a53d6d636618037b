//! Settings a client may change and expects to keep for its whole session, although in
//! transaction pooling its transactions run on different server connections.
//!
//! The proxy follows the settings Postgres reports with ParameterStatus (so a change counts
//! only once Postgres accepted it), remembers each client's values and each connection's,
//! and sets the client's values on a connection before its first message there, pipelined and
//! unseen. The ParameterStatus a client sees therefore always describes its own session.

use std::collections::{BTreeMap, HashMap};

use super::outbound::ParameterChange;

/// Reported settings that follow a client, by the name Postgres reports them under.
const TRACKED: &[&str] = &["application_name", "DateStyle", "IntervalStyle", "TimeZone"];

fn canonical(name: &str) -> Option<&'static str> {
    TRACKED
        .iter()
        .copied()
        .find(|t| t.eq_ignore_ascii_case(name))
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    values: BTreeMap<&'static str, String>,
}

impl ClientSettings {
    /// The tracked settings a client gave in its startup packet; `application_name` always
    /// (empty if not given, as Postgres reports it).
    pub fn from_startup(startup: &HashMap<String, String>) -> ClientSettings {
        let mut values: BTreeMap<&'static str, String> = startup
            .iter()
            .filter_map(|(k, v)| Some((canonical(k)?, v.clone())))
            .collect();
        values.entry("application_name").or_default();
        ClientSettings { values }
    }

    /// Fills the tracked settings the client did not give with the server's values at login:
    /// those are what the client was told, and must hold on every connection it gets.
    pub fn with_server_defaults(mut self, server: &[(String, String)]) -> ClientSettings {
        for (name, value) in server {
            if let Some(name) = canonical(name) {
                self.values.entry(name).or_insert_with(|| value.clone());
            }
        }
        self
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.values.iter().map(|(k, v)| (*k, v.as_str()))
    }

    /// Follows the changes the client made and Postgres confirmed.
    pub fn apply(&mut self, changes: &[ParameterChange]) {
        for c in changes.iter().filter(|c| c.seen_by_client) {
            if let Some(name) = canonical(&c.name) {
                self.values.insert(name, c.value.clone());
            }
        }
    }

    /// `SET` statements that make a connection reporting `server` match this client, if any.
    pub fn sync_sql(&self, server: &[(String, String)]) -> Option<String> {
        let statements: Vec<String> = self
            .values
            .iter()
            .filter(|(name, value)| !server.iter().any(|(n, v)| n == *name && v == *value))
            .map(|(name, value)| format!("SET {name} = '{}'", value.replace('\'', "''")))
            .collect();
        (!statements.is_empty()).then(|| statements.join("; "))
    }
}

/// Records reported changes in a connection's settings.
pub fn apply_to_server(server: &mut Vec<(String, String)>, changes: &[ParameterChange]) {
    for c in changes {
        match server.iter_mut().find(|(n, _)| *n == c.name) {
            Some(entry) => entry.1 = c.value.clone(),
            None => server.push((c.name.clone(), c.value.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(name: &str, value: &str, seen: bool) -> ParameterChange {
        ParameterChange {
            name: name.into(),
            value: value.into(),
            seen_by_client: seen,
        }
    }

    #[test]
    fn follows_confirmed_client_changes_only() {
        let startup = HashMap::from([
            ("timezone".to_owned(), "UTC".to_owned()),
            ("user".to_owned(), "x".to_owned()),
        ]);
        let mut s = ClientSettings::from_startup(&startup);
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            vec![("TimeZone", "UTC"), ("application_name", "")]
        );
        s.apply(&[
            change("application_name", "billing", true),
            change("DateStyle", "SQL, DMY", false),
        ]);
        let server = vec![
            ("TimeZone".to_owned(), "UTC".to_owned()),
            ("application_name".to_owned(), "tenantgate".to_owned()),
        ];
        assert_eq!(
            s.sync_sql(&server).as_deref(),
            Some("SET application_name = 'billing'")
        );
        let mut server = server;
        apply_to_server(&mut server, &[change("application_name", "billing", false)]);
        assert_eq!(s.sync_sql(&server), None);
    }

    #[test]
    fn quotes_values() {
        let mut s = ClientSettings::default();
        s.apply(&[change("application_name", "o'hara", true)]);
        assert_eq!(
            s.sync_sql(&[]).as_deref(),
            Some("SET application_name = 'o''hara'")
        );
    }
}
