//! The level and source of the log line each recorded event writes into its plugin's logs.
//!
//! Events are stored with a kind, not a level; the log line is what `naap logs --level warn`
//! and the dashboard's error jumps filter on, so the level is decided here, once, from the
//! kind (and for a few kinds from the event's data). The rule is the one an on-call engineer
//! pages on: something failed and needs a person → `error` (a failed deploy, a failed gate, a
//! slot that gave up, a rollback forced by a breach); something went wrong but the system
//! coped or a person chose it → `warn` (a process that exited and is being restarted, a
//! slot turning unhealthy, a held or aborted rollout); everything else is `info`.

use crate::core::types::{Level, LogSource};

/// The level and source of the log line of an event of this kind.
pub(crate) fn event_line_style(kind: &str, data: &serde_json::Value) -> (Level, LogSource) {
    (event_level(kind, data), event_source(kind))
}

fn event_level(kind: &str, data: &serde_json::Value) -> Level {
    let field = |key: &str| data.get(key).and_then(|v| v.as_str()).unwrap_or_default();
    match kind {
        "deploy_failed"
        | "gate_failed"
        | "slot_failed"
        | "slot_restart_failed"
        | "slot_adopt_failed"
        | "auto_rollback"
        | "alert_notify_failed" => Level::Error,
        "process_exited"
        | "rollout_held"
        | "rollout_aborted"
        | "rollout_rolled_back_after_restart"
        | "slot_orphaned" => Level::Warn,
        // One failed check (or a run of them) makes a slot unhealthy: worth a look, and the
        // router already keeps traffic off it; the deploy that gives up on it says `error`.
        "health_changed" if field("health") == "unhealthy" => Level::Warn,
        "canary_judged" => match field("outcome") {
            "fail" => Level::Error,
            "marginal" | "inconclusive" => Level::Warn,
            _ => Level::Info,
        },
        _ => Level::Info,
    }
}

/// A gate's start, pass, failure and cache hit belong with the gate's own output, so that
/// `naap logs PLUGIN --slot gate` tells the whole story of the gate.
fn event_source(kind: &str) -> LogSource {
    if kind.starts_with("gate_") {
        LogSource::Gate
    } else {
        LogSource::Engine
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn failures_are_errors_and_trouble_is_a_warning() {
        let none = serde_json::Value::Null;
        assert_eq!(event_level("deploy_failed", &none), Level::Error);
        assert_eq!(event_level("gate_failed", &none), Level::Error);
        assert_eq!(event_level("slot_failed", &none), Level::Error);
        assert_eq!(event_level("process_exited", &none), Level::Warn);
        assert_eq!(event_level("deploy_started", &none), Level::Info);
        assert_eq!(event_level("deploy_succeeded", &none), Level::Info);
        assert_eq!(
            event_level("health_changed", &json!({"health": "unhealthy"})),
            Level::Warn
        );
        assert_eq!(
            event_level("health_changed", &json!({"health": "healthy"})),
            Level::Info
        );
        assert_eq!(
            event_level("canary_judged", &json!({"outcome": "fail"})),
            Level::Error
        );
        assert_eq!(
            event_level("canary_judged", &json!({"outcome": "pass"})),
            Level::Info
        );
    }

    #[test]
    fn gate_events_sit_with_the_gate_output() {
        assert_eq!(event_source("gate_failed"), LogSource::Gate);
        assert_eq!(event_source("gate_cached"), LogSource::Gate);
        assert_eq!(event_source("deploy_failed"), LogSource::Engine);
    }
}
