//! The figures of one run, each beside its target.

use std::time::Duration;

use crate::drive::Tally;

/// What the throughput issue asks of each operation on this 2-core machine.
fn target(op: &str) -> &'static str {
    match op {
        "create" | "confirm" => "≥ 4,000/s at 16 clients, p99 ≤ 20 ms",
        "read /me" | "read /transfers" => "p99 ≤ 20 ms",
        "sign-in" => "p95 ≤ 250 ms (argon2id on purpose)",
        "/health meanwhile" => "p99 ≤ 5 ms",
        _ => "",
    }
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

pub fn print(title: &str, elapsed: Duration, tally: &Tally) {
    println!("\n{title}: {:.1} s", elapsed.as_secs_f64());
    println!(
        "  {:<18} {:>8} {:>9} {:>8} {:>8} {:>8} {:>8}  target",
        "operation", "count", "per s", "p50 ms", "p95 ms", "p99 ms", "max ms"
    );
    for (op, h) in &tally.latencies {
        println!(
            "  {op:<18} {:>8} {:>9.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2}  {}",
            h.len(),
            h.len() as f64 / elapsed.as_secs_f64(),
            ms(h.value_at_quantile(0.50)),
            ms(h.value_at_quantile(0.95)),
            ms(h.value_at_quantile(0.99)),
            ms(h.max()),
            target(op),
        );
    }
    if tally.errors.is_empty() {
        println!("  errors: none");
    }
    for (code, n) in &tally.errors {
        println!("  error {code}: {n}");
    }
    if !tally.starved.is_zero() {
        println!(
            "  clients waited {:.1} s in all for a token with an unused step: more companies give more codes",
            tally.starved.as_secs_f64()
        );
    }
}
