//! Confirmations that say exactly what will happen before anything changes.

use crate::api::protocol::Call;
use crate::core::engine::PluginStatus;

#[derive(Clone, Debug, PartialEq)]
pub struct Confirmation {
    pub title: String,
    /// What will happen, one fact per line.
    pub lines: Vec<String>,
    /// Names the call in notices.
    pub label: String,
    pub call: Call,
}

impl Confirmation {
    /// Rolling `plugin` back: to the warm slot when there is one (a weight flip), otherwise
    /// a redeploy of the previous version. `incident` also skips what is left of a rollout.
    pub fn rollback(plugin: &PluginStatus, incident: bool) -> Confirmation {
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
        Confirmation {
            title,
            lines,
            label: format!("rollback {}", plugin.name),
            call: Call::Rollback {
                plugin: plugin.name.clone(),
                to: None,
            },
        }
    }

    /// Promoting (`promote`) or aborting the running rollout of `plugin`; `None` when no
    /// rollout runs.
    pub fn steer(plugin: &PluginStatus, promote: bool) -> Option<Confirmation> {
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
                Call::Promote {
                    plugin: plugin.name.clone(),
                    full: false,
                },
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
                Call::Abort {
                    plugin: plugin.name.clone(),
                },
            )
        };
        Some(Confirmation {
            title,
            lines,
            label,
            call,
        })
    }
}

#[cfg(test)]
mod rollback_tests {
    use super::*;
    use crate::core::engine::LastRollout;

    #[test]
    fn a_rollback_after_a_rollback_promises_no_flip_forward() {
        let mut report = super::super::tests::report();
        let shop = &mut report.plugins[0];
        // shop serves 1.0.0 on blue because 2.0.0 (warm on green) was rolled back.
        shop.last_rollout = Some(LastRollout {
            id: 3,
            version: "2.0.0".into(),
            from_version: Some("1.0.0".into()),
            outcome: "rolled_back".into(),
            automatic: true,
            reason: Some("error rate 30.0 % > 5.0 %".into()),
            rolled_back_to: Some("1.0.0".into()),
            at: super::super::tests::now(),
            summary: String::new(),
        });
        let confirm = Confirmation::rollback(shop, false);
        assert_eq!(confirm.lines.len(), 1, "{:?}", confirm.lines);
        assert!(
            confirm.lines[0].starts_with("already rolled back to v1.0.0: nothing will change"),
            "{:?}",
            confirm.lines
        );
        // Without that history the same slots mean an instant flip to green.
        shop.last_rollout = None;
        let confirm = Confirmation::rollback(shop, false);
        assert!(confirm.lines[0].contains("all traffic to green v2.0.0"));
    }
}
