//! The rows the store keeps, as plain data.

pub use crate::core::event_kind::EventKind;
use crate::core::types::{Face, Health, ProcessState, SlotName, StrategyKind};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// A plugin the engine knows, and where its manifest lives.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PluginRecord {
    pub name: String,
    pub manifest_path: PathBuf,
    pub created_at: DateTime<Utc>,
}

/// One version of a plugin with the resolved spec it was deployed with.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct VersionRecord {
    pub plugin: String,
    pub version: String,
    pub spec_json: String,
    pub created_at: DateTime<Utc>,
    pub last_deployed_at: Option<DateTime<Utc>>,
}

/// The persisted state of one slot, enough to adopt or restart its process after a restart.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SlotRecord {
    pub plugin: String,
    pub slot: SlotName,
    pub version: Option<String>,
    pub process_state: ProcessState,
    pub health: Health,
    /// The last health check's outcome or why the slot failed or stopped, so that a
    /// restarted engine still says why.
    #[serde(default)]
    pub health_detail: String,
    pub pid: Option<u32>,
    /// Start time of `pid` (clock ticks since boot); tells a live process from a reused pid.
    pub pid_start_time: Option<u64>,
    pub port: Option<u16>,
    pub weight: u32,
    pub started_at: Option<DateTime<Utc>>,
    pub restarts: u32,
    pub updated_at: DateTime<Utc>,
}

/// Where a rollout is in its life. Stored as the snake_case name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutState {
    Running,
    Succeeded,
    Failed,
    RolledBack,
    Aborted,
}

impl RolloutState {
    /// Every state, in life-cycle order.
    pub const ALL: [RolloutState; 5] = [
        RolloutState::Running,
        RolloutState::Succeeded,
        RolloutState::Failed,
        RolloutState::RolledBack,
        RolloutState::Aborted,
    ];

    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutState::Running => "running",
            RolloutState::Succeeded => "succeeded",
            RolloutState::Failed => "failed",
            RolloutState::RolledBack => "rolled_back",
            RolloutState::Aborted => "aborted",
        }
    }
}

impl fmt::Display for RolloutState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RolloutState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RolloutState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown rollout state `{s}`: use running, succeeded, failed, rolled_back or aborted"
                )
            })
    }
}

/// A rollout about to start; the store sets its id, `running` state and start time.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct NewRollout {
    pub plugin: String,
    pub strategy: StrategyKind,
    pub from_slot: Option<SlotName>,
    pub to_slot: Option<SlotName>,
    pub from_version: Option<String>,
    pub to_version: String,
    /// Free text shown in history while the rollout runs (e.g. the canary steps).
    pub detail: String,
}

/// A rollout, running or finished.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RolloutRecord {
    pub id: i64,
    pub plugin: String,
    pub strategy: StrategyKind,
    pub from_slot: Option<SlotName>,
    pub to_slot: Option<SlotName>,
    pub from_version: Option<String>,
    pub to_version: String,
    /// One of the `RolloutState` names: running, succeeded, failed, rolled_back, aborted.
    pub state: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub detail: String,
}

/// An engine event to record; the store sets its id and timestamp.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct NewEvent {
    pub plugin: Option<String>,
    pub slot: Option<SlotName>,
    pub kind: EventKind,
    pub message: String,
    pub data: serde_json::Value,
}

/// A recorded engine event.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EventRecord {
    pub id: i64,
    pub ts: DateTime<Utc>,
    pub plugin: Option<String>,
    pub slot: Option<SlotName>,
    pub kind: EventKind,
    pub message: String,
    pub data: serde_json::Value,
}

/// Whether an audited action succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditResult {
    Ok,
    Error,
    /// Accepted and not finished yet (or cut by a crash the next engine has not seen).
    Pending,
    /// Cut by an engine crash or kill; completed by the next engine with what it then did.
    Interrupted,
}

impl fmt::Display for AuditResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuditResult::Ok => "ok",
            AuditResult::Error => "error",
            AuditResult::Pending => "pending",
            AuditResult::Interrupted => "interrupted",
        })
    }
}

/// An action to add to the audit log; the store sets its id and timestamp.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct NewAudit {
    pub face: Face,
    pub action: String,
    pub plugin: Option<String>,
    pub args: serde_json::Value,
    pub result: AuditResult,
    pub detail: String,
}

/// An entry of the append-only audit log.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AuditRecord {
    pub id: i64,
    pub ts: DateTime<Utc>,
    pub face: Face,
    pub action: String,
    pub plugin: Option<String>,
    pub args: serde_json::Value,
    pub result: AuditResult,
    pub detail: String,
    /// When a request audited at acceptance got its result; `None` while pending and for
    /// entries written once, complete.
    #[serde(default)]
    pub completed_at: Option<DateTime<Utc>>,
}
