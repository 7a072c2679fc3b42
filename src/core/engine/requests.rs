//! The parameters of the engine's calls that have no module of their own. Each struct is
//! the one field list of its call: the socket carries it as `params`, the CLI, the
//! dashboard and the operator build it, and the catalog derives its JSON schema from it.

use super::EngineError;
use crate::core::logs::{LogOrigin, LogQuery};
use crate::core::types::Level;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Plugins, slots, weights, health and live metrics.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    /// Only this plugin (default: every plugin).
    #[serde(default)]
    pub plugin: Option<String>,
}

/// A call about one plugin and nothing else (abort, pause, resume).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginRequest {
    pub plugin: String,
}

/// Canary: go on (release a hold, end the step now); `full`: straight to 100 %.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoteRequest {
    pub plugin: String,
    /// Skip the remaining steps: all traffic to the canary now.
    #[serde(default)]
    pub full: bool,
}

/// A plugin's log lines, newest `limit` of those that match.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogsRequest {
    pub plugin: String,
    /// Only this slot's lines (`blue`, `green`, `preview-<id>`) or the gates' (`gate`).
    #[serde(default)]
    pub slot: Option<LogOrigin>,
    /// Lowest level to return.
    #[serde(default)]
    pub level: Option<Level>,
    /// RFC 3339 time; only lines at or after it.
    #[serde(default)]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// A regular expression the line's message (or a string field) must match.
    #[serde(default)]
    pub grep: Option<String>,
    /// How many of the newest matching lines (0: all).
    #[serde(default = "default_log_limit")]
    pub limit: usize,
    /// Only lines after this sequence number (to follow a stream).
    #[serde(default)]
    pub after_seq: Option<u64>,
}

impl LogsRequest {
    pub fn new(plugin: impl Into<String>) -> LogsRequest {
        LogsRequest {
            plugin: plugin.into(),
            slot: None,
            level: None,
            since: None,
            grep: None,
            limit: default_log_limit(),
            after_seq: None,
        }
    }

    /// The buffer query, with `grep` compiled; a bad pattern is the caller's error.
    pub fn to_query(&self) -> Result<LogQuery, EngineError> {
        let grep = self
            .grep
            .as_deref()
            .map(regex::Regex::new)
            .transpose()
            .map_err(|e| EngineError::BadRequest(format!("grep pattern: {e}")))?;
        Ok(LogQuery {
            plugin: self.plugin.clone(),
            slot: self.slot,
            min_level: self.level,
            since: self.since,
            grep,
            after_seq: self.after_seq,
            limit: self.limit,
        })
    }
}

/// Rollouts, events and audit records of a plugin, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HistoryRequest {
    pub plugin: String,
    #[serde(default = "default_history_limit")]
    pub limit: usize,
}

/// Alerts (of one plugin, or all), active silences and recent transitions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertsRequest {
    #[serde(default)]
    pub plugin: Option<String>,
    /// Recent transitions to include.
    #[serde(default = "default_history_limit")]
    pub limit: usize,
}

/// End a silence now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnsilenceRequest {
    /// The silence's id, as `alerts` lists it.
    pub id: i64,
}

pub fn default_log_limit() -> usize {
    200
}

pub fn default_history_limit() -> usize {
    100
}
