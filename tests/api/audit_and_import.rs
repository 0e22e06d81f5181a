//! Reading the audit log, importing vendor tokens (PSKC), and the metrics endpoint.

use serde_json::json;

use crate::helpers::*;
use webfb_test_macros::engine_test;

const PSKC: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc">
  <KeyPackage>
    <DeviceInfo><Manufacturer>Vendor</Manufacturer><SerialNo>VSST12345678</SerialNo></DeviceInfo>
    <Key Id="1" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:totp">
      <AlgorithmParameters><ResponseFormat Length="6" Encoding="DECIMAL"/></AlgorithmParameters>
      <Data>
        <Secret><PlainValue>MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=</PlainValue></Secret>
        <TimeInterval><PlainValue>30</PlainValue></TimeInterval>
      </Data>
    </Key>
  </KeyPackage>
</KeyContainer>"#;

async fn import(app: &TestApp, token: &str, content_type: &str, body: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/bank/tokens/import"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

#[engine_test]
async fn the_administrator_reads_the_company_s_audit_log_and_only_it(app: TestApp) {
    let acme = app.company("acme").await;
    let beta = app.company_by(&acme.operator_token, "beta").await;
    app.activate(&acme, "per_user").await;
    app.user(&beta, "beta.user").await;

    let log = body(
        app.get("/api/v1/audit-events?limit=200", Some(&acme.admin_token))
            .await,
    )
    .await;
    let items = log["items"].as_array().unwrap();
    assert!(
        items.iter().all(|e| e["company_id"] == acme.id.as_str()),
        "{log}"
    );
    let actions: Vec<&str> = items
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in [
        "company_created",
        "login",
        "mode_set",
        "token_issued",
        "token_registered",
        "otp_activated",
    ] {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
    assert!(
        items
            .iter()
            .all(|e| e["client_addr"].is_string() || e["actor_kind"] == "operator")
    );
    let first = body(
        app.get("/api/v1/audit-events?limit=2", Some(&acme.admin_token))
            .await,
    )
    .await;
    let after = first["next_cursor"].as_i64().unwrap();
    let second = body(
        app.get(
            &format!("/api/v1/audit-events?limit=2&after={after}"),
            Some(&acme.admin_token),
        )
        .await,
    )
    .await;
    assert_eq!(second["items"][0]["id"], items[2]["id"]);

    problem(
        app.get(
            &format!("/api/v1/audit-events?company_id={}", beta.id),
            Some(&acme.admin_token),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    app.user(&acme, "acme.user").await;
    let user = app.token("acme.user", PASSWORD).await;
    problem(
        app.get("/api/v1/audit-events", Some(&user)).await,
        403,
        "forbidden",
    )
    .await;
    problem(
        app.get("/api/v1/audit-events?limit=0", Some(&acme.admin_token))
            .await,
        422,
        "validation_failed",
    )
    .await;

    let bank = body(
        app.get(
            &format!("/api/v1/bank/audit-events?company_id={}", beta.id),
            Some(&acme.operator_token),
        )
        .await,
    )
    .await;
    assert!(
        bank["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["company_id"] == beta.id.as_str())
    );
    problem(
        app.get("/api/v1/bank/audit-events", Some(&acme.admin_token))
            .await,
        403,
        "forbidden",
    )
    .await;
}

#[engine_test]
async fn an_imported_vendor_token_keeps_its_serial_and_registers_with_its_code(app: TestApp) {
    let company = app.company("acme").await;
    let res = import(&app, &company.operator_token, "application/pskc+xml", PSKC).await;
    assert_eq!(res.status(), 201);
    let report = body(res).await;
    assert_eq!(
        (
            &report["imported"],
            &report["keys"][0]["token_id"],
            &report["keys"][0]["kind"]
        ),
        (&json!(1), &json!("VSST12345678"), &json!("totp")),
        "{report}"
    );
    assert_eq!(app.audit_count("tokens_imported", "success").await, 1);
    // The same delivery again: every key exists already, so nothing can be imported.
    let p = problem(
        import(&app, &company.operator_token, "application/pskc+xml", PSKC).await,
        422,
        "pskc_nothing_importable",
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "KeyPackage[1]");
    assert_eq!(p["errors"][0]["code"], "skipped");

    app.set_mode(&company, "per_user").await;
    let vendor = Token {
        token_id: "VSST12345678".into(),
        seed: b"12345678901234567890".to_vec(),
    };
    let res = app
        .register_admin_token(&company, &vendor, &vendor.code(&app, 0))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        body(res).await["admin_token"]["token_id_masked"],
        "VSST****5678"
    );

    let other = app.company_by(&company.operator_token, "beta").await;
    app.set_mode(&other, "per_user").await;
    app.next_step();
    problem(
        app.register_admin_token(&other, &vendor, &vendor.code(&app, 0))
            .await,
        404,
        "token_unknown",
    )
    .await;
}

#[engine_test]
async fn an_unusable_pskc_file_imports_nothing(app: TestApp) {
    let op = app.operator_token("op.tanaka").await;
    for (content_type, file) in [
        ("application/pskc+xml", "not xml at all".to_owned()),
        ("application/pskc+xml", "<KeyContainer/>".to_owned()),
        (
            "application/pskc+xml",
            PSKC.replace("Version=\"1.0\"", "Version=\"2.0\""),
        ),
        (
            "application/pskc+xml",
            PSKC.replace("keyprov:pskc\">", "keyprov:pskc-wrong\">"),
        ),
        ("application/json", PSKC.to_owned()),
    ] {
        let res = import(&app, &op, content_type, &file).await;
        assert!(
            matches!(res.status().as_u16(), 400 | 422),
            "{content_type}: {file}"
        );
        assert_eq!(body(res).await["code"], "validation_failed");
    }
    // Every key refused or skipped: one answer naming each one's reason.
    let refused = PSKC.replace("VSST12345678", "bad serial");
    let p = problem(
        import(&app, &op, "application/pskc+xml", &refused).await,
        422,
        "pskc_nothing_importable",
    )
    .await;
    assert_eq!(p["errors"][0]["code"], "refused", "{p}");
    assert_eq!(app.audit_count("tokens_imported", "success").await, 0);
}

async fn metrics_on_a_listener_of_their_own_are_not_served_publicly(engine: Engine) {
    let app = spawn_app_with(engine, |s| s.metrics_bind = Some("127.0.0.1:0".into())).await;
    problem(app.get("/metrics", None).await, 404, "not_found").await;
    let elsewhere = app.metrics_address.clone().expect("a metrics listener");
    let res = app
        .client
        .get(format!("{elsewhere}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(
        text.contains(r#"webfb_http_requests_total{method="GET",route="/metrics",status="404"} 1"#),
        "{text}"
    );
}

mod metrics_on_a_listener_of_their_own_are_not_served_publicly {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_sqlite() {
        metrics_on_a_listener_of_their_own_are_not_served_publicly(Engine::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(webfb_postgres_tests),
        ignore = "PostgreSQL: set TEST_DATABASE_URL=postgres://… and run again"
    )]
    async fn on_postgres() {
        metrics_on_a_listener_of_their_own_are_not_served_publicly(Engine::Postgres).await
    }
}

#[engine_test]
async fn metrics_count_answers_by_route_method_and_status_and_show_the_process(app: TestApp) {
    app.get("/health", None).await;
    app.get("/api/v1/me", None).await;
    let unknown = format!("/scanner/{}", uuid::Uuid::new_v4());
    app.get(&unknown, None).await;
    let res = app.get("/metrics", None).await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let value = |series: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{series} in {text}"))
    };
    assert_eq!(
        value(r#"webfb_http_requests_total{method="GET",route="/health",status="200"}"#),
        1.0
    );
    assert_eq!(
        value(r#"webfb_http_requests_total{method="GET",route="/api/v1/me",status="401"}"#),
        1.0
    );
    // A path no route has is counted as one route: a scanner cannot grow the series.
    assert!(!text.contains("/scanner/"), "{text}");
    assert_eq!(
        value(r#"webfb_http_requests_total{method="GET",route="unmatched",status="404"}"#),
        1.0
    );
    assert!(
        value(r#"webfb_http_request_duration_seconds_count{method="GET",route="/health"}"#) >= 1.0
    );
    assert_eq!(value("webfb_db_pool_max_connections"), 8.0);
    assert!(!text.contains(r#"state="max""#), "{text}");
    assert!(value("process_resident_memory_bytes") > 0.0);
    assert!(value("process_open_fds") > 0.0);
    assert!(text.contains(r#"webfb_argon2_hashes{state="waiting"}"#));
}

#[engine_test]
async fn tokens_imported_for_a_company_serve_only_that_company(app: TestApp) {
    let acme = app.company("acme").await;
    let beta = app.company_by(&acme.operator_token, "beta").await;
    let path = format!("/api/v1/bank/tokens/import?company_id={}", beta.id);
    let res = app
        .client
        .post(app.url(&path))
        .bearer_auth(&acme.operator_token)
        .header("content-type", "application/pskc+xml")
        .body(PSKC)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let vendor = Token {
        token_id: "VSST12345678".into(),
        seed: b"12345678901234567890".to_vec(),
    };
    app.set_mode(&acme, "per_user").await;
    problem(
        app.register_admin_token(&acme, &vendor, &vendor.wrong_code(&app))
            .await,
        404,
        "token_unknown",
    )
    .await;
    app.set_mode(&beta, "per_user").await;
    assert_eq!(
        app.register_admin_token(&beta, &vendor, &vendor.code(&app, 0))
            .await
            .status(),
        200
    );

    let res = app
        .client
        .post(app.url("/api/v1/bank/tokens/import?company_id=00000000-0000-4000-8000-000000000000"))
        .bearer_auth(&acme.operator_token)
        .header("content-type", "application/pskc+xml")
        .body(PSKC.replace("VSST12345678", "VSST87654321"))
        .send()
        .await
        .unwrap();
    problem(res, 404, "not_found").await;
}

#[engine_test]
async fn a_token_s_own_parameters_sha256_eight_digits_sixty_seconds_are_honoured(app: TestApp) {
    let company = app.company("acme").await;
    let file = PSKC
        .replace(
            "<ResponseFormat Length=\"6\"",
            "<Suite>HMAC-SHA256</Suite><ResponseFormat Length=\"8\"",
        )
        .replace("<PlainValue>30</PlainValue>", "<PlainValue>60</PlainValue>")
        .replace(
            "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=",
            "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=",
        );
    let path = format!("/api/v1/bank/tokens/import?company_id={}", company.id);
    let res = app
        .client
        .post(app.url(&path))
        .bearer_auth(&company.operator_token)
        .header("content-type", "application/pskc+xml")
        .body(file)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    let seed = b"12345678901234567890123456789012";
    let params =
        webfb::otp::totp::TotpParams::new(webfb::otp::totp::Algorithm::Sha256, 8, 60).unwrap();
    let code = |offset: i64| {
        let step =
            webfb::otp::totp::step_at(&params, webfb::clock::Clock::now(&*app.clock).timestamp())
                + offset;
        webfb::otp::totp::code_at_step(seed, &params, step)
    };
    let vendor = Token {
        token_id: "VSST12345678".into(),
        seed: seed.to_vec(),
    };
    app.set_mode(&company, "per_user").await;
    // A default (SHA1, 6 digits, 30 s) code of the same seed is wrong for this token.
    problem(
        app.register_admin_token(&company, &vendor, &vendor.code(&app, 0))
            .await,
        422,
        "otp_invalid",
    )
    .await;
    assert_eq!(code(0).len(), 8);
    assert_eq!(
        app.register_admin_token(&company, &vendor, &code(0))
            .await
            .status(),
        200
    );
    app.advance(chrono::Duration::seconds(60));
    let res = app
        .post(
            "/api/v1/otp/stop",
            &json!({"otp": code(0), "approval_password": APPROVAL}),
            Some(&company.admin_token),
        )
        .await;
    assert_eq!(res.status(), 200);
}
