//! Runs a canary rollout: the pure `RolloutController` decides, this loop acts (weights,
//! judgements, waits) and persists the controller before every action, so a restarted
//! engine can carry on from the stored step (see `reconcile`).

use super::gates::cancelled;
use super::report::RolloutStatus;
use super::{Engine, EngineError};
use crate::core::event_kind::EventKind;
use crate::core::hint::Hint;
use crate::core::rollout::{Next, Refusal, RolloutController, RolloutEnd, StepJudgement};
use crate::core::types::{Health, ProcessState, SlotName};
use chrono::{DateTime, Utc};
use std::time::Duration;
use tokio::sync::watch;

/// How often a waiting step looks at the canary's process and health. In-memory, so cheap.
const CANARY_POLL: Duration = Duration::from_millis(100);

impl Engine {
    /// Walks the controller's directives until the rollout is promoted (Ok) or sent back
    /// (`EngineError::RolledBack`); a rollback elsewhere cancels it through `cancel`.
    pub(crate) async fn run_canary(
        &self,
        plugin: &str,
        version: &str,
        target: SlotName,
        rollout_id: i64,
        cancel: &mut watch::Receiver<bool>,
    ) -> Result<String, EngineError> {
        let wake = self
            .lock_plugins()
            .entry(plugin.to_string())
            .or_default()
            .canary_wake
            .clone();
        let keep_warm = self.keep_previous_warm(plugin);
        let mut held_for: Option<String> = None;
        loop {
            let d = self.update_canary(plugin, |c, now| Ok(c.tick(now)))?;
            let applied = self.slot_weight(plugin, target);
            let finishing = matches!(d.next, Next::RollBack { .. });
            if applied != d.canary_weight && !finishing {
                self.apply_canary_weight(
                    plugin,
                    version,
                    target,
                    rollout_id,
                    d.canary_weight,
                    keep_warm,
                )?;
            }
            match d.next {
                Next::Judge {
                    step_index,
                    step_started,
                } => {
                    self.judge_and_record(
                        plugin,
                        rollout_id,
                        step_index,
                        target,
                        step_started,
                        d.canary_weight,
                    )
                    .await?;
                }
                Next::WaitUntil(until) => {
                    held_for = None;
                    self.set_phase_text(plugin, &self.canary_phase(plugin));
                    // `[analysis] warmup_load` feeds both slots while the step runs, so a
                    // canary without users can still be judged; dropping it stops the load.
                    let _warmup = self.start_warmup(plugin, &[target, target.other()]);
                    self.canary_wait(plugin, target, Some(until), &wake, cancel)
                        .await?;
                }
                Next::WaitForHuman { reason } => {
                    if held_for.as_deref() != Some(reason.as_str()) {
                        self.record(
                            Some(plugin),
                            Some(target),
                            EventKind::RolloutHeld,
                            format!("canary of {plugin} {version} is held: {reason}; promoting goes on, aborting goes back"),
                            serde_json::json!({"rollout": rollout_id, "reason": reason}),
                        );
                        held_for = Some(reason);
                    }
                    self.set_phase_text(plugin, &self.canary_phase(plugin));
                    self.canary_wait(plugin, target, None, &wake, cancel)
                        .await?;
                }
                Next::FinishPromoted => {
                    let steps = self
                        .lock_plugins()
                        .get(plugin)
                        .and_then(|s| s.canary.as_ref())
                        .map_or(0, |c| c.plan().steps.len());
                    if keep_warm.is_zero() {
                        self.stop_slot_in_background(
                            plugin,
                            target.other(),
                            "keep_previous_warm is 0",
                        );
                    }
                    return Ok(format!(
                        "{plugin} {version} is live on {target} (canary, {steps} steps); {}",
                        self.warm_note_for(plugin, target.other())
                    ));
                }
                Next::RollBack { reason } => {
                    self.send_back_to_stable(plugin, target)?;
                    self.stop_slot_in_background(
                        plugin,
                        target,
                        &format!("canary ended: {reason}"),
                    );
                    let state = match self
                        .lock_plugins()
                        .get(plugin)
                        .and_then(|s| s.canary.as_ref())
                        .and_then(|c| c.end().cloned())
                    {
                        Some(RolloutEnd::Aborted { .. }) => "aborted",
                        _ => "rolled_back",
                    };
                    return Err(EngineError::RolledBack {
                        plugin: plugin.to_string(),
                        state,
                        reason,
                    });
                }
            }
        }
    }

    /// Applies a controller change under the state lock and stores it before anyone acts
    /// on it. Fails when no canary of `plugin` runs.
    pub(crate) fn update_canary<T>(
        &self,
        plugin: &str,
        change: impl FnOnce(&mut RolloutController, DateTime<Utc>) -> Result<T, Refusal>,
    ) -> Result<T, EngineError> {
        let mut plugins = self.lock_plugins();
        let state = plugins.get_mut(plugin);
        let (Some(rollout_id), Some(mut controller)) = (
            state
                .as_ref()
                .and_then(|s| s.rollout.as_ref())
                .map(|r| r.id),
            state.as_ref().and_then(|s| s.canary.clone()),
        ) else {
            return Err(no_rollout(plugin));
        };
        let out =
            change(&mut controller, Utc::now()).map_err(|refusal| refused(plugin, &refusal))?;
        let json = serde_json::to_string(&controller).map_err(|e| {
            EngineError::rejected(plugin, format!("cannot serialise the rollout state: {e}"))
        })?;
        self.store().save_rollout_controller(rollout_id, &json)?;
        if let Some(state) = plugins.get_mut(plugin) {
            state.canary = Some(controller);
        }
        Ok(out)
    }

    async fn judge_and_record(
        &self,
        plugin: &str,
        rollout_id: i64,
        step_index: usize,
        target: SlotName,
        step_started: DateTime<Utc>,
        weight: u32,
    ) -> Result<(), EngineError> {
        self.set_phase_text(plugin, &format!("judging step {}", step_index + 1));
        let judgement: StepJudgement = self
            .judge_canary_step(
                plugin,
                rollout_id,
                step_index,
                target,
                target.other(),
                step_started,
            )
            .await;
        // Stored before the controller acts on it.
        self.store()
            .append_step_judgement(rollout_id, step_index, weight, &judgement)?;
        if let Some(rollout) = self
            .lock_plugins()
            .get_mut(plugin)
            .and_then(|s| s.rollout.as_mut())
        {
            rollout
                .judgements
                .push(crate::core::store::StepJudgementRecord {
                    rollout_id,
                    step_index,
                    weight,
                    outcome: judgement.outcome.as_str().to_string(),
                    summary: judgement.summary.clone(),
                    detail: judgement.detail.clone(),
                    judged_at: Utc::now(),
                });
        }
        self.record(
            Some(plugin),
            Some(target),
            EventKind::CanaryJudged,
            format!(
                "canary step {} at {weight}%: {} ({})",
                step_index + 1,
                judgement.outcome,
                judgement.summary
            ),
            serde_json::json!({"rollout": rollout_id, "step": step_index, "weight": weight, "outcome": judgement.outcome, "summary": judgement.summary, "detail": judgement.detail}),
        );
        self.update_canary(plugin, |c, now| {
            Ok(c.step_judged(step_index, &judgement, now))
        })?;
        Ok(())
    }

    fn apply_canary_weight(
        &self,
        plugin: &str,
        version: &str,
        target: SlotName,
        rollout_id: i64,
        weight: u32,
        keep_warm: Duration,
    ) -> Result<(), EngineError> {
        self.apply_weights(
            plugin,
            &[(target, weight), (target.other(), 100 - weight.min(100))],
            Some(keep_warm),
        )?;
        let (index, total) = self
            .lock_plugins()
            .get(plugin)
            .and_then(|s| s.canary.as_ref())
            .map_or((0, 0), |c| (c.step_index(), c.plan().steps.len()));
        self.record(
            Some(plugin),
            Some(target),
            EventKind::CanaryStep,
            format!(
                "canary step {}/{total}: {weight}% to {target} {version}",
                index + 1
            ),
            serde_json::json!({"rollout": rollout_id, "step": weight, "step_index": index}),
        );
        Ok(())
    }

    /// Waits for the step's end (or for ever when `until` is None) unless a person acts,
    /// a rollback cancels, or the canary stops serving (then the rollout rolls back).
    async fn canary_wait(
        &self,
        plugin: &str,
        target: SlotName,
        until: Option<DateTime<Utc>>,
        wake: &tokio::sync::Notify,
        cancel: &mut watch::Receiver<bool>,
    ) -> Result<(), EngineError> {
        let deadline = until.map(|t| {
            let left = (t - Utc::now()).to_std().unwrap_or(Duration::ZERO);
            tokio::time::Instant::now() + left
        });
        loop {
            if let Some(why) = self.canary_broken(plugin, target) {
                self.update_canary(plugin, |c, _| Ok(c.settle_rolled_back(&why)))?;
                return Ok(());
            }
            tokio::select! {
                _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => return Ok(()),
                _ = wake.notified() => return Ok(()),
                _ = tokio::time::sleep(CANARY_POLL) => {}
                _ = cancelled(cancel) => return Err(EngineError::Cancelled { plugin: plugin.to_string(), by: "a rollback".to_string() }),
            }
        }
    }

    /// Why the canary cannot go on: its process is gone or its health checks fail. An
    /// adopted slot whose first check is still pending (health unknown) is not broken.
    fn canary_broken(&self, plugin: &str, target: SlotName) -> Option<String> {
        let plugins = self.lock_plugins();
        let slot = plugins.get(plugin).and_then(|p| p.slot(target))?;
        let running = slot.process_state.0 == ProcessState::Running;
        if running && slot.health.0 != Health::Unhealthy {
            return None;
        }
        Some(format!(
            "the canary on {target} stopped serving mid-step ({}, {}: {})",
            slot.process_state.0, slot.health.0, slot.health_detail
        ))
    }

    /// All traffic to the stable slot, when it can take it.
    pub(crate) fn send_back_to_stable(
        &self,
        plugin: &str,
        target: SlotName,
    ) -> Result<(), EngineError> {
        let stable = target.other();
        if self.slot_weight(plugin, target) == 0 && self.slot_weight(plugin, stable) == 100 {
            return Ok(());
        }
        self.apply_weights(plugin, &[(stable, 100), (target, 0)], None)
    }

    fn slot_weight(&self, plugin: &str, slot: SlotName) -> u32 {
        self.lock_plugins()
            .get(plugin)
            .and_then(|p| p.slot(slot))
            .map_or(0, |s| s.weight)
    }

    fn canary_phase(&self, plugin: &str) -> String {
        let plugins = self.lock_plugins();
        let Some(c) = plugins.get(plugin).and_then(|s| s.canary.as_ref()) else {
            return String::new();
        };
        let mut r = RolloutStatus::started(
            0,
            crate::core::types::StrategyKind::Canary,
            SlotName::Blue,
            String::new(),
            "",
        );
        describe_canary(&mut r, c);
        r.phase
    }

    fn set_phase_text(&self, plugin: &str, phase: &str) {
        if let Some(rollout) = self
            .lock_plugins()
            .get_mut(plugin)
            .and_then(|s| s.rollout.as_mut())
        {
            rollout.phase = phase.to_string();
        }
    }

    fn keep_previous_warm(&self, plugin: &str) -> Duration {
        self.workspace()
            .plugin(plugin)
            .map(|m| m.rollback.keep_previous_warm)
            .unwrap_or_default()
    }
}

/// The refusal every rollout command gives when nothing runs.
pub(crate) fn no_rollout(plugin: &str) -> EngineError {
    EngineError::rejected(
        plugin,
        format!("no rollout of {plugin} is running; a deploy starts one"),
    )
    .hint(Hint::Deploy {
        plugin: plugin.to_string(),
        version: None,
        force: false,
    })
}

/// A controller's refusal, with what does apply where the rollout stands.
fn refused(plugin: &str, refusal: &Refusal) -> EngineError {
    let error = EngineError::rejected(plugin, refusal.to_string());
    let plugin = plugin.to_string();
    match refusal {
        Refusal::AlreadyPaused(_) => error.hint(Hint::Resume { plugin }),
        Refusal::NotPaused => error.hint(Hint::Pause { plugin }),
        Refusal::HeldForDecision(_) => error.hint(Hint::PromoteOrAbort { plugin }),
        Refusal::Finished(_) | Refusal::Judging(_) => error,
    }
}

/// Copies the controller's facts into the status every face shows.
pub(crate) fn describe_canary(r: &mut RolloutStatus, c: &RolloutController) {
    let steps = &c.plan().steps;
    let index = c.step_index();
    let weight = c.canary_weight();
    r.step_index = Some(index);
    r.steps = steps.clone();
    r.weight = Some(weight);
    r.paused_reason = c.held_reason();
    r.paused = r.paused_reason.is_some();
    r.next_step_at = c.next_step_at();
    let step = format!("step {}/{}: {weight}%", index + 1, steps.len());
    r.phase = match (&r.paused_reason, c.stage()) {
        (Some(why), _) => format!("{step}, held ({why})"),
        (None, crate::core::rollout::Stage::Judging) => format!("{step}, judging"),
        (None, _) => step,
    };
}
