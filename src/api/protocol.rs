//! The wire types of the socket protocol.

use crate::core::engine::{EngineError, EngineEvent};
use crate::core::types::{Face, Level, SlotName, StrategyKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Longest request line accepted; a longer one is answered with an error and dropped.
pub const MAX_LINE_BYTES: usize = 1 << 20;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Request {
    pub id: u64,
    #[serde(flatten)]
    pub call: Call,
    #[serde(default)]
    pub face: Face,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(
    tag = "method",
    content = "params",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum Call {
    Ping {},
    Status {
        #[serde(default)]
        plugin: Option<String>,
    },
    Deploy {
        plugin: String,
        #[serde(default)]
        version: Option<String>,
        #[serde(default)]
        strategy: Option<StrategyKind>,
        #[serde(default)]
        dry_run: bool,
        /// Answer once the rollout started instead of when it ends.
        #[serde(default)]
        detach: bool,
    },
    /// Canary: go on (release a hold, end the step now); `full`: straight to 100 %.
    Promote {
        plugin: String,
        #[serde(default)]
        full: bool,
    },
    /// Canary: send all traffic back to the stable slot and stop the canary.
    Abort {
        plugin: String,
    },
    /// Canary: hold the rollout; the step timer freezes.
    Pause {
        plugin: String,
    },
    /// Canary: continue a paused rollout.
    Resume {
        plugin: String,
    },
    Traffic {
        plugin: String,
        weights: BTreeMap<SlotName, u32>,
    },
    Rollback {
        plugin: String,
        #[serde(default)]
        to: Option<String>,
    },
    Logs {
        plugin: String,
        #[serde(default)]
        slot: Option<SlotName>,
        #[serde(default)]
        level: Option<Level>,
        /// RFC 3339 time; only lines at or after it.
        #[serde(default)]
        since: Option<chrono::DateTime<chrono::Utc>>,
        #[serde(default)]
        grep: Option<String>,
        #[serde(default = "default_log_limit")]
        limit: usize,
        #[serde(default)]
        after_seq: Option<u64>,
    },
    History {
        plugin: String,
        #[serde(default = "default_history_limit")]
        limit: usize,
    },
    /// Start receiving pushes: events and snapshots, and log lines when `logs` is set
    /// (of one plugin when `plugin` is set).
    Subscribe {
        #[serde(default)]
        logs: bool,
        #[serde(default)]
        plugin: Option<String>,
    },
    /// Stop the engine; with `stop_plugins` the slot processes stop too.
    Shutdown {
        #[serde(default)]
        stop_plugins: bool,
    },
}

fn default_log_limit() -> usize {
    200
}
fn default_history_limit() -> usize {
    100
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Reply {
    pub id: Option<u64>,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

/// A line the server sends after `subscribe`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Push {
    pub push: EngineEvent,
}

/// Either kind of server line, for clients that read both.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum ServerLine {
    Push(Push),
    Reply(Reply),
}

impl Reply {
    pub fn ok(id: u64, result: serde_json::Value) -> Reply {
        Reply {
            id: Some(id),
            ok: true,
            result: Some(result),
            error: None,
        }
    }

    pub fn error(id: Option<u64>, code: &str, message: impl Into<String>) -> Reply {
        Reply {
            id,
            ok: false,
            result: None,
            error: Some(ApiError {
                code: code.to_string(),
                message: message.into(),
            }),
        }
    }

    pub fn from_engine(id: u64, error: &EngineError) -> Reply {
        Reply::error(Some(id), error.code(), error.to_string())
    }
}
