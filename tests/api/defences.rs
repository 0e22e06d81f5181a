//! Hostile traffic, written as the attacks: guessing and locking sign-ins, floods, a
//! spoofed address, a tampered transfer, a key rotation with transfers in flight.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};
use webfb::clock::Clock;

use crate::helpers::*;
use webfb_test_macros::engine_test;

async fn sign_in(app: &TestApp, login_id: &str, password: &str) -> (u16, Value) {
    let res = app.login(login_id, password).await;
    let status = res.status().as_u16();
    let mut b = body(res).await;
    // Each answer names its own request; everything else must read alike.
    if let Some(fields) = b.as_object_mut() {
        fields.remove("request_id");
    }
    (status, b)
}

#[engine_test]
async fn an_unknown_a_wrong_and_a_locked_sign_in_are_answered_alike(app: TestApp) {
    let company = app.company("acme").await;
    app.user(&company, "sato.keiri").await;
    let unknown = sign_in(&app, "nobody.here", "Wrong-Pass-2026").await;
    let wrong = sign_in(&app, "sato.keiri", "Wrong-Pass-2026").await;
    for _ in 0..4 {
        sign_in(&app, "sato.keiri", "Wrong-Pass-2026").await;
    }
    // Locked now: neither a wrong nor even the right password is told apart.
    let locked_wrong = sign_in(&app, "sato.keiri", "Wrong-Pass-2026").await;
    let locked_right = sign_in(&app, "sato.keiri", PASSWORD).await;
    assert_eq!(unknown.0, 401);
    for answer in [&wrong, &locked_wrong, &locked_right] {
        assert_eq!(answer, &unknown);
    }
    assert_eq!(unknown.1["code"], "invalid_credentials");
    assert_eq!(app.audit_count("login_locked", "success").await, 1);
}

#[engine_test]
async fn sign_in_locks_last_fifteen_minutes_then_an_hour_then_until_lifted(app: TestApp) {
    let company = app.company("acme").await;
    let user_id = app.user(&company, "sato.keiri").await;
    let lock = || async {
        for _ in 0..5 {
            sign_in(&app, "sato.keiri", "Wrong-Pass-2026").await;
        }
    };
    let right = || async { sign_in(&app, "sato.keiri", PASSWORD).await.0 };

    lock().await;
    app.advance(Duration::minutes(15) - Duration::seconds(1));
    assert_eq!(right().await, 401, "locked for fifteen minutes");
    app.advance(Duration::seconds(1));
    // A guesser who kept trying while it was locked locks it again, for longer.
    lock().await;
    app.advance(Duration::minutes(59));
    assert_eq!(right().await, 401, "the second lock in a row lasts an hour");
    app.advance(Duration::minutes(1));
    lock().await;
    app.advance(Duration::days(30));
    assert_eq!(
        right().await,
        401,
        "the third lock in a row lasts until it is lifted"
    );
    assert_eq!(app.audit_count("login_locked", "success").await, 3);

    let admin = app.token(&company.admin_login_id, PASSWORD).await;
    let res = app
        .post(
            &format!("/api/v1/users/{user_id}/unlock"),
            &json!({}),
            Some(&admin),
        )
        .await;
    assert_eq!(body(res).await["login_locked"], false);
    assert_eq!(right().await, 200);
}

#[engine_test]
async fn a_lapsed_lock_lets_the_owner_in_and_their_success_ends_the_streak(app: TestApp) {
    let company = app.company("acme").await;
    app.user(&company, "sato.keiri").await;
    for round in 0..3 {
        for _ in 0..5 {
            sign_in(&app, "sato.keiri", "Wrong-Pass-2026").await;
        }
        app.advance(Duration::minutes(15));
        // Each lock is the first of a streak again: the owner got in after the last.
        assert_eq!(
            sign_in(&app, "sato.keiri", PASSWORD).await.0,
            200,
            "round {round}"
        );
    }
}

#[engine_test]
async fn a_sign_in_flood_is_throttled_and_other_people_still_get_in(app: TestApp) {
    let app = spawn_app_with(app.engine(), |s| {
        s.policy.checks_per_subject_per_minute = 5;
        s.policy.login_lockout_threshold = 1000;
    })
    .await;
    let company = app.company("acme").await;
    app.user(&company, "sato.keiri").await;
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..20 {
        let res = app.login("sato.keiri", "Wrong-Pass-2026").await;
        statuses.push(res.status().as_u16());
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            retry_after = res.headers().get("retry-after").cloned();
            problem(res, 429, "too_many_requests").await;
        }
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        15,
        "{statuses:?}"
    );
    let seconds: u64 = retry_after.unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&seconds));
    // Throttling the guessed login ID costs nobody else anything.
    assert_eq!(
        app.login(&company.admin_login_id, PASSWORD).await.status(),
        200
    );
    assert_eq!(
        app.get("/api/v1/me", Some(&company.admin_token))
            .await
            .status(),
        200
    );
}

#[engine_test]
async fn one_address_trying_many_login_ids_is_throttled(app: TestApp) {
    let app = spawn_app_with(app.engine(), |s| {
        s.policy.checks_per_addr_per_minute = 10;
    })
    .await;
    let mut throttled = 0;
    for n in 0..30 {
        let res = app.login(&format!("guess.{n}"), "Wrong-Pass-2026").await;
        throttled += usize::from(res.status() == StatusCode::TOO_MANY_REQUESTS);
    }
    assert_eq!(throttled, 20);
}

#[engine_test]
async fn a_forwarded_address_is_believed_only_from_a_trusted_proxy(app: TestApp) {
    let spoof = |app: &TestApp| {
        app.client
            .post(app.url("/api/v1/auth/login"))
            .header("X-Forwarded-For", "203.0.113.66")
            .json(&json!({"login_id": "nobody.here", "password": "Wrong-Pass-2026"}))
            .send()
    };
    spoof(&app).await.unwrap();
    let behind_proxy = app
        .second_instance_with(|s| s.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()])
        .await;
    app.client
        .post(format!("{behind_proxy}/api/v1/auth/login"))
        .header("X-Forwarded-For", "198.51.100.1, 203.0.113.66")
        .json(&json!({"login_id": "nobody.here", "password": "Wrong-Pass-2026"}))
        .send()
        .await
        .unwrap();
    let addrs: Vec<Option<String>> = app
        .with_db(|conn, _| {
            use diesel::prelude::*;
            use webfb::db::schema::audit_events::dsl as e;
            e::audit_events
                .filter(e::action.eq("login"))
                .order(e::id.asc())
                .select(e::client_addr)
                .load(conn)
                .unwrap()
        })
        .await;
    assert_eq!(
        addrs,
        [
            Some("127.0.0.1".to_owned()),
            Some("203.0.113.66".to_owned())
        ],
        "the untrusted peer's header is ignored; the proxy's nearest hop is the client"
    );
}

#[engine_test]
async fn a_bank_operator_locked_by_a_guesser_is_unlocked_by_another(app: TestApp) {
    let other = app.operator_token("op.suzuki").await;
    app.operator_token("op.tanaka").await;
    let wrong = json!({"login_id": "op.tanaka", "password": "Wrong-Pass-2026"});
    for _ in 0..5 {
        app.post("/api/v1/bank/auth/login", &wrong, None).await;
    }
    let right = json!({"login_id": "op.tanaka", "password": PASSWORD});
    problem(
        app.post("/api/v1/bank/auth/login", &right, None).await,
        401,
        "invalid_credentials",
    )
    .await;

    let list = body(app.get("/api/v1/bank/operators", Some(&other)).await).await;
    let tanaka = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["login_id"] == "op.tanaka")
        .unwrap();
    assert_eq!(tanaka["locked"], true);
    let id = tanaka["id"].as_str().unwrap();
    let res = app.carry_out(&other, "operator_unlock", id).await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["status"], "carried_out");
    assert_eq!(app.audit_count("operator_unlocked", "success").await, 1);
    assert_eq!(
        app.post("/api/v1/bank/auth/login", &right, None)
            .await
            .status(),
        200
    );
}

#[engine_test]
async fn a_tampered_transfer_is_refused_with_a_stable_code_and_flagged(app: TestApp) {
    let company = app.company("acme").await;
    let id = create_transfer(&app, &company).await;
    let target = id.clone();
    app.with_db(move |conn, _| {
        use diesel::prelude::*;
        use webfb::db::schema::transfers::dsl as t;
        diesel::update(t::transfers.find(&target))
            .set(t::payee_account_number.eq("9999999"))
            .execute(conn)
            .unwrap();
    })
    .await;
    let res = app
        .post(
            &format!("/api/v1/transfers/{id}/confirm"),
            &json!({"transfer_password": TRANSFER}),
            Some(&company.admin_token),
        )
        .await;
    problem(res, 409, "transfer_tampered").await;
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("webfb_transfers_tampered_total 1"),
        "{metrics}"
    );
    let flagged: Vec<bool> = app
        .with_db(|conn, _| {
            use diesel::prelude::*;
            use webfb::db::schema::audit_events::dsl as e;
            e::audit_events
                .filter(e::action.eq("transfer_tampered"))
                .select(e::flagged)
                .load(conn)
                .unwrap()
        })
        .await;
    assert_eq!(flagged, [true]);
}

#[engine_test]
async fn a_transfer_created_before_a_key_rotation_is_confirmed_after_it(app: TestApp) {
    use secrecy::SecretBox;

    let company = app.company("acme").await;
    let token = app.activate(&company, "per_user").await;
    let id = create_transfer(&app, &company).await;
    // The next release rolls out with a new master key; the old one stays as a previous key.
    let old_key = app.key;
    let rotated = app
        .second_instance_with(move |s| {
            s.master_key = SecretBox::new(Box::new([7u8; 32]));
            s.master_key_id = "k2".into();
            s.previous_master_keys = vec![("test".into(), SecretBox::new(Box::new(old_key)))];
        })
        .await;
    let res = app
        .client
        .post(format!("{rotated}/api/v1/transfers/{id}/confirm"))
        .bearer_auth(&company.admin_token)
        .json(&json!({"otp": token.code(&app, 0)}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", body(res).await);
}

#[engine_test]
async fn an_exchange_refused_for_a_wrong_old_code_leaves_the_new_code_unspent(app: TestApp) {
    let company = app.company("acme").await;
    let old = app.activate(&company, "per_user").await;
    let new = app.issue_token(&company.admin_token).await;
    let exchange = |current: String| {
        let b = json!({"current_otp": current, "new_token_id": new.token_id, "new_otp": new.code(&app, 0)});
        let (app, token) = (&app, company.admin_token.clone());
        async move {
            app.post("/api/v1/me/token/exchange", &b, Some(&token))
                .await
        }
    };
    problem(exchange(old.wrong_code(&app)).await, 422, "otp_invalid").await;
    // The same new code, with the right old one: the new code was never spent.
    assert_eq!(exchange(old.code(&app, 0)).await.status(), 200);
}

#[engine_test]
async fn a_retried_create_is_answered_the_first_result_even_after_midnight(app: TestApp) {
    let company = app.company("acme").await;
    let today = (app.clock.now() + Duration::hours(9)).date_naive();
    let b = json!({
        "debit_account": company.account,
        "payee": {"bank_code": "0001", "branch_code": "123", "account_type": "ordinary", "account_number": "7654321", "name": "ﾔﾏﾀﾞ"},
        "amount": 1000,
        "execution_date": today.to_string(),
    });
    let send = || {
        app.client
            .post(app.url("/api/v1/transfers"))
            .bearer_auth(&company.admin_token)
            .header("Idempotency-Key", "retry-over-midnight")
            .json(&b)
            .send()
    };
    let first = body(send().await.unwrap()).await;
    app.advance(Duration::hours(24));
    // The session has long ended; a new one retries the same request.
    let company = Company {
        admin_token: app.token(&company.admin_login_id, PASSWORD).await,
        ..company
    };
    let retried = app
        .client
        .post(app.url("/api/v1/transfers"))
        .bearer_auth(&company.admin_token)
        .header("Idempotency-Key", "retry-over-midnight")
        .json(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(retried.status(), 201);
    assert_eq!(body(retried).await["id"], first["id"]);
}

#[engine_test]
async fn text_that_would_show_otherwise_than_it_is_stored_is_refused(app: TestApp) {
    let company = app.company("acme").await;
    let res = app
        .client
        .post(app.url("/api/v1/transfers"))
        .bearer_auth(&company.admin_token)
        .header("Idempotency-Key", "bidi")
        .json(&json!({
            "debit_account": company.account,
            "payee": {"bank_code": "0001", "branch_code": "123", "account_type": "ordinary", "account_number": "7654321", "name": "ﾔﾏﾀﾞ"},
            "amount": 1000,
            "execution_date": ((app.clock.now() + Duration::hours(9)).date_naive()).to_string(),
            "memo": "invoice \u{202E}1000",
        }))
        .send()
        .await
        .unwrap();
    let p = problem(res, 422, "validation_failed").await;
    assert_eq!(fields(&p), ["memo"]);
}

#[engine_test]
async fn a_company_cannot_pile_up_unregistered_tokens(app: TestApp) {
    let app = spawn_app_with(app.engine(), |s| s.policy.max_pending_tokens = 3).await;
    let company = app.company("acme").await;
    for _ in 0..3 {
        app.issue_token(&company.admin_token).await;
    }
    let res = app
        .post(
            "/api/v1/soft-tokens",
            &json!({}),
            Some(&company.admin_token),
        )
        .await;
    problem(res, 409, "too_many_pending_tokens").await;
    app.advance(Duration::days(8));
    let company = Company {
        admin_token: app.token(&company.admin_login_id, PASSWORD).await,
        ..company
    };
    app.issue_token(&company.admin_token).await;
}

#[engine_test]
async fn an_answer_without_a_valid_session_names_the_bearer_scheme(app: TestApp) {
    let res = app.get("/api/v1/me", None).await;
    assert_eq!(res.headers()["www-authenticate"], "Bearer realm=\"webfb\"");
    let company = app.company("acme").await;
    app.post(
        "/api/v1/auth/logout",
        &json!({}),
        Some(&company.admin_token),
    )
    .await;
    let res = app.get("/api/v1/me", Some(&company.admin_token)).await;
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
}

/// A transfer as read, and the audit event of its confirmation, ready to be written.
fn pending_and_its_event(
    conn: &mut webfb::db::DbConn,
    svc: &webfb::service::Services,
    company_id: &str,
    id: &str,
) -> (
    webfb::domain::transfer::Transfer,
    (webfb::domain::audit::AuditEvent, webfb::db::audit::RowMac),
) {
    use webfb::domain::audit::{ActorKind, AuditAction, Event, Outcome};
    let t = webfb::db::transfers::visible(conn, company_id, id)
        .unwrap()
        .unwrap();
    let event = Event::new(
        AuditAction::TransferConfirmed,
        Outcome::Success,
        ActorKind::Person,
    );
    (t, webfb::service::audit::untold(svc, event).unwrap())
}

#[engine_test]
async fn the_statements_that_confirm_judge_permission_method_and_holder_themselves(app: TestApp) {
    use diesel::Connection;
    use webfb::domain::transfer::ConfirmationMethod;
    let company = app.company("acme").await;
    app.activate(&company, "per_user").await;
    let user_id = app.user(&company, "sato.keiri").await;
    app.give_token(&company, &user_id).await;
    let user = app.token("sato.keiri", PASSWORD).await;
    let id = create_transfer(
        &app,
        &Company {
            admin_token: user,
            ..company.clone()
        },
    )
    .await;
    // What a confirmation read a moment ago no longer holds when it writes: the permission
    // is revoked and the user's token unregistered in between.
    app.revoke_transfer_permission(&company, &user_id).await;
    let held = app
        .with_db({
            let user_id = user_id.clone();
            move |conn, _| {
                webfb::db::soft_tokens::held_by(conn, &user_id)
                    .unwrap()
                    .unwrap()
            }
        })
        .await;
    let res = app
        .post(
            "/api/v1/otp/unregistrations",
            &json!({"user_ids": [user_id], "approval_password": APPROVAL}),
            Some(&company.admin_token),
        )
        .await;
    assert_eq!(res.status(), 200);
    let company_id = company.id.clone();
    let (confirmed, spent) = app
        .with_db(move |conn, svc| {
            let (t, recorded) = pending_and_its_event(conn, svc, &company_id, &id);
            // As the service does: nothing confirmed, nothing kept.
            let confirmed = conn.transaction(|conn| {
                let confirmed = webfb::db::transfers::confirm(
                    conn,
                    &t,
                    (ConfirmationMethod::Otp, true),
                    (None, webfb::db::transfers::Then::Confirmed),
                    Some(1),
                    svc.now(),
                    recorded,
                )?;
                confirmed.ok_or(diesel::result::Error::RollbackTransaction)
            });
            let confirmed = match confirmed {
                Err(diesel::result::Error::RollbackTransaction) => false,
                other => other.map(|_| true).unwrap(),
            };
            let step = webfb::db::soft_tokens::StepUse {
                id: "an-attempt",
                token: &held.id,
                step: i64::MAX,
                used_by: &user_id,
                purpose: webfb::domain::soft_token::Purpose::TransferConfirmation,
                transfer_id: None,
                at: svc.now(),
            };
            let spent = webfb::db::soft_tokens::spend_step(conn, Some(&user_id), step).unwrap();
            (confirmed, spent)
        })
        .await;
    assert!(
        !confirmed,
        "a revoked permission stops the confirming statement itself"
    );
    assert!(!spent, "a token no longer held cannot spend a step");
}

#[engine_test]
async fn seeds_resealed_under_a_new_key_need_the_old_one_no_more(app: TestApp) {
    use secrecy::SecretBox;
    use webfb::db::Db;

    let company = app.company("acme").await;
    app.set_mode(&company, "per_user").await;
    let token = app.issue_token(&company.admin_token).await;
    app.issue_token(&company.admin_token).await;
    let old_key = app.key;
    let rotate = move |s: &mut webfb::config::Settings, keep_old: bool| {
        s.master_key = SecretBox::new(Box::new([7u8; 32]));
        s.master_key_id = "k2".into();
        s.previous_master_keys = match keep_old {
            true => vec![("test".into(), SecretBox::new(Box::new(old_key)))],
            false => vec![],
        };
    };
    let mut settings = app.settings();
    rotate(&mut settings, true);
    let clock = app.clock.clone();
    let resealed = tokio::task::spawn_blocking(move || {
        let services = webfb::service::Services::new(&settings, clock).unwrap();
        let mut conn = settings.database.connect().unwrap();
        webfb::service::tokens::reseal(&mut Db::single(&mut conn), &services).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(resealed, 2);
    // An instance with the new key alone starts (every seed opens) and accepts the codes.
    let new_only = app.second_instance_with(move |s| rotate(s, false)).await;
    let res = app
        .client
        .put(format!("{new_only}/api/v1/otp/admin-token"))
        .bearer_auth(&company.admin_token)
        .json(&json!({"token_id": token.token_id, "otp": token.code(&app, 0), "approval_password": APPROVAL}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", body(res).await);
}

#[engine_test]
async fn a_confirmation_written_at_once_keeps_neither_its_step_nor_the_transfer_when_either_changed(
    app: TestApp,
) {
    use webfb::db::soft_tokens::StepUse;
    use webfb::domain::soft_token::Purpose;
    use webfb::domain::transfer::{ConfirmationMethod, TransferStatus};
    let company = app.company("acme").await;
    app.activate(&company, "per_user").await;
    let user_id = app.user(&company, "sato.keiri").await;
    app.give_token(&company, &user_id).await;
    let user = Company {
        admin_token: app.token("sato.keiri", PASSWORD).await,
        ..company.clone()
    };
    let create = || create_transfer(&app, &user);
    let (cancelled, first, second) = (create().await, create().await, create().await);
    let res = app
        .post(
            &format!("/api/v1/transfers/{cancelled}/cancel"),
            &json!({}),
            Some(&user.admin_token),
        )
        .await;
    assert_eq!(res.status(), 200);
    let company_id = company.id.clone();
    let (written, second_status) = app
        .with_db(move |conn, svc| {
            let token = webfb::db::soft_tokens::held_by(conn, &user_id)
                .unwrap()
                .unwrap();
            let mut confirm = |transfer_id: &str, ledger_id: &str| {
                let (t, recorded) = pending_and_its_event(conn, svc, &company_id, transfer_id);
                let spent = StepUse {
                    id: ledger_id,
                    token: &token.id,
                    step: i64::MAX,
                    used_by: &user_id,
                    purpose: Purpose::TransferConfirmation,
                    transfer_id: Some(transfer_id),
                    at: svc.now(),
                };
                webfb::db::transfers::confirm_spending(
                    conn,
                    &t,
                    (ConfirmationMethod::Otp, true),
                    None,
                    svc.now(),
                    recorded,
                    (Some(&user_id), spent),
                )
                .unwrap()
                .is_some()
            };
            // One step for three transfers, the first cancelled after it was read.
            let written = [
                confirm(&cancelled, "use-1"),
                confirm(&first, "use-2"),
                confirm(&second, "use-3"),
            ];
            let second = webfb::db::transfers::visible(conn, &company_id, &second)
                .unwrap()
                .unwrap();
            (written, second.status)
        })
        .await;
    assert_eq!(
        written,
        [false, true, false],
        "a cancelled transfer keeps the step unspent, the next transfer spends it, and a \
         spent step confirms nothing"
    );
    assert_eq!(second_status, TransferStatus::PendingConfirmation);
}
