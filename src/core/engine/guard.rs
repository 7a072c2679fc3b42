//! The automatic rollback guard: the newer version of a plugin, while it takes traffic and
//! an older version still serves beside it, is checked several times a second against the
//! manifest's `[rollback]` thresholds on its own metrics window. A breach rolls back through
//! the same path as `naap rollback`, as face `engine`, and records why.

use super::Engine;
use super::traffic::RollbackRequest;
use crate::core::event_kind::EventKind;
use crate::core::metrics::WINDOW_SECS;
use crate::core::types::{Face, Health, ProcessState, SlotName};
use crate::core::workspace::RollbackSpec;

/// Fewer requests than this in the window cannot show an error rate or a p99 worth acting
/// on (one failed request of three is not a 33 % error rate anyone should page about).
pub(crate) const MIN_REQUESTS_TO_JUDGE: u64 = 20;

impl Engine {
    /// Looks for breaches and starts a rollback for each plugin that has one.
    pub(crate) fn check_rollback_thresholds(&self) {
        let candidates: Vec<(String, RollbackSpec)> = self
            .workspace()
            .plugins
            .iter()
            .filter(|p| {
                p.rollback.on_error_rate.is_some()
                    || p.rollback.on_latency_p99_ms.is_some()
                    || p.rollback.on_health_check_fail
            })
            .map(|p| (p.name.clone(), p.rollback.clone()))
            .collect();
        for (plugin, spec) in candidates {
            let Some((slot, health, health_detail)) = self.guarded_slot(&plugin) else {
                continue;
            };
            let Some(reason) = self.breach(&plugin, slot, health, &health_detail, &spec) else {
                continue;
            };
            let summary = format!("automatic rollback: {slot} breached its threshold: {reason}");
            if self.start_automatic_rollback(&plugin, Some(slot), summary.clone()) {
                self.fire_builtin_alert(&plugin, Some(slot), &summary);
            }
        }
    }

    /// Rolls `plugin` back as face `engine`, recording why, unless an automatic rollback of
    /// it is already under way. The guard and `rollback = true` alert rules both come here.
    /// Returns whether a rollback was started.
    pub(crate) fn start_automatic_rollback(
        &self,
        plugin: &str,
        slot: Option<SlotName>,
        reason: String,
    ) -> bool {
        {
            let mut plugins = self.lock_plugins();
            let Some(state) = plugins.get_mut(plugin) else {
                return false;
            };
            if state.auto_rollback_running {
                return false;
            }
            state.auto_rollback_running = true;
        }
        let engine = self.clone();
        let plugin = plugin.to_string();
        tokio::spawn(async move {
            engine.record(
                Some(&plugin),
                slot,
                EventKind::AutoRollback,
                reason.clone(),
                serde_json::json!({"reason": reason}),
            );
            // A running canary ends with this reason, not a generic one.
            let _ = engine.update_canary(&plugin, |c, _| Ok(c.settle_rolled_back(&reason)));
            let req = RollbackRequest {
                plugin: plugin.clone(),
                to: None,
                dry_run: false,
                reason: Some(
                    reason
                        .strip_prefix("automatic rollback: ")
                        .unwrap_or(&reason)
                        .to_string(),
                ),
            };
            if let Err(e) = engine.rollback(req, Face::Engine).await {
                tracing::error!("automatic rollback of {plugin} failed: {e}");
            }
            if let Some(state) = engine.lock_plugins().get_mut(&plugin) {
                state.auto_rollback_running = false;
            }
        });
        true
    }

    /// The slot to guard: the newer of the two when it has traffic and the older one still
    /// serves (so there is somewhere to go back to), or the target of a running rollout.
    fn guarded_slot(&self, plugin: &str) -> Option<(SlotName, Health, String)> {
        let plugins = self.lock_plugins();
        let state = plugins.get(plugin)?;
        let newer = match &state.rollout {
            Some(rollout) => rollout.to_slot,
            None => {
                let (a, b) = (state.slot(SlotName::Blue)?, state.slot(SlotName::Green)?);
                match (a.started_at, b.started_at) {
                    (Some(ta), Some(tb)) if ta > tb => SlotName::Blue,
                    (Some(_), Some(_)) => SlotName::Green,
                    _ => return None,
                }
            }
        };
        let slot = state.slot(newer)?;
        let older = state.slot(newer.other())?;
        let has_process = matches!(
            slot.process_state.0,
            ProcessState::Running | ProcessState::Restarting | ProcessState::Failed
        );
        if slot.weight == 0 || !has_process || !older.is_serving() {
            return None;
        }
        Some((newer, slot.health.0, slot.health_detail.clone()))
    }

    fn breach(
        &self,
        plugin: &str,
        slot: SlotName,
        health: Health,
        health_detail: &str,
        spec: &RollbackSpec,
    ) -> Option<String> {
        if spec.on_health_check_fail && health == Health::Unhealthy {
            return Some(format!("health checks fail ({health_detail})"));
        }
        let m = self.inner.metrics.slot(plugin, slot).snapshot();
        if m.window_requests < MIN_REQUESTS_TO_JUDGE {
            return None;
        }
        if let Some(max) = spec.on_error_rate.filter(|max| m.error_rate > *max) {
            return Some(format!(
                "error rate {:.1} % > {:.1} % over the last {WINDOW_SECS} s ({} requests)",
                m.error_rate * 100.0,
                max * 100.0,
                m.window_requests
            ));
        }
        if let Some(max) = spec.on_latency_p99_ms.filter(|max| m.p99_ms > *max as f64) {
            return Some(format!(
                "p99 {:.0} ms > {max} ms over the last {WINDOW_SECS} s ({} requests)",
                m.p99_ms, m.window_requests
            ));
        }
        None
    }
}
