//! What an engine event is about, as one shared type: the engine records events by it and
//! every face matches on it, so a kind the engine never emits cannot be matched by mistake.
//!
//! On the wire and in SQLite a kind is its snake_case name (`deploy_succeeded`), as it was
//! when kinds were strings, so stored history reads back unchanged. A name this build does
//! not know (written by a newer naap, or by an embedder through `Engine::record`) loads as
//! [`EventKind::Other`] and is written back as it was.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Declares the kinds once: the variant, its stored name and what it means.
macro_rules! event_kinds {
    ($($(#[doc = $doc:literal])* $variant:ident = $name:literal,)*) => {
        /// The kind of a recorded engine event.
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum EventKind {
            $($(#[doc = $doc])* $variant,)*
            /// A kind this build does not know, kept as stored.
            Other(String),
        }

        impl EventKind {
            /// Every kind the engine emits, in declaration order.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant,)*];

            /// The stored name, e.g. `deploy_succeeded`.
            pub fn as_str(&self) -> &str {
                match self {
                    $(EventKind::$variant => $name,)*
                    EventKind::Other(name) => name,
                }
            }

            /// The kind of a stored name; an unknown name is kept as [`EventKind::Other`].
            pub fn from_name(name: &str) -> EventKind {
                match name {
                    $($name => EventKind::$variant,)*
                    other => EventKind::Other(other.to_string()),
                }
            }
        }
    };
}

event_kinds! {
    /// The engine started (or restarted) for this workspace.
    EngineStarted = "engine_started",
    /// The engine is shutting down.
    EngineStopping = "engine_stopping",
    /// The store answered again after a failure.
    StoreRecovered = "store_recovered",
    /// naap.toml was read again.
    WorkspaceReloaded = "workspace_reloaded",
    /// A reload added a plugin.
    PluginAdded = "plugin_added",
    /// A reload removed a plugin.
    PluginRemoved = "plugin_removed",
    /// A reload read a changed plugin.toml.
    ManifestReloaded = "manifest_reloaded",
    /// A person disabled a plugin: its slots stop, the router answers 503.
    PluginDisabled = "plugin_disabled",
    /// A person enabled a disabled plugin again.
    PluginEnabled = "plugin_enabled",
    /// A signal (automatic rollback, critical alert, crash loop, failed deploy) opened an
    /// incident.
    IncidentOpened = "incident_opened",
    /// A person resolved an incident with a note.
    IncidentResolved = "incident_resolved",
    /// A runbook run started.
    RunbookStarted = "runbook_started",
    /// A runbook step (or a compensation) ended: ok, failed or skipped.
    RunbookStep = "runbook_step",
    /// A runbook run ended: succeeded, or failed with its done steps compensated.
    RunbookFinished = "runbook_finished",
    /// A person changed a plugin's replica count (`naap scale`).
    PluginScaled = "plugin_scaled",
    /// A replica of a slot started or stopped (scale, restart, recovery).
    ReplicaStarted = "replica_started",
    ReplicaStopped = "replica_stopped",
    /// The router took a replica out of rotation after consecutive errors.
    ReplicaEjected = "replica_ejected",
    /// A probe after an ejection passed: the replica is back in rotation.
    ReplicaReturned = "replica_returned",
    /// A rolling restart of a plugin's replicas ended.
    PluginRestarted = "plugin_restarted",

    /// A deploy started its rollout.
    DeployStarted = "deploy_started",
    /// A deploy waits for the engine's own first start of the plugin.
    DeployWaiting = "deploy_waiting",
    /// A deploy ended with the new version live.
    DeploySucceeded = "deploy_succeeded",
    /// A deploy ended without the new version live.
    DeployFailed = "deploy_failed",
    /// Processes a slot left behind were killed before it started again.
    SlotLeftoversKilled = "slot_leftovers_killed",

    /// A build or test gate started.
    GateStarted = "gate_started",
    /// A gate passed.
    GatePassed = "gate_passed",
    /// A gate failed; the deploy stops.
    GateFailed = "gate_failed",
    /// A gate's earlier pass for the same inputs was reused.
    GateCached = "gate_cached",

    /// Weights were set by hand.
    TrafficChanged = "traffic_changed",
    /// A rollback sent all traffic to an earlier version.
    RolledBack = "rolled_back",
    /// A rollback found the earlier slot cold and deploys the version again.
    RollbackRedeploy = "rollback_redeploy",
    /// The guard rolled back on its own (a breach, a firing alert).
    AutoRollback = "auto_rollback",

    /// A canary moved to its next step.
    CanaryStep = "canary_step",
    /// A canary step was judged (pass, marginal, fail, inconclusive).
    CanaryJudged = "canary_judged",
    /// A canary waits for a person.
    RolloutHeld = "rollout_held",
    /// A person promoted a canary.
    RolloutPromoted = "rollout_promoted",
    /// A person paused a canary.
    RolloutPaused = "rollout_paused",
    /// A person resumed a canary.
    RolloutResumed = "rollout_resumed",
    /// A rollout was aborted (by a person, or after a restart).
    RolloutAborted = "rollout_aborted",
    /// A canary found running after an engine restart goes on.
    RolloutResumedAfterRestart = "rollout_resumed_after_restart",
    /// A rollout found running after an engine restart was rolled back.
    RolloutRolledBackAfterRestart = "rollout_rolled_back_after_restart",

    /// A preview slot is starting.
    PreviewStarted = "preview_started",
    /// A preview slot serves.
    PreviewReady = "preview_ready",
    /// A preview slot was removed (stopped, expired or failed).
    PreviewRemoved = "preview_removed",
    /// A preview slot was found again after an engine restart.
    PreviewRecovered = "preview_recovered",

    /// A slot's process exited; the supervisor may restart it.
    ProcessExited = "process_exited",
    /// A slot gave up: it will not be restarted.
    SlotFailed = "slot_failed",
    /// A slot turned healthy or unhealthy.
    HealthChanged = "health_changed",
    /// A slot stopped taking new requests and finishes the ones it has.
    SlotDraining = "slot_draining",
    /// A slot's process stopped.
    SlotStopped = "slot_stopped",
    /// A slot's process from an earlier engine is running but cannot be adopted.
    SlotOrphaned = "slot_orphaned",
    /// A slot's process from an earlier engine was adopted.
    SlotAdopted = "slot_adopted",
    /// Adopting a slot's process from an earlier engine failed.
    SlotAdoptFailed = "slot_adopt_failed",
    /// A slot whose process was gone after an engine restart was started again.
    SlotRestarted = "slot_restarted",
    /// Starting such a slot again failed.
    SlotRestartFailed = "slot_restart_failed",

    /// An alert's condition holds, not yet for its `for` duration.
    AlertPending = "alert_pending",
    /// An alert fires.
    AlertFiring = "alert_firing",
    /// A firing alert resolved.
    AlertResolved = "alert_resolved",
    /// A silence was set.
    AlertSilenced = "alert_silenced",
    /// A silence was ended early.
    AlertUnsilenced = "alert_unsilenced",
    /// A firing alert was acknowledged.
    AlertAcked = "alert_acked",
    /// A notification could not be delivered.
    AlertNotifyFailed = "alert_notify_failed",
}

impl EventKind {
    /// A gate's events, which sit with the gate's own output in the logs.
    pub fn is_gate(&self) -> bool {
        matches!(
            self,
            EventKind::GateStarted
                | EventKind::GatePassed
                | EventKind::GateFailed
                | EventKind::GateCached
        )
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Ok(EventKind::from_name(&name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_as_itself_by_its_stored_name() {
        for kind in EventKind::ALL {
            assert_eq!(&EventKind::from_name(kind.as_str()), kind);
            let json = serde_json::to_string(kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(&serde_json::from_str::<EventKind>(&json).unwrap(), kind);
        }
    }

    #[test]
    fn names_are_unique_snake_case() {
        let mut names: Vec<&str> = EventKind::ALL.iter().map(EventKind::as_str).collect();
        assert!(
            names
                .iter()
                .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        );
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "a name is declared twice");
    }

    #[test]
    fn an_unknown_stored_kind_loads_and_writes_back_unchanged() {
        let kind: EventKind = serde_json::from_str("\"canary_verdict\"").unwrap();
        assert_eq!(kind, EventKind::Other("canary_verdict".into()));
        assert_eq!(serde_json::to_string(&kind).unwrap(), "\"canary_verdict\"");
    }
}
