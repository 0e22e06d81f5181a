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
