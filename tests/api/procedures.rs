//! Dual control in the back office: a destructive procedure is requested by one operator
//! and carried out only when a second, different operator approves it.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use webfb_test_macros::engine_test;

async fn decide(
    app: &TestApp,
    operator: &str,
    id: &str,
    what: &str,
    b: Value,
) -> reqwest::Response {
    let path = format!("/api/v1/bank/procedures/{id}/{what}");
    app.post(&path, &b, Some(operator)).await
}

async fn ok(res: reqwest::Response) -> Value {
    let status = res.status();
    let b = body(res).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    b
}

async fn company_file(app: &TestApp, company: &Company) -> Value {
    let path = format!("/api/v1/bank/companies/{}", company.id);
    ok(app.get(&path, Some(&company.operator_token)).await).await
}

#[engine_test]
async fn a_reset_requested_by_one_operator_waits_for_a_second_and_never_for_the_same(app: TestApp) {
    let company = app.company("acme").await;
    app.activate(&company, "per_user").await;
    let second = app.operator_token("op.second").await;
    let id = app
        .request_procedure(&company.operator_token, "admin_token_reset", &company.id)
        .await;
    let pending = ok(app
        .get(&format!("/api/v1/bank/procedures/{id}"), Some(&second))
        .await)
    .await;
    assert_eq!(
        (pending["status"].as_str(), pending["kind"].as_str()),
        (Some("pending"), Some("admin_token_reset"))
    );
    assert_eq!(
        pending["evidence"],
        "written request with the registered seal"
    );
    assert!(company_file(&app, &company).await["admin"]["token"].is_object());

    let res = decide(&app, &company.operator_token, &id, "approve", json!({})).await;
    problem(res, 403, "second_operator_required").await;
    let p = problem(
        decide(&app, &second, &id, "reject", json!({})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["note"]);
    assert!(company_file(&app, &company).await["admin"]["token"].is_object());

    let note = json!({"note": "seal matches the registration card"});
    let done = ok(decide(&app, &second, &id, "approve", note).await).await;
    assert_eq!(done["status"], "carried_out");
    assert_eq!(done["decision_note"], "seal matches the registration card");
    assert!(company_file(&app, &company).await["admin"]["token"].is_null());
    let res = decide(&app, &second, &id, "approve", json!({})).await;
    problem(res, 409, "procedure_not_pending").await;
    for action in ["procedure_requested", "procedure_approved", "token_reset"] {
        assert_eq!(app.audit_count(action, "success").await, 1, "{action}");
    }
}

#[engine_test]
async fn two_second_operators_at_once_carry_a_procedure_out_once(app: TestApp) {
    let company = app.company("acme").await;
    app.activate(&company, "per_user").await;
    let b = app.operator_token("op.second").await;
    let c = app.operator_token("op.third").await;
    let id = app
        .request_procedure(&company.operator_token, "admin_token_reset", &company.id)
        .await;
    let (x, y) = tokio::join!(
        decide(&app, &b, &id, "approve", json!({})),
        decide(&app, &c, &id, "approve", json!({}))
    );
    let mut statuses = [x.status().as_u16(), y.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 409]);
    assert_eq!(app.audit_count("token_reset", "success").await, 1);
    assert_eq!(app.audit_count("procedure_approved", "success").await, 1);
}

#[engine_test]
async fn a_rejected_procedure_changes_nothing(app: TestApp) {
    let company = app.company("acme").await;
    app.activate(&company, "per_user").await;
    let user = app.user(&company, "user.one").await;
    app.give_token(&company, &user).await;
    let second = app.operator_token("op.second").await;
    let id = app
        .request_procedure(&company.operator_token, "token_suspend", &user)
        .await;
    let note = json!({"note": "the caller could not answer the security questions"});
    let rejected = ok(decide(&app, &second, &id, "reject", note).await).await;
    assert_eq!(rejected["status"], "rejected");
    let person = ok(app
        .get(&format!("/api/v1/bank/people/{user}"), Some(&second))
        .await)
    .await;
    assert_eq!(person["token"]["status"], "active");
    let res = decide(&app, &second, &id, "approve", json!({})).await;
    problem(res, 409, "procedure_not_pending").await;
    assert_eq!(app.audit_count("token_suspended", "success").await, 0);
    assert_eq!(app.audit_count("procedure_rejected", "success").await, 1);
}

#[engine_test(spawn_app_with_a_minute_for_procedures)]
async fn a_procedure_not_approved_in_time_expires(app: TestApp) {
    let company = app.company("acme").await;
    app.activate(&company, "per_user").await;
    let second = app.operator_token("op.second").await;
    let id = app
        .request_procedure(&company.operator_token, "contract_close", &company.id)
        .await;
    app.advance(Duration::seconds(61));
    let res = decide(&app, &second, &id, "approve", json!({})).await;
    problem(res, 409, "procedure_expired").await;
    let expired = ok(app
        .get("/api/v1/bank/procedures?status=expired", Some(&second))
        .await)
    .await;
    assert_eq!(expired["items"][0]["id"], id.as_str());
    assert!(company_file(&app, &company).await["closed_at"].is_null());
    assert_eq!(app.audit_count("procedure_expired", "success").await, 1);
}

#[engine_test]
async fn a_procedure_names_a_target_of_its_kind(app: TestApp) {
    let company = app.company("acme").await;
    let operator = &company.operator_token;
    let app = &app;
    let ask = |kind: &'static str, target: String| async move {
        let b = json!({"kind": kind, "target_id": target, "reason": "lost phone",
                       "evidence": "registered seal"});
        app.post("/api/v1/bank/procedures", &b, Some(operator))
            .await
    };
    let nobody = uuid::Uuid::new_v4().to_string();
    problem(
        ask("admin_token_reset", nobody.clone()).await,
        404,
        "not_found",
    )
    .await;
    problem(
        ask("contract_close", company.admin_id.clone()).await,
        404,
        "not_found",
    )
    .await;
    problem(
        ask("token_suspend", company.id.clone()).await,
        404,
        "not_found",
    )
    .await;
    problem(
        ask("operator_unlock", nobody.clone()).await,
        404,
        "not_found",
    )
    .await;
    let p = problem(
        ask("token_suspend", "not-a-uuid".into()).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["target_id"]);
    assert_eq!(app.audit_count("procedure_requested", "success").await, 0);
}

#[engine_test]
async fn procedures_are_listed_newest_first_page_by_page(app: TestApp) {
    let company = app.company("acme").await;
    let operator = &company.operator_token;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            app.request_procedure(operator, "contract_close", &company.id)
                .await,
        );
        app.advance(Duration::seconds(1));
    }
    ids.reverse();
    let mut seen = Vec::new();
    let mut path = "/api/v1/bank/procedures?status=pending&limit=2".to_owned();
    loop {
        let page = ok(app.get(&path, Some(operator)).await).await;
        for p in page["items"].as_array().unwrap() {
            seen.push(p["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/api/v1/bank/procedures?status=pending&limit=2&cursor={cursor}")
            }
            None => break,
        }
    }
    assert_eq!(seen, ids);
}
