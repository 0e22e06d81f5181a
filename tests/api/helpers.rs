//! `spawn_app()`: the real server on port 0 against a fresh database — a temp SQLite file,
//! or a fresh PostgreSQL database when `TEST_DATABASE_URL` is set — with a manual clock.

use std::sync::Arc;

use base64::Engine as _;
use chrono::{Duration, TimeZone, Utc};
use diesel::Connection;
use diesel::connection::SimpleConnection;
use rand::RngCore;
use reqwest::{Response, StatusCode};
use secrecy::{SecretBox, SecretString};
use serde_json::{Value, json};
use webfb::clock::{Clock, ManualClock};
use webfb::config::{Argon2Params, Policy, Settings, TlsSettings};

pub use crate::test_pki::TestPki;
use webfb::db::{Database, Db, DbConn};
use webfb::domain::{LoginId, NewPassword, PersonName};
use webfb::service::{Services, bank};
use webfb::startup::Application;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub address: String,
    /// Where `/metrics` is served when it has a listener of its own.
    pub metrics_address: Option<String>,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub database: Database,
    pub key: [u8; 32],
    /// The test's PKI, for a server with HTTPS and certificate sign-in.
    pub pki: Option<Arc<TestPki>>,
    dir: tempfile::TempDir,
}

pub const PASSWORD: &str = "Login-Pass-2026";
pub const APPROVAL: &str = "Approval-Pass-2026";
pub const TRANSFER: &str = "Transfer-Pass-2026";

/// The PostgreSQL server for tests. The PostgreSQL variants are compiled only when the
/// build saw `TEST_DATABASE_URL`; it must still be set when they run.
fn postgres_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .expect("TEST_DATABASE_URL is not set: rebuild without it, or set it again")
}

/// A new, empty PostgreSQL database on the test server.
pub fn fresh_postgres_database() -> String {
    let admin_url = postgres_url();
    let name = format!("webfb_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin =
        diesel::PgConnection::establish(&admin_url).expect("connect to TEST_DATABASE_URL");
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create test database");
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin_url.as_str(), String::new()),
    };
    let slash = base.rfind('/').expect("a database URL has a path");
    format!("{}/{name}{query}", &base[..slash])
}

pub fn test_settings(database: Database, dir: &std::path::Path) -> Settings {
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    settings_with_key(database, dir, key)
}

/// Settings whose session and sealing keys derive from `key`: instances sharing it
/// accept each other's sessions and open each other's seeds.
fn settings_with_key(database: Database, dir: &std::path::Path, key: [u8; 32]) -> Settings {
    Settings {
        database,
        bind: "127.0.0.1:0".into(),
        metrics_bind: None,
        data_dir: dir.to_path_buf(),
        jwt_secret: SecretString::from(base64::engine::general_purpose::STANDARD.encode(key)),
        master_key: SecretBox::new(Box::new(key)),
        master_key_id: "test".into(),
        previous_master_keys: vec![],
        // Tests make many checks at once from one address; the throttle's own tests set
        // these low again.
        policy: Policy {
            checks_per_addr_per_minute: 100_000,
            checks_per_subject_per_minute: 100_000,
            ..Policy::default()
        },
        argon2: Argon2Params::INSECURE_FAST_FOR_TESTS,
        db_pool_size: 8,
        cors_origins: vec!["https://fb.bank.example".into()],
        trusted_proxies: vec![],
        argon2_workers: 2,
        argon2_queue: 64,
        tls: TlsSettings::default(),
        // Sealed when read or verified: no thread per test server.
        audit_seal_every: None,
        notifications: Default::default(),
    }
}

pub async fn spawn_app(engine: Engine) -> TestApp {
    spawn_app_with(engine, |_| {}).await
}

pub async fn spawn_app_with(engine: Engine, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_full(engine, adjust, None).await
}

/// The server with every lockout threshold out of reach: for tests that send many wrong
/// secrets and still need each later request to get past the secret's check.
pub async fn spawn_app_without_lockouts(engine: Engine) -> TestApp {
    spawn_app_with(engine, |s| {
        let unreachable = 1_000_000;
        s.policy.login_lockout_threshold = unreachable;
        s.policy.approval_lockout_threshold = unreachable;
        s.policy.transfer_password_lockout_threshold = unreachable;
        s.policy.otp_lockout_threshold = unreachable;
    })
    .await
}

/// The server on the wall clock, for codes from a real external generator.
pub async fn spawn_app_real_clock(engine: Engine) -> TestApp {
    spawn_app_real_clock_with(engine, |_| {}).await
}

pub async fn spawn_app_real_clock_with(
    engine: Engine,
    adjust: impl FnOnce(&mut Settings),
) -> TestApp {
    spawn_app_full(engine, adjust, Some(Arc::new(webfb::clock::SystemClock))).await
}

pub async fn spawn_app_full(
    engine: Engine,
    adjust: impl FnOnce(&mut Settings),
    server_clock: Option<Arc<dyn webfb::clock::Clock>>,
) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = match engine {
        Engine::Sqlite => Database::Sqlite(dir.path().join("webfb.db")),
        Engine::Postgres => Database::Postgres(
            tokio::task::spawn_blocking(fresh_postgres_database)
                .await
                .unwrap(),
        ),
    };
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    let mut settings = settings_with_key(database.clone(), dir.path(), key);
    adjust(&mut settings);
    // A whole second keeps sub-second noise out of step arithmetic.
    let start = Utc.timestamp_opt(Utc::now().timestamp(), 0).unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let app = Application::build(settings, server_clock.unwrap_or_else(|| clock.clone()))
        .await
        .expect("the server starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics_address = app
        .metrics_port()
        .map(|port| format!("http://127.0.0.1:{port}"));
    tokio::spawn(app.run());
    TestApp {
        address,
        metrics_address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        clock,
        database,
        key,
        pki: None,
        dir,
    }
}

/// The server on HTTPS, asking for people's certificates issued by the test's CA (with
/// its revocation list).
pub async fn spawn_app_with_certificates(engine: Engine) -> TestApp {
    certificates_app(engine, None).await
}

/// The same on the wall clock, for codes from oathtool.
pub async fn spawn_app_with_certificates_on_the_wall_clock(engine: Engine) -> TestApp {
    certificates_app(engine, Some(Arc::new(webfb::clock::SystemClock))).await
}

async fn certificates_app(engine: Engine, clock: Option<Arc<dyn webfb::clock::Clock>>) -> TestApp {
    let pki = Arc::new(TestPki::new());
    let files = pki.clone();
    let mut app = spawn_app_full(
        engine,
        move |s| {
            let [ca, crl, cert, key] = files.write(&s.data_dir);
            s.tls = TlsSettings {
                server: Some((cert, key)),
                client_ca: Some(ca),
                client_crl: Some(crl),
                client_cert_header: None,
            };
        },
        clock,
    )
    .await;
    app.address = app.address.replacen("http://", "https://", 1);
    app.client = pki.client(None);
    app.pki = Some(pki);
    app
}

/// Plain HTTP behind a proxy that verified the client's certificate and passes it in
/// `x-ssl-client-cert`: trusted when `proxy` is the test's own address.
pub async fn spawn_app_behind_certificate_proxy(engine: Engine, proxy: &str) -> TestApp {
    let pki = Arc::new(TestPki::new());
    let files = pki.clone();
    let proxy: ipnet::IpNet = proxy.parse().unwrap();
    let mut app = spawn_app_with(engine, move |s| {
        let [ca, crl, _, _] = files.write(&s.data_dir);
        s.trusted_proxies = vec![proxy];
        s.tls = TlsSettings {
            server: None,
            client_ca: Some(ca),
            client_crl: Some(crl),
            client_cert_header: Some("x-ssl-client-cert".into()),
        };
    })
    .await;
    app.pki = Some(pki);
    app
}

pub async fn spawn_app_behind_the_banks_proxy(engine: Engine) -> TestApp {
    spawn_app_behind_certificate_proxy(engine, "127.0.0.1/32").await
}

pub async fn spawn_app_behind_someone_elses_proxy(engine: Engine) -> TestApp {
    spawn_app_behind_certificate_proxy(engine, "10.0.0.0/8").await
}

/// A company made through the bank's API, with its administrator signed in.
#[derive(Clone)]
pub struct Company {
    pub id: String,
    /// The company's debit account.
    pub account: String,
    pub admin_login_id: String,
    pub admin_id: String,
    pub admin_token: String,
    pub operator_token: String,
}

impl TestApp {
    /// Another server instance on the same database and keys, on the same clock: what a
    /// load balancer would put beside the first. Returns its base address.
    pub async fn second_instance(&self) -> String {
        self.second_instance_with(|_| {}).await
    }

    /// Another instance on the same database, clock and keys, with settings of its own.
    pub async fn second_instance_with(&self, adjust: impl FnOnce(&mut Settings)) -> String {
        let mut settings = settings_with_key(self.database.clone(), self.dir.path(), self.key);
        adjust(&mut settings);
        let app = Application::build(settings, self.clock.clone())
            .await
            .expect("a second instance starts");
        let address = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run());
        address
    }

    /// The settings this server runs with (same database and keys).
    pub fn settings(&self) -> Settings {
        settings_with_key(self.database.clone(), self.dir.path(), self.key)
    }

    /// The engine this server runs on.
    pub fn engine(&self) -> Engine {
        match self.database {
            Database::Sqlite(_) => Engine::Sqlite,
            Database::Postgres(_) => Engine::Postgres,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn post(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        self.send(reqwest::Method::POST, path, Some(body), token)
            .await
    }

    pub async fn patch(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        self.send(reqwest::Method::PATCH, path, Some(body), token)
            .await
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
    ) -> Response {
        let mut req = self.client.request(method, self.url(path));
        if let Some(b) = body {
            req = req.json(b);
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    /// Runs a use case with the services, off the async workers, as the command line does.
    pub async fn with_services<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Db, &Services) -> T + Send + 'static,
    ) -> T {
        self.with_db(move |conn, svc| f(&mut Db::single(conn), svc))
            .await
    }

    /// Runs `f` with a connection and the services, off the async workers: for what a
    /// test reads or tampers with in the database itself.
    pub async fn with_db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut DbConn, &Services) -> T + Send + 'static,
    ) -> T {
        let database = self.database.clone();
        let clock = self.clock.clone();
        let key = self.key;
        tokio::task::spawn_blocking(move || {
            let dir = tempfile::tempdir().unwrap();
            // The server's own keys, as the command line on its host would have.
            let settings = settings_with_key(database.clone(), dir.path(), key);
            let services = Services::new(&settings, clock).unwrap();
            let mut conn = database.connect().unwrap();
            f(&mut conn, &services)
        })
        .await
        .unwrap()
    }

    /// A bank operator, created as `webfb operator create` would, and signed in.
    pub async fn operator_token(&self, login_id: &str) -> String {
        let id = login_id.to_owned();
        self.with_services(move |db, svc| {
            bank::create_operator(
                db,
                svc,
                &LoginId::parse(&id).unwrap(),
                &PersonName::parse("Test operator").unwrap(),
                &NewPassword::parse(PASSWORD, None).unwrap(),
            )
            .unwrap()
        })
        .await;
        let res = self
            .post(
                "/api/v1/bank/auth/login",
                &json!({"login_id": login_id, "password": PASSWORD}),
                None,
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        body(res).await["access_token"].as_str().unwrap().to_owned()
    }

    /// Asks for a bank procedure as `requester`: 201 and the procedure's id.
    pub async fn request_procedure(&self, requester: &str, kind: &str, target_id: &str) -> String {
        let asked = json!({
            "kind": kind,
            "target_id": target_id,
            "reason": "phone lost; identity checked at the branch",
            "evidence": "written request with the registered seal",
        });
        let res = self
            .post("/api/v1/bank/procedures", &asked, Some(requester))
            .await;
        assert_eq!(res.status(), StatusCode::CREATED, "{kind} requested");
        body(res).await["id"].as_str().unwrap().to_owned()
    }

    /// A bank procedure under dual control: asked for by `requester`, approved (and so
    /// carried out) by a second operator. Answers the approval.
    pub async fn carry_out(&self, requester: &str, kind: &str, target_id: &str) -> Response {
        let id = self.request_procedure(requester, kind, target_id).await;
        let second = self.operator_token(&format!("second.{}", &id[..8])).await;
        let path = format!("/api/v1/bank/procedures/{id}/approve");
        self.post(&path, &json!({}), Some(&second)).await
    }

    pub async fn login(&self, login_id: &str, password: &str) -> Response {
        self.post(
            "/api/v1/auth/login",
            &json!({"login_id": login_id, "password": password}),
            None,
        )
        .await
    }

    pub async fn token(&self, login_id: &str, password: &str) -> String {
        let res = self.login(login_id, password).await;
        assert_eq!(res.status(), StatusCode::OK, "sign-in of {login_id}");
        body(res).await["access_token"].as_str().unwrap().to_owned()
    }

    /// Creates a company (prefix makes login IDs and accounts unique) and signs its
    /// administrator in. The operator is created on first use of the prefix.
    pub async fn company(&self, prefix: &str) -> Company {
        let operator_token = self.operator_token(&format!("{prefix}.operator")).await;
        self.company_by(&operator_token, prefix).await
    }

    pub async fn company_by(&self, operator_token: &str, prefix: &str) -> Company {
        let admin_login_id = format!("{prefix}.admin");
        let account = format!(
            "{:03}-{:07}",
            prefix.len(),
            rand::random::<u32>() % 10_000_000
        );
        let res = self
            .post(
                "/api/v1/bank/companies",
                &company_request(&admin_login_id, &account),
                Some(operator_token),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED, "company created");
        let company = body(res).await;
        Company {
            id: company["id"].as_str().unwrap().to_owned(),
            account: account.clone(),
            admin_id: company["admin"]["id"].as_str().unwrap().to_owned(),
            admin_token: self.token(&admin_login_id, PASSWORD).await,
            admin_login_id,
            operator_token: operator_token.to_owned(),
        }
    }

    /// Adds a user with the transfer permission; returns its id.
    pub async fn user(&self, company: &Company, login_id: &str) -> String {
        let res = self
            .post(
                "/api/v1/users",
                &user_request(login_id),
                Some(&company.admin_token),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED, "user created");
        body(res).await["id"].as_str().unwrap().to_owned()
    }

    /// Takes the transfer permission away from a user, as their administrator does.
    pub async fn revoke_transfer_permission(&self, company: &Company, user_id: &str) {
        let res = self
            .patch(
                &format!("/api/v1/users/{user_id}"),
                &json!({"can_transfer": false}),
                Some(&company.admin_token),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK, "transfer permission revoked");
    }

    /// How many audit events with this action (and outcome) are stored.
    pub async fn audit_count(&self, action: &'static str, outcome: &'static str) -> i64 {
        self.with_db(move |conn, _| {
            use diesel::prelude::*;
            use webfb::db::schema::audit_events::dsl as a;
            a::audit_events
                .filter(a::action.eq(action))
                .filter(a::outcome.eq(outcome))
                .count()
                .get_result(conn)
                .unwrap()
        })
        .await
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }
}

/// A software token as the test holds it: its ID and its seed, read from the otpauth URI
/// like an authenticator app would.
#[derive(Clone, Debug)]
pub struct Token {
    pub token_id: String,
    pub seed: Vec<u8>,
}

impl Token {
    /// The code the token shows `offset` steps from the app's clock.
    pub fn code(&self, app: &TestApp, offset: i64) -> String {
        let params = webfb::otp::totp::TotpParams::DEFAULT;
        let step = webfb::otp::totp::step_at(&params, app.clock.now().timestamp()) + offset;
        webfb::otp::totp::code_at_step(&self.seed, &params, step)
    }

    /// A code that is certainly wrong now (none of the accepted steps shows it).
    pub fn wrong_code(&self, app: &TestApp) -> String {
        let window: Vec<String> = (-1..=1).map(|o| self.code(app, o)).collect();
        (0..1_000_000)
            .map(|n| format!("{n:06}"))
            .find(|c| !window.contains(c))
            .unwrap()
    }
}

pub fn seed_from_uri(uri: &str) -> Vec<u8> {
    let secret = uri
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("secret="))
        .expect("secret in the otpauth URI");
    totp_rs::Secret::Encoded(secret.to_owned())
        .to_bytes()
        .expect("base32 secret")
}

impl TestApp {
    /// Issues a token as `token` (a person's access token) and reads it like an app.
    pub async fn issue_token(&self, token: &str) -> Token {
        let res = self
            .post("/api/v1/soft-tokens", &json!({}), Some(token))
            .await;
        assert_eq!(res.status(), StatusCode::CREATED, "token issued");
        let b = body(res).await;
        Token {
            token_id: b["token_id"].as_str().unwrap().to_owned(),
            seed: seed_from_uri(b["otpauth_uri"].as_str().unwrap()),
        }
    }

    /// Moves to the next 30-second step, so the token shows a fresh code.
    pub fn next_step(&self) {
        self.advance(Duration::seconds(30));
    }

    pub async fn set_mode(&self, company: &Company, mode: &str) -> Response {
        self.send(
            reqwest::Method::PUT,
            "/api/v1/otp/mode",
            Some(&json!({"mode": mode, "approval_password": APPROVAL})),
            Some(&company.admin_token),
        )
        .await
    }

    pub async fn register_admin_token(
        &self,
        company: &Company,
        token: &Token,
        otp: &str,
    ) -> Response {
        let b = json!({"token_id": token.token_id, "otp": otp, "approval_password": APPROVAL});
        self.send(
            reqwest::Method::PUT,
            "/api/v1/otp/admin-token",
            Some(&b),
            Some(&company.admin_token),
        )
        .await
    }

    pub async fn register_user_token(
        &self,
        company: &Company,
        user_id: &str,
        token: &Token,
        otp: &str,
    ) -> Response {
        let b = json!({"token_id": token.token_id, "otp": otp, "approval_password": APPROVAL});
        self.send(
            reqwest::Method::PUT,
            &format!("/api/v1/otp/users/{user_id}/token"),
            Some(&b),
            Some(&company.admin_token),
        )
        .await
    }

    /// Sets the mode and registers a fresh administrator's (or shared) token: OTP is active.
    pub async fn activate(&self, company: &Company, mode: &str) -> Token {
        assert_eq!(self.set_mode(company, mode).await.status(), StatusCode::OK);
        let token = self.issue_token(&company.admin_token).await;
        let res = self
            .register_admin_token(company, &token, &token.code(self, 0))
            .await;
        assert_eq!(res.status(), StatusCode::OK, "admin token registered");
        self.next_step();
        token
    }

    /// Registers a fresh token for a user (per_user mode).
    pub async fn give_token(&self, company: &Company, user_id: &str) -> Token {
        let token = self.issue_token(&company.admin_token).await;
        let res = self
            .register_user_token(company, user_id, &token, &token.code(self, 0))
            .await;
        assert_eq!(res.status(), StatusCode::OK, "user token registered");
        token
    }
}

pub fn company_request(admin_login_id: &str, account: &str) -> Value {
    json!({
        "name": "山田商事株式会社",
        "transfer_limit": 5_000_000,
        "accounts": [account],
        "admin": {
            "login_id": admin_login_id,
            "name": "山田 太郎",
            "password": PASSWORD,
            "approval_password": APPROVAL,
            "transfer_password": TRANSFER,
        }
    })
}

pub fn user_request(login_id: &str) -> Value {
    json!({
        "login_id": login_id,
        "name": "佐藤 花子",
        "password": PASSWORD,
        "transfer_password": TRANSFER,
        "can_transfer": true,
    })
}

pub async fn body(res: Response) -> Value {
    let text = res.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

/// Asserts a problem+json answer with this status and code; returns the body.
/// A problem answer of this status and code, without its request id (which it must carry,
/// as its `X-Request-Id` header does), so that two answers compare alike.
pub async fn problem(res: Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status().as_u16(), status, "status");
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let request_id = res
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let mut b = body(res).await;
    assert_eq!(
        content_type.as_deref(),
        Some("application/problem+json"),
        "{b}"
    );
    assert_eq!(b["code"], code, "{b}");
    assert_eq!(b["status"], status, "{b}");
    let echoed = b.as_object_mut().unwrap().remove("request_id");
    assert!(request_id.is_some(), "every answer names its request: {b}");
    assert_eq!(
        echoed.as_ref().and_then(Value::as_str),
        request_id.as_deref(),
        "{b}"
    );
    b
}

/// The field names of a `validation_failed` answer.
pub fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["field"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The bank's policy asking companies, too, for a code at sign-in.
pub async fn spawn_app_asking_companies_for_codes_at_sign_in(engine: Engine) -> TestApp {
    spawn_app_with(engine, |s| s.policy.corporate.at_sign_in = true).await
}

/// The bank's policy asking personal contracts for no code on transactions.
pub async fn spawn_app_without_codes_for_personal_transactions(engine: Engine) -> TestApp {
    spawn_app_with(engine, |s| s.policy.personal.for_transactions = false).await
}

/// The server with its audit sealer running on its own, as `webfb serve` does.
pub async fn spawn_app_sealing_as_it_serves(engine: Engine) -> TestApp {
    spawn_app_with(engine, |s| {
        s.audit_seal_every = Some(std::time::Duration::from_millis(20))
    })
    .await
}

/// Approvers get an hour to decide.
pub async fn spawn_app_with_an_hour_to_approve(engine: Engine) -> TestApp {
    spawn_app_with(engine, |s| s.policy.approval_ttl_secs = 60 * 60).await
}

/// Procedures wait a minute for their second operator.
pub async fn spawn_app_with_a_minute_for_procedures(engine: Engine) -> TestApp {
    spawn_app_with(engine, |s| s.policy.procedure_ttl_secs = 60).await
}

/// A transfer of the administrator's, created for today.
pub async fn create_transfer(app: &TestApp, company: &Company) -> String {
    let today = (webfb::clock::Clock::now(&*app.clock) + Duration::hours(9)).date_naive();
    let res = app
        .client
        .post(app.url("/api/v1/transfers"))
        .bearer_auth(&company.admin_token)
        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
        .json(&json!({
            "debit_account": company.account,
            "payee": {"bank_code": "0001", "branch_code": "123", "account_type": "ordinary", "account_number": "7654321", "name": "ﾔﾏﾀﾞ"},
            "amount": 1000,
            "execution_date": today.to_string(),
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    body(res).await["id"].as_str().unwrap().to_owned()
}
