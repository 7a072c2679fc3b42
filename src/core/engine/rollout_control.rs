//! `naap promote | pause | resume | abort`: a person steering a running canary rollout.
//! Each changes the stored controller first, then wakes the rollout's loop, which acts.

use super::canary::no_rollout;
use super::report::ActionOutcome;
use super::{Engine, EngineError};
use crate::core::event_kind::EventKind;
use crate::core::hint::Hint;
use crate::core::rollout::{Directive, Next, RolloutEnd};
use crate::core::types::{Face, SlotName};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// What a person asks of a running canary rollout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutCommand {
    /// Go on: release a hold or end the current step now; with `full`, straight to 100 %.
    Promote { full: bool },
    /// Hold: the step timer freezes.
    Pause,
    /// Continue a paused rollout.
    Resume,
    /// All traffic back to the stable slot; the canary slot is stopped.
    Abort,
}

impl RolloutCommand {
    pub fn action(self) -> &'static str {
        match self {
            RolloutCommand::Promote { .. } => "promote",
            RolloutCommand::Pause => "pause",
            RolloutCommand::Resume => "resume",
            RolloutCommand::Abort => "abort",
        }
    }
}

impl Engine {
    /// Steers the running canary rollout of `plugin`; audited like every action.
    pub async fn control_rollout(
        &self,
        plugin: &str,
        command: RolloutCommand,
        face: Face,
    ) -> Result<ActionOutcome, EngineError> {
        let args = serde_json::json!({"plugin": plugin, "command": command});
        let mut result = self.control_rollout_inner(plugin, command, face);
        if let Ok(outcome) = &mut result {
            self.await_planned_weights(plugin, outcome).await;
        }
        self.audit(face, command.action(), Some(plugin), args, &result, |o| {
            o.summary.clone()
        });
        result
    }

    fn control_rollout_inner(
        &self,
        plugin: &str,
        command: RolloutCommand,
        face: Face,
    ) -> Result<ActionOutcome, EngineError> {
        let started = Instant::now();
        self.require_plugin(plugin)?;
        self.require_enabled(plugin)?;
        let by = face.to_string();
        let (target, version, wake) = {
            let plugins = self.lock_plugins();
            let state = plugins.get(plugin);
            let Some(rollout) = state.and_then(|s| s.rollout.as_ref()) else {
                return Err(no_rollout(plugin));
            };
            if state.is_none_or(|s| s.canary.is_none()) {
                return Err(EngineError::rejected(
                    plugin,
                    format!(
                        "the running rollout of {plugin} is {} ({}); only a canary takes {}. A rollback cancels it",
                        rollout.strategy,
                        rollout.phase,
                        command.action()
                    ),
                )
                .hint(Hint::Rollback {
                    plugin: plugin.to_string(),
                }));
            }
            (
                rollout.to_slot,
                rollout.to_version.clone(),
                state.map(|s| s.canary_wake.clone()),
            )
        };
        let d: Directive = self.update_canary(plugin, |c, now| match command {
            RolloutCommand::Promote { full } => c.promote(now, full, &by),
            RolloutCommand::Pause => c.pause(now, &by),
            RolloutCommand::Resume => c.resume(now),
            RolloutCommand::Abort => c.abort(&by),
        })?;
        if command == RolloutCommand::Abort {
            // Traffic goes back now; the loop stops the canary slot after.
            self.send_back_to_stable(plugin, target)?;
        }
        if let Some(wake) = wake {
            wake.notify_one();
        }
        // The rollout's loop applies the new weights after this wake-up; the answer carries
        // the weights the directive asks for, and `await_planned_weights` waits for them.
        let planned = match (&d.next, command) {
            (Next::RollBack { .. }, _) | (_, RolloutCommand::Abort) => self.weights(plugin),
            (Next::FinishPromoted, _) => split(target, 100),
            _ => split(target, d.canary_weight),
        };
        let summary = match (&d.next, command) {
            (Next::RollBack { .. }, _) => format!(
                "aborted the canary of {plugin} {version}: all traffic back to {}; {target} stops",
                target.other()
            ),
            (Next::FinishPromoted, _) => {
                format!("promoted {plugin} {version}: all traffic to {target}")
            }
            (Next::WaitForHuman { reason }, _) => {
                format!("{plugin} {version} holds at {}%: {reason}", d.canary_weight)
            }
            (_, RolloutCommand::Resume) => format!(
                "resumed the canary of {plugin} {version} at {}%",
                d.canary_weight
            ),
            _ => format!(
                "the canary of {plugin} {version} goes on at {}%",
                d.canary_weight
            ),
        };
        self.record(
            Some(plugin),
            Some(target),
            past_tense(command),
            format!("{summary} (by {by})"),
            serde_json::json!({"command": command, "weight": d.canary_weight, "by": by}),
        );
        Ok(ActionOutcome {
            plugin: plugin.to_string(),
            summary,
            kind: command.action().to_string(),
            slot: Some(target),
            version: Some(version),
            weights: planned,
            elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
            gates: Vec::new(),
            hints: Vec::new(),
        })
    }

    /// Waits (briefly) until the router serves the weights `outcome` announces, so the
    /// answer never shows the step before; on a deadline it shows what is live instead.
    async fn await_planned_weights(&self, plugin: &str, outcome: &mut ActionOutcome) {
        let deadline = Instant::now() + PLANNED_WEIGHTS_WAIT;
        loop {
            let live = self.weights(plugin);
            if live == outcome.weights || Instant::now() >= deadline {
                outcome.weights = live;
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// How the running canary of `plugin` ended, if it did.
    pub(crate) fn canary_end(&self, plugin: &str) -> Option<RolloutEnd> {
        self.lock_plugins()
            .get(plugin)
            .and_then(|s| s.canary.as_ref())
            .and_then(|c| c.end().cloned())
    }
}

/// How long a steering command waits for the rollout's loop to apply its weights.
const PLANNED_WEIGHTS_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Weights in `SlotName::ALL` order (as `Engine::weights` gives them): `canary` gets
/// `weight`, its stable partner the rest.
fn split(canary: SlotName, weight: u32) -> Vec<(SlotName, u32)> {
    SlotName::ALL
        .iter()
        .map(|s| {
            let w = if *s == canary {
                weight
            } else if *s == canary.other() {
                100 - weight.min(100)
            } else {
                0
            };
            (*s, w)
        })
        .collect()
}

/// The event a person's rollout command records.
fn past_tense(command: RolloutCommand) -> EventKind {
    match command {
        RolloutCommand::Promote { .. } => EventKind::RolloutPromoted,
        RolloutCommand::Pause => EventKind::RolloutPaused,
        RolloutCommand::Resume => EventKind::RolloutResumed,
        RolloutCommand::Abort => EventKind::RolloutAborted,
    }
}
