//! Reads a shared database's catalog to find its tenant tables: the one part of row isolation
//! that talks to Postgres (over a control connection, at start).
//!
//! A relation in the row search_path is a tenant table when it has the tenant column (unless
//! excluded) or is listed in `include`. A view or materialized view without the column that
//! reads a tenant table, directly or through other views, could hand out every tenant's rows:
//! it is refused. Relations of other schemas stay unknown, so row tenants cannot name them.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use tokio_postgres::Client;

use super::TENANT_SETTING;
use super::catalog::Catalog;
use crate::config::{QualifiedName, RowSettings};
use crate::isolation::quote_ident;

/// The name of the row-level security policy `provision-rls` creates.
pub const POLICY_NAME: &str = "tenant_isolation";

#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("reading the catalog of database {database}: {source}")]
    Query {
        database: String,
        source: tokio_postgres::Error,
    },
    #[error("database {database}: {message}")]
    Invalid { database: String, message: String },
}

/// One relation of the row search_path.
#[derive(Debug, Clone)]
pub struct Relation {
    pub oid: i64,
    pub name: QualifiedName,
    /// pg_class.relkind: r, p (tables), v, m (views), f (foreign), S (sequence).
    pub kind: char,
    pub columns: Vec<String>,
    /// `format_type` of the tenant column, if it has one.
    pub tenant_type: Option<String>,
    /// Row-level security enabled and forced, with the tenant policy in place.
    pub rls_ready: bool,
}

/// What discovery found in one database.
#[derive(Debug)]
pub struct Discovered {
    pub database: String,
    pub relations: Vec<Relation>,
    /// Tenant relations, by index into `relations`.
    pub tenant: Vec<usize>,
    /// Views that read tenant tables without carrying the tenant column.
    pub unsafe_views: Vec<usize>,
    system_relations: Vec<(String, String)>,
    functions: Vec<String>,
    /// The proxy's role bypasses row-level security (superuser or BYPASSRLS).
    pub bypasses_rls: bool,
}

const RELATIONS: &str = "
SELECT c.oid::int8, n.nspname::text, c.relname::text, c.relkind::text,
       coalesce(array_agg(a.attname::text ORDER BY a.attnum)
                FILTER (WHERE a.attnum IS NOT NULL), '{}'),
       max(format_type(a.atttypid, a.atttypmod)) FILTER (WHERE a.attname = $2),
       c.relrowsecurity AND c.relforcerowsecurity AND EXISTS (
           SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = $3)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
GROUP BY c.oid, n.nspname, c.relname, c.relkind";

const SYSTEM_RELATIONS: &str = "
SELECT n.nspname::text, c.relname::text
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname IN ('pg_catalog', 'information_schema') AND c.relkind IN ('r', 'p', 'v', 'm', 'f')";

/// Which relations each view's rules read.
const VIEW_READS: &str = "
SELECT DISTINCT r.ev_class::int8, d.refobjid::int8
FROM pg_rewrite r
JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                AND d.refclassid = 'pg_class'::regclass
WHERE d.refobjid <> r.ev_class";

const FUNCTIONS: &str =
    "SELECT DISTINCT proname::text FROM pg_proc WHERE pronamespace = 'pg_catalog'::regnamespace";

const ROLE: &str = "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user";

/// Reads the catalog of `database` through `client`.
pub async fn discover(
    client: &Client,
    database: &str,
    settings: &RowSettings,
) -> Result<Discovered, DiscoverError> {
    let query_error = |source| DiscoverError::Query {
        database: database.to_owned(),
        source,
    };
    let relations: Vec<Relation> = client
        .query(
            RELATIONS,
            &[&settings.search_path, &settings.tenant_column, &POLICY_NAME],
        )
        .await
        .map_err(query_error)?
        .iter()
        .map(|r| Relation {
            oid: r.get(0),
            name: QualifiedName {
                schema: r.get(1),
                name: r.get(2),
            },
            kind: r.get::<_, String>(3).chars().next().unwrap_or('r'),
            columns: r.get(4),
            tenant_type: r.get(5),
            rls_ready: r.get(6),
        })
        .collect();
    let system_relations = client
        .query(SYSTEM_RELATIONS, &[])
        .await
        .map_err(query_error)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let reads: Vec<(i64, i64)> = client
        .query(VIEW_READS, &[])
        .await
        .map_err(query_error)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let functions = client
        .query(FUNCTIONS, &[])
        .await
        .map_err(query_error)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let bypasses_rls = client
        .query_one(ROLE, &[])
        .await
        .map_err(query_error)?
        .get(0);
    let (tenant, unsafe_views) = classify(database, &relations, &reads, settings)?;
    Ok(Discovered {
        database: database.to_owned(),
        relations,
        tenant,
        unsafe_views,
        system_relations,
        functions,
        bypasses_rls,
    })
}

/// Splits relations into tenant relations and unsafe views.
fn classify(
    database: &str,
    relations: &[Relation],
    reads: &[(i64, i64)],
    settings: &RowSettings,
) -> Result<(Vec<usize>, Vec<usize>), DiscoverError> {
    let invalid = |message: String| DiscoverError::Invalid {
        database: database.to_owned(),
        message,
    };
    for name in &settings.include {
        match relations.iter().find(|r| &r.name == name) {
            None => {
                return Err(invalid(format!(
                    "[row] include names {name}, which does not exist"
                )));
            }
            Some(r) if r.tenant_type.is_none() => {
                return Err(invalid(format!(
                    "[row] include names {name}, which has no column {}",
                    settings.tenant_column
                )));
            }
            Some(_) => {}
        }
    }
    let tenant: Vec<usize> = relations
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.kind != 'S' && r.tenant_type.is_some() && !settings.exclude.contains(&r.name)
        })
        .map(|(i, _)| i)
        .collect();
    // A view is unsafe when it reads a tenant table or an unsafe view: grow the set until
    // nothing changes (view chains are short, and each round adds at least one view).
    let by_oid: HashMap<i64, usize> = relations
        .iter()
        .enumerate()
        .map(|(i, r)| (r.oid, i))
        .collect();
    let mut tainted: HashSet<i64> = tenant.iter().map(|&i| relations[i].oid).collect();
    let mut unsafe_views = Vec::new();
    loop {
        let before = unsafe_views.len();
        for &(view, read) in reads {
            let Some(&i) = by_oid.get(&view) else {
                continue;
            };
            let r = &relations[i];
            let candidate = matches!(r.kind, 'v' | 'm')
                && r.tenant_type.is_none()
                && !settings.exclude.contains(&r.name)
                && !unsafe_views.contains(&i);
            if candidate && tainted.contains(&read) {
                unsafe_views.push(i);
                tainted.insert(view);
            }
        }
        if unsafe_views.len() == before {
            break;
        }
    }
    Ok((tenant, unsafe_views))
}

impl Discovered {
    /// The rewriter's view of this database.
    pub fn catalog(&self, settings: &RowSettings) -> Catalog {
        let mut b = Catalog::builder(&settings.tenant_column, settings.search_path.clone());
        for (i, r) in self.relations.iter().enumerate() {
            let (schema, name) = (&r.name.schema, &r.name.name);
            if self.tenant.contains(&i) {
                let ty = r.tenant_type.as_deref().unwrap_or("text");
                b.tenant_table(schema, name, r.columns.clone(), ty);
            } else if self.unsafe_views.contains(&i) {
                b.unsafe_view(schema, name);
            } else {
                b.relation(schema, name);
            }
        }
        for (schema, name) in &self.system_relations {
            b.relation(schema, name);
        }
        for f in &self.functions {
            b.function(f);
        }
        b.build()
    }

    /// Tenant tables that row-level security can protect (views cannot have policies).
    pub fn rls_tables(&self) -> impl Iterator<Item = &Relation> {
        self.tenant
            .iter()
            .map(|&i| &self.relations[i])
            .filter(|r| matches!(r.kind, 'r' | 'p'))
    }

    /// Why RLS cannot be relied on in this database yet, if it cannot.
    pub fn rls_problem(&self, user: &str) -> Option<String> {
        if self.bypasses_rls {
            return Some(format!(
                "role {user} bypasses row-level security (SUPERUSER or BYPASSRLS); \
                 row tenants need a role without either"
            ));
        }
        let missing: Vec<String> = self
            .rls_tables()
            .filter(|r| !r.rls_ready)
            .map(|r| r.name.to_string())
            .collect();
        (!missing.is_empty()).then(|| {
            format!(
                "tenant tables without the {POLICY_NAME} policy (enabled and forced): {}; \
                 run `tenantgate provision-rls --config FILE`",
                missing.join(", ")
            )
        })
    }

    /// SQL that enables and forces row-level security with the tenant policy on every tenant
    /// table, idempotently, in one transaction.
    pub fn provision_sql(&self, settings: &RowSettings) -> String {
        let mut sql = String::from("BEGIN;\n");
        let column = quote_ident(&settings.tenant_column);
        for r in self.rls_tables() {
            let table = format!(
                "{}.{}",
                quote_ident(&r.name.schema),
                quote_ident(&r.name.name)
            );
            let ty = r.tenant_type.as_deref().unwrap_or("text");
            let check =
                format!("{column} = NULLIF(current_setting('{TENANT_SETTING}', true), '')::{ty}");
            let _ = write!(
                sql,
                "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;\n\
                 ALTER TABLE {table} FORCE ROW LEVEL SECURITY;\n\
                 DROP POLICY IF EXISTS {POLICY_NAME} ON {table};\n\
                 CREATE POLICY {POLICY_NAME} ON {table} USING ({check}) WITH CHECK ({check});\n"
            );
        }
        sql.push_str("COMMIT;\n");
        sql
    }
}
