//! Issuing software tokens: the ID, the otpauth URI and QR code, the seven-day window
//! for registration, the secret at rest and the one-time use of the registration code.

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use webfb::clock::Clock;

use crate::helpers::*;
use webfb_test_macros::engine_test;

/// Issues a token as `session` and returns it with the whole answer.
async fn issue(app: &TestApp, session: &str) -> (Token, Value) {
    let res = app
        .post("/api/v1/soft-tokens", &json!({}), Some(session))
        .await;
    assert_eq!(res.status(), 201, "token issued");
    let b = body(res).await;
    let token = Token {
        token_id: b["token_id"].as_str().unwrap().to_owned(),
        seed: seed_from_uri(b["otpauth_uri"].as_str().unwrap()),
    };
    (token, b)
}

/// The Luhn check digit over a run of digits, computed here independently of the server.
fn luhn(payload: &str) -> u32 {
    let sum: u32 = payload
        .chars()
        .rev()
        .enumerate()
        .map(|(i, c)| {
            let d = c.to_digit(10).unwrap();
            if i % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    (10 - sum % 10) % 10
}

/// An issued-style ID with a valid check digit for this serial.
fn issued_id(serial: u32) -> String {
    let payload = format!("{serial:07}");
    format!("WFBS{payload}{}", luhn(&payload))
}

/// The query parameter `name` of an otpauth URI.
fn uri_param<'a>(uri: &'a str, name: &str) -> Option<&'a str> {
    let (_, query) = uri.split_once('?')?;
    query
        .split('&')
        .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
}

async fn stop(app: &TestApp, company: &Company, otp: &str) -> reqwest::Response {
    app.post(
        "/api/v1/otp/stop",
        &json!({"otp": otp, "approval_password": APPROVAL}),
        Some(&company.admin_token),
    )
    .await
}

fn contains_window(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[engine_test]
async fn an_issued_token_has_a_check_digit_id_an_otpauth_uri_for_sha1_6_digits_30_s_a_decodable_png_qr_code_and_a_seven_day_expiry(
    app: TestApp,
) {
    let company = app.company("acme").await;
    let (token, b) = issue(&app, &company.admin_token).await;

    let id = b["token_id"].as_str().unwrap();
    assert_eq!(id.len(), 12, "{id}");
    assert!(id.starts_with("WFBS"), "{id}");
    assert!(id[4..].chars().all(|c| c.is_ascii_digit()), "{id}");
    assert_eq!(
        id[11..].parse::<u32>().unwrap(),
        luhn(&id[4..11]),
        "Luhn check digit of {id}"
    );

    let uri = b["otpauth_uri"].as_str().unwrap();
    assert!(
        uri.starts_with(&format!("otpauth://totp/webfb:{id}?")),
        "{uri}"
    );
    assert!(uri.contains("issuer=webfb"), "{uri}");
    assert_eq!(uri_param(uri, "algorithm"), Some("SHA1"), "{uri}");
    assert_eq!(uri_param(uri, "digits"), Some("6"), "{uri}");
    assert_eq!(uri_param(uri, "period"), Some("30"), "{uri}");
    let secret = uri_param(uri, "secret").unwrap();
    assert!(
        secret
            .chars()
            .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c)),
        "base32: {secret}"
    );
    assert_eq!(token.seed.len(), 20, "a 160-bit seed");

    let png = base64::engine::general_purpose::STANDARD
        .decode(b["qr_png_base64"].as_str().unwrap())
        .expect("the QR code is base64");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&png[12..16], b"IHDR", "the first chunk is the header");
    assert_eq!(
        &png[png.len() - 8..png.len() - 4],
        b"IEND",
        "the last chunk ends the image"
    );

    let expires_at: DateTime<Utc> = b["expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(expires_at, app.clock.now() + Duration::days(7));

    // Any signed-in person may issue one, and every issuance gets a new ID and seed.
    app.user(&company, "sato.keiri").await;
    let user_session = app.token("sato.keiri", PASSWORD).await;
    let (other, _) = issue(&app, &user_session).await;
    assert_ne!(other.token_id, token.token_id);
    assert_ne!(other.seed, token.seed);
    assert_eq!(app.audit_count("token_issued", "success").await, 2);
    problem(
        app.post("/api/v1/soft-tokens", &json!({}), None).await,
        401,
        "unauthenticated",
    )
    .await;
}

#[engine_test]
async fn a_mistyped_token_id_is_answered_token_id_mistyped(app: TestApp) {
    let company = app.company("acme").await;
    app.set_mode(&company, "per_user").await;
    let token = app.issue_token(&company.admin_token).await;
    let last = token.token_id[11..].parse::<u32>().unwrap();
    let mistyped = Token {
        token_id: format!("{}{}", &token.token_id[..11], (last + 1) % 10),
        seed: token.seed.clone(),
    };
    let b = problem(
        app.register_admin_token(&company, &mistyped, &token.code(&app, 0))
            .await,
        422,
        "token_id_mistyped",
    )
    .await;
    assert_eq!(fields(&b), ["token_id"], "{b}");

    let malformed = Token {
        token_id: "AB C!".into(),
        seed: token.seed.clone(),
    };
    let b = problem(
        app.register_admin_token(&company, &malformed, &token.code(&app, 0))
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&b), ["token_id"], "{b}");

    // Nothing was spent: the right ID registers with the same code.
    let res = app
        .register_admin_token(&company, &token, &token.code(&app, 0))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["status"], "active");
}

#[engine_test]
async fn another_company_s_token_id_is_refused_as_unknown(app: TestApp) {
    let a = app.company("acme").await;
    let b = app.company("beta").await;
    app.set_mode(&a, "per_user").await;
    app.set_mode(&b, "per_user").await;
    let token = app.issue_token(&a.admin_token).await;

    let theirs = problem(
        app.register_admin_token(&b, &token, &token.code(&app, 0))
            .await,
        404,
        "token_unknown",
    )
    .await;
    let serial = (token.token_id[4..11].parse::<u32>().unwrap() + 1) % 10_000_000;
    let never = Token {
        token_id: issued_id(serial),
        seed: token.seed.clone(),
    };
    let unknown = problem(
        app.register_admin_token(&b, &never, &token.code(&app, 0))
            .await,
        404,
        "token_unknown",
    )
    .await;
    assert_eq!(
        theirs, unknown,
        "another company's token looks exactly like an unknown one"
    );

    // The refusals spent nothing: company A registers its token with the same code.
    assert_eq!(
        app.register_admin_token(&a, &token, &token.code(&app, 0))
            .await
            .status(),
        200
    );
}

#[engine_test]
async fn an_expired_unregistered_token_cannot_be_registered(app: TestApp) {
    let company = app.company("acme").await;
    let admin = app.activate(&company, "per_user").await;
    let late_user = app.user(&company, "user.late").await;
    let in_time_user = app.user(&company, "user.ontime").await;
    let (late, late_view) = issue(&app, &company.admin_token).await;
    let (in_time, _) = issue(&app, &company.admin_token).await;
    let expires_at: DateTime<Utc> = late_view["expires_at"].as_str().unwrap().parse().unwrap();

    app.advance(Duration::days(7) - Duration::seconds(1));
    assert!(app.clock.now() < expires_at);
    // The session of a week ago is long over: sign in again.
    let company = Company {
        admin_token: app.token(&company.admin_login_id, PASSWORD).await,
        ..company
    };
    let res = app
        .register_user_token(&company, &in_time_user, &in_time, &in_time.code(&app, 0))
        .await;
    assert_eq!(
        res.status(),
        200,
        "a second before the expiry it still registers"
    );

    app.advance(Duration::seconds(2));
    assert!(app.clock.now() > expires_at);
    problem(
        app.register_user_token(&company, &late_user, &late, &late.code(&app, 0))
            .await,
        422,
        "token_expired",
    )
    .await;

    // The administrator's token, registered in time, keeps working after seven days.
    let res = stop(&app, &company, &admin.code(&app, 0)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["status"], "inactive");
}

#[engine_test]
async fn the_database_holds_no_seed_in_the_clear(app: TestApp) {
    use diesel::prelude::*;
    use webfb::db::schema::soft_tokens::dsl as t;

    let company = app.company("acme").await;
    app.set_mode(&company, "per_user").await;
    let (a, a_view) = issue(&app, &company.admin_token).await;
    let (b, b_view) = issue(&app, &company.admin_token).await;
    assert_eq!(
        app.register_admin_token(&company, &a, &a.code(&app, 0))
            .await
            .status(),
        200
    );
    app.next_step();

    // Every column of every row.
    type Row = (
        String,
        String,
        Option<String>,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        Vec<u8>,
        i32,
        i32,
        i64,
    );
    let rows: Vec<Row> = app
        .with_db(|conn, _| {
            t::soft_tokens
                .select((
                    t::id,
                    t::token_id,
                    t::company_id,
                    t::source,
                    t::algorithm,
                    t::key_id,
                    t::issued_by,
                    t::holder_id,
                    t::sealed_secret,
                    t::digits,
                    t::period,
                    t::last_used_step,
                ))
                .load(conn)
                .unwrap()
        })
        .await;
    assert_eq!(rows.len(), 2);
    let secrets: Vec<String> = [&a_view, &b_view]
        .iter()
        .map(|v| {
            uri_param(v["otpauth_uri"].as_str().unwrap(), "secret")
                .unwrap()
                .to_owned()
        })
        .collect();
    for (token, secret) in [&a, &b].into_iter().zip(&secrets) {
        let hex: String = token.seed.iter().map(|x| format!("{x:02x}")).collect();
        for row in &rows {
            let texts = [
                Some(&row.0),
                Some(&row.1),
                row.2.as_ref(),
                Some(&row.3),
                Some(&row.4),
                Some(&row.5),
                row.6.as_ref(),
                row.7.as_ref(),
            ];
            for text in texts.into_iter().flatten() {
                assert!(
                    !text.contains(secret.as_str()),
                    "base32 secret in a text column: {text}"
                );
                assert!(
                    !text.to_ascii_lowercase().contains(&hex),
                    "hex seed in a text column: {text}"
                );
            }
            // The remaining columns are numbers and times; the whole row's text must
            // not hold the secret either.
            let whole = format!("{row:?}");
            assert!(
                !whole.contains(secret.as_str()) && !whole.to_ascii_lowercase().contains(&hex),
                "{whole}"
            );
            let sealed = &row.8;
            assert!(
                !contains_window(sealed, &token.seed),
                "raw seed inside sealed_secret"
            );
            assert!(
                !contains_window(sealed, &token.seed[..8]),
                "part of the seed inside sealed_secret"
            );
            assert!(
                !contains_window(sealed, secret.as_bytes()),
                "base32 secret inside sealed_secret"
            );
            assert!(
                !contains_window(sealed, hex.as_bytes()),
                "hex seed inside sealed_secret"
            );
            // nonce (12) + ciphertext (20) + tag (16)
            assert_eq!(
                sealed.len(),
                12 + 20 + 16,
                "sealed_secret is AES-GCM output"
            );
        }
    }
    let details: Vec<Option<String>> = app
        .with_db(|conn, _| {
            use webfb::db::schema::audit_events::dsl as e;
            e::audit_events.select(e::detail).load(conn).unwrap()
        })
        .await;
    for secret in &secrets {
        assert!(
            details
                .iter()
                .flatten()
                .all(|d| !d.contains(secret.as_str())),
            "no secret in the audit log"
        );
    }

    // A's ciphertext copied onto B's row does not open under B's ID (the token ID is the
    // associated data), so B cannot be registered with A's codes.
    let a_id = a.token_id.clone();
    let b_id = b.token_id.clone();
    app.with_db(move |conn, _| {
        let (key_id, sealed): (String, Vec<u8>) = t::soft_tokens
            .filter(t::token_id.eq(&a_id))
            .select((t::key_id, t::sealed_secret))
            .first(conn)
            .unwrap();
        let n = diesel::update(t::soft_tokens.filter(t::token_id.eq(&b_id)))
            .set((t::key_id.eq(key_id), t::sealed_secret.eq(sealed)))
            .execute(conn)
            .unwrap();
        assert_eq!(n, 1);
    })
    .await;
    let user = app.user(&company, "sato.keiri").await;
    let res = app
        .register_user_token(&company, &user, &b, &a.code(&app, 0))
        .await;
    // The server cannot open B's seed: a fault in its own data that no client can
    // correct. It refuses with a generic 500 that reveals nothing (the cause is logged).
    let refusal = problem(res, 500, "internal_error").await;
    let text = refusal.to_string().to_lowercase();
    assert!(
        !text.contains("seal")
            && !text.contains("corrupt")
            && !text.contains(&b.token_id.to_lowercase()),
        "{refusal}"
    );
    assert_eq!(
        app.audit_count("token_seed_unreadable", "denied").await,
        1,
        "the tampering is in the audit log"
    );
    let b_id = b.token_id.clone();
    let holder: Option<String> = app
        .with_db(move |conn, _| {
            t::soft_tokens
                .filter(t::token_id.eq(&b_id))
                .select(t::holder_id)
                .first(conn)
                .unwrap()
        })
        .await;
    assert_eq!(holder, None, "B stays unregistered");
    let me = body(
        app.get("/api/v1/me", Some(&app.token("sato.keiri", PASSWORD).await))
            .await,
    )
    .await;
    assert_eq!(me["token"], Value::Null);
}

#[engine_test]
async fn the_registration_code_cannot_be_used_again(app: TestApp) {
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

    problem(stop(&app, &company, &code).await, 409, "otp_replayed").await;
    let flagged: Vec<bool> = app
        .with_db(|conn, _| {
            use diesel::prelude::*;
            use webfb::db::schema::audit_events::dsl as e;
            e::audit_events
                .filter(e::action.eq("otp_replayed"))
                .select(e::flagged)
                .load(conn)
                .unwrap()
        })
        .await;
    assert_eq!(flagged, [true], "the replay is audited and flagged");
    assert_eq!(app.audit_count("otp_replayed", "denied").await, 1);

    // Still active; the token's next code stops OTP.
    app.next_step();
    let res = stop(&app, &company, &token.code(&app, 0)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["status"], "inactive");
}
