//! The server's own log as the bank's operations team reads it: the real `webfb serve`
//! process, JSON lines on stderr, one access line per request with its id, the same id
//! echoed to the caller and stored with the audit event the request caused, and not one
//! password, code, seed or session token anywhere in the log of a whole story.

use std::io::Write;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};

use base64::Engine as _;
use chrono::{Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const OPERATOR_PASSWORD: &str = "Operator-Pass-2026";

/// `webfb serve` as a process, its stderr in a file.
struct Served {
    child: Child,
    url: String,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// Stops the server and reads its log.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::fs::read_to_string(&self.log).unwrap()
    }
}

fn command(dir: &std::path::Path, database: &Option<String>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_webfb"));
    cmd.env_clear()
        .env("WEBFB_DATA_DIR", dir)
        .env("RUST_LOG", "info")
        .env("WEBFB_AUDIT_SEAL_MILLIS", "0")
        .env("WEBFB_OUTBOX_MILLIS", "0");
    if let Some(url) = database {
        let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        cmd.env("DATABASE_URL", url)
            .env(
                "WEBFB_JWT_SECRET",
                "a-test-jwt-secret-of-forty-characters-00",
            )
            .env("WEBFB_MASTER_KEY", key);
    }
    cmd
}

/// A bank operator created at the command line, then the server in `format`.
async fn serve(engine: Engine, format: &str) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let database = (engine == Engine::Postgres).then(fresh_postgres_database);
    let mut create = command(dir.path(), &database)
        .args(["operator", "create", "--login-id", "ops.tanaka"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    writeln!(create.stdin.take().unwrap(), "{OPERATOR_PASSWORD}").unwrap();
    assert!(create.wait().unwrap().success(), "operator created");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = dir.path().join("server.log");
    let child = command(dir.path(), &database)
        .arg("serve")
        .env("WEBFB_BIND", format!("127.0.0.1:{port}"))
        .env("WEBFB_LOG_FORMAT", format)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // From here the server is stopped and waited for when `Served` goes, panic or not.
    let served = Served {
        child,
        url: format!("http://127.0.0.1:{port}"),
        log,
        _dir: dir,
    };
    for _ in 0..200 {
        if reqwest::get(format!("{}/ready", served.url))
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK)
        {
            return served;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "the server did not get ready: {}",
        std::fs::read_to_string(&served.log).unwrap()
    );
}

/// A signed-in call and its answer: status, request id, body.
async fn call(
    url: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
    b: Option<Value>,
) -> (StatusCode, String, Value) {
    let mut req = reqwest::Client::new().request(method, format!("{url}{path}"));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(b) = b {
        req = req
            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
            .json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let text = res.text().await.unwrap();
    (
        status,
        id,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

/// The code a token shows `steps` time steps from now.
fn code(seed: &[u8], steps: i64) -> String {
    let params = webfb::otp::totp::TotpParams::DEFAULT;
    let step = webfb::otp::totp::step_at(&params, Utc::now().timestamp()) + steps;
    webfb::otp::totp::code_at_step(seed, &params, step)
}

async fn a_whole_story_is_logged_one_json_line_a_request_and_no_secret(engine: Engine) {
    let server = serve(engine, "json").await;
    let url = server.url.clone();
    let (_, _, op) = call(
        &url,
        Method::POST,
        "/api/v1/bank/auth/login",
        None,
        Some(json!({"login_id": "ops.tanaka", "password": OPERATOR_PASSWORD})),
    )
    .await;
    let operator = op["access_token"].as_str().unwrap().to_owned();
    let account = "001-7654321";
    let (status, _, _) = call(
        &url,
        Method::POST,
        "/api/v1/bank/companies",
        Some(&operator),
        Some(company_request("acme.admin", account)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, wrong_id, _) = call(
        &url,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"login_id": "acme.admin", "password": "Wrong-Guess-2026"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, _, admin) = call(
        &url,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"login_id": "acme.admin", "password": PASSWORD})),
    )
    .await;
    let admin_token = admin["access_token"].as_str().unwrap().to_owned();
    let admin_id = admin["user"]["id"].as_str().unwrap().to_owned();
    let t = Some(admin_token.as_str());
    let mode = json!({"mode": "per_user", "approval_password": APPROVAL});
    call(&url, Method::PUT, "/api/v1/otp/mode", t, Some(mode)).await;
    let (_, _, issued) = call(
        &url,
        Method::POST,
        "/api/v1/soft-tokens",
        t,
        Some(json!({})),
    )
    .await;
    let uri = issued["otpauth_uri"].as_str().unwrap().to_owned();
    let seed = seed_from_uri(&uri);
    let first = code(&seed, 0);
    let register =
        json!({"token_id": issued["token_id"], "otp": first, "approval_password": APPROVAL});
    let (status, _, _) = call(
        &url,
        Method::PUT,
        "/api/v1/otp/admin-token",
        t,
        Some(register),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let date = ((Utc::now() + Duration::hours(9)).date_naive() + Duration::days(1)).to_string();
    let transfer = json!({
        "debit_account": account,
        "payee": {"bank_code": "0001", "branch_code": "123", "account_type": "ordinary",
                  "account_number": "7654321", "name": "ｶ)ﾔﾏﾀﾞｼﾖｳｼﾞ"},
        "amount": 150_000,
        "execution_date": date,
    });
    let (_, _, created) = call(&url, Method::POST, "/api/v1/transfers", t, Some(transfer)).await;
    let path = format!(
        "/api/v1/transfers/{}/confirm",
        created["id"].as_str().unwrap()
    );
    let next = code(&seed, 1);
    let (status, confirm_id, confirmed) =
        call(&url, Method::POST, &path, t, Some(json!({"otp": next}))).await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");

    // A request id from anyone but a trusted proxy is not believed: the server names it.
    let claimed = reqwest::Client::new()
        .get(format!("{url}/health"))
        .header("X-Request-Id", "forged-by-a-client")
        .send()
        .await
        .unwrap();
    assert_ne!(claimed.headers()["x-request-id"], "forged-by-a-client");
    // HEAD is GET without a body, wherever GET is.
    for (path, token) in [("/health", None), ("/api/v1/me", t)] {
        let mut head = reqwest::Client::new().head(format!("{url}{path}"));
        if let Some(token) = token {
            head = head.bearer_auth(token);
        }
        let res = head.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "HEAD {path}");
        assert!(res.bytes().await.unwrap().is_empty(), "HEAD {path}");
    }

    // The audit event the confirmation wrote carries the confirmation's request id.
    let (_, _, events) = call(&url, Method::GET, "/api/v1/audit-events?limit=200", t, None).await;
    let confirmed_event = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "transfer_confirmed")
        .cloned()
        .unwrap();
    assert_eq!(confirmed_event["request_id"], confirm_id.as_str());

    // A signed token whose session ended is nobody's request in the log.
    let (status, _, _) = call(&url, Method::POST, "/api/v1/auth/logout", t, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, ended_id, _) = call(&url, Method::GET, "/api/v1/me", t, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let log = server.stop();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let access = |id: &str| {
        lines
            .iter()
            .find(|l| l["target"] == "webfb::access" && l["request_id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no access line for {id} in {log}"))
    };
    let line = access(&confirm_id);
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["method"], "POST");
    assert_eq!(line["route"], "/api/v1/transfers/{transfer_id}/confirm");
    assert_eq!(line["status"], 200);
    assert_eq!(line["client_addr"], "127.0.0.1");
    assert_eq!(line["actor_kind"], "person");
    assert_eq!(line["actor_id"], admin_id.as_str());
    assert!(line["latency_ms"].as_f64().unwrap() > 0.0, "{line}");
    let ended = access(&ended_id);
    assert_eq!(ended["status"], 401);
    assert!(ended.get("actor_id").is_none(), "{ended}");
    let refused = access(&wrong_id);
    assert_eq!(refused["status"], 401);
    assert_eq!(refused["problem"], "invalid_credentials");
    let requests = lines
        .iter()
        .filter(|l| l["target"] == "webfb::access")
        .count();
    assert!(requests >= 12, "one line a request: {requests}");

    // Not one secret: passwords, codes, the seed, session tokens. Times are left out of the
    // search, where six digits in a row are no code.
    let searched: String = lines
        .iter()
        .map(|l| {
            let mut l = l.clone();
            l.as_object_mut().unwrap().remove("timestamp");
            l.to_string()
        })
        .collect();
    let secret = uri
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("secret="))
        .unwrap();
    for (what, value) in [
        ("operator password", OPERATOR_PASSWORD),
        ("login password", PASSWORD),
        ("wrong password", "Wrong-Guess-2026"),
        ("approval password", APPROVAL),
        ("registration code", first.as_str()),
        ("confirmation code", next.as_str()),
        ("seed", secret),
        ("operator session", operator.as_str()),
        ("administrator session", admin_token.as_str()),
    ] {
        assert!(!searched.contains(value), "the {what} is in the log");
    }
}

mod a_whole_story_is_logged_one_json_line_a_request_and_no_secret {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_sqlite() {
        a_whole_story_is_logged_one_json_line_a_request_and_no_secret(Engine::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(webfb_postgres_tests),
        ignore = "PostgreSQL: set TEST_DATABASE_URL=postgres://… and run again"
    )]
    async fn on_postgres() {
        a_whole_story_is_logged_one_json_line_a_request_and_no_secret(Engine::Postgres).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_logs_written_to_a_file_have_no_colour_codes() {
    let server = serve(Engine::Sqlite, "text").await;
    reqwest::get(format!("{}/health", server.url))
        .await
        .unwrap();
    let log = server.stop();
    assert!(log.contains("webfb::access"), "{log}");
    assert!(!log.contains('\u{1b}'), "{log}");
}
