//! What a rollback or a traffic change would do, computed by the engine from its own state
//! so every face (the CLI's `--dry-run`, the dashboard's card, the operator's proposal)
//! shows the same answer, and none of them guesses.

use super::report::ActionOutcome;
use super::traffic::RollbackRequest;
use super::{Engine, EngineError};
use crate::core::types::SlotName;
use std::time::Instant;

/// `kind` of an outcome that changed nothing because it only said what would happen.
pub const DRY_RUN: &str = "dry-run";

impl Engine {
    /// The weights a traffic change would set, against the live ones.
    pub(super) fn traffic_preview(
        &self,
        plugin: &str,
        weights: Vec<(SlotName, u32)>,
        started: Instant,
    ) -> ActionOutcome {
        let now = self.weights(plugin);
        let was = |slot: SlotName| now.iter().find(|(s, _)| *s == slot).map_or(0, |(_, w)| *w);
        let changes: Vec<String> = weights
            .iter()
            .map(|(slot, w)| {
                let version = self
                    .slot_version(plugin, *slot)
                    .map(|v| format!(" {v}"))
                    .unwrap_or_default();
                format!("{slot}{version} {}% → {w}%", was(*slot))
            })
            .collect();
        ActionOutcome {
            plugin: plugin.to_string(),
            summary: format!("would set {plugin} traffic: {}", changes.join(", ")),
            kind: DRY_RUN.to_string(),
            slot: None,
            version: None,
            weights,
            elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
            gates: Vec::new(),
            hints: Vec::new(),
        }
    }

    /// What `rollback` would do now: nothing (already rolled back), a weight flip to the
    /// warm previous slot, or a redeploy of the previous (or named) version.
    pub(super) fn rollback_preview(
        &self,
        req: &RollbackRequest,
    ) -> Result<ActionOutcome, EngineError> {
        let started = Instant::now();
        let plugin = req.plugin.as_str();
        self.require_plugin(plugin)?;
        self.require_enabled(plugin)?;
        let outcome = |summary: String, slot: Option<SlotName>, version: Option<String>| {
            let weights = match slot {
                Some(slot) => vec![(slot, 100), (slot.other(), 0)],
                None => self.weights(plugin),
            };
            ActionOutcome {
                plugin: plugin.to_string(),
                summary,
                kind: DRY_RUN.to_string(),
                slot,
                version,
                weights,
                elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
                gates: Vec::new(),
                hints: Vec::new(),
            }
        };
        if req.to.is_none()
            && let Some(unchanged) = self.already_rolled_back(plugin)?
        {
            return Ok(outcome(
                format!("would change nothing: {}", unchanged.summary),
                None,
                unchanged.version,
            ));
        }
        let (in_flight, live) = {
            let plugins = self.lock_plugins();
            let state = plugins.get(plugin);
            (
                state.and_then(|s| {
                    s.rollout
                        .as_ref()
                        .map(|r| (r.to_slot, r.to_version.clone()))
                }),
                state.and_then(|s| s.live_slot()),
            )
        };
        let back_to = match (&in_flight, live) {
            (Some((target, _)), _) => target.other(),
            (None, Some(live)) => live.other(),
            (None, None) => SlotName::Blue,
        };
        let stops = in_flight
            .as_ref()
            .map(|(_, v)| format!("the rollout to {v} stops, then "))
            .unwrap_or_default();
        let back_version = self.slot_version(plugin, back_to);
        let back_serving = self.slot_is(plugin, back_to, |s| s.is_serving());
        let wanted = req.to.clone().map(String::from);
        let live_version = live.and_then(|l| self.slot_version(plugin, l));
        if back_serving
            && (wanted.is_none() || wanted == back_version)
            && (in_flight.is_some() || live.is_some())
        {
            let version = back_version.unwrap_or_default();
            return Ok(outcome(
                format!(
                    "would roll back {plugin}: {stops}all traffic moves to {back_to} {version}, which is warm (one weight flip, no restart)"
                ),
                Some(back_to),
                Some(version),
            ));
        }
        let version = match wanted {
            Some(v) if live_version.as_deref() == Some(v.as_str()) && in_flight.is_none() => {
                return Err(EngineError::rejected(
                    plugin,
                    format!("{v} is already live; nothing to roll back to"),
                ));
            }
            Some(v) => v,
            None => self.previous_version(plugin, live_version.as_deref())?,
        };
        if self.store().version(plugin, &version)?.is_none() {
            return Err(EngineError::rejected(
                plugin,
                format!(
                    "version {version} was never deployed here, so there is nothing to roll back to"
                ),
            ));
        }
        let target = match live {
            Some(live) if in_flight.is_none() => live.other(),
            _ => back_to,
        };
        Ok(outcome(
            format!(
                "would roll back {plugin}: {stops}{version} is not warm, so it is redeployed into {target} and gets all traffic once healthy (seconds, not a flip)"
            ),
            Some(target),
            Some(version),
        ))
    }

    fn slot_version(&self, plugin: &str, slot: SlotName) -> Option<String> {
        self.lock_plugins()
            .get(plugin)
            .and_then(|p| p.slot(slot))
            .and_then(|s| s.version.clone())
    }
}
