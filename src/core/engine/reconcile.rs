//! Engine start after a stop or a crash: rebuild state from SQLite and the processes that
//! still run. A slot whose process survived (same pid AND same start time) is adopted; one
//! whose process is gone but should run is started again on its port.

use super::Engine;
use super::state::{DeploySpec, SlotHealth, SlotProcess};
use crate::core::event_kind::EventKind;
use crate::core::procstat;
use crate::core::runtime::ProcessId;
use crate::core::types::{Health, ProcessState};
use chrono::Utc;

impl Engine {
    /// Returns, by plugin, what was done about a rollout the previous engine left running
    /// (for the audit entries that engine left pending).
    pub(crate) async fn reconcile(&self) -> std::collections::BTreeMap<String, String> {
        let mut recovered = std::collections::BTreeMap::new();
        let records = match self.store().slots() {
            Ok(records) => records,
            Err(e) => {
                tracing::error!("cannot read slots from the store: {e}");
                return recovered;
            }
        };
        let unfinished = self.store().unfinished_rollouts().unwrap_or_default();
        // Slots whose process survived the restart; a canary resumes only on those.
        let mut adopted = std::collections::BTreeSet::new();
        for record in records {
            let plugin = record.plugin.clone();
            let slot = record.slot;
            let in_workspace = self.workspace().plugin(&plugin).is_some();
            let process = match (record.pid, record.pid_start_time) {
                (Some(pid), Some(start_time)) => Some(ProcessId { pid, start_time }),
                _ => None,
            };
            let alive = process.is_some_and(|p| procstat::is_alive(p.pid, p.start_time));
            if !in_workspace {
                if let (true, Some(p)) = (alive, process) {
                    // SAFETY: signalling the process group naap created for this slot.
                    unsafe { libc::kill(-(p.pid as i32), libc::SIGTERM) };
                }
                self.record(
                    Some(&plugin),
                    Some(slot),
                    EventKind::SlotOrphaned,
                    format!("{plugin} is no longer in the workspace; its {slot} slot was stopped"),
                    serde_json::Value::Null,
                );
                continue;
            }
            let Some(version) = record.version.clone() else {
                continue;
            };
            let spec = match self.store().version(&plugin, &version) {
                Ok(Some(v)) => serde_json::from_str::<DeploySpec>(&v.spec_json).ok(),
                _ => None,
            };
            let should_run = matches!(
                record.process_state,
                ProcessState::Running | ProcessState::Starting | ProcessState::Restarting
            );
            let weight = record.weight;
            if !alive {
                // Adoption reads the files back itself; a restart empties them, so first.
                self.read_back_slot_logs(&plugin, slot);
            }
            match spec {
                Some(spec) if alive => {
                    match self
                        .launch_slot(&plugin, slot, &version, &spec, record.port, process)
                        .await
                    {
                        Ok(()) => {
                            self.restore_replicas(&plugin, slot).await;
                            adopted.insert((plugin.clone(), slot));
                            self.restore_slot_facts(
                                &plugin,
                                slot,
                                weight,
                                record.restarts,
                                record.started_at,
                            );
                            self.record(
                                Some(&plugin),
                                Some(slot),
                                EventKind::SlotAdopted,
                                format!(
                                    "adopted {slot} {version} (pid {}) after engine restart",
                                    record.pid.unwrap_or_default()
                                ),
                                serde_json::json!({"pid": record.pid}),
                            );
                        }
                        Err(e) => self.record(
                            Some(&plugin),
                            Some(slot),
                            EventKind::SlotAdoptFailed,
                            format!("could not adopt {slot} {version}: {e}"),
                            serde_json::Value::Null,
                        ),
                    }
                }
                Some(spec) if should_run => {
                    // Same port when still free, so in-flight clients of the old process
                    // (and the operator's notes) stay valid.
                    let port = record
                        .port
                        .filter(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok());
                    match self
                        .launch_slot(&plugin, slot, &version, &spec, port, None)
                        .await
                    {
                        Ok(()) => {
                            self.restore_replicas(&plugin, slot).await;
                            self.restore_slot_facts(&plugin, slot, weight, record.restarts, None);
                            self.record(Some(&plugin), Some(slot), EventKind::SlotRestarted, format!("restarted {slot} {version}: its process was gone after the engine restart"), serde_json::Value::Null);
                        }
                        Err(e) => self.record(
                            Some(&plugin),
                            Some(slot),
                            EventKind::SlotRestartFailed,
                            format!("could not restart {slot} {version}: {e}"),
                            serde_json::Value::Null,
                        ),
                    }
                }
                _ => {
                    let mut plugins = self.lock_plugins();
                    let state = plugins.entry(plugin.clone()).or_default().slot_mut(slot);
                    state.version = Some(version);
                    state.process_state =
                        SlotProcess(if record.process_state == ProcessState::Failed {
                            ProcessState::Failed
                        } else {
                            ProcessState::Stopped
                        });
                    state.health = SlotHealth(Health::Unknown);
                    // Why it failed or stopped, as the previous engine recorded it.
                    state.health_detail = record.health_detail.clone();
                    state.weight = weight;
                    state.restarts = record.restarts;
                }
            }
        }
        self.reconcile_previews().await;
        self.publish_routes();
        // After the slots: whether a rollout can resume depends on which of them survived.
        for rollout in unfinished {
            let plugin = rollout.plugin.clone();
            let what = self.recover_rollout(rollout, &adopted).await;
            recovered.insert(plugin, what);
        }
        recovered
    }

    /// Previews survive an engine restart with their expiry: a live process is adopted (same
    /// pid and start time), a dead one restarted; an expired one, or one of a plugin that
    /// left the workspace, is stopped and forgotten.
    async fn reconcile_previews(&self) {
        let previews = match self.store().previews() {
            Ok(previews) => previews,
            Err(e) => {
                tracing::error!("cannot read previews from the store: {e}");
                return;
            }
        };
        let now = Utc::now();
        for (record, expires_at) in previews {
            let plugin = record.plugin.clone();
            let slot = record.slot;
            let process = match (record.pid, record.pid_start_time) {
                (Some(pid), Some(start_time)) => Some(ProcessId { pid, start_time }),
                _ => None,
            };
            let alive = process.filter(|p| procstat::is_alive(p.pid, p.start_time));
            let spec = record.version.as_ref().and_then(|version| {
                match self.store().version(&plugin, version) {
                    Ok(Some(v)) => serde_json::from_str::<DeploySpec>(&v.spec_json).ok(),
                    _ => None,
                }
            });
            let in_workspace = self.workspace().plugin(&plugin).is_some();
            let (Some(version), Some(spec), true, false) = (
                record.version.clone(),
                spec,
                in_workspace,
                expires_at <= now || !slot.is_preview(),
            ) else {
                if let Some(p) = alive {
                    // SAFETY: signalling the process group naap created for this preview.
                    unsafe { libc::kill(-(p.pid as i32), libc::SIGTERM) };
                }
                let _ = self.store().delete_preview(&plugin, &slot.as_str());
                self.record(
                    Some(&plugin),
                    Some(slot),
                    EventKind::PreviewRemoved,
                    format!(
                        "{slot} of {plugin} removed at engine start: expired, or no longer runnable"
                    ),
                    serde_json::json!({"expires_at": expires_at}),
                );
                continue;
            };
            if alive.is_none() {
                self.read_back_slot_logs(&plugin, slot);
            }
            let port = match alive {
                Some(_) => record.port,
                None => record
                    .port
                    .filter(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok()),
            };
            match self
                .launch_slot(&plugin, slot, &version, &spec, port, alive)
                .await
            {
                Ok(()) => {
                    let _ = self.set_preview_expiry(&plugin, slot, expires_at);
                    let how = if alive.is_some() {
                        "adopted"
                    } else {
                        "restarted"
                    };
                    self.record(
                        Some(&plugin),
                        Some(slot),
                        EventKind::PreviewRecovered,
                        format!(
                            "{how} {slot} of {plugin} {version} after engine restart; it still expires at {}",
                            expires_at.format("%Y-%m-%d %H:%M:%S UTC")
                        ),
                        serde_json::json!({"pid": record.pid, "expires_at": expires_at}),
                    );
                }
                Err(e) => {
                    self.remove_preview(&plugin, slot, &format!("could not recover it: {e}"))
                        .await;
                }
            }
        }
    }

    /// The output a slot wrote before this engine started, into the log hub.
    fn read_back_slot_logs(&self, plugin: &str, slot: crate::core::types::SlotName) {
        let log_dir = super::slot_log_dir(&self.state_dir());
        self.inner.runtime.read_back_logs(plugin, slot, &log_dir);
    }

    /// `launch_slot` resets a slot to weight 0; after a restart the stored facts win.
    fn restore_slot_facts(
        &self,
        plugin: &str,
        slot: crate::core::types::SlotName,
        weight: u32,
        restarts: u32,
        started_at: Option<chrono::DateTime<Utc>>,
    ) {
        let keep_warm = self
            .workspace()
            .plugin(plugin)
            .map(|m| m.rollback.keep_previous_warm)
            .unwrap_or_default();
        {
            let mut plugins = self.lock_plugins();
            let state = plugins
                .entry(plugin.to_string())
                .or_default()
                .slot_mut(slot);
            state.weight = weight;
            state.restarts = restarts;
            if started_at.is_some() {
                state.started_at = started_at;
            }
            // The warm deadline is not stored; a restarted engine gives the previous slot a
            // fresh `keep_previous_warm` rather than dropping a rollback target early.
            if weight == 0 && !keep_warm.is_zero() {
                state.warm_until = chrono::Duration::from_std(keep_warm)
                    .ok()
                    .map(|d| Utc::now() + d);
            }
        }
        let _ = self.persist_slots(plugin, &[slot]);
        self.publish_routes();
    }
}
