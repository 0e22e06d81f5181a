//! User administration by the company's administrator.

use serde_json::json;

use crate::helpers::*;
use webfb_test_macros::engine_test;

#[engine_test]
async fn the_administrator_adds_lists_and_edits_users(app: TestApp) {
    let company = app.company("acme").await;
    let res = app
        .post(
            "/api/v1/users",
            &user_request("sato.keiri"),
            Some(&company.admin_token),
        )
        .await;
    assert_eq!(res.status(), 201);
    let created = body(res).await;
    assert_eq!(created["role"], "user");
    assert_eq!(created["can_transfer"], true);
    let id = created["id"].as_str().unwrap();

    let list = body(app.get("/api/v1/users", Some(&company.admin_token)).await).await;
    let logins: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["login_id"].as_str().unwrap())
        .collect();
    assert_eq!(logins, ["acme.admin", "sato.keiri"]);

    let res = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &json!({"name": "佐藤 次郎", "can_transfer": false}),
            Some(&company.admin_token),
        )
        .await;
    assert_eq!(res.status(), 200);
    let updated = body(res).await;
    assert_eq!(
        (updated["name"].as_str(), updated["can_transfer"].as_bool()),
        (Some("佐藤 次郎"), Some(false))
    );
    assert_eq!(app.audit_count("user_updated", "success").await, 1);

    let me = body(
        app.get("/api/v1/me", Some(&app.token("sato.keiri", PASSWORD).await))
            .await,
    )
    .await;
    assert_eq!(me["transfer_confirmation"], "blocked");
    assert_eq!(me["blocked_reason"], "no_transfer_permission");
}

#[engine_test]
async fn a_disabled_user_cannot_sign_in_and_their_sessions_end(app: TestApp) {
    let company = app.company("acme").await;
    let id = app.user(&company, "sato.keiri").await;
    let token = app.token("sato.keiri", PASSWORD).await;
    let res = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &json!({"disabled": true}),
            Some(&company.admin_token),
        )
        .await;
    assert_eq!(body(res).await["disabled"], true);
    problem(
        app.get("/api/v1/me", Some(&token)).await,
        401,
        "session_expired",
    )
    .await;
    problem(
        app.login("sato.keiri", PASSWORD).await,
        403,
        "account_disabled",
    )
    .await;

    app.patch(
        &format!("/api/v1/users/{id}"),
        &json!({"disabled": false}),
        Some(&company.admin_token),
    )
    .await;
    assert_eq!(app.login("sato.keiri", PASSWORD).await.status(), 200);
}

#[engine_test]
async fn a_login_id_can_be_used_only_once_in_the_bank(app: TestApp) {
    let company = app.company("acme").await;
    app.user(&company, "sato.keiri").await;
    problem(
        app.post(
            "/api/v1/users",
            &user_request("sato.keiri"),
            Some(&company.admin_token),
        )
        .await,
        409,
        "login_id_taken",
    )
    .await;
    let other = app.company_by(&company.operator_token, "beta").await;
    problem(
        app.post(
            "/api/v1/users",
            &user_request("acme.admin"),
            Some(&other.admin_token),
        )
        .await,
        409,
        "login_id_taken",
    )
    .await;
}

#[engine_test]
async fn the_administrator_s_own_record_is_a_bank_procedure(app: TestApp) {
    let company = app.company("acme").await;
    let res = app
        .patch(
            &format!("/api/v1/users/{}", company.admin_id),
            &json!({"disabled": true}),
            Some(&company.admin_token),
        )
        .await;
    problem(res, 403, "bank_procedure_required").await;
    assert_eq!(
        app.get("/api/v1/me", Some(&company.admin_token))
            .await
            .status(),
        200
    );
}

#[engine_test]
async fn another_company_s_users_answer_not_found(app: TestApp) {
    let acme = app.company("acme").await;
    let beta = app.company_by(&acme.operator_token, "beta").await;
    let beta_user = app.user(&beta, "beta.user").await;
    for (method, path, body) in [
        (
            reqwest::Method::PATCH,
            format!("/api/v1/users/{beta_user}"),
            Some(json!({"name": "x"})),
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/users/{beta_user}/unlock"),
            None,
        ),
        (
            reqwest::Method::PATCH,
            "/api/v1/users/no-such-id".to_owned(),
            Some(json!({"name": "x"})),
        ),
    ] {
        let res = app
            .send(
                method.clone(),
                &path,
                body.as_ref(),
                Some(&acme.admin_token),
            )
            .await;
        problem(res, 404, "not_found").await;
    }
    let list = body(app.get("/api/v1/users", Some(&acme.admin_token)).await).await;
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|u| u["login_id"] != "beta.user")
    );
}

#[engine_test]
async fn each_role_reaches_only_its_own_endpoints(app: TestApp) {
    let company = app.company("acme").await;
    let user_id = app.user(&company, "sato.keiri").await;
    let user_token = app.token("sato.keiri", PASSWORD).await;
    let admin_only: Vec<(reqwest::Method, String, Option<serde_json::Value>)> = vec![
        (reqwest::Method::GET, "/api/v1/users".into(), None),
        (
            reqwest::Method::POST,
            "/api/v1/users".into(),
            Some(user_request("new.user")),
        ),
        (
            reqwest::Method::PATCH,
            format!("/api/v1/users/{user_id}"),
            Some(json!({"name": "x"})),
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/users/{user_id}/unlock"),
            None,
        ),
    ];
    for (method, path, b) in &admin_only {
        problem(
            app.send(method.clone(), path, b.as_ref(), Some(&user_token))
                .await,
            403,
            "forbidden",
        )
        .await;
        problem(
            app.send(
                method.clone(),
                path,
                b.as_ref(),
                Some(&company.operator_token),
            )
            .await,
            403,
            "forbidden",
        )
        .await;
        problem(
            app.send(method.clone(), path, b.as_ref(), None).await,
            401,
            "unauthenticated",
        )
        .await;
    }
    let bank_only: Vec<(reqwest::Method, String, Option<serde_json::Value>)> = vec![
        (reqwest::Method::GET, "/api/v1/bank/companies".into(), None),
        (
            reqwest::Method::POST,
            "/api/v1/bank/companies".into(),
            Some(company_request("x.admin", "009-0000009")),
        ),
        (
            reqwest::Method::GET,
            format!("/api/v1/bank/companies/{}", company.id),
            None,
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/bank/companies/{}/admin/unlock", company.id),
            None,
        ),
        (
            reqwest::Method::POST,
            "/api/v1/bank/auth/logout".into(),
            None,
        ),
    ];
    for (method, path, b) in &bank_only {
        for token in [&user_token, &company.admin_token] {
            problem(
                app.send(method.clone(), path, b.as_ref(), Some(token))
                    .await,
                403,
                "forbidden",
            )
            .await;
        }
        problem(
            app.send(method.clone(), path, b.as_ref(), None).await,
            401,
            "unauthenticated",
        )
        .await;
    }
    problem(
        app.get("/api/v1/me", Some(&company.operator_token)).await,
        403,
        "forbidden",
    )
    .await;
    problem(
        app.post(
            "/api/v1/auth/logout",
            &json!({}),
            Some(&company.operator_token),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
}
