//! Proposals: a change waiting for a person's yes, saying exactly what will happen before
//! anything changes. Every face shows them the same way (the dashboard's card, `naap
//! chat`, MCP's pending approvals), whether the operator or a key press made them.

use crate::api::protocol::Call;
use crate::core::engine::PluginStatus;
use serde::Serialize;
use sha2::{Digest, Sha256};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Proposal {
    pub title: String,
    /// What will happen, one fact per line.
    pub lines: Vec<String>,
    /// Names the call in notices.
    pub label: String,
    pub call: Call,
}

impl Proposal {
    /// A proposal for any call, with `lines` saying what it does (the engine's dry run).
    pub fn for_call(call: Call, lines: Vec<String>) -> Proposal {
        let label = label_of(&call);
        Proposal {
            title: format!("{label}?"),
            lines,
            label,
            call,
        }
    }

    /// SHA-256 of the exact call, as it goes on the wire: a proposal is approved by this,
    /// so what runs is what was shown.
    pub fn hash(&self) -> String {
        call_hash(&self.call)
    }

    /// Rolling `plugin` back: to the warm slot when there is one (a weight flip), otherwise
    /// a redeploy of the previous version. `incident` also skips what is left of a rollout.
    pub fn rollback(plugin: &PluginStatus, incident: bool) -> Proposal {
        let live = plugin.slots.iter().max_by_key(|s| s.weight);
        let target = live.and_then(|live| plugin.slots.iter().find(|s| s.slot != live.slot));
        let mut lines = Vec::new();
        // A rollback that already happened is not undone by a second one (the engine
        // answers "already rolled back"); say so rather than promise a flip forward.
        let standing = plugin
            .last_rollout
            .as_ref()
            .filter(|l| plugin.rollout.is_none() && l.outcome == "rolled_back")
            .filter(|l| l.rolled_back_to.is_some() && l.rolled_back_to == plugin.live_version);
        match target {
            _ if standing.is_some() => {
                let version = standing
                    .and_then(|l| l.rolled_back_to.as_deref())
                    .unwrap_or("?");
                lines.push(format!(
                    "already rolled back to v{version}: nothing will change (`:rollback {} --to V` for another version)",
                    plugin.name
                ));
            }
            Some(t) if t.serves() && t.version.is_some() => {
                lines.push(format!(
                    "all traffic to {} v{}, warm: an instant weight flip",
                    t.slot,
                    t.version.as_deref().unwrap_or("?")
                ));
            }
            _ => lines.push(
                "no slot is warm: the previous version is started again, then takes all traffic"
                    .to_string(),
            ),
        }
        if let Some(live) = live.filter(|l| l.weight > 0 && standing.is_none()) {
            lines.push(format!(
                "{} v{} stops taking traffic",
                live.slot,
                live.version.as_deref().unwrap_or("?")
            ));
        }
        if let Some(rollout) = &plugin.rollout {
            lines.push(format!(
                "the running {} rollout to {} ({}) ends here: remaining steps and analysis are skipped",
                rollout.strategy, rollout.to_version, rollout.phase
            ));
        }
        let title = if incident {
            format!("INCIDENT rollback of {}", plugin.name)
        } else {
            format!("Roll back {}?", plugin.name)
        };
        Proposal {
            title,
            lines,
            label: format!("rollback {}", plugin.name),
            call: Call::Rollback(crate::api::protocol::RollbackRequest {
                plugin: plugin.name.clone(),
                ..Default::default()
            }),
        }
    }

    /// Promoting (`promote`) or aborting the running rollout of `plugin`; `None` when no
    /// rollout runs.
    pub fn steer(plugin: &PluginStatus, promote: bool) -> Option<Proposal> {
        let rollout = plugin.rollout.as_ref()?;
        let stable = plugin.slots.iter().find(|s| s.slot != rollout.to_slot);
        let stable_text = stable.map_or_else(
            || "the stable slot".to_string(),
            |s| format!("{} v{}", s.slot, s.version.as_deref().unwrap_or("?")),
        );
        let (title, lines, label, call) = if promote {
            let next = match (rollout.step_index, rollout.steps.is_empty()) {
                (Some(i), false) => rollout
                    .steps
                    .get(i + 1)
                    .map_or("100%".to_string(), |w| format!("{w}%")),
                _ => "the next step".to_string(),
            };
            let mut lines = vec![format!(
                "{} v{} goes on to {next} now, without waiting for the step to end",
                rollout.to_slot, rollout.to_version
            )];
            if let Some(reason) = rollout.paused_reason.as_ref().filter(|_| rollout.paused) {
                lines.push(format!("it is held because: {reason}"));
            }
            (
                format!("Promote the canary of {}?", plugin.name),
                lines,
                format!("promote {}", plugin.name),
                Call::Promote(crate::api::protocol::PromoteRequest {
                    plugin: plugin.name.clone(),
                    full: false,
                }),
            )
        } else {
            (
                format!("Abort the rollout of {}?", plugin.name),
                vec![
                    format!("all traffic back to {stable_text}"),
                    format!(
                        "{} v{} is stopped (its logs stay)",
                        rollout.to_slot, rollout.to_version
                    ),
                ],
                format!("abort {}", plugin.name),
                Call::Abort(crate::api::protocol::PluginRequest {
                    plugin: plugin.name.clone(),
                }),
            )
        };
        Some(Proposal {
            title,
            lines,
            label,
            call,
        })
    }
}

/// SHA-256 (hex) of a call's wire form.
pub fn call_hash(call: &Call) -> String {
    let wire = serde_json::to_vec(call).unwrap_or_default();
    Sha256::digest(&wire)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A call as a person reads it: `rollback checkout to=1.2.0`, `traffic shop blue=90 green=10`.
pub fn label_of(call: &Call) -> String {
    let wire = serde_json::to_value(call).unwrap_or_default();
    let mut words = vec![call.method()];
    if let Some(plugin) = call.plugin() {
        words.push(plugin.to_string());
    }
    if let Some(params) = wire.get("params").and_then(|p| p.as_object()) {
        for (key, value) in params {
            match (key.as_str(), value) {
                ("plugin", _)
                | (_, serde_json::Value::Null)
                | (_, serde_json::Value::Bool(false)) => {}
                (_, serde_json::Value::Bool(true)) => words.push(key.clone()),
                ("weights", serde_json::Value::Object(weights)) => {
                    words.extend(weights.iter().map(|(slot, w)| format!("{slot}={w}")));
                }
                // A candidate's id says itself: `candidate_accept k3x9q2`.
                ("id", serde_json::Value::String(id)) => words.push(id.clone()),
                (_, serde_json::Value::String(text)) => words.push(format!("{key}={text}")),
                (_, other) => words.push(format!("{key}={other}")),
            }
        }
    }
    words.join(" ")
}
