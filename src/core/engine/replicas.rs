//! A slot's replicas: `[run] replicas = N` processes per slot, each on its own port, which
//! the router balances among (least outstanding requests). Replica 0 is the slot's own
//! process (stored, adopted after an engine restart); replicas 1.. are started beside it
//! and, after an engine restart, started afresh. `naap scale` changes the count of every
//! running slot live; `naap restart` replaces the processes one at a time. Both take a
//! replica out of rotation and drain it before stopping it, so no request fails.

use super::report::ActionOutcome;
use super::state::{DeploySpec, ReplicaState, SlotHealth, SlotProcess};
use super::{Engine, EngineError, slot_log_dir};
use crate::core::event_kind::EventKind;
use crate::core::runtime::LocalRuntime;
use crate::core::runtime::{Limits, SlotHandle, SlotSpec, free_port};
use crate::core::types::{Face, Health, ProcessState, SlotName};
use crate::core::workspace::MAX_REPLICAS;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// How often a wait looks at the state; in memory, so cheap.
const POLL: Duration = Duration::from_millis(20);

/// `scale`: run this many replicas in each of the plugin's running slots.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScaleRequest {
    pub plugin: String,
    /// 1 to 64.
    pub replicas: u32,
    #[serde(default)]
    pub dry_run: bool,
}

/// `restart`: a rolling restart of a plugin's replicas (one slot, or every running one).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestartRequest {
    pub plugin: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<SlotName>,
    #[serde(default)]
    pub dry_run: bool,
}

/// The runtime limits of a version's `[resources]`.
pub(crate) fn limits_of(spec: &DeploySpec) -> Limits {
    let r = &spec.run.resources;
    Limits {
        memory_bytes: r.memory_bytes,
        cpu: r.cpu,
        pids: r.pids,
        open_files: r.open_files,
    }
}

impl Engine {
    /// How many replicas a slot should run: what `naap scale` set, else its version's
    /// `[run] replicas`; previews run one.
    pub(crate) fn desired_replicas(&self, plugin: &str, slot: SlotName) -> u32 {
        if slot.is_preview() {
            return 1;
        }
        if let Ok(Some(n)) = self.store().scale_of(plugin) {
            return n.clamp(1, MAX_REPLICAS);
        }
        self.lock_plugins()
            .get(plugin)
            .and_then(|p| p.slot(slot))
            .and_then(|s| s.spec.as_ref())
            .map_or(1, |s| s.run.replicas.max(1))
    }

    /// The process description of one replica, as the runtime starts it.
    pub(crate) fn replica_spec(
        &self,
        plugin: &str,
        slot: SlotName,
        replica: u32,
        version: &str,
        spec: &DeploySpec,
        port: u16,
    ) -> Result<SlotSpec, EngineError> {
        let secrets = self.resolve_env_from(plugin, spec)?;
        Ok(self.unit_spec(plugin, slot, replica, version, spec, port, secrets))
    }

    /// The process description with the secrets already read.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn unit_spec(
        &self,
        plugin: &str,
        slot: SlotName,
        replica: u32,
        version: &str,
        spec: &DeploySpec,
        port: u16,
        secrets: std::collections::BTreeMap<String, String>,
    ) -> SlotSpec {
        SlotSpec {
            plugin: plugin.to_string(),
            slot,
            version: version.to_string(),
            command: self.expand(&spec.run.command, plugin, slot, version, port),
            cwd: spec.run.cwd.clone(),
            env: {
                let mut env = self.expand_env(spec, plugin, slot, version, port);
                env.extend(secrets);
                env
            },
            port,
            stop_grace: spec.run.stop_grace,
            log_dir: slot_log_dir(&self.state_dir()),
            replica,
            limits: limits_of(spec),
        }
    }

    /// At engine start, once replica 0 of a slot was adopted or started again: what an
    /// earlier engine left of the extra replicas (after a crash) is killed, then the slot's
    /// replicas are started again. Failures are recorded; the engine starts regardless.
    pub(crate) async fn restore_replicas(&self, plugin: &str, slot: SlotName) {
        let log_dir = slot_log_dir(&self.state_dir());
        let killed = LocalRuntime::kill_replica_orphans(&log_dir, plugin, slot).await;
        if killed > 0 {
            tracing::info!(
                "{plugin} {slot}: killed {killed} process(es) of replicas an earlier engine left"
            );
        }
        if self.desired_replicas(plugin, slot) <= 1 {
            return;
        }
        if let Err(e) = self.start_missing_replicas(plugin, slot).await {
            self.record(
                Some(plugin),
                Some(slot),
                EventKind::SlotRestartFailed,
                format!(
                    "could not start the replicas of {slot} again after the engine restart: {e}"
                ),
                serde_json::Value::Null,
            );
        }
    }

    /// Starts the replicas a slot lacks (1 up to its desired count) and waits until they
    /// serve. Replica 0 must already run.
    pub(crate) async fn start_missing_replicas(
        &self,
        plugin: &str,
        slot: SlotName,
    ) -> Result<Vec<u32>, EngineError> {
        let desired = self.desired_replicas(plugin, slot);
        let have: Vec<u32> = self
            .lock_plugins()
            .get(plugin)
            .and_then(|p| p.slot(slot))
            .map(|s| s.replicas.iter().map(|r| r.index).collect())
            .unwrap_or_default();
        let missing: Vec<u32> = (1..desired).filter(|i| !have.contains(i)).collect();
        for index in &missing {
            self.launch_replica(plugin, slot, *index).await?;
        }
        self.wait_replicas_serving(plugin, slot, &missing).await?;
        Ok(missing)
    }

    /// Starts one replica's process, its log tailing and its health checks.
    async fn launch_replica(
        &self,
        plugin: &str,
        slot: SlotName,
        index: u32,
    ) -> Result<(), EngineError> {
        let (version, spec) = self.slot_version_spec(plugin, slot)?;
        let port = free_port().map_err(|e| EngineError::DeployFailed {
            plugin: plugin.to_string(),
            message: format!("no free local port for replica {index}: {e}"),
            hints: Vec::new(),
        })?;
        let unit = self.replica_spec(plugin, slot, index, &version, &spec, port)?;
        // What an earlier engine left of this replica holds nothing of ours any more.
        self.inner.runtime.sweep_leftovers(&unit).await;
        self.inner.metrics.remove_replica(plugin, slot, index);
        let checker = self.replica_checker(plugin, slot, index, port, &spec);
        {
            let mut plugins = self.lock_plugins();
            let handle = self
                .inner
                .runtime
                .start(unit)
                .map_err(|e| EngineError::DeployFailed {
                    plugin: plugin.to_string(),
                    message: format!("cannot start {slot} replica {index}: {e}"),
                    hints: Vec::new(),
                })?;
            let state = plugins
                .entry(plugin.to_string())
                .or_default()
                .slot_mut(slot);
            state.replicas.retain(|r| r.index != index);
            state.replicas.push(ReplicaState {
                index,
                port,
                process: handle.process(),
                handle: Some(handle),
                checker: Some(checker),
                process_state: SlotProcess(ProcessState::Starting),
                health: SlotHealth(Health::Unknown),
                health_detail: "waiting for the first health check".to_string(),
                restarts: 0,
                cpu_percent: 0.0,
                rss_bytes: 0,
                draining: false,
            });
            state.replicas.sort_by_key(|r| r.index);
        }
        self.publish_routes();
        Ok(())
    }

    fn slot_version_spec(
        &self,
        plugin: &str,
        slot: SlotName,
    ) -> Result<(String, DeploySpec), EngineError> {
        self.lock_plugins()
            .get(plugin)
            .and_then(|p| p.slot(slot))
            .and_then(|s| Some((s.version.clone()?, s.spec.clone()?)))
            .ok_or_else(|| EngineError::rejected(plugin, format!("{slot} runs nothing")))
    }

    /// Waits until these replicas serve, or one fails, or the startup timeout passes.
    async fn wait_replicas_serving(
        &self,
        plugin: &str,
        slot: SlotName,
        indices: &[u32],
    ) -> Result<(), EngineError> {
        let timeout = self
            .slot_version_spec(plugin, slot)
            .map_or(Duration::from_secs(30), |(_, s)| s.run.startup_timeout);
        let deadline = Instant::now() + timeout;
        loop {
            let (all, failed) = {
                let plugins = self.lock_plugins();
                let slot_state = plugins.get(plugin).and_then(|p| p.slot(slot));
                let of = |index: u32| -> Option<(bool, Option<String>)> {
                    let s = slot_state?;
                    if index == 0 {
                        let failed = s.process_state.0 == ProcessState::Failed;
                        return Some((s.primary_ready(), failed.then(|| s.detail())));
                    }
                    let r = s.replicas.iter().find(|r| r.index == index)?;
                    let failed = r.process_state.0 == ProcessState::Failed;
                    Some((r.is_serving(), failed.then(|| r.health_detail.clone())))
                };
                let mut all = true;
                let mut failed = None;
                for index in indices {
                    match of(*index) {
                        Some((serving, why)) => {
                            all &= serving;
                            if let Some(why) = why {
                                failed = Some(format!("replica {index}: {why}"));
                            }
                        }
                        None => failed = Some(format!("replica {index} is gone")),
                    }
                }
                (all, failed)
            };
            if all {
                return Ok(());
            }
            let last = match failed {
                Some(why) => why,
                None if Instant::now() < deadline => {
                    tokio::time::sleep(POLL).await;
                    continue;
                }
                None => format!(
                    "not healthy after {} (run.startup_timeout)",
                    humantime::format_duration(timeout)
                ),
            };
            return Err(EngineError::DeployFailed {
                plugin: plugin.to_string(),
                message: format!("{slot} {last}"),
                hints: Vec::new(),
            });
        }
    }

    /// Takes a replica out of rotation, waits until nothing is outstanding on it (or its
    /// `stop_grace` passed), then stops it. Replica 0 keeps its place in the slot (its
    /// handle is handed back for a restart); others are removed.
    async fn drain_and_stop(&self, plugin: &str, slot: SlotName, index: u32) {
        let (handle, grace) = {
            let mut plugins = self.lock_plugins();
            let Some(s) = plugins.get_mut(plugin).and_then(|p| p.slots.get_mut(&slot)) else {
                return;
            };
            let grace = s
                .spec
                .as_ref()
                .map_or(Duration::from_secs(5), |s| s.run.stop_grace);
            let handle = if index == 0 {
                s.draining = true;
                s.checker = None;
                s.handle.take()
            } else {
                match s.replica_mut(index) {
                    Some(r) => {
                        r.draining = true;
                        r.checker = None;
                        r.handle.take()
                    }
                    None => None,
                }
            };
            (handle, grace)
        };
        self.publish_routes();
        let stats = self.inner.metrics.replica(plugin, slot, index);
        let started = Instant::now();
        loop {
            // Looked at after a first pause: a request that picked the replica from the
            // table just replaced is counted a moment after it was routed.
            tokio::time::sleep(POLL).await;
            if stats.outstanding() == 0 || started.elapsed() >= grace {
                break;
            }
        }
        if let Some(handle) = handle {
            handle.stop().await;
        }
        if index > 0 {
            if let Some(s) = self
                .lock_plugins()
                .get_mut(plugin)
                .and_then(|p| p.slots.get_mut(&slot))
            {
                s.replicas.retain(|r| r.index != index);
            }
            self.inner.metrics.remove_replica(plugin, slot, index);
            self.publish_routes();
        }
    }

    /// Starts replica 0 of a slot again after `drain_and_stop`, on a new port, and waits
    /// until it serves; it goes back into rotation then.
    async fn respawn_primary(&self, plugin: &str, slot: SlotName) -> Result<(), EngineError> {
        let (version, spec) = self.slot_version_spec(plugin, slot)?;
        let port = free_port().map_err(|e| EngineError::DeployFailed {
            plugin: plugin.to_string(),
            message: format!("no free local port: {e}"),
            hints: Vec::new(),
        })?;
        let unit = self.replica_spec(plugin, slot, 0, &version, &spec, port)?;
        self.inner.metrics.remove_replica(plugin, slot, 0);
        let checker = self.health_checker(plugin, slot, port, &spec);
        {
            let mut plugins = self.lock_plugins();
            let handle: SlotHandle =
                self.inner
                    .runtime
                    .start(unit)
                    .map_err(|e| EngineError::DeployFailed {
                        plugin: plugin.to_string(),
                        message: format!("cannot start {slot}: {e}"),
                        hints: Vec::new(),
                    })?;
            let s = plugins
                .entry(plugin.to_string())
                .or_default()
                .slot_mut(slot);
            s.process = handle.process();
            s.handle = Some(handle);
            s.checker = Some(checker);
            s.port = Some(port);
            s.process_state = SlotProcess(ProcessState::Starting);
            s.health = SlotHealth(Health::Unknown);
            s.health_detail = "restarted; waiting for the first health check".to_string();
            s.port_note = None;
        }
        let _ = self.persist_slots(plugin, &[slot]);
        let waited = self.wait_replicas_serving(plugin, slot, &[0]).await;
        if let Some(s) = self
            .lock_plugins()
            .get_mut(plugin)
            .and_then(|p| p.slots.get_mut(&slot))
        {
            s.draining = false;
        }
        self.publish_routes();
        waited
    }

    /// The slots whose replicas scale and restart act on: every one running a version,
    /// previews aside.
    fn running_slots(&self, plugin: &str) -> Vec<SlotName> {
        self.lock_plugins()
            .get(plugin)
            .map(|p| {
                p.slots
                    .iter()
                    .filter(|(name, s)| !name.is_preview() && s.handle.is_some())
                    .map(|(name, _)| *name)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn replica_indices(&self, plugin: &str, slot: SlotName) -> Vec<u32> {
        self.lock_plugins()
            .get(plugin)
            .and_then(|p| p.slot(slot))
            .map(|s| {
                std::iter::once(0)
                    .chain(s.replicas.iter().map(|r| r.index))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `naap scale PLUGIN N`.
    pub async fn scale(&self, req: ScaleRequest, face: Face) -> Result<ActionOutcome, EngineError> {
        let args = serde_json::to_value(&req).unwrap_or_default();
        let ticket = self.audit_accept(face, "scale", Some(&req.plugin), args);
        let result = self.scale_inner(&req, face).await;
        self.audit_finish(ticket, &result, |o| o.summary.clone());
        result
    }

    async fn scale_inner(
        &self,
        req: &ScaleRequest,
        face: Face,
    ) -> Result<ActionOutcome, EngineError> {
        let started = Instant::now();
        let plugin = req.plugin.as_str();
        self.require_plugin(plugin)?;
        self.require_enabled(plugin)?;
        if !(1..=MAX_REPLICAS).contains(&req.replicas) {
            return Err(EngineError::rejected(
                plugin,
                format!(
                    "replicas must be between 1 and {MAX_REPLICAS}, got {}",
                    req.replicas
                ),
            ));
        }
        let slots = self.running_slots(plugin);
        let counts: Vec<String> = slots
            .iter()
            .map(|s| format!("{s} {}", self.replica_indices(plugin, *s).len()))
            .collect();
        let now_running = if counts.is_empty() {
            "nothing runs yet".to_string()
        } else {
            format!("now {}", counts.join(", "))
        };
        if req.dry_run {
            return Ok(self.lifecycle_outcome(
                plugin,
                "dry-run",
                format!(
                    "would run {} replica(s) of {plugin} in every running slot ({now_running}); new ones get traffic once healthy, removed ones drain first",
                    req.replicas
                ),
                started,
            ));
        }
        let lock = self.op_lock(plugin);
        let _op = lock.lock().await;
        self.store().set_scale(plugin, req.replicas, face)?;
        let mut changes = Vec::new();
        for slot in self.running_slots(plugin) {
            let before = self.replica_indices(plugin, slot).len() as u32;
            if req.replicas > before {
                let added = self.start_missing_replicas(plugin, slot).await?;
                for index in &added {
                    self.record_replica(
                        plugin,
                        slot,
                        *index,
                        EventKind::ReplicaStarted,
                        "scaled up",
                    );
                }
                changes.push(format!("{slot} +{}", added.len()));
            } else if req.replicas < before {
                let mut removed = 0;
                for index in self.replica_indices(plugin, slot).into_iter().rev() {
                    if index >= req.replicas {
                        self.drain_and_stop(plugin, slot, index).await;
                        self.record_replica(
                            plugin,
                            slot,
                            index,
                            EventKind::ReplicaStopped,
                            "scaled down",
                        );
                        removed += 1;
                    }
                }
                changes.push(format!("{slot} -{removed}"));
            }
        }
        let elapsed = started.elapsed();
        let summary = format!(
            "{plugin} runs {} replica(s) per slot ({}; {:.1} s until all served)",
            req.replicas,
            if changes.is_empty() {
                "no slot changed".to_string()
            } else {
                changes.join(", ")
            },
            elapsed.as_secs_f64()
        );
        self.record(
            Some(plugin),
            None,
            EventKind::PluginScaled,
            format!("{summary}, by {face}"),
            serde_json::json!({"replicas": req.replicas, "elapsed_ms": elapsed.as_millis() as u64}),
        );
        Ok(self.lifecycle_outcome(plugin, "scale", summary, started))
    }

    /// `naap restart PLUGIN [--slot S]`: every replica in turn is drained, stopped,
    /// started again and waited for; a slot of one replica gets a second one for the
    /// duration (a surge, as a Kubernetes rolling update), so something always serves.
    pub async fn restart(
        &self,
        req: RestartRequest,
        face: Face,
    ) -> Result<ActionOutcome, EngineError> {
        let args = serde_json::to_value(&req).unwrap_or_default();
        let ticket = self.audit_accept(face, "restart", Some(&req.plugin), args);
        let result = self.restart_inner(&req, face).await;
        self.audit_finish(ticket, &result, |o| o.summary.clone());
        result
    }

    async fn restart_inner(
        &self,
        req: &RestartRequest,
        face: Face,
    ) -> Result<ActionOutcome, EngineError> {
        let started = Instant::now();
        let plugin = req.plugin.as_str();
        self.require_plugin(plugin)?;
        self.require_enabled(plugin)?;
        let running = self.running_slots(plugin);
        let slots: Vec<SlotName> = match req.slot {
            Some(slot) if running.contains(&slot) => vec![slot],
            Some(slot) => {
                return Err(EngineError::rejected(
                    plugin,
                    format!("{slot} of {plugin} runs nothing to restart"),
                ));
            }
            None => running,
        };
        if slots.is_empty() {
            return Err(EngineError::rejected(
                plugin,
                format!("{plugin} runs nothing to restart"),
            ));
        }
        let names: Vec<String> = slots
            .iter()
            .map(|s| {
                format!(
                    "{s} ({} replica(s))",
                    self.replica_indices(plugin, *s).len()
                )
            })
            .collect();
        if req.dry_run {
            return Ok(self.lifecycle_outcome(
                plugin,
                "dry-run",
                format!(
                    "would restart {plugin} {} one replica at a time: drain, stop, start, wait for health",
                    names.join(", ")
                ),
                started,
            ));
        }
        let lock = self.op_lock(plugin);
        let _op = lock.lock().await;
        let mut restarted = 0;
        for slot in &slots {
            let indices = self.replica_indices(plugin, *slot);
            let surge = (indices.len() == 1).then_some(1u32);
            if let Some(index) = surge {
                self.launch_replica(plugin, *slot, index).await?;
                self.wait_replicas_serving(plugin, *slot, &[index]).await?;
            }
            for index in indices {
                self.drain_and_stop(plugin, *slot, index).await;
                if index == 0 {
                    self.respawn_primary(plugin, *slot).await?;
                } else {
                    self.launch_replica(plugin, *slot, index).await?;
                    self.wait_replicas_serving(plugin, *slot, &[index]).await?;
                }
                restarted += 1;
            }
            if let Some(index) = surge {
                self.drain_and_stop(plugin, *slot, index).await;
            }
        }
        let summary = format!(
            "restarted {plugin} {}: {restarted} process(es), one at a time, in {:.1} s",
            names.join(", "),
            started.elapsed().as_secs_f64()
        );
        self.record(
            Some(plugin),
            None,
            EventKind::PluginRestarted,
            format!("{summary}, by {face}"),
            serde_json::json!({"processes": restarted}),
        );
        Ok(self.lifecycle_outcome(plugin, "restart", summary, started))
    }

    fn record_replica(&self, plugin: &str, slot: SlotName, index: u32, kind: EventKind, why: &str) {
        let verb = if kind == EventKind::ReplicaStarted {
            "started"
        } else {
            "stopped"
        };
        self.record(
            Some(plugin),
            Some(slot),
            kind,
            format!("{slot} replica {index} {verb} ({why})"),
            serde_json::json!({"replica": index, "reason": why}),
        );
    }
}
