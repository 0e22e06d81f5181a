//! OTP management: SPEC §3 and §4, as in the seed guide's screens.

use chrono::Duration;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use webfb_test_macros::engine_test;

async fn settings(app: &TestApp, company: &Company) -> Value {
    let res = app.get("/api/v1/otp", Some(&company.admin_token)).await;
    assert_eq!(res.status(), 200);
    body(res).await
}

async fn put_mode(app: &TestApp, company: &Company, approval: &str) -> reqwest::Response {
    let b = json!({"mode": "shared", "approval_password": approval});
    app.send(
        Method::PUT,
        "/api/v1/otp/mode",
        Some(&b),
        Some(&company.admin_token),
    )
    .await
}

async fn me(app: &TestApp, token: &str) -> Value {
    body(app.get("/api/v1/me", Some(token)).await).await
}

async fn stop(app: &TestApp, company: &Company, otp: &str, approval: &str) -> reqwest::Response {
    app.post(
        "/api/v1/otp/stop",
        &json!({"otp": otp, "approval_password": approval}),
        Some(&company.admin_token),
    )
    .await
}

async fn unregister(app: &TestApp, company: &Company, user_ids: &[&str]) -> reqwest::Response {
    app.post(
        "/api/v1/otp/unregistrations",
        &json!({"user_ids": user_ids, "approval_password": APPROVAL}),
        Some(&company.admin_token),
    )
    .await
}

async fn exchange(
    app: &TestApp,
    token: &str,
    current: &str,
    new: &Token,
    new_otp: &str,
) -> reqwest::Response {
    app.post(
        "/api/v1/me/token/exchange",
        &json!({"current_otp": current, "new_token_id": new.token_id, "new_otp": new_otp}),
        Some(token),
    )
    .await
}

#[engine_test]
async fn per_user_mode_from_mode_to_users_tokens_to_one_unregistered(app: TestApp) {
    let company = app.company("acme").await;
    let before = settings(&app, &company).await;
    assert_eq!(
        (before["mode"].clone(), before["status"].as_str()),
        (Value::Null, Some("inactive"))
    );

    assert_eq!(
        body(app.set_mode(&company, "per_user").await).await["mode"],
        "per_user"
    );
    let admin_token = app.issue_token(&company.admin_token).await;
    let res = app
        .register_admin_token(&company, &admin_token, &admin_token.code(&app, 0))
        .await;
    assert_eq!(res.status(), 200);
    let active = body(res).await;
    assert_eq!(active["status"], "active");
    let masked = active["admin_token"]["token_id_masked"].as_str().unwrap();
    assert_eq!(masked, format!("WFBS****{}", &admin_token.token_id[8..]));
    assert!(
        !active.to_string().contains(&admin_token.token_id),
        "the full ID is never shown again"
    );

    let first = app.user(&company, "user.one").await;
    let second = app.user(&company, "user.two").await;
    let one = app.give_token(&company, &first).await;
    app.give_token(&company, &second).await;
    let one_session = app.token("user.one", PASSWORD).await;
    let two_session = app.token("user.two", PASSWORD).await;
    assert_eq!(me(&app, &one_session).await["transfer_confirmation"], "otp");
    assert_eq!(
        me(&app, &one_session).await["token"]["token_id_masked"],
        format!("WFBS****{}", &one.token_id[8..])
    );

    let after = body(unregister(&app, &company, &[&second]).await).await;
    assert_eq!(after["users_without_token"][0]["login_id"], "user.two");
    let two = me(&app, &two_session).await;
    assert_eq!(
        (
            two["transfer_confirmation"].as_str(),
            two["blocked_reason"].as_str()
        ),
        (Some("blocked"), Some("token_not_registered"))
    );
    assert_eq!(me(&app, &one_session).await["transfer_confirmation"], "otp");
    for action in [
        "token_issued",
        "token_registered",
        "otp_activated",
        "token_unregistered",
        "mode_set",
    ] {
        assert!(
            app.audit_count(action, "success").await >= 1,
            "{action} audited"
        );
    }
}

#[engine_test]
async fn shared_mode_gives_every_user_the_company_token(app: TestApp) {
    let company = app.company("acme").await;
    let user = app.user(&company, "user.one").await;
    let user_session = app.token("user.one", PASSWORD).await;
    assert_eq!(
        me(&app, &user_session).await["transfer_confirmation"],
        "transfer_password"
    );
    let shared = app.activate(&company, "shared").await;

    let mine = me(&app, &user_session).await;
    assert_eq!(mine["transfer_confirmation"], "otp");
    assert_eq!(mine["company"]["otp_mode"], "shared");
    assert_eq!(
        mine["token"]["token_id_masked"],
        format!("WFBS****{}", &shared.token_id[8..])
    );
    let s = settings(&app, &company).await;
    assert_eq!(s["users_without_token"], json!([]));
    assert!(
        s["users"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["ready"] == true)
    );

    let own = app.issue_token(&company.admin_token).await;
    problem(
        app.register_user_token(&company, &user, &own, &own.code(&app, 0))
            .await,
        409,
        "per_user_mode_required",
    )
    .await;
    let other = app.issue_token(&user_session).await;
    let res = exchange(
        &app,
        &user_session,
        &shared.code(&app, 0),
        &other,
        &other.code(&app, 0),
    )
    .await;
    problem(res, 403, "forbidden").await;
}

#[engine_test]
async fn registration_needs_a_mode_first_and_the_admin_token_before_users(app: TestApp) {
    let company = app.company("acme").await;
    let user = app.user(&company, "user.one").await;
    let token = app.issue_token(&company.admin_token).await;
    problem(
        app.register_admin_token(&company, &token, &token.code(&app, 0))
            .await,
        409,
        "mode_not_set",
    )
    .await;
    app.set_mode(&company, "per_user").await;
    let users = app.issue_token(&company.admin_token).await;
    problem(
        app.register_user_token(&company, &user, &users, &users.code(&app, 0))
            .await,
        409,
        "admin_token_required",
    )
    .await;
    assert_eq!(
        app.register_admin_token(&company, &token, &token.code(&app, 0))
            .await
            .status(),
        200
    );
    app.next_step();
    assert_eq!(
        app.register_user_token(&company, &user, &users, &users.code(&app, 0))
            .await
            .status(),
        200
    );
}

#[engine_test]
async fn a_token_serves_one_person_and_a_person_holds_one_token(app: TestApp) {
    let company = app.company("acme").await;
    let admin = app.activate(&company, "per_user").await;
    let one = app.user(&company, "user.one").await;
    let two = app.user(&company, "user.two").await;
    problem(
        app.register_user_token(&company, &one, &admin, &admin.code(&app, 0))
            .await,
        409,
        "token_in_use",
    )
    .await;
    let token = app.give_token(&company, &one).await;
    app.next_step();
    problem(
        app.register_user_token(&company, &two, &token, &token.code(&app, 0))
            .await,
        409,
        "token_in_use",
    )
    .await;
    let another = app.issue_token(&company.admin_token).await;
    problem(
        app.register_user_token(&company, &one, &another, &another.code(&app, 0))
            .await,
        409,
        "token_already_registered",
    )
    .await;
    problem(
        app.register_admin_token(&company, &another, &another.code(&app, 0))
            .await,
        409,
        "token_already_registered",
    )
    .await;
}

#[engine_test]
async fn a_wrong_code_is_refused_with_the_attempts_left(app: TestApp) {
    let company = app.company("acme").await;
    app.set_mode(&company, "per_user").await;
    let token = app.issue_token(&company.admin_token).await;
    let p = problem(
        app.register_admin_token(&company, &token, &token.wrong_code(&app))
            .await,
        422,
        "otp_invalid",
    )
    .await;
    assert_eq!(p["remaining_attempts"], 4);
    assert_eq!(settings(&app, &company).await["status"], "inactive");
    assert_eq!(app.audit_count("otp_failed", "failure").await, 1);
    assert_eq!(
        app.register_admin_token(&company, &token, &token.code(&app, 0))
            .await
            .status(),
        200
    );
}

#[engine_test]
async fn one_step_either_side_is_accepted_and_two_are_not(app: TestApp) {
    let company = app.company("acme").await;
    app.set_mode(&company, "per_user").await;
    let admin = app.issue_token(&company.admin_token).await;
    for offset in [-2, 2] {
        problem(
            app.register_admin_token(&company, &admin, &admin.code(&app, offset))
                .await,
            422,
            "otp_invalid",
        )
        .await;
    }
    assert_eq!(
        app.register_admin_token(&company, &admin, &admin.code(&app, -1))
            .await
            .status(),
        200
    );
    let user = app.user(&company, "user.one").await;
    let token = app.issue_token(&company.admin_token).await;
    assert_eq!(
        app.register_user_token(&company, &user, &token, &token.code(&app, 1))
            .await
            .status(),
        200
    );
}

#[engine_test]
async fn an_older_code_never_works_after_a_newer_one(app: TestApp) {
    let company = app.company("acme").await;
    app.set_mode(&company, "per_user").await;
    let admin = app.issue_token(&company.admin_token).await;
    let older = admin.code(&app, -1);
    assert_eq!(
        app.register_admin_token(&company, &admin, &admin.code(&app, 0))
            .await
            .status(),
        200
    );
    problem(
        stop(&app, &company, &older, APPROVAL).await,
        409,
        "otp_replayed",
    )
    .await;
    assert_eq!(
        stop(&app, &company, &admin.code(&app, 1), APPROVAL)
            .await
            .status(),
        200
    );
}

#[engine_test]
async fn five_wrong_codes_lock_a_user_s_token_until_the_administrator_unlocks_it(app: TestApp) {
    let company = app.company("acme").await;
    app.activate(&company, "per_user").await;
    let user = app.user(&company, "user.one").await;
    let old = app.give_token(&company, &user).await;
    app.next_step();
    let session = app.token("user.one", PASSWORD).await;
    let new = app.issue_token(&session).await;
    // Each attempt spends a fresh code of the new token, which is checked first.
    for remaining in (1..=4).rev() {
        app.next_step();
        let p = problem(
            exchange(
                &app,
                &session,
                &old.wrong_code(&app),
                &new,
                &new.code(&app, 0),
            )
            .await,
            422,
            "otp_invalid",
        )
        .await;
        assert_eq!(p["remaining_attempts"], remaining);
    }
    app.next_step();
    problem(
        exchange(
            &app,
            &session,
            &old.wrong_code(&app),
            &new,
            &new.code(&app, 0),
        )
        .await,
        423,
        "token_locked",
    )
    .await;
    app.next_step();
    problem(
        exchange(&app, &session, &old.code(&app, 0), &new, &new.code(&app, 0)).await,
        423,
        "token_locked",
    )
    .await;
    let mine = me(&app, &session).await;
    assert_eq!(
        (
            mine["blocked_reason"].as_str(),
            mine["token"]["status"].as_str()
        ),
        (Some("token_locked"), Some("locked"))
    );
    assert_eq!(app.audit_count("token_locked", "success").await, 1);

    let path = format!("/api/v1/otp/users/{user}/token/unlock");
    let res = app
        .post(
            &path,
            &json!({"approval_password": APPROVAL}),
            Some(&company.admin_token),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(me(&app, &session).await["transfer_confirmation"], "otp");
    app.next_step();
    let res = exchange(&app, &session, &old.code(&app, 0), &new, &new.code(&app, 0)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        body(res).await["token"]["token_id_masked"],
        format!("WFBS****{}", &new.token_id[8..])
    );
}

#[engine_test]
async fn the_administrator_s_locked_token_is_unlocked_by_the_bank(app: TestApp) {
    let company = app.company("acme").await;
    let admin = app.activate(&company, "per_user").await;
    for _ in 0..5 {
        stop(&app, &company, &admin.wrong_code(&app), APPROVAL).await;
    }
    problem(
        stop(&app, &company, &admin.code(&app, 0), APPROVAL).await,
        423,
        "token_locked",
    )
    .await;
    let user = app.user(&company, "user.one").await;
    let path = format!("/api/v1/otp/users/{}/token/unlock", company.admin_id);
    problem(
        app.post(
            &path,
            &json!({"approval_password": APPROVAL}),
            Some(&company.admin_token),
        )
        .await,
        403,
        "bank_procedure_required",
    )
    .await;
    let _ = user;

    let path = format!("/api/v1/bank/companies/{}/admin-token/unlock", company.id);
    let res = app
        .post(&path, &json!({}), Some(&company.operator_token))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["admin"]["token"]["status"], "active");
    assert_eq!(
        stop(&app, &company, &admin.code(&app, 0), APPROVAL)
            .await
            .status(),
        200
    );
}

#[engine_test]
async fn a_wrong_approval_password_is_refused_and_five_lock_approval_until_the_bank_frees_it(
    app: TestApp,
) {
    let company = app.company("acme").await;
    let p = problem(
        put_mode(&app, &company, "Wrong-Approval-1").await,
        422,
        "approval_password_invalid",
    )
    .await;
    assert_eq!(p["remaining_attempts"], 4);
    for _ in 0..3 {
        problem(
            put_mode(&app, &company, "Wrong-Approval-1").await,
            422,
            "approval_password_invalid",
        )
        .await;
    }
    problem(
        put_mode(&app, &company, "Wrong-Approval-1").await,
        423,
        "approval_locked",
    )
    .await;
    problem(
        put_mode(&app, &company, APPROVAL).await,
        423,
        "approval_locked",
    )
    .await;
    assert_eq!(
        settings(&app, &company).await["mode"],
        Value::Null,
        "nothing changed"
    );
    let detail = body(
        app.get(
            &format!("/api/v1/bank/companies/{}", company.id),
            Some(&company.operator_token),
        )
        .await,
    )
    .await;
    assert_eq!(detail["admin"]["approval_locked"], true);
    assert_eq!(app.audit_count("approval_locked", "success").await, 1);

    let path = format!("/api/v1/bank/companies/{}/approval/unlock", company.id);
    assert_eq!(
        app.post(&path, &json!({}), Some(&company.operator_token))
            .await
            .status(),
        200
    );
    assert_eq!(put_mode(&app, &company, APPROVAL).await.status(), 200);
}

#[engine_test]
async fn the_administrator_cannot_remove_their_own_token(app: TestApp) {
    let company = app.company("acme").await;
    app.activate(&company, "per_user").await;
    problem(
        unregister(&app, &company, &[&company.admin_id]).await,
        403,
        "bank_procedure_required",
    )
    .await;
    assert_eq!(
        settings(&app, &company).await["admin_token"]["status"],
        "active"
    );
}

#[engine_test]
async fn unregistering_is_all_or_nothing(app: TestApp) {
    let company = app.company("acme").await;
    app.activate(&company, "per_user").await;
    let user = app.user(&company, "user.one").await;
    app.give_token(&company, &user).await;
    let other = app.company_by(&company.operator_token, "beta").await;
    let foreign = app.user(&other, "beta.user").await;
    problem(
        unregister(&app, &company, &[&user, &foreign]).await,
        404,
        "not_found",
    )
    .await;
    problem(
        unregister(
            &app,
            &company,
            &[&user, "00000000-0000-4000-8000-000000000000"],
        )
        .await,
        404,
        "not_found",
    )
    .await;
    problem(
        unregister(&app, &company, &[&user, &company.admin_id]).await,
        403,
        "bank_procedure_required",
    )
    .await;
    let s = settings(&app, &company).await;
    let listed = s["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["user_id"] == user.as_str())
        .unwrap()
        .clone();
    assert_eq!(listed["token"]["status"], "active", "still registered");
    let p = problem(
        unregister(&app, &company, &[&user, &user]).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["user_ids[1]"]);
    problem(
        unregister(&app, &company, &[]).await,
        422,
        "validation_failed",
    )
    .await;
}

#[engine_test]
async fn a_bank_reset_keeps_the_company_active_and_blocks_only_the_administrator(app: TestApp) {
    let company = app.company("acme").await;
    app.activate(&company, "per_user").await;
    let user = app.user(&company, "user.one").await;
    app.give_token(&company, &user).await;
    let session = app.token("user.one", PASSWORD).await;

    let res = app
        .carry_out(&company.operator_token, "admin_token_reset", &company.id)
        .await;
    assert_eq!(res.status(), 200);
    let path = format!("/api/v1/bank/companies/{}", company.id);
    let detail = body(app.get(&path, Some(&company.operator_token)).await).await;
    assert_eq!(
        (
            detail["otp_status"].as_str(),
            detail["admin"]["token"].clone()
        ),
        (Some("active"), Value::Null)
    );
    let admin_me = me(&app, &company.admin_token).await;
    assert_eq!(
        (
            admin_me["transfer_confirmation"].as_str(),
            admin_me["blocked_reason"].as_str()
        ),
        (Some("blocked"), Some("token_not_registered"))
    );
    assert_eq!(me(&app, &session).await["transfer_confirmation"], "otp");
    assert_eq!(app.audit_count("token_reset", "success").await, 1);
    problem(
        app.carry_out(&company.operator_token, "admin_token_reset", &company.id)
            .await,
        409,
        "token_not_registered",
    )
    .await;

    app.next_step();
    let fresh = app.issue_token(&company.admin_token).await;
    assert_eq!(
        app.register_admin_token(&company, &fresh, &fresh.code(&app, 0))
            .await
            .status(),
        200
    );
    assert_eq!(
        me(&app, &company.admin_token).await["transfer_confirmation"],
        "otp"
    );
}

#[engine_test]
async fn the_mode_cannot_change_while_otp_is_active(app: TestApp) {
    let company = app.company("acme").await;
    app.activate(&company, "per_user").await;
    problem(app.set_mode(&company, "shared").await, 409, "otp_active").await;
    assert_eq!(settings(&app, &company).await["mode"], "per_user");
}

#[engine_test]
async fn stopping_otp_returns_everyone_to_the_transfer_password(app: TestApp) {
    let company = app.company("acme").await;
    let admin = app.activate(&company, "per_user").await;
    let user = app.user(&company, "user.one").await;
    app.give_token(&company, &user).await;
    app.next_step();
    let session = app.token("user.one", PASSWORD).await;
    problem(
        stop(&app, &company, &admin.code(&app, 0), "Wrong-Approval-1").await,
        422,
        "approval_password_invalid",
    )
    .await;
    problem(
        stop(&app, &company, &admin.wrong_code(&app), APPROVAL).await,
        422,
        "otp_invalid",
    )
    .await;
    let res = stop(&app, &company, &admin.code(&app, 0), APPROVAL).await;
    assert_eq!(res.status(), 200);
    let s = body(res).await;
    assert_eq!(
        (s["status"].as_str(), s["admin_token"].clone()),
        (Some("inactive"), Value::Null)
    );
    assert!(
        s["users"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["token"].is_null())
    );
    assert_eq!(
        me(&app, &session).await["transfer_confirmation"],
        "transfer_password"
    );
    assert_eq!(
        me(&app, &company.admin_token).await["transfer_confirmation"],
        "transfer_password"
    );
    assert_eq!(app.audit_count("otp_stopped", "success").await, 1);
    app.next_step();
    problem(
        stop(&app, &company, &admin.code(&app, 0), APPROVAL).await,
        409,
        "otp_inactive",
    )
    .await;
    assert_eq!(
        app.set_mode(&company, "shared").await.status(),
        200,
        "the mode can change again"
    );
}

#[engine_test]
async fn an_exchange_moves_a_person_to_a_new_token_in_one_step(app: TestApp) {
    let company = app.company("acme").await;
    let old = app.activate(&company, "per_user").await;
    let new = app.issue_token(&company.admin_token).await;
    problem(
        exchange(
            &app,
            &company.admin_token,
            &old.code(&app, 0),
            &new,
            &new.wrong_code(&app),
        )
        .await,
        422,
        "otp_invalid",
    )
    .await;
    app.next_step();
    let res = exchange(
        &app,
        &company.admin_token,
        &old.code(&app, 0),
        &new,
        &new.code(&app, 0),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.audit_count("token_exchanged", "success").await, 1);
    let s = settings(&app, &company).await;
    assert_eq!(
        s["admin_token"]["token_id_masked"],
        format!("WFBS****{}", &new.token_id[8..])
    );
    app.next_step();
    problem(
        stop(&app, &company, &old.code(&app, 0), APPROVAL).await,
        422,
        "otp_invalid",
    )
    .await;
    assert_eq!(
        stop(&app, &company, &new.code(&app, 0), APPROVAL)
            .await
            .status(),
        200
    );
}

#[engine_test]
async fn a_person_without_a_token_has_nothing_to_exchange(app: TestApp) {
    let company = app.company("acme").await;
    app.activate(&company, "per_user").await;
    app.user(&company, "user.one").await;
    let session = app.token("user.one", PASSWORD).await;
    let new = app.issue_token(&session).await;
    problem(
        exchange(&app, &session, "123456", &new, &new.code(&app, 0)).await,
        409,
        "token_not_registered",
    )
    .await;
}

#[engine_test]
async fn users_cannot_manage_otp_and_other_companies_are_not_found(app: TestApp) {
    let company = app.company("acme").await;
    app.activate(&company, "per_user").await;
    let user = app.user(&company, "user.one").await;
    let session = app.token("user.one", PASSWORD).await;
    problem(
        app.get("/api/v1/otp", Some(&session)).await,
        403,
        "forbidden",
    )
    .await;
    let b = json!({"mode": "shared", "approval_password": APPROVAL});
    problem(
        app.send(Method::PUT, "/api/v1/otp/mode", Some(&b), Some(&session))
            .await,
        403,
        "forbidden",
    )
    .await;
    problem(
        app.post(
            "/api/v1/otp/stop",
            &json!({"otp": "123456", "approval_password": APPROVAL}),
            Some(&session),
        )
        .await,
        403,
        "forbidden",
    )
    .await;

    let other = app.company_by(&company.operator_token, "beta").await;
    app.activate(&other, "per_user").await;
    let token = app.issue_token(&other.admin_token).await;
    problem(
        app.register_user_token(&other, &user, &token, &token.code(&app, 0))
            .await,
        404,
        "not_found",
    )
    .await;
    let path = format!("/api/v1/otp/users/{user}/token/unlock");
    problem(
        app.post(
            &path,
            &json!({"approval_password": APPROVAL}),
            Some(&other.admin_token),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    problem(
        app.get("/api/v1/otp", Some(&company.operator_token)).await,
        403,
        "forbidden",
    )
    .await;
}

#[engine_test]
async fn a_registered_token_keeps_working_past_the_unregistered_expiry(app: TestApp) {
    let company = app.company("acme").await;
    let admin = app.activate(&company, "per_user").await;
    app.advance(Duration::days(8));
    let session = app.token(&company.admin_login_id, PASSWORD).await;
    let res = app
        .post(
            "/api/v1/otp/stop",
            &json!({"otp": admin.code(&app, 0), "approval_password": APPROVAL}),
            Some(&session),
        )
        .await;
    assert_eq!(res.status(), 200);
}

#[engine_test]
async fn an_unregistered_token_is_retired_and_cannot_serve_anyone_again(app: TestApp) {
    let company = app.company("acme").await;
    app.activate(&company, "per_user").await;
    let one = app.user(&company, "user.one").await;
    let two = app.user(&company, "user.two").await;
    let token = app.give_token(&company, &one).await;
    assert_eq!(unregister(&app, &company, &[&one]).await.status(), 200);
    app.next_step();
    problem(
        app.register_user_token(&company, &two, &token, &token.code(&app, 0))
            .await,
        422,
        "token_expired",
    )
    .await;
    problem(
        app.register_user_token(&company, &one, &token, &token.code(&app, 0))
            .await,
        422,
        "token_expired",
    )
    .await;
}
