//! Read-only answers with the numbers behind them, from what the engine reports: status,
//! slots, alerts, recent events and log lines. Nothing here changes anything.

use super::intent::{Action, Measure};
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
    // An open incident, and how the past ones like it were resolved, before anything else:
    // the last fix is the first thing an on-call wants to read.
    let mut out = String::new();
    if let Some(incident) = &plugin.incident {
        out.push_str(&format!(
            "Incident #{} is open on {} ({}).",
            incident.id,
            plugin.name,
            incident.signals.join(", ")
        ));
        for like in &incident.similar {
            out.push_str(&format!(
                "\n• It looks like #{} ({:.0} % alike), {}",
                like.id,
                like.score * 100.0,
                escape_controls(&like.resolution())
            ));
        }
        out.push('\n');
    }
    if findings.is_empty() && errors.is_empty() {
        return out
            + &format!(
                "Nothing looks wrong with {}: every running slot is healthy, errors are under 1%, no alert fires.\n{}",
                plugin.name,
                status(plugin)
            );
    }
    out.push_str(&format!("What I see on {}:", plugin.name));
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
  • roll back expense-tracker   (or: revert, undo, go back to the previous version)\n\
  • shift 25% to green   (or: green to 25%, drain green, move everything off the canary)\n\
  • promote | finish | abort | pause | resume the canary\n\
  • deploy checkout 2.5.0   (or: ship, release, roll out)\n\
  • why is checkout failing?   • show errors from the canary\n\
  • what's the p99 of checkout?   • error rate?   • is it healthy?\n\
  • is it safe to roll back checkout?   • did it roll back?   • what changed?\n\
A question or a “don't” never changes anything. Anything that changes something is shown as a card first: y does it, n does not.";

/// A "don't": nothing changes, and it says so.
pub fn declined(plugin: Option<&str>, action: &Action) -> String {
    match plugin {
        Some(p) => format!(
            "Understood: I will not {} {p}. Nothing changed.",
            action.verb()
        ),
        None => format!(
            "Understood: I will not {}. Nothing changed.",
            action.verb().trim_end_matches(" of")
        ),
    }
}

/// A question about an action that did not say enough to picture it.
pub fn incomplete(plugin: &PluginStatus, action: &Action) -> String {
    match action {
        Action::Deploy { .. } => format!(
            "I changed nothing. A deploy of {} starts a version in the idle slot with the {} strategy, and traffic moves only once it is healthy and its gates pass; say which version (its manifest names {}).",
            plugin.name, plugin.strategy, plugin.manifest_version
        ),
        _ => format!(
            "I changed nothing. Say how much traffic and to which slot, like “give 25% of {} to green”; the split now: {}.",
            plugin.name,
            split(plugin)
        ),
    }
}

/// "blue 90%, green 10%".
fn split(plugin: &PluginStatus) -> String {
    plugin
        .slots
        .iter()
        .map(|s| format!("{} {}%", s.slot, s.weight))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether a rollback of `plugin` would be quick and safe: is the previous version warm
/// and healthy, how it answered, and what the live one does now.
pub fn rollback_outlook(plugin: &PluginStatus) -> String {
    // During a rollout the version to go back to is the one it moves traffic from.
    let live = match &plugin.rollout {
        Some(r) => plugin.slots.iter().find(|s| s.slot == r.to_slot),
        None => plugin.slots.iter().max_by_key(|s| s.weight),
    };
    let previous = live.and_then(|l| plugin.slots.iter().find(|s| s.slot != l.slot));
    let mut out = Vec::new();
    match previous {
        Some(p) if p.serves() && p.version.is_some() => {
            let until = p
                .warm_until
                .map(|t| format!(", kept warm until {}", t.format("%H:%M:%S")))
                .unwrap_or_default();
            out.push(format!(
                "The previous version {} is warm on {} and passes its health checks ({}){until}: the rollback is a weight flip, instant.",
                p.version.as_deref().unwrap_or("?"),
                p.slot,
                escape_controls(&p.health_detail)
            ));
            if p.metrics.window_requests > 0 {
                out.push(format!(
                    "While it served lately it answered {:.1}% errors, p99 {:.0} ms.",
                    p.metrics.error_rate * 100.0,
                    p.metrics.p99_ms
                ));
                if p.metrics.error_rate >= 0.01 {
                    out.push("Careful: that is not better than nothing; look at its errors first.".into());
                }
            }
        }
        Some(p) if p.version.is_some() => out.push(format!(
            "The previous version {} on {} is not ready ({}, {}): the rollback starts it again first, which takes as long as a start; traffic stays where it is meanwhile.",
            p.version.as_deref().unwrap_or("?"),
            p.slot,
            p.process_state,
            p.health
        )),
        _ => out.push(
            "No previous version is warm: the rollback starts it again first, which takes as long as a start.".into(),
        ),
    }
    if let Some(l) = live.filter(|l| l.version.is_some()) {
        out.push(format!("Now: {}.", slot_summary(l)));
    }
    if let Some(last) = &plugin.last_rollout {
        out.push(format!("Last rollout: {}", escape_controls(&last.summary)));
    }
    out.join("\n")
}

/// Whether an event of `kind` records `action`: the engine's own kinds, matched exactly,
/// so a new kind is a decision here and not a substring that happens to fit.
fn records(kind: &EventKind, action: &Action) -> bool {
    use EventKind as K;
    match action {
        Action::Rollback => matches!(
            kind,
            K::RolledBack
                | K::RollbackRedeploy
                | K::AutoRollback
                | K::RolloutRolledBackAfterRestart
        ),
        Action::Deploy { .. } => matches!(
            kind,
            K::DeployStarted | K::DeployWaiting | K::DeploySucceeded | K::DeployFailed
        ),
        Action::Promote => matches!(kind, K::RolloutPromoted | K::CanaryStep),
        Action::Finish => matches!(kind, K::DeploySucceeded | K::RolloutPromoted),
        Action::Abort => matches!(kind, K::RolloutAborted),
        Action::Pause => matches!(kind, K::RolloutHeld | K::RolloutPaused),
        Action::Resume => matches!(kind, K::RolloutResumed | K::RolloutResumedAfterRestart),
        Action::Traffic { .. } => {
            matches!(kind, K::TrafficChanged | K::RolledBack | K::AutoRollback)
        }
    }
}

/// What happened to `plugin` (of one kind of action, if `about` says), newest first, from
/// the events the face holds and the last rollout the engine reports.
pub fn history(plugin: &PluginStatus, about: Option<&Action>, events: &[EventRecord]) -> String {
    let own: Vec<&EventRecord> = events
        .iter()
        .rev()
        .filter(|e| e.plugin.as_deref() == Some(plugin.name.as_str()))
        .collect();
    let matching: Vec<&&EventRecord> = own
        .iter()
        .filter(|e| about.is_none_or(|a| records(&e.kind, a)))
        .take(5)
        .collect();
    let mut out = Vec::new();
    let last = plugin.last_rollout.as_ref();
    match about {
        Some(Action::Rollback) => {
            let rolled_back = last.filter(|l| l.outcome == "rolled_back");
            out.push(match (rolled_back, matching.first()) {
                (Some(l), _) => format!("Yes: {}", escape_controls(&l.summary)),
                (None, Some(e)) => format!(
                    "Yes, at {}: {}",
                    e.ts.format("%H:%M:%S"),
                    escape_controls(&e.message)
                ),
                (None, None) => format!(
                    "No rollback of {} in its last rollout or the {} events I hold.",
                    plugin.name,
                    own.len()
                ),
            });
            if let Some(reason) = rolled_back.and_then(|l| l.reason.as_deref()) {
                out.push(format!("Why: {}", escape_controls(reason)));
            }
        }
        Some(a) if matching.is_empty() => out.push(format!(
            "Nothing like that ({}) in the {} events of {} I hold.",
            a.verb().trim_end_matches(" of"),
            own.len(),
            plugin.name
        )),
        _ => {}
    }
    if let Some(l) = last.filter(|_| !matches!(about, Some(Action::Rollback))) {
        out.push(format!("Last rollout: {}", escape_controls(&l.summary)));
    }
    if let Some(r) = &plugin.rollout {
        out.push(format!(
            "Running now: a {} rollout to {} ({}{}).",
            r.strategy,
            r.to_version,
            r.phase,
            if r.paused { ", held" } else { "" }
        ));
    }
    if !matching.is_empty() {
        out.push(format!("Recent events of {}:", plugin.name));
        for e in &matching {
            out.push(format!(
                "  {} {}: {}",
                e.ts.format("%H:%M:%S"),
                e.kind,
                escape_controls(&e.message)
            ));
        }
    } else if about.is_none() {
        out.push(format!("I hold no events of {} yet.", plugin.name));
    }
    out.push("(A question: nothing changed.)".into());
    out.join("\n")
}

/// One number of each running slot of `plugin` (or of `slot`), with the traffic it takes.
pub fn metric(plugin: &PluginStatus, measure: Measure, slot: Option<SlotName>) -> String {
    let canary = plugin.rollout.as_ref().map(|r| r.to_slot);
    let slots: Vec<&SlotStatus> = plugin
        .slots
        .iter()
        .filter(|s| s.version.is_some() && slot.is_none_or(|w| s.slot == w))
        .collect();
    let name = match measure {
        Measure::Latency => "latency",
        Measure::P50 => "p50",
        Measure::P95 => "p95",
        Measure::P99 => "p99",
        Measure::ErrorRate => "error rate",
        Measure::Rps => "requests per second",
        Measure::Weight => "traffic split",
        Measure::Health => "health",
        Measure::Cpu => "CPU",
        Measure::Memory => "memory",
        Measure::Restarts => "restarts",
    };
    if slots.is_empty() {
        return format!(
            "{} has no running slot, so no {name} to report.",
            plugin.name
        );
    }
    let mut out = format!("{} {name}:", plugin.name);
    for s in slots {
        let m = &s.metrics;
        let value = match measure {
            Measure::Latency => format!(
                "p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms",
                m.p50_ms, m.p95_ms, m.p99_ms
            ),
            Measure::P50 => format!("{:.1} ms", m.p50_ms),
            Measure::P95 => format!("{:.1} ms", m.p95_ms),
            Measure::P99 => format!("{:.1} ms", m.p99_ms),
            Measure::ErrorRate => format!(
                "{:.2}% ({} errors of {} requests in all)",
                m.error_rate * 100.0,
                m.errors_total,
                m.requests_total
            ),
            Measure::Rps => format!("{:.1} req/s", m.rps),
            Measure::Weight => format!("{}% of traffic", s.weight),
            Measure::Health => format!(
                "{}, {} ({})",
                s.process_state,
                s.health,
                escape_controls(&s.health_detail)
            ),
            Measure::Cpu => format!("{:.1}% CPU", s.cpu_percent),
            Measure::Memory => format!("{:.1} MB resident", s.rss_bytes as f64 / 1e6),
            Measure::Restarts => format!("{} restarts", s.restarts),
        };
        let role = if Some(s.slot) == canary {
            ", the canary"
        } else {
            ""
        };
        let quiet = match measure {
            Measure::Latency | Measure::P50 | Measure::P95 | Measure::P99 | Measure::ErrorRate
                if m.window_requests == 0 =>
            {
                " — no requests in the window"
            }
            _ => "",
        };
        out.push_str(&format!(
            "\n• {} {}: {value} ({}% of traffic{role}){quiet}",
            s.slot,
            s.version.as_deref().unwrap_or("?"),
            s.weight
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::ai::intent::table::{C, is_proposal, report, table};
    use crate::ai::offline::{World, respond};
    use crate::api::protocol::Call;
    use crate::core::store::EventRecord;
    use chrono::TimeZone;

    fn ask(text: &str, events: &[EventRecord]) -> crate::ai::offline::Reply {
        let r = report();
        respond(
            text,
            &World {
                report: Some(&r),
                selected: Some(C),
                events,
                logs: &[],
            },
        )
    }

    #[test]
    fn no_row_that_only_mentions_an_action_gets_a_card() {
        for (text, intent) in table() {
            if !is_proposal(&intent) {
                let reply = ask(text, &[]);
                assert!(reply.card.is_none(), "{text:?} got a card: {reply:?}");
            }
        }
    }

    #[test]
    fn a_change_to_the_code_offline_says_it_needs_a_model_and_changes_nothing() {
        let reply = ask("make /api/items return the newest first", &[]);
        assert!(reply.card.is_none());
        for part in [
            "takes a language model",
            "[ai]",
            "naap iterate checkout",
            "I changed nothing",
        ] {
            assert!(reply.text.contains(part), "{part:?} in {}", reply.text);
        }
    }

    #[test]
    fn is_it_safe_to_roll_back_says_what_it_would_do_and_whether_the_previous_is_warm() {
        let reply = ask("is it safe to roll back expense-tracker?", &[]);
        assert!(reply.card.is_none());
        for part in [
            "I changed nothing",
            "all traffic to green v1.3.0, warm",
            "The previous version 1.3.0 is warm on green",
            "Say “roll back expense-tracker”",
        ] {
            assert!(reply.text.contains(part), "{part:?} in {}", reply.text);
        }
        // During a canary the way back is the stable slot.
        let reply = ask("what would a rollback of checkout do?", &[]);
        assert!(
            reply
                .text
                .contains("The previous version 3.0.0 is warm on blue"),
            "{}",
            reply.text
        );
    }

    #[test]
    fn a_negation_changes_nothing_and_says_so() {
        let reply = ask("please don't roll back expense-tracker", &[]);
        assert!(reply.card.is_none());
        assert_eq!(
            reply.text,
            "Understood: I will not roll back expense-tracker. Nothing changed."
        );
    }

    #[test]
    fn questions_about_the_past_are_answered_from_the_events() {
        let event = EventRecord {
            id: 1,
            ts: chrono::Utc
                .with_ymd_and_hms(2026, 11, 22, 2, 40, 0)
                .single()
                .unwrap(),
            plugin: Some("expense-tracker".into()),
            slot: None,
            kind: crate::core::event_kind::EventKind::RolledBack,
            message: "rolled back to 1.3.0: error rate 12% > 5%".into(),
            data: serde_json::Value::Null,
        };
        let reply = ask(
            "did expense-tracker roll back?",
            std::slice::from_ref(&event),
        );
        assert!(reply.card.is_none());
        assert!(
            reply
                .text
                .starts_with("Yes, at 02:40:00: rolled back to 1.3.0"),
            "{}",
            reply.text
        );
        let reply = ask("did expense-tracker roll back?", &[]);
        assert!(
            reply.text.starts_with("No rollback of expense-tracker"),
            "{}",
            reply.text
        );
        let reply = ask("when was the last deploy?", &[]);
        assert!(reply.card.is_none());
        assert!(
            reply
                .text
                .contains("Running now: a canary rollout to 3.1.0"),
            "{}",
            reply.text
        );
    }

    #[test]
    fn metric_questions_are_answered_with_the_numbers() {
        let reply = ask("what's the p99 of checkout", &[]);
        assert_eq!(
            reply.text,
            "checkout p99:\n• blue 3.0.0: 9.0 ms (90% of traffic)\n• green 3.1.0: 9.0 ms (10% of traffic, the canary)"
        );
        let reply = ask("error rate of the canary?", &[]);
        assert!(
            reply
                .text
                .contains("green 3.1.0: 0.20% (2 errors of 1000 requests in all)")
                && !reply.text.contains("blue"),
            "{}",
            reply.text
        );
    }

    #[test]
    fn finish_and_move_everything_off_the_canary_are_the_right_cards() {
        let card = ask("finish the rollout", &[]).card.expect("a card");
        assert_eq!(
            card.call,
            Call::Promote(crate::api::protocol::PromoteRequest {
                plugin: "checkout".into(),
                full: true
            })
        );
        let card = ask("move everything off the canary", &[])
            .card
            .expect("a card");
        assert_eq!(card.title, "traffic checkout blue=100 green=0");
    }
}

#[cfg(test)]
mod incident_tests {
    use crate::ai::intent::table::report;

    #[test]
    fn an_open_incident_puts_the_past_resolution_first() {
        let mut r = report();
        let plugin = &mut r.plugins[0];
        plugin.incident = Some(crate::core::engine::OpenIncident {
            id: 9,
            title: "automatic rollback".into(),
            opened_at: chrono::Utc::now(),
            signals: vec!["auto_rollback".into()],
            similar: vec![crate::core::engine::SimilarIncident {
                id: 4,
                plugin: plugin.name.clone(),
                score: 0.8,
                title: "automatic rollback".into(),
                resolved_at: Some(chrono::Utc::now()),
                note: "pool too small; raised pool_size".into(),
                actions: vec!["rollback by dashboard".into()],
            }],
        });
        let answer = super::why_failing(plugin, &[], &[]);
        assert!(
            answer.starts_with(&format!("Incident #9 is open on {}", plugin.name)),
            "{answer}"
        );
        assert!(
            answer.contains("It looks like #4 (80 % alike), resolved: pool too small; raised pool_size (then: rollback by dashboard)"),
            "{answer}"
        );
    }
}
