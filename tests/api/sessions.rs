//! Sign-in, lockout, sign-out and session lifetimes.

use chrono::Duration;
use serde_json::json;

use crate::helpers::*;
use webfb_test_macros::engine_test;

#[engine_test]
async fn an_administrator_signs_in_with_the_right_password(app: TestApp) {
    let company = app.company("acme").await;
    let res = app.login(&company.admin_login_id, PASSWORD).await;
    assert_eq!(res.status(), 200);
    let b = body(res).await;
    assert_eq!(b["token_type"], "Bearer");
    assert_eq!(b["expires_in"], 8 * 60 * 60);
    assert_eq!(b["user"]["role"], "admin");
    assert_eq!(app.audit_count("login", "success").await, 2);
}

#[engine_test]
async fn a_wrong_password_and_an_unknown_login_id_get_the_same_answer(app: TestApp) {
    let company = app.company("acme").await;
    let wrong = problem(
        app.login(&company.admin_login_id, "Wrong-Pass-2026").await,
        401,
        "invalid_credentials",
    )
    .await;
    let unknown = problem(
        app.login("nobody.here", "Wrong-Pass-2026").await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(wrong, unknown);
    assert_eq!(app.audit_count("login", "failure").await, 2);
}

#[engine_test]
async fn five_wrong_passwords_lock_a_user_until_the_administrator_unlocks(app: TestApp) {
    let company = app.company("acme").await;
    let user_id = app.user(&company, "sato.keiri").await;
    for _ in 0..4 {
        problem(
            app.login("sato.keiri", "Wrong-Pass-2026").await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    problem(
        app.login("sato.keiri", "Wrong-Pass-2026").await,
        401,
        "invalid_credentials",
    )
    .await;
    problem(
        app.login("sato.keiri", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(app.audit_count("login_locked", "success").await, 1);

    let res = app
        .post(
            &format!("/api/v1/users/{user_id}/unlock"),
            &json!({}),
            Some(&company.admin_token),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["login_locked"], false);
    assert_eq!(app.login("sato.keiri", PASSWORD).await.status(), 200);
}

#[engine_test]
async fn a_success_resets_the_count_of_wrong_passwords(app: TestApp) {
    let company = app.company("acme").await;
    app.user(&company, "sato.keiri").await;
    for _ in 0..4 {
        problem(
            app.login("sato.keiri", "Wrong-Pass-2026").await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    assert_eq!(app.login("sato.keiri", PASSWORD).await.status(), 200);
    for _ in 0..4 {
        problem(
            app.login("sato.keiri", "Wrong-Pass-2026").await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    assert_eq!(app.login("sato.keiri", PASSWORD).await.status(), 200);
}

#[engine_test]
async fn a_locked_administrator_is_unlocked_by_the_bank_not_by_themself(app: TestApp) {
    let company = app.company("acme").await;
    for _ in 0..5 {
        app.login(&company.admin_login_id, "Wrong-Pass-2026").await;
    }
    problem(
        app.login(&company.admin_login_id, PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    let detail = body(
        app.get(
            &format!("/api/v1/bank/companies/{}", company.id),
            Some(&company.operator_token),
        )
        .await,
    )
    .await;
    assert_eq!(detail["admin"]["login_locked"], true);

    let res = app
        .post(
            &format!("/api/v1/bank/companies/{}/admin/unlock", company.id),
            &json!({}),
            Some(&company.operator_token),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["admin"]["login_locked"], false);
    assert_eq!(
        app.login(&company.admin_login_id, PASSWORD).await.status(),
        200
    );
}

#[engine_test]
async fn the_administrator_cannot_unlock_their_own_login_through_the_user_endpoint(app: TestApp) {
    let company = app.company("acme").await;
    let res = app
        .post(
            &format!("/api/v1/users/{}/unlock", company.admin_id),
            &json!({}),
            Some(&company.admin_token),
        )
        .await;
    problem(res, 403, "bank_procedure_required").await;
}

#[engine_test]
async fn logout_ends_the_session_at_once(app: TestApp) {
    let company = app.company("acme").await;
    assert_eq!(
        app.get("/api/v1/me", Some(&company.admin_token))
            .await
            .status(),
        200
    );
    let res = app
        .post(
            "/api/v1/auth/logout",
            &json!({}),
            Some(&company.admin_token),
        )
        .await;
    assert_eq!(res.status(), 204);
    problem(
        app.get("/api/v1/me", Some(&company.admin_token)).await,
        401,
        "session_expired",
    )
    .await;
    assert_eq!(app.audit_count("logout", "success").await, 1);
}

#[engine_test]
async fn a_session_idle_for_more_than_five_minutes_ends(app: TestApp) {
    let company = app.company("acme").await;
    app.advance(Duration::minutes(4));
    assert_eq!(
        app.get("/api/v1/me", Some(&company.admin_token))
            .await
            .status(),
        200
    );
    app.advance(Duration::minutes(4));
    assert_eq!(
        app.get("/api/v1/me", Some(&company.admin_token))
            .await
            .status(),
        200,
        "activity keeps it alive"
    );
    app.advance(Duration::minutes(5) + Duration::seconds(1));
    problem(
        app.get("/api/v1/me", Some(&company.admin_token)).await,
        401,
        "session_expired",
    )
    .await;
}

#[engine_test]
async fn a_session_ends_after_eight_hours_however_active(app: TestApp) {
    let company = app.company("acme").await;
    for _ in 0..(8 * 60 / 4) - 1 {
        app.advance(Duration::minutes(4));
        assert_eq!(
            app.get("/api/v1/me", Some(&company.admin_token))
                .await
                .status(),
            200
        );
    }
    app.advance(Duration::minutes(4));
    problem(
        app.get("/api/v1/me", Some(&company.admin_token)).await,
        401,
        "session_expired",
    )
    .await;
}

#[engine_test]
async fn a_missing_or_forged_token_is_unauthenticated(app: TestApp) {
    problem(app.get("/api/v1/me", None).await, 401, "unauthenticated").await;
    problem(
        app.get("/api/v1/me", Some("not-a-jwt")).await,
        401,
        "unauthenticated",
    )
    .await;
    let forged = "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJ3ZWJmYiIsInN1YiI6IngiLCJzaWQiOiJ4Iiwia2luZCI6InBlcnNvbiIsImlhdCI6MCwiZXhwIjo5OTk5OTk5OTk5fQ.c2lnbmF0dXJl";
    problem(
        app.get("/api/v1/me", Some(forged)).await,
        401,
        "unauthenticated",
    )
    .await;
}

#[engine_test]
async fn me_shows_role_company_and_the_transfer_password_before_otp(app: TestApp) {
    let company = app.company("acme").await;
    app.user(&company, "sato.keiri").await;
    let token = app.token("sato.keiri", PASSWORD).await;
    let me = body(app.get("/api/v1/me", Some(&token)).await).await;
    assert_eq!(me["role"], "user");
    assert_eq!(me["can_transfer"], true);
    assert_eq!(me["company"]["id"], company.id.as_str());
    assert_eq!(me["company"]["otp_status"], "inactive");
    assert_eq!(me["company"]["otp_mode"], serde_json::Value::Null);
    assert_eq!(me["token"], serde_json::Value::Null);
    assert_eq!(me["transfer_confirmation"], "transfer_password");
    assert!(me.get("password_hash").is_none());
}

#[engine_test]
async fn no_answer_ever_contains_a_password_hash(app: TestApp) {
    let company = app.company("acme").await;
    app.user(&company, "sato.keiri").await;
    for path in ["/api/v1/me", "/api/v1/users"] {
        let text = app
            .get(path, Some(&company.admin_token))
            .await
            .text()
            .await
            .unwrap();
        assert!(!text.contains("argon2"), "{path}: {text}");
    }
    let text = app
        .get("/api/v1/bank/companies", Some(&company.operator_token))
        .await
        .text()
        .await
        .unwrap();
    assert!(!text.contains("argon2"));
}

#[engine_test]
async fn a_lock_that_lands_while_an_operators_right_password_is_checked_wins(app: TestApp) {
    use webfb::db::lockout::Subject;
    use webfb::domain::audit::{ActorKind, AuditAction, Event, Outcome};
    use webfb::domain::{PasswordAttempt, Secret};
    use webfb::service::lockout::{check_password, still_open};

    app.operator_token("op.tanaka").await;
    // The sign-in's first half: the right password is proven...
    let id = app
        .with_services(|db, svc| {
            let audit = Event::new(
                AuditAction::OperatorLogin,
                Outcome::Failure,
                ActorKind::Operator,
            );
            let attempt = PasswordAttempt::parse(PASSWORD).unwrap();
            let subject = Subject::LoginId("op.tanaka");
            check_password(db, svc, Secret::OperatorPassword, subject, &attempt, &audit)
                .map(|proven| proven.subject_id)
                .unwrap()
        })
        .await;
    // ...while a guesser's wrong passwords lock the login...
    let wrong = json!({"login_id": "op.tanaka", "password": "Wrong-Pass-2026"});
    for _ in 0..5 {
        app.post("/api/v1/bank/auth/login", &wrong, None).await;
    }
    // ...so the second half, in the session's own transaction, finds the lock and stops.
    let second_half = app
        .with_db(move |conn, svc| {
            still_open(conn, svc, Secret::OperatorPassword, &id).map_err(|e| e.code())
        })
        .await;
    assert_eq!(
        second_half,
        Err(webfb::error::ErrorCode::InvalidCredentials)
    );
    let right = json!({"login_id": "op.tanaka", "password": PASSWORD});
    problem(
        app.post("/api/v1/bank/auth/login", &right, None).await,
        401,
        "invalid_credentials",
    )
    .await;
}

#[engine_test]
async fn a_request_soon_after_the_last_writes_nothing_and_a_later_one_keeps_the_session(
    app: TestApp,
) {
    let company = app.company("acme").await;
    let last_seen = || {
        app.with_db(|conn, _| {
            use diesel::prelude::*;
            use webfb::db::schema::sessions::dsl as s;
            s::sessions
                .filter(s::kind.eq("person"))
                .select(s::last_seen_at)
                .load::<chrono::NaiveDateTime>(conn)
                .unwrap()
        })
    };
    let at_sign_in = last_seen().await;
    app.advance(Duration::seconds(60));
    let me = app.get("/api/v1/me", Some(&company.admin_token)).await;
    assert_eq!(me.status(), 200);
    assert_eq!(
        last_seen().await,
        at_sign_in,
        "within a quarter of the idle time"
    );
    app.advance(Duration::seconds(20));
    let me = app.get("/api/v1/me", Some(&company.admin_token)).await;
    assert_eq!(me.status(), 200);
    let now = webfb::clock::Clock::now(app.clock.as_ref()).naive_utc();
    assert_eq!(
        last_seen().await,
        vec![now],
        "kept alive once older than that"
    );
}
