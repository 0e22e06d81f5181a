//! Sign-in with an electronic certificate (電子証明書方式, seed 002 Q4) over real TLS: the
//! certificate the bank registered to the person **and** the password; anything else is
//! refused like a wrong password, and one-time codes work unchanged.

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;
use crate::test_pki::ClientCert;
use webfb_test_macros::engine_test;

async fn register(app: &TestApp, operator: &str, person_id: &str, cert: &ClientCert) -> Response {
    app.post(
        &format!("/api/v1/bank/people/{person_id}/certificates"),
        &json!({"pem": cert.cert_pem}),
        Some(operator),
    )
    .await
}

async fn registered(app: &TestApp, operator: &str, person_id: &str, cert: &ClientCert) -> Value {
    let res = register(app, operator, person_id, cert).await;
    let status = res.status();
    let b = body(res).await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    b
}

async fn require_certificates(app: &TestApp, company: &Company) -> Value {
    let res = app
        .send(
            reqwest::Method::PUT,
            &format!("/api/v1/bank/companies/{}/login-method", company.id),
            Some(&json!({"login_method": "certificate"})),
            Some(&company.operator_token),
        )
        .await;
    let status = res.status();
    let b = body(res).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    b
}

/// Signs in presenting `cert` (or none) on the TLS connection.
async fn login_with(
    app: &TestApp,
    cert: Option<&ClientCert>,
    login_id: &str,
    password: &str,
) -> Response {
    app.pki
        .as_ref()
        .unwrap()
        .client(cert)
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"login_id": login_id, "password": password}))
        .send()
        .await
        .unwrap()
}

#[engine_test(spawn_app_with_certificates)]
async fn the_registered_certificate_and_the_password_sign_in_and_nothing_else_does(app: TestApp) {
    let pki = app.pki.clone().unwrap();
    let company = app.company("acme").await;
    let user_id = app.user(&company, "user.one").await;
    let operator = company.operator_token.clone();
    registered(&app, &operator, &company.admin_id, &pki.alice).await;
    registered(&app, &operator, &user_id, &pki.bob).await;

    // Before the bank requires certificates, the password alone signs in.
    let res = login_with(&app, None, &company.admin_login_id, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .starts_with("max-age=")
    );
    let detail = require_certificates(&app, &company).await;
    assert_eq!(detail["login_method"], "certificate");

    let res = login_with(&app, Some(&pki.alice), &company.admin_login_id, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    let refusals = [
        (None, PASSWORD, "no certificate"),
        (
            Some(&pki.alice),
            "Wrong-Pass-2026",
            "the right certificate, a wrong password",
        ),
        (Some(&pki.foreign), PASSWORD, "another CA's certificate"),
        (Some(&pki.revoked), PASSWORD, "a revoked certificate (CRL)"),
        (Some(&pki.expired), PASSWORD, "an expired certificate"),
        (Some(&pki.bob), PASSWORD, "another person's certificate"),
        (
            Some(&pki.carol),
            PASSWORD,
            "a certificate of the CA registered to nobody",
        ),
        (
            Some(&pki.no_client_auth),
            PASSWORD,
            "a certificate not for client authentication",
        ),
    ];
    let mut bodies = Vec::new();
    for (cert, password, what) in refusals {
        let res = login_with(&app, cert, &company.admin_login_id, password).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{what}");
        let mut b = body(res).await;
        assert_eq!(b["code"], "invalid_credentials", "{what}");
        b.as_object_mut().unwrap().remove("request_id");
        bodies.push(b);
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "every refusal reads alike"
    );
    let unknown = login_with(&app, Some(&pki.alice), "nobody.here", PASSWORD).await;
    let mut unknown = body(unknown).await;
    unknown.as_object_mut().unwrap().remove("request_id");
    assert_eq!(unknown, bodies[0], "an unknown login ID reads alike too");

    // The user signs in with their own certificate; revoked by the bank, it no longer does.
    let res = login_with(&app, Some(&pki.bob), "user.one", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    let list = app
        .get(
            &format!("/api/v1/bank/people/{user_id}/certificates"),
            Some(&operator),
        )
        .await;
    let list = body(list).await;
    let cert_id = list["items"][0]["id"].as_str().unwrap().to_owned();
    let res = app
        .post(
            &format!("/api/v1/bank/people/{user_id}/certificates/{cert_id}/revoke"),
            &json!({"reason": "the PC was replaced"}),
            Some(&operator),
        )
        .await;
    assert!(body(res).await["revoked_at"].is_string());
    let res = login_with(&app, Some(&pki.bob), "user.one", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.audit_count("certificate_registered", "success").await,
        2
    );
    assert_eq!(app.audit_count("certificate_revoked", "success").await, 1);

    // A disabled person with the right password and no certificate learns nothing.
    let b = json!({"disabled": true});
    let path = format!("/api/v1/users/{user_id}");
    let res = app.patch(&path, &b, Some(&company.admin_token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = login_with(&app, None, "user.one", PASSWORD).await;
    problem(res, 401, "invalid_credentials").await;

    // A revocation list past its next update refuses every certificate (fail closed).
    app.advance(chrono::Duration::days(8));
    let res = login_with(&app, Some(&pki.alice), &company.admin_login_id, PASSWORD).await;
    problem(res, 401, "invalid_credentials").await;
    assert!(
        app.audit_count("login", "failure").await >= 9,
        "each refusal audited"
    );
}

#[engine_test(spawn_app_with_certificates)]
async fn the_bank_registers_one_active_certificate_per_person_from_its_own_ca(app: TestApp) {
    let pki = app.pki.clone().unwrap();
    let company = app.company("acme").await;
    let user_id = app.user(&company, "user.one").await;
    let op = company.operator_token.clone();
    let res = register(&app, &op, &company.admin_id, &pki.foreign).await;
    assert_eq!(
        fields(&problem(res, 422, "validation_failed").await),
        ["pem"]
    );
    let res = register(&app, &op, &company.admin_id, &pki.expired).await;
    problem(res, 422, "validation_failed").await;
    let res = app
        .post(
            &format!("/api/v1/bank/people/{}/certificates", company.admin_id),
            &json!({"pem": "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"}),
            Some(&op),
        )
        .await;
    problem(res, 422, "validation_failed").await;

    let first = registered(&app, &op, &company.admin_id, &pki.alice).await;
    assert_eq!(first["fingerprint"].as_str().unwrap().len(), 64);
    assert_eq!(first["serial"], "0b");
    assert!(
        first["subject"].as_str().unwrap().contains("山田 太郎"),
        "{first}"
    );
    let res = register(&app, &op, &company.admin_id, &pki.bob).await;
    problem(res, 409, "certificate_already_registered").await;
    let res = register(&app, &op, &user_id, &pki.alice).await;
    problem(res, 409, "certificate_in_use").await;
    let id = first["id"].as_str().unwrap();
    let revoke = format!(
        "/api/v1/bank/people/{}/certificates/{id}/revoke",
        company.admin_id
    );
    let res = app
        .post(&revoke, &json!({"reason": "lost"}), Some(&op))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .post(&revoke, &json!({"reason": "again"}), Some(&op))
        .await;
    problem(res, 404, "not_found").await;
    registered(&app, &op, &company.admin_id, &pki.bob).await;
    let res = register(&app, &op, &company.admin_id, &pki.alice).await;
    problem(res, 409, "certificate_already_registered").await;
}

#[engine_test]
async fn without_the_banks_client_ca_certificates_cannot_be_required(app: TestApp) {
    let company = app.company("acme").await;
    let res = app
        .send(
            reqwest::Method::PUT,
            &format!("/api/v1/bank/companies/{}/login-method", company.id),
            Some(&json!({"login_method": "certificate"})),
            Some(&company.operator_token),
        )
        .await;
    problem(res, 409, "certificates_not_configured").await;
}

#[engine_test(spawn_app_with_certificates)]
async fn codes_work_unchanged_in_a_certificate_session(app: TestApp) {
    let pki = app.pki.clone().unwrap();
    let company = app.company("acme").await;
    let token = app.activate(&company, "per_user").await;
    registered(&app, &company.operator_token, &company.admin_id, &pki.alice).await;
    require_certificates(&app, &company).await;
    let res = login_with(&app, Some(&pki.alice), &company.admin_login_id, PASSWORD).await;
    let session = body(res).await["access_token"].as_str().unwrap().to_owned();
    let id = crate::transfers::create(&app, &company, &session).await;
    let res = app
        .post(
            &format!("/api/v1/transfers/{id}/confirm"),
            &json!({"otp": token.code(&app, 0)}),
            Some(&session),
        )
        .await;
    assert_eq!(body(res).await["status"], "confirmed");
}

#[engine_test(spawn_app_behind_the_banks_proxy)]
async fn behind_the_banks_proxy_its_certificate_header_is_believed(app: TestApp) {
    let pki = app.pki.clone().unwrap();
    let company = app.company("acme").await;
    registered(&app, &company.operator_token, &company.admin_id, &pki.alice).await;
    require_certificates(&app, &company).await;
    let login = |cert: Option<&ClientCert>| {
        let mut req = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"login_id": company.admin_login_id, "password": PASSWORD}));
        if let Some(c) = cert {
            let escaped: String = url_escaped(&c.cert_pem);
            req = req.header("x-ssl-client-cert", escaped);
        }
        req.send()
    };
    assert_eq!(
        login(Some(&pki.alice)).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        login(None).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(Some(&pki.revoked)).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[engine_test(spawn_app_behind_someone_elses_proxy)]
async fn from_anyone_but_a_trusted_proxy_the_certificate_header_is_ignored(app: TestApp) {
    let pki = app.pki.clone().unwrap();
    let company = app.company("acme").await;
    registered(&app, &company.operator_token, &company.admin_id, &pki.alice).await;
    require_certificates(&app, &company).await;
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("x-ssl-client-cert", url_escaped(&pki.alice.cert_pem))
        .json(&json!({"login_id": company.admin_login_id, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    problem(res, 401, "invalid_credentials").await;
}

/// As nginx's `$ssl_client_escaped_cert`: the PEM, URL-encoded.
fn url_escaped(pem: &str) -> String {
    pem.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The running server, as a certificate customer's browser would meet it: `curl --cert`
/// signs in with the certificate and the password, then a code from oathtool confirms a
/// transfer made in that session.
async fn curl_and_oathtool(app: TestApp) {
    use std::process::Command;
    let pki = app.pki.clone().unwrap();
    let company = app.company("acme").await;
    assert_eq!(app.set_mode(&company, "per_user").await.status(), 200);
    let issued = body(
        app.post(
            "/api/v1/soft-tokens",
            &json!({}),
            Some(&company.admin_token),
        )
        .await,
    )
    .await;
    let secret = crate::oathtool::secret_of(&issued);
    let codes = crate::oathtool::codes_ahead(&secret, 2);
    let b = json!({"token_id": issued["token_id"], "otp": codes[0], "approval_password": APPROVAL});
    let res = app
        .send(
            reqwest::Method::PUT,
            "/api/v1/otp/admin-token",
            Some(&b),
            Some(&company.admin_token),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    registered(&app, &company.operator_token, &company.admin_id, &pki.alice).await;
    require_certificates(&app, &company).await;

    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let (ca, cert, key) = (
        file("ca.pem", &pki.ca.pem()),
        file("alice.pem", &pki.alice.cert_pem),
        file("alice.key", &pki.alice.key_pem),
    );
    let login = json!({"login_id": company.admin_login_id, "password": PASSWORD}).to_string();
    let curl = |with_cert: bool| {
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--cacert"]).arg(&ca);
        if with_cert {
            cmd.arg("--cert").arg(&cert).arg("--key").arg(&key);
        }
        let out = cmd
            .args([
                "-H",
                "content-type: application/json",
                "-d",
                &login,
                "-w",
                "\n%{http_code}",
            ])
            .arg(app.url("/api/v1/auth/login"))
            .output()
            .expect("run curl");
        let text = String::from_utf8(out.stdout).unwrap();
        let (body, status) = text.rsplit_once('\n').unwrap();
        (status.to_owned(), body.to_owned())
    };
    let (status, _) = curl(false);
    assert_eq!(status, "401");
    let (status, text) = curl(true);
    assert_eq!(status, "200", "{text}");
    let session: Value = serde_json::from_str(&text).unwrap();
    let session = session["access_token"].as_str().unwrap().to_owned();

    let id = crate::transfers::create(&app, &company, &session).await;
    let res = app
        .post(
            &format!("/api/v1/transfers/{id}/confirm"),
            &json!({"otp": codes[1]}),
            Some(&session),
        )
        .await;
    let status = res.status();
    let b = body(res).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!(b["confirmation"]["method"], "otp");
}

/// `curl --cert` signs in on the running server with a certificate and the password, and
/// a code from oathtool confirms a transfer in that session.
mod curl_signs_in_with_a_certificate_and_oathtool_confirms_in_that_session {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(all(webfb_curl, webfb_oathtool)),
        ignore = "install curl and oathtool and run again"
    )]
    async fn on_sqlite() {
        curl_and_oathtool(spawn_app_with_certificates_on_the_wall_clock(Engine::Sqlite).await).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(all(webfb_curl, webfb_oathtool, webfb_postgres_tests)),
        ignore = "install curl and oathtool, set TEST_DATABASE_URL and run again"
    )]
    async fn on_postgres() {
        curl_and_oathtool(spawn_app_with_certificates_on_the_wall_clock(Engine::Postgres).await)
            .await
    }
}
