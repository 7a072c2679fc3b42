//! What the engine reports about itself: the status every face shows and the events it
//! streams. These are the stable shapes of `naap status --json` and the socket protocol.

use crate::core::metrics::MetricsSnapshot;
use crate::core::types::{Health, ProcessState, SlotName, StrategyKind};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StatusReport {
    pub engine: EngineInfo,
    /// Whether the store writes; while it fails the engine serves on but records nothing.
    #[serde(default)]
    pub store: crate::core::store::StoreHealth,
    pub plugins: Vec<PluginStatus>,
    /// Plugins listed in naap.toml that the engine did not load: their manifest has
    /// problems. The others are served.
    #[serde(default)]
    pub broken: Vec<BrokenPluginStatus>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BrokenPluginStatus {
    pub name: String,
    pub manifest: String,
    /// Each problem as `file:line:col: field: message` with its hint.
    pub problems: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EngineInfo {
    pub pid: u32,
    pub naap_version: String,
    pub workspace: String,
    pub started_at: DateTime<Utc>,
    /// The address the router actually listens on (the configured one may say port 0).
    pub router: String,
    pub admin: Option<String>,
    /// How the processes of each slot are kept together, so that a stop leaves none.
    #[serde(default)]
    pub containment: String,
    /// naap.toml's `environment` as the engine last loaded it.
    #[serde(default)]
    pub environment: crate::core::workspace::Environment,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PluginStatus {
    pub name: String,
    /// `/prefix` or `host:name`.
    pub route: String,
    /// The version the manifest on disk names (what `naap deploy` ships by default).
    pub manifest_version: String,
    pub strategy: StrategyKind,
    /// The version serving most traffic, if any.
    pub live_version: Option<String>,
    pub slots: Vec<SlotStatus>,
    pub rollout: Option<RolloutStatus>,
    /// How the last rollout ended (or that it runs), also when it ended in a rollback
    /// after traffic had moved.
    #[serde(default)]
    pub last_rollout: Option<LastRollout>,
    /// Pending and firing alerts, most severe first.
    #[serde(default)]
    pub alerts: Vec<super::AlertRow>,
    /// Preview slots (`naap deploy --preview`), each with its `expires_at`.
    #[serde(default)]
    pub previews: Vec<SlotStatus>,
    /// Its open incident, with the resolved ones it looks like first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<super::OpenIncident>,
    /// Set while a person has the plugin disabled (`naap plugin disable`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<crate::core::store::DisabledRecord>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SlotStatus {
    pub slot: SlotName,
    pub version: Option<String>,
    pub process_state: ProcessState,
    pub health: Health,
    pub health_detail: String,
    pub pid: Option<u32>,
    pub port: Option<u16>,
    pub weight: u32,
    pub restarts: u32,
    pub started_at: Option<DateTime<Utc>>,
    /// Set while this slot is the warm previous version: rollback to it is a weight flip.
    pub warm_until: Option<DateTime<Utc>>,
    /// Previews only: when the preview stops by itself.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    pub cpu_percent: f64,
    pub rss_bytes: u64,
    pub metrics: MetricsSnapshot,
    /// Every process of the slot, replica 0 first, when it runs more than one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<ReplicaStatus>,
    /// The version's `[resources]` and what enforces each on this host.
    #[serde(default)]
    pub limits: crate::core::runtime::LimitsApplied,
}

/// One process of a slot.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ReplicaStatus {
    pub index: u32,
    pub pid: Option<u32>,
    pub port: Option<u16>,
    pub process_state: ProcessState,
    pub health: Health,
    pub health_detail: String,
    /// Out of rotation: scaled away or being restarted.
    pub draining: bool,
    pub restarts: u32,
    pub cpu_percent: f64,
    pub rss_bytes: u64,
    /// Requests outstanding and in total, errors, and the router's ejection of it.
    pub stats: crate::core::metrics::ReplicaSnapshot,
}

impl ReplicaStatus {
    /// What the replica is doing, in one word, as every face says it: out of rotation
    /// (draining, ejected by the router) first, then its process and health.
    pub fn state_word(&self) -> &'static str {
        if self.draining {
            return "draining";
        }
        if self.stats.ejected_for_ms > 0 {
            return "ejected";
        }
        match (self.process_state, self.health) {
            (ProcessState::Running, Health::Healthy) => "healthy",
            (ProcessState::Running, Health::Unhealthy) => "unhealthy",
            (ProcessState::Running, Health::Unknown) => "checking",
            (ProcessState::Starting, _) => "starting",
            (ProcessState::Restarting, _) => "restarting",
            (ProcessState::Stopping, _) => "stopping",
            (ProcessState::Failed, _) => "failed",
            (ProcessState::Stopped, _) => "stopped",
        }
    }
}

impl SlotStatus {
    /// "2 healthy, 1 ejected" when the slot runs more than one process.
    pub fn replica_counts(&self) -> Option<String> {
        if self.replicas.is_empty() {
            return None;
        }
        let mut counts: Vec<(&'static str, usize)> = Vec::new();
        for r in &self.replicas {
            let word = r.state_word();
            match counts.iter_mut().find(|(w, _)| *w == word) {
                Some((_, n)) => *n += 1,
                None => counts.push((word, 1)),
            }
        }
        let parts: Vec<String> = counts.iter().map(|(w, n)| format!("{n} {w}")).collect();
        Some(parts.join(", "))
    }

    /// Ready for traffic: the process runs and its health checks pass (the same test the
    /// engine applies before it moves weight to a slot).
    pub fn serves(&self) -> bool {
        self.process_state == ProcessState::Running && self.health == Health::Healthy
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RolloutStatus {
    pub id: i64,
    pub strategy: StrategyKind,
    pub to_slot: SlotName,
    pub to_version: String,
    pub phase: String,
    pub started_at: DateTime<Utc>,
    /// Canary only: the current step (0-based) of `steps`.
    #[serde(default)]
    pub step_index: Option<usize>,
    /// Canary only: the plan's weights in percent.
    #[serde(default)]
    pub steps: Vec<u32>,
    /// Canary only: the canary slot's weight the rollout wants now.
    #[serde(default)]
    pub weight: Option<u32>,
    /// Held until a person acts (`naap resume`, `naap promote` or `naap abort`).
    #[serde(default)]
    pub paused: bool,
    #[serde(default)]
    pub paused_reason: Option<String>,
    /// When the current step ends by itself.
    #[serde(default)]
    pub next_step_at: Option<DateTime<Utc>>,
    /// The judgement of every step so far, oldest first.
    #[serde(default)]
    pub judgements: Vec<crate::core::store::StepJudgementRecord>,
}

impl RolloutStatus {
    /// A rollout that just started: no canary facts yet.
    pub fn started(
        id: i64,
        strategy: StrategyKind,
        to_slot: SlotName,
        to_version: String,
        phase: &str,
    ) -> RolloutStatus {
        RolloutStatus {
            id,
            strategy,
            to_slot,
            to_version,
            phase: phase.to_string(),
            started_at: Utc::now(),
            step_index: None,
            steps: Vec::new(),
            weight: None,
            paused: false,
            paused_reason: None,
            next_step_at: None,
            judgements: Vec::new(),
        }
    }
}

/// The last rollout of a plugin and how it ended, as `naap status` shows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LastRollout {
    pub id: i64,
    /// The version it shipped.
    pub version: String,
    pub from_version: Option<String>,
    /// `running`, `succeeded`, `failed`, `aborted` or `rolled_back` (also when a rollback
    /// came after the rollout had succeeded).
    pub outcome: String,
    /// Rolled back by the engine itself (the `[rollback]` guard or a `rollback = true` rule).
    pub automatic: bool,
    /// Why it ended the way it did, when it did not succeed.
    pub reason: Option<String>,
    /// The version a rollback sent traffic to.
    pub rolled_back_to: Option<String>,
    /// When it ended, was rolled back, or (running) started.
    pub at: DateTime<Utc>,
    /// One line: "2.0.0 rolled back to 1.0.0 automatically 40 s ago: error rate …".
    pub summary: String,
}

/// The outcome of a deploy, rollback or traffic change, as every face prints it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ActionOutcome {
    pub plugin: String,
    /// What happened, in one sentence a person reads at 3 a.m.
    pub summary: String,
    /// `flip` (weights only), `redeploy`, `deploy`, `traffic`, `dry-run`, or `unchanged`
    /// (the version is already live; the rollback already happened).
    pub kind: String,
    pub slot: Option<SlotName>,
    pub version: Option<String>,
    pub weights: Vec<(SlotName, u32)>,
    /// Time from the request to the new weights being live in the router.
    pub elapsed_ms: f64,
    /// The deploy's build/test gates: which ran and which were cached. Empty otherwise.
    #[serde(default)]
    pub gates: Vec<super::GateReport>,
    /// What to do next, if anything in particular (follow the rollout, force a restart).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<crate::core::hint::Hint>,
}

/// History of a plugin: rollouts, events and audit entries, oldest first.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HistoryReport {
    pub plugin: String,
    pub rollouts: Vec<crate::core::store::RolloutRecord>,
    /// The judged canary steps of those rollouts, oldest first.
    #[serde(default)]
    pub judgements: Vec<crate::core::store::StepJudgementRecord>,
    pub events: Vec<crate::core::store::EventRecord>,
    pub audit: Vec<crate::core::store::AuditRecord>,
}

/// What subscribers receive, in order.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EngineEvent {
    /// A recorded event (also in SQLite, with the same id).
    Event(crate::core::store::EventRecord),
    /// A status snapshot with live metrics, once a second.
    Snapshot(StatusReport),
    /// A log line of a plugin.
    Log(crate::core::logs::LogLine),
    /// This subscriber fell behind and `missed` pushes were dropped for it; what it shows
    /// may be stale until it rereads status and history.
    Lagged { missed: u64 },
}
