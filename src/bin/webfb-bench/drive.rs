//! K clients driving a running server over HTTP for D seconds, each request timed.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::codes::{Codes, Lease};
use crate::provision::{Holder, PASSWORD};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// A transfer created, then confirmed with a code, by the same person.
    Pairs,
    /// Transfers created.
    Creates,
    /// Transfers created beforehand (not timed), confirmed with a code.
    Confirms,
    /// `GET /me` and `GET /transfers`.
    Reads,
    /// `POST /auth/login` (argon2id on the server), with `GET /health` probed meanwhile.
    SignIns,
}

/// One client's figures, merged at the end.
pub struct Tally {
    pub latencies: BTreeMap<&'static str, Histogram<u64>>,
    pub errors: BTreeMap<String, u64>,
    pub confirmed: Vec<String>,
    /// Time spent waiting for a token with an unused step in the server's window.
    pub starved: Duration,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            latencies: BTreeMap::new(),
            errors: BTreeMap::new(),
            confirmed: Vec::new(),
            starved: Duration::ZERO,
        }
    }

    pub fn merge(&mut self, other: Tally) {
        for (op, h) in other.latencies {
            self.histogram(op).add(h).expect("same bounds");
        }
        for (code, n) in other.errors {
            *self.errors.entry(code).or_default() += n;
        }
        self.confirmed.extend(other.confirmed);
        self.starved += other.starved;
    }

    fn transport_errors(&self) -> u64 {
        let transport = |code: &String| code.contains(": transport");
        self.errors
            .iter()
            .filter(|(c, _)| transport(c))
            .map(|(_, n)| n)
            .sum()
    }

    fn histogram(&mut self, op: &'static str) -> &mut Histogram<u64> {
        // Microseconds, up to a minute, 3 significant digits.
        self.latencies
            .entry(op)
            .or_insert_with(|| Histogram::new_with_bounds(1, 60_000_000, 3).expect("bounds"))
    }
}

/// What every client shares.
pub struct Run<'a> {
    pub http: reqwest::Client,
    pub base: String,
    pub holders: &'a [Holder],
    pub codes: &'a Codes,
    /// Requests answered so far, for the progress line.
    pub done: AtomicU64,
    next_holder: AtomicUsize,
    next_key: AtomicU64,
    run_key: String,
    /// Transfers created beforehand, by holder (the confirms workload).
    pending: Vec<Mutex<Vec<String>>>,
    pending_left: AtomicUsize,
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn tomorrow_in_japan() -> String {
    let japan = chrono::Utc::now() + chrono::Duration::hours(9);
    (japan.date_naive() + chrono::Duration::days(1)).to_string()
}

impl<'a> Run<'a> {
    pub fn new(http: reqwest::Client, base: &str, holders: &'a [Holder], codes: &'a Codes) -> Self {
        Run {
            http,
            base: base.trim_end_matches('/').to_owned(),
            holders,
            codes,
            done: AtomicU64::new(0),
            next_holder: AtomicUsize::new(0),
            next_key: AtomicU64::new(0),
            run_key: format!("{:08x}", rand::random::<u32>()),
            pending: holders.iter().map(|_| Mutex::new(Vec::new())).collect(),
            pending_left: AtomicUsize::new(0),
        }
    }

    fn pending_of(&self, holder: usize) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.pending[holder]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn round_robin(&self) -> &Holder {
        let i = self.next_holder.fetch_add(1, Ordering::Relaxed);
        &self.holders[i % self.holders.len()]
    }

    /// Sends, times and tallies one request; the JSON body of a 2xx answer.
    async fn call(
        &self,
        tally: &mut Tally,
        op: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Option<Value> {
        let started = Instant::now();
        let mut retry_after = None;
        let answer = match request.send().await {
            Ok(response) => {
                let status = response.status();
                retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                let body = response.bytes().await;
                Some((status, body))
            }
            Err(e) => {
                let cause =
                    std::error::Error::source(&e).map_or(String::new(), |c| format!(": {c}"));
                *tally
                    .errors
                    .entry(format!("{op}: transport ({e}{cause})"))
                    .or_default() += 1;
                None
            }
        };
        let elapsed = started.elapsed();
        self.done.fetch_add(1, Ordering::Relaxed);
        let (status, body) = answer?;
        let body: Value = body
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        if !status.is_success() {
            let code = body["code"].as_str().unwrap_or("-");
            *tally
                .errors
                .entry(format!("{op}: {} {code}", status.as_u16()))
                .or_default() += 1;
            // As a well-behaved client does: a busy server is not asked again at once.
            if let Some(secs) = retry_after {
                tokio::time::sleep(Duration::from_secs(secs.min(5))).await;
            }
            return None;
        }
        let micros = (elapsed.as_micros() as u64).clamp(1, 60_000_000);
        tally.histogram(op).saturating_record(micros);
        Some(body)
    }

    async fn create(&self, tally: &mut Tally, holder: &Holder) -> Option<String> {
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        let transfer = json!({
            "debit_account": holder.debit_account,
            "payee": {"bank_code": "0001", "branch_code": "123", "account_type": "ordinary",
                      "account_number": "7654321", "name": "ｶ)ﾔﾏﾀﾞｼﾖｳｼﾞ"},
            "amount": 1000,
            "execution_date": tomorrow_in_japan(),
        });
        let request = self
            .http
            .post(format!("{}/api/v1/transfers", self.base))
            .bearer_auth(&holder.access_token)
            .header("Idempotency-Key", format!("bench-{}-{key}", self.run_key))
            .json(&transfer);
        let created = self.call(tally, "create", request).await?;
        created["id"].as_str().map(str::to_owned)
    }

    /// Confirms with the code of the lease's step now, and gives the token back once answered.
    async fn confirm(&self, tally: &mut Tally, lease: Lease, id: &str) {
        let holder = &self.holders[lease.holder];
        let step = lease.step(unix_now());
        let request = self
            .http
            .post(format!("{}/api/v1/transfers/{id}/confirm", self.base))
            .bearer_auth(&holder.access_token)
            .json(&json!({ "otp": holder.code(step) }));
        let errors = tally.transport_errors();
        let answer = self.call(tally, "confirm", request).await;
        if answer.as_ref().is_some_and(|a| a["status"] == "confirmed") {
            tally.confirmed.push(id.to_owned());
        }
        // Unanswered, the code may still be judged: the token is not used again.
        if tally.transport_errors() == errors {
            self.codes.give_back(lease, Some(step));
        }
    }

    /// A token with an unused step, of a holder `wanted`, waiting for the next step when
    /// none has one.
    async fn lease(
        &self,
        tally: &mut Tally,
        until: Instant,
        workload: Workload,
        wanted: impl Fn(usize) -> bool,
    ) -> Option<Lease> {
        loop {
            if let Some(lease) = self.codes.lend(unix_now(), &wanted) {
                return Some(lease);
            }
            let confirmed_all =
                workload == Workload::Confirms && self.pending_left.load(Ordering::Relaxed) == 0;
            if confirmed_all || Instant::now() >= until {
                return None;
            }
            let wait = Duration::from_millis(20);
            tally.starved += wait;
            tokio::time::sleep(wait).await;
        }
    }

    /// Creates, with `clients` clients, as many transfers per holder as its token has codes
    /// now (at most `budget` in all), for the confirms workload to confirm.
    pub async fn prepare(&self, clients: usize, budget: usize) -> Tally {
        let mut todo = Vec::new();
        for (holder, codes) in self.codes.per_holder(unix_now()) {
            for _ in 0..codes {
                todo.push(holder);
            }
        }
        // Spread over holders first, so that a small budget still reaches many tokens.
        let todo: Vec<usize> = interleave(todo).into_iter().take(budget).collect();
        let queue = Mutex::new(todo);
        let mut tallies = Vec::new();
        let mut tasks = Vec::new();
        for _ in 0..clients {
            tasks.push(async {
                let mut tally = Tally::new();
                loop {
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop();
                    let Some(holder) = next else { break };
                    if let Some(id) = self.create(&mut tally, &self.holders[holder]).await {
                        self.pending[holder]
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(id);
                        self.pending_left.fetch_add(1, Ordering::Relaxed);
                    }
                }
                tally
            });
        }
        for tally in futures_util::future::join_all(tasks).await {
            tallies.push(tally);
        }
        merged(tallies)
    }

    /// One client until `until`.
    pub async fn client(&self, workload: Workload, until: Instant) -> Tally {
        let mut tally = Tally::new();
        while Instant::now() < until {
            match workload {
                Workload::Creates => {
                    let holder = self.round_robin();
                    self.create(&mut tally, holder).await;
                }
                Workload::Pairs => {
                    let lease = self.lease(&mut tally, until, workload, |_| true).await;
                    let Some(lease) = lease else { break };
                    match self.create(&mut tally, &self.holders[lease.holder]).await {
                        Some(id) => self.confirm(&mut tally, lease, &id).await,
                        None => self.codes.give_back(lease, None),
                    }
                }
                Workload::Confirms => {
                    if self.pending_left.load(Ordering::Relaxed) == 0 {
                        break;
                    }
                    let waiting = |holder: usize| !self.pending_of(holder).is_empty();
                    let lease = self.lease(&mut tally, until, workload, waiting).await;
                    let Some(lease) = lease else { break };
                    let Some(id) = self.pending_of(lease.holder).pop() else {
                        self.codes.give_back(lease, None);
                        continue;
                    };
                    self.pending_left.fetch_sub(1, Ordering::Relaxed);
                    self.confirm(&mut tally, lease, &id).await;
                }
                Workload::Reads => {
                    let holder = self.round_robin();
                    let me = self
                        .http
                        .get(format!("{}/api/v1/me", self.base))
                        .bearer_auth(&holder.access_token);
                    self.call(&mut tally, "read /me", me).await;
                    let list = self
                        .http
                        .get(format!("{}/api/v1/transfers?limit=20", self.base))
                        .bearer_auth(&holder.access_token);
                    self.call(&mut tally, "read /transfers", list).await;
                }
                Workload::SignIns => {
                    let holder = self.round_robin();
                    let login = self
                        .http
                        .post(format!("{}/api/v1/auth/login", self.base))
                        .json(&json!({"login_id": holder.login_id, "password": PASSWORD}));
                    self.call(&mut tally, "sign-in", login).await;
                }
            }
        }
        tally
    }

    /// `GET /health` every 10 ms until `until`: how the server answers while busy.
    pub async fn probe_health(&self, until: Instant) -> Tally {
        let mut tally = Tally::new();
        while Instant::now() < until {
            let health = self.http.get(format!("{}/health", self.base));
            self.call(&mut tally, "/health meanwhile", health).await;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tally
    }
}

/// Holder indices, one round over every holder before the next.
fn interleave(sorted: Vec<usize>) -> Vec<usize> {
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    let mut last = None;
    let mut round = 0;
    for h in sorted {
        round = if last == Some(h) { round + 1 } else { 0 };
        last = Some(h);
        if rounds.len() <= round {
            rounds.push(Vec::new());
        }
        rounds[round].push(h);
    }
    // Popped from the end: the last round goes first into the queue's tail.
    rounds.into_iter().rev().flatten().collect()
}

pub fn merged(tallies: impl IntoIterator<Item = Tally>) -> Tally {
    let mut all = Tally::new();
    for t in tallies {
        all.merge(t);
    }
    all
}
