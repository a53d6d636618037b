//! What the rewriter knows about one database: which relations hold tenant rows, which other
//! relations exist, and which built-in functions a tenant may call.
//!
//! The catalog is plain data, filled by whoever read the database (see [`CatalogBuilder`]),
//! and shared by every session of the database as an `Arc<Catalog>`. Names are stored as
//! Postgres stores them; lookups take names already case-folded by the caller.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use super::sql::KeyAst;

/// The relations and functions of one database, as far as row isolation cares.
pub struct Catalog {
    /// Unique per built catalog, so a cache can tell a reloaded catalog from its own.
    id: u64,
    tenant_column: String,
    search_path: Vec<String>,
    /// schema → relation name → what it is.
    schemas: HashMap<String, HashMap<String, Entry>>,
    functions: HashSet<String>,
    /// The prebuilt key expressions, by the tenant column's type; `None` when the type text
    /// cannot be read, so that every statement touching such a table is refused.
    keys: HashMap<String, Option<KeyAst>>,
}

/// A relation whose rows belong to tenants: it has the tenant column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantTable {
    /// Column names in `attnum` order, dropped columns left out.
    pub columns: Vec<String>,
    /// The tenant column's type as `format_type` prints it (`integer`, `text`, ...).
    pub column_type: String,
}

enum Entry {
    Tenant(TenantTable),
    Plain,
    /// A view over tenant rows without a tenant column: no filter can confine it.
    Unsafe,
}

/// What a relation name resolves to.
pub(super) enum Relation<'c> {
    Tenant(Tenant<'c>),
    /// Exists and holds no tenant rows.
    Plain,
    /// A view over tenant rows that has no tenant column.
    Unsafe,
    /// Statistics or activity that show other tenants' values or sessions.
    Activity,
    Unknown,
}

/// A resolved tenant relation.
pub(super) struct Tenant<'c> {
    pub table: &'c TenantTable,
    /// `None` when the tenant column's type could not be read.
    pub key: Option<&'c KeyAst>,
}

impl Catalog {
    /// Starts a catalog whose tenant tables carry `tenant_column`; unqualified names resolve
    /// through `pg_catalog`, then `search_path` in order (the proxy pins it for row tenants).
    pub fn builder(tenant_column: &str, search_path: Vec<String>) -> CatalogBuilder {
        CatalogBuilder {
            catalog: Catalog {
                id: 0,
                tenant_column: tenant_column.to_owned(),
                search_path,
                schemas: HashMap::new(),
                functions: HashSet::new(),
                keys: HashMap::new(),
            },
        }
    }

    pub(super) fn id(&self) -> u64 {
        self.id
    }

    pub fn tenant_column(&self) -> &str {
        &self.tenant_column
    }

    /// Every tenant relation as (schema, name, table), e.g. to provision row-level security.
    pub fn tenant_tables(&self) -> impl Iterator<Item = (&str, &str, &TenantTable)> {
        self.schemas.iter().flat_map(|(schema, relations)| {
            relations
                .iter()
                .filter_map(move |(name, entry)| match entry {
                    Entry::Tenant(table) => Some((schema.as_str(), name.as_str(), table)),
                    _ => None,
                })
        })
    }

    /// Resolves a folded relation name; `schema` is `None` for an unqualified name.
    pub(super) fn relation(&self, schema: Option<&str>, name: &str) -> Relation<'_> {
        match schema {
            Some(schema) => self.lookup(schema, name),
            None => self
                .unqualified_schemas()
                .map(|schema| self.lookup(schema, name))
                .find(|r| !matches!(r, Relation::Unknown))
                .unwrap_or(Relation::Unknown),
        }
    }

    /// Whether an unqualified `name` reaches any relation, known or refused.
    pub(super) fn reaches(&self, name: &str) -> bool {
        !matches!(self.relation(None, name), Relation::Unknown)
    }

    /// Whether `name` (folded, unqualified or `pg_catalog.`) is a callable built-in.
    pub(super) fn function_allowed(&self, name: &str) -> bool {
        self.functions.contains(name) && !reads_beyond_tenant(name)
    }

    fn unqualified_schemas(&self) -> impl Iterator<Item = &str> {
        std::iter::once("pg_catalog").chain(self.search_path.iter().map(String::as_str))
    }

    fn lookup(&self, schema: &str, name: &str) -> Relation<'_> {
        // These names exist in every database, whatever the loader listed.
        if schema == "pg_catalog" && is_activity_relation(name) {
            return Relation::Activity;
        }
        match self.schemas.get(schema).and_then(|s| s.get(name)) {
            Some(Entry::Tenant(table)) => Relation::Tenant(Tenant {
                table,
                key: self.keys.get(&table.column_type).and_then(Option::as_ref),
            }),
            Some(Entry::Plain) => Relation::Plain,
            Some(Entry::Unsafe) => Relation::Unsafe,
            None => Relation::Unknown,
        }
    }
}

/// Fills a [`Catalog`]; later entries for the same name replace earlier ones.
pub struct CatalogBuilder {
    catalog: Catalog,
}

impl CatalogBuilder {
    /// A relation (table, view, ...) with the tenant column, of type `column_type`.
    pub fn tenant_table(
        &mut self,
        schema: &str,
        name: &str,
        columns: Vec<String>,
        column_type: &str,
    ) -> &mut Self {
        let table = TenantTable {
            columns,
            column_type: column_type.to_owned(),
        };
        self.insert(schema, name, Entry::Tenant(table))
    }

    /// Any other relation that exists: tables, views, materialized views, foreign tables,
    /// sequences, including those of `pg_catalog` and `information_schema`.
    pub fn relation(&mut self, schema: &str, name: &str) -> &mut Self {
        self.insert(schema, name, Entry::Plain)
    }

    /// A view or materialized view that reads tenant rows but has no tenant column.
    pub fn unsafe_view(&mut self, schema: &str, name: &str) -> &mut Self {
        self.insert(schema, name, Entry::Unsafe)
    }

    /// A built-in (`pg_catalog`) function a tenant may call, by its lowercase name.
    pub fn function(&mut self, name: &str) -> &mut Self {
        self.catalog.functions.insert(name.to_owned());
        self
    }

    pub fn build(mut self) -> Catalog {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        self.catalog.id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let column = self.catalog.tenant_column.clone();
        let types: HashSet<String> = self
            .catalog
            .tenant_tables()
            .map(|(_, _, table)| table.column_type.clone())
            .collect();
        self.catalog.keys = types
            .into_iter()
            .map(|ty| {
                let key = KeyAst::new(&column, &ty);
                (ty, key)
            })
            .collect();
        self.catalog
    }

    fn insert(&mut self, schema: &str, name: &str, entry: Entry) -> &mut Self {
        self.catalog
            .schemas
            .entry(schema.to_owned())
            .or_default()
            .insert(name.to_owned(), entry);
        self
    }
}

/// `pg_catalog` relations that show other tenants' values (planner statistics), other
/// sessions' activity, or database-wide objects.
fn is_activity_relation(name: &str) -> bool {
    // `pg_stat*` covers pg_stats, pg_stats_ext*, pg_statistic, pg_statistic_ext_data,
    // pg_statio_* and the pg_stat_* activity views; pg_statistic_ext holds only the
    // definitions of extended statistics (psql's \d reads it), as pg_class does of tables.
    (name.starts_with("pg_stat") && name != "pg_statistic_ext")
        || name.starts_with("pg_largeobject")
        || name.starts_with("pg_replication")
        || matches!(name, "pg_locks" | "pg_prepared_xacts")
}

/// Built-ins that run SQL given as text, read other sessions or server files, or reach
/// database-wide objects: refused even when the loader lists them.
pub(super) fn reads_beyond_tenant(name: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "query_to_xml",
        "cursor_to_xml",
        "table_to_xml",
        "schema_to_xml",
        "database_to_xml",
        "pg_stat_",
        "pg_read_",
        "pg_ls_",
        "lo_",
        "pg_logical_",
        "pg_replication_",
        "pg_get_replication_",
        "pg_log_backend_",
    ];
    const NAMES: &[&str] = &[
        "ts_stat",
        "ts_rewrite",
        "pg_terminate_backend",
        "pg_cancel_backend",
        "pg_signal_backend",
        "pg_notify",
        "set_config",
        "pg_lock_status",
        "pg_prepared_xact",
        "pg_blocking_pids",
        "pg_safe_snapshot_blocking_pids",
        "loread",
        "lowrite",
        "dblink",
    ];
    PREFIXES.iter().any(|p| name.starts_with(p)) || NAMES.contains(&name)
}
