//! Personal internet banking (seeds 000, 001, 003, 004), as the guides tell it: the bank
//! opens the contract; the customer registers a token from the login page, signs in with
//! password then code, changes device, stops, and calls the bank when a phone is lost.

use chrono::Duration;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use webfb::clock::Clock;

use crate::helpers::*;
use webfb_test_macros::engine_test;

/// A personal customer as the tests know them.
pub struct Customer {
    pub contract_id: String,
    /// The personal contract's id.
    pub id: String,
    /// The person's id, for the hotline.
    pub person_id: String,
    pub account: String,
}

/// The bank opens a personal contract.
pub async fn open_customer(app: &TestApp, operator_token: &str, contract_id: &str) -> Customer {
    let account = format!("{:03}-{:07}", 900, rand::random::<u32>() % 10_000_000);
    let res = app
        .post(
            "/api/v1/bank/personal-contracts",
            &json!({
                "contract_id": contract_id,
                "name": "佐藤 花子",
                "transfer_limit": 1_000_000,
                "accounts": [account],
                "password": PASSWORD,
                "transfer_password": TRANSFER,
            }),
            Some(operator_token),
        )
        .await;
    let status = res.status();
    let b = body(res).await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    Customer {
        contract_id: contract_id.to_owned(),
        id: b["id"].as_str().unwrap().to_owned(),
        person_id: b["customer"]["id"].as_str().unwrap().to_owned(),
        account,
    }
}

/// A token for an authenticator app, asked for from the login page.
pub async fn self_issue(app: &TestApp, c: &Customer) -> Token {
    let proof = json!({"contract_id": c.contract_id, "password": PASSWORD});
    let res = app
        .post("/api/v1/self-service/soft-tokens", &proof, None)
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let b = body(res).await;
    Token {
        token_id: b["token_id"].as_str().unwrap().to_owned(),
        seed: seed_from_uri(b["otpauth_uri"].as_str().unwrap()),
    }
}

pub async fn register(app: &TestApp, c: &Customer, token: &Token, code: &str) -> Response {
    let b = json!({"contract_id": c.contract_id, "password": PASSWORD,
                   "token_id": token.token_id, "otp": code});
    app.post("/api/v1/self-service/otp/registration", &b, None)
        .await
}

/// 利用登録 with a fresh code, then the next step for what follows.
pub async fn registered(app: &TestApp, c: &Customer) -> Token {
    let token = self_issue(app, c).await;
    let res = register(app, c, &token, &token.code(app, 0)).await;
    let status = res.status();
    let b = body(res).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!(b["otp_status"], "active");
    app.next_step();
    token
}

/// The password step: a challenge for the code step.
pub async fn challenge(app: &TestApp, c: &Customer) -> String {
    let res = app.login(&c.contract_id, PASSWORD).await;
    let status = res.status();
    let b = body(res).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{b}");
    assert!(
        b.get("access_token").is_none(),
        "no session before the code"
    );
    b["challenge"].as_str().unwrap().to_owned()
}

pub async fn code_step(app: &TestApp, challenge: &str, code: &str) -> Response {
    app.post(
        "/api/v1/auth/login/otp",
        &json!({"challenge": challenge, "otp": code}),
        None,
    )
    .await
}

/// Password, then a fresh code: the session's access token.
pub async fn sign_in_with_code(app: &TestApp, c: &Customer, token: &Token) -> String {
    let challenge = challenge(app, c).await;
    let res = code_step(app, &challenge, &token.code(app, 0)).await;
    let status = res.status();
    let b = body(res).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    app.next_step();
    b["access_token"].as_str().unwrap().to_owned()
}

pub async fn me(app: &TestApp, session: &str) -> Value {
    let res = app.get("/api/v1/me", Some(session)).await;
    assert_eq!(res.status(), StatusCode::OK);
    body(res).await
}

/// A transfer from the customer's account; its id.
pub async fn transfer(app: &TestApp, c: &Customer, session: &str) -> String {
    let date = (app.clock.now() + Duration::hours(9)).date_naive() + Duration::days(1);
    let res = app
        .client
        .post(app.url("/api/v1/transfers"))
        .bearer_auth(session)
        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
        .json(&json!({
            "debit_account": c.account,
            "payee": {"bank_code": "0001", "branch_code": "123", "account_type": "ordinary",
                      "account_number": "7654321", "name": "ｻﾄｳ ｼﾞﾛｳ"},
            "amount": 30_000,
            "execution_date": date.to_string(),
        }))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let b = body(res).await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    b["id"].as_str().unwrap().to_owned()
}

pub async fn confirm(app: &TestApp, session: &str, id: &str, proof: Value) -> Response {
    app.post(
        &format!("/api/v1/transfers/{id}/confirm"),
        &proof,
        Some(session),
    )
    .await
}

pub async fn confirmed(res: Response, method: &str) {
    let status = res.status();
    let b = body(res).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "confirmed");
    assert_eq!(b["confirmation"]["method"], method);
}

#[engine_test]
async fn the_guides_story_from_registration_to_stop_and_registration_again(app: TestApp) {
    let operator = app.operator_token("bank.op").await;
    let c = open_customer(&app, &operator, "k10000001").await;

    // Before registration: password only, and the funds-transfer password.
    let session = app.token(&c.contract_id, PASSWORD).await;
    let profile = me(&app, &session).await;
    assert_eq!(profile["role"], "customer");
    assert_eq!(profile["company"]["kind"], "personal");
    assert_eq!(
        profile["codes"],
        json!({"at_sign_in": true, "for_transactions": true})
    );
    assert_eq!(profile["transfer_confirmation"], "transfer_password");

    // 利用登録 from the login page, then sign-in with password and code.
    let old = registered(&app, &c).await;
    let session = sign_in_with_code(&app, &c, &old).await;
    let profile = me(&app, &session).await;
    assert_eq!(profile["transfer_confirmation"], "otp");
    assert_eq!(profile["company"]["otp_status"], "active");

    // Transfers take a code instead of the funds-transfer password.
    let id = transfer(&app, &c, &session).await;
    let res = confirm(&app, &session, &id, json!({"transfer_password": TRANSFER})).await;
    problem(res, 422, "otp_required").await;
    confirmed(
        confirm(&app, &session, &id, json!({"otp": old.code(&app, 0)})).await,
        "otp",
    )
    .await;
    app.next_step();

    // 交換: the old token's code and the new token's ID and code, atomically.
    let new = self_issue(&app, &c).await;
    let exchange = json!({"contract_id": c.contract_id, "password": PASSWORD,
        "current_otp": old.code(&app, 0), "new_token_id": new.token_id, "new_otp": new.code(&app, 0)});
    let res = app
        .post("/api/v1/self-service/otp/exchange", &exchange, None)
        .await;
    let status = res.status();
    let b = body(res).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!(b["token"]["status"], "active");
    app.next_step();

    // The old device's codes no longer sign in; the new one's do.
    let step = challenge(&app, &c).await;
    problem(
        code_step(&app, &step, &old.code(&app, 0)).await,
        422,
        "otp_invalid",
    )
    .await;
    let res = code_step(&app, &step, &new.code(&app, 0)).await;
    assert_eq!(res.status(), StatusCode::OK);
    app.next_step();

    // 利用停止: back to sign-in without a code and the funds-transfer password.
    let stop =
        json!({"contract_id": c.contract_id, "password": PASSWORD, "otp": new.code(&app, 0)});
    let res = app.post("/api/v1/self-service/otp/stop", &stop, None).await;
    let status = res.status();
    let b = body(res).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!(b["otp_status"], "inactive");
    assert!(b["token"].is_null());
    let session = app.token(&c.contract_id, PASSWORD).await;
    let id = transfer(&app, &c, &session).await;
    let res = confirm(&app, &session, &id, json!({"transfer_password": TRANSFER})).await;
    confirmed(res, "transfer_password").await;

    // Registration again, any time.
    let again = registered(&app, &c).await;
    sign_in_with_code(&app, &c, &again).await;
    assert_eq!(app.audit_count("login_code_required", "success").await, 3);
}

#[engine_test]
async fn wrong_codes_at_sign_in_lock_the_token_until_the_bank_unlocks_it(app: TestApp) {
    let operator = app.operator_token("bank.op").await;
    let c = open_customer(&app, &operator, "k10000002").await;
    let token = registered(&app, &c).await;
    let step = challenge(&app, &c).await;
    let wrong = token.wrong_code(&app);
    for left in (1..=4).rev() {
        let p = problem(code_step(&app, &step, &wrong).await, 422, "otp_invalid").await;
        assert_eq!(p["remaining_attempts"], left);
    }
    problem(code_step(&app, &step, &wrong).await, 423, "token_locked").await;
    problem(
        code_step(&app, &step, &token.code(&app, 0)).await,
        423,
        "token_locked",
    )
    .await;

    // Locking the token never opens the door without a code.
    challenge(&app, &c).await;

    let res = app
        .post(
            &format!("/api/v1/bank/people/{}/token/unlock", c.person_id),
            &json!({}),
            Some(&operator),
        )
        .await;
    let status = res.status();
    let b = body(res).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!(b["token"]["status"], "active");
    assert_eq!(b["role"], "customer");
    let res = code_step(&app, &step, &token.code(&app, 0)).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[engine_test]
async fn a_sign_in_challenge_is_single_use_short_lived_and_for_one_person(app: TestApp) {
    let operator = app.operator_token("bank.op").await;
    let alice = open_customer(&app, &operator, "k10000003").await;
    let bob = open_customer(&app, &operator, "k10000004").await;
    let alice_token = registered(&app, &alice).await;
    let bob_token = registered(&app, &bob).await;

    // Used once, never again, even with a fresh code.
    let step = challenge(&app, &alice).await;
    let session = body(code_step(&app, &step, &alice_token.code(&app, 0)).await).await;
    let spent = alice_token.code(&app, 0);
    app.next_step();
    let res = code_step(&app, &step, &alice_token.code(&app, 0)).await;
    problem(res, 401, "sign_in_challenge_invalid").await;

    // A code that signed in confirms nothing else.
    let session = session["access_token"].as_str().unwrap().to_owned();
    let id = transfer(&app, &alice, &session).await;
    problem(
        confirm(&app, &session, &id, json!({"otp": spent})).await,
        409,
        "otp_replayed",
    )
    .await;

    // Another person's code is judged against this person's token, and is wrong.
    let step = challenge(&app, &alice).await;
    problem(
        code_step(&app, &step, &bob_token.code(&app, 0)).await,
        422,
        "otp_invalid",
    )
    .await;
    let bob_step = challenge(&app, &bob).await;
    let res = code_step(&app, &bob_step, &bob_token.code(&app, 0)).await;
    assert_eq!(res.status(), StatusCode::OK, "bob's code was not spent");
    app.next_step();

    // It expires.
    app.advance(Duration::seconds(121));
    let res = code_step(&app, &step, &alice_token.code(&app, 0)).await;
    problem(res, 401, "sign_in_challenge_invalid").await;
    problem(
        code_step(&app, "made-up", &alice_token.code(&app, 0)).await,
        401,
        "sign_in_challenge_invalid",
    )
    .await;
    assert_eq!(
        app.audit_count("login", "denied").await,
        3,
        "each refusal audited"
    );
}

#[engine_test]
async fn racing_code_steps_on_one_challenge_open_exactly_one_session(app: TestApp) {
    let operator = app.operator_token("bank.op").await;
    let c = open_customer(&app, &operator, "k10000005").await;
    let token = registered(&app, &c).await;
    let step = challenge(&app, &c).await;
    let codes = [token.code(&app, 0), token.code(&app, 1)];
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(8));
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let req = app
                .client
                .post(app.url("/api/v1/auth/login/otp"))
                .json(&json!({"challenge": step, "otp": codes[i % 2]}));
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                req.send().await.expect("request").status()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.expect("task"));
    }
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| s.is_client_error() || *s == StatusCode::OK),
        "{statuses:?}"
    );
}

#[engine_test]
async fn the_bank_opens_lists_and_closes_personal_contracts(app: TestApp) {
    let operator = app.operator_token("bank.op").await;
    let c = open_customer(&app, &operator, "k10000007").await;
    let session = app.token(&c.contract_id, PASSWORD).await;

    let list = body(
        app.get("/api/v1/bank/personal-contracts", Some(&operator))
            .await,
    )
    .await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["contract_id"], "k10000007");
    assert_eq!(items[0]["otp_status"], "inactive");
    let companies = body(app.get("/api/v1/bank/companies", Some(&operator)).await).await;
    assert_eq!(companies["items"], json!([]));
    let res = app
        .get(&format!("/api/v1/bank/companies/{}", c.id), Some(&operator))
        .await;
    problem(res, 404, "not_found").await;

    // The contract ID is a login ID like any other: no second person may take it.
    let res = app
        .post(
            "/api/v1/bank/companies",
            &company_request("k10000007", "001-0000009"),
            Some(&operator),
        )
        .await;
    problem(res, 409, "login_id_taken").await;

    let res = app.carry_out(&operator, "contract_close", &c.id).await;
    assert_eq!(res.status(), 200);
    let contract = format!("/api/v1/bank/personal-contracts/{}", c.id);
    let b = body(app.get(&contract, Some(&operator)).await).await;
    assert!(b["closed_at"].is_string(), "{b}");
    problem(
        app.get("/api/v1/me", Some(&session)).await,
        401,
        "session_expired",
    )
    .await;
    problem(
        app.login(&c.contract_id, PASSWORD).await,
        403,
        "account_disabled",
    )
    .await;
    problem(
        app.login(&c.contract_id, "Wrong-Pass-2026").await,
        401,
        "invalid_credentials",
    )
    .await;
    let res = app.carry_out(&operator, "contract_close", &c.id).await;
    problem(res, 409, "contract_closed").await;
    assert_eq!(app.audit_count("contract_closed", "success").await, 1);
}

#[engine_test]
async fn the_login_page_steps_prove_the_password_like_sign_in_and_serve_customers_only(
    app: TestApp,
) {
    let operator = app.operator_token("bank.op").await;
    let c = open_customer(&app, &operator, "k10000008").await;
    let steps = [
        "/api/v1/self-service/soft-tokens",
        "/api/v1/self-service/otp/registration",
        "/api/v1/self-service/otp/stop",
        "/api/v1/self-service/otp/exchange",
    ];
    let codes = json!({"token_id": "WFBS12345674", "otp": "123456", "current_otp": "123456",
                       "new_token_id": "WFBS12345674", "new_otp": "123456"});
    for (contract_id, password, status, code) in [
        (
            c.contract_id.as_str(),
            "Wrong-Pass-2026",
            401,
            "invalid_credentials",
        ),
        ("k99999999", PASSWORD, 401, "invalid_credentials"),
    ] {
        for step in steps {
            let mut b = codes.clone();
            b["contract_id"] = json!(contract_id);
            b["password"] = json!(password);
            problem(app.post(step, &b, None).await, status, code).await;
        }
    }
    // The wrong passwords counted toward the login's lock, as at sign-in.
    let res = app
        .get(
            &format!("/api/v1/bank/people/{}", c.person_id),
            Some(&operator),
        )
        .await;
    assert_eq!(body(res).await["login_locked"], false);
    problem(
        app.login(&c.contract_id, "Wrong-Pass-2026").await,
        401,
        "invalid_credentials",
    )
    .await;
    let res = app
        .get(
            &format!("/api/v1/bank/people/{}", c.person_id),
            Some(&operator),
        )
        .await;
    assert_eq!(
        body(res).await["login_locked"],
        true,
        "five wrong passwords lock"
    );

    // A company's people manage tokens through their administrator.
    let company = app.company_by(&operator, "acme").await;
    let proof = json!({"contract_id": company.admin_login_id, "password": PASSWORD});
    let res = app
        .post("/api/v1/self-service/soft-tokens", &proof, None)
        .await;
    problem(res, 403, "personal_contract_only").await;
}

#[engine_test(spawn_app_asking_companies_for_codes_at_sign_in)]
async fn the_bank_may_ask_companies_for_a_code_at_sign_in_too(app: TestApp) {
    let company = app.company("acme").await;
    let res = app.login(&company.admin_login_id, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK, "no token yet: no code step");
    let token = app.activate(&company, "per_user").await;
    app.next_step();
    let res = app.login(&company.admin_login_id, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let step = body(res).await["challenge"].as_str().unwrap().to_owned();
    assert_eq!(
        code_step(&app, &step, &token.code(&app, 0)).await.status(),
        StatusCode::OK
    );
}

#[engine_test(spawn_app_without_codes_for_personal_transactions)]
async fn without_codes_for_transactions_a_customer_confirms_with_the_funds_transfer_password(
    app: TestApp,
) {
    let operator = app.operator_token("bank.op").await;
    let c = open_customer(&app, &operator, "k10000009").await;
    let token = registered(&app, &c).await;
    let session = sign_in_with_code(&app, &c, &token).await;
    assert_eq!(
        me(&app, &session).await["transfer_confirmation"],
        "transfer_password"
    );
    let id = transfer(&app, &c, &session).await;
    let res = confirm(&app, &session, &id, json!({"otp": token.code(&app, 0)})).await;
    problem(res, 422, "transfer_password_required").await;
    let res = confirm(&app, &session, &id, json!({"transfer_password": TRANSFER})).await;
    confirmed(res, "transfer_password").await;
}

#[engine_test]
async fn the_seed_002_corporate_sign_in_asks_no_code(app: TestApp) {
    let company = app.company("acme").await;
    app.activate(&company, "per_user").await;
    let res = app.login(&company.admin_login_id, PASSWORD).await;
    let status = res.status();
    let b = body(res).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert!(b["access_token"].is_string());
    let profile = me(&app, b["access_token"].as_str().unwrap()).await;
    assert_eq!(profile["company"]["kind"], "corporate");
    assert_eq!(
        profile["codes"],
        json!({"at_sign_in": false, "for_transactions": true})
    );
}
