//! Prometheus metrics of this instance: requests by status class, their latency, and the
//! database pool. Counters only; nothing about a request's content.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Latency buckets, in seconds.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

#[derive(Default)]
pub struct Metrics {
    by_class: [AtomicU64; 5],
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Metrics {
    pub fn observe(&self, status: u16, elapsed: Duration) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.by_class[class].fetch_add(1, Ordering::Relaxed);
        let seconds = elapsed.as_secs_f64();
        for (bucket, le) in self.buckets.iter().zip(BUCKETS) {
            if seconds <= le {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(
            elapsed.as_micros().min(u128::from(u64::MAX)) as u64,
            Ordering::Relaxed,
        );
    }

    /// The text exposition format (version 0.0.4).
    pub fn render(&self, pool: diesel::r2d2::State, pool_max: u32, tampered: u64) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP webfb_http_requests_total HTTP requests answered, by status class."
        );
        let _ = writeln!(out, "# TYPE webfb_http_requests_total counter");
        for (i, n) in self.by_class.iter().enumerate() {
            let _ = writeln!(
                out,
                "webfb_http_requests_total{{class=\"{}xx\"}} {}",
                i + 1,
                n.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP webfb_http_request_duration_seconds Time to answer an HTTP request."
        );
        let _ = writeln!(out, "# TYPE webfb_http_request_duration_seconds histogram");
        for (bucket, le) in self.buckets.iter().zip(BUCKETS) {
            let _ = writeln!(
                out,
                "webfb_http_request_duration_seconds_bucket{{le=\"{le}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "webfb_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "webfb_http_request_duration_seconds_sum {sum}");
        let _ = writeln!(out, "webfb_http_request_duration_seconds_count {count}");
        let _ = writeln!(
            out,
            "# HELP webfb_db_pool_connections Database connections of this instance."
        );
        let _ = writeln!(out, "# TYPE webfb_db_pool_connections gauge");
        let _ = writeln!(
            out,
            "webfb_db_pool_connections{{state=\"open\"}} {}",
            pool.connections
        );
        let _ = writeln!(
            out,
            "webfb_db_pool_connections{{state=\"idle\"}} {}",
            pool.idle_connections
        );
        let _ = writeln!(out, "webfb_db_pool_connections{{state=\"max\"}} {pool_max}");
        let _ = writeln!(
            out,
            "# HELP webfb_transfers_tampered_total Transfers refused because their content no longer matched its hash."
        );
        let _ = writeln!(out, "# TYPE webfb_transfers_tampered_total counter");
        let _ = writeln!(out, "webfb_transfers_tampered_total {tampered}");
        out
    }
}

/// The outbox: messages by status, the age of the oldest pending one, and this instance's
/// deliveries by outcome.
pub fn outbox(
    out: &mut String,
    backlog: &crate::db::outbox::Backlog,
    deliveries: &crate::service::notify::Deliveries,
    now: chrono::DateTime<chrono::Utc>,
) {
    let _ = writeln!(
        out,
        "# HELP webfb_outbox_messages Messages in the outbox, by status."
    );
    let _ = writeln!(out, "# TYPE webfb_outbox_messages gauge");
    for (status, n) in [
        ("pending", backlog.pending),
        ("delivered", backlog.delivered),
        ("dead", backlog.dead),
    ] {
        let _ = writeln!(out, "webfb_outbox_messages{{status=\"{status}\"}} {n}");
    }
    let age = backlog.oldest_pending.map_or(0.0, |t| {
        (now - t.and_utc()).num_milliseconds().max(0) as f64 / 1000.0
    });
    let _ = writeln!(
        out,
        "# HELP webfb_outbox_oldest_pending_seconds Age of the oldest message waiting for delivery."
    );
    let _ = writeln!(out, "# TYPE webfb_outbox_oldest_pending_seconds gauge");
    let _ = writeln!(out, "webfb_outbox_oldest_pending_seconds {age}");
    let _ = writeln!(
        out,
        "# HELP webfb_outbox_deliveries_total Delivery attempts of this instance, by outcome."
    );
    let _ = writeln!(out, "# TYPE webfb_outbox_deliveries_total counter");
    for (outcome, n) in [
        ("delivered", &deliveries.delivered),
        ("retried", &deliveries.retried),
        ("dead", &deliveries.dead),
    ] {
        let _ = writeln!(
            out,
            "webfb_outbox_deliveries_total{{outcome=\"{outcome}\"}} {}",
            n.load(Ordering::Relaxed)
        );
    }
}
