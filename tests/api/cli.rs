//! The `webfb` command line, run as a real process.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn webfb(dir: &std::path::Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_webfb"))
        .args(args)
        .env_clear()
        .env("WEBFB_DATA_DIR", dir)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("webfb runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn operator_create_reads_the_password_from_stdin_and_refuses_duplicates_and_weak_ones() {
    let dir = tempfile::tempdir().unwrap();
    let ok = webfb(
        dir.path(),
        &["operator", "create", "--login-id", "op.tanaka"],
        "Operator-Pass-2026\n",
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    let dup = webfb(
        dir.path(),
        &["operator", "create", "--login-id", "op.tanaka"],
        "Operator-Pass-2026\n",
    );
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));

    let weak = webfb(
        dir.path(),
        &["operator", "create", "--login-id", "op.suzuki"],
        "short\n",
    );
    assert!(!weak.status.success());
    let stderr = String::from_utf8_lossy(&weak.stderr);
    assert!(stderr.contains("password refused"), "{stderr}");
    assert!(!stderr.contains("short\n"));
}

#[test]
fn demo_is_idempotent_and_prints_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let first = webfb(dir.path(), &["demo"], "");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let second = webfb(dir.path(), &["demo"], "");
    assert!(second.status.success());
    let out = String::from_utf8_lossy(&second.stdout);
    for login in ["demo.operator", "demo.admin", "demo.user1", "demo.user2"] {
        assert!(out.contains(&format!("login_id={login}")), "{out}");
    }
    let first = String::from_utf8_lossy(&first.stdout);
    assert_eq!(first.matches("otpauth://totp/").count(), 2, "{first}");
    assert!(!out.contains("otpauth://"), "a secret is shown only once");
}

#[test]
fn openapi_prints_the_committed_document() {
    let dir = tempfile::tempdir().unwrap();
    let out = webfb(dir.path(), &["openapi"], "");
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
}

#[test]
fn an_unknown_database_scheme_stops_start_up_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_webfb"))
        .arg("migrate")
        .env_clear()
        .env("DATABASE_URL", "mysql://u:p@localhost/db")
        .env("WEBFB_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("sqlite://") && stderr.contains("postgres://"),
        "{stderr}"
    );
}

#[test]
fn demo_refuses_a_database_other_than_sqlite_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_webfb"))
        .arg("demo")
        .env_clear()
        .env("DATABASE_URL", "postgres://u:p@127.0.0.1:1/webfb")
        .env(
            "WEBFB_JWT_SECRET",
            "a-jwt-secret-of-at-least-thirty-two-chars",
        )
        .env(
            "WEBFB_MASTER_KEY",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        )
        .env("WEBFB_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("only on SQLite"), "{stderr}");
}
