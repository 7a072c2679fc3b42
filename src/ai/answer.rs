//! Read-only answers with the numbers behind them, from what the engine reports: status,
//! slots, alerts, recent events and log lines. Nothing here changes anything.

use crate::core::engine::{PluginStatus, SlotStatus};
// Log text is plugin output: quoted escaped, like the log pane shows it.
use crate::core::logs::{LogLine, escape_controls};
use crate::core::store::{EventKind, EventRecord};
use crate::core::types::{Health, Level, ProcessState, SlotName};

/// One line per slot: version, state, weight, rps, errors, p99.
fn slot_summary(s: &SlotStatus) -> String {
    let state = match (s.process_state, s.health) {
        (ProcessState::Running, Health::Healthy) => "healthy".to_string(),
        (ProcessState::Running, h) => format!("running, {h}"),
        (p, _) => p.to_string(),
    };
    format!(
        "{} {} — {state}, {}% of traffic, {:.1} req/s, {:.1}% errors, p99 {:.0} ms",
        s.slot,
        s.version.as_deref().unwrap_or("(no version)"),
        s.weight,
        s.metrics.rps,
        s.metrics.error_rate * 100.0,
        s.metrics.p99_ms
    )
}

pub fn status(plugin: &PluginStatus) -> String {
    let mut out = format!(
        "{} ({}): live version {}.",
        plugin.name,
        plugin.strategy,
        plugin.live_version.as_deref().unwrap_or("none")
    );
    for s in plugin.slots.iter().filter(|s| s.version.is_some()) {
        out.push_str(&format!("\n• {}", slot_summary(s)));
    }
    if let Some(r) = &plugin.rollout {
        out.push_str(&format!(
            "\n• rollout to {} {}: {}",
            r.to_slot, r.to_version, r.phase
        ));
        if r.paused {
            out.push_str(&format!(
                " — held: {}",
                r.paused_reason.as_deref().unwrap_or("paused")
            ));
        }
    }
    for a in &plugin.alerts {
        out.push_str(&format!(
            "\n• alert {} is {} ({}): {}",
            a.rule, a.state, a.severity, a.summary
        ));
    }
    out
}

/// What looks wrong with `plugin`, worst first, with the evidence: unhealthy or failed
/// slots, error rates, firing alerts, what the engine did lately, and the last errors.
pub fn why_failing(plugin: &PluginStatus, events: &[EventRecord], logs: &[&LogLine]) -> String {
    let mut findings = Vec::new();
    for s in plugin.slots.iter().filter(|s| s.version.is_some()) {
        if s.process_state == ProcessState::Failed {
            findings.push(format!(
                "{} {} has failed: {}",
                s.slot,
                s.version.as_deref().unwrap_or(""),
                s.health_detail
            ));
        } else if s.health == Health::Unhealthy {
            findings.push(format!(
                "{} fails its health checks: {}",
                s.slot, s.health_detail
            ));
        }
        if s.metrics.window_requests > 0 && s.metrics.error_rate >= 0.01 {
            findings.push(format!(
                "{} answers {:.1}% errors ({} of the last {} requests fail{})",
                s.slot,
                s.metrics.error_rate * 100.0,
                (s.metrics.error_rate * s.metrics.window_requests as f64).round(),
                s.metrics.window_requests,
                if s.weight > 0 {
                    format!(", and takes {}% of traffic", s.weight)
                } else {
                    ", but takes no traffic now".to_string()
                }
            ));
        }
    }
    for a in plugin.alerts.iter().filter(|a| a.state == "firing") {
        findings.push(format!("alert {} is firing: {}", a.rule, a.summary));
    }
    let notable: Vec<&EventRecord> = events
        .iter()
        .rev()
        .filter(|e| e.plugin.as_deref() == Some(plugin.name.as_str()))
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::AutoRollback
                    | EventKind::DeployFailed
                    | EventKind::SlotFailed
                    | EventKind::GateFailed
                    | EventKind::ProcessExited
                    | EventKind::RolledBack
                    | EventKind::RolloutHeld
            )
        })
        .take(3)
        .collect();
    for e in &notable {
        findings.push(format!(
            "{}: {}",
            e.ts.format("%H:%M:%S"),
            escape_controls(&e.message)
        ));
    }
    let errors: Vec<&&LogLine> = logs
        .iter()
        .rev()
        .filter(|l| l.plugin == plugin.name && l.level >= Level::Error)
        .take(3)
        .collect();
    if findings.is_empty() && errors.is_empty() {
        return format!(
            "Nothing looks wrong with {}: every running slot is healthy, errors are under 1%, no alert fires.\n{}",
            plugin.name,
            status(plugin)
        );
    }
    let mut out = format!("What I see on {}:", plugin.name);
    for f in findings {
        out.push_str(&format!("\n• {f}"));
    }
    if !errors.is_empty() {
        out.push_str("\nLast errors in its logs:");
        for l in errors.into_iter().rev() {
            let slot = l
                .slot
                .map(|s| s.to_string())
                .unwrap_or_else(|| "engine".into());
            out.push_str(&format!(
                "\n  {} {slot} {}",
                l.ts.format("%H:%M:%S"),
                escape_controls(&l.message)
            ));
        }
    }
    out
}

/// The errors of one slot (or all), as the log pane will now show them.
pub fn errors(plugin: &str, slot: Option<SlotName>, logs: &[&LogLine]) -> String {
    let matching: Vec<&&LogLine> = logs
        .iter()
        .filter(|l| {
            l.plugin == plugin && l.level >= Level::Error && slot.is_none_or(|s| l.slot == Some(s))
        })
        .collect();
    let whose = slot.map_or_else(|| plugin.to_string(), |s| format!("{plugin} {s}"));
    if matching.is_empty() {
        return format!(
            "No error lines from {whose} in the last {} lines I hold. The log pane now shows errors only; `v` changes the level.",
            logs.len()
        );
    }
    let mut out = format!(
        "{} error lines from {whose}; the log pane now shows them. The latest:",
        matching.len()
    );
    for l in matching.iter().rev().take(3).rev() {
        out.push_str(&format!(
            "\n  {} {}",
            l.ts.format("%H:%M:%S"),
            escape_controls(&l.message)
        ));
    }
    out
}

pub const HELP: &str = "I understand requests like:\n\
  • roll back expense-tracker\n\
  • shift 25% to green   (or: put all traffic on blue)\n\
  • promote | abort | pause | resume the canary\n\
  • deploy checkout 2.5.0\n\
  • why is checkout failing?\n\
  • show errors from the canary\n\
  • how is checkout doing?\n\
Anything that changes something is shown as a card first: y does it, n does not.";
