//! A canary rollout the previous engine left running: resume it from its stored step when
//! both slots were adopted alive and the router applies the weights the stored step wants;
//! otherwise roll it back to the stable slot. Either way the decision is recorded.

use super::report::RolloutStatus;
use super::{Engine, EngineError};
use crate::core::event_kind::EventKind;
use crate::core::rollout::{RolloutController, RolloutEnd};
use crate::core::store::RolloutRecord;
use crate::core::types::{Face, ProcessState, SlotName, StrategyKind};
use std::collections::BTreeSet;

impl Engine {
    /// Resolves one unfinished rollout after the slots were reconciled; says what it did.
    pub(crate) async fn recover_rollout(
        &self,
        rollout: RolloutRecord,
        adopted: &BTreeSet<(String, SlotName)>,
    ) -> String {
        let controller = match (rollout.strategy, rollout.to_slot) {
            (StrategyKind::Canary, Some(_)) => self
                .store()
                .rollout_controller(rollout.id)
                .ok()
                .flatten()
                .and_then(|json| serde_json::from_str::<RolloutController>(&json).ok()),
            _ => None,
        };
        let (Some(controller), Some(target)) = (controller, rollout.to_slot) else {
            return self.abandon_rollout(&rollout);
        };
        match self.resume_verdict(&rollout.plugin, target, &controller, adopted) {
            Ok(why) => {
                let message = format!(
                    "resuming canary rollout {} of {} {} at step {}/{} ({}%): {why}",
                    rollout.id,
                    rollout.plugin,
                    rollout.to_version,
                    controller.step_index() + 1,
                    controller.plan().steps.len(),
                    controller.canary_weight()
                );
                self.record(
                    Some(&rollout.plugin),
                    Some(target),
                    EventKind::RolloutResumedAfterRestart,
                    message.clone(),
                    serde_json::json!({"rollout": rollout.id, "decision": "resume", "step_index": controller.step_index(), "why": why}),
                );
                // The resumed canary is this engine's own request: audited when it resumes,
                // completed when the rollout ends.
                let ticket = self.audit_accept(
                    Face::Engine,
                    "deploy",
                    Some(&rollout.plugin),
                    serde_json::json!({"plugin": rollout.plugin, "version": rollout.to_version, "rollout": rollout.id, "resumed_after_restart": true}),
                );
                let engine = self.clone();
                tokio::spawn(async move {
                    let result = engine.resume_canary(rollout, controller).await;
                    engine.audit_finish(ticket, &result, String::clone);
                });
                message
            }
            Err(why) => self.roll_back_after_restart(&rollout, target, &why).await,
        }
    }

    /// Why resuming is safe, or why not.
    fn resume_verdict(
        &self,
        plugin: &str,
        target: SlotName,
        controller: &RolloutController,
        adopted: &BTreeSet<(String, SlotName)>,
    ) -> Result<String, String> {
        if let Some(end) = controller.end() {
            return Err(match end {
                RolloutEnd::Promoted { .. } => {
                    "the stored rollout had just been promoted; its final weights cannot be trusted"
                        .to_string()
                }
                RolloutEnd::Aborted { by } => format!("it had been aborted by {by}"),
                RolloutEnd::RolledBack { reason } => format!("it was being rolled back: {reason}"),
            });
        }
        let plugins = self.lock_plugins();
        let state = plugins.get(plugin);
        let slot = |s: SlotName| state.and_then(|p| p.slot(s));
        let survived = |s: SlotName| {
            adopted.contains(&(plugin.to_string(), s))
                && slot(s).is_some_and(|x| {
                    x.process_state.0 == ProcessState::Running && x.handle.is_some()
                })
        };
        if !survived(target) {
            return Err(format!(
                "the canary process on {target} did not survive the restart"
            ));
        }
        if !survived(target.other()) {
            return Err(format!(
                "the stable process on {} did not survive the restart",
                target.other()
            ));
        }
        let want = controller.canary_weight();
        let (canary_w, stable_w) = (
            slot(target).map_or(0, |s| s.weight),
            slot(target.other()).map_or(0, |s| s.weight),
        );
        if canary_w != want || stable_w != 100 - want {
            return Err(format!(
                "the router applies {target} {canary_w}% / {} {stable_w}%, not the stored step's {want}%",
                target.other()
            ));
        }
        Ok(format!(
            "both slots were adopted alive and the router applies the stored {want}%"
        ))
    }

    async fn resume_canary(
        &self,
        rollout: RolloutRecord,
        controller: RolloutController,
    ) -> Result<String, EngineError> {
        let plugin = rollout.plugin.clone();
        let Some(target) = rollout.to_slot else {
            return Err(EngineError::rejected(
                &plugin,
                "the rollout has no target slot",
            ));
        };
        let op = self.op_lock(&plugin);
        let _guard = op.lock().await;
        let (cancel_tx, mut cancel) = tokio::sync::watch::channel(false);
        let judgements = self.store().step_judgements(rollout.id).unwrap_or_default();
        {
            let mut plugins = self.lock_plugins();
            let state = plugins.entry(plugin.clone()).or_default();
            state.cancel = Some(cancel_tx);
            let mut status = RolloutStatus::started(
                rollout.id,
                rollout.strategy,
                target,
                rollout.to_version.clone(),
                "resuming",
            );
            status.started_at = rollout.started_at;
            status.judgements = judgements;
            state.rollout = Some(status);
            state.canary = Some(controller);
        }
        let result = self
            .run_canary(
                &plugin,
                &rollout.to_version,
                target,
                rollout.id,
                &mut cancel,
            )
            .await;
        let (state_text, detail) = match &result {
            Ok(summary) => ("succeeded", summary.clone()),
            Err(EngineError::RolledBack { state, reason, .. }) => (*state, reason.clone()),
            Err(EngineError::Cancelled { .. }) => match self.canary_end(&plugin) {
                Some(RolloutEnd::RolledBack { reason }) => ("rolled_back", reason),
                _ => ("aborted", "cancelled by a rollback".to_string()),
            },
            Err(e) => ("failed", e.to_string()),
        };
        {
            let mut plugins = self.lock_plugins();
            if let Some(state) = plugins.get_mut(&plugin) {
                state.cancel = None;
                state.rollout = None;
                state.canary = None;
            }
        }
        if let Err(e) = self.store().finish_rollout(rollout.id, state_text, &detail) {
            tracing::error!("could not finish rollout {}: {e}", rollout.id);
        }
        let kind = if result.is_ok() {
            let _ = self.store().mark_deployed(&plugin, &rollout.to_version);
            EventKind::DeploySucceeded
        } else {
            EventKind::DeployFailed
        };
        self.record(
            Some(&plugin),
            Some(target),
            kind,
            match &result {
                Ok(summary) => summary.clone(),
                Err(e) => e.to_string(),
            },
            serde_json::json!({"rollout": rollout.id, "version": rollout.to_version, "resumed": true}),
        );
        result
    }

    async fn roll_back_after_restart(
        &self,
        rollout: &RolloutRecord,
        target: SlotName,
        why: &str,
    ) -> String {
        let plugin = rollout.plugin.as_str();
        let stable = target.other();
        let stable_runs = self.slot_is(plugin, stable, |s| {
            s.handle.is_some()
                && matches!(
                    s.process_state.0,
                    ProcessState::Running | ProcessState::Starting
                )
        });
        let detail = if stable_runs {
            if let Err(e) = self.apply_weights(plugin, &[(stable, 100), (target, 0)], None) {
                tracing::error!("could not roll {plugin} back to {stable}: {e}");
            }
            self.stop_slot(plugin, target, "canary rolled back after an engine restart")
                .await;
            format!("the engine restarted mid-canary and {why}; all traffic went back to {stable}")
        } else {
            format!(
                "the engine restarted mid-canary and {why}; {stable} does not run either, so the weights were kept as stored"
            )
        };
        let _ = self
            .store()
            .finish_rollout(rollout.id, "rolled_back", &detail);
        self.record(
            Some(plugin),
            Some(target),
            EventKind::RolloutRolledBackAfterRestart,
            format!(
                "rollout {} of {plugin} {}: {detail}",
                rollout.id, rollout.to_version
            ),
            serde_json::json!({"rollout": rollout.id, "decision": "roll_back", "why": why}),
        );
        // The engine acted on its own: that is audited like any face's rollback.
        let result: Result<(), EngineError> = Ok(());
        self.audit(
            Face::Engine,
            "rollback",
            Some(plugin),
            serde_json::json!({"plugin": plugin, "rollout": rollout.id, "after_restart": true}),
            &result,
            |_| {
                format!(
                    "rolled back rollout {} after an engine restart: {detail}",
                    rollout.id
                )
            },
        );
        format!("rolled back rollout {}: {detail}", rollout.id)
    }

    /// Non-canary rollouts cannot be resumed: they are recorded aborted, weights kept.
    fn abandon_rollout(&self, rollout: &RolloutRecord) -> String {
        let detail = "the engine stopped mid-rollout; weights were kept as last stored";
        let _ = self.store().finish_rollout(rollout.id, "aborted", detail);
        self.record(
            Some(&rollout.plugin),
            rollout.to_slot,
            EventKind::RolloutAborted,
            format!(
                "rollout {} of {} {} aborted: {detail}",
                rollout.id, rollout.plugin, rollout.to_version
            ),
            serde_json::json!({"rollout": rollout.id}),
        );
        format!("aborted rollout {}: {detail}", rollout.id)
    }
}
