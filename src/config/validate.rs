//! Turns the TOML model into a [`Config`], collecting every problem with its line.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::model::{self, ConfigFile, IsolationMode, TenantList};
use super::{
    AllowedTenants, AuthMethod, Cluster, Config, ConfigError, Isolation, Plan, Problem, Proxy,
    QualifiedName, RowSettings, Secret, Tenant, User, parse_duration,
};

const DEFAULT_MAX_MESSAGE_SIZE: u64 = 64 * 1024 * 1024;

struct Checker<'a> {
    file: &'a Path,
    text: &'a str,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn line(&self, span: &Range<usize>) -> Option<usize> {
        if span.start == 0 && span.end == 0 {
            return None; // a default value: it has no place in the file
        }
        let upto = &self.text[..span.start.min(self.text.len())];
        Some(upto.bytes().filter(|&b| b == b'\n').count() + 1)
    }

    fn problem(&mut self, span: &Range<usize>, key: impl Into<String>, message: impl Into<String>) {
        let line = self.line(span);
        self.problems.push(Problem {
            file: self.file.to_owned(),
            line,
            key: key.into(),
            message: message.into(),
        });
    }

    fn duration(
        &mut self,
        value: &Option<Spanned<String>>,
        key: &str,
        default: Duration,
    ) -> Duration {
        let Some(v) = value else { return default };
        match parse_duration(v.get_ref()) {
            Some(d) => d,
            None => {
                self.problem(
                    &v.span(),
                    key,
                    format!(
                        "{:?} is not a duration (use e.g. \"30s\", \"250ms\")",
                        v.get_ref()
                    ),
                );
                default
            }
        }
    }

    fn socket_addr(&mut self, value: &Spanned<String>, key: &str) -> Option<SocketAddr> {
        match value.get_ref().parse() {
            Ok(a) => Some(a),
            Err(_) => {
                self.problem(
                    &value.span(),
                    key,
                    format!(
                        "{:?} is not an address like \"127.0.0.1:6432\"",
                        value.get_ref()
                    ),
                );
                None
            }
        }
    }
}

pub(super) fn validate(file: &Path, text: &str) -> Result<Config, ConfigError> {
    let mut c = Checker {
        file,
        text,
        problems: Vec::new(),
    };
    let raw: ConfigFile = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let line = if span == (0..0) { None } else { c.line(&span) };
            return Err(ConfigError {
                problems: vec![Problem {
                    file: file.to_owned(),
                    line,
                    key: String::new(),
                    message: e.message().trim().to_owned(),
                }],
            });
        }
    };
    let proxy = proxy(&mut c, &raw.proxy);
    let plans = plans(&mut c, &raw.plans);
    let clusters = clusters(&mut c, &raw.clusters);
    let tenants = tenants(&mut c, &raw.tenants, &clusters, &plans);
    let users = users(&mut c, &raw.users, &tenants, proxy.auth_method);
    let row = row_settings(&mut c, raw.row.as_ref());
    mixed_databases(&mut c, &raw.tenants);
    if c.problems.is_empty() {
        Ok(Config {
            source: file.to_owned(),
            proxy,
            clusters,
            tenants,
            users,
            plans,
            row,
        })
    } else {
        Err(ConfigError {
            problems: c.problems,
        })
    }
}

fn proxy(c: &mut Checker, p: &model::ProxySection) -> Proxy {
    let listen = c.socket_addr(&p.listen, "proxy.listen");
    let admin_listen = p
        .admin_listen
        .as_ref()
        .and_then(|a| c.socket_addr(a, "proxy.admin_listen"));
    let max_message_size = match &p.max_message_size {
        Some(v) if *v.get_ref() < 1024 => {
            c.problem(
                &v.span(),
                "proxy.max_message_size",
                "must be at least 1024 bytes",
            );
            DEFAULT_MAX_MESSAGE_SIZE
        }
        Some(v) if *v.get_ref() > 1 << 30 => {
            c.problem(
                &v.span(),
                "proxy.max_message_size",
                "must be at most 1 GiB, Postgres' own limit",
            );
            DEFAULT_MAX_MESSAGE_SIZE
        }
        Some(v) => *v.get_ref(),
        None => DEFAULT_MAX_MESSAGE_SIZE,
    };
    Proxy {
        listen: listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 6432))),
        admin_listen,
        pool_mode: p.pool_mode,
        auth_method: p.auth_method,
        startup_timeout: c.duration(
            &p.startup_timeout,
            "proxy.startup_timeout",
            Duration::from_secs(15),
        ),
        query_wait_timeout: c.duration(
            &p.query_wait_timeout,
            "proxy.query_wait_timeout",
            Duration::from_secs(30),
        ),
        server_connect_timeout: c.duration(
            &p.server_connect_timeout,
            "proxy.server_connect_timeout",
            Duration::from_secs(5),
        ),
        max_message_size: max_message_size as usize,
        max_client_connections: p.max_client_connections.unwrap_or(10_000),
    }
}

fn plans(c: &mut Checker, raw: &BTreeMap<String, Spanned<model::PlanSection>>) -> Vec<Plan> {
    raw.iter()
        .map(|(name, p)| {
            let key = format!("plans.{name}.statement_timeout");
            let statement_timeout = p
                .get_ref()
                .statement_timeout
                .as_ref()
                .map(|_| c.duration(&p.get_ref().statement_timeout, &key, Duration::ZERO));
            for (field, value) in [
                ("pool_size", p.get_ref().pool_size),
                ("queries_per_second", p.get_ref().queries_per_second),
            ] {
                if value == Some(0) {
                    c.problem(
                        &p.span(),
                        format!("plans.{name}.{field}"),
                        "must be at least 1",
                    );
                }
            }
            Plan {
                name: name.clone(),
                max_client_connections: p.get_ref().max_client_connections,
                pool_size: p.get_ref().pool_size,
                statement_timeout,
                queries_per_second: p.get_ref().queries_per_second,
                pool_mode: p.get_ref().pool_mode,
            }
        })
        .collect()
}

fn clusters(c: &mut Checker, raw: &[model::ClusterSection]) -> Vec<Cluster> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, cl) in raw.iter().enumerate() {
        let key = |k: &str| format!("clusters[{i}].{k}");
        if !seen.insert(cl.name.get_ref().clone()) {
            c.problem(
                &cl.name.span(),
                key("name"),
                format!("cluster {:?} is defined twice", cl.name.get_ref()),
            );
        }
        if cl.host.get_ref().is_empty() {
            c.problem(&cl.host.span(), key("host"), "must not be empty");
        }
        if *cl.pool_size.get_ref() == 0 {
            c.problem(&cl.pool_size.span(), key("pool_size"), "must be at least 1");
        }
        let password = match (&cl.password, &cl.password_env) {
            (Some(_), Some(env)) => {
                c.problem(
                    &env.span(),
                    key("password_env"),
                    "give either password or password_env, not both",
                );
                String::new()
            }
            (Some(p), None) => p.clone(),
            (None, Some(env)) => match std::env::var(env.get_ref()) {
                Ok(p) => p,
                Err(_) => {
                    c.problem(
                        &env.span(),
                        key("password_env"),
                        format!("environment variable {} is not set", env.get_ref()),
                    );
                    String::new()
                }
            },
            (None, None) => String::new(), // trust or peer authentication on the backend
        };
        out.push(Cluster {
            name: cl.name.get_ref().clone(),
            host: cl.host.get_ref().clone(),
            port: cl.port,
            user: cl.user.clone(),
            password: Secret::new(password),
            pool_size: *cl.pool_size.get_ref(),
        });
    }
    out
}

/// The `[row]` section, with its defaults.
fn row_settings(c: &mut Checker, raw: Option<&model::RowSection>) -> RowSettings {
    let search_path: Vec<String> = raw
        .and_then(|r| r.search_path.as_ref())
        .map(|p| p.iter().map(|s| s.get_ref().clone()).collect())
        .unwrap_or_else(|| vec!["public".to_owned()]);
    if search_path.is_empty() || search_path.iter().any(String::is_empty) {
        c.problem(
            &(0..0),
            "row.search_path",
            "must name at least one schema, none empty",
        );
    }
    let mut names = |list: Option<&Vec<Spanned<String>>>, k: &str| -> Vec<QualifiedName> {
        let mut out = Vec::new();
        for (i, item) in list.into_iter().flatten().enumerate() {
            let parts: Vec<&str> = item.get_ref().split('.').collect();
            match parts.as_slice() {
                [name] if !name.is_empty() => out.push(QualifiedName {
                    schema: search_path.first().cloned().unwrap_or_default(),
                    name: name.to_string(),
                }),
                [schema, name] if !schema.is_empty() && !name.is_empty() => {
                    out.push(QualifiedName {
                        schema: schema.to_string(),
                        name: name.to_string(),
                    })
                }
                _ => c.problem(
                    &item.span(),
                    format!("row.{k}[{i}]"),
                    "expected \"table\" or \"schema.table\"",
                ),
            }
        }
        out
    };
    let include = names(raw.map(|r| &r.include), "include");
    let exclude = names(raw.map(|r| &r.exclude), "exclude");
    let tenant_column = match raw.and_then(|r| r.tenant_column.as_ref()) {
        Some(col) if col.get_ref().is_empty() => {
            c.problem(&col.span(), "row.tenant_column", "must not be empty");
            String::new()
        }
        Some(col) => col.get_ref().clone(),
        None => "tenant_id".to_owned(),
    };
    RowSettings {
        tenant_column,
        enforcement: raw.map(|r| r.enforcement).unwrap_or_default(),
        include,
        exclude,
        search_path,
    }
}

/// Row tenants share their tables' database with each other only: a schema or database
/// tenant there could read the shared tables, and a row tenant could read its schema.
fn mixed_databases(c: &mut Checker, raw: &[model::TenantSection]) {
    let place =
        |t: &model::TenantSection| (t.cluster.get_ref().clone(), t.database.get_ref().clone());
    let row_places: HashSet<_> = raw
        .iter()
        .filter(|t| *t.isolation.get_ref() == IsolationMode::Row)
        .map(place)
        .collect();
    for (i, t) in raw.iter().enumerate() {
        if *t.isolation.get_ref() != IsolationMode::Row && row_places.contains(&place(t)) {
            c.problem(
                &t.database.span(),
                format!("tenants[{i}].database"),
                format!(
                    "database {:?} holds row-isolated tenants; other isolation modes need a database of their own",
                    t.database.get_ref()
                ),
            );
        }
    }
}

fn tenants(
    c: &mut Checker,
    raw: &[model::TenantSection],
    clusters: &[Cluster],
    plans: &[Plan],
) -> Vec<Tenant> {
    let mut seen = HashSet::new();
    let mut schemas: BTreeMap<(String, String, String), String> = BTreeMap::new();
    let mut out = Vec::new();
    for (i, t) in raw.iter().enumerate() {
        let key = |k: &str| format!("tenants[{i}].{k}");
        let id = t.id.get_ref();
        if id.is_empty() {
            c.problem(&t.id.span(), key("id"), "must not be empty");
        }
        if !seen.insert(id.clone()) {
            c.problem(
                &t.id.span(),
                key("id"),
                format!("tenant {id:?} is defined twice"),
            );
        }
        if !clusters.iter().any(|cl| &cl.name == t.cluster.get_ref()) {
            c.problem(
                &t.cluster.span(),
                key("cluster"),
                format!("no cluster is named {:?}", t.cluster.get_ref()),
            );
        }
        if let Some(plan) = &t.plan
            && !plans.iter().any(|p| &p.name == plan.get_ref())
        {
            c.problem(
                &plan.span(),
                key("plan"),
                format!(
                    "no plan is named {:?} (define [plans.{}])",
                    plan.get_ref(),
                    plan.get_ref()
                ),
            );
        }
        let isolation = match t.isolation.get_ref() {
            IsolationMode::Database => {
                if let Some(s) = &t.schema {
                    c.problem(
                        &s.span(),
                        key("schema"),
                        "only schema-isolated tenants have a schema",
                    );
                }
                Isolation::Database
            }
            IsolationMode::Schema => {
                let schema = t
                    .schema
                    .as_ref()
                    .map(|s| s.get_ref().clone())
                    .unwrap_or_else(|| id.clone());
                let span = t
                    .schema
                    .as_ref()
                    .map(|s| s.span())
                    .unwrap_or_else(|| t.id.span());
                if schema.is_empty() {
                    c.problem(&span, key("schema"), "must not be empty");
                } else if schema.contains('\0') {
                    c.problem(&span, key("schema"), "must not contain a NUL character");
                }
                let place = (
                    t.cluster.get_ref().clone(),
                    t.database.get_ref().clone(),
                    schema.clone(),
                );
                if let Some(other) = schemas.insert(place, id.clone()) {
                    c.problem(
                        &span,
                        key("schema"),
                        format!("schema {schema:?} is already tenant {other:?}'s in this database"),
                    );
                }
                let shared_schemas = t
                    .shared_schemas
                    .iter()
                    .map(|s| s.get_ref().clone())
                    .collect();
                Isolation::Schema {
                    schema,
                    shared_schemas,
                }
            }
            IsolationMode::Row => {
                let value = t.key.clone().unwrap_or_else(|| id.clone());
                let place = (
                    t.cluster.get_ref().clone(),
                    t.database.get_ref().clone(),
                    value.clone(),
                );
                if value.is_empty() {
                    c.problem(&t.id.span(), key("key"), "must not be empty");
                } else if value.contains('\0') {
                    // Postgres text cannot hold it, and the key is written into SQL.
                    c.problem(&t.id.span(), key("key"), "must not contain a NUL character");
                } else if let Some(other) = schemas.insert(place, id.clone()) {
                    c.problem(
                        &t.id.span(),
                        key("key"),
                        format!("key {value:?} is already tenant {other:?}'s in this database"),
                    );
                }
                Isolation::Row { key: value }
            }
        };
        if t.key.is_some() && *t.isolation.get_ref() != IsolationMode::Row {
            c.problem(
                &t.id.span(),
                key("key"),
                "only row-isolated tenants have a key",
            );
        }
        if !t.shared_schemas.is_empty() && !matches!(isolation, Isolation::Schema { .. }) {
            c.problem(
                &t.shared_schemas[0].span(),
                key("shared_schemas"),
                "only schema-isolated tenants have shared schemas",
            );
        }
        out.push(Tenant {
            id: id.clone(),
            isolation,
            cluster: t.cluster.get_ref().clone(),
            database: t.database.get_ref().clone(),
            plan: t.plan.as_ref().map(|p| p.get_ref().clone()),
        });
    }
    // A schema that is one tenant's may not be another's shared schema.
    let owned: HashSet<(&str, &str, &str)> = out
        .iter()
        .filter_map(|t| match &t.isolation {
            Isolation::Schema { schema, .. } => {
                Some((t.cluster.as_str(), t.database.as_str(), schema.as_str()))
            }
            Isolation::Database | Isolation::Row { .. } => None,
        })
        .collect();
    for (i, t) in out.iter().enumerate() {
        if let Isolation::Schema { shared_schemas, .. } = &t.isolation {
            for (j, s) in shared_schemas.iter().enumerate() {
                if owned.contains(&(t.cluster.as_str(), t.database.as_str(), s.as_str())) {
                    let span = raw[i].shared_schemas[j].span();
                    c.problem(
                        &span,
                        format!("tenants[{i}].shared_schemas"),
                        format!("{s:?} is a tenant's own schema and cannot be shared"),
                    );
                }
            }
        }
    }
    out
}

fn users(
    c: &mut Checker,
    raw: &[model::UserSection],
    tenants: &[Tenant],
    auth: AuthMethod,
) -> Vec<User> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let known = |id: &str| tenants.iter().any(|t| t.id == id);
    for (i, u) in raw.iter().enumerate() {
        let key = |k: &str| format!("users[{i}].{k}");
        let name = u.name.get_ref();
        if name.is_empty() {
            c.problem(&u.name.span(), key("name"), "must not be empty");
        }
        if !seen.insert(name.clone()) {
            c.problem(
                &u.name.span(),
                key("name"),
                format!("user {name:?} is defined twice"),
            );
        }
        check_password(c, &u.password, &key("password"), auth);
        if let Some(t) = &u.tenant
            && !known(t.get_ref())
        {
            c.problem(
                &t.span(),
                key("tenant"),
                format!("no tenant has id {:?}", t.get_ref()),
            );
        }
        let allowed = match (&u.tenant, &u.tenants) {
            (None, None) => {
                c.problem(
                    &u.name.span(),
                    key("tenant"),
                    "a user needs tenant = \"id\" or tenants = [..] / \"*\"",
                );
                AllowedTenants::Only(vec![])
            }
            (Some(t), None) => AllowedTenants::Only(vec![t.get_ref().clone()]),
            (fixed, Some(list)) => match list.get_ref() {
                TenantList::Any(s) if s == "*" => AllowedTenants::Any,
                TenantList::Any(s) => {
                    c.problem(
                        &list.span(),
                        key("tenants"),
                        format!("{s:?} is neither a list of tenant ids nor \"*\""),
                    );
                    AllowedTenants::Only(vec![])
                }
                TenantList::Named(ids) => {
                    for id in ids.iter().filter(|id| !known(id)) {
                        c.problem(
                            &list.span(),
                            key("tenants"),
                            format!("no tenant has id {id:?}"),
                        );
                    }
                    let mut ids = ids.clone();
                    if let Some(t) = fixed
                        && !ids.contains(t.get_ref())
                    {
                        ids.push(t.get_ref().clone());
                    }
                    AllowedTenants::Only(ids)
                }
            },
        };
        out.push(User {
            name: name.clone(),
            password: Secret::new(u.password.get_ref().clone()),
            default_tenant: u.tenant.as_ref().map(|t| t.get_ref().clone()),
            allowed,
        });
    }
    out
}

fn check_password(c: &mut Checker, pw: &Spanned<String>, key: &str, auth: AuthMethod) {
    let text = pw.get_ref();
    let is_scram = text.starts_with("SCRAM-SHA-256$");
    let is_md5 = text.len() == 35
        && text.starts_with("md5")
        && text[3..].bytes().all(|b| b.is_ascii_hexdigit());
    if is_scram && crate::config::scram_verifier_parts(text).is_none() {
        c.problem(&pw.span(), key, "malformed SCRAM verifier; expected SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>");
    }
    match auth {
        AuthMethod::ScramSha256 if is_md5 => {
            c.problem(&pw.span(), key, "an md5 hash cannot log in with auth_method = \"scram-sha-256\"; give the password or a SCRAM verifier")
        }
        AuthMethod::Md5 if is_scram => {
            c.problem(&pw.span(), key, "a SCRAM verifier cannot log in with auth_method = \"md5\"; give the password or an md5 hash")
        }
        _ => {}
    }
}
