//! Every field of every body, refused with a `validation_failed` that names it; malformed
//! bodies refused with 400; nothing stored after a refusal.

use serde_json::{Value, json};

use crate::helpers::*;
use webfb_test_macros::engine_test;

/// Sends `body` with one change and expects that field to be named as invalid.
async fn refused(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    body: &Value,
    pointer: &str,
    value: Option<Value>,
    field: &str,
) {
    let mut b = body.clone();
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = if parent.is_empty() {
        &mut b
    } else {
        b.pointer_mut(parent).unwrap()
    };
    match value {
        Some(v) => target[key] = v,
        None => {
            target.as_object_mut().unwrap().remove(key);
        }
    }
    let res = app.post(path, &b, token).await;
    let p = problem(res, 422, "validation_failed").await;
    assert!(
        fields(&p).contains(&field.to_owned()),
        "{pointer} = {b}: expected {field} in {p}"
    );
    for e in p["errors"].as_array().unwrap() {
        assert!(e["code"].is_string() && e["message"].is_string(), "{e}");
    }
}

#[engine_test]
async fn every_field_of_a_new_company_is_checked(app: TestApp) {
    let op = app.operator_token("op.tanaka").await;
    let path = "/api/v1/bank/companies";
    let good = company_request("yamada.admin", "001-1234567");
    let long = |n: usize| json!("x".repeat(n));
    let cases: Vec<(&str, Option<Value>, &str)> = vec![
        ("/name", None, "name"),
        ("/name", Some(json!("")), "name"),
        ("/name", Some(long(101)), "name"),
        ("/name", Some(json!("Acme\u{0007}")), "name"),
        ("/name", Some(json!(42)), "name"),
        ("/transfer_limit", None, "transfer_limit"),
        ("/transfer_limit", Some(json!(0)), "transfer_limit"),
        ("/transfer_limit", Some(json!(-1)), "transfer_limit"),
        (
            "/transfer_limit",
            Some(json!(1_000_000_000_001_i64)),
            "transfer_limit",
        ),
        ("/transfer_limit", Some(json!("5000000")), "transfer_limit"),
        ("/transfer_limit", Some(json!(1.5)), "transfer_limit"),
        ("/accounts", None, "accounts"),
        ("/accounts", Some(json!([])), "accounts"),
        ("/accounts", Some(json!("001-1234567")), "accounts"),
        (
            "/accounts",
            Some(json!(["001-1234567", "0011234567"])),
            "accounts[1]",
        ),
        (
            "/accounts",
            Some(json!(["001-1234567", "001-1234567"])),
            "accounts[1]",
        ),
        (
            "/accounts",
            Some(json!(
                (0..51).map(|i| format!("001-{i:07}")).collect::<Vec<_>>()
            )),
            "accounts",
        ),
        ("/admin", None, "admin"),
        ("/admin/login_id", None, "admin.login_id"),
        ("/admin/login_id", Some(json!("abc")), "admin.login_id"),
        ("/admin/login_id", Some(long(33)), "admin.login_id"),
        (
            "/admin/login_id",
            Some(json!("yamada admin")),
            "admin.login_id",
        ),
        ("/admin/name", None, "admin.name"),
        ("/admin/name", Some(json!(" ")), "admin.name"),
        ("/admin/name", Some(long(65)), "admin.name"),
        ("/admin/password", None, "admin.password"),
        ("/admin/password", Some(json!("Short1")), "admin.password"),
        (
            "/admin/password",
            Some(json!("lettersonlylong")),
            "admin.password",
        ),
        (
            "/admin/password",
            Some(json!("yamada.admin-2026")),
            "admin.password",
        ),
        ("/admin/password", Some(long(129)), "admin.password"),
        ("/admin/approval_password", None, "admin.approval_password"),
        (
            "/admin/approval_password",
            Some(json!(PASSWORD)),
            "admin.approval_password",
        ),
        (
            "/admin/approval_password",
            Some(json!("12345678901")),
            "admin.approval_password",
        ),
        ("/admin/transfer_password", None, "admin.transfer_password"),
        (
            "/admin/transfer_password",
            Some(json!(PASSWORD)),
            "admin.transfer_password",
        ),
        (
            "/admin/transfer_password",
            Some(json!(true)),
            "admin.transfer_password",
        ),
    ];
    for (pointer, value, field) in cases {
        refused(&app, path, Some(&op), &good, pointer, value, field).await;
    }
    let all = body(app.get(path, Some(&op)).await).await;
    assert_eq!(all["items"], json!([]), "nothing was stored");
}

#[engine_test]
async fn every_field_of_a_new_user_is_checked(app: TestApp) {
    let company = app.company("acme").await;
    let path = "/api/v1/users";
    let good = user_request("sato.keiri");
    let cases: Vec<(&str, Option<Value>, &str)> = vec![
        ("/login_id", None, "login_id"),
        ("/login_id", Some(json!("")), "login_id"),
        ("/login_id", Some(json!("sato/keiri")), "login_id"),
        ("/login_id", Some(json!(12345)), "login_id"),
        ("/name", None, "name"),
        ("/name", Some(json!("")), "name"),
        ("/name", Some(json!("あ".repeat(65))), "name"),
        ("/password", None, "password"),
        ("/password", Some(json!("short")), "password"),
        ("/password", Some(json!("0123456789012")), "password"),
        ("/transfer_password", None, "transfer_password"),
        (
            "/transfer_password",
            Some(json!(PASSWORD)),
            "transfer_password",
        ),
        (
            "/transfer_password",
            Some(json!("short")),
            "transfer_password",
        ),
        ("/can_transfer", None, "can_transfer"),
        ("/can_transfer", Some(json!("yes")), "can_transfer"),
    ];
    for (pointer, value, field) in cases {
        refused(
            &app,
            path,
            Some(&company.admin_token),
            &good,
            pointer,
            value,
            field,
        )
        .await;
    }
    let users = body(app.get(path, Some(&company.admin_token)).await).await;
    assert_eq!(
        users.as_array().unwrap().len(),
        1,
        "only the administrator exists"
    );
}

#[engine_test]
async fn every_field_of_a_user_change_is_checked(app: TestApp) {
    let company = app.company("acme").await;
    let id = app.user(&company, "sato.keiri").await;
    let path = format!("/api/v1/users/{id}");
    for (b, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(65)}), "name"),
        (json!({"name": 7}), "name"),
        (json!({"can_transfer": "no"}), "can_transfer"),
        (json!({"disabled": 1}), "disabled"),
    ] {
        let p = problem(
            app.patch(&path, &b, Some(&company.admin_token)).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(fields(&p), [field], "{b}");
    }
    let users = body(app.get("/api/v1/users", Some(&company.admin_token)).await).await;
    let user = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == id.as_str())
        .unwrap();
    assert_eq!(user["name"], "佐藤 花子", "unchanged");
}

#[engine_test]
async fn every_field_of_a_sign_in_is_checked(app: TestApp) {
    let good = json!({"login_id": "yamada.admin", "password": PASSWORD});
    for path in ["/api/v1/auth/login", "/api/v1/bank/auth/login"] {
        for (pointer, value, field) in [
            ("/login_id", None, "login_id"),
            ("/login_id", Some(json!("")), "login_id"),
            ("/login_id", Some(json!("x".repeat(65))), "login_id"),
            ("/login_id", Some(json!(null)), "login_id"),
            ("/password", None, "password"),
            ("/password", Some(json!("")), "password"),
            ("/password", Some(json!("x".repeat(129))), "password"),
            ("/password", Some(json!(["a"])), "password"),
        ] {
            refused(&app, path, None, &good, pointer, value, field).await;
        }
    }
}

#[engine_test]
async fn several_wrong_fields_are_all_named_at_once(app: TestApp) {
    let company = app.company("acme").await;
    let b = json!({"login_id": "x", "name": "", "password": "short", "transfer_password": "short", "can_transfer": true});
    let p = problem(
        app.post("/api/v1/users", &b, Some(&company.admin_token))
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        fields(&p),
        ["login_id", "name", "password", "transfer_password"]
    );
}

#[engine_test]
async fn a_body_that_is_not_json_is_a_bad_request(app: TestApp) {
    let company = app.company("acme").await;
    let send = |content_type: &'static str, raw: &'static str| {
        app.client
            .post(app.url("/api/v1/users"))
            .bearer_auth(&company.admin_token)
            .header("content-type", content_type)
            .body(raw)
            .send()
    };
    for (ct, raw, field) in [
        ("application/json", "{\"login_id\": ", "body"),
        ("application/json", "", "body"),
        ("application/json", "{} {}", "body"),
        ("application/json", "[1, 2", "body"),
        ("text/plain", "{}", "Content-Type"),
        (
            "application/x-www-form-urlencoded",
            "login_id=x",
            "Content-Type",
        ),
    ] {
        let p = problem(send(ct, raw).await.unwrap(), 400, "validation_failed").await;
        assert_eq!(fields(&p), [field], "{ct} {raw:?}");
    }
    let p = problem(
        send("application/json", "[]").await.unwrap(),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["body"]);
    let res = app
        .client
        .post(app.url("/api/v1/users"))
        .bearer_auth(&company.admin_token)
        .send()
        .await
        .unwrap();
    problem(res, 400, "validation_failed").await;
}

#[engine_test]
async fn an_oversized_body_is_refused_without_a_server_error(app: TestApp) {
    let big = json!({"login_id": "x".repeat(100_000), "password": "y"});
    problem(
        app.post("/api/v1/auth/login", &big, None).await,
        413,
        "payload_too_large",
    )
    .await;
}

#[engine_test]
async fn unknown_paths_answer_a_problem(app: TestApp) {
    problem(
        app.get("/api/v1/nothing-here", None).await,
        404,
        "not_found",
    )
    .await;
}

#[engine_test]
async fn a_known_path_with_another_method_answers_405_with_allow(app: TestApp) {
    let res = app
        .send(reqwest::Method::DELETE, "/api/v1/me", None, None)
        .await;
    assert_eq!(res.headers()["allow"], "GET");
    problem(res, 405, "method_not_allowed").await;
    let res = app
        .send(reqwest::Method::GET, "/api/v1/users/some-id", None, None)
        .await;
    assert_eq!(res.headers()["allow"], "PATCH");
    problem(res, 405, "method_not_allowed").await;
}
