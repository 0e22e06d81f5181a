//! An independent RFC 6238 generator against the server on the wall clock: what a
//! customer's authenticator app would show is what the server accepts.

use std::process::Command;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

/// The code oathtool shows at `at` for a base32 secret.
fn oathtool_code(secret: &str, at: DateTime<Utc>) -> String {
    let out = Command::new("oathtool")
        .args(["--totp", "-b", "--now"])
        .arg(at.to_rfc3339_opts(SecondsFormat::Secs, true))
        .arg(secret)
        .output()
        .expect("run oathtool");
    assert!(
        out.status.success(),
        "oathtool failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let code = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(
        code.len() == 6 && code.chars().all(|c| c.is_ascii_digit()),
        "{code:?}"
    );
    code
}

pub fn secret_of(issued: &serde_json::Value) -> String {
    let uri = issued["otpauth_uri"].as_str().unwrap();
    uri.split(['?', '&'])
        .find_map(|p| p.strip_prefix("secret="))
        .expect("secret in the otpauth URI")
        .to_owned()
}

/// The codes a token shows now and in each of the next `n - 1` steps.
pub fn codes_ahead(secret: &str, n: i64) -> Vec<String> {
    let now = Utc::now();
    (0..n)
        .map(|k| oathtool_code(secret, now + Duration::seconds(30 * k)))
        .collect()
}

async fn ok(res: reqwest::Response, status: u16) -> serde_json::Value {
    let got = res.status();
    let b = body(res).await;
    assert_eq!(got, status, "{b}");
    b
}

/// The whole personal story of seeds 001, 003 and 004, every code from oathtool.
async fn personal_story(app: TestApp) {
    use crate::personal::{open_customer, transfer};
    let operator = app.operator_token("bank.op").await;
    let c = open_customer(&app, &operator, "k20000001").await;
    let proof = json!({"contract_id": c.contract_id, "password": PASSWORD});
    let issue = || app.post("/api/v1/self-service/soft-tokens", &proof, None);
    let sign_in_step = || async {
        let b = ok(app.login(&c.contract_id, PASSWORD).await, 202).await;
        b["challenge"].as_str().unwrap().to_owned()
    };
    let app = &app;
    let code_step = |challenge: String, otp: String| async move {
        let b = json!({"challenge": challenge, "otp": otp});
        app.post("/api/v1/auth/login/otp", &b, None).await
    };

    // 利用登録 from the login page, then sign-in with password and code.
    let old = ok(issue().await, 201).await;
    let a = codes_ahead(&secret_of(&old), 4);
    let register = json!({"contract_id": c.contract_id, "password": PASSWORD,
                          "token_id": old["token_id"], "otp": a[0]});
    let res = app
        .post("/api/v1/self-service/otp/registration", &register, None)
        .await;
    assert_eq!(ok(res, 200).await["otp_status"], "active");
    let session = ok(code_step(sign_in_step().await, a[1].clone()).await, 200).await;
    let session = session["access_token"].as_str().unwrap().to_owned();

    // A transfer confirmed with a code.
    let id = transfer(app, &c, &session).await;
    let path = format!("/api/v1/transfers/{id}/confirm");
    let res = app.post(&path, &json!({"otp": a[2]}), Some(&session)).await;
    assert_eq!(ok(res, 200).await["status"], "confirmed");

    // 交換, then the old device's code no longer signs in.
    let new = ok(issue().await, 201).await;
    let b = codes_ahead(&secret_of(&new), 3);
    let exchange = json!({"contract_id": c.contract_id, "password": PASSWORD,
        "current_otp": a[3], "new_token_id": new["token_id"], "new_otp": b[0]});
    ok(
        app.post("/api/v1/self-service/otp/exchange", &exchange, None)
            .await,
        200,
    )
    .await;
    let step = sign_in_step().await;
    problem(
        code_step(step.clone(), a[3].clone()).await,
        422,
        "otp_invalid",
    )
    .await;
    ok(code_step(step, b[1].clone()).await, 200).await;

    // 利用停止: sign-in without a code, and the funds-transfer password.
    let stop = json!({"contract_id": c.contract_id, "password": PASSWORD, "otp": b[2]});
    let stopped = ok(
        app.post("/api/v1/self-service/otp/stop", &stop, None).await,
        200,
    )
    .await;
    assert_eq!(stopped["otp_status"], "inactive");
    let session = app.token(&c.contract_id, PASSWORD).await;
    let id = transfer(app, &c, &session).await;
    let path = format!("/api/v1/transfers/{id}/confirm");
    let res = app
        .post(
            &path,
            &json!({"transfer_password": TRANSFER}),
            Some(&session),
        )
        .await;
    assert_eq!(
        ok(res, 200).await["confirmation"]["method"],
        "transfer_password"
    );

    // Registration again.
    let again = ok(issue().await, 201).await;
    let register = json!({"contract_id": c.contract_id, "password": PASSWORD,
        "token_id": again["token_id"], "otp": codes_ahead(&secret_of(&again), 1)[0]});
    let res = app
        .post("/api/v1/self-service/otp/registration", &register, None)
        .await;
    assert_eq!(ok(res, 200).await["otp_status"], "active");
    sign_in_step().await;
}

/// Three steps either side, so one token's four codes are all good at once and the story
/// never waits for the wall clock; every code still comes from oathtool.
async fn spawn_wide_window(engine: Engine) -> TestApp {
    spawn_app_real_clock_with(engine, |s| s.policy.otp_window = 3).await
}

/// Codes from oathtool carry a personal customer through registration, sign-in, a
/// transfer, a device change, stop and registration again on the running server.
mod codes_from_oathtool_carry_the_personal_story_on_the_running_server {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(not(webfb_oathtool), ignore = "install oathtool and run again")]
    async fn on_sqlite() {
        personal_story(spawn_wide_window(Engine::Sqlite).await).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(all(webfb_oathtool, webfb_postgres_tests)),
        ignore = "install oathtool, set TEST_DATABASE_URL and run again"
    )]
    async fn on_postgres() {
        personal_story(spawn_wide_window(Engine::Postgres).await).await
    }
}

async fn run(app: TestApp) {
    let company = app.company("acme").await;
    assert_eq!(app.set_mode(&company, "per_user").await.status(), 200);
    let res = app
        .post(
            "/api/v1/soft-tokens",
            &json!({}),
            Some(&company.admin_token),
        )
        .await;
    assert_eq!(res.status(), 201);
    let issued = body(res).await;
    let token_id = issued["token_id"].as_str().unwrap();
    let uri = issued["otpauth_uri"].as_str().unwrap();
    let secret = uri
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("secret="))
        .expect("secret in the otpauth URI");

    // Both codes from one instant: this step's and the next. The server accepts one step
    // either side, so the next step's code is good now and spends a later step.
    let now = Utc::now();
    let current = oathtool_code(secret, now);
    let next = oathtool_code(secret, now + Duration::seconds(30));

    let b = json!({"token_id": token_id, "otp": current, "approval_password": APPROVAL});
    let res = app
        .send(
            Method::PUT,
            "/api/v1/otp/admin-token",
            Some(&b),
            Some(&company.admin_token),
        )
        .await;
    let status = res.status();
    let registered = body(res).await;
    assert_eq!(status, 200, "{registered}");
    assert_eq!(registered["status"], "active");

    // A real one-off transfer, confirmed with the next code as a customer would.
    let date = ((Utc::now() + Duration::hours(9)).date_naive() + Duration::days(1)).to_string();
    let transfer = json!({
        "debit_account": company.account,
        "payee": {"bank_code": "0001", "branch_code": "123", "account_type": "ordinary",
                  "account_number": "7654321", "name": "ｶ)ﾔﾏﾀﾞｼﾖｳｼﾞ"},
        "amount": 98_765,
        "execution_date": date,
    });
    let create = |key: &'static str| {
        app.client
            .post(app.url("/api/v1/transfers"))
            .bearer_auth(&company.admin_token)
            .header("Idempotency-Key", key)
            .json(&transfer)
            .send()
    };
    let created = body(create("oathtool-1").await.unwrap()).await;
    let id = created["id"].as_str().unwrap();
    let res = app
        .post(
            &format!("/api/v1/transfers/{id}/confirm"),
            &json!({"otp": next}),
            Some(&company.admin_token),
        )
        .await;
    let status = res.status();
    let confirmed = body(res).await;
    assert_eq!(status, 200, "{confirmed}");
    assert_eq!(confirmed["status"], "confirmed");
    assert_eq!(confirmed["confirmation"]["method"], "otp");

    // The same code on a second transfer is a replay.
    let second = body(create("oathtool-2").await.unwrap()).await;
    let id = second["id"].as_str().unwrap();
    let res = app
        .post(
            &format!("/api/v1/transfers/{id}/confirm"),
            &json!({"otp": next}),
            Some(&company.admin_token),
        )
        .await;
    problem(res, 409, "otp_replayed").await;
}

/// Codes from oathtool register a token and confirm a real transfer on the running server.
/// Without oathtool on the PATH at build time it is reported as ignored.
mod codes_from_oathtool_register_a_token_and_confirm_a_transfer_on_the_running_server {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(not(webfb_oathtool), ignore = "install oathtool and run again")]
    async fn on_sqlite() {
        run(spawn_app_real_clock(Engine::Sqlite).await).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(all(webfb_oathtool, webfb_postgres_tests)),
        ignore = "install oathtool, set TEST_DATABASE_URL and run again"
    )]
    async fn on_postgres() {
        run(spawn_app_real_clock(Engine::Postgres).await).await
    }
}

/// Four eyes with codes from oathtool: a user's transfer waits for the administrator's
/// approval, given with a code of the administrator's own token.
async fn maker_checker(app: TestApp) {
    let company = app.company("acme").await;
    assert_eq!(app.set_mode(&company, "per_user").await.status(), 200);
    let issue = || async {
        let none = json!({});
        app.post("/api/v1/soft-tokens", &none, Some(&company.admin_token))
            .await
    };
    let register = |path: String, token: serde_json::Value, otp: String| {
        let b = json!({"token_id": token["token_id"], "otp": otp, "approval_password": APPROVAL});
        let app = &app;
        let admin = company.admin_token.clone();
        async move { app.send(Method::PUT, &path, Some(&b), Some(&admin)).await }
    };
    let checker_token = ok(issue().await, 201).await;
    let a = codes_ahead(&secret_of(&checker_token), 2);
    let res = register(
        "/api/v1/otp/admin-token".into(),
        checker_token,
        a[0].clone(),
    )
    .await;
    ok(res, 200).await;
    let maker = app.user(&company, "maker.one").await;
    let maker_token = ok(issue().await, 201).await;
    let m = codes_ahead(&secret_of(&maker_token), 2);
    let res = register(
        format!("/api/v1/otp/users/{maker}/token"),
        maker_token,
        m[0].clone(),
    )
    .await;
    ok(res, 200).await;
    let policy = json!({"enabled": true, "min_amount": 0, "approvals_required": 1,
                        "approval_password": APPROVAL});
    let res = app
        .send(
            Method::PUT,
            "/api/v1/approval-policy",
            Some(&policy),
            Some(&company.admin_token),
        )
        .await;
    ok(res, 200).await;

    let session = app.token("maker.one", PASSWORD).await;
    let date = ((Utc::now() + Duration::hours(9)).date_naive() + Duration::days(1)).to_string();
    let created = app
        .client
        .post(app.url("/api/v1/transfers"))
        .bearer_auth(&session)
        .header("Idempotency-Key", "maker-checker-1")
        .json(&json!({
            "debit_account": company.account,
            "payee": {"bank_code": "0001", "branch_code": "123", "account_type": "ordinary",
                      "account_number": "7654321", "name": "ｶ)ﾔﾏﾀﾞｼﾖｳｼﾞ"},
            "amount": 2_500_000,
            "execution_date": date,
        }))
        .send()
        .await
        .unwrap();
    let id = ok(created, 201).await["id"].as_str().unwrap().to_owned();
    let path = |what: &str| format!("/api/v1/transfers/{id}/{what}");
    let res = app
        .post(&path("confirm"), &json!({"otp": m[1]}), Some(&session))
        .await;
    assert_eq!(ok(res, 200).await["status"], "pending_approval");
    let res = app
        .post(
            &path("approve"),
            &json!({"otp": a[1]}),
            Some(&company.admin_token),
        )
        .await;
    let approved = ok(res, 200).await;
    assert_eq!(approved["status"], "confirmed");
    assert_eq!(approved["approval"]["decisions"][0]["method"], "otp");
}

/// Codes from oathtool confirm a transfer and approve it under four eyes on the running
/// server.
mod codes_from_oathtool_confirm_and_approve_a_transfer_under_four_eyes {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(not(webfb_oathtool), ignore = "install oathtool and run again")]
    async fn on_sqlite() {
        maker_checker(spawn_wide_window(Engine::Sqlite).await).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(all(webfb_oathtool, webfb_postgres_tests)),
        ignore = "install oathtool, set TEST_DATABASE_URL and run again"
    )]
    async fn on_postgres() {
        maker_checker(spawn_wide_window(Engine::Postgres).await).await
    }
}

/// oathtool's code for a hex secret: `--totp` at `at`, or `--hotp` at a counter.
fn oathtool_hex(args: &[&str], secret_hex: &str) -> String {
    let out = Command::new("oathtool")
        .args(args)
        .arg(secret_hex)
        .output()
        .expect("run oathtool");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Seeds python-pskc wrote, imported as vendors ship them, each proven by oathtool: a TOTP
/// key registered and confirming a transfer, an HOTP key (`--hotp`) the same.
async fn imported_seeds(app: TestApp) {
    let company = app.company("acme").await;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/pskc/vendor/");
    let file = std::fs::read_to_string(format!("{dir}mixed_totp_hotp.pskcxml")).unwrap();
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}expected.json")).unwrap())
            .unwrap();
    let keys = expected["mixed_totp_hotp.pskcxml"]["keys"]
        .as_array()
        .unwrap()
        .clone();
    let res = app
        .client
        .post(app.url(&format!(
            "/api/v1/bank/tokens/import?company_id={}",
            company.id
        )))
        .bearer_auth(&company.operator_token)
        .header("content-type", "application/pskc+xml")
        .body(file)
        .send()
        .await
        .unwrap();
    assert_eq!(ok(res, 201).await["imported"], 4);
    let totp = keys
        .iter()
        .find(|k| k["algorithm"].as_str().unwrap().ends_with("totp") && k["digits"] == 6)
        .unwrap();
    let hotp = keys.iter().find(|k| k["counter"] == 42).unwrap();
    let secret = |k: &serde_json::Value| k["secret_hex"].as_str().unwrap().to_owned();
    assert_eq!(app.set_mode(&company, "per_user").await.status(), 200);

    let now = Utc::now();
    let at = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let (current, next) = (at(now), at(now + Duration::seconds(30)));
    let t_secret = secret(totp);
    let register = json!({"token_id": totp["serial"], "approval_password": APPROVAL,
        "otp": oathtool_hex(&["--totp", "--now", &current], &t_secret)});
    let res = app
        .send(
            Method::PUT,
            "/api/v1/otp/admin-token",
            Some(&register),
            Some(&company.admin_token),
        )
        .await;
    ok(res, 200).await;
    let id = crate::transfers::create(&app, &company, &company.admin_token).await;
    let code = oathtool_hex(&["--totp", "--now", &next], &t_secret);
    let res = app
        .post(
            &format!("/api/v1/transfers/{id}/confirm"),
            &json!({"otp": code}),
            Some(&company.admin_token),
        )
        .await;
    assert_eq!(ok(res, 200).await["status"], "confirmed");

    let user = app.user(&company, "user.one").await;
    let h_secret = secret(hotp);
    let register = json!({"token_id": hotp["serial"], "approval_password": APPROVAL,
        "otp": oathtool_hex(&["--hotp", "-c", "42"], &h_secret)});
    let res = app
        .send(
            Method::PUT,
            &format!("/api/v1/otp/users/{user}/token"),
            Some(&register),
            Some(&company.admin_token),
        )
        .await;
    ok(res, 200).await;
    let session = app.token("user.one", PASSWORD).await;
    let id = crate::transfers::create(&app, &company, &session).await;
    let code = oathtool_hex(&["--hotp", "-c", "43"], &h_secret);
    let path = format!("/api/v1/transfers/{id}/confirm");
    let res = app.post(&path, &json!({"otp": code}), Some(&session)).await;
    assert_eq!(ok(res, 200).await["status"], "confirmed");
}

/// Imported TOTP and HOTP seeds register and confirm with codes from oathtool.
mod codes_from_oathtool_prove_imported_totp_and_hotp_seeds {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(not(webfb_oathtool), ignore = "install oathtool and run again")]
    async fn on_sqlite() {
        imported_seeds(spawn_wide_window(Engine::Sqlite).await).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(all(webfb_oathtool, webfb_postgres_tests)),
        ignore = "install oathtool, set TEST_DATABASE_URL and run again"
    )]
    async fn on_postgres() {
        imported_seeds(spawn_wide_window(Engine::Postgres).await).await
    }
}
