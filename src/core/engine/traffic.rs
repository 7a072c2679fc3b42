//! Weight changes and rollback. A rollback to a warm slot is one atomic weight flip.

use super::report::ActionOutcome;
use super::state::DeploySpec;
use super::{Engine, EngineError};
use crate::core::event_kind::EventKind;
use crate::core::hint::Hint;
use crate::core::logs::LogOrigin;
use crate::core::types::{Face, SlotName};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Set traffic weights by hand.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrafficRequest {
    pub plugin: String,
    /// Percent per slot (`blue`, `green`). A slot left out gets the rest of 100.
    pub weights: BTreeMap<SlotName, u32>,
    /// Say what the weights would become; change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Move all traffic back to the previous version (or `to`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    pub plugin: String,
    /// Roll back to this version rather than the previous one.
    #[serde(default)]
    pub to: Option<crate::core::version::Version>,
    /// Say what the rollback would do; change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Why the engine rolls back by itself (a breached threshold); recorded with it.
    #[serde(skip)]
    pub reason: Option<String>,
}

impl Engine {
    /// Sets the traffic split by hand.
    pub async fn set_traffic(
        &self,
        req: TrafficRequest,
        face: Face,
    ) -> Result<ActionOutcome, EngineError> {
        // A dry run is a read: the same checks, nothing applied, nothing audited.
        if req.dry_run {
            return self.set_traffic_inner(&req).await;
        }
        let args = serde_json::to_value(&req).unwrap_or_default();
        let ticket = self.audit_accept(face, "traffic", Some(&req.plugin), args);
        let result = self.set_traffic_inner(&req).await;
        self.audit_finish(ticket, &result, |o| o.summary.clone());
        result
    }

    async fn set_traffic_inner(&self, req: &TrafficRequest) -> Result<ActionOutcome, EngineError> {
        let started = Instant::now();
        let plugin = req.plugin.as_str();
        self.require_plugin(plugin)?;
        self.require_enabled(plugin)?;
        if let Some(&preview) = req.weights.keys().find(|s| s.is_preview()) {
            let version = self
                .lock_plugins()
                .get(plugin)
                .and_then(|p| p.slot(preview))
                .and_then(|s| s.version.clone());
            return Err(EngineError::rejected(
                plugin,
                format!(
                    "{preview} cannot take weighted traffic: a preview is reached only with the header `x-naap-slot: {preview}`; deploy its version as a regular rollout to shift traffic to it"
                ),
            )
            .hint(Hint::Deploy {
                plugin: plugin.to_string(),
                version,
                force: false,
            }));
        }
        let weights = complete_weights(plugin, &req.weights)?;
        let op = self.op_lock(plugin);
        let Ok(_guard) = op.try_lock() else {
            return Err(EngineError::rejected(
                plugin,
                "a deploy or rollback is in progress; its traffic steps would fight a manual change. Wait for it, or roll back to cancel it",
            )
            .hint(Hint::Rollback {
                plugin: plugin.to_string(),
            }));
        };
        for (slot, weight) in &weights {
            if *weight > 0 && !self.slot_is(plugin, *slot, |s| s.is_serving()) {
                let why = self.slot_summary(plugin, *slot);
                let deploy = Hint::Deploy {
                    plugin: plugin.to_string(),
                    version: None,
                    force: false,
                };
                let error = if self.slot_is(plugin, *slot, |s| s.version.is_some()) {
                    EngineError::rejected(
                        plugin,
                        format!("{slot} cannot take {weight}%: it is {why}; its logs say why, or deploy a new version"),
                    )
                    .hint(Hint::ReadLogs {
                        plugin: plugin.to_string(),
                        slot: LogOrigin::Slot(*slot),
                    })
                    .hint(deploy)
                } else {
                    EngineError::rejected(
                        plugin,
                        format!("{slot} cannot take {weight}%: it is {why}; deploy into it first"),
                    )
                    .hint(deploy)
                };
                return Err(error);
            }
        }
        if req.dry_run {
            return Ok(self.traffic_preview(plugin, weights, started));
        }
        let keep_warm = self.keep_warm(plugin);
        self.apply_weights(plugin, &weights, Some(keep_warm))?;
        let split: Vec<String> = weights.iter().map(|(s, w)| format!("{s} {w}%")).collect();
        let summary = format!("{plugin} traffic is now {}", split.join(", "));
        self.record(
            Some(plugin),
            None,
            EventKind::TrafficChanged,
            summary.clone(),
            serde_json::json!({"weights": weights}),
        );
        Ok(ActionOutcome {
            plugin: plugin.to_string(),
            summary,
            kind: "traffic".to_string(),
            slot: None,
            version: None,
            weights,
            gates: Vec::new(),
            elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
            hints: Vec::new(),
        })
    }

    /// Moves all traffic back: to the warm previous slot at once when it still serves,
    /// otherwise by redeploying the previous (or the named) version into the idle slot.
    pub async fn rollback(
        &self,
        req: RollbackRequest,
        face: Face,
    ) -> Result<ActionOutcome, EngineError> {
        if req.dry_run {
            return self.rollback_preview(&req);
        }
        let args = serde_json::to_value(&req).unwrap_or_default();
        let ticket = self.audit_accept(face, "rollback", Some(&req.plugin), args);
        let result = self.rollback_inner(&req, face).await;
        self.audit_finish(ticket, &result, |o| o.summary.clone());
        result
    }

    /// A rollback that finds the previous version already live through an earlier
    /// rollback does nothing and says so: an incident command is idempotent, however many
    /// terminals (or the guard and a person) send it.
    pub(super) fn already_rolled_back(
        &self,
        plugin: &str,
    ) -> Result<Option<ActionOutcome>, EngineError> {
        let Some(past) = self.standing_rollback(plugin)? else {
            return Ok(None);
        };
        let live = {
            let plugins = self.lock_plugins();
            plugins.get(plugin).and_then(|p| {
                let slot = p.live_slot()?;
                Some((slot, p.slot(slot)?.version.clone()?))
            })
        };
        let Some((slot, version)) = live.filter(|(_, v)| *v == past.version) else {
            return Ok(None);
        };
        Ok(Some(ActionOutcome {
            plugin: plugin.to_string(),
            summary: format!(
                "{plugin} is already rolled back to {version} (at {}); nothing changed. Name another version to roll back to it",
                past.at.format("%H:%M:%S UTC")
            ),
            hints: vec![Hint::RollbackToChosen {
                plugin: plugin.to_string(),
            }],
            kind: "unchanged".to_string(),
            slot: Some(slot),
            version: Some(version),
            weights: self.weights(plugin),
            elapsed_ms: 0.0,
            gates: Vec::new(),
        }))
    }

    async fn rollback_inner(
        &self,
        req: &RollbackRequest,
        face: Face,
    ) -> Result<ActionOutcome, EngineError> {
        let started = Instant::now();
        let plugin = req.plugin.as_str();
        self.require_plugin(plugin)?;
        self.require_enabled(plugin)?;
        // A deploy in flight is cancelled first: its new slot must not win the race.
        let (in_flight_target, cancel) = {
            let mut plugins = self.lock_plugins();
            let state = plugins.entry(plugin.to_string()).or_default();
            (
                state.rollout.as_ref().map(|r| r.to_slot),
                state.cancel.clone(),
            )
        };
        // A canary is settled first, so its loop and a restarted engine both see it ended
        // as an incident rollback: no more steps, no analysis.
        let _ = self.update_canary(plugin, |c, _| {
            Ok(c.settle_rolled_back(&format!("incident rollback by {face}")))
        });
        if let Some(cancel) = cancel {
            let _ = cancel.send(true);
        }
        if let Some(target) = in_flight_target {
            // Fast path under cancel: flip now, then wait for the deploy to let go.
            let back_to = target.other();
            if self.slot_is(plugin, back_to, |s| s.is_serving()) {
                self.apply_weights(plugin, &[(back_to, 100), (target, 0)], None)?;
            }
        }
        // Rollbacks serialise here; each reads what the one before it did (from the store)
        // only once it holds the lock, and records its own result before letting go.
        let op = self.op_lock(plugin);
        let _guard = op.lock().await;
        if req.to.is_none()
            && let Some(unchanged) = self.already_rolled_back(plugin)?
        {
            return Ok(unchanged);
        }
        // The previous slot is the one a running rollout was moving away from; otherwise
        // whatever is not live now.
        let live = self.lock_plugins().get(plugin).and_then(|s| s.live_slot());
        let back_to = match (in_flight_target, live) {
            (Some(target), _) => target.other(),
            (None, Some(live)) => live.other(),
            (None, None) => SlotName::Blue,
        };
        let from_version = live.and_then(|l| {
            self.lock_plugins()
                .get(plugin)
                .and_then(|p| p.slot(l))
                .and_then(|s| s.version.clone())
        });
        let outcome = self
            .rollback_locked(req, face, started, in_flight_target, back_to, live)
            .await?;
        self.record(
            Some(plugin),
            outcome.slot,
            EventKind::RolledBack,
            outcome.summary.clone(),
            serde_json::json!({
                "kind": outcome.kind,
                "elapsed_ms": outcome.elapsed_ms,
                "by": face.to_string(),
                "version": outcome.version,
                "from_version": from_version,
                "reason": req.reason,
            }),
        );
        Ok(outcome)
    }

    /// The rollback itself, under the plugin's lock: a flip to the warm slot, or a
    /// redeploy of the previous (or the named) version.
    async fn rollback_locked(
        &self,
        req: &RollbackRequest,
        face: Face,
        started: Instant,
        in_flight_target: Option<SlotName>,
        back_to: SlotName,
        live: Option<SlotName>,
    ) -> Result<ActionOutcome, EngineError> {
        let plugin = req.plugin.as_str();

        let (back_version, back_serving) = {
            let plugins = self.lock_plugins();
            let slot = plugins.get(plugin).and_then(|p| p.slot(back_to));
            (
                slot.and_then(|s| s.version.clone()),
                slot.is_some_and(|s| s.is_serving()),
            )
        };
        let wanted = req.to.clone().map(String::from);
        let live_version = live.and_then(|l| {
            self.lock_plugins()
                .get(plugin)
                .and_then(|p| p.slot(l))
                .and_then(|s| s.version.clone())
        });
        let flip_ok = back_serving
            && (wanted.is_none() || wanted == back_version)
            && (in_flight_target.is_some() || live.is_some());
        if flip_ok {
            let keep_warm = self.keep_warm(plugin);
            self.apply_weights(
                plugin,
                &[(back_to, 100), (back_to.other(), 0)],
                Some(keep_warm),
            )?;
            let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
            let version = back_version.unwrap_or_default();
            return Ok(ActionOutcome {
                plugin: plugin.to_string(),
                summary: format!(
                    "rolled back {plugin}: all traffic to {back_to} {version} (warm slot, weight flip in {elapsed_ms:.1} ms)"
                ),
                kind: "flip".to_string(),
                slot: Some(back_to),
                version: Some(version),
                weights: self.weights(plugin),
                elapsed_ms,
                gates: Vec::new(),
                hints: Vec::new(),
            });
        }

        // Not warm (or another version wanted): redeploy a stored version.
        let version = match wanted {
            Some(v) => {
                if live_version.as_deref() == Some(v.as_str()) && in_flight_target.is_none() {
                    return Err(EngineError::rejected(
                        plugin,
                        format!("{v} is already live; nothing to roll back to"),
                    ));
                }
                v
            }
            None => self.previous_version(plugin, live_version.as_deref())?,
        };
        let record = self.store().version(plugin, &version)?;
        let Some(record) = record else {
            let known: Vec<String> = self
                .store()
                .versions(plugin)?
                .into_iter()
                .map(|v| v.version)
                .collect();
            return Err(EngineError::rejected(
                plugin,
                format!(
                    "version {version} was never deployed here; known versions: {}",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
        };
        let spec: DeploySpec = serde_json::from_str(&record.spec_json).map_err(|e| {
            EngineError::rejected(
                plugin,
                format!("the stored run spec of {version} is unreadable ({e}); deploy it anew"),
            )
            .hint(Hint::Deploy {
                plugin: plugin.to_string(),
                version: Some(version.to_string()),
                force: false,
            })
        })?;
        let target = match live {
            Some(live) if in_flight_target.is_none() => live.other(),
            _ => back_to,
        };
        self.record(
            Some(plugin),
            Some(target),
            EventKind::RollbackRedeploy,
            format!("previous slot is not warm: redeploying {version} into {target} (by {face})"),
            serde_json::json!({"version": version}),
        );
        self.launch_slot(plugin, target, &version, &spec, None, None)
            .await?;
        let (_tx, mut never_cancelled) = tokio::sync::watch::channel(false);
        self.wait_serving(
            plugin,
            target,
            spec.run.startup_timeout,
            &mut never_cancelled,
        )
        .await?;
        let keep_warm = self.keep_warm(plugin);
        self.apply_weights(
            plugin,
            &[(target, 100), (target.other(), 0)],
            Some(keep_warm),
        )?;
        let _ = self.store().mark_deployed(plugin, &version);
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        Ok(ActionOutcome {
            plugin: plugin.to_string(),
            summary: format!(
                "rolled back {plugin}: redeployed {version} into {target} (the previous slot was not warm); all traffic to {target} after {:.1} s",
                elapsed_ms / 1000.0
            ),
            kind: "redeploy".to_string(),
            slot: Some(target),
            version: Some(version),
            weights: self.weights(plugin),
            elapsed_ms,
            gates: Vec::new(),
            hints: Vec::new(),
        })
    }

    /// The most recently deployed version other than the live one.
    pub(super) fn previous_version(
        &self,
        plugin: &str,
        live: Option<&str>,
    ) -> Result<String, EngineError> {
        let versions = self.store().versions(plugin)?;
        versions
            .into_iter()
            .filter(|v| v.last_deployed_at.is_some())
            .map(|v| v.version)
            .find(|v| Some(v.as_str()) != live)
            .ok_or_else(|| {
                EngineError::rejected(
                    plugin,
                    "there is no previous version to roll back to; the history lists what was deployed",
                )
                .hint(Hint::History {
                    plugin: plugin.to_string(),
                })
            })
    }

    /// Applies weights to slots: persisted first, then swapped into the router. A slot that
    /// serves at 0% becomes a warm slot for `keep_warm`, then stops.
    pub(crate) fn apply_weights(
        &self,
        plugin: &str,
        weights: &[(SlotName, u32)],
        keep_warm: Option<Duration>,
    ) -> Result<(), EngineError> {
        {
            let mut plugins = self.lock_plugins();
            let state = plugins.entry(plugin.to_string()).or_default();
            for (slot, weight) in weights {
                let s = state.slot_mut(*slot);
                s.weight = *weight;
                if *weight > 0 {
                    s.warm_until = None;
                } else if s.is_serving() && s.warm_until.is_none() {
                    // Any slot left serving at 0% is a warm rollback target (also a
                    // cancelled canary: rolling back again rolls it forward) that expires.
                    s.warm_until = keep_warm
                        .filter(|d| !d.is_zero())
                        .and_then(|d| chrono::Duration::from_std(d).ok())
                        .map(|d| Utc::now() + d);
                }
            }
        }
        let slots: Vec<SlotName> = weights.iter().map(|(s, _)| *s).collect();
        self.persist_slots(plugin, &slots)?;
        self.publish_routes();
        Ok(())
    }

    pub(crate) fn weights(&self, plugin: &str) -> Vec<(SlotName, u32)> {
        let plugins = self.lock_plugins();
        SlotName::ALL
            .iter()
            .map(|s| {
                (
                    *s,
                    plugins
                        .get(plugin)
                        .and_then(|p| p.slot(*s))
                        .map_or(0, |s| s.weight),
                )
            })
            .collect()
    }

    fn keep_warm(&self, plugin: &str) -> Duration {
        self.workspace()
            .plugin(plugin)
            .map(|m| m.rollback.keep_previous_warm)
            .unwrap_or_default()
    }

    fn slot_summary(&self, plugin: &str, slot: SlotName) -> String {
        let plugins = self.lock_plugins();
        match plugins.get(plugin).and_then(|p| p.slot(slot)) {
            Some(s) if s.version.is_some() => format!(
                "{} and {} ({})",
                s.process_state.0, s.health.0, s.health_detail
            ),
            _ => "empty".to_string(),
        }
    }
}

/// Fills in the slot that was left out and checks the split adds up to 100.
fn complete_weights(
    plugin: &str,
    given: &BTreeMap<SlotName, u32>,
) -> Result<Vec<(SlotName, u32)>, EngineError> {
    if given.is_empty() {
        return Err(EngineError::rejected(
            plugin,
            "no weights given; write e.g. `blue=90 green=10`",
        ));
    }
    if let Some((slot, w)) = given.iter().find(|(_, w)| **w > 100) {
        return Err(EngineError::rejected(
            plugin,
            format!("{slot}={w} is over 100; weights are percentages"),
        ));
    }
    let mut out = Vec::new();
    if given.len() == 1 {
        let (slot, weight) = given
            .iter()
            .next()
            .map(|(s, w)| (*s, *w))
            .unwrap_or((SlotName::Blue, 100));
        out.push((slot, weight));
        out.push((slot.other(), 100 - weight));
    } else {
        out.extend(given.iter().map(|(s, w)| (*s, *w)));
        let sum: u32 = out.iter().map(|(_, w)| w).sum();
        if sum != 100 {
            let split: Vec<String> = out.iter().map(|(s, w)| format!("{s}={w}")).collect();
            return Err(EngineError::rejected(
                plugin,
                format!("weights {} add up to {sum}, not 100", split.join(" ")),
            ));
        }
    }
    out.sort();
    Ok(out)
}
