//! People and the bank's monitoring are told of security events, through the outbox and
//! real servers: an SMTP server (aiosmtpd) and a local webhook receiver whose signatures
//! an independent implementation (Python's hmac) verifies.

use std::net::TcpListener;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// aiosmtpd writing every mail it receives into a Maildir.
pub(crate) struct Smtp {
    child: Child,
    port: u16,
    maildir: tempfile::TempDir,
}

impl Smtp {
    pub(crate) fn start() -> Smtp {
        let port = free_port();
        let maildir = tempfile::tempdir().unwrap();
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.path().join("box"))
            .spawn()
            .expect("run aiosmtpd");
        for _ in 0..500 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Smtp {
            child,
            port,
            maildir,
        }
    }

    /// Each mail received, read by Python's email package: (To, X-Webfb-Event,
    /// Message-ID, the decoded text).
    pub(crate) fn mails(&self) -> Vec<(String, String, String, String)> {
        let dir = self.maildir.path().join("box").join("new");
        let Ok(entries) = std::fs::read_dir(dir) else {
            return vec![];
        };
        let script = r#"
import email, email.policy, json, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
print(json.dumps([m["To"], m["X-Webfb-Event"], m["Message-ID"], m["Subject"] + "\n" + m.get_content()]))
"#;
        entries
            .filter_map(|e| {
                let out = Command::new("python3")
                    .args(["-c", script])
                    .arg(e.ok()?.path())
                    .output()
                    .ok()?;
                let v: (String, String, String, String) =
                    serde_json::from_slice(&out.stdout).ok()?;
                Some(v)
            })
            .collect()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (a minute at most, so nothing hangs) until `done` holds.
pub(crate) async fn eventually<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..3000 {
        if let Some(found) = probe().await {
            return found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("not within a minute: {what}");
}

pub(crate) async fn with_mail(engine: Engine, smtp: &Smtp) -> TestApp {
    let url = format!("smtp://127.0.0.1:{}", smtp.port);
    spawn_app_full(
        engine,
        move |s| {
            s.notifications.smtp_url = Some(url.into());
            s.notifications.dispatch_every = Some(std::time::Duration::from_millis(20));
        },
        None,
    )
    .await
}

async fn mails_tell_people_of_registration_lockout_and_replay(engine: Engine) {
    let smtp = Smtp::start();
    let app = with_mail(engine, &smtp).await;
    let company = app.company("acme").await;
    let user_id = app.user(&company, "user.one").await;
    let res = app
        .send(
            reqwest::Method::PUT,
            &format!("/api/v1/bank/people/{}/email", company.admin_id),
            Some(&json!({"email": "admin@acme.example.jp"})),
            Some(&company.operator_token),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .patch(
            &format!("/api/v1/users/{user_id}"),
            &json!({"email": "user.one@acme.example.jp"}),
            Some(&company.admin_token),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    app.activate(&company, "per_user").await;
    let token = app.give_token(&company, &user_id).await;
    let spent = token.code(&app, 0);
    app.next_step();
    let session = app.token("user.one", PASSWORD).await;
    let id = crate::transfers::create(&app, &company, &session).await;
    let confirm = |otp: String| {
        let path = format!("/api/v1/transfers/{id}/confirm");
        let session = session.clone();
        let app = &app;
        async move { app.post(&path, &json!({"otp": otp}), Some(&session)).await }
    };
    assert_eq!(
        confirm(spent.clone()).await.status(),
        StatusCode::CONFLICT,
        "a replay"
    );
    let wrong = token.wrong_code(&app);
    for _ in 0..5 {
        confirm(wrong.clone()).await;
    }

    let people = ["admin@acme.example.jp", "user.one@acme.example.jp"];
    let events = ["token_registered", "otp_replayed", "token_locked"];
    // Each told to both: registration, replay and lockout (in whatever order they go).
    let mails = eventually("every mail", async || {
        let mails = smtp.mails();
        let told = |who: &str, event: &str| mails.iter().any(|m| m.0 == who && m.1 == event);
        let all = people
            .iter()
            .all(|who| events.iter().all(|event| told(who, event)));
        all.then_some(mails)
    })
    .await;
    for (_, event, message_id, text) in &mails {
        assert!(
            message_id.starts_with('<') && message_id.ends_with("@webfb>"),
            "a stable id"
        );
        assert!(
            text.contains("心当たりがない場合") && text.contains("If this was not you"),
            "{text}"
        );
        assert!(text.contains(event.as_str()));
        for secret in [spent.as_str(), wrong.as_str(), PASSWORD, APPROVAL] {
            assert!(
                !text.contains(secret),
                "no code or password in a mail: {text}"
            );
        }
    }
    // Every mail the outbox marked delivered was received (a mail arrives a moment before
    // it is marked).
    let path = "/api/v1/bank/notifications?status=delivered&channel=email&limit=200";
    eventually("every mail marked delivered", async || {
        let delivered = body(app.get(path, Some(&company.operator_token)).await).await;
        let marked = delivered["items"].as_array().map_or(0, Vec::len);
        (marked == smtp.mails().len()).then_some(())
    })
    .await;
}

mod mails_tell_people_of_registration_lockout_and_replay {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(not(webfb_aiosmtpd), ignore = "pip install aiosmtpd and run again")]
    async fn on_sqlite() {
        mails_tell_people_of_registration_lockout_and_replay(Engine::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(all(webfb_aiosmtpd, webfb_postgres_tests)),
        ignore = "pip install aiosmtpd, set TEST_DATABASE_URL and run again"
    )]
    async fn on_postgres() {
        mails_tell_people_of_registration_lockout_and_replay(Engine::Postgres).await
    }
}

/// A delivery as received: webhook-id, webhook-timestamp, webhook-signature, body.
type Delivery = (String, String, String, String);

/// A local receiver: records each delivery, answers 200 while up and 503 while down.
#[derive(Clone, Default)]
struct Receiver {
    up: Arc<AtomicBool>,
    got: Arc<Mutex<Vec<Delivery>>>,
}

impl Receiver {
    async fn start(&self) -> String {
        let me = self.clone();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            let me = me.clone();
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let me = me.clone();
                async move {
                    if !me.up.load(Ordering::SeqCst) {
                        return HttpResponse::ServiceUnavailable().finish();
                    }
                    let h = |n: &str| {
                        req.headers()
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    me.got.lock().unwrap().push((
                        h("webhook-id"),
                        h("webhook-timestamp"),
                        h("webhook-signature"),
                        String::from_utf8(body.to_vec()).unwrap(),
                    ));
                    HttpResponse::NoContent().finish()
                }
            }))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        format!("http://127.0.0.1:{port}/hook")
    }

    fn deliveries(&self) -> Vec<Delivery> {
        self.got.lock().unwrap().clone()
    }
}

/// Standard Webhooks' signature, checked by Python's own hmac: an implementation that
/// shares nothing with the server's.
fn python_verifies(secret: &str, id: &str, timestamp: &str, body: &str, signature: &str) -> bool {
    let script = r#"
import base64, hashlib, hmac, sys
secret, id, ts, body, sig = sys.argv[1:6]
key = base64.b64decode(secret.removeprefix("whsec_"))
mac = hmac.new(key, f"{id}.{ts}.{body}".encode(), hashlib.sha256).digest()
ok = any(hmac.compare_digest(base64.b64encode(mac).decode(), s.split(",", 1)[1]) for s in sig.split(" "))
sys.exit(0 if ok else 1)
"#;
    Command::new("python3")
        .args(["-c", script, secret, id, timestamp, body, signature])
        .status()
        .unwrap()
        .success()
}

async fn with_webhooks(engine: Engine, max_attempts: i32) -> TestApp {
    spawn_app_full(
        engine,
        move |s| {
            s.notifications.dispatch_every = Some(std::time::Duration::from_millis(20));
            s.notifications.max_attempts = max_attempts;
        },
        None,
    )
    .await
}

async fn subscribe(app: &TestApp, operator: &str, url: &str) -> String {
    let res = app
        .post(
            "/api/v1/bank/webhooks",
            &json!({"url": url, "event_types": ["*"]}),
            Some(operator),
        )
        .await;
    let status = res.status();
    let b = body(res).await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    b["secret"].as_str().unwrap().to_owned()
}

/// A bank operator's act on a company: told to the monitoring.
async fn an_event(app: &TestApp, company: &Company) {
    let res = app
        .post(
            &format!("/api/v1/bank/companies/{}/admin/unlock", company.id),
            &json!({}),
            Some(&company.operator_token),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

async fn webhooks_down_then_up(engine: Engine) {
    let app = with_webhooks(engine, 8).await;
    let company = app.company("acme").await;
    let receiver = Receiver::default();
    receiver.up.store(true, Ordering::SeqCst);
    let url = receiver.start().await;
    let secret = subscribe(&app, &company.operator_token, &url).await;

    an_event(&app, &company).await;
    let first = eventually("step 2", async || receiver.deliveries().first().cloned()).await;
    let (id, ts, sig, body) = first;
    assert!(
        python_verifies(&secret, &id, &ts, &body, &sig),
        "the signature verifies"
    );
    assert!(
        !python_verifies(&secret, &id, &ts, &format!("{body} "), &sig),
        "and only for its body"
    );
    let event: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(event["type"], "login_unlocked");

    // Down: attempts fail and are retried later; up again: every message arrives, once.
    receiver.up.store(false, Ordering::SeqCst);
    for _ in 0..3 {
        an_event(&app, &company).await;
    }
    eventually("step 3", async || {
        let list = body_of(&app, &company, "pending").await;
        // Failed and recorded: no attempt still in flight when the clock moves.
        let retried = list.iter().filter(|m| m["last_error"].is_string()).count();
        (retried == 3).then_some(())
    })
    .await;
    receiver.up.store(true, Ordering::SeqCst);
    app.advance(Duration::minutes(5));
    let all = eventually("step 4", async || {
        let got = receiver.deliveries();
        (got.len() >= 4).then_some(got)
    })
    .await;
    let mut ids: Vec<&String> = all.iter().map(|d| &d.0).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4, "each message once in the normal case");
    assert!(
        all.iter()
            .all(|(id, ts, sig, body)| python_verifies(&secret, id, ts, body, sig))
    );
    // The last delivery reached the receiver a moment before it was recorded.
    let metrics = eventually("every delivery recorded", async || {
        let text = app.get("/metrics", None).await.text().await.unwrap();
        text.contains("webfb_outbox_messages{status=\"delivered\"} 4")
            .then_some(text)
    })
    .await;
    let value = |line: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(line)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{line} in {metrics}"))
    };
    assert_eq!(value("webfb_outbox_messages{status=\"delivered\"}"), 4.0);
    assert!(value("webfb_outbox_deliveries_total{outcome=\"retried\"}") >= 3.0);
    assert_eq!(value("webfb_outbox_oldest_pending_seconds"), 0.0);
}

async fn body_of(app: &TestApp, company: &Company, status: &str) -> Vec<Value> {
    let path = format!("/api/v1/bank/notifications?status={status}&channel=webhook&limit=200");
    body(app.get(&path, Some(&company.operator_token)).await).await["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn a_receiver_that_always_fails_ends_dead_lettered(engine: Engine) {
    let app = with_webhooks(engine, 3).await;
    let company = app.company("acme").await;
    let receiver = Receiver::default();
    let url = receiver.start().await;
    subscribe(&app, &company.operator_token, &url).await;
    an_event(&app, &company).await;
    let dead = eventually("step 5", async || {
        app.advance(Duration::minutes(1));
        let dead = body_of(&app, &company, "dead").await;
        (!dead.is_empty()).then_some(dead)
    })
    .await;
    assert_eq!(dead[0]["attempts"], 3);
    assert!(dead[0]["last_error"].as_str().unwrap().contains("503"));
    assert!(app.audit_count("webhook_dead_lettered", "failure").await >= 1);
    let id = dead[0]["id"].as_str().unwrap();
    receiver.up.store(true, Ordering::SeqCst);
    let res = app
        .post(
            &format!("/api/v1/bank/notifications/{id}/redeliver"),
            &json!({}),
            Some(&company.operator_token),
        )
        .await;
    assert_eq!(body(res).await["status"], "pending");
    eventually("step 6", async || {
        (!receiver.deliveries().is_empty()).then_some(())
    })
    .await;
}

macro_rules! on_both_engines {
    ($name:ident, $run:ident) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                $run(Engine::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(
                not(webfb_postgres_tests),
                ignore = "PostgreSQL: set TEST_DATABASE_URL=postgres://… and run again"
            )]
            async fn on_postgres() {
                $run(Engine::Postgres).await
            }
        }
    };
}

on_both_engines!(
    signed_webhooks_reach_a_receiver_that_was_down,
    webhooks_down_then_up
);
on_both_engines!(
    a_receiver_that_always_fails_is_dead_lettered_and_redelivered,
    a_receiver_that_always_fails_ends_dead_lettered
);

async fn two_instances_deliver_each_message_once(engine: Engine) {
    let app = with_webhooks(engine, 8).await;
    app.second_instance_with(|s| {
        s.notifications.dispatch_every = Some(std::time::Duration::from_millis(20))
    })
    .await;
    let company = app.company("acme").await;
    let receiver = Receiver::default();
    receiver.up.store(true, Ordering::SeqCst);
    let url = receiver.start().await;
    subscribe(&app, &company.operator_token, &url).await;
    for _ in 0..20 {
        an_event(&app, &company).await;
    }
    eventually("all delivered", async || {
        (body_of(&app, &company, "delivered").await.len() == 20).then_some(())
    })
    .await;
    let mut ids: Vec<String> = receiver.deliveries().into_iter().map(|d| d.0).collect();
    assert_eq!(ids.len(), 20, "no message twice");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20);
}

on_both_engines!(
    two_instances_on_one_database_deliver_each_message_once,
    two_instances_deliver_each_message_once
);

/// The real binary, killed with SIGKILL after the action committed and before any
/// dispatcher ran: the message is delivered once it runs again.
async fn a_message_survives_a_crash(engine: Engine) {
    let dir = tempfile::tempdir().unwrap();
    let database = match engine {
        Engine::Sqlite => format!("sqlite://{}", dir.path().join("webfb.db").display()),
        Engine::Postgres => tokio::task::spawn_blocking(fresh_postgres_database)
            .await
            .unwrap(),
    };
    let port = free_port();
    let webfb = |dispatch: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_webfb"));
        cmd.env_clear()
            .env("DATABASE_URL", &database)
            .env("WEBFB_DATA_DIR", dir.path())
            .env("WEBFB_BIND", format!("127.0.0.1:{port}"))
            .env("WEBFB_JWT_SECRET", "crash-test-secret-crash-test-secret-0")
            .env(
                "WEBFB_MASTER_KEY",
                "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=",
            )
            .env("WEBFB_ARGON2_MEMORY_KIB", "19456")
            .env("WEBFB_OUTBOX_MILLIS", dispatch)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        cmd
    };
    let mut create = webfb("0")
        .args(["operator", "create", "--login-id", "op.crash"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    create
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .unwrap();
    assert!(create.wait().unwrap().success());

    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let up = async || {
        eventually("the server answers", async || {
            client
                .get(format!("{base}/ready"))
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success())
                .map(|_| ())
        })
        .await
    };
    let mut first = webfb("0").arg("serve").spawn().unwrap();
    up().await;
    let login = client
        .post(format!("{base}/api/v1/bank/auth/login"))
        .json(&json!({"login_id": "op.crash", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let operator = body(login).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let receiver = Receiver::default();
    receiver.up.store(true, Ordering::SeqCst);
    let url = receiver.start().await;
    let res = client
        .post(format!("{base}/api/v1/bank/webhooks"))
        .bearer_auth(&operator)
        .json(&json!({"url": url, "event_types": ["company_created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = client
        .post(format!("{base}/api/v1/bank/companies"))
        .bearer_auth(&operator)
        .json(&company_request("crash.admin", "001-7777777"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    first.kill().unwrap(); // SIGKILL: no shutdown, nothing flushed.
    first.wait().unwrap();
    assert!(receiver.deliveries().is_empty());

    let mut second = webfb("20").arg("serve").spawn().unwrap();
    let delivered = eventually("delivered after the restart", async || {
        receiver.deliveries().first().cloned()
    })
    .await;
    let _ = second.kill();
    let _ = second.wait();
    let event: Value = serde_json::from_str(&delivered.3).unwrap();
    assert_eq!(event["type"], "company_created");
    assert_eq!(receiver.deliveries().len(), 1);
}

on_both_engines!(
    a_message_committed_before_a_crash_is_delivered_after_the_restart,
    a_message_survives_a_crash
);

async fn removing_a_subscription_cancels_its_waiting_messages(engine: Engine) {
    let app = with_webhooks(engine, 8).await;
    let company = app.company("acme").await;
    let receiver = Receiver::default();
    let url = receiver.start().await;
    subscribe(&app, &company.operator_token, &url).await;
    an_event(&app, &company).await;
    let list = body(
        app.get("/api/v1/bank/webhooks", Some(&company.operator_token))
            .await,
    )
    .await;
    let id = list["items"][0]["id"].as_str().unwrap().to_owned();
    let res = app
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v1/bank/webhooks/{id}"),
            None,
            Some(&company.operator_token),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let dead = body_of(&app, &company, "dead").await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["last_error"], "the subscription was removed");
    assert!(body_of(&app, &company, "pending").await.is_empty());
    assert_eq!(app.audit_count("webhook_dead_lettered", "failure").await, 0);
}

on_both_engines!(
    removing_a_subscription_cancels_its_waiting_messages_not_a_dead_letter_storm,
    removing_a_subscription_cancels_its_waiting_messages
);
