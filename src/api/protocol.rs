//! The wire types of the socket protocol.

use crate::core::engine::{EngineError, EngineEvent};
use crate::core::hint::Hint;
use crate::core::types::{Face, Level, SlotName, StrategyKind, Version};
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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
        /// Checked while decoding: a bad version is a `bad_request`, nothing runs.
        #[serde(default)]
        version: Option<Version>,
        #[serde(default)]
        strategy: Option<StrategyKind>,
        #[serde(default)]
        dry_run: bool,
        #[serde(default)]
        no_cache: bool,
        /// Start in a new preview slot (reachable only by header) instead of blue/green.
        #[serde(default)]
        preview: bool,
        /// The preview's lifetime, e.g. `2h`.
        #[serde(default)]
        ttl: Option<String>,
        /// Answer once the rollout started instead of when it ends.
        #[serde(default)]
        detach: bool,
        /// Deploy even when the version is already live (a restart into the idle slot).
        #[serde(default)]
        force: bool,
    },
    /// Stops a preview slot before its TTL; `id` is `3fa91c` or `preview-3fa91c`.
    PreviewStop {
        plugin: String,
        id: String,
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
        to: Option<Version>,
    },
    Logs {
        plugin: String,
        /// `blue`, `green`, `preview-<id>` or `gate`.
        #[serde(default)]
        slot: Option<crate::core::logs::LogOrigin>,
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
    /// Alerts (of one plugin, or all), active silences and recent transitions.
    Alerts {
        #[serde(default)]
        plugin: Option<String>,
        #[serde(default = "default_history_limit")]
        limit: usize,
    },
    /// Mute a plugin's alerts (all, or one `rule`) for `duration` (e.g. `2h`).
    Silence {
        plugin: String,
        #[serde(default)]
        rule: Option<String>,
        duration: String,
        comment: String,
        author: String,
    },
    /// End a silence now.
    Unsilence {
        id: i64,
    },
    /// Stop the repeats of a firing alert until it resolves.
    Ack {
        plugin: String,
        rule: String,
        author: String,
    },
    /// Start receiving pushes: events and snapshots, and log lines when `logs` is set
    /// (of one plugin when `plugin` is set).
    Subscribe {
        #[serde(default)]
        logs: bool,
        #[serde(default)]
        plugin: Option<String>,
    },
    /// Re-read naap.toml and every plugin.toml; apply added, removed and changed plugins.
    Reload {},
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
    /// What would help, for each face to say in its own terms; left out when nothing in
    /// particular would, so older clients read the same object.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<Hint>,
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
                hints: Vec::new(),
            }),
        }
    }

    pub fn from_engine(id: u64, error: &EngineError) -> Reply {
        let mut reply = Reply::error(Some(id), error.code(), error.to_string());
        if let Some(api) = &mut reply.error {
            api.hints = error.hints();
        }
        reply
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Request, serde_json::Error> {
        serde_json::from_str(line)
    }

    #[test]
    fn alert_calls_have_a_stable_wire_shape() {
        let r = parse(
            r#"{"id":1,"method":"silence","params":{"plugin":"web","rule":"errors","duration":"2h","comment":"fix deploying","author":"ana"}}"#,
        )
        .expect("silence");
        assert!(
            matches!(r.call, Call::Silence { ref rule, .. } if rule.as_deref() == Some("errors"))
        );
        let r = parse(r#"{"id":2,"method":"alerts","params":{}}"#).expect("alerts");
        assert!(matches!(
            r.call,
            Call::Alerts {
                plugin: None,
                limit: 100
            }
        ));
        let r = parse(r#"{"id":3,"method":"unsilence","params":{"id":7}}"#).expect("unsilence");
        assert!(matches!(r.call, Call::Unsilence { id: 7 }));
        let r = parse(
            r#"{"id":4,"method":"ack","params":{"plugin":"web","rule":"errors","author":"bo"}}"#,
        )
        .expect("ack");
        assert!(matches!(r.call, Call::Ack { .. }));
        // A silence without a comment, or with an unknown key, is refused.
        assert!(parse(r#"{"id":5,"method":"silence","params":{"plugin":"web","duration":"2h","author":"a"}}"#).is_err());
        assert!(parse(r#"{"id":6,"method":"ack","params":{"plugin":"web","rule":"e","author":"a","until":"x"}}"#).is_err());
    }
}
