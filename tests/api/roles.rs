//! Role checks on every endpoint, walked from the OpenAPI document itself so a new
//! endpoint cannot escape them; and the field checks of the OTP bodies.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use webfb_test_macros::engine_test;

#[engine_test]
async fn every_protected_operation_refuses_no_session_and_the_wrong_kind_of_session(app: TestApp) {
    let company = app.company("acme").await;
    let doc = serde_json::to_value(webfb::http::openapi()).unwrap();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op["security"].as_array().is_none_or(|s| s.is_empty()) {
                continue;
            }
            let url = path
                .replace("{company_id}", &company.id)
                .replace("{user_id}", &company.admin_id)
                .replace("{person_id}", &company.admin_id)
                .replace("{contract_id}", &uuid::Uuid::new_v4().to_string())
                .replace("{certificate_id}", &uuid::Uuid::new_v4().to_string())
                .replace("{webhook_id}", &uuid::Uuid::new_v4().to_string())
                .replace("{message_id}", &uuid::Uuid::new_v4().to_string())
                .replace("{transfer_id}", &uuid::Uuid::new_v4().to_string())
                .replace("{procedure_id}", &uuid::Uuid::new_v4().to_string())
                .replace("{operator_id}", &uuid::Uuid::new_v4().to_string());
            let method: Method = method.to_uppercase().parse().unwrap();
            let res = app.send(method.clone(), &url, None, None).await;
            problem(res, 401, "unauthenticated").await;
            let wrong = if path.starts_with("/api/v1/bank/") {
                &company.admin_token
            } else {
                &company.operator_token
            };
            let res = app.send(method, &url, None, Some(wrong)).await;
            problem(res, 403, "forbidden").await;
            checked += 1;
        }
    }
    assert!(checked >= 30, "{checked} operations checked");
}

#[engine_test]
async fn a_user_is_refused_every_administrator_operation(app: TestApp) {
    let company = app.company("acme").await;
    let user = app.user(&company, "user.one").await;
    let session = app.token("user.one", PASSWORD).await;
    let token = app.issue_token(&company.admin_token).await;
    let register =
        json!({"token_id": token.token_id, "otp": "123456", "approval_password": APPROVAL});
    let cases: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/v1/users".into(), None),
        (
            Method::POST,
            "/api/v1/users".into(),
            Some(user_request("new.user")),
        ),
        (
            Method::PATCH,
            format!("/api/v1/users/{user}"),
            Some(json!({"name": "x"})),
        ),
        (Method::POST, format!("/api/v1/users/{user}/unlock"), None),
        (Method::GET, "/api/v1/otp".into(), None),
        (
            Method::PUT,
            "/api/v1/otp/mode".into(),
            Some(json!({"mode": "shared", "approval_password": APPROVAL})),
        ),
        (
            Method::PUT,
            "/api/v1/otp/admin-token".into(),
            Some(register.clone()),
        ),
        (
            Method::PUT,
            format!("/api/v1/otp/users/{user}/token"),
            Some(register),
        ),
        (
            Method::POST,
            "/api/v1/otp/unregistrations".into(),
            Some(json!({"user_ids": [user], "approval_password": APPROVAL})),
        ),
        (
            Method::POST,
            format!("/api/v1/otp/users/{user}/token/unlock"),
            Some(json!({"approval_password": APPROVAL})),
        ),
        (
            Method::POST,
            "/api/v1/otp/stop".into(),
            Some(json!({"otp": "123456", "approval_password": APPROVAL})),
        ),
        (Method::GET, "/api/v1/audit-events".into(), None),
    ];
    for (method, path, b) in cases {
        let res = app
            .send(method.clone(), &path, b.as_ref(), Some(&session))
            .await;
        assert_eq!(res.status(), 403, "{method} {path}");
    }
    assert_eq!(
        app.audit_count("mode_set", "success").await,
        0,
        "nothing changed"
    );
}

#[engine_test]
async fn every_field_of_the_otp_bodies_is_checked(app: TestApp) {
    let company = app.company("acme").await;
    let token = app.issue_token(&company.admin_token).await;
    let t = &company.admin_token;
    let cases: Vec<(Method, &str, Value, &str)> = vec![
        (
            Method::PUT,
            "/api/v1/otp/mode",
            json!({"mode": "everyone", "approval_password": APPROVAL}),
            "mode",
        ),
        (
            Method::PUT,
            "/api/v1/otp/mode",
            json!({"mode": "shared", "approval_password": ""}),
            "approval_password",
        ),
        (
            Method::PUT,
            "/api/v1/otp/mode",
            json!({"approval_password": APPROVAL}),
            "mode",
        ),
        (
            Method::PUT,
            "/api/v1/otp/admin-token",
            json!({"token_id": "AB C!", "otp": "123456", "approval_password": APPROVAL}),
            "token_id",
        ),
        (
            Method::PUT,
            "/api/v1/otp/admin-token",
            json!({"token_id": token.token_id, "otp": "12ab56", "approval_password": APPROVAL}),
            "otp",
        ),
        (
            Method::PUT,
            "/api/v1/otp/admin-token",
            json!({"token_id": token.token_id, "otp": "12345", "approval_password": APPROVAL}),
            "otp",
        ),
        (
            Method::PUT,
            "/api/v1/otp/admin-token",
            json!({"token_id": token.token_id, "otp": "123456"}),
            "approval_password",
        ),
        (
            Method::POST,
            "/api/v1/otp/stop",
            json!({"otp": "1", "approval_password": APPROVAL}),
            "otp",
        ),
        (
            Method::POST,
            "/api/v1/otp/unregistrations",
            json!({"user_ids": "x", "approval_password": APPROVAL}),
            "user_ids",
        ),
        (
            Method::POST,
            "/api/v1/me/token/exchange",
            json!({"current_otp": "123456", "new_token_id": token.token_id, "new_otp": "abc"}),
            "new_otp",
        ),
        (
            Method::POST,
            "/api/v1/me/token/exchange",
            json!({"current_otp": "", "new_token_id": token.token_id, "new_otp": "123456"}),
            "current_otp",
        ),
    ];
    for (method, path, b, field) in cases {
        let p = problem(
            app.send(method, path, Some(&b), Some(t)).await,
            422,
            "validation_failed",
        )
        .await;
        assert!(fields(&p).contains(&field.to_owned()), "{path} {b}: {p}");
    }
    let asked = json!({
        "kind": "admin_token_reset",
        "target_id": company.id,
        "reason": "x".repeat(201),
        "evidence": "",
    });
    let p = problem(
        app.post(
            "/api/v1/bank/procedures",
            &asked,
            Some(&company.operator_token),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["reason", "evidence"]);
}
