//! The bank's back office: operators and companies.

use serde_json::json;

use crate::helpers::*;
use webfb_test_macros::engine_test;

#[engine_test]
async fn an_operator_opens_a_company_with_its_administrator_and_accounts(app: TestApp) {
    let op = app.operator_token("op.tanaka").await;
    let res = app
        .post(
            "/api/v1/bank/companies",
            &company_request("yamada.admin", "001-1234567"),
            Some(&op),
        )
        .await;
    assert_eq!(res.status(), 201);
    let c = body(res).await;
    assert_eq!(c["name"], "山田商事株式会社");
    assert_eq!(c["transfer_limit"], 5_000_000);
    assert_eq!(c["accounts"], json!(["001-1234567"]));
    assert_eq!(c["otp_status"], "inactive");
    assert_eq!(c["otp_mode"], serde_json::Value::Null);
    assert_eq!(c["admin"]["login_id"], "yamada.admin");
    assert_eq!(c["admin"]["token"], serde_json::Value::Null);

    let one = body(
        app.get(
            &format!("/api/v1/bank/companies/{}", c["id"].as_str().unwrap()),
            Some(&op),
        )
        .await,
    )
    .await;
    assert_eq!(one, c);
    let all = body(app.get("/api/v1/bank/companies", Some(&op)).await).await;
    assert_eq!(all["items"], json!([c]));
    assert_eq!(app.audit_count("company_created", "success").await, 1);
    assert!(!app.token("yamada.admin", PASSWORD).await.is_empty());
}

#[engine_test]
async fn a_debit_account_belongs_to_one_company_only(app: TestApp) {
    let op = app.operator_token("op.tanaka").await;
    app.post(
        "/api/v1/bank/companies",
        &company_request("first.admin", "001-1234567"),
        Some(&op),
    )
    .await;
    let res = app
        .post(
            "/api/v1/bank/companies",
            &company_request("second.admin", "001-1234567"),
            Some(&op),
        )
        .await;
    problem(res, 409, "account_already_registered").await;
    problem(
        app.login("second.admin", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
}

#[engine_test]
async fn an_unknown_company_answers_not_found(app: TestApp) {
    let op = app.operator_token("op.tanaka").await;
    problem(
        app.get(
            "/api/v1/bank/companies/00000000-0000-0000-0000-000000000000",
            Some(&op),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    let res = app
        .post(
            "/api/v1/bank/companies/nope/admin/unlock",
            &json!({}),
            Some(&op),
        )
        .await;
    problem(res, 404, "not_found").await;
}

#[engine_test]
async fn an_operator_is_locked_after_five_wrong_passwords(app: TestApp) {
    app.operator_token("op.tanaka").await;
    let wrong = json!({"login_id": "op.tanaka", "password": "Wrong-Pass-2026"});
    for _ in 0..4 {
        problem(
            app.post("/api/v1/bank/auth/login", &wrong, None).await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    problem(
        app.post("/api/v1/bank/auth/login", &wrong, None).await,
        401,
        "invalid_credentials",
    )
    .await;
    let res = app
        .post(
            "/api/v1/bank/auth/login",
            &json!({"login_id": "op.tanaka", "password": PASSWORD}),
            None,
        )
        .await;
    problem(res, 401, "invalid_credentials").await;
}

#[engine_test]
async fn operator_logout_ends_the_session(app: TestApp) {
    let op = app.operator_token("op.tanaka").await;
    assert_eq!(
        app.post("/api/v1/bank/auth/logout", &json!({}), Some(&op))
            .await
            .status(),
        204
    );
    problem(
        app.get("/api/v1/bank/companies", Some(&op)).await,
        401,
        "session_expired",
    )
    .await;
}
