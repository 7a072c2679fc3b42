//! Alert evaluation cost: one evaluation tick over 10,000 rules.
//!
//! `cargo bench --bench alert_evaluation` builds rules from a mix of realistic conditions
//! (thresholds with and without `for`, slot selectors, `and`/`or`, health, restart counts),
//! spreads 10,000 of them over plugins in three shapes (1000 × 10, 100 × 100, 1 × 10,000),
//! and runs ticks of one evaluation per plugin against two-slot samples, advancing injected
//! time by a second per tick. Samples change every tick so rules keep moving between
//! inactive, pending, firing and resolved, and transitions are produced as in a real
//! incident. Reports the wall time of a whole tick (all plugins): p50, p95, max.
//!
//! Environment: `ALERT_RULES` (default 10000), `ALERT_TICKS` (default 300). Under
//! `cargo test` (no `--bench`) it is a smoke test with 20 ticks.

use chrono::{Duration as ChronoDuration, TimeZone, Utc};
use naap::core::alerts::{
    AlertEngine, AlertRuleSpec, PluginSample, Severity, SlotRole, SlotSample,
};
use naap::core::types::{Health, SlotName};
use std::process::ExitCode;
use std::time::Instant;

const CONDITIONS: &[&str] = &[
    "error_rate > 0.05 for 30s",
    "p99_ms > 800 for 1m",
    "rps < 1 for 5m",
    "health == unhealthy",
    "restarts > 3 in 10m",
    "error_rate{slot=canary} > 2% and p99_ms{slot=canary} > 500ms",
    "cpu_percent > 90 for 2m or rss_mb > 900",
    "(error_rate > 0.01 or p95_ms > 300) for 10s",
];

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

/// A sample for `plugin` at `tick`: a periodic incident on some plugins, calm elsewhere.
fn sample(plugin: usize, tick: usize, start: chrono::DateTime<Utc>) -> PluginSample {
    let bad = (tick / 20 + plugin).is_multiple_of(4);
    let slot = |slot, role, error_rate: f64, p99_ms: f64| SlotSample {
        slot,
        role,
        error_rate,
        rps: 40.0 + (tick % 7) as f64,
        p50_ms: p99_ms / 4.0,
        p95_ms: p99_ms / 1.5,
        p99_ms,
        cpu_percent: if bad { 95.0 } else { 20.0 },
        rss_bytes: 200 << 20,
        health: if bad && tick.is_multiple_of(3) {
            Health::Unhealthy
        } else {
            Health::Healthy
        },
        has_process: true,
    };
    PluginSample {
        slots: vec![
            slot(SlotName::Blue, SlotRole::Live, 0.001, 120.0),
            if bad {
                slot(SlotName::Green, SlotRole::Canary, 0.2, 900.0)
            } else {
                slot(SlotName::Green, SlotRole::Canary, 0.002, 130.0)
            },
        ],
        restart_times: (0..(tick % 6))
            .map(|i| start + ChronoDuration::seconds((tick as i64) - i as i64 * 30))
            .collect(),
    }
}

struct Shape {
    plugins: usize,
    rules_per_plugin: usize,
}

fn run(shape: &Shape, ticks: usize) -> (Vec<f64>, usize) {
    let start = Utc
        .with_ymd_and_hms(2026, 11, 22, 3, 0, 0)
        .single()
        .expect("a valid start time");
    let rules: Vec<Vec<AlertRuleSpec>> = (0..shape.plugins)
        .map(|p| {
            (0..shape.rules_per_plugin)
                .map(|r| {
                    let condition = CONDITIONS[(p + r) % CONDITIONS.len()];
                    let rule = naap::core::alerts::parse(condition)
                        .unwrap_or_else(|e| panic!("`{condition}` does not parse: {e}"));
                    let severity = if r % 3 == 0 {
                        Severity::Critical
                    } else {
                        Severity::Warning
                    };
                    AlertRuleSpec::new(format!("rule-{r}"), rule, severity)
                })
                .collect()
        })
        .collect();
    let names: Vec<String> = (0..shape.plugins).map(|p| format!("plugin-{p}")).collect();
    let mut engine = AlertEngine::new();
    let mut tick_ms = Vec::with_capacity(ticks);
    let mut transitions = 0;
    for tick in 0..ticks {
        let now = start + ChronoDuration::seconds(tick as i64);
        // Samples are built outside the timed part: the engine builds them from state it
        // already holds, and their cost does not depend on the number of rules.
        let samples: Vec<PluginSample> =
            (0..shape.plugins).map(|p| sample(p, tick, start)).collect();
        let began = Instant::now();
        for p in 0..shape.plugins {
            transitions += engine
                .evaluate(&names[p], &rules[p], &samples[p], now)
                .len();
        }
        tick_ms.push(began.elapsed().as_secs_f64() * 1000.0);
    }
    (tick_ms, transitions)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn main() -> ExitCode {
    let bench = std::env::args().skip(1).any(|a| a == "--bench");
    let total = env_usize("ALERT_RULES", 10_000);
    let ticks = if bench {
        env_usize("ALERT_TICKS", 300)
    } else {
        20
    };
    println!(
        "\nalert evaluation — {total} rules, {ticks} ticks, {}\n",
        if bench { "bench" } else { "smoke test" }
    );
    println!("| plugins × rules | p50 ms/tick | p95 ms/tick | max ms/tick | transitions |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let mut ok = true;
    for plugins in [total / 10, total / 100, 1] {
        let shape = Shape {
            plugins: plugins.max(1),
            rules_per_plugin: total / plugins.max(1),
        };
        let (mut ms, transitions) = run(&shape, ticks);
        ms.sort_by(f64::total_cmp);
        println!(
            "| {} × {} | {:.2} | {:.2} | {:.2} | {transitions} |",
            shape.plugins,
            shape.rules_per_plugin,
            percentile(&ms, 50.0),
            percentile(&ms, 95.0),
            percentile(&ms, 100.0)
        );
        // A tick that never changes any state measures nothing worth having.
        ok &= transitions > 0;
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("alert_evaluation: a shape produced no transitions");
        ExitCode::FAILURE
    }
}
