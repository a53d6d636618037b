//! Test harness: a real PostgreSQL cluster with the example tenants, and the real proxy in
//! front of it on a free port.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::Output;

use std::time::Duration;
use tokio::process::Command;

use tenantgate::devcluster::{Examples, PgCluster, example_config, seed_examples};
use tokio::sync::oneshot;

pub const PASSWORD: &str = "secret";

/// What a test may change in the example configuration.
pub struct Options {
    pub pool_size: u32,
    pub pool_mode: &'static str,
    /// Extra keys for the `[proxy]` table.
    pub proxy: &'static str,
    /// Keys of a plan for tenant acme, if not empty.
    pub acme_plan: &'static str,
    /// SQL run in database `saas` (as its owner) before the proxy starts.
    pub saas_sql: String,
    /// `[row] enforcement`.
    pub enforcement: &'static str,
    /// Run `provision-rls` before the proxy starts.
    pub provision_rls: bool,
    /// Reach Postgres through its Unix-domain socket instead of TCP.
    pub unix_socket: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            pool_size: 10,
            pool_mode: "transaction",
            proxy: "",
            acme_plan: "",
            saas_sql: String::new(),
            enforcement: "rewrite",
            provision_rls: false,
            unix_socket: false,
        }
    }
}

pub struct TestEnv {
    pub cluster: PgCluster,
    pub examples: Examples,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    /// Re-reads the row databases' catalogs, as SIGHUP does.
    pub reloader: tenantgate::server::Reloader,
}

impl TestEnv {
    pub async fn start() -> TestEnv {
        Self::with(Options::default()).await
    }

    pub async fn with(options: Options) -> TestEnv {
        let cluster = PgCluster::start().await.expect("start PostgreSQL");
        let examples = seed_examples(&cluster)
            .await
            .expect("seed the example tenants");
        if !options.saas_sql.is_empty() {
            let sql = format!("SET ROLE tenantgate; {}", options.saas_sql);
            cluster
                .execute("saas", &sql)
                .await
                .expect("prepare database saas");
        }
        let mut text = example_config(&cluster, &examples, "127.0.0.1:0", "").replace(
            "enforcement = \"rewrite\"",
            &format!("enforcement = \"{}\"", options.enforcement),
        );
        if !options.acme_plan.is_empty() {
            text = text.replacen("id = \"acme\"\n", "id = \"acme\"\nplan = \"test\"\n", 1)
                + &format!("\n[plans.test]\n{}\n", options.acme_plan);
        }
        if options.unix_socket {
            let host = format!("host = \"{}\"", cluster.host());
            text = text.replace(&host, &format!("host = \"{}\"", cluster.dir().display()));
        }
        let text = text
            .replace(
                "pool_size = 10",
                &format!("pool_size = {}", options.pool_size),
            )
            .replacen(
                "[proxy]\n",
                &format!(
                    "[proxy]\npool_mode = \"{}\"\n{}\n",
                    options.pool_mode, options.proxy
                ),
                1,
            );
        let path = cluster.dir().join("tenantgate.toml");
        let config = tenantgate::config::parse(&path, &text).expect("valid test configuration");
        if options.provision_rls {
            tenantgate::isolation::row::provision(&config, false)
                .await
                .expect("provision row-level security");
        }
        let server = tenantgate::server::Server::bind(config)
            .await
            .expect("bind the proxy");
        let addr = server.local_addr();
        let reloader = server.reloader();
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(async move {
            server
                .run_until(async {
                    let _ = rx.await;
                })
                .await
                .expect("proxy runs");
        });
        TestEnv {
            cluster,
            examples,
            addr,
            shutdown: Some(tx),
            server: Some(task),
            reloader,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A libpq-style URL of the proxy for `user` on `database`.
    pub fn url(&self, user: &str, database: &str) -> String {
        format!(
            "postgresql://{user}:{PASSWORD}@127.0.0.1:{}/{database}",
            self.addr.port()
        )
    }

    /// Runs a client program of another language (at most 120 s) on `tests/clients/{script}`,
    /// with ACME_DSN, GLOBEX_DSN (schema tenants) and HOOLI_DSN (a row tenant) and `vars` in
    /// its environment, and asserts that it succeeded and printed `ok`.
    pub async fn run_client(&self, program: &str, script: &str, vars: &[(&str, String)]) {
        let script = format!("{}/tests/clients/{script}", env!("CARGO_MANIFEST_DIR"));
        let tenants = [
            ("ACME_DSN", self.url("acme_app", "app")),
            ("GLOBEX_DSN", self.url("globex_app", "app")),
            ("HOOLI_DSN", self.url("hooli_app", "saas")),
        ];
        let out = tokio::process::Command::new("timeout")
            .args(["120", program, &script])
            .envs(tenants.iter().chain(vars).map(|(k, v)| (k, v)))
            .kill_on_drop(true)
            .output()
            .await
            .unwrap_or_else(|e| panic!("run {program} (scripts/test.sh installs it): {e}"));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stdout.trim() == "ok",
            "{script} failed:\n{stdout}\n{stderr}"
        );
    }

    pub fn config(&self, user: &str, database: &str) -> tokio_postgres::Config {
        let mut c = tokio_postgres::Config::new();
        c.host("127.0.0.1")
            .port(self.addr.port())
            .user(user)
            .password(PASSWORD)
            .dbname(database)
            .connect_timeout(Duration::from_secs(10));
        c
    }

    /// A client through the proxy.
    pub async fn client(&self, user: &str, database: &str) -> tokio_postgres::Client {
        self.try_client(self.config(user, database))
            .await
            .unwrap_or_else(|e| panic!("login as {user}: {e}"))
    }

    pub async fn try_client(
        &self,
        config: tokio_postgres::Config,
    ) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }

    /// The real psql through the proxy: unaligned, tuples only, stop on error.
    pub async fn psql(&self, user: &str, database: &str, sql: &str) -> Output {
        self.program("psql", user)
            .args([
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                database,
                "-c",
                sql,
            ])
            .output()
            .await
            .expect("run psql")
    }

    /// pgbench through the proxy.
    pub async fn pgbench(&self, user: &str, database: &str, args: &[&str]) -> Output {
        self.program("pgbench", user)
            .args(args)
            .arg(database)
            .output()
            .await
            .expect("run pgbench")
    }

    fn program(&self, name: &str, user: &str) -> Command {
        let mut c = Command::new("timeout");
        c.arg("300")
            .arg(self.cluster.bin(name))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.addr.port().to_string(),
                "-U",
                user,
            ])
            .env("PGPASSWORD", PASSWORD)
            .env("PGCONNECT_TIMEOUT", "10")
            .kill_on_drop(true);
        c
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.server.take() {
            task.abort();
        }
    }
}

/// Runs [`TestEnv::run_client`] against a proxy whose tenants share one server connection
/// per database, so that connections change hands between clients and tenants.
pub async fn check_client(program: &str, script: &str, vars: &[(&str, String)]) {
    let env = TestEnv::with(Options {
        pool_size: 1,
        ..Options::default()
    })
    .await;
    env.run_client(program, script, vars).await;
}

/// Tables of database `saas` beside `orders` for the row-isolation tests: a second tenant
/// table, a shared one, views that read tenant rows without the tenant column, and SQL
/// functions that read every tenant's rows.
pub const SAAS_TABLES: &str = "
    CREATE TABLE customers (id int PRIMARY KEY, tenant_id text NOT NULL, name text NOT NULL);
    CREATE TABLE countries (code text PRIMARY KEY, name text NOT NULL);
    INSERT INTO customers VALUES (1, 'hooli', 'Gavin'), (2, 'piedpiper', 'Richard'),
                                 (3, 'piedpiper', 'Jared');
    INSERT INTO countries VALUES ('us', 'United States'), ('de', 'Germany');
    CREATE VIEW order_items AS SELECT item FROM orders;
    CREATE VIEW order_view AS SELECT * FROM orders;
    CREATE VIEW nested_items AS SELECT * FROM order_items;
    CREATE FUNCTION all_items() RETURNS SETOF text LANGUAGE sql AS 'SELECT item FROM orders';
    CREATE FUNCTION all_orders() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM orders';";

/// A setting's value as `SHOW` reports it.
pub async fn show(client: &tokio_postgres::Client, name: &str) -> String {
    client
        .query_one(&format!("SHOW {name}"), &[])
        .await
        .unwrap()
        .get(0)
}

/// How many rows the client's tenant has in `orders` (extended protocol).
pub async fn orders(client: &tokio_postgres::Client) -> i64 {
    client
        .query_one("SELECT count(*) FROM orders", &[])
        .await
        .unwrap()
        .get(0)
}

/// The SQLSTATE of a failed statement or login.
pub fn sqlstate(e: &tokio_postgres::Error) -> String {
    e.code()
        .map(|c| c.code().to_owned())
        .unwrap_or_else(|| format!("no SQLSTATE: {e}"))
}

pub fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "command failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
