//! Deploying a version into the idle slot: gates, start, health, traffic shift.

use super::gates::GateReport;
use super::gates::cancelled;
use super::report::{ActionOutcome, RolloutStatus};
use super::state::{DeploySpec, SlotHealth, SlotProcess};
use super::{Engine, EngineError};
use crate::core::event_kind::EventKind;
use crate::core::health::{HealthChecker, HealthConfig, Probe, spawn_checker};
use crate::core::hint::{Hint, Param};
use crate::core::logs::LogOrigin;
use crate::core::rollout::{RolloutController, RolloutEnd, RolloutPlan};
use crate::core::runtime::{ProcessId, free_port};
use crate::core::store::NewRollout;
use crate::core::types::{Face, Health, ProcessState, SlotName, StrategyKind};
use crate::core::workspace::{HealthCheck, Placeholders, expand_for_shell, expand_placeholders};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};

/// How often a waiting deploy looks at the slot's state. In-memory, so cheap.
const WAIT_POLL: Duration = Duration::from_millis(20);

/// Deploy a version into the idle slot (or a preview slot) and move traffic to it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployRequest {
    pub plugin: String,
    /// The version label (default: the manifest's `plugin.version`). Checked while
    /// decoding: a bad version is a `bad_request` and nothing runs.
    #[serde(default)]
    pub version: Option<crate::core::version::Version>,
    /// `immediate`, `blue-green` or `canary` (default: the manifest's).
    #[serde(default)]
    pub strategy: Option<StrategyKind>,
    /// Say what would happen; change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Run every gate even when a pass with the same inputs is cached.
    #[serde(default)]
    pub no_cache: bool,
    /// Start the version in a new preview slot instead of blue/green (no traffic moves).
    #[serde(default)]
    pub preview: bool,
    /// How long the preview lives (`2h` by default, at most `7d`).
    #[serde(default)]
    pub ttl: Option<String>,
    /// Answer once the rollout has started instead of when it ends.
    #[serde(default)]
    pub detach: bool,
    /// Deploy even when this version is already live: it starts anew in the idle slot.
    /// Without it, deploying the live version changes nothing (the warm slot is kept).
    #[serde(default)]
    pub force: bool,
    /// Run a candidate's staged tree instead of the plugin's source (with `preview` only:
    /// a candidate reaches blue/green once accepted). The version defaults to the one
    /// its accept would derive.
    #[serde(default)]
    pub candidate: Option<String>,
}

/// What a deploy puts where.
pub(crate) struct DeployTarget<'a> {
    pub plugin: &'a str,
    pub plugin_dir: &'a std::path::Path,
    pub version: &'a str,
    pub spec: &'a DeploySpec,
    pub slot: SlotName,
    pub no_cache: bool,
}

impl Engine {
    /// Deploys a version (default: the manifest's) with a strategy (default: the
    /// manifest's). Nothing changes traffic until the new slot is healthy.
    pub async fn deploy(
        &self,
        req: DeployRequest,
        face: Face,
    ) -> Result<ActionOutcome, EngineError> {
        if req.detach && !req.dry_run {
            return self.deploy_detached(req, face).await;
        }
        self.deploy_audited(req, face, None).await
    }

    /// Runs the deploy in its own task and answers once its rollout is recorded; the
    /// rollout goes on whoever listens.
    async fn deploy_detached(
        &self,
        req: DeployRequest,
        face: Face,
    ) -> Result<ActionOutcome, EngineError> {
        let (started_tx, started_rx) = oneshot::channel();
        let engine = self.clone();
        let plugin = req.plugin.clone();
        let task =
            tokio::spawn(async move { engine.deploy_audited(req, face, Some(started_tx)).await });
        match started_rx.await {
            Ok((rollout_id, version)) => Ok(ActionOutcome {
                plugin: plugin.clone(),
                summary: format!("rollout {rollout_id} of {plugin} {version} started"),
                kind: "started".to_string(),
                slot: None,
                version: Some(version),
                weights: self.weights(&plugin),
                elapsed_ms: 0.0,
                gates: Vec::new(),
                hints: vec![
                    Hint::Follow {
                        plugin: plugin.clone(),
                    },
                    Hint::History {
                        plugin: plugin.clone(),
                    },
                ],
            }),
            // It ended before its rollout started (a refusal, a bad version): say why.
            Err(_) => match task.await {
                Ok(result) => result,
                Err(e) => Err(EngineError::rejected(
                    &plugin,
                    format!("the deploy task failed: {e}"),
                )),
            },
        }
    }

    async fn deploy_audited(
        &self,
        req: DeployRequest,
        face: Face,
        started: Option<oneshot::Sender<(i64, String)>>,
    ) -> Result<ActionOutcome, EngineError> {
        let args = serde_json::to_value(&req).unwrap_or_default();
        let ticket = self.audit_accept(face, "deploy", Some(&req.plugin), args);
        let result = self.deploy_inner(&req, face, started).await;
        self.audit_finish(ticket, &result, |o| o.summary.clone());
        result
    }

    async fn deploy_inner(
        &self,
        req: &DeployRequest,
        face: Face,
        on_started: Option<oneshot::Sender<(i64, String)>>,
    ) -> Result<ActionOutcome, EngineError> {
        let started = Instant::now();
        self.refresh_plugin(&req.plugin)?;
        self.require_enabled(&req.plugin)?;
        let manifest = self
            .workspace()
            .plugin(&req.plugin)
            .cloned()
            .ok_or_else(|| {
                EngineError::rejected(&req.plugin, "the plugin was removed from the workspace")
            })?;
        let plugin = manifest.name.as_str();
        let candidate = match &req.candidate {
            Some(id) => Some(self.candidate_source(plugin, id, req.preview, &manifest.version)?),
            None => None,
        };
        let version = req
            .version
            .clone()
            .map(String::from)
            .or_else(|| candidate.as_ref().map(|c| c.version.clone()))
            .unwrap_or_else(|| manifest.version.clone());
        // Every face checks versions where they enter; this catches any caller that did not.
        if let Err(e) = crate::core::types::Version::parse(&version) {
            return Err(EngineError::rejected(plugin, e.to_string()));
        }
        let strategy = req.strategy.unwrap_or(manifest.strategy.kind);
        let mut spec = DeploySpec {
            run: manifest.run.clone(),
            health: manifest.health.clone(),
        };
        let source_dir = match &candidate {
            Some(c) => {
                spec.run.cwd = c.rebase(&manifest.dir, &spec.run.cwd);
                c.tree.clone()
            }
            None => manifest.dir.clone(),
        };
        // Before any gate, slot or store row: a secret that cannot be read fails the
        // deploy now, not halfway.
        self.resolve_env_from(plugin, &spec)?;
        if req.preview {
            let ttl = super::parse_ttl(req.ttl.as_deref())
                .map_err(|e| EngineError::rejected(plugin, e).hint(Hint::set(Param::Ttl, "2h")))?;
            if req.dry_run {
                return Ok(ActionOutcome {
                    plugin: plugin.to_string(),
                    summary: format!(
                        "would start {plugin} {version}{} in a new preview slot for {}, reachable only with the header x-naap-slot",
                        candidate
                            .as_ref()
                            .map(|c| format!(" (candidate {}'s staged tree)", c.id))
                            .unwrap_or_default(),
                        humantime::format_duration(ttl)
                    ),
                    kind: "dry-run".to_string(),
                    slot: None,
                    version: Some(version),
                    weights: vec![],
                    elapsed_ms: 0.0,
                    gates: Vec::new(),
                    hints: Vec::new(),
                });
            }
            let target = DeployTarget {
                plugin,
                plugin_dir: &source_dir,
                version: &version,
                spec: &spec,
                slot: self.new_preview_slot(plugin),
                no_cache: req.no_cache,
            };
            let outcome = self.deploy_preview(target, ttl, face).await;
            if let Some(c) = &candidate {
                self.candidate_previewed(&c.id, &outcome);
            }
            return outcome;
        }
        if req.ttl.is_some() {
            return Err(
                EngineError::rejected(plugin, "a time to live applies to previews only")
                    .hint(Hint::switch_on(Param::Preview)),
            );
        }

        let _guard = self.lock_for_deploy(plugin, face, &version).await?;
        let (target, live) = {
            let plugins = self.lock_plugins();
            let state = plugins.get(plugin);
            let target = state.map(|s| s.idle_slot()).unwrap_or(SlotName::Blue);
            let live = state
                .and_then(|s| s.live_slot())
                .and_then(|l| s_version(state, l).map(|v| (l, v)));
            (target, live)
        };
        // Deploying what already serves would replace the idle slot — the warm previous
        // version, the rollback target — with a copy of the live one. Like `kubectl apply`
        // of an unchanged spec, it changes nothing unless forced.
        // A changed run spec (command, env, health) is a change even under the same label.
        if let Some((live_slot, live_version)) = &live
            && *live_version == version
            && !req.force
            && self.slot_is(plugin, *live_slot, |s| {
                s.is_serving() && s.spec.as_ref() == Some(&spec)
            })
        {
            return Ok(self.already_live(plugin, *live_slot, &version, req.dry_run));
        }
        let from = match &live {
            Some((slot, v)) => format!("from {slot} {v}"),
            None => "(nothing serves yet)".to_string(),
        };
        // Only a forced deploy gets here with a warm previous version in the idle slot: it
        // is replaced, and the answers say so.
        let replaces_warm = self.warm_version(plugin, target).map(|warm| {
            format!(
                "; this replaces the warm {target} {warm}, which is no longer a rollback target"
            )
        });
        let gates = super::gates::gate_commands(&spec.run);
        if req.dry_run {
            let gate_names: Vec<&str> = gates.iter().map(|(n, _)| *n).collect();
            return Ok(ActionOutcome {
                plugin: plugin.to_string(),
                summary: format!(
                    "would deploy {plugin} {version} into {target} ({strategy}){}, wait for health, then move traffic {from}{}",
                    if gate_names.is_empty() {
                        String::new()
                    } else {
                        format!(" after gates {}", gate_names.join(", "))
                    },
                    replaces_warm.as_deref().unwrap_or("")
                ),
                kind: "dry-run".to_string(),
                slot: Some(target),
                version: Some(version),
                // Where the deploy would leave traffic once it succeeded.
                weights: SlotName::ALL
                    .iter()
                    .map(|s| (*s, if *s == target { 100 } else { 0 }))
                    .collect(),
                elapsed_ms: 0.0,
                gates: Vec::new(),
                hints: Vec::new(),
            });
        }

        // Persist the intent before acting on it.
        let spec_json = serde_json::to_string(&spec).map_err(|e| {
            EngineError::rejected(plugin, format!("cannot serialise the run spec: {e}"))
        })?;
        let rollout_id = {
            let store = self.store();
            store.upsert_plugin(plugin, &manifest.manifest_path)?;
            store.put_version(plugin, &version, &spec_json)?;
            store.start_rollout(&NewRollout {
                plugin: plugin.to_string(),
                strategy,
                from_slot: live.as_ref().map(|(s, _)| *s),
                to_slot: Some(target),
                from_version: live.as_ref().map(|(_, v)| v.clone()),
                to_version: version.clone(),
                detail: format!("by {face}"),
            })?
        };
        let (cancel_tx, mut cancel) = watch::channel(false);
        {
            let mut plugins = self.lock_plugins();
            let state = plugins.entry(plugin.to_string()).or_default();
            state.cancel = Some(cancel_tx);
            state.rollout = Some(RolloutStatus::started(
                rollout_id,
                strategy,
                target,
                version.clone(),
                "gates",
            ));
        }
        self.record(Some(plugin), Some(target), EventKind::DeployStarted, format!("deploying {plugin} {version} into {target} ({strategy}, by {face})"), serde_json::json!({"rollout": rollout_id, "version": version, "strategy": strategy.to_string()}));
        if let Some(on_started) = on_started {
            let _ = on_started.send((rollout_id, version.clone()));
        }

        let mut gates = Vec::new();
        let result = self
            .deploy_steps(
                DeployTarget {
                    plugin,
                    plugin_dir: &manifest.dir,
                    version: &version,
                    spec: &spec,
                    slot: target,
                    no_cache: req.no_cache,
                },
                strategy,
                &mut cancel,
                rollout_id,
                &mut gates,
            )
            .await;
        let (state_text, detail) = match &result {
            Ok(summary) => ("succeeded", summary.clone()),
            Err(EngineError::Cancelled { .. }) => match self.canary_end(plugin) {
                Some(RolloutEnd::RolledBack { reason }) => ("rolled_back", reason),
                _ => ("aborted", "cancelled by a rollback".to_string()),
            },
            Err(EngineError::RolledBack { state, reason, .. }) => (*state, reason.clone()),
            Err(e) => ("failed", e.to_string()),
        };
        {
            let mut plugins = self.lock_plugins();
            if let Some(state) = plugins.get_mut(plugin) {
                state.cancel = None;
                state.rollout = None;
                state.canary = None;
            }
        }
        if let Err(e) = self.store().finish_rollout(rollout_id, state_text, &detail) {
            tracing::error!("could not finish rollout {rollout_id}: {e}");
        }
        // A version made from a candidate: its history says how the rollout ended.
        self.candidate_rollout_ended(plugin, &version, state_text, &detail);
        match result {
            Ok(summary) => {
                let summary = summary + replaces_warm.as_deref().unwrap_or("");
                let _ = self.store().mark_deployed(plugin, &version);
                self.record(
                    Some(plugin),
                    Some(target),
                    EventKind::DeploySucceeded,
                    summary.clone(),
                    serde_json::json!({"rollout": rollout_id, "version": version}),
                );
                Ok(ActionOutcome {
                    plugin: plugin.to_string(),
                    summary,
                    kind: "deploy".to_string(),
                    slot: Some(target),
                    version: Some(version),
                    weights: self.weights(plugin),
                    elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
                    gates,
                    hints: Vec::new(),
                })
            }
            Err(e) => {
                self.record(
                    Some(plugin),
                    Some(target),
                    EventKind::DeployFailed,
                    e.to_string(),
                    serde_json::json!({"rollout": rollout_id, "version": version}),
                );
                Err(e)
            }
        }
    }

    async fn deploy_steps(
        &self,
        to: DeployTarget<'_>,
        strategy: StrategyKind,
        cancel: &mut watch::Receiver<bool>,
        rollout_id: i64,
        gates: &mut Vec<GateReport>,
    ) -> Result<String, EngineError> {
        let DeployTarget {
            plugin,
            plugin_dir,
            version,
            spec,
            slot: target,
            no_cache,
        } = to;
        *gates = self
            .run_gates(plugin, plugin_dir, spec, target, version, no_cache, cancel)
            .await?;
        self.set_phase(plugin, "starting");
        self.launch_slot(plugin, target, version, spec, None, None)
            .await?;
        self.wait_serving(plugin, target, spec.run.startup_timeout, cancel)
            .await?;
        // The other replicas, beside the first: traffic moves once every one serves.
        self.start_missing_replicas(plugin, target).await?;

        let keep_warm = self
            .workspace()
            .plugin(plugin)
            .map(|m| m.rollback.keep_previous_warm)
            .unwrap_or_default();
        match strategy {
            StrategyKind::Immediate => {
                self.apply_weights(plugin, &[(target, 100), (target.other(), 0)], None)?;
                // Traffic has moved: the deploy has done its job. The old slot drains in
                // the background; its `slot_stopped` event says how that went.
                self.stop_slot_in_background(
                    plugin,
                    target.other(),
                    "replaced by an immediate deploy",
                );
                Ok(format!(
                    "{plugin} {version} is live on {target} (immediate); {} stops once its requests in flight finish",
                    target.other()
                ))
            }
            StrategyKind::BlueGreen => {
                self.set_phase(plugin, "switching");
                self.apply_weights(
                    plugin,
                    &[(target, 100), (target.other(), 0)],
                    Some(keep_warm),
                )?;
                self.after_switch(plugin, target, keep_warm).await;
                Ok(format!(
                    "{plugin} {version} is live on {target} (blue-green); {}",
                    self.warm_note_for(plugin, target.other())
                ))
            }
            StrategyKind::Canary => {
                self.start_canary(plugin, rollout_id)?;
                self.run_canary(plugin, version, target, rollout_id, cancel)
                    .await
            }
        }
    }

    /// Creates the rollout's controller from the manifest and stores it before any weight
    /// moves.
    fn start_canary(&self, plugin: &str, rollout_id: i64) -> Result<(), EngineError> {
        let plan = self
            .workspace()
            .plugin(plugin)
            .map(|m| RolloutPlan {
                steps: m.strategy.steps.clone(),
                step_interval: m.strategy.step_interval,
                pause_after: m.strategy.pause_after.clone(),
            })
            .unwrap_or(RolloutPlan {
                steps: vec![100],
                step_interval: Duration::ZERO,
                pause_after: vec![],
            });
        let (controller, _) = RolloutController::start(plan, Utc::now());
        let json = serde_json::to_string(&controller).map_err(|e| {
            EngineError::rejected(plugin, format!("cannot serialise the rollout state: {e}"))
        })?;
        self.store().save_rollout_controller(rollout_id, &json)?;
        if let Some(state) = self.lock_plugins().get_mut(plugin) {
            state.canary = Some(controller);
        }
        Ok(())
    }

    /// The previous slot stays warm for `keep_previous_warm`, or stops now when that is 0.
    async fn after_switch(&self, plugin: &str, target: SlotName, keep_warm: Duration) {
        if keep_warm.is_zero() {
            self.stop_slot_in_background(plugin, target.other(), "keep_previous_warm is 0");
        }
    }

    /// The answer to a deploy of the version that already serves: nothing changes.
    fn already_live(
        &self,
        plugin: &str,
        live: SlotName,
        version: &str,
        dry_run: bool,
    ) -> ActionOutcome {
        let warm = match self.warm_version(plugin, live.other()) {
            Some(warm) => format!(" ({} {warm} stays warm for a rollback)", live.other()),
            None => String::new(),
        };
        let summary = format!(
            "{}{plugin} {version} is already live on {live}; nothing changed{warm}. Deploy with force to restart it into the idle slot",
            if dry_run { "would do nothing: " } else { "" }
        );
        ActionOutcome {
            plugin: plugin.to_string(),
            summary,
            kind: if dry_run { "dry-run" } else { "unchanged" }.to_string(),
            slot: Some(live),
            version: Some(version.to_string()),
            weights: self.weights(plugin),
            elapsed_ms: 0.0,
            gates: Vec::new(),
            hints: vec![Hint::Deploy {
                plugin: plugin.to_string(),
                version: Some(version.to_string()),
                force: true,
            }],
        }
    }

    /// The version a slot keeps warm (serving at 0 %), if it does.
    pub(crate) fn warm_version(&self, plugin: &str, slot: SlotName) -> Option<String> {
        let plugins = self.lock_plugins();
        plugins
            .get(plugin)
            .and_then(|p| p.slot(slot))
            .filter(|s| s.is_serving() && s.weight == 0)
            .and_then(|s| s.version.clone())
    }

    pub(crate) fn warm_note_for(&self, plugin: &str, slot: SlotName) -> String {
        let plugins = self.lock_plugins();
        match plugins.get(plugin).and_then(|s| s.slot(slot)) {
            Some(s) if s.is_serving() => match (&s.version, s.warm_until) {
                (Some(v), Some(until)) => format!(
                    "{slot} {v} stays warm until {} for an instant rollback",
                    until.format("%H:%M:%S UTC")
                ),
                (Some(v), None) => format!("{slot} {v} stays warm"),
                _ => format!("{slot} is idle"),
            },
            _ => format!("{slot} is idle"),
        }
    }

    /// Starts (or adopts) the process of a slot, its log tailing and its health checks.
    /// The slot gets weight 0; traffic moves only through `apply_weights`.
    pub(crate) async fn launch_slot(
        &self,
        plugin: &str,
        slot: SlotName,
        version: &str,
        spec: &DeploySpec,
        port: Option<u16>,
        adopt: Option<ProcessId>,
    ) -> Result<(), EngineError> {
        // Read before the slot is touched: a missing secret leaves it as it was. An adopted
        // process already has its environment; only a later restart would miss the value.
        let secrets = match (self.resolve_env_from(plugin, spec), adopt) {
            (Ok(secrets), _) => secrets,
            (Err(e), Some(_)) => {
                tracing::warn!("{e} (adopting {slot} anyway: it runs with its own copy)");
                Default::default()
            }
            (Err(e), None) => return Err(e),
        };
        if adopt.is_none() {
            self.stop_slot(plugin, slot, &format!("making room for {version}"))
                .await;
        }
        let port = match port {
            Some(port) => port,
            None => free_port().map_err(|e| EngineError::DeployFailed {
                plugin: plugin.to_string(),
                message: format!("no free local port: {e}"),
                hints: Vec::new(),
            })?,
        };
        let slot_spec = self.unit_spec(plugin, slot, 0, version, spec, port, secrets);
        if adopt.is_none() {
            // What an earlier run left behind (its leader gone, so no handle stopped it)
            // would hold the port or the files; like systemd before starting a unit.
            let leftovers = self.inner.runtime.sweep_leftovers(&slot_spec).await;
            if !leftovers.is_empty() {
                self.record(
                    Some(plugin),
                    Some(slot),
                    EventKind::SlotLeftoversKilled,
                    format!(
                        "killed {} process(es) left running by an earlier run of {slot} (pid {})",
                        leftovers.len(),
                        leftovers
                            .iter()
                            .map(u32::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    serde_json::json!({"pids": leftovers}),
                );
            }
        }
        if adopt.is_none() {
            // A new version in this slot starts with an empty window: the guard and the
            // canary judge must not hold the previous version's errors against it.
            self.inner.metrics.remove_slot(plugin, slot);
        }
        let checker = self.health_checker(plugin, slot, port, spec);
        {
            // Start under the state lock so the runtime's `Started` event, applied by the
            // monitor, always finds the slot already describing this process.
            let mut plugins = self.lock_plugins();
            let handle = match adopt {
                Some(process) => self.inner.runtime.adopt(slot_spec, process),
                None => self.inner.runtime.start(slot_spec),
            }
            .map_err(|e| EngineError::DeployFailed {
                plugin: plugin.to_string(),
                message: format!("cannot start {slot}: {e}"),
                hints: Vec::new(),
            })?;
            let state = plugins
                .entry(plugin.to_string())
                .or_default()
                .slot_mut(slot);
            state.process = handle.process();
            state.handle = Some(handle);
            state.checker = Some(checker);
            state.version = Some(version.to_string());
            state.spec = Some(spec.clone());
            state.port = Some(port);
            state.weight = 0;
            state.warm_until = None;
            state.process_state = SlotProcess(if adopt.is_some() {
                ProcessState::Running
            } else {
                ProcessState::Starting
            });
            state.health = SlotHealth(Health::Unknown);
            state.health_detail = "waiting for the first health check".to_string();
            state.port_note = None;
            state.draining = false;
            if adopt.is_none() {
                state.started_at = Some(Utc::now());
                state.restarts = 0;
            }
        }
        self.persist_slots(plugin, &[slot])?;
        self.publish_routes();
        Ok(())
    }

    /// Health checks for a slot's process, starting in startup mode.
    pub(crate) fn health_checker(
        &self,
        plugin: &str,
        slot: SlotName,
        port: u16,
        spec: &DeploySpec,
    ) -> HealthChecker {
        self.replica_checker(plugin, slot, 0, port, spec)
    }

    /// Health checks for one replica's process, starting in startup mode.
    pub(crate) fn replica_checker(
        &self,
        plugin: &str,
        slot: SlotName,
        replica: u32,
        port: u16,
        spec: &DeploySpec,
    ) -> HealthChecker {
        spawn_checker(
            plugin.to_string(),
            slot,
            replica,
            port,
            health_config(spec),
            self.inner.http.clone(),
            self.inner.health_tx.clone(),
        )
    }

    /// Waits until the slot serves (running and healthy), fails, or the deadline passes.
    pub(crate) async fn wait_serving(
        &self,
        plugin: &str,
        slot: SlotName,
        timeout: Duration,
        cancel: &mut watch::Receiver<bool>,
    ) -> Result<(), EngineError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (serving, failed, mut detail) = {
                let plugins = self.lock_plugins();
                match plugins.get(plugin).and_then(|p| p.slot(slot)) {
                    Some(s) => (
                        s.primary_serving(),
                        s.process_state.0 == ProcessState::Failed,
                        s.health_detail.clone(),
                    ),
                    None => (false, true, "the slot disappeared".to_string()),
                }
            };
            if serving {
                return Ok(());
            }
            if failed {
                return Err(EngineError::DeployFailed {
                    plugin: plugin.to_string(),
                    message: format!("{slot} failed to start: {detail}"),
                    hints: vec![Hint::ReadLogs {
                        plugin: plugin.to_string(),
                        slot: LogOrigin::Slot(slot),
                    }],
                });
            }
            if tokio::time::Instant::now() >= deadline {
                // Looked up now, while the process still runs.
                if let Some(note) = self.port_note_now(plugin, slot).await {
                    detail = format!("{detail}; {note}");
                }
                self.stop_slot(plugin, slot, "not healthy before startup_timeout")
                    .await;
                self.mark_failed(
                    plugin,
                    slot,
                    &format!(
                        "not healthy after {}: {detail}",
                        humantime::format_duration(timeout)
                    ),
                );
                return Err(EngineError::DeployFailed {
                    plugin: plugin.to_string(),
                    message: format!(
                        "{slot} was not healthy after {} (last check: {detail}); raise run.startup_timeout if it needs longer",
                        humantime::format_duration(timeout)
                    ),
                    hints: vec![Hint::ReadLogs {
                        plugin: plugin.to_string(),
                        slot: LogOrigin::Slot(slot),
                    }],
                });
            }
            tokio::select! {
                _ = tokio::time::sleep(WAIT_POLL) => {}
                _ = cancelled(cancel) => return Err(EngineError::Cancelled { plugin: plugin.to_string(), by: "a rollback".to_string() }),
            }
        }
    }

    pub(crate) fn mark_failed(&self, plugin: &str, slot: SlotName, why: &str) {
        {
            let mut plugins = self.lock_plugins();
            if let Some(state) = plugins.get_mut(plugin).and_then(|p| p.slots.get_mut(&slot)) {
                state.process_state = SlotProcess(ProcessState::Failed);
                state.health = SlotHealth(Health::Unhealthy);
                state.health_detail = why.to_string();
            }
        }
        let _ = self.persist_slots(plugin, &[slot]);
    }

    fn set_phase(&self, plugin: &str, phase: &str) {
        if let Some(rollout) = self
            .lock_plugins()
            .get_mut(plugin)
            .and_then(|s| s.rollout.as_mut())
        {
            rollout.phase = phase.to_string();
        }
    }

    pub(crate) fn slot_is(
        &self,
        plugin: &str,
        slot: SlotName,
        test: impl FnOnce(&super::state::SlotState) -> bool,
    ) -> bool {
        self.lock_plugins()
            .get(plugin)
            .and_then(|p| p.slot(slot))
            .is_some_and(test)
    }

    pub(crate) fn op_lock(&self, plugin: &str) -> std::sync::Arc<tokio::sync::Mutex<()>> {
        self.lock_plugins()
            .entry(plugin.to_string())
            .or_default()
            .op
            .clone()
    }

    /// A command template (`run.command`, `build`, `test`) with its placeholders quoted for
    /// `sh -c`.
    pub(crate) fn expand(
        &self,
        template: &str,
        plugin: &str,
        slot: SlotName,
        version: &str,
        port: u16,
    ) -> String {
        expand_for_shell(
            template,
            &self.placeholders(plugin, &slot.as_str(), version, port),
        )
    }

    fn placeholders<'a>(
        &'a self,
        plugin: &'a str,
        slot: &'a str,
        version: &'a str,
        port: u16,
    ) -> Placeholders<'a> {
        Placeholders {
            port,
            version,
            slot,
            plugin,
            naap: &self.inner.naap_exe,
        }
    }

    /// The `[run] env` values with placeholders filled in as they are: the environment is
    /// handed to the process directly, no shell reads it.
    pub(crate) fn expand_env(
        &self,
        spec: &DeploySpec,
        plugin: &str,
        slot: SlotName,
        version: &str,
        port: u16,
    ) -> std::collections::BTreeMap<String, String> {
        let slot = slot.as_str();
        let vars = self.placeholders(plugin, &slot, version, port);
        spec.run
            .env
            .iter()
            .map(|(k, v)| (k.clone(), expand_placeholders(v, &vars)))
            .collect()
    }

    /// Plugins that have never been deployed get their manifest version on engine start,
    /// so `naap init && naap serve` serves something.
    pub(crate) async fn deploy_never_deployed(&self) {
        let names: Vec<String> = self
            .workspace()
            .plugins
            .iter()
            .map(|p| p.name.clone())
            .collect();
        for name in names {
            self.first_deploy(&name);
        }
    }
}

fn s_version(state: Option<&super::state::PluginState>, slot: SlotName) -> Option<String> {
    state
        .and_then(|s| s.slot(slot))
        .and_then(|s| s.version.clone())
}

pub(crate) fn health_config(spec: &DeploySpec) -> HealthConfig {
    HealthConfig {
        probe: match &spec.health.check {
            HealthCheck::Http { path } => Probe::Http {
                url_path: path.clone(),
            },
            HealthCheck::Tcp => Probe::Tcp,
        },
        interval: spec.health.interval,
        timeout: spec.health.timeout,
        unhealthy_threshold: spec.health.unhealthy_threshold,
        healthy_threshold: spec.health.healthy_threshold,
        startup_grace: spec.run.startup_timeout,
    }
}

impl Engine {
    /// Starts the manifest version of a plugin that was never deployed (at engine start, or
    /// when a reload adds it), in the background; returns that version, or None when the
    /// plugin already has a version in a slot.
    pub(crate) fn first_deploy(&self, plugin: &str) -> Option<String> {
        let deployed = self
            .lock_plugins()
            .get(plugin)
            .is_some_and(|s| s.slots.values().any(|slot| slot.version.is_some()));
        if deployed {
            return None;
        }
        let version = self.workspace().plugin(plugin)?.version.clone();
        let engine = self.clone();
        let name = plugin.to_string();
        tokio::spawn(async move {
            let req = DeployRequest {
                plugin: name.clone(),
                strategy: Some(StrategyKind::Immediate),
                ..DeployRequest::default()
            };
            if let Err(e) = engine.deploy(req, Face::Engine).await {
                tracing::warn!("first deploy of {name} failed: {e}");
            }
        });
        Some(version)
    }
}
