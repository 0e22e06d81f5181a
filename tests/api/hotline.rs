//! The bank's hotline for a lost, broken or uninstalled device (seeds 003, 004): any
//! person's token is suspended at once, then reissued so a new one can be registered.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::personal::*;
use webfb_test_macros::engine_test;

#[engine_test]
async fn the_hotline_suspends_a_lost_token_and_the_customer_registers_after_reissue(app: TestApp) {
    let operator = app.operator_token("bank.op").await;
    let c = open_customer(&app, &operator, "k10000006").await;
    let lost = registered(&app, &c).await;
    let on_the_lost_phone = sign_in_with_code(&app, &c, &lost).await;
    let hotline = |what: &str| format!("/api/v1/bank/people/{}/token/{what}", c.person_id);
    let person = format!("/api/v1/bank/people/{}", c.person_id);

    let res = app
        .carry_out(&operator, "token_suspend", &c.person_id)
        .await;
    assert_eq!(body(res).await["status"], "carried_out");
    let b = body(app.get(&person, Some(&operator)).await).await;
    assert_eq!(b["token"]["status"], "suspended", "{b}");
    let res = app
        .carry_out(&operator, "token_suspend", &c.person_id)
        .await;
    problem(res, 423, "token_suspended").await;
    let res = app.get("/api/v1/me", Some(&on_the_lost_phone)).await;
    problem(res, 401, "session_expired").await;

    // Its codes are refused everywhere, and an unlock does not lift the suspension.
    let step = challenge(&app, &c).await;
    problem(
        code_step(&app, &step, &lost.code(&app, 0)).await,
        423,
        "token_suspended",
    )
    .await;
    let stop =
        json!({"contract_id": c.contract_id, "password": PASSWORD, "otp": lost.code(&app, 0)});
    let res = app.post("/api/v1/self-service/otp/stop", &stop, None).await;
    problem(res, 423, "token_suspended").await;
    app.post(&hotline("unlock"), &json!({}), Some(&operator))
        .await;
    problem(
        code_step(&app, &step, &lost.code(&app, 0)).await,
        423,
        "token_suspended",
    )
    .await;

    // 再発行: the token is retired, and the customer registers a new one.
    let res = app
        .carry_out(&operator, "token_reissue", &c.person_id)
        .await;
    assert_eq!(body(res).await["status"], "carried_out");
    let b = body(app.get(&person, Some(&operator)).await).await;
    assert!(b["token"].is_null(), "{b}");
    // The password alone opens nothing meanwhile: a new token first.
    let res = app.login(&c.contract_id, PASSWORD).await;
    problem(res, 409, "token_not_registered").await;
    problem(
        register(&app, &c, &lost, &lost.code(&app, 0)).await,
        422,
        "token_expired",
    )
    .await;
    let fresh = registered(&app, &c).await;
    sign_in_with_code(&app, &c, &fresh).await;
    assert_eq!(app.audit_count("token_suspended", "success").await, 1);
    assert_eq!(app.audit_count("token_reissued", "success").await, 1);
}

#[engine_test]
async fn the_hotline_suspends_a_company_users_token_too(app: TestApp) {
    let company = app.company("acme").await;
    let user_id = app.user(&company, "user.one").await;
    app.activate(&company, "per_user").await;
    app.give_token(&company, &user_id).await;
    let res = app
        .carry_out(&company.operator_token, "token_suspend", &user_id)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // Company people sign in without a code (seed 002, Q3), and see why they are blocked.
    let session = app.token("user.one", PASSWORD).await;
    let profile = me(&app, &session).await;
    assert_eq!(profile["blocked_reason"], "token_suspended");

    // The administrator's unlock does not lift it; the bank's reissue lets a new one in.
    let b = json!({"approval_password": APPROVAL});
    let res = app
        .post(
            &format!("/api/v1/otp/users/{user_id}/token/unlock"),
            &b,
            Some(&company.admin_token),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let profile = me(&app, &session).await;
    assert_eq!(profile["blocked_reason"], "token_suspended");
    let res = app
        .carry_out(&company.operator_token, "token_reissue", &user_id)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    app.next_step();
    app.give_token(&company, &user_id).await;
    assert_eq!(me(&app, &session).await["transfer_confirmation"], "otp");
}
