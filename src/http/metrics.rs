//! Prometheus metrics of this instance, through the `prometheus` crate: requests by route
//! template, method and status; latency by route; the process (CPU, memory, open files);
//! the database pool, argon2's workers and queue, the outbox. Nothing about a request's
//! content; unmatched paths count as one route, so a scanner cannot grow the series.

use std::sync::atomic::Ordering;

use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

use crate::db::outbox::Backlog;
use crate::service::Services;

/// Latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool: IntGaugeVec,
    pool_max: IntGauge,
    argon2: IntGaugeVec,
    tampered: IntCounter,
    outbox: IntGaugeVec,
    oldest_pending: Gauge,
    deliveries: IntCounterVec,
}

fn registered<C: prometheus::core::Collector + Clone + 'static>(r: &Registry, c: C) -> C {
    r.register(Box::new(c.clone()))
        .expect("each metric is registered once");
    c
}

impl Default for Metrics {
    fn default() -> Self {
        // No registry prefix: the process collector keeps the standard `process_*` names.
        let r = Registry::new();
        #[cfg(target_os = "linux")]
        r.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))
        .expect("the process collector is registered once");
        let opts = |name: &str, help: &str| Opts::new(name, help);
        Metrics {
            requests: registered(
                &r,
                IntCounterVec::new(
                    opts("webfb_http_requests_total", "HTTP requests answered."),
                    &["route", "method", "status"],
                )
                .expect("valid"),
            ),
            latency: registered(
                &r,
                HistogramVec::new(
                    HistogramOpts::new(
                        "webfb_http_request_duration_seconds",
                        "Time to answer an HTTP request.",
                    )
                    .buckets(BUCKETS.to_vec()),
                    &["route", "method"],
                )
                .expect("valid"),
            ),
            pool: registered(
                &r,
                IntGaugeVec::new(
                    opts(
                        "webfb_db_pool_connections",
                        "Database connections of this instance.",
                    ),
                    &["state"],
                )
                .expect("valid"),
            ),
            pool_max: registered(
                &r,
                IntGauge::with_opts(opts(
                    "webfb_db_pool_max_connections",
                    "The most database connections this instance opens.",
                ))
                .expect("valid"),
            ),
            argon2: registered(
                &r,
                IntGaugeVec::new(
                    opts(
                        "webfb_argon2_hashes",
                        "Password hashes being computed, and callers waiting for a worker.",
                    ),
                    &["state"],
                )
                .expect("valid"),
            ),
            tampered: registered(
                &r,
                IntCounter::with_opts(opts(
                    "webfb_transfers_tampered_total",
                    "Transfers refused because their content no longer matched its hash.",
                ))
                .expect("valid"),
            ),
            outbox: registered(
                &r,
                IntGaugeVec::new(
                    opts(
                        "webfb_outbox_messages",
                        "Messages in the outbox, by status.",
                    ),
                    &["status"],
                )
                .expect("valid"),
            ),
            oldest_pending: registered(
                &r,
                Gauge::with_opts(opts(
                    "webfb_outbox_oldest_pending_seconds",
                    "Age of the oldest message waiting for delivery.",
                ))
                .expect("valid"),
            ),
            deliveries: registered(
                &r,
                IntCounterVec::new(
                    opts(
                        "webfb_outbox_deliveries_total",
                        "Delivery attempts of this instance, by outcome.",
                    ),
                    &["outcome"],
                )
                .expect("valid"),
            ),
            registry: r,
        }
    }
}

/// Brings a counter up to a total kept elsewhere (an atomic the services count in).
fn catch_up(counter: &IntCounter, total: u64) {
    counter.inc_by(total.saturating_sub(counter.get()));
}

impl Metrics {
    pub fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[route, method, &status.to_string()])
            .inc();
        self.latency
            .with_label_values(&[route, method])
            .observe(seconds);
    }

    /// The text exposition format, with the gauges read now. `backlog`: the outbox, when
    /// the database answered.
    pub fn render(
        &self,
        pool: (diesel::r2d2::State, u32),
        svc: &Services,
        backlog: Option<Backlog>,
    ) -> String {
        let (state, max) = pool;
        self.pool
            .with_label_values(&["open"])
            .set(state.connections.into());
        self.pool
            .with_label_values(&["idle"])
            .set(state.idle_connections.into());
        self.pool_max.set(max.into());
        let (busy, waiting) = svc.passwords.load();
        self.argon2.with_label_values(&["busy"]).set(busy as i64);
        self.argon2
            .with_label_values(&["waiting"])
            .set(waiting as i64);
        catch_up(
            &self.tampered,
            svc.tampered_transfers.load(Ordering::Relaxed),
        );
        let d = &svc.deliveries;
        for (outcome, n) in [
            ("delivered", &d.delivered),
            ("retried", &d.retried),
            ("dead", &d.dead),
        ] {
            catch_up(
                &self.deliveries.with_label_values(&[outcome]),
                n.load(Ordering::Relaxed),
            );
        }
        if let Some(b) = backlog {
            for (status, n) in [
                ("pending", b.pending),
                ("delivered", b.delivered),
                ("dead", b.dead),
            ] {
                self.outbox.with_label_values(&[status]).set(n);
            }
            let age = b.oldest_pending.map_or(0.0, |t| {
                (svc.now() - t.and_utc()).num_milliseconds().max(0) as f64 / 1000.0
            });
            self.oldest_pending.set(age);
        }
        let mut out = Vec::new();
        // Encoding the registry's own families into memory cannot fail.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}
