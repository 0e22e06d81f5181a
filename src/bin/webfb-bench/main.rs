//! `webfb-bench`, as pgbench is to PostgreSQL: provisions companies with active tokens in
//! the server's database (the same environment as `webfb`: `DATABASE_URL` or
//! `WEBFB_DATA_DIR`, and its keys), then drives the running server over HTTP with K
//! clients for D seconds, never replaying a code, and checks in the database after each
//! workload that confirms that every transfer it saw confirmed was confirmed exactly once.

mod codes;
mod drive;
mod provision;
mod report;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use webfb::clock::SystemClock;
use webfb::config::Settings;
use webfb::service::{Passwords, Services};

use drive::{Run, Tally, Workload};

#[derive(Parser)]
#[command(
    name = "webfb-bench",
    version,
    about = "Load tool for a running webfb server"
)]
struct Args {
    /// The running server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Companies to provision; each person's token gives about three codes at once and
    /// one more every 30 s, so code-spending runs need many.
    #[arg(long, default_value_t = 1000)]
    companies: usize,
    /// People per company, the administrator included, each with a token and a session.
    #[arg(long, default_value_t = 10)]
    people: usize,
    /// Concurrent clients; each number is one series of the workloads.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
    clients: Vec<usize>,
    /// Seconds each workload runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "creates,pairs,reads,confirms,sign-ins"
    )]
    workloads: Vec<Workload>,
    /// Threads provisioning companies.
    #[arg(long, default_value_t = 4)]
    threads: usize,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(2),
        Err(e) => {
            eprintln!("webfb-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn bar(len: u64, prefix: String) -> ProgressBar {
    let bar = ProgressBar::new(len).with_prefix(prefix);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
            .expect("template")
            .progress_chars("=> "),
    );
    bar
}

/// `false` when a database check failed.
fn run(args: Args) -> anyhow::Result<bool> {
    let mut settings = Settings::from_env()?;
    // The throttle of this process only: provisioning checks thousands of passwords.
    settings.policy.checks_per_addr_per_minute = u32::MAX;
    settings.policy.checks_per_subject_per_minute = u32::MAX;
    let services = Services::new(&settings, Arc::new(SystemClock)).map_err(|e| anyhow!("{e}"))?;
    let passwords = Passwords::new(settings.argon2, 2, 64).map_err(|e| anyhow!("{e}"))?;
    let services = Arc::new(Services {
        passwords: passwords.reusing_results(),
        ..services
    });
    let engine = settings.database.engine();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        // Under the server's keep-alive (5 s): a connection it closed is never reused.
        .pool_idle_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(30))
        .build()?;
    let base = args.server.trim_end_matches('/').to_owned();
    let gauges = || runtime.block_on(gauges(&http, &base));

    println!(
        "webfb-bench: {engine}, server {base}, {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    print_rss(&gauges()?, "idle (target ≤ 30 MB)");

    let started = Instant::now();
    let progress = bar(args.companies as u64, "provisioning".into());
    let provisioned = provision::provision(
        &settings.database,
        services.clone(),
        args.companies,
        args.people,
        args.threads,
        &progress,
    )?;
    progress.finish_and_clear();
    let holders = &provisioned.holders;
    println!(
        "provisioned {} companies, {} people with active tokens and sessions, in {:.1} s",
        args.companies,
        holders.len(),
        started.elapsed().as_secs_f64()
    );

    let codes = codes::Codes::new(holders.iter().map(|h| h.next_step));
    let mut confirmed = Vec::new();
    let mut all_ok = true;
    for &clients in &args.clients {
        for &workload in &args.workloads {
            let run = Run::new(http.clone(), &base, holders, &codes);
            let title = format!("{engine} · {workload:?} · {clients} clients");
            if workload == Workload::Confirms {
                let budget = clients * args.seconds as usize * 200;
                let prepared = runtime.block_on(run.prepare(clients, budget));
                let made = prepared.latencies.get("create").map_or(0, |h| h.len());
                println!("\n(confirms: {made} transfers created beforehand, not timed)");
                run.done.store(0, std::sync::atomic::Ordering::Relaxed);
            }
            let before = gauges()?;
            let (tally, elapsed) =
                runtime.block_on(drive(&run, workload, clients, args.seconds, &title));
            let after = gauges()?;
            confirmed.extend(tally.confirmed.iter().cloned());
            report::print(&title, elapsed, &tally);
            if let (Some(a), Some(b)) = (after.cpu_secs, before.cpu_secs) {
                let answered = run.done.load(std::sync::atomic::Ordering::Relaxed).max(1);
                println!(
                    "  server CPU: {:.3} ms a request, {:.0} % of one core",
                    (a - b) * 1e3 / answered as f64,
                    (a - b) * 100.0 / elapsed.as_secs_f64()
                );
            }
            if workload == Workload::SignIns {
                print_rss(&after, "after sign-ins (target ≤ 64 MB)");
            }
            if matches!(workload, Workload::Pairs | Workload::Confirms) {
                all_ok &= check(&settings, &provisioned.login_prefix, &confirmed)?;
            }
        }
    }
    Ok(all_ok)
}

/// One workload with `clients` clients for `seconds`, a progress line meanwhile.
async fn drive(
    run: &Run<'_>,
    workload: Workload,
    clients: usize,
    seconds: u64,
    title: &str,
) -> (Tally, Duration) {
    let progress = bar(seconds, title.to_owned());
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let ticker = async {
        while Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let elapsed = started.elapsed().as_secs_f64();
            progress.set_position(elapsed as u64);
            let done = run.done.load(std::sync::atomic::Ordering::Relaxed);
            progress.set_message(format!("{:.0} requests/s", done as f64 / elapsed));
        }
    };
    let clients_done = async {
        let all =
            futures_util::future::join_all((0..clients).map(|_| run.client(workload, until))).await;
        (all, started.elapsed())
    };
    let probe = async {
        match workload {
            Workload::SignIns => Some(run.probe_health(until).await),
            _ => None,
        }
    };
    let ((all, elapsed), probed, ()) = tokio::join!(clients_done, probe, async {
        tokio::select! { () = ticker => {}, () = tokio::time::sleep(Duration::from_secs(seconds + 60)) => {} }
    });
    progress.finish_and_clear();
    let mut tally = drive::merged(all);
    if let Some(probed) = probed {
        tally.merge(probed);
    }
    (tally, elapsed)
}

/// The server's resident memory and CPU time so far, from its `/metrics`.
struct Gauges {
    rss_mb: Option<f64>,
    cpu_secs: Option<f64>,
}

async fn gauges(http: &reqwest::Client, base: &str) -> anyhow::Result<Gauges> {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .map_err(|e| anyhow!("is the server running at {base}? {e}"))?
        .text()
        .await?;
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    Ok(Gauges {
        rss_mb: value("process_resident_memory_bytes").map(|b| b / 1e6),
        cpu_secs: value("process_cpu_seconds_total"),
    })
}

fn print_rss(gauges: &Gauges, label: &str) {
    match gauges.rss_mb {
        Some(mb) => println!("server RSS {label}: {mb:.1} MB"),
        None => println!("server RSS {label}: not in /metrics (WEBFB_METRICS_BIND elsewhere?)"),
    }
}

/// Every transfer seen confirmed is confirmed in the database, once: one spent code step
/// and one audit event each, and none confirmed that no client saw.
fn check(settings: &Settings, prefix: &str, seen: &[String]) -> anyhow::Result<bool> {
    let mut conn = settings.database.connect()?;
    let found = webfb::db::invariants::confirmations(&mut conn, prefix, seen)?;
    let n = seen.len() as i64;
    let ok = found.each_once(n);
    println!(
        "  database check: {} — {n} confirmations answered 200; the database has {} transfers confirmed ({} of those seen), {} code steps spent on {} transfers, {} audit events on {} transfers",
        if ok {
            "ok, every confirmed transfer confirmed once"
        } else {
            "FAILED"
        },
        found.confirmed,
        found.seen_and_confirmed,
        found.code_uses,
        found.transfers_with_code,
        found.confirm_events,
        found.transfers_with_event,
    );
    Ok(ok)
}
