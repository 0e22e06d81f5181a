//! Four eyes on transfers: the approval policy, approvals with each approver's own code,
//! rejection, and the races between approvers.

use chrono::Duration;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use webfb::clock::Clock;

use crate::helpers::*;
use webfb_test_macros::engine_test;

async fn put_policy(app: &TestApp, session: &str, b: &Value) -> Response {
    let path = "/api/v1/approval-policy";
    app.send(Method::PUT, path, Some(b), Some(session)).await
}

/// Sets the company's policy: transfers from `min_amount` yen need `approvals` approvals.
async fn set_policy(app: &TestApp, company: &Company, min_amount: i64, approvals: i32) -> Response {
    let b = json!({"enabled": true, "min_amount": min_amount,
                   "approvals_required": approvals, "approval_password": APPROVAL});
    put_policy(app, &company.admin_token, &b).await
}

/// A user of the company, with the approver permission when `approver`; their session.
async fn person(
    app: &TestApp,
    company: &Company,
    login_id: &str,
    approver: bool,
) -> (String, String) {
    let id = app.user(company, login_id).await;
    if approver {
        let res = app
            .patch(
                &format!("/api/v1/users/{id}"),
                &json!({"can_approve": true}),
                Some(&company.admin_token),
            )
            .await;
        assert_eq!(body(res).await["can_approve"], true);
    }
    (id.clone(), app.token(login_id, PASSWORD).await)
}

/// Creates a transfer of `amount` yen by the signed-in `session`; its id.
async fn create(app: &TestApp, company: &Company, session: &str, amount: i64) -> String {
    let today = (app.clock.now() + Duration::hours(9)).date_naive();
    let b = json!({
        "debit_account": company.account,
        "payee": {"bank_code": "0001", "branch_code": "123", "account_type": "ordinary",
                  "account_number": "7654321", "name": "ｶ)ﾔﾏﾀﾞｼﾖｳｼﾞ"},
        "amount": amount,
        "execution_date": (today + Duration::days(1)).to_string(),
    });
    let res = app
        .client
        .post(app.url("/api/v1/transfers"))
        .bearer_auth(session)
        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
        .json(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    body(res).await["id"].as_str().unwrap().to_owned()
}

async fn act(app: &TestApp, session: &str, id: &str, what: &str, b: Value) -> Response {
    app.post(&format!("/api/v1/transfers/{id}/{what}"), &b, Some(session))
        .await
}

async fn ok(res: Response) -> Value {
    let status = res.status();
    let b = body(res).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    b
}

/// A per_user company with OTP active, a creator and an approver each holding a token.
struct Desk {
    company: Company,
    admin: Token,
    creator: (String, String, Token),
    checker: (String, String, Token),
}

async fn desk(app: &TestApp) -> Desk {
    let company = app.company("acme").await;
    let admin = app.activate(&company, "per_user").await;
    let (creator_id, creator) = person(app, &company, "maker.one", false).await;
    let (checker_id, checker) = person(app, &company, "checker.one", true).await;
    let creator_token = app.give_token(&company, &creator_id).await;
    let checker_token = app.give_token(&company, &checker_id).await;
    app.next_step();
    Desk {
        company,
        admin,
        creator: (creator_id, creator, creator_token),
        checker: (checker_id, checker, checker_token),
    }
}

/// Created and confirmed by the desk's creator with a code.
async fn confirmed_by_creator(app: &TestApp, d: &Desk, amount: i64) -> Value {
    let id = create(app, &d.company, &d.creator.1, amount).await;
    let code = d.creator.2.code(app, 0);
    ok(act(app, &d.creator.1, &id, "confirm", json!({"otp": code})).await).await
}

#[engine_test]
async fn without_a_policy_the_creator_s_confirmation_is_final_and_no_approval_is_shown(
    app: TestApp,
) {
    let d = desk(&app).await;
    let policy = ok(app.get("/api/v1/approval-policy", Some(&d.creator.1)).await).await;
    assert_eq!(
        policy,
        json!({"enabled": false, "min_amount": null, "approvals_required": null})
    );
    let t = confirmed_by_creator(&app, &d, 5_000_000).await;
    assert_eq!(t["status"], "confirmed");
    assert!(t.get("approval").is_none(), "{t}");
}

#[engine_test]
async fn the_administrator_sets_the_policy_with_the_approval_password_only(app: TestApp) {
    let d = desk(&app).await;
    let wrong = json!({"enabled": true, "min_amount": 0, "approvals_required": 1,
                       "approval_password": "Wrong-Approval-1"});
    let res = put_policy(&app, &d.company.admin_token, &wrong).await;
    problem(res, 422, "approval_password_invalid").await;
    let by_user = json!({"enabled": false, "approval_password": APPROVAL});
    let res = put_policy(&app, &d.checker.1, &by_user).await;
    problem(res, 403, "forbidden").await;
    let bad = json!({"enabled": true, "min_amount": -1, "approvals_required": 3,
                     "approval_password": APPROVAL});
    let p = problem(
        put_policy(&app, &d.company.admin_token, &bad).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["min_amount", "approvals_required"]);
    let missing = json!({"enabled": true, "approval_password": APPROVAL});
    let p = problem(
        put_policy(&app, &d.company.admin_token, &missing).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["min_amount", "approvals_required"]);

    let set = ok(set_policy(&app, &d.company, 1_000_000, 2).await).await;
    assert_eq!(
        set,
        json!({"enabled": true, "min_amount": 1_000_000, "approvals_required": 2})
    );
    assert_eq!(
        ok(app.get("/api/v1/approval-policy", Some(&d.creator.1)).await).await,
        set
    );
    assert_eq!(app.audit_count("approval_policy_set", "success").await, 1);
}

#[engine_test]
async fn from_the_threshold_up_a_transfer_waits_and_one_approval_confirms_it(app: TestApp) {
    let d = desk(&app).await;
    ok(set_policy(&app, &d.company, 1_000_000, 1).await).await;

    let below = confirmed_by_creator(&app, &d, 999_999).await;
    assert_eq!(below["status"], "confirmed");
    app.next_step();
    let t = confirmed_by_creator(&app, &d, 1_000_000).await;
    let id = t["id"].as_str().unwrap();
    assert_eq!(t["status"], "pending_approval");
    assert!(t["confirmed_at"].is_null(), "{t}");
    assert_eq!(
        t["approval"],
        json!({"required": 1, "given": 0, "decisions": []})
    );

    // What awaits whom: the checker sees it, the creator has nothing to approve.
    let awaiting = "/api/v1/transfers?awaiting_my_approval=true";
    let list = ok(app.get(awaiting, Some(&d.checker.1)).await).await;
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id]);
    let list = ok(app.get(awaiting, Some(&d.creator.1)).await).await;
    assert_eq!(list["items"], json!([]));
    let pending = ok(app
        .get(
            "/api/v1/transfers?status=pending_approval",
            Some(&d.company.admin_token),
        )
        .await)
    .await;
    assert_eq!(pending["items"].as_array().unwrap().len(), 1);

    let code = d.checker.2.code(&app, 0);
    let done = ok(act(&app, &d.checker.1, id, "approve", json!({"otp": code})).await).await;
    assert_eq!(done["status"], "confirmed");
    assert!(done["confirmed_at"].is_string(), "{done}");
    assert_eq!(done["approval"]["given"], 1);
    let decision = &done["approval"]["decisions"][0];
    assert_eq!(
        (
            decision["person_id"].as_str(),
            decision["decision"].as_str(),
            decision["method"].as_str()
        ),
        (Some(d.checker.0.as_str()), Some("approved"), Some("otp"))
    );
    let list = ok(app.get(awaiting, Some(&d.checker.1)).await).await;
    assert_eq!(list["items"], json!([]));
    assert_eq!(
        app.audit_count("transfer_awaiting_approval", "success")
            .await,
        1
    );
    assert_eq!(app.audit_count("transfer_approved", "success").await, 1);
}

#[engine_test]
async fn two_approvals_come_from_two_people_neither_of_them_the_creator(app: TestApp) {
    let d = desk(&app).await;
    ok(set_policy(&app, &d.company, 0, 2).await).await;
    let t = confirmed_by_creator(&app, &d, 10_000).await;
    let id = t["id"].as_str().unwrap();
    assert_eq!(t["approval"]["required"], 2);

    // The creator holds no approver permission, and would not approve their own anyway.
    let res = act(
        &app,
        &d.creator.1,
        id,
        "approve",
        json!({"otp": d.creator.2.code(&app, 1)}),
    )
    .await;
    problem(res, 403, "own_transfer").await;
    let first = ok(act(
        &app,
        &d.checker.1,
        id,
        "approve",
        json!({"otp": d.checker.2.code(&app, 0)}),
    )
    .await)
    .await;
    assert_eq!(
        (
            first["status"].as_str(),
            first["approval"]["given"].as_i64()
        ),
        (Some("pending_approval"), Some(1))
    );
    app.next_step();
    let res = act(
        &app,
        &d.checker.1,
        id,
        "approve",
        json!({"otp": d.checker.2.code(&app, 0)}),
    )
    .await;
    problem(res, 409, "already_decided").await;
    let last = ok(act(
        &app,
        &d.company.admin_token,
        id,
        "approve",
        json!({"otp": d.admin.code(&app, 0)}),
    )
    .await)
    .await;
    assert_eq!(last["status"], "confirmed");
    assert_eq!(last["approval"]["decisions"].as_array().unwrap().len(), 2);
    // The checker's refused second try spent nothing: their token's next code still works.
    assert_eq!(app.audit_count("transfer_approved", "success").await, 2);
    assert_eq!(
        app.audit_count("transfer_approval_failed", "failure").await,
        2
    );
}

#[engine_test]
async fn a_waiting_transfer_follows_the_policy_as_it_stands_and_its_creator_s_permission(
    app: TestApp,
) {
    let d = desk(&app).await;
    ok(set_policy(&app, &d.company, 0, 2).await).await;
    let t = confirmed_by_creator(&app, &d, 10_000).await;
    let id = t["id"].as_str().unwrap();
    let code = d.checker.2.code(&app, 0);
    ok(act(&app, &d.checker.1, id, "approve", json!({"otp": code})).await).await;
    // Lowered to one approval: the one given is enough once another approval comes.
    ok(set_policy(&app, &d.company, 0, 1).await).await;
    let admin = d.admin.code(&app, 0);
    let done = ok(act(
        &app,
        &d.company.admin_token,
        id,
        "approve",
        json!({"otp": admin}),
    )
    .await)
    .await;
    assert_eq!(done["status"], "confirmed");

    // A creator stripped of the transfer permission: the last approval does not confirm.
    app.next_step();
    let t = confirmed_by_creator(&app, &d, 20_000).await;
    let id = t["id"].as_str().unwrap();
    app.revoke_transfer_permission(&d.company, &d.creator.0)
        .await;
    let code = d.checker.2.code(&app, 0);
    let res = act(&app, &d.checker.1, id, "approve", json!({"otp": code})).await;
    problem(res, 403, "forbidden").await;
    let still = ok(app
        .get(
            &format!("/api/v1/transfers/{id}"),
            Some(&d.company.admin_token),
        )
        .await)
    .await;
    assert_eq!(still["status"], "pending_approval");
}

#[engine_test]
async fn an_approver_rejects_with_a_reason_and_the_rejection_is_final(app: TestApp) {
    let d = desk(&app).await;
    ok(set_policy(&app, &d.company, 0, 1).await).await;
    let t = confirmed_by_creator(&app, &d, 10_000).await;
    let id = t["id"].as_str().unwrap();
    let p = problem(
        act(&app, &d.checker.1, id, "reject", json!({"reason": " "})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["reason"]);
    let reason = "payee account differs from the invoice";
    let r = ok(act(&app, &d.checker.1, id, "reject", json!({"reason": reason})).await).await;
    assert_eq!(r["status"], "rejected");
    assert_eq!(r["approval"]["decisions"][0]["decision"], "rejected");
    assert_eq!(r["approval"]["decisions"][0]["reason"], reason);
    let res = act(
        &app,
        &d.company.admin_token,
        id,
        "approve",
        json!({"otp": d.admin.code(&app, 0)}),
    )
    .await;
    problem(res, 409, "not_awaiting_approval").await;
    let res = act(&app, &d.creator.1, id, "cancel", json!({})).await;
    problem(res, 409, "transfer_not_pending").await;
    assert_eq!(app.audit_count("transfer_rejected", "success").await, 1);
}

#[engine_test]
async fn a_revoked_approver_permission_is_refused_when_the_approval_is_given(app: TestApp) {
    let d = desk(&app).await;
    ok(set_policy(&app, &d.company, 0, 1).await).await;
    let t = confirmed_by_creator(&app, &d, 10_000).await;
    let id = t["id"].as_str().unwrap();
    let res = app
        .patch(
            &format!("/api/v1/users/{}", d.checker.0),
            &json!({"can_approve": false}),
            Some(&d.company.admin_token),
        )
        .await;
    assert_eq!(body(res).await["can_approve"], false);
    let res = act(
        &app,
        &d.checker.1,
        id,
        "approve",
        json!({"otp": d.checker.2.code(&app, 0)}),
    )
    .await;
    problem(res, 403, "no_approver_permission").await;
    let list = ok(app
        .get(
            "/api/v1/transfers?awaiting_my_approval=true",
            Some(&d.checker.1),
        )
        .await)
    .await;
    assert_eq!(list["items"], json!([]));

    // The counting statement judges the permission itself, whatever was read before it.
    let (checker, company_id) = (d.checker.0.clone(), d.company.id.clone());
    let id2 = id.to_owned();
    let counted = app
        .with_db(move |conn, svc| {
            let t = webfb::db::transfers::visible(conn, &company_id, &id2)
                .unwrap()
                .unwrap();
            webfb::db::transfers::approve(conn, &t, &checker, 1, svc.now()).unwrap()
        })
        .await;
    assert_eq!(counted, None);
    let still = ok(app
        .get(
            &format!("/api/v1/transfers/{id}"),
            Some(&d.company.admin_token),
        )
        .await)
    .await;
    assert_eq!(still["status"], "pending_approval");
}

#[engine_test(spawn_app_with_an_hour_to_approve)]
async fn a_transfer_waiting_for_approvals_expires_or_is_cancelled(app: TestApp) {
    let d = desk(&app).await;
    ok(set_policy(&app, &d.company, 0, 1).await).await;
    let t = confirmed_by_creator(&app, &d, 10_000).await;
    let cancelled_id = t["id"].as_str().unwrap().to_owned();
    // An approver sees it but only its creator or the administrator cancels it.
    let res = act(&app, &d.checker.1, &cancelled_id, "cancel", json!({})).await;
    problem(res, 403, "forbidden").await;
    let c = ok(act(&app, &d.creator.1, &cancelled_id, "cancel", json!({})).await).await;
    assert_eq!(c["status"], "cancelled");
    let res = act(
        &app,
        &d.checker.1,
        &cancelled_id,
        "approve",
        json!({"otp": d.checker.2.code(&app, 0)}),
    )
    .await;
    problem(res, 409, "not_awaiting_approval").await;

    app.next_step();
    let t = confirmed_by_creator(&app, &d, 20_000).await;
    let id = t["id"].as_str().unwrap();
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(t["expires_at"].as_str().unwrap()).unwrap(),
        app.clock.now() + Duration::hours(1)
    );
    app.advance(Duration::hours(1) + Duration::seconds(1));
    // Sessions idled out meanwhile: both sign in again.
    let checker = app.token("checker.one", PASSWORD).await;
    let creator = app.token("maker.one", PASSWORD).await;
    let res = act(
        &app,
        &checker,
        id,
        "approve",
        json!({"otp": d.checker.2.code(&app, 0)}),
    )
    .await;
    problem(res, 409, "transfer_expired").await;
    let seen = ok(app
        .get(&format!("/api/v1/transfers/{id}"), Some(&creator))
        .await)
    .await;
    assert_eq!(seen["status"], "expired");
}

#[engine_test]
async fn in_shared_mode_an_approval_needs_another_person_and_a_fresh_step(app: TestApp) {
    let company = app.company("acme").await;
    let shared = app.activate(&company, "shared").await;
    let (_, creator) = person(&app, &company, "maker.one", false).await;
    let (_, checker) = person(&app, &company, "checker.one", true).await;
    ok(set_policy(&app, &company, 0, 1).await).await;
    let id = create(&app, &company, &creator, 10_000).await;
    let code = shared.code(&app, 0);
    let t = ok(act(&app, &creator, &id, "confirm", json!({"otp": code})).await).await;
    assert_eq!(t["status"], "pending_approval");
    // The same token, the same code: already spent by the confirmation.
    problem(
        act(&app, &checker, &id, "approve", json!({"otp": code})).await,
        409,
        "otp_replayed",
    )
    .await;
    app.next_step();
    let done = ok(act(
        &app,
        &checker,
        &id,
        "approve",
        json!({"otp": shared.code(&app, 0)}),
    )
    .await)
    .await;
    assert_eq!(done["status"], "confirmed");
}

#[engine_test]
async fn while_otp_is_inactive_approvers_approve_with_their_transfer_password(app: TestApp) {
    let company = app.company("acme").await;
    let (_, creator) = person(&app, &company, "maker.one", false).await;
    let (_, checker) = person(&app, &company, "checker.one", true).await;
    ok(set_policy(&app, &company, 0, 1).await).await;
    let id = create(&app, &company, &creator, 10_000).await;
    let t = ok(act(
        &app,
        &creator,
        &id,
        "confirm",
        json!({"transfer_password": TRANSFER}),
    )
    .await)
    .await;
    assert_eq!(t["status"], "pending_approval");
    problem(
        act(&app, &checker, &id, "approve", json!({"otp": "123456"})).await,
        422,
        "transfer_password_required",
    )
    .await;
    problem(
        act(
            &app,
            &checker,
            &id,
            "approve",
            json!({"transfer_password": "Wrong-Transfer-1"}),
        )
        .await,
        422,
        "transfer_password_invalid",
    )
    .await;
    let done = ok(act(
        &app,
        &checker,
        &id,
        "approve",
        json!({"transfer_password": TRANSFER}),
    )
    .await)
    .await;
    assert_eq!(done["status"], "confirmed");
    assert_eq!(
        done["approval"]["decisions"][0]["method"],
        "transfer_password"
    );
}

#[engine_test]
async fn sixteen_approvers_racing_for_the_last_approval_one_wins_and_no_other_code_is_spent(
    app: TestApp,
) {
    let d = desk(&app).await;
    let mut approvers = Vec::new();
    for n in 0..16 {
        let (id, session) = person(&app, &d.company, &format!("checker.{n:02}"), true).await;
        let token = app.give_token(&d.company, &id).await;
        approvers.push((session, token));
    }
    app.next_step();
    ok(set_policy(&app, &d.company, 0, 2).await).await;
    let t = confirmed_by_creator(&app, &d, 10_000).await;
    let id = t["id"].as_str().unwrap().to_owned();
    app.next_step();
    let spare = confirmed_by_creator(&app, &d, 20_000).await;
    let spare = spare["id"].as_str().unwrap().to_owned();
    let first = act(
        &app,
        &d.company.admin_token,
        &id,
        "approve",
        json!({"otp": d.admin.code(&app, 0)}),
    )
    .await;
    assert_eq!(ok(first).await["approval"]["given"], 1);

    let url = app.url(&format!("/api/v1/transfers/{id}/approve"));
    let racing = approvers.iter().map(|(session, token)| {
        app.client
            .post(&url)
            .bearer_auth(session)
            .json(&json!({"otp": token.code(&app, 0)}))
            .send()
    });
    let mut answers = Vec::new();
    for res in futures_util::future::join_all(racing).await {
        let res = res.unwrap();
        let status = res.status().as_u16();
        answers.push((status, body(res).await));
    }
    let winners: Vec<usize> = (0..16).filter(|i| answers[*i].0 == 200).collect();
    assert_eq!(winners.len(), 1, "{answers:?}");
    for (status, b) in answers.iter().filter(|(s, _)| *s != 200) {
        assert_eq!(
            (*status, b["code"].as_str()),
            (409, Some("not_awaiting_approval")),
            "{b}"
        );
    }
    let t = ok(app
        .get(
            &format!("/api/v1/transfers/{id}"),
            Some(&d.company.admin_token),
        )
        .await)
    .await;
    assert_eq!(
        (t["status"].as_str(), t["approval"]["given"].as_i64()),
        (Some("confirmed"), Some(2))
    );

    // No loser's step was spent: the same code approves the spare transfer at once.
    let loser = (0..16).find(|i| !winners.contains(i)).unwrap();
    let (session, token) = &approvers[loser];
    let res = act(
        &app,
        session,
        &spare,
        "approve",
        json!({"otp": token.code(&app, 0)}),
    )
    .await;
    assert_eq!(ok(res).await["approval"]["given"], 1);
    let spent = app
        .with_db(|conn, _| {
            use diesel::prelude::*;
            use webfb::db::schema::otp_step_uses::dsl as u;
            u::otp_step_uses
                .filter(u::purpose.eq("transfer_approval"))
                .count()
                .get_result::<i64>(conn)
                .unwrap()
        })
        .await;
    assert_eq!(
        spent, 3,
        "the administrator, the winner, and the loser's later approval"
    );
}

/// The approvers are told by mail when a transfer waits for them; others are not.
async fn approvers_are_told_of_a_transfer_awaiting_them(engine: Engine) {
    use crate::notifications::{Smtp, eventually, with_mail};
    let smtp = Smtp::start();
    let app = with_mail(engine, &smtp).await;
    let company = app.company("acme").await;
    app.activate(&company, "per_user").await;
    let (maker_id, maker) = person(&app, &company, "maker.one", false).await;
    let (checker_id, _) = person(&app, &company, "checker.one", true).await;
    let (bystander_id, _) = person(&app, &company, "bystander.one", false).await;
    for (id, email) in [
        (&checker_id, "checker@acme.example.jp"),
        (&bystander_id, "bystander@acme.example.jp"),
    ] {
        let b = json!({ "email": email });
        let res = app
            .patch(
                &format!("/api/v1/users/{id}"),
                &b,
                Some(&company.admin_token),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let token = app.give_token(&company, &maker_id).await;
    app.next_step();
    ok(set_policy(&app, &company, 0, 1).await).await;
    let id = create(&app, &company, &maker, 10_000).await;
    let res = act(
        &app,
        &maker,
        &id,
        "confirm",
        json!({"otp": token.code(&app, 0)}),
    )
    .await;
    assert_eq!(ok(res).await["status"], "pending_approval");

    let waiting = "transfer_awaiting_approval";
    eventually("the approver's mail", async || {
        let mails = smtp.mails();
        mails
            .iter()
            .any(|m| m.0 == "checker@acme.example.jp" && m.1 == waiting)
            .then_some(())
    })
    .await;
    // Mail is written to the outbox in the confirmation's own transaction: what it holds
    // is everyone who will ever be told.
    let told = app
        .with_db(|conn, _| {
            use diesel::prelude::*;
            use webfb::db::schema::outbox::dsl as o;
            o::outbox
                .filter(o::event_type.eq("transfer_awaiting_approval"))
                .select(o::destination)
                .load::<String>(conn)
                .unwrap()
        })
        .await;
    assert!(
        told.contains(&"checker@acme.example.jp".to_owned()),
        "{told:?}"
    );
    let bystander = told.iter().filter(|d| d.starts_with("bystander")).count();
    assert_eq!(bystander, 0, "someone who may not approve is not told");
}

mod approvers_are_told_of_a_transfer_awaiting_them {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(not(webfb_aiosmtpd), ignore = "pip install aiosmtpd and run again")]
    async fn on_sqlite() {
        approvers_are_told_of_a_transfer_awaiting_them(Engine::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(all(webfb_aiosmtpd, webfb_postgres_tests)),
        ignore = "pip install aiosmtpd, set TEST_DATABASE_URL and run again"
    )]
    async fn on_postgres() {
        approvers_are_told_of_a_transfer_awaiting_them(Engine::Postgres).await
    }
}
