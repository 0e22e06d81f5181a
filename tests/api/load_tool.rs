//! `webfb-bench`, the load tool, run as a real process against a running server.

use base64::Engine as _;
use webfb::db::Database;

use crate::helpers::*;
use webfb_test_macros::engine_test;

#[engine_test(spawn_app_real_clock)]
async fn the_load_tool_drives_every_workload_without_an_error_and_finds_each_confirmation_once(
    app: TestApp,
) {
    let url = match &app.database {
        Database::Sqlite(path) => format!("sqlite://{}", path.display()),
        Database::Postgres(url) => url.clone(),
    };
    let key = base64::engine::general_purpose::STANDARD.encode(app.key);
    let server = app.url("");
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_webfb-bench"))
            .args(["--server", &server, "--companies", "2", "--people", "3"])
            .args(["--clients", "1,2", "--seconds", "1", "--threads", "1"])
            .env_clear()
            .env("DATABASE_URL", url)
            .env("WEBFB_JWT_SECRET", &key)
            .env("WEBFB_MASTER_KEY", &key)
            .env("WEBFB_MASTER_KEY_ID", "test")
            .output()
            .expect("webfb-bench runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("provisioned 2 companies, 6 people"),
        "{stdout}"
    );
    for op in [
        "create",
        "confirm",
        "read /me",
        "read /transfers",
        "sign-in",
        "/health meanwhile",
    ] {
        assert!(
            stdout.lines().any(|l| l.trim_start().starts_with(op)),
            "{op}: {stdout}"
        );
    }
    assert!(
        !stdout.contains("  error "),
        "no request refused or lost: {stdout}"
    );
    assert!(stdout.contains("database check: ok"), "{stdout}");
    assert!(stdout.contains("server RSS after sign-ins"), "{stdout}");
}
