//! Figures, not assertions: does a sign-in flood starve the signed-in?
//!
//! ```sh
//! cargo bench --bench flood
//! FLOOD_SERVER_ENV="WEBFB_CHECKS_PER_ADDR_PER_MINUTE=1000000 WEBFB_CHECKS_PER_SUBJECT_PER_MINUTE=1000000" cargo bench --bench flood
//! ```
//!
//! Starts the release `webfb` binary as a process of its own on a free port, with demo
//! data in a temp directory (`webfb demo`: SQLite), waits for `/ready` and signs in as
//! the demo administrator. Then it measures `GET /api/v1/me` (with the bearer token) and
//! `GET /health` from 4 concurrent clients, for 5 s without load and for 8 s while 48
//! tasks flood `POST /api/v1/auth/login` with unknown login IDs and random passwords.
//! It prints p50/p99/max and counts per endpoint and phase, the flood's answers by
//! status, and `/me`'s p99 under flood against 3x its quiet p99 (the target).
//!
//! `FLOOD_SERVER_ENV` adds settings to the server's environment (and to `webfb demo`'s):
//! `NAME=value` pairs separated by whitespace. The server otherwise runs with nothing but
//! `WEBFB_DATA_DIR`, `WEBFB_BIND`, `RUST_LOG=warn` and `NO_COLOR=1`; what it writes to
//! stderr is counted and its first line printed at the end. The server is killed at the
//! end.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const CLIENTS: usize = 4;
const FLOODERS: usize = 48;
const QUIET: Duration = Duration::from_secs(5);
const FLOOD: Duration = Duration::from_secs(8);
const TARGET_RATIO: f64 = 3.0;
const ADMIN: (&str, &str) = ("demo.admin", "Demo-Admin-2026");

/// The server process; killed when dropped, whatever happened.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `NAME=value` pairs from `FLOOD_SERVER_ENV`.
fn extra_env() -> Vec<(String, String)> {
    std::env::var("FLOOD_SERVER_ENV")
        .unwrap_or_default()
        .split_whitespace()
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => panic!("FLOOD_SERVER_ENV: {pair:?} is not NAME=value"),
        })
        .collect()
}

fn webfb(dir: &Path, bind: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_webfb"));
    command
        .env_clear()
        .env("WEBFB_DATA_DIR", dir)
        .env("WEBFB_BIND", bind)
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .envs(extra_env());
    command
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Latencies of one endpoint in one phase, and the answers that were not 200.
#[derive(Default)]
struct Series {
    latencies: Vec<Duration>,
    failures: BTreeMap<String, u64>,
}

impl Series {
    fn merge(&mut self, other: Series) {
        self.latencies.extend(other.latencies);
        for (k, n) in other.failures {
            *self.failures.entry(k).or_default() += n;
        }
    }

    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
    }

    fn print(&self, what: &str) {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let failures = if self.failures.is_empty() {
            String::new()
        } else {
            format!("  not 200: {:?}", self.failures)
        };
        println!(
            "{what:<24} p50 {:>8.2} ms  p99 {:>8.2} ms  max {:>8.2} ms  n={}{failures}",
            ms(self.percentile(0.5)),
            ms(self.percentile(0.99)),
            ms(self.latencies.iter().max().copied().unwrap_or_default()),
            self.latencies.len(),
        );
    }
}

async fn timed(series: &mut Series, request: reqwest::RequestBuilder) {
    let start = Instant::now();
    let outcome = match request.send().await {
        Ok(res) => {
            let status = res.status().as_u16();
            res.bytes().await.map(|_| status).map_err(|e| e.to_string())
        }
        Err(e) => Err(if e.is_timeout() {
            "timeout".to_owned()
        } else {
            "no answer".to_owned()
        }),
    };
    let elapsed = start.elapsed();
    match outcome {
        Ok(200) => series.latencies.push(elapsed),
        Ok(status) => *series.failures.entry(status.to_string()).or_default() += 1,
        Err(e) => *series.failures.entry(e).or_default() += 1,
    }
}

/// `/me` and `/health` from `CLIENTS` clients, each asking one then the other, for `how_long`.
async fn measure(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    how_long: Duration,
) -> (Series, Series) {
    let until = Instant::now() + how_long;
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (client, base, token) = (client.clone(), base.to_owned(), token.to_owned());
            tokio::spawn(async move {
                let (mut me, mut health) = (Series::default(), Series::default());
                while Instant::now() < until {
                    let req = client.get(format!("{base}/api/v1/me")).bearer_auth(&token);
                    timed(&mut me, req).await;
                    timed(&mut health, client.get(format!("{base}/health"))).await;
                }
                (me, health)
            })
        })
        .collect();
    let (mut me, mut health) = (Series::default(), Series::default());
    for task in tasks {
        let (m, h) = task.await.unwrap();
        me.merge(m);
        health.merge(h);
    }
    (me, health)
}

/// Sign-ins of unknown login IDs with random passwords until `stop`; answers by status.
async fn flood(
    client: reqwest::Client,
    base: String,
    stop: Arc<AtomicBool>,
) -> BTreeMap<String, u64> {
    let mut statuses = BTreeMap::new();
    while !stop.load(Ordering::Relaxed) {
        let body = json!({
            "login_id": format!("flood.{:016x}", rand::random::<u64>()),
            "password": format!("Flood-{:032x}", rand::random::<u128>()),
        });
        let res = client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&body)
            .send()
            .await;
        let key = match res {
            Ok(res) => {
                let status = res.status().as_u16().to_string();
                let _ = res.bytes().await;
                status
            }
            Err(e) if e.is_timeout() => "timeout".to_owned(),
            Err(_) => "no answer".to_owned(),
        };
        *statuses.entry(key).or_default() += 1;
    }
    statuses
}

async fn run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bind = format!("127.0.0.1:{}", free_port());
    let base = format!("http://{bind}");
    let extra = extra_env();
    if !extra.is_empty() {
        println!("server environment from FLOOD_SERVER_ENV: {extra:?}");
    }

    let demo = webfb(dir.path(), &bind)
        .arg("demo")
        .output()
        .expect("webfb demo runs");
    assert!(
        demo.status.success(),
        "webfb demo: {}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let _server = Server(
        webfb(dir.path(), &bind)
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("webfb serve runs"),
    );

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let started = Instant::now();
    loop {
        let ready = client.get(format!("{base}/ready")).send().await;
        if ready.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the server is not ready after 60 s: {}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let res = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"login_id": ADMIN.0, "password": ADMIN.1}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "sign-in of {}", ADMIN.0);
    let token = res.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Warm-up: connections open, caches filled.
    measure(&client, &base, &token, Duration::from_millis(500)).await;

    println!("quiet: {CLIENTS} clients for {} s", QUIET.as_secs());
    let (quiet_me, quiet_health) = measure(&client, &base, &token, QUIET).await;
    quiet_me.print("GET /api/v1/me");
    quiet_health.print("GET /health");

    println!(
        "flood: {CLIENTS} clients for {} s while {FLOODERS} tasks sign in with unknown login IDs",
        FLOOD.as_secs()
    );
    let stop = Arc::new(AtomicBool::new(false));
    let flood_client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let flooders: Vec<_> = (0..FLOODERS)
        .map(|_| tokio::spawn(flood(flood_client.clone(), base.clone(), stop.clone())))
        .collect();
    let flood_started = Instant::now();
    let (flood_me, flood_health) = measure(&client, &base, &token, FLOOD).await;
    stop.store(true, Ordering::Relaxed);
    let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
    for task in flooders {
        for (status, n) in task.await.unwrap() {
            *statuses.entry(status).or_default() += n;
        }
    }
    let flood_secs = flood_started.elapsed().as_secs_f64();
    flood_me.print("GET /api/v1/me");
    flood_health.print("GET /health");
    let total: u64 = statuses.values().sum();
    let by_status: Vec<String> = statuses.iter().map(|(s, n)| format!("{s}: {n}")).collect();
    println!(
        "POST /api/v1/auth/login  {total} sign-ins ({:.0}/s): {}",
        total as f64 / flood_secs,
        by_status.join(", ")
    );

    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    match log.lines().next() {
        Some(first) => println!(
            "server stderr: {} lines, the first: {}",
            log.lines().count(),
            first.chars().take(160).collect::<String>()
        ),
        None => println!("server stderr: nothing"),
    }

    let quiet_p99 = quiet_me.percentile(0.99).as_secs_f64() * 1e3;
    let flood_p99 = flood_me.percentile(0.99).as_secs_f64() * 1e3;
    let ratio = flood_p99 / quiet_p99;
    let verdict = if ratio <= TARGET_RATIO && flood_me.failures.is_empty() {
        "met"
    } else if ratio <= TARGET_RATIO {
        "NOT met: some /me requests failed"
    } else {
        "NOT met"
    };
    println!(
        "me p99 under flood {flood_p99:.1} ms = {ratio:.1}x quiet {quiet_p99:.1} ms (target ≤ {TARGET_RATIO}x): {verdict}"
    );
}

fn main() {
    // `cargo bench` passes `--bench`; this harness takes no arguments.
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run());
}
