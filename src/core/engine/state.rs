//! The engine's in-memory view of every plugin and slot. The store holds the same facts
//! durably; this holds what only a live engine has (process handles, health checkers).

use crate::core::health::HealthChecker;
use crate::core::runtime::{ProcessId, SlotHandle};
use crate::core::types::{Health, ProcessState, SlotName};
use crate::core::workspace::{HealthSpec, RunSpec};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::watch;

use super::report::RolloutStatus;
use crate::core::rollout::RolloutController;

/// How to run one version of a plugin. Stored per version in SQLite, so a rollback to an
/// older version runs it the way it ran then, whatever the manifest on disk says now.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DeploySpec {
    pub run: RunSpec,
    pub health: HealthSpec,
}

#[derive(Default)]
pub(crate) struct PluginState {
    pub slots: BTreeMap<SlotName, SlotState>,
    pub rollout: Option<RolloutStatus>,
    /// Serialises deploys, rollbacks and traffic changes of one plugin.
    pub op: Arc<tokio::sync::Mutex<()>>,
    /// Which deploy holds `op`, when a deploy does (see `oplock`).
    pub op_holder: Option<super::oplock::OpHolder>,
    /// Set while a deploy runs; a rollback sends `true` to cancel it.
    pub cancel: Option<watch::Sender<bool>>,
    /// An automatic rollback is under way; the guard does not start another.
    pub auto_rollback_running: bool,
    /// When its slots restarted after a crash, newest last, for `restarts > N in D`.
    pub restart_times: std::collections::VecDeque<DateTime<Utc>>,
    /// Where a running canary rollout stands; stored in SQLite before every change.
    pub canary: Option<RolloutController>,
    /// Wakes the canary loop when a person changed the controller.
    pub canary_wake: Arc<tokio::sync::Notify>,
}

impl PluginState {
    pub fn slot(&self, slot: SlotName) -> Option<&SlotState> {
        self.slots.get(&slot)
    }

    pub fn slot_mut(&mut self, slot: SlotName) -> &mut SlotState {
        self.slots.entry(slot).or_default()
    }

    /// The slot serving most traffic (blue on a tie), if any slot has weight.
    pub fn live_slot(&self) -> Option<SlotName> {
        let mut best: Option<(SlotName, u32)> = None;
        for (name, slot) in &self.slots {
            if slot.weight > 0 && best.is_none_or(|(_, w)| slot.weight > w) {
                best = Some((*name, slot.weight));
            }
        }
        best.map(|(name, _)| name)
    }

    /// Where the next deploy goes: the slot that is not live.
    pub fn idle_slot(&self) -> SlotName {
        match self.live_slot() {
            Some(live) => live.other(),
            None => SlotName::Blue,
        }
    }
}

#[derive(Default)]
pub(crate) struct SlotState {
    pub version: Option<String>,
    pub spec: Option<DeploySpec>,
    pub process_state: SlotProcess,
    pub health: SlotHealth,
    pub health_detail: String,
    /// Set while the slot is not healthy and its processes listen on other ports than
    /// the one naap gave it: says which.
    pub port_note: Option<String>,
    pub process: Option<ProcessId>,
    pub port: Option<u16>,
    pub weight: u32,
    pub restarts: u32,
    pub started_at: Option<DateTime<Utc>>,
    pub warm_until: Option<DateTime<Utc>>,
    /// Set for a preview slot only: when it stops by itself.
    pub expires_at: Option<DateTime<Utc>>,
    pub cpu_percent: f64,
    pub rss_bytes: u64,
    pub handle: Option<SlotHandle>,
    pub checker: Option<HealthChecker>,
    /// Set while the slot drains and stops; turns true when it has stopped.
    pub stopping: Option<watch::Receiver<bool>>,
    /// Replica 0 (the fields above) is out of rotation for a rolling restart.
    pub draining: bool,
    /// The slot's other processes, replica 1 upwards. Not stored: after an engine restart
    /// they are started afresh beside the adopted replica 0.
    pub replicas: Vec<ReplicaState>,
}

/// One of a slot's extra processes (replica 1 and up).
pub(crate) struct ReplicaState {
    pub index: u32,
    pub port: u16,
    pub process: Option<ProcessId>,
    pub handle: Option<SlotHandle>,
    pub checker: Option<HealthChecker>,
    pub process_state: SlotProcess,
    pub health: SlotHealth,
    pub health_detail: String,
    pub restarts: u32,
    pub cpu_percent: f64,
    pub rss_bytes: u64,
    /// Out of rotation: being scaled away or restarted.
    pub draining: bool,
}

impl ReplicaState {
    pub fn is_serving(&self) -> bool {
        !self.draining
            && self.process_state.0 == ProcessState::Running
            && self.health.0 == Health::Healthy
    }
}

impl SlotState {
    /// The health detail as every face shows it: the last check (or why the slot failed),
    /// and which port the process listens on when that is not its own.
    pub fn detail(&self) -> String {
        match &self.port_note {
            Some(note) if !self.health_detail.contains(note.as_str()) => {
                format!("{}; {note}", self.health_detail)
            }
            _ => self.health_detail.clone(),
        }
    }

    /// Ready for traffic: some replica runs and passes its health checks.
    pub fn is_serving(&self) -> bool {
        self.primary_serving() || self.replicas.iter().any(ReplicaState::is_serving)
    }

    /// Replica 0 runs, passes its health checks and is in rotation.
    pub fn primary_serving(&self) -> bool {
        !self.draining && self.primary_ready()
    }

    /// Replica 0 runs and passes its health checks (in rotation or not).
    pub fn primary_ready(&self) -> bool {
        self.process_state.0 == ProcessState::Running && self.health.0 == Health::Healthy
    }

    pub fn replica_mut(&mut self, index: u32) -> Option<&mut ReplicaState> {
        self.replicas.iter_mut().find(|r| r.index == index)
    }
}

/// Newtypes so `Default` gives the states a fresh slot has.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct SlotProcess(pub ProcessState);
impl Default for SlotProcess {
    fn default() -> Self {
        SlotProcess(ProcessState::Stopped)
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct SlotHealth(pub Health);
impl Default for SlotHealth {
    fn default() -> Self {
        SlotHealth(Health::Unknown)
    }
}
