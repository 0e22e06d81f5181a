//! Tokens as vendors ship them: PSKC files written by an independent implementation
//! (python-pskc, tests/data/pskc), encrypted or not, TOTP and HOTP, imported in one call
//! with a report; each imported seed proven by registering it with its code and
//! confirming a transfer; drift and resynchronisation.

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use webfb::otp::totp::{self, Algorithm, TotpParams};

use crate::helpers::*;
use webfb_test_macros::engine_test;

fn fixture(path: &str) -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/pskc/");
    std::fs::read_to_string(format!("{dir}{path}")).unwrap()
}

/// What python-pskc read from a vendor file: its key or password, and its keys.
fn expected(file: &str) -> Value {
    let all: Value = serde_json::from_str(&fixture("vendor/expected.json")).unwrap();
    all[file].clone()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The secret and parameters of one key of a vendor file, as python-pskc read them.
struct VendorKey {
    serial: String,
    seed: Vec<u8>,
    params: TotpParams,
    counter: i64,
}

fn key(file: &str, serial: &str) -> VendorKey {
    let want = expected(file);
    let k = want["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["serial"] == serial || k["id"] == serial)
        .unwrap_or_else(|| panic!("{serial} in {file}"))
        .clone();
    VendorKey {
        serial: serial.to_owned(),
        seed: unhex(k["secret_hex"].as_str().unwrap()),
        params: TotpParams::new(
            Algorithm::Sha1,
            k["digits"].as_u64().unwrap() as u32,
            k["time_interval"].as_u64().unwrap_or(30),
        )
        .unwrap(),
        counter: k["counter"].as_i64().unwrap_or(0),
    }
}

impl VendorKey {
    /// The TOTP code `steps` intervals from the server's clock.
    fn totp(&self, app: &TestApp, steps: i64) -> String {
        let now = webfb::clock::Clock::now(&*app.clock).timestamp();
        totp::code_at_step(
            &self.seed,
            &self.params,
            totp::step_at(&self.params, now) + steps,
        )
    }

    /// The HOTP code at `presses` after the file's counter.
    fn hotp(&self, presses: i64) -> String {
        totp::code_at_step(&self.seed, &self.params, self.counter + presses)
    }

    fn token(&self) -> Token {
        Token {
            token_id: self.serial.clone(),
            seed: self.seed.clone(),
        }
    }
}

async fn import(
    app: &TestApp,
    operator: &str,
    query: &str,
    headers: &[(&str, &str)],
    file: &str,
) -> Response {
    let mut req = app
        .client
        .post(app.url(&format!("/api/v1/bank/tokens/import{query}")))
        .bearer_auth(operator)
        .header("content-type", "application/pskc+xml");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.body(file.to_owned()).send().await.unwrap()
}

async fn report(res: Response, status: StatusCode) -> Value {
    let got = res.status();
    let b = body(res).await;
    assert_eq!(got, status, "{b}");
    b
}

/// The outcome the report gives a token ID.
fn outcome<'a>(report: &'a Value, token_id: &str) -> &'a Value {
    &report["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["token_id"] == token_id)
        .unwrap_or_else(|| panic!("{token_id} in {report}"))["outcome"]
}

/// Registers `key` as the administrator's token with `code` (OTP becomes active).
async fn register(app: &TestApp, company: &Company, key: &VendorKey, code: &str) -> Response {
    app.register_admin_token(company, &key.token(), code).await
}

/// Confirms a new transfer of the administrator's with `code`.
async fn confirm(app: &TestApp, company: &Company, code: &str) -> Response {
    let id = crate::transfers::create(app, company, &company.admin_token).await;
    app.post(
        &format!("/api/v1/transfers/{id}/confirm"),
        &json!({"otp": code}),
        Some(&company.admin_token),
    )
    .await
}

#[engine_test]
async fn an_encrypted_file_imports_with_its_key_and_nothing_without_it(app: TestApp) {
    let company = app.company("acme").await;
    let op = company.operator_token.clone();
    let file = fixture("vendor/aes128_psk_hmac_sha1.pskcxml");
    let psk = expected("aes128_psk_hmac_sha1.pskcxml")["key_hex"]
        .as_str()
        .unwrap()
        .to_owned();
    problem(
        import(&app, &op, "", &[], &file).await,
        422,
        "pskc_key_required",
    )
    .await;
    let wrong = "00112233445566778899aabbccddeeff";
    problem(
        import(&app, &op, "", &[("X-PSKC-Key", wrong)], &file).await,
        422,
        "pskc_key_wrong",
    )
    .await;
    let tampered = fixture("vendor/tampered_mac.pskcxml");
    problem(
        import(&app, &op, "", &[("X-PSKC-Key", &psk)], &tampered).await,
        422,
        "pskc_key_wrong",
    )
    .await;
    assert_eq!(app.audit_count("tokens_imported", "success").await, 0);

    // With its key: all three, none of them there before (the refusals imported nothing).
    let query = format!("?company_id={}", company.id);
    let done = report(
        import(&app, &op, &query, &[("X-PSKC-Key", &psk)], &file).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(
        (done["imported"].as_u64(), done["skipped"].as_u64()),
        (Some(3), Some(0)),
        "{done}"
    );
    assert_eq!(outcome(&done, "FTCN00012345"), "imported");

    // The seed python-pskc wrote is the one the server checks codes against.
    app.set_mode(&company, "per_user").await;
    let vendor = key("aes128_psk_hmac_sha1.pskcxml", "FTCN00012345");
    let res = register(&app, &company, &vendor, &vendor.totp(&app, 0)).await;
    assert_eq!(res.status(), 200);
    let res = confirm(&app, &company, &vendor.totp(&app, 1)).await;
    assert_eq!(report(res, StatusCode::OK).await["status"], "confirmed");
}

#[engine_test]
async fn a_password_protected_file_imports_with_its_password(app: TestApp) {
    let op = app.operator_token("op.tanaka").await;
    let file = fixture("vendor/pbkdf2_aes128.pskcxml");
    problem(
        import(&app, &op, "", &[], &file).await,
        422,
        "pskc_key_required",
    )
    .await;
    let password = expected("pbkdf2_aes128.pskcxml")["password"]
        .as_str()
        .unwrap()
        .to_owned();
    let done = report(
        import(&app, &op, "", &[("X-PSKC-Password", &password)], &file).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(done["imported"], 2);
    let aes256 = fixture("vendor/aes256_psk_hmac_sha256.pskcxml");
    let psk = expected("aes256_psk_hmac_sha256.pskcxml")["key_hex"]
        .as_str()
        .unwrap()
        .to_owned();
    let done = report(
        import(&app, &op, "", &[("X-PSKC-Key", &psk)], &aes256).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(done["imported"], 2);
}

#[engine_test]
async fn a_dry_run_reports_every_key_and_imports_none(app: TestApp) {
    let op = app.operator_token("op.tanaka").await;
    let file = fixture("vendor/expired_and_ocra.pskcxml");
    let dry = report(
        import(&app, &op, "?dry_run=true", &[], &file).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(dry["dry_run"], true);
    assert_eq!(
        (dry["imported"].as_u64(), dry["skipped"].as_u64()),
        (Some(1), Some(5)),
        "{dry}"
    );
    let reasons: Vec<&str> = dry["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["reason"].as_str())
        .collect();
    for why in ["expired", "OCRA", "not one webfb verifies", "key usage"] {
        assert!(
            reasons.iter().any(|r| r.contains(why)),
            "{why}: {reasons:?}"
        );
    }
    // Nothing was imported: the real import still finds the usable key new.
    let done = report(import(&app, &op, "", &[], &file).await, StatusCode::CREATED).await;
    assert_eq!(done["imported"], 1);
    assert_eq!(outcome(&done, "EXP-0001"), "imported");
    let again = problem(
        import(&app, &op, "", &[], &file).await,
        422,
        "pskc_nothing_importable",
    )
    .await;
    assert_eq!(again["errors"].as_array().unwrap().len(), 6, "{again}");
}

#[engine_test]
async fn keys_named_only_by_their_id_keep_it_as_their_token_id(app: TestApp) {
    let op = app.operator_token("op.tanaka").await;
    let file = fixture("vendor/key_id_only.pskcxml");
    let done = report(import(&app, &op, "", &[], &file).await, StatusCode::CREATED).await;
    assert_eq!(done["imported"], 3);
    assert_eq!(outcome(&done, "TOTP-KEY-001"), "imported");
}

#[engine_test]
async fn hotp_codes_move_forward_within_the_look_ahead_and_never_back(app: TestApp) {
    let company = app.company("acme").await;
    let file = fixture("vendor/mixed_totp_hotp.pskcxml");
    let query = format!("?company_id={}", company.id);
    let done = report(
        import(&app, &company.operator_token, &query, &[], &file).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(done["imported"], 4);
    let hotp = done["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["kind"] == "hotp")
        .map(|k| k["token_id"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    assert_eq!(hotp.len(), 2, "{done}");
    let serial = expected("mixed_totp_hotp.pskcxml")["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["counter"] == 42)
        .unwrap()["serial"]
        .as_str()
        .unwrap()
        .to_owned();
    let vendor = key("mixed_totp_hotp.pskcxml", &serial);
    app.set_mode(&company, "per_user").await;
    // The token's next press is the file's counter.
    assert_eq!(
        register(&app, &company, &vendor, &vendor.hotp(0))
            .await
            .status(),
        200
    );
    problem(
        confirm(&app, &company, &vendor.hotp(0)).await,
        409,
        "otp_replayed",
    )
    .await;
    // Five presses nobody typed: still within the look-ahead of ten.
    let res = confirm(&app, &company, &vendor.hotp(6)).await;
    assert_eq!(report(res, StatusCode::OK).await["status"], "confirmed");
    problem(
        confirm(&app, &company, &vendor.hotp(4)).await,
        409,
        "otp_replayed",
    )
    .await;
    problem(
        confirm(&app, &company, &vendor.hotp(30)).await,
        422,
        "otp_invalid",
    )
    .await;

    // Far ahead: two presses in a row bring it back, and the next press works.
    let resync = json!({"otp": vendor.hotp(30), "next_otp": vendor.hotp(31)});
    let res = app
        .post(
            "/api/v1/me/token/resync",
            &resync,
            Some(&company.admin_token),
        )
        .await;
    assert_eq!(report(res, StatusCode::OK).await["status"], "active");
    let res = confirm(&app, &company, &vendor.hotp(32)).await;
    assert_eq!(report(res, StatusCode::OK).await["status"], "confirmed");
    assert_eq!(app.audit_count("token_resynchronised", "success").await, 1);
}

#[engine_test]
async fn a_drifted_token_is_usable_with_its_drift_and_resynchronised_when_it_drifts_on(
    app: TestApp,
) {
    let company = app.company("acme").await;
    let query = format!("?company_id={}", company.id);
    let file = fixture("vendor/drifted.pskcxml");
    report(
        import(&app, &company.operator_token, &query, &[], &file).await,
        StatusCode::CREATED,
    )
    .await;
    let vendor = key("drifted.pskcxml", "DRIFT-0001");
    app.set_mode(&company, "per_user").await;
    // The file says the token's clock is 122 intervals ahead: its code now is that one.
    problem(
        register(&app, &company, &vendor, &vendor.totp(&app, 0)).await,
        422,
        "otp_invalid",
    )
    .await;
    assert_eq!(
        register(&app, &company, &vendor, &vendor.totp(&app, 122))
            .await
            .status(),
        200
    );

    // The clock drifts on by 40 intervals: beyond the window, refused.
    app.next_step();
    problem(
        confirm(&app, &company, &vendor.totp(&app, 162)).await,
        422,
        "otp_invalid",
    )
    .await;
    // Two consecutive codes, read out to the bank: the drift is found again.
    let resync = json!({"otp": vendor.totp(&app, 162), "next_otp": vendor.totp(&app, 163)});
    let path = format!("/api/v1/bank/people/{}/token/resync", company.admin_id);
    let wrong = json!({"otp": vendor.totp(&app, 162), "next_otp": vendor.totp(&app, 170)});
    problem(
        app.post(&path, &wrong, Some(&company.operator_token)).await,
        422,
        "token_out_of_sync",
    )
    .await;
    let res = app
        .post(&path, &resync, Some(&company.operator_token))
        .await;
    assert_eq!(report(res, StatusCode::OK).await["status"], "active");
    // The resynchronisation spent both codes; the token's next one works.
    app.next_step();
    let res = confirm(&app, &company, &vendor.totp(&app, 163)).await;
    assert_eq!(report(res, StatusCode::OK).await["status"], "confirmed",);
    let again = app
        .post(&path, &resync, Some(&company.operator_token))
        .await;
    problem(again, 422, "token_out_of_sync").await;
}

#[engine_test]
async fn ten_thousand_keys_import_in_one_call(app: TestApp) {
    let op = app.operator_token("op.tanaka").await;
    let file = fixture("vendor/ten_thousand.pskcxml");
    let psk = expected("ten_thousand.pskcxml")["key_hex"]
        .as_str()
        .unwrap()
        .to_owned();
    let started = std::time::Instant::now();
    let done = report(
        import(&app, &op, "", &[("X-PSKC-Key", &psk)], &file).await,
        StatusCode::CREATED,
    )
    .await;
    println!(
        "10,000-key PSKC file ({} bytes) imported in {:.2} s",
        file.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(done["imported"], 10_000);
    assert_eq!(outcome(&done, "BULK-09999"), "imported");
    let taken = app
        .with_db(|conn, _| {
            use diesel::prelude::*;
            use webfb::db::schema::soft_tokens::dsl as t;
            t::soft_tokens
                .filter(t::token_id.like("BULK-%"))
                .count()
                .get_result::<i64>(conn)
                .unwrap()
        })
        .await;
    assert_eq!(taken, 10_000);
}

#[engine_test]
async fn the_import_refuses_a_key_header_that_is_not_a_key(app: TestApp) {
    let op = app.operator_token("op.tanaka").await;
    let file = fixture("vendor/aes128_psk_hmac_sha1.pskcxml");
    let p = problem(
        import(&app, &op, "", &[("X-PSKC-Key", "not-hex")], &file).await,
        400,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["X-PSKC-Key"]);
}
