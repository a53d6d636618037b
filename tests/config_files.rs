//! The shipped configuration files stay valid, and `tenantgate check` reports every problem
//! with file, line and key.

use std::path::Path;
use std::process::Command;

fn check(path: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tenantgate"))
        .args(["check", "--config"])
        .arg(path)
        .output()
        .unwrap()
}

#[test]
fn example_configurations_are_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = check(&root.join("config/example.toml"));
    assert!(
        example.status.success(),
        "{}",
        String::from_utf8_lossy(&example.stderr)
    );
    let report = String::from_utf8_lossy(&example.stdout);
    assert!(
        report.contains("main/app") && report.contains("acme, globex"),
        "{report}"
    );

    // The compose file's config reads its password from the environment; check the rest.
    let docker = std::fs::read_to_string(root.join("docker/tenantgate.toml")).unwrap();
    let docker = docker.replace(
        "password_env = \"TENANTGATE_BACKEND_PASSWORD\"",
        "password = \"x\"",
    );
    let config = tenantgate::config::parse(Path::new("docker/tenantgate.toml"), &docker).unwrap();
    assert_eq!(config.tenants.len(), 6);
}

#[test]
fn check_lists_every_problem_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        r#"[proxy]
listen = "127.0.0.1:6432"
startup_timeout = "soon"

[[clusters]]
name = "main"
host = "127.0.0.1"
user = "tenantgate"

[[tenants]]
id = "acme"
isolation = "schema"
cluster = "nope"
database = "app"

[[users]]
name = "acme_app"
password = "x"
tenants = ["acme", "ghost"]

[plans.pro]
queries_per_second = 0
"#,
    )
    .unwrap();
    let out = check(&path);
    assert!(!out.status.success());
    let errors = String::from_utf8_lossy(&out.stderr);
    let file = path.display().to_string();
    for expected in [
        format!("{file}:3: proxy.startup_timeout"),
        format!("{file}:13: tenants[0].cluster: no cluster is named \"nope\""),
        format!("{file}:19: users[0].tenants: no tenant has id \"ghost\""),
        format!("{file}:21: plans.pro.queries_per_second: must be at least 1"),
    ] {
        assert!(
            errors.contains(&expected),
            "missing {expected:?} in:\n{errors}"
        );
    }

    std::fs::write(&path, "[proxy]\nlisten = \"127.0.0.1:1\"\nlisen = 1\n").unwrap();
    let errors = String::from_utf8_lossy(&check(&path).stderr).into_owned();
    assert!(
        errors.contains(":3:") && errors.contains("unknown field `lisen`"),
        "{errors}"
    );
}
