//! Figures, not assertions: how fast the parts that matter are, on this machine.
//! `cargo bench --bench service` (PostgreSQL too with BENCH_DATABASE_URL=postgres://…).
//! Each line prints the figure beside the target it is meant to meet.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use chrono::{TimeZone, Utc};
use rand::RngCore;
use secrecy::{SecretBox, SecretString};
use serde_json::{Value, json};
use webfb::clock::{Clock, ManualClock};
use webfb::config::{Argon2Params, Policy, Settings};
use webfb::db::Database;
use webfb::domain::{LoginId, NewPassword, PersonName};
use webfb::otp::seal::{Keyring, MasterKey};
use webfb::otp::totp::{self, TotpParams};
use webfb::service::{Services, bank};
use webfb::startup::Application;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(what: &str, target: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{what:<44} p50 {:>9.3} ms  p95 {:>9.3} ms  n={:<5} target: {target}",
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        percentile(&samples, 0.95).as_secs_f64() * 1e3,
        samples.len()
    );
}

fn time<T>(n: usize, mut f: impl FnMut() -> T) -> Vec<Duration> {
    (0..n)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(f());
            start.elapsed()
        })
        .collect()
}

fn pure() {
    let seed = b"12345678901234567890";
    let params = TotpParams::DEFAULT;
    report(
        "TOTP verify (window ±1, 3 HMACs)",
        "< 0.05 ms",
        time(10_000, || totp::verify(seed, &params, "287082", 59, 1)),
    );
    let keyring = Keyring::new(MasterKey::new("k1", [7u8; 32]));
    let sealed = keyring.seal("WFBS12345674", seed).unwrap();
    report(
        "seed seal (AES-256-GCM)",
        "< 0.05 ms",
        time(10_000, || keyring.seal("WFBS12345674", seed).unwrap()),
    );
    report(
        "seed open (AES-256-GCM)",
        "< 0.05 ms",
        time(10_000, || keyring.open("WFBS12345674", &sealed).unwrap()),
    );
    let passwords = webfb::service::Passwords::new(Argon2Params::OWASP, 1, 1).unwrap();
    report(
        "argon2id hash, OWASP (19 MiB, t=2)",
        "20–100 ms: slow on purpose",
        time(20, || passwords.hash("Sakura-2026-spring").unwrap()),
    );
}

/// `background`: the audit sealer and the outbox dispatcher run, as `webfb serve` has them.
async fn http(database: Database, label: &str, background: bool) {
    let dir = tempfile::tempdir().unwrap();
    // One key per process: the variants may share a database, and its seeds must open.
    static KEY: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    let key = *KEY.get_or_init(|| {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        key
    });
    let settings = Settings {
        database: database.clone(),
        bind: "127.0.0.1:0".into(),
        metrics_bind: None,
        data_dir: dir.path().to_path_buf(),
        jwt_secret: SecretString::from(base64::engine::general_purpose::STANDARD.encode(key)),
        master_key: SecretBox::new(Box::new(key)),
        master_key_id: "bench".into(),
        previous_master_keys: vec![],
        policy: Policy {
            checks_per_addr_per_minute: 1_000_000,
            checks_per_subject_per_minute: 1_000_000,
            ..Policy::default()
        },
        argon2: Argon2Params::OWASP,
        db_pool_size: 10,
        cors_origins: vec![],
        trusted_proxies: vec![],
        argon2_workers: 2,
        argon2_queue: 64,
        tls: Default::default(),
        audit_seal_every: background.then(|| std::time::Duration::from_millis(250)),
        notifications: webfb::config::NotificationSettings {
            dispatch_every: background.then(|| std::time::Duration::from_millis(200)),
            ..Default::default()
        },
    };
    let clock = Arc::new(ManualClock::new(
        Utc.timestamp_opt(Utc::now().timestamp(), 0).unwrap(),
    ));
    let services = Services::new(&settings, clock.clone()).unwrap();
    let app = Application::build(settings, clock.clone()).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run());
    let password = "Bench-Pass-2026";
    // Each variant its own people and account, so both can share one PostgreSQL database.
    let (operator_id, admin_id, account): (&'static str, &'static str, &'static str) =
        match background {
            false => ("bench.operator", "bench.admin", "001-1234567"),
            true => ("bench.operator.on", "bench.admin.on", "001-7654321"),
        };
    let db = database.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = db.connect().unwrap();
        let id = LoginId::parse(operator_id).unwrap();
        bank::create_operator(
            &mut webfb::db::Db::single(&mut conn),
            &services,
            &id,
            &PersonName::parse("Bench").unwrap(),
            &NewPassword::parse(password, None).unwrap(),
        )
        .unwrap();
    })
    .await
    .unwrap();
    let client = reqwest::Client::new();
    let post = |path: String, body: Value, token: Option<String>| {
        let mut req = client.post(format!("{base}{path}")).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let login = |path: &'static str, id: &'static str| {
        post(
            path.to_owned(),
            json!({"login_id": id, "password": password}),
            None,
        )
    };
    let op: Value = login("/api/v1/bank/auth/login", operator_id)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let op = op["access_token"].as_str().unwrap().to_owned();
    let company = json!({"name": "Bench", "transfer_limit": 1_000_000_000, "accounts": [account],
        "admin": {"login_id": admin_id, "name": "Bench", "password": password,
                  "approval_password": "Bench-Approval-2026", "transfer_password": "Bench-Transfer-2026"}});
    post("/api/v1/bank/companies".into(), company, Some(op))
        .await
        .unwrap();

    let samples = {
        let mut v = Vec::new();
        for _ in 0..10 {
            let start = Instant::now();
            login("/api/v1/auth/login", admin_id).await.unwrap();
            v.push(start.elapsed());
        }
        v
    };
    report(
        &format!("[{label}] POST /auth/login (argon2id)"),
        "p95 < 250 ms",
        samples,
    );
    let admin: Value = login("/api/v1/auth/login", admin_id)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admin = admin["access_token"].as_str().unwrap().to_owned();

    let mut samples = Vec::new();
    for _ in 0..300 {
        let start = Instant::now();
        client
            .get(format!("{base}/api/v1/me"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        samples.push(start.elapsed());
    }
    report(
        &format!("[{label}] GET /me (session check + profile)"),
        "p95 < 20 ms",
        samples,
    );

    let concurrency = 16;
    let total = 800;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, base, admin) = (client.clone(), base.clone(), admin.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..total / concurrency {
                client
                    .get(format!("{base}/api/v1/me"))
                    .bearer_auth(&admin)
                    .send()
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    println!(
        "[{label}] GET /me, {concurrency} concurrent: {:>8.0} requests/s  target: > 500/s",
        total as f64 / start.elapsed().as_secs_f64()
    );

    // OTP on, then transfers confirmed by code: one fresh step per confirmation.
    let put = |path: &str, body: Value| {
        client
            .put(format!("{base}{path}"))
            .bearer_auth(&admin)
            .json(&body)
            .send()
    };
    put(
        "/api/v1/otp/mode",
        json!({"mode": "per_user", "approval_password": "Bench-Approval-2026"}),
    )
    .await
    .unwrap();
    let issued: Value = post("/api/v1/soft-tokens".into(), json!({}), Some(admin.clone()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let uri = issued["otpauth_uri"].as_str().unwrap();
    let secret = uri
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("secret="))
        .unwrap();
    let seed = totp_rs::Secret::Encoded(secret.to_owned())
        .to_bytes()
        .unwrap();
    let params = TotpParams::DEFAULT;
    let code = |clock: &ManualClock| {
        totp::code_at_step(
            &seed,
            &params,
            totp::step_at(&params, clock.now().timestamp()),
        )
    };
    let body = json!({"token_id": issued["token_id"], "otp": code(&clock), "approval_password": "Bench-Approval-2026"});
    assert!(
        put("/api/v1/otp/admin-token", body)
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let date = ((clock.now() + chrono::Duration::hours(9)).date_naive()
        + chrono::Duration::days(1))
    .to_string();
    let transfer = json!({"debit_account": account, "payee": {"bank_code": "0001", "branch_code": "123",
        "account_type": "ordinary", "account_number": "7654321", "name": "ｶ)ﾔﾏﾀﾞｼﾖｳｼﾞ"}, "amount": 1000, "execution_date": date});
    let (mut creates, mut confirms) = (Vec::new(), Vec::new());
    for i in 0..100 {
        clock.advance(chrono::Duration::seconds(30));
        let start = Instant::now();
        let res = client
            .post(format!("{base}/api/v1/transfers"))
            .bearer_auth(&admin)
            .header("Idempotency-Key", format!("bench-{i}"))
            .json(&transfer)
            .send()
            .await
            .unwrap();
        creates.push(start.elapsed());
        let id = res.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let start = Instant::now();
        let res = post(
            format!("/api/v1/transfers/{id}/confirm"),
            json!({"otp": code(&clock)}),
            Some(admin.clone()),
        )
        .await
        .unwrap();
        confirms.push(start.elapsed());
        assert!(res.status().is_success());
    }
    report(
        &format!("[{label}] POST /transfers (create)"),
        "p95 < 30 ms",
        creates,
    );
    let busy: Duration = confirms.iter().sum();
    println!(
        "[{label}] confirmations, one client: {:>8.0} per second",
        confirms.len() as f64 / busy.as_secs_f64()
    );
    report(
        &format!("[{label}] POST /transfers/{{id}}/confirm (code)"),
        "p95 < 30 ms",
        confirms,
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    println!(
        "webfb benchmarks — {} cores",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    pure();
    let dir = tempfile::tempdir().unwrap();
    http(
        Database::Sqlite(dir.path().join("bench.db")),
        "sqlite",
        false,
    )
    .await;
    // The same with the sealer chaining every event and the dispatcher polling the outbox:
    // the cost of a sealed trail and of telling people, beside the line above.
    let sealed = dir.path().join("bench-sealed.db");
    http(
        Database::Sqlite(sealed),
        "sqlite, sealer and outbox on",
        true,
    )
    .await;
    if let Ok(url) = std::env::var("BENCH_DATABASE_URL") {
        http(Database::parse(&url).unwrap(), "postgres", false).await;
        let on = "postgres, sealer and outbox on";
        http(Database::parse(&url).unwrap(), on, true).await;
    }
}
