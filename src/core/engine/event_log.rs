//! The level and source of the log line each recorded event writes into its plugin's logs.
//!
//! Events are stored with a kind, not a level; the log line is what `naap logs --level warn`
//! and the dashboard's error jumps filter on, so the level is decided here, once, from the
//! kind (and for a few kinds from the event's data). The rule is the one an on-call engineer
//! pages on: something failed and needs a person → `error` (a failed deploy, a failed gate, a
//! slot that gave up, a rollback forced by a breach); something went wrong but the system
//! coped or a person chose it → `warn` (a process that exited and is being restarted, a
//! slot turning unhealthy, a held or aborted rollout); everything else is `info`.

use crate::core::event_kind::EventKind;
use crate::core::types::{Level, LogSource};

/// The level and source of the log line of an event of this kind.
pub(crate) fn event_line_style(kind: &EventKind, data: &serde_json::Value) -> (Level, LogSource) {
    (event_level(kind, data), event_source(kind))
}

fn event_level(kind: &EventKind, data: &serde_json::Value) -> Level {
    use EventKind as K;
    let field = |key: &str| data.get(key).and_then(|v| v.as_str()).unwrap_or_default();
    match kind {
        K::DeployFailed
        | K::GateFailed
        | K::SlotFailed
        | K::SlotRestartFailed
        | K::SlotAdoptFailed
        | K::AutoRollback
        | K::AlertNotifyFailed => Level::Error,
        K::ProcessExited
        | K::RolloutHeld
        | K::RolloutAborted
        | K::RolloutRolledBackAfterRestart
        | K::SlotOrphaned => Level::Warn,
        // One failed check (or a run of them) makes a slot unhealthy: worth a look, and the
        // router already keeps traffic off it; the deploy that gives up on it says `error`.
        K::HealthChanged if field("health") == "unhealthy" => Level::Warn,
        K::CanaryJudged => match field("outcome") {
            "fail" => Level::Error,
            "marginal" | "inconclusive" => Level::Warn,
            _ => Level::Info,
        },
        _ => Level::Info,
    }
}

/// A gate's start, pass, failure and cache hit belong with the gate's own output, so that
/// `naap logs PLUGIN --slot gate` tells the whole story of the gate.
fn event_source(kind: &EventKind) -> LogSource {
    if kind.is_gate() {
        LogSource::Gate
    } else {
        LogSource::Engine
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EventKind as K;
    use serde_json::json;

    #[test]
    fn failures_are_errors_and_trouble_is_a_warning() {
        let none = serde_json::Value::Null;
        assert_eq!(event_level(&K::DeployFailed, &none), Level::Error);
        assert_eq!(event_level(&K::GateFailed, &none), Level::Error);
        assert_eq!(event_level(&K::SlotFailed, &none), Level::Error);
        assert_eq!(event_level(&K::ProcessExited, &none), Level::Warn);
        assert_eq!(event_level(&K::DeployStarted, &none), Level::Info);
        assert_eq!(event_level(&K::DeploySucceeded, &none), Level::Info);
        assert_eq!(
            event_level(&K::HealthChanged, &json!({"health": "unhealthy"})),
            Level::Warn
        );
        assert_eq!(
            event_level(&K::HealthChanged, &json!({"health": "healthy"})),
            Level::Info
        );
        assert_eq!(
            event_level(&K::CanaryJudged, &json!({"outcome": "fail"})),
            Level::Error
        );
        assert_eq!(
            event_level(&K::CanaryJudged, &json!({"outcome": "pass"})),
            Level::Info
        );
    }

    #[test]
    fn gate_events_sit_with_the_gate_output() {
        assert_eq!(event_source(&K::GateFailed), LogSource::Gate);
        assert_eq!(event_source(&K::GateCached), LogSource::Gate);
        assert_eq!(event_source(&K::DeployFailed), LogSource::Engine);
    }
}
