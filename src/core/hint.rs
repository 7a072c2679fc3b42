//! What to do next, in no face's words. An engine message says what happened; a hint
//! beside it says what would help, as an engine action and its arguments. Each face renders
//! it in its own terms: the CLI as a command line (`naap logs web --slot gate`), the
//! dashboard as what to press or type, the operator as the call to make
//! (`call logs with plugin="web", slot="gate"`).
//!
//! Every hint but [`Hint::SetParam`] names one engine call a person could make next; the
//! set is what the engine's messages need, no more.

use crate::core::logs::LogOrigin;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum Hint {
    /// Read the plugin's log lines of one slot, or of its gates.
    ReadLogs { plugin: String, slot: LogOrigin },
    /// Deploy the plugin: `version` (or the manifest's), with `force` even when it already
    /// serves (a restart into the idle slot).
    Deploy {
        plugin: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<String>,
        #[serde(default, skip_serializing_if = "is_false")]
        force: bool,
    },
    /// Roll the plugin back: cancel its running rollout, or go back to the previous version.
    Rollback { plugin: String },
    /// Roll back to a version the person chooses; the plugin's history lists them.
    RollbackToChosen { plugin: String },
    /// Decide about a held canary: promote goes on, abort goes back to the stable version.
    PromoteOrAbort { plugin: String },
    /// Pause the plugin's canary.
    Pause { plugin: String },
    /// Resume the plugin's paused canary.
    Resume { plugin: String },
    /// Watch the plugin's rollout as it goes.
    Follow { plugin: String },
    /// Read what was deployed and what happened to it.
    History { plugin: String },
    /// Look at the status (of one plugin, or of all): slots, versions, previews.
    Status {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        plugin: Option<String>,
    },
    /// Look at the alerts and silences, with their ids.
    Alerts,
    /// Re-read naap.toml and the plugin manifests.
    Reload,
    /// Enable a disabled plugin: its route opens and its last live version starts.
    Enable { plugin: String },
    /// Stop a preview before its TTL ends.
    StopPreview { plugin: String, id: String },
    /// The workspace is `environment` (production): a person must confirm the change,
    /// naming the environment and the plugin, and the same request goes again with that
    /// confirmation.
    Confirm {
        environment: crate::core::workspace::Environment,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        plugin: Option<String>,
    },
    /// Make the same request again with `param` set: to a value like `example`, or, for a
    /// switch (no example), turned on.
    SetParam {
        param: Param,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        example: Option<String>,
    },
}

/// A request parameter a hint asks to set, by its name in the engine's requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Param {
    /// Deploy into a new preview slot.
    Preview,
    /// A preview's lifetime.
    Ttl,
    /// Why a silence is set.
    Comment,
    /// Who silences or acknowledges.
    Author,
}

impl Param {
    /// The parameter's name in a request (`ttl`).
    pub fn name(self) -> &'static str {
        match self {
            Param::Preview => "preview",
            Param::Ttl => "ttl",
            Param::Comment => "comment",
            Param::Author => "author",
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Hint {
    /// Set `param` to a value like `example`.
    pub fn set(param: Param, example: &str) -> Hint {
        Hint::SetParam {
            param,
            example: Some(example.to_string()),
        }
    }

    /// Turn the switch `param` on.
    pub fn switch_on(param: Param) -> Hint {
        Hint::SetParam {
            param,
            example: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hint_is_tagged_by_what_to_do_and_leaves_defaults_out() {
        let hint = Hint::ReadLogs {
            plugin: "web".into(),
            slot: LogOrigin::Gate,
        };
        assert_eq!(
            serde_json::to_value(&hint).unwrap(),
            serde_json::json!({"do": "read_logs", "plugin": "web", "slot": "gate"})
        );
        let deploy = Hint::Deploy {
            plugin: "web".into(),
            version: None,
            force: false,
        };
        assert_eq!(
            serde_json::to_value(&deploy).unwrap(),
            serde_json::json!({"do": "deploy", "plugin": "web"})
        );
        assert_eq!(
            serde_json::to_value(Hint::set(Param::Ttl, "2h")).unwrap(),
            serde_json::json!({"do": "set_param", "param": "ttl", "example": "2h"})
        );
        assert_eq!(
            serde_json::to_value(Hint::Reload).unwrap(),
            serde_json::json!({"do": "reload"})
        );
    }

    #[test]
    fn hints_read_back_as_written() {
        for hint in [
            Hint::Deploy {
                plugin: "web".into(),
                version: Some("1.2.0".into()),
                force: true,
            },
            Hint::Status { plugin: None },
            Hint::switch_on(Param::Preview),
            Hint::Alerts,
        ] {
            let json = serde_json::to_string(&hint).unwrap();
            assert_eq!(serde_json::from_str::<Hint>(&json).unwrap(), hint, "{json}");
        }
    }

    #[test]
    fn param_names_are_their_wire_names() {
        for p in [Param::Preview, Param::Ttl, Param::Comment, Param::Author] {
            assert_eq!(
                serde_json::to_value(p).unwrap(),
                serde_json::json!(p.name())
            );
        }
    }
}
