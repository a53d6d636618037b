//! Settings a client may change and expects to keep for its whole session, although in
//! transaction pooling its transactions run on different server connections.
//!
//! The proxy follows the settings Postgres reports with ParameterStatus (so a change counts
//! only once Postgres accepted it), remembers each client's values and each connection's,
//! and sets the client's values on a connection before its first message there, pipelined and
//! unseen. The ParameterStatus a client sees therefore always describes its own session.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use super::outbound::ParameterChange;
use crate::isolation::{
    Rule, SettingChange, SettingValue, Violation, duration_ms, is_protected_setting, quote_literal,
};

/// Reported settings that follow a client, by the name Postgres reports them under.
const TRACKED: &[&str] = &["application_name", "DateStyle", "IntervalStyle", "TimeZone"];

/// Startup packet keys that are not settings, or that the proxy pins or follows otherwise.
pub const NOT_SETTINGS: &[&str] = &[
    "user",
    "database",
    "options",
    "replication",
    "client_encoding",
];

fn canonical(name: &str) -> Option<&'static str> {
    TRACKED
        .iter()
        .copied()
        .find(|t| t.eq_ignore_ascii_case(name))
}

/// Whether Postgres reports `name` with ParameterStatus (then the proxy follows those).
pub fn is_reported(name: &str) -> bool {
    canonical(name).is_some() || name.eq_ignore_ascii_case("timezone")
}

/// Settings Postgres does not report, as one side holds them: name (lower case) → SQL value.
pub type Unreported = BTreeMap<String, String>;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    values: BTreeMap<&'static str, String>,
    /// What the client set of the settings Postgres does not report, plus plan defaults.
    unreported: Unreported,
    /// The plan's values, which `RESET` returns to instead of the server's.
    defaults: Unreported,
    /// `values` and `unreported` as they were at login, which `RESET ALL` returns to.
    login: Option<Box<(BTreeMap<&'static str, String>, Unreported)>>,
}

impl ClientSettings {
    /// The tracked settings a client gave in its startup packet (as parameters or as
    /// `options=-c name=value`); `application_name` always (empty if not given, as Postgres
    /// reports it).
    pub fn from_startup(startup: &HashMap<String, String>) -> ClientSettings {
        let mut values: BTreeMap<&'static str, String> = startup
            .iter()
            .filter_map(|(k, v)| Some((canonical(k)?, v.clone())))
            .collect();
        values.entry("application_name").or_default();
        let options = startup
            .get("options")
            .map(|o| option_pairs(o))
            .unwrap_or_default();
        let unreported = startup
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .filter(|(k, _)| !NOT_SETTINGS.contains(&k.as_str()))
            .chain(options)
            // A pinned setting given at startup (its pinned value) is the proxy's to set.
            .filter(|(k, _)| !is_reported(k) && is_setting_name(k) && !is_protected_setting(k))
            .map(|(k, v)| (k, quote_literal(&v)))
            .collect();
        ClientSettings {
            values,
            unreported,
            defaults: Unreported::new(),
            login: None,
        }
    }

    /// Ends login: the settings as they are now are what `RESET ALL` returns to.
    pub fn logged_in(mut self) -> ClientSettings {
        self.login = Some(Box::new((self.values.clone(), self.unreported.clone())));
        self
    }

    /// What sets a connection to the settings at login, for every setting the client has.
    pub fn login_sql(&self) -> String {
        let (values, unreported) = match &self.login {
            Some(login) => (&login.0, &login.1),
            None => (&self.values, &self.unreported),
        };
        values
            .iter()
            .map(|(name, value)| format!("SET {name} = {}", quote_literal(value)))
            .chain(
                unreported
                    .iter()
                    .map(|(name, value)| format!("SET {name} = {value}")),
            )
            .collect::<Vec<_>>()
            .join("; ")
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

    /// The plan's statement_timeout: the client's value unless it set one itself.
    pub fn with_plan_timeout(mut self, timeout: Option<Duration>) -> ClientSettings {
        if let Some(t) = timeout {
            let value = format!("'{}ms'", t.as_millis());
            self.defaults
                .insert("statement_timeout".into(), value.clone());
            self.unreported
                .entry("statement_timeout".into())
                .or_insert(value);
        }
        self
    }

    /// The client's value of an unreported setting, as SQL.
    pub fn unreported(&self, name: &str) -> Option<&str> {
        self.unreported.get(name).map(String::as_str)
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

    /// Follows a lone `SET`/`RESET` Postgres ran for the client on `server`; for `RESET ALL`,
    /// which the proxy follows with [`login_sql`](Self::login_sql), the login settings.
    pub fn apply_change(&mut self, change: &SettingChange, server: &mut Unreported) {
        if change.is_all() {
            if let Some(login) = &self.login {
                self.values.clone_from(&login.0);
                self.unreported.clone_from(&login.1);
            }
            server.clone_from(&self.unreported);
            return;
        }
        if change.local || is_reported(&change.name) {
            return;
        }
        match &change.value {
            SettingValue::To(v) => {
                self.unreported.insert(change.name.clone(), v.clone());
                server.insert(change.name.clone(), v.clone());
            }
            SettingValue::Default => {
                match self.defaults.get(&change.name) {
                    Some(d) => self.unreported.insert(change.name.clone(), d.clone()),
                    None => self.unreported.remove(&change.name),
                };
                server.remove(&change.name);
            }
        }
    }

    /// Statements that make a connection reporting `server` and holding `unreported` match
    /// this client, if any; `unreported` is updated to what they set.
    pub fn sync_sql(
        &self,
        server: &[(String, String)],
        unreported: &mut Unreported,
    ) -> Option<String> {
        let reported = self
            .values
            .iter()
            .filter(|(name, value)| !server.iter().any(|(n, v)| n == *name && v == *value))
            .map(|(name, value)| format!("SET {name} = {}", quote_literal(value)));
        let set = self
            .unreported
            .iter()
            .filter(|(name, value)| unreported.get(*name) != Some(*value))
            .map(|(name, value)| format!("SET {name} = {value}"));
        let reset = unreported
            .keys()
            .filter(|name| !self.unreported.contains_key(*name))
            .map(|name| format!("RESET {name}"));
        let statements: Vec<String> = reported.chain(set).chain(reset).collect();
        if statements.is_empty() {
            return None;
        }
        unreported.clone_from(&self.unreported);
        Some(statements.join("; "))
    }
}

/// Holds `statement_timeout` within the plan's `limit`: a longer value, or 0 (no limit), is
/// refused; so is a value the proxy cannot read.
pub fn within_plan(name: &str, value: &str, limit: Option<Duration>) -> Result<(), Violation> {
    let Some(limit) = limit.filter(|_| name == "statement_timeout") else {
        return Ok(());
    };
    let ms = duration_ms(value);
    if ms.is_some_and(|ms| ms > 0.0 && ms <= limit.as_millis() as f64) {
        return Ok(());
    }
    Err(Violation {
        rule: Rule::PlanLimit,
        detail: format!(
            "statement_timeout = {value}: the plan allows at most {}ms",
            limit.as_millis()
        ),
    })
}

/// `-c name=value`, `-cname=value` and `--name=value` pairs of a libpq `options` string.
pub fn option_pairs(options: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut words = options.split_ascii_whitespace();
    while let Some(word) = words.next() {
        let setting = if word == "-c" {
            words.next()
        } else {
            word.strip_prefix("--").or_else(|| word.strip_prefix("-c"))
        };
        if let Some(s) = setting {
            let (name, value) = s.split_once('=').unwrap_or((s, ""));
            pairs.push((
                name.replace('-', "_").to_ascii_lowercase(),
                value.to_owned(),
            ));
        }
    }
    pairs
}

/// A name that can only be a setting name in SQL, so it can be written unquoted.
fn is_setting_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
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
        let mut unreported = Unreported::new();
        assert_eq!(
            s.sync_sql(&server, &mut unreported).as_deref(),
            Some("SET application_name = 'billing'")
        );
        let mut server = server;
        apply_to_server(&mut server, &[change("application_name", "billing", false)]);
        assert_eq!(s.sync_sql(&server, &mut unreported), None);
    }

    #[test]
    fn quotes_values() {
        let mut s = ClientSettings::default();
        s.apply(&[change("application_name", "o'hara", true)]);
        assert_eq!(
            s.sync_sql(&[], &mut Unreported::new()).as_deref(),
            Some("SET application_name = 'o''hara'")
        );
    }
}
