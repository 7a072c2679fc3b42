//! How a plugin's last rollout ended, derived from the store (the rollouts table and the
//! `rolled_back` events), so that a rollback, `naap status` and a restarted engine all
//! read the same answer. A blue-green rollout *succeeds* when traffic moves; a rollback
//! after it (by a person or the guard) is what turns its outcome into "rolled back".

use super::report::LastRollout;
use super::{AUTO_ROLLBACK_ALERT, AlertRow, Engine, EngineError};
use crate::core::alerts::Severity;
use crate::core::store::{EventKind, EventRecord, RolloutRecord};
use chrono::{DateTime, Utc};

/// The event every successful rollback records (by `rollback`, under the plugin's lock).
const ROLLED_BACK: EventKind = EventKind::RolledBack;
/// Recorded when a rollout starts; bounds the search for a rollback after it.
const DEPLOY_STARTED: EventKind = EventKind::DeployStarted;
/// Rollouts looked at when deciding whether anything went live after a rollback.
const ROLLOUTS_SINCE_ROLLBACK: usize = 50;

/// A rollback as the store remembers it.
pub(crate) struct PastRollback {
    pub at: DateTime<Utc>,
    /// The version it sent all traffic to.
    pub version: String,
}

impl Engine {
    /// The rollback that decided what serves now, if the last change of what serves was a
    /// rollback: no rollout started after it, except ones that failed or were aborted
    /// before moving traffic for good.
    pub(crate) fn standing_rollback(
        &self,
        plugin: &str,
    ) -> Result<Option<PastRollback>, EngineError> {
        let store = self.store();
        let Some(event) = store.latest_event(plugin, &[ROLLED_BACK])? else {
            return Ok(None);
        };
        let Some(version) = event.data["version"].as_str().map(str::to_string) else {
            return Ok(None);
        };
        let overtaken = store
            .rollouts(plugin, ROLLOUTS_SINCE_ROLLBACK)?
            .iter()
            .take_while(|r| r.started_at > event.ts)
            .any(|r| r.state == "running" || r.state == "succeeded");
        Ok((!overtaken).then_some(PastRollback {
            at: event.ts,
            version,
        }))
    }

    /// The last rollout of `plugin` and how it ended, for `naap status`.
    pub(crate) fn last_rollout(
        &self,
        plugin: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<LastRollout>, EngineError> {
        let (rollout, rollback) = {
            let store = self.store();
            let Some(rollout) = store.rollouts(plugin, 1)?.into_iter().next() else {
                return Ok(None);
            };
            let rollback = store
                .latest_event(plugin, &[ROLLED_BACK, DEPLOY_STARTED])?
                .filter(|e| e.kind == ROLLED_BACK && e.ts >= rollout.started_at);
            (rollout, rollback)
        };
        Ok(Some(describe(&rollout, rollback.as_ref(), now)))
    }

    /// The built-in `auto-rollback` alert stays firing in status while the last rollout's
    /// outcome is an automatic rollback: until the next rollout, like Argo Rollouts keeps
    /// a rollout `Degraded` until it is retried.
    pub(crate) fn rollback_alert(&self, plugin: &str, last: &LastRollout) -> Option<AlertRow> {
        if last.outcome != "rolled_back" || !last.automatic {
            return None;
        }
        Some(AlertRow {
            plugin: plugin.to_string(),
            rule: AUTO_ROLLBACK_ALERT.to_string(),
            state: "firing".to_string(),
            since: last.at,
            severity: Severity::Critical,
            summary: last.reason.clone().unwrap_or_else(|| last.summary.clone()),
            labels: Default::default(),
            rollback: true,
            acked_by: None,
            silenced_until: None,
            silence_id: None,
        })
    }
}

/// The outcome in words: "2.0.0 rolled back automatically 40 s ago: error rate …".
fn describe(r: &RolloutRecord, rollback: Option<&EventRecord>, now: DateTime<Utc>) -> LastRollout {
    let version = &r.to_version;
    let (outcome, at, automatic, reason, to_version) = match rollback {
        Some(e) => (
            "rolled_back".to_string(),
            e.ts,
            e.data["by"] == "engine",
            e.data["reason"].as_str().map(str::to_string),
            e.data["version"].as_str().map(str::to_string),
        ),
        None => (
            r.state.clone(),
            r.finished_at.unwrap_or(r.started_at),
            false,
            (!r.detail.is_empty() && r.state != "succeeded").then(|| r.detail.clone()),
            None,
        ),
    };
    let age = ago(now, at);
    let summary = match (outcome.as_str(), rollback) {
        ("running", _) => format!("{version} rolling out ({}) since {age}", r.strategy),
        ("rolled_back", Some(e)) => {
            let how = if automatic {
                "automatically".to_string()
            } else {
                format!("by {}", e.data["by"].as_str().unwrap_or("a person"))
            };
            let to = to_version
                .as_deref()
                .map(|v| format!(" to {v}"))
                .unwrap_or_default();
            match &reason {
                Some(reason) => format!("{version} rolled back{to} {how} {age} ago: {reason}"),
                None => format!("{version} rolled back{to} {how} {age} ago"),
            }
        }
        (state, _) => {
            let word = state.replace('_', " ");
            match &reason {
                Some(reason) => format!("{version} {word} {age} ago: {reason}"),
                None => format!("{version} {word} {age} ago ({})", r.strategy),
            }
        }
    };
    LastRollout {
        id: r.id,
        version: version.clone(),
        from_version: r.from_version.clone(),
        outcome,
        automatic,
        reason,
        rolled_back_to: to_version,
        at,
        summary,
    }
}

/// "40 s", "3 min", "2 h", "5 d": how long ago, in the largest whole unit.
pub(crate) fn ago(now: DateTime<Utc>, at: DateTime<Utc>) -> String {
    let secs = (now - at).num_seconds().max(0);
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86400 => format!("{} h", secs / 3600),
        _ => format!("{} d", secs / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::types::{SlotName, StrategyKind};

    fn rollout(state: &str, detail: &str) -> RolloutRecord {
        let t = DateTime::parse_from_rfc3339("2026-01-01T14:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        RolloutRecord {
            id: 7,
            plugin: "shop".into(),
            strategy: StrategyKind::BlueGreen,
            from_slot: Some(SlotName::Blue),
            to_slot: Some(SlotName::Green),
            from_version: Some("1.0.0".into()),
            to_version: "2.0.0".into(),
            state: state.into(),
            started_at: t,
            finished_at: Some(t),
            detail: detail.into(),
        }
    }

    #[test]
    fn an_automatic_rollback_names_the_reason_and_the_age() {
        let r = rollout("succeeded", "live");
        let event = EventRecord {
            id: 1,
            ts: r.started_at + chrono::Duration::seconds(5),
            plugin: Some("shop".into()),
            slot: Some(SlotName::Blue),
            kind: ROLLED_BACK,
            message: String::new(),
            data: serde_json::json!({"by": "engine", "version": "1.0.0", "reason": "error rate 30.0 % > 5.0 %"}),
        };
        let now = event.ts + chrono::Duration::seconds(40);
        let last = describe(&r, Some(&event), now);
        assert_eq!(last.outcome, "rolled_back");
        assert!(last.automatic);
        assert_eq!(
            last.summary,
            "2.0.0 rolled back to 1.0.0 automatically 40 s ago: error rate 30.0 % > 5.0 %"
        );
    }

    #[test]
    fn a_finished_rollout_says_how_it_ended() {
        let r = rollout("failed", "gate test failed");
        let now = r.started_at + chrono::Duration::seconds(150);
        assert_eq!(
            describe(&r, None, now).summary,
            "2.0.0 failed 2 min ago: gate test failed"
        );
        let r = rollout("succeeded", "2.0.0 is live");
        assert_eq!(
            describe(&r, None, now).summary,
            "2.0.0 succeeded 2 min ago (blue-green)"
        );
    }
}
