//! One-off transfers: SPEC §5 and the transfer rows of API.md.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

use webfb::clock::Clock;

use crate::helpers::*;
use webfb_test_macros::engine_test;

fn today(app: &TestApp) -> chrono::NaiveDate {
    (app.clock.now() + Duration::hours(9)).date_naive()
}

fn transfer_body(app: &TestApp, company: &Company, amount: i64) -> Value {
    json!({
        "debit_account": company.account,
        "payee": {"bank_code": "0001", "branch_code": "123", "account_type": "ordinary", "account_number": "7654321", "name": "ｶ)ﾔﾏﾀﾞｼﾖｳｼﾞ"},
        "amount": amount,
        "execution_date": (today(app) + Duration::days(1)).to_string(),
        "memo": "November invoice",
    })
}

async fn create_with(app: &TestApp, token: &str, key: &str, b: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/transfers"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(b)
        .send()
        .await
        .unwrap()
}

/// Creates a transfer and returns its id.
pub async fn create(app: &TestApp, company: &Company, token: &str) -> String {
    let key = uuid::Uuid::new_v4().to_string();
    let res = create_with(app, token, &key, &transfer_body(app, company, 150_000)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    body(res).await["id"].as_str().unwrap().to_owned()
}

async fn confirm(app: &TestApp, token: &str, id: &str, proof: Value) -> reqwest::Response {
    app.post(
        &format!("/api/v1/transfers/{id}/confirm"),
        &proof,
        Some(token),
    )
    .await
}

#[engine_test]
async fn per_user_story_from_fixed_password_to_one_time_codes(app: TestApp) {
    let company = app.company("acme").await;
    let user = app.user(&company, "user.one").await;
    let session = app.token("user.one", PASSWORD).await;

    // Before activation: the fixed transfer password confirms.
    let id = create(&app, &company, &session).await;
    let t = body(
        app.get(&format!("/api/v1/transfers/{id}"), Some(&session))
            .await,
    )
    .await;
    assert_eq!(
        t["confirmation"],
        json!({"method": "transfer_password", "ready": true, "blocked_reason": null})
    );
    let res = confirm(&app, &session, &id, json!({"transfer_password": TRANSFER})).await;
    assert_eq!(res.status(), 200);
    let t = body(res).await;
    assert_eq!(
        (t["status"].as_str(), t["confirmation"]["method"].as_str()),
        (Some("confirmed"), Some("transfer_password"))
    );

    // A transfer created before activation needs a code after it.
    let before = create(&app, &company, &session).await;
    app.activate(&company, "per_user").await;
    problem(
        confirm(
            &app,
            &session,
            &before,
            json!({"transfer_password": TRANSFER}),
        )
        .await,
        422,
        "otp_required",
    )
    .await;
    problem(
        confirm(&app, &session, &before, json!({"otp": "123456"})).await,
        409,
        "token_not_registered",
    )
    .await;

    // A user with the permission but no token cannot even create one.
    let res = create_with(
        &app,
        &session,
        "no-token",
        &transfer_body(&app, &company, 1000),
    )
    .await;
    problem(res, 409, "token_not_registered").await;

    let token = app.give_token(&company, &user).await;
    app.next_step();
    let id = create(&app, &company, &session).await;
    let t = body(
        app.get(&format!("/api/v1/transfers/{id}"), Some(&session))
            .await,
    )
    .await;
    assert_eq!(t["confirmation"]["method"], "otp");
    problem(
        confirm(&app, &session, &id, json!({"transfer_password": TRANSFER})).await,
        422,
        "otp_required",
    )
    .await;
    let res = confirm(&app, &session, &id, json!({"otp": token.code(&app, 0)})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["confirmation"]["method"], "otp");
    assert_eq!(app.audit_count("transfer_confirmed", "success").await, 2);
}

#[engine_test]
async fn shared_mode_users_share_one_token_and_a_code_serves_one_person(app: TestApp) {
    let company = app.company("acme").await;
    let one = app.user(&company, "user.one").await;
    let two = app.user(&company, "user.two").await;
    let shared = app.activate(&company, "shared").await;
    let s1 = app.token("user.one", PASSWORD).await;
    let s2 = app.token("user.two", PASSWORD).await;
    let t1 = create(&app, &company, &s1).await;
    let t2 = create(&app, &company, &s2).await;
    let code = shared.code(&app, 0);
    assert_eq!(
        confirm(&app, &s1, &t1, json!({"otp": code})).await.status(),
        200
    );
    problem(
        confirm(&app, &s2, &t2, json!({"otp": code})).await,
        409,
        "otp_replayed",
    )
    .await;
    app.next_step();
    assert_eq!(
        confirm(&app, &s2, &t2, json!({"otp": shared.code(&app, 0)}))
            .await
            .status(),
        200
    );

    // The ledger says who used which step of the shared token for which transfer.
    let ledger: Vec<(String, Option<String>)> = app
        .with_db(|conn, _| {
            use diesel::prelude::*;
            use webfb::db::schema::otp_step_uses::dsl as u;
            u::otp_step_uses
                .filter(u::purpose.eq("transfer_confirmation"))
                .order(u::step.asc())
                .select((u::used_by, u::transfer_id))
                .load(conn)
                .unwrap()
        })
        .await;
    assert_eq!(ledger, vec![(one, Some(t1)), (two, Some(t2))]);
}

#[engine_test]
async fn the_registration_code_cannot_confirm_a_transfer(app: TestApp) {
    let company = app.company("acme").await;
    app.set_mode(&company, "per_user").await;
    let token = app.issue_token(&company.admin_token).await;
    let code = token.code(&app, 0);
    assert_eq!(
        app.register_admin_token(&company, &token, &code)
            .await
            .status(),
        200
    );
    let id = create(&app, &company, &company.admin_token).await;
    problem(
        confirm(&app, &company.admin_token, &id, json!({"otp": code})).await,
        409,
        "otp_replayed",
    )
    .await;
    let t = body(
        app.get(
            &format!("/api/v1/transfers/{id}"),
            Some(&company.admin_token),
        )
        .await,
    )
    .await;
    assert_eq!(t["status"], "pending_confirmation");
}

#[engine_test]
async fn a_transfer_is_confirmed_only_once(app: TestApp) {
    let company = app.company("acme").await;
    let token = app.activate(&company, "per_user").await;
    let id = create(&app, &company, &company.admin_token).await;
    assert_eq!(
        confirm(
            &app,
            &company.admin_token,
            &id,
            json!({"otp": token.code(&app, 0)})
        )
        .await
        .status(),
        200
    );
    app.next_step();
    let fresh = token.code(&app, 0);
    problem(
        confirm(&app, &company.admin_token, &id, json!({"otp": fresh})).await,
        409,
        "transfer_not_pending",
    )
    .await;
    // The fresh code was not spent on the refused confirmation.
    let other = create(&app, &company, &company.admin_token).await;
    assert_eq!(
        confirm(&app, &company.admin_token, &other, json!({"otp": fresh}))
            .await
            .status(),
        200
    );
}

#[engine_test]
async fn thirty_two_concurrent_confirmations_give_exactly_one_success(app: TestApp) {
    let company = app.company("acme").await;
    let token = app.activate(&company, "per_user").await;
    let id = create(&app, &company, &company.admin_token).await;
    let code = token.code(&app, 0);
    let url = app.url(&format!("/api/v1/transfers/{id}/confirm"));
    let requests = (0..32).map(|_| {
        app.client
            .post(&url)
            .bearer_auth(&company.admin_token)
            .json(&json!({"otp": code}))
            .send()
    });
    let answers = futures_util::future::join_all(requests).await;
    let statuses: Vec<u16> = answers
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(app.audit_count("transfer_confirmed", "success").await, 1);
}

#[engine_test]
async fn two_instances_on_one_database_racing_one_code_give_one_success(app: TestApp) {
    let company = app.company("acme").await;
    let token = app.activate(&company, "per_user").await;
    let second = app.second_instance().await;
    let a = create(&app, &company, &company.admin_token).await;
    let b = create(&app, &company, &company.admin_token).await;
    let code = token.code(&app, 0);
    let first = app
        .client
        .post(app.url(&format!("/api/v1/transfers/{a}/confirm")))
        .bearer_auth(&company.admin_token)
        .json(&json!({"otp": code}))
        .send();
    let other = app
        .client
        .post(format!("{second}/api/v1/transfers/{b}/confirm"))
        .bearer_auth(&company.admin_token)
        .json(&json!({"otp": code}))
        .send();
    let (first, other) = tokio::join!(first, other);
    let mut statuses = [
        first.unwrap().status().as_u16(),
        other.unwrap().status().as_u16(),
    ];
    statuses.sort();
    assert_eq!(statuses, [200, 409]);
}

#[engine_test]
async fn a_pending_transfer_expires_after_ten_minutes(app: TestApp) {
    let company = app.company("acme").await;
    let id = create(&app, &company, &company.admin_token).await;
    for minutes in [4, 4, 1] {
        // Activity keeps the session (five minutes idle at most) alive meanwhile.
        app.advance(Duration::minutes(minutes));
        app.get("/api/v1/me", Some(&company.admin_token)).await;
    }
    let t = body(
        app.get(
            &format!("/api/v1/transfers/{id}"),
            Some(&company.admin_token),
        )
        .await,
    )
    .await;
    assert_eq!(t["status"], "pending_confirmation");
    app.advance(Duration::minutes(1));
    problem(
        confirm(
            &app,
            &company.admin_token,
            &id,
            json!({"transfer_password": TRANSFER}),
        )
        .await,
        409,
        "transfer_expired",
    )
    .await;
    let list = body(
        app.get(
            "/api/v1/transfers?status=expired",
            Some(&company.admin_token),
        )
        .await,
    )
    .await;
    assert_eq!(list["items"][0]["id"], id.as_str());
    assert_eq!(list["items"][0]["confirmation"]["ready"], false);
    assert_eq!(app.audit_count("transfer_expired", "success").await, 1);
    let pending = body(
        app.get(
            "/api/v1/transfers?status=pending_confirmation",
            Some(&company.admin_token),
        )
        .await,
    )
    .await;
    assert_eq!(pending["items"], json!([]));
}

#[engine_test]
async fn reading_one_transfer_past_its_time_expires_that_one_and_a_page_expires_the_rest(
    app: TestApp,
) {
    let company = app.company("acme").await;
    let first = create(&app, &company, &company.admin_token).await;
    let second = create(&app, &company, &company.admin_token).await;
    app.advance(Duration::minutes(4));
    app.get("/api/v1/me", Some(&company.admin_token)).await;
    app.advance(Duration::minutes(4));
    app.get("/api/v1/me", Some(&company.admin_token)).await;
    app.advance(Duration::minutes(2));

    let one = app
        .get(
            &format!("/api/v1/transfers/{first}"),
            Some(&company.admin_token),
        )
        .await;
    assert_eq!(body(one).await["status"], "expired");
    assert_eq!(app.audit_count("transfer_expired", "success").await, 1);
    let page = body(
        app.get("/api/v1/transfers", Some(&company.admin_token))
            .await,
    )
    .await;
    let mut statuses: Vec<_> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["id"].as_str().unwrap().to_owned(), t["status"].clone()))
        .collect();
    statuses.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected = [(first, json!("expired")), (second, json!("expired"))];
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(statuses, expected);
    assert_eq!(app.audit_count("transfer_expired", "success").await, 2);
}

#[engine_test]
async fn the_creator_or_the_administrator_cancels_a_pending_transfer(app: TestApp) {
    let company = app.company("acme").await;
    app.user(&company, "user.one").await;
    app.user(&company, "user.two").await;
    let one = app.token("user.one", PASSWORD).await;
    let two = app.token("user.two", PASSWORD).await;
    let mine = create(&app, &company, &one).await;
    let theirs = create(&app, &company, &one).await;
    let cancel = |id: &str| format!("/api/v1/transfers/{id}/cancel");
    problem(
        app.post(&cancel(&mine), &json!({}), Some(&two)).await,
        404,
        "not_found",
    )
    .await;
    let res = app.post(&cancel(&mine), &json!({}), Some(&one)).await;
    assert_eq!(body(res).await["status"], "cancelled");
    let res = app
        .post(&cancel(&theirs), &json!({}), Some(&company.admin_token))
        .await;
    assert_eq!(body(res).await["status"], "cancelled");
    problem(
        app.post(&cancel(&mine), &json!({}), Some(&one)).await,
        409,
        "transfer_not_pending",
    )
    .await;
    problem(
        confirm(&app, &one, &mine, json!({"transfer_password": TRANSFER})).await,
        409,
        "transfer_not_pending",
    )
    .await;
    assert_eq!(app.audit_count("transfer_cancelled", "success").await, 2);
}

#[engine_test]
async fn a_retried_create_answers_the_first_result(app: TestApp) {
    let company = app.company("acme").await;
    let b = transfer_body(&app, &company, 150_000);
    let first = create_with(&app, &company.admin_token, "key-1", &b).await;
    assert_eq!(first.status(), 201);
    let first = body(first).await;
    let again = create_with(&app, &company.admin_token, "key-1", &b).await;
    assert_eq!(again.status(), 201);
    assert_eq!(body(again).await["id"], first["id"]);
    let changed = transfer_body(&app, &company, 150_001);
    problem(
        create_with(&app, &company.admin_token, "key-1", &changed).await,
        422,
        "idempotency_key_reused",
    )
    .await;
    let list = body(
        app.get("/api/v1/transfers", Some(&company.admin_token))
            .await,
    )
    .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

#[engine_test]
async fn a_retry_after_the_transfer_permission_was_revoked_answers_the_first_result_and_a_new_key_is_refused(
    app: TestApp,
) {
    let company = app.company("acme").await;
    let user = app.user(&company, "user.one").await;
    let session = app.token("user.one", PASSWORD).await;
    let b = transfer_body(&app, &company, 150_000);
    let first = body(create_with(&app, &session, "key-1", &b).await).await;
    app.revoke_transfer_permission(&company, &user).await;
    let again = create_with(&app, &session, "key-1", &b).await;
    assert_eq!(again.status(), 201);
    assert_eq!(body(again).await["id"], first["id"]);
    problem(
        create_with(&app, &session, "key-2", &b).await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(app.audit_count("transfer_created", "success").await, 1);
}

#[engine_test]
async fn concurrent_retries_with_one_key_create_one_transfer(app: TestApp) {
    let company = app.company("acme").await;
    let b = transfer_body(&app, &company, 150_000);
    let answers = futures_util::future::join_all(
        (0..8).map(|_| create_with(&app, &company.admin_token, "same-key", &b)),
    )
    .await;
    let mut ids = Vec::new();
    for res in answers {
        assert_eq!(res.status(), 201);
        ids.push(body(res).await["id"].as_str().unwrap().to_owned());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(app.audit_count("transfer_created", "success").await, 1);
}

#[engine_test]
async fn every_transfer_field_is_checked(app: TestApp) {
    let company = app.company("acme").await;
    let good = transfer_body(&app, &company, 150_000);
    let far = (today(&app) + Duration::days(61)).to_string();
    let past = (today(&app) - Duration::days(1)).to_string();
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/debit_account", json!("0011234567"), "debit_account"),
        ("/payee/bank_code", json!("001"), "payee.bank_code"),
        ("/payee/bank_code", json!("00a1"), "payee.bank_code"),
        ("/payee/branch_code", json!("1234"), "payee.branch_code"),
        (
            "/payee/account_type",
            json!("checking"),
            "payee.account_type",
        ),
        (
            "/payee/account_number",
            json!("123456"),
            "payee.account_number",
        ),
        ("/payee/name", json!(""), "payee.name"),
        ("/payee/name", json!("ﾔﾏﾀﾞ太郎"), "payee.name"),
        ("/payee/name", json!("yamada"), "payee.name"),
        ("/payee/name", json!("ｱ".repeat(31)), "payee.name"),
        ("/amount", json!(0), "amount"),
        ("/amount", json!(-5), "amount"),
        ("/amount", json!(5_000_001), "amount"),
        ("/amount", json!("100"), "amount"),
        ("/amount", json!(1.5), "amount"),
        ("/execution_date", json!("2026-02-30"), "execution_date"),
        ("/execution_date", json!(far), "execution_date"),
        ("/execution_date", json!(past), "execution_date"),
        ("/memo", json!("x".repeat(51)), "memo"),
    ];
    for (i, (pointer, value, field)) in cases.into_iter().enumerate() {
        let mut b = good.clone();
        *b.pointer_mut(pointer).unwrap() = value.clone();
        let p = problem(
            create_with(&app, &company.admin_token, &format!("k{i}"), &b).await,
            422,
            "validation_failed",
        )
        .await;
        assert!(
            fields(&p).contains(&field.to_owned()),
            "{pointer}={value}: {p}"
        );
    }
    let mut b = good.clone();
    b["debit_account"] = json!("999-9999999");
    let p = problem(
        create_with(&app, &company.admin_token, "k-debit", &b).await,
        422,
        "debit_account_unknown",
    )
    .await;
    assert_eq!(fields(&p), ["debit_account"]);
    let mut b = good.clone();
    b["payee"]["name"] = json!("カ）ヤマダショウジ");
    let t = body(create_with(&app, &company.admin_token, "k-fullwidth", &b).await).await;
    assert_eq!(t["payee"]["name"], "ｶ)ﾔﾏﾀﾞｼﾖｳｼﾞ");
    let res = app
        .client
        .post(app.url("/api/v1/transfers"))
        .bearer_auth(&company.admin_token)
        .json(&good)
        .send()
        .await
        .unwrap();
    let p = problem(res, 400, "validation_failed").await;
    assert_eq!(fields(&p), ["Idempotency-Key"]);
    problem(
        create_with(&app, &company.admin_token, &"k".repeat(65), &good).await,
        400,
        "validation_failed",
    )
    .await;
    let list = body(
        app.get("/api/v1/transfers", Some(&company.admin_token))
            .await,
    )
    .await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        1,
        "only the valid one was stored"
    );
}

#[engine_test]
async fn transfers_belong_to_their_creator_and_company(app: TestApp) {
    let company = app.company("acme").await;
    let no_permission = app.user(&company, "user.none").await;
    app.revoke_transfer_permission(&company, &no_permission)
        .await;
    let none = app.token("user.none", PASSWORD).await;
    problem(
        create_with(&app, &none, "k", &transfer_body(&app, &company, 1000)).await,
        403,
        "forbidden",
    )
    .await;

    app.user(&company, "user.one").await;
    let one = app.token("user.one", PASSWORD).await;
    let users_transfer = create(&app, &company, &one).await;
    let admins_transfer = create(&app, &company, &company.admin_token).await;
    problem(
        app.get(&format!("/api/v1/transfers/{admins_transfer}"), Some(&one))
            .await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        app.get(
            &format!("/api/v1/transfers/{users_transfer}"),
            Some(&company.admin_token)
        )
        .await
        .status(),
        200
    );
    problem(
        confirm(
            &app,
            &company.admin_token,
            &users_transfer,
            json!({"transfer_password": TRANSFER}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    let own = body(app.get("/api/v1/transfers", Some(&one)).await).await;
    assert_eq!(own["items"].as_array().unwrap().len(), 1);
    let all = body(
        app.get("/api/v1/transfers", Some(&company.admin_token))
            .await,
    )
    .await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);

    let other = app.company_by(&company.operator_token, "beta").await;
    for path in [
        format!("/api/v1/transfers/{admins_transfer}"),
        format!("/api/v1/transfers/{admins_transfer}/cancel"),
    ] {
        let res = if path.ends_with("cancel") {
            app.post(&path, &json!({}), Some(&other.admin_token)).await
        } else {
            app.get(&path, Some(&other.admin_token)).await
        };
        problem(res, 404, "not_found").await;
    }
    problem(
        confirm(
            &app,
            &other.admin_token,
            &admins_transfer,
            json!({"transfer_password": TRANSFER}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    problem(
        app.get("/api/v1/transfers", Some(&company.operator_token))
            .await,
        403,
        "forbidden",
    )
    .await;
}

#[engine_test]
async fn five_wrong_transfer_passwords_lock_it(app: TestApp) {
    let company = app.company("acme").await;
    let id = create(&app, &company, &company.admin_token).await;
    for remaining in (1..=4).rev() {
        let p = problem(
            confirm(
                &app,
                &company.admin_token,
                &id,
                json!({"transfer_password": "Wrong-Pass-2026"}),
            )
            .await,
            422,
            "transfer_password_invalid",
        )
        .await;
        assert_eq!(p["remaining_attempts"], remaining);
    }
    problem(
        confirm(
            &app,
            &company.admin_token,
            &id,
            json!({"transfer_password": "Wrong-Pass-2026"}),
        )
        .await,
        423,
        "transfer_password_locked",
    )
    .await;
    problem(
        confirm(
            &app,
            &company.admin_token,
            &id,
            json!({"transfer_password": TRANSFER}),
        )
        .await,
        423,
        "transfer_password_locked",
    )
    .await;
    let me = body(app.get("/api/v1/me", Some(&company.admin_token)).await).await;
    assert_eq!(me["blocked_reason"], "transfer_password_locked");
    for b in [
        json!({}),
        json!({"otp": "123456", "transfer_password": TRANSFER}),
        json!({"otp": "12ab56"}),
    ] {
        problem(
            confirm(&app, &company.admin_token, &id, b).await,
            422,
            "validation_failed",
        )
        .await;
    }
}

#[engine_test]
async fn the_list_pages_newest_first_with_a_cursor(app: TestApp) {
    let company = app.company("acme").await;
    let mut created = Vec::new();
    for _ in 0..5 {
        created.push(create(&app, &company, &company.admin_token).await);
        app.advance(Duration::seconds(1));
    }
    created.reverse();
    let mut seen = Vec::new();
    let mut path = "/api/v1/transfers?limit=2".to_owned();
    loop {
        let page = body(app.get(&path, Some(&company.admin_token)).await).await;
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/transfers?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, created);
    for bad in [
        "limit=0",
        "limit=101",
        "limit=x",
        "status=done",
        "cursor=%%%",
    ] {
        let res = app
            .get(
                &format!("/api/v1/transfers?{bad}"),
                Some(&company.admin_token),
            )
            .await;
        assert!(matches!(res.status().as_u16(), 400 | 422), "{bad}");
        assert_eq!(body(res).await["code"], "validation_failed", "{bad}");
    }
}

#[engine_test]
async fn a_revoked_transfer_permission_stops_a_pending_transfer(app: TestApp) {
    let company = app.company("acme").await;
    let user = app.user(&company, "user.one").await;
    let session = app.token("user.one", PASSWORD).await;
    let id = create(&app, &company, &session).await;
    app.revoke_transfer_permission(&company, &user).await;
    let t = body(
        app.get(&format!("/api/v1/transfers/{id}"), Some(&session))
            .await,
    )
    .await;
    assert_eq!(
        t["confirmation"],
        json!({"method": "transfer_password", "ready": false, "blocked_reason": "no_transfer_permission"})
    );
    problem(
        confirm(&app, &session, &id, json!({"transfer_password": TRANSFER})).await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(
        app.audit_count("transfer_confirmation_failed", "failure")
            .await,
        1
    );
    let t = body(
        app.get(&format!("/api/v1/transfers/{id}"), Some(&session))
            .await,
    )
    .await;
    assert_eq!(t["status"], "pending_confirmation");
}

#[engine_test]
async fn the_bank_frees_the_administrator_s_locked_transfer_password(app: TestApp) {
    let company = app.company("acme").await;
    let id = create(&app, &company, &company.admin_token).await;
    for _ in 0..5 {
        confirm(
            &app,
            &company.admin_token,
            &id,
            json!({"transfer_password": "Wrong-Pass-2026"}),
        )
        .await;
    }
    problem(
        confirm(
            &app,
            &company.admin_token,
            &id,
            json!({"transfer_password": TRANSFER}),
        )
        .await,
        423,
        "transfer_password_locked",
    )
    .await;
    let path = format!("/api/v1/bank/companies/{}/admin/unlock", company.id);
    assert_eq!(
        app.post(&path, &json!({}), Some(&company.operator_token))
            .await
            .status(),
        200
    );
    assert_eq!(
        confirm(
            &app,
            &company.admin_token,
            &id,
            json!({"transfer_password": TRANSFER})
        )
        .await
        .status(),
        200
    );
}

#[engine_test]
async fn every_wrong_transfer_field_is_named_at_once(app: TestApp) {
    let company = app.company("acme").await;
    let mut b = transfer_body(&app, &company, 99_999_999);
    b["execution_date"] = json!("2020-01-01");
    b["memo"] = json!("m".repeat(60));
    b["payee"]["bank_code"] = json!("1");
    let p = problem(
        create_with(&app, &company.admin_token, "many", &b).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        fields(&p),
        ["payee.bank_code", "amount", "execution_date", "memo"]
    );
}

#[engine_test]
async fn another_companys_account_is_answered_as_a_mistyped_one_and_writes_nothing(app: TestApp) {
    let acme = app.company("acme").await;
    let beta = app.company("beta").await;
    let refused = |account: &str| {
        let mut b = transfer_body(&app, &acme, 1_000);
        b["debit_account"] = json!(account);
        let key = format!("k-{account}");
        let app = &app;
        let token = acme.admin_token.clone();
        async move {
            let p = problem(
                create_with(app, &token, &key, &b).await,
                422,
                "debit_account_unknown",
            )
            .await;
            (p["detail"].clone(), fields(&p))
        }
    };
    assert_eq!(refused(&beta.account).await, refused("999-9999999").await);
    // The key of the refused request is free: nothing was written under it.
    let b = transfer_body(&app, &acme, 1_000);
    let key = format!("k-{}", beta.account);
    assert_eq!(
        create_with(&app, &acme.admin_token, &key, &b)
            .await
            .status(),
        201
    );
    let list = body(app.get("/api/v1/transfers", Some(&acme.admin_token)).await).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
}
