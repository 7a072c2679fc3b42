//! What a runbook's checks ask of the engine: is the plugin's live slot healthy, does a
//! condition hold on it, and the record of each run and step.

use super::{Engine, EngineError};
use crate::core::alerts::{PluginSample, SlotRole};
use crate::core::event_kind::EventKind;
use crate::core::store::RunbookRunRecord;
use crate::core::types::Face;
use chrono::Utc;
use std::time::Duration;
use tokio::time::Instant;

/// How often a check looks again.
const POLL: Duration = Duration::from_millis(250);

impl Engine {
    /// Waits until the plugin's live slot is running and healthy.
    pub async fn wait_healthy(&self, plugin: &str, timeout: Duration) -> Result<String, String> {
        self.require_plugin(plugin).map_err(|e| e.to_string())?;
        let deadline = Instant::now() + timeout;
        loop {
            let state = {
                let plugins = self.lock_plugins();
                plugins.get(plugin).and_then(|p| {
                    let live = p.live_slot()?;
                    let slot = p.slot(live)?;
                    Some((live, slot.version.clone(), slot.is_serving()))
                })
            };
            if let Some((slot, version, true)) = &state {
                return Ok(format!(
                    "{plugin} {slot} {} is healthy",
                    version.as_deref().unwrap_or("?")
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{plugin} was not healthy within {}",
                    humantime::format_duration(timeout)
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Whether `condition` (an alert rule, its `for` ignored) holds now on every slot
    /// that serves the plugin (the live one and a canary), with the numbers seen. A check
    /// is about what serves: an idle slot's error rate is zero for want of requests, and
    /// one good slot must not vouch for a bad canary.
    pub fn condition_holds(&self, plugin: &str, condition: &str) -> Result<(bool, String), String> {
        self.require_plugin(plugin).map_err(|e| e.to_string())?;
        let rule = crate::core::alerts::parse(condition).map_err(|e| e.to_string())?;
        let sample = {
            let plugins = self.lock_plugins();
            self.sample_of(&plugins, plugin)
        };
        let now = Utc::now();
        let serving: Vec<_> = sample
            .slots
            .iter()
            .filter(|s| s.has_process && matches!(s.role, SlotRole::Live | SlotRole::Canary))
            .collect();
        if serving.is_empty() {
            return Ok((false, format!("{plugin} has no slot serving")));
        }
        let mut holds = true;
        let mut seen = Vec::new();
        for slot in serving {
            let one = PluginSample {
                slots: vec![slot.clone()],
                restart_times: sample.restart_times.clone(),
            };
            holds &= rule.holds(&one, now);
            seen.push(format!("{}: {}", slot.slot, rule.summary(&one, now)));
        }
        Ok((holds, seen.join("; ")))
    }

    /// Expects `condition` to hold on the live slot for its whole `for` (at once when it
    /// has none): the first moment it does not fails the check.
    pub async fn expect(
        &self,
        plugin: &str,
        condition: &str,
        timeout: Duration,
    ) -> Result<String, String> {
        let rule = crate::core::alerts::parse(condition).map_err(|e| e.to_string())?;
        if rule.hold_for() > timeout {
            return Err(format!(
                "`{condition}` must hold longer than the step's timeout ({}); raise the timeout",
                humantime::format_duration(timeout)
            ));
        }
        let started = Instant::now();
        loop {
            let (holds, seen) = self.condition_holds(plugin, condition)?;
            if !holds {
                return Err(format!(
                    "`{condition}` did not hold after {:.1} s: {seen}",
                    started.elapsed().as_secs_f64()
                ));
            }
            if started.elapsed() >= rule.hold_for() {
                return Ok(format!("`{condition}` held: {seen}"));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Records the start of a run; its id.
    pub fn runbook_started(&self, runbook: &str, face: Face) -> Result<i64, EngineError> {
        let id = self.store().start_runbook_run(runbook, face)?;
        self.record(
            None,
            None,
            EventKind::RunbookStarted,
            format!("runbook {runbook} started (run {id}) by {face}"),
            serde_json::json!({"run": id, "runbook": runbook}),
        );
        Ok(id)
    }

    /// Records one step's outcome (phase `run` or `compensate`).
    pub fn runbook_step(&self, run: i64, step: &str, phase: &str, outcome: &str, detail: &str) {
        if let Err(e) = self
            .store()
            .add_runbook_step(run, step, phase, outcome, detail)
        {
            tracing::error!("runbook run {run}: could not record step {step}: {e}");
        }
        // As it happens, so the dashboard's events show the run step by step.
        let what = if phase == "compensate" { "undo " } else { "" };
        self.record(
            None,
            None,
            EventKind::RunbookStep,
            format!("runbook run {run}: {what}{step} {outcome}: {detail}"),
            serde_json::json!({"run": run, "step": step, "phase": phase, "outcome": outcome}),
        );
    }

    /// Records how a run ended.
    pub fn runbook_finished(&self, run: i64, runbook: &str, outcome: &str, summary: &str) {
        if let Err(e) = self.store().finish_runbook_run(run, outcome, summary) {
            tracing::error!("runbook run {run}: could not record its end: {e}");
        }
        self.record(
            None,
            None,
            EventKind::RunbookFinished,
            format!("runbook {runbook} {outcome} (run {run}): {summary}"),
            serde_json::json!({"run": run, "runbook": runbook, "outcome": outcome}),
        );
    }

    /// Runs newest first, of one runbook or all.
    pub fn runbook_runs(
        &self,
        runbook: Option<&str>,
    ) -> Result<Vec<RunbookRunRecord>, EngineError> {
        Ok(self.store().runbook_runs(runbook, 50)?)
    }
}
