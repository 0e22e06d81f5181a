//! Racing requests: one code is spent once, and wrong codes are all counted.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use webfb_test_macros::engine_test;

/// Sends `n` copies of one request at once; returns each answer's status and body.
async fn fire(
    app: &TestApp,
    n: usize,
    method: Method,
    path: &str,
    b: Value,
    session: &str,
) -> Vec<(u16, Value)> {
    let start = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let req = app
                .client
                .request(method.clone(), app.url(path))
                .bearer_auth(session)
                .json(&b);
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                let res = req.send().await.expect("request");
                let status = res.status().as_u16();
                let text = res.text().await.expect("body");
                let b = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
                (status, b)
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(n);
    for task in tasks {
        answers.push(task.await.expect("task"));
    }
    answers
}

fn count(answers: &[(u16, Value)], status: u16) -> usize {
    answers.iter().filter(|(s, _)| *s == status).count()
}

fn no_server_errors(answers: &[(u16, Value)]) {
    for (status, b) in answers {
        assert!(*status < 500, "{status}: {b}");
    }
}

#[engine_test]
async fn two_concurrent_registrations_with_one_code_exactly_one_succeeds(app: TestApp) {
    let company = app.company("acme").await;
    app.set_mode(&company, "per_user").await;
    let token = app.issue_token(&company.admin_token).await;
    let b = json!({"token_id": token.token_id, "otp": token.code(&app, 0), "approval_password": APPROVAL});
    let answers = fire(
        &app,
        8,
        Method::PUT,
        "/api/v1/otp/admin-token",
        b,
        &company.admin_token,
    )
    .await;

    no_server_errors(&answers);
    assert_eq!(count(&answers, 200), 1, "{answers:?}");
    for (status, b) in answers.iter().filter(|(s, _)| *s != 200) {
        assert_eq!(*status, 409, "{b}");
        let code = b["code"].as_str().unwrap();
        assert!(
            ["otp_replayed", "token_in_use", "token_already_registered"].contains(&code),
            "{b}"
        );
    }
    assert_eq!(app.audit_count("token_registered", "success").await, 1);
    assert_eq!(app.audit_count("otp_activated", "success").await, 1);
    let steps: i64 = app
        .with_db(|conn, _| {
            use diesel::prelude::*;
            use webfb::db::schema::otp_step_uses::dsl as u;
            u::otp_step_uses.count().get_result(conn).unwrap()
        })
        .await;
    assert_eq!(steps, 1, "the step is recorded as used once");
}

#[engine_test]
async fn concurrent_uses_of_one_code_by_different_actions_exactly_one_succeeds(app: TestApp) {
    let company = app.company("acme").await;
    let token = app.activate(&company, "per_user").await;
    let b = json!({"otp": token.code(&app, 0), "approval_password": APPROVAL});
    let answers = fire(
        &app,
        8,
        Method::POST,
        "/api/v1/otp/stop",
        b,
        &company.admin_token,
    )
    .await;

    no_server_errors(&answers);
    assert_eq!(count(&answers, 200), 1, "{answers:?}");
    for (status, b) in answers.iter().filter(|(s, _)| *s != 200) {
        assert_eq!(*status, 409, "{b}");
        let code = b["code"].as_str().unwrap();
        assert!(["otp_replayed", "otp_inactive"].contains(&code), "{b}");
    }
    assert_eq!(app.audit_count("otp_stopped", "success").await, 1);
    let s = body(app.get("/api/v1/otp", Some(&company.admin_token)).await).await;
    assert_eq!(s["status"], "inactive");
}

#[engine_test]
async fn wrong_codes_counted_concurrently_still_lock_at_five(app: TestApp) {
    let company = app.company("acme").await;
    let token = app.activate(&company, "per_user").await;
    let b = json!({"otp": token.wrong_code(&app), "approval_password": APPROVAL});
    let answers = fire(
        &app,
        10,
        Method::POST,
        "/api/v1/otp/stop",
        b,
        &company.admin_token,
    )
    .await;

    no_server_errors(&answers);
    for (status, b) in &answers {
        match (*status, b["code"].as_str().unwrap()) {
            (422, "otp_invalid") => assert!(b["remaining_attempts"].as_i64().unwrap() >= 1, "{b}"),
            (423, "token_locked") => {}
            _ => panic!("{status}: {b}"),
        }
    }
    assert!(count(&answers, 423) >= 1, "{answers:?}");
    // Every wrong code is counted once, none lost to the race: four refusals with
    // 4, 3, 2 and 1 attempts left, then the fifth locks and the rest find it locked.
    let mut remaining: Vec<i64> = answers
        .iter()
        .filter_map(|(_, b)| b["remaining_attempts"].as_i64())
        .collect();
    remaining.sort_unstable();
    assert_eq!(remaining, [1, 2, 3, 4], "{answers:?}");
    assert_eq!(count(&answers, 423), 6, "{answers:?}");
    let failures: i64 = app
        .with_db(|conn, _| {
            use diesel::prelude::*;
            use webfb::db::schema::audit_events::dsl as e;
            e::audit_events
                .filter(e::action.eq("otp_failed"))
                .count()
                .get_result(conn)
                .unwrap()
        })
        .await;
    assert_eq!(
        failures, 5,
        "five wrong codes counted; the others were refused unchecked"
    );
    assert_eq!(app.audit_count("token_locked", "success").await, 1);

    // The lock holds: the right code is refused too.
    problem(
        app.post(
            "/api/v1/otp/stop",
            &json!({"otp": token.code(&app, 0), "approval_password": APPROVAL}),
            Some(&company.admin_token),
        )
        .await,
        423,
        "token_locked",
    )
    .await;
    let s = body(app.get("/api/v1/otp", Some(&company.admin_token)).await).await;
    assert_eq!(s["status"], "active");
}

#[engine_test]
async fn racing_confirmations_of_one_transfer_leave_what_the_load_tool_checks_counted_once(
    app: TestApp,
) {
    let company = app.company("acme").await;
    let token = app.activate(&company, "per_user").await;
    let id = create_transfer(&app, &company).await;
    app.advance(chrono::Duration::seconds(30));
    let path = format!("/api/v1/transfers/{id}/confirm");
    let b = json!({"otp": token.code(&app, 0)});
    let answers = fire(&app, 8, Method::POST, &path, b, &company.admin_token).await;

    no_server_errors(&answers);
    assert_eq!(count(&answers, 200), 1, "{answers:?}");
    let prefix = company.admin_login_id.clone();
    let seen = vec![id, "never-confirmed".to_owned()];
    let found = app
        .with_db(move |conn, _| webfb::db::invariants::confirmations(conn, &prefix, &seen))
        .await
        .unwrap();
    let once = webfb::db::invariants::Confirmations {
        confirmed: 1,
        seen_and_confirmed: 1,
        code_uses: 1,
        transfers_with_code: 1,
        confirm_events: 1,
        transfers_with_event: 1,
    };
    assert_eq!(found, once);
}
