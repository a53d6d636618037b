//! Throwaway PostgreSQL clusters for `tenantgate dev` and the integration tests.
//!
//! A cluster lives in a temporary directory on a free loopback port and is stopped (by PID)
//! and removed when dropped. Postgres refuses to run as root, so as root the cluster runs as
//! an unprivileged OS user (`postgres` if it exists, else one created for the purpose).

use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

const START_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
const OS_USER: &str = "postgres";
const FALLBACK_OS_USER: &str = "tenantgate-pg";

impl From<tokio_postgres::Error> for DevError {
    fn from(e: tokio_postgres::Error) -> Self {
        DevError::Sql(
            e.as_db_error()
                .map(|d| d.message().to_owned())
                .unwrap_or_else(|| e.to_string()),
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DevError {
    #[error("PostgreSQL binaries not found (set TENANTGATE_PG_BIN, or install postgresql)")]
    NoBinaries,
    #[error("{what} failed: {detail}")]
    Command { what: String, detail: String },
    #[error("io error: {0}")]
    Io(#[from] std::io::Error),
    #[error("PostgreSQL did not start within {timeout:?}; log tail:\n{log}")]
    Start { timeout: Duration, log: String },
    #[error("SQL failed: {0}")]
    Sql(String),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Serve(#[from] crate::server::ServeError),
}

/// A running throwaway cluster.
pub struct PgCluster {
    bin: PathBuf,
    dir: TempDir,
    port: u16,
    password: String,
    postgres: Child,
}

impl PgCluster {
    /// Initialises and starts a cluster; superuser `postgres` with a random password, SCRAM
    /// for TCP connections.
    pub async fn start() -> Result<PgCluster, DevError> {
        let bin = find_bin_dir().ok_or(DevError::NoBinaries)?;
        let owner = os_user()?;
        let dir = tempfile::Builder::new()
            .prefix("tenantgate-pg-")
            .tempdir()?;
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))?;
        let password = random_password();
        let pwfile = dir.path().join("pwfile");
        fs::write(&pwfile, &password)?;
        chown_tree(dir.path(), owner)?;
        let data = dir.path().join("data");
        run(
            command(&bin.join("initdb"), owner)
                .arg("-D")
                .arg(&data)
                .args([
                    "-U",
                    "postgres",
                    "--auth-host=scram-sha-256",
                    "--auth-local=trust",
                    "-E",
                    "UTF8",
                ])
                .arg("--locale=C")
                .arg(format!("--pwfile={}", pwfile.display())),
            "initdb",
        )?;
        let mut last_error = None;
        for _ in 0..3 {
            let port = free_port()?;
            match Self::launch(&bin, dir.path(), port, owner).await {
                Ok(postgres) => {
                    let cluster = PgCluster {
                        bin,
                        dir,
                        port,
                        password,
                        postgres,
                    };
                    cluster.wait_ready().await?;
                    return Ok(cluster);
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.expect("three attempts were made"))
    }

    async fn launch(
        bin: &Path,
        dir: &Path,
        port: u16,
        owner: Option<(u32, u32)>,
    ) -> Result<Child, DevError> {
        let log = fs::File::create(dir.join("postgres.log"))?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(dir.join("postgres.log"), Some(uid), Some(gid))?;
        }
        let child = command(&bin.join("postgres"), owner)
            .arg("-D")
            .arg(dir.join("data"))
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", dir.display()))
            .args([
                "-c",
                "fsync=off",
                "-c",
                "max_connections=200",
                "-c",
                "full_page_writes=off",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        Ok(child)
    }

    async fn wait_ready(&self) -> Result<(), DevError> {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(client) = self.try_connect("postgres").await {
                drop(client);
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(DevError::Start {
            timeout: START_TIMEOUT,
            log: self.log_tail(),
        })
    }

    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn superuser_password(&self) -> &str {
        &self.password
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The path of a PostgreSQL program (psql, pgbench, …) of the same installation.
    pub fn bin(&self, name: &str) -> PathBuf {
        self.bin.join(name)
    }

    /// The last lines of the server log, for diagnostics.
    pub fn log_tail(&self) -> String {
        let log = fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    async fn try_connect(
        &self,
        database: &str,
    ) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        let (client, connection) = tokio_postgres::Config::new()
            .host(self.host())
            .port(self.port)
            .user("postgres")
            .password(&self.password)
            .dbname(database)
            .connect(tokio_postgres::NoTls)
            .await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }

    /// A superuser connection to `database`.
    pub async fn connect(&self, database: &str) -> Result<tokio_postgres::Client, DevError> {
        Ok(self.try_connect(database).await?)
    }

    /// Runs a batch of SQL as superuser in `database`.
    pub async fn execute(&self, database: &str, sql: &str) -> Result<(), DevError> {
        self.connect(database).await?.batch_execute(sql).await?;
        Ok(())
    }

    /// Stops the server now (as a crash would, for tests of a backend going away).
    pub fn kill(&mut self) {
        signal(self.postgres.id(), "KILL");
        let _ = self.postgres.wait();
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.postgres.try_wait() {
            return;
        }
        // SIGINT: Postgres' fast shutdown.
        signal(self.postgres.id(), "INT");
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.postgres.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.postgres.kill();
        let _ = self.postgres.wait();
    }
}

fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status();
}

fn find_bin_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("TENANTGATE_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, p): &(u32, PathBuf)| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().map(|(_, p)| p)
}

/// The (uid, gid) to run Postgres as, or `None` when not root.
fn os_user() -> Result<Option<(u32, u32)>, DevError> {
    let uid = id(&["-u"])?;
    if uid != 0 {
        return Ok(None);
    }
    let name = if id(&["-u", OS_USER]).is_ok() {
        OS_USER
    } else {
        if id(&["-u", FALLBACK_OS_USER]).is_err() {
            // Another test may be creating it at the same moment; only the outcome matters.
            let _ = Command::new("useradd")
                .args(["--system", "--no-create-home", FALLBACK_OS_USER])
                .output();
        }
        FALLBACK_OS_USER
    };
    Ok(Some((id(&["-u", name])?, id(&["-g", name])?)))
}

fn id(args: &[&str]) -> Result<u32, DevError> {
    let out = Command::new("id").args(args).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().parse().map_err(|_| DevError::Command {
        what: format!("id {}", args.join(" ")),
        detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    })
}

fn chown_tree(path: &Path, owner: Option<(u32, u32)>) -> Result<(), DevError> {
    let Some((uid, gid)) = owner else {
        return Ok(());
    };
    std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
    for entry in fs::read_dir(path)? {
        std::os::unix::fs::chown(entry?.path(), Some(uid), Some(gid))?;
    }
    Ok(())
}

fn command(program: &Path, owner: Option<(u32, u32)>) -> Command {
    let mut c = Command::new(program);
    if let Some((uid, gid)) = owner {
        c.uid(uid).gid(gid);
    }
    c.env_remove("PGDATA");
    c
}

fn run(command: &mut Command, what: &str) -> Result<(), DevError> {
    let out = command.output()?;
    if out.status.success() {
        return Ok(());
    }
    Err(DevError::Command {
        what: what.into(),
        detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    })
}

fn free_port() -> Result<u16, DevError> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn random_password() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// The example tenants `tenantgate dev` and the tests use.
pub struct Examples {
    /// Password of the `tenantgate` role the proxy logs in as.
    pub proxy_password: String,
    /// Password of every example user.
    pub user_password: String,
}

/// Schema tenants `acme` and `globex` share database `app`; `initech` and `umbrella` have
/// databases of their own; row tenants `hooli` and `piedpiper` share table `orders` in
/// database `saas`, told apart by its `tenant_id` column. Each tenant has orders of its own,
/// as many as its name has letters, less two.
pub const EXAMPLE_TENANTS: &[(&str, &str, &str)] = &[
    ("acme", "schema", "app"),
    ("globex", "schema", "app"),
    ("initech", "database", "initech"),
    ("umbrella", "database", "umbrella"),
    ("hooli", "row", "saas"),
    ("piedpiper", "row", "saas"),
];

/// Creates the `tenantgate` role and the example tenants' data.
pub async fn seed_examples(cluster: &PgCluster) -> Result<Examples, DevError> {
    let proxy_password = random_password();
    let admin = cluster.connect("postgres").await?;
    admin
        .batch_execute(&format!("CREATE ROLE tenantgate LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB PASSWORD '{proxy_password}'"))
        .await?;
    // One statement per message: CREATE DATABASE refuses to run in a transaction block.
    for database in ["app", "initech", "umbrella", "saas"] {
        admin
            .batch_execute(&format!("CREATE DATABASE {database} OWNER tenantgate"))
            .await?;
    }
    cluster
        .execute(
            "saas",
            "SET ROLE tenantgate;
             CREATE TABLE public.orders (id int PRIMARY KEY, tenant_id text NOT NULL,
                                         item text NOT NULL, amount numeric NOT NULL);
             CREATE INDEX orders_tenant ON public.orders (tenant_id);",
        )
        .await?;
    for (n, (tenant, mode, database)) in EXAMPLE_TENANTS.iter().enumerate() {
        let rows: Vec<String> = (1..=tenant.len() as i32 - 2)
            .map(|i| format!("({i}, '{tenant} item {i}', {}.50)", i * 10))
            .collect();
        if *mode == "row" {
            let rows: Vec<String> = (1..=tenant.len() as i32 - 2)
                .map(|i| {
                    let id = n as i32 * 100 + i;
                    format!("({id}, '{tenant}', '{tenant} item {i}', {}.50)", i * 10)
                })
                .collect();
            cluster
                .execute(
                    database,
                    &format!("INSERT INTO public.orders VALUES {};", rows.join(", ")),
                )
                .await?;
            continue;
        }
        let table = if *mode == "schema" {
            cluster
                .execute(
                    database,
                    &format!("CREATE SCHEMA {tenant} AUTHORIZATION tenantgate"),
                )
                .await?;
            format!("{tenant}.orders")
        } else {
            "public.orders".to_owned()
        };
        cluster
            .execute(
                database,
                &format!(
                    "SET ROLE tenantgate;
                     CREATE TABLE {table} (id int PRIMARY KEY, item text NOT NULL, amount numeric NOT NULL);
                     INSERT INTO {table} VALUES {};",
                    rows.join(", ")
                ),
            )
            .await?;
    }
    Ok(Examples {
        proxy_password,
        user_password: "secret".into(),
    })
}

/// The configuration of the example tenants, with one user per tenant (`<tenant>_app`) and
/// a user `ops` allowed every tenant.
pub fn example_config(
    cluster: &PgCluster,
    examples: &Examples,
    listen: &str,
    extra: &str,
) -> String {
    let mut toml = format!(
        "[proxy]\nlisten = \"{listen}\"\n\n[[clusters]]\nname = \"main\"\nhost = \"{}\"\nport = {}\nuser = \"tenantgate\"\npassword = \"{}\"\npool_size = 10\n",
        cluster.host(),
        cluster.port(),
        examples.proxy_password
    );
    for (tenant, mode, database) in EXAMPLE_TENANTS {
        toml.push_str(&format!(
            "\n[[tenants]]\nid = \"{tenant}\"\nisolation = \"{mode}\"\ncluster = \"main\"\ndatabase = \"{database}\"\n"
        ));
    }
    for (tenant, _, _) in EXAMPLE_TENANTS {
        toml.push_str(&format!(
            "\n[[users]]\nname = \"{tenant}_app\"\npassword = \"{}\"\ntenant = \"{tenant}\"\n",
            examples.user_password
        ));
    }
    toml.push_str(&format!(
        "\n[[users]]\nname = \"ops\"\npassword = \"{}\"\ntenants = \"*\"\n",
        examples.user_password
    ));
    toml.push_str("\n[row]\ntenant_column = \"tenant_id\"\nenforcement = \"rewrite\"\n");
    toml.push_str(extra);
    toml
}

/// `tenantgate dev`: a throwaway cluster with the example tenants and the proxy in front.
pub async fn dev(port: u16) -> Result<(), DevError> {
    eprintln!("starting a throwaway PostgreSQL cluster ...");
    let cluster = PgCluster::start().await?;
    let examples = seed_examples(&cluster).await?;
    let path = cluster.dir().join("tenantgate.toml");
    let text = example_config(&cluster, &examples, &format!("127.0.0.1:{port}"), "");
    fs::write(&path, &text)?;
    let config = crate::config::parse(&path, &text)?;
    let server = crate::server::Server::bind(config).await?;
    let addr = server.local_addr();
    println!(
        "tenantgate is listening on {addr} (configuration: {})",
        path.display()
    );
    println!(
        "PostgreSQL runs on 127.0.0.1:{} (data in {})\n",
        cluster.port(),
        cluster.dir().display()
    );
    for (tenant, mode, database) in EXAMPLE_TENANTS {
        println!(
            "  {tenant:<9} ({mode:<8}) psql \"postgres://{tenant}_app:{}@{addr}/{database}\"",
            examples.user_password
        );
    }
    println!(
        "\n  any tenant as ops:    psql \"postgres://ops.globex:{}@{addr}/app\"",
        examples.user_password
    );
    println!("\nPress Ctrl-C to stop and remove everything.");
    // SIGTERM too: `timeout` and service managers stop it that way.
    server.run_until(crate::server::shutdown_signal()).await?;
    drop(cluster);
    Ok(())
}
