//! Runtime and health events of a slot's extra replicas (1 and up), and what an exit says
//! when the process ran out of its memory limit.

use super::Engine;
use super::state::{SlotHealth, SlotProcess};
use crate::core::event_kind::EventKind;
use crate::core::health::HealthChange;
use crate::core::runtime::{RuntimeEvent, looks_out_of_memory, unit_name};
use crate::core::types::{Health, ProcessState, SlotName};
use crate::core::workspace::show_bytes;

/// Which replica an event is about.
pub(super) fn replica_of(event: &RuntimeEvent) -> u32 {
    match event {
        RuntimeEvent::Started { replica, .. }
        | RuntimeEvent::Exited { replica, .. }
        | RuntimeEvent::Restarting { replica, .. }
        | RuntimeEvent::Failed { replica, .. }
        | RuntimeEvent::Stopped { replica, .. } => *replica,
    }
}

impl Engine {
    pub(super) fn on_replica_event(&self, event: RuntimeEvent) {
        match event {
            RuntimeEvent::Started {
                plugin,
                slot,
                replica,
                process,
                ..
            } => {
                let mut restarted = false;
                self.update_slot(&plugin, slot, |s| {
                    if let Some(r) = s.replica_mut(replica) {
                        restarted = r.process.is_some_and(|p| p != process);
                        r.process = Some(process);
                        r.process_state = SlotProcess(ProcessState::Running);
                        if restarted {
                            r.health = SlotHealth(Health::Unknown);
                            r.health_detail =
                                "restarted; waiting for the first health check".into();
                        }
                    }
                });
                if restarted {
                    self.restart_replica_checks(&plugin, slot, replica);
                }
            }
            RuntimeEvent::Exited {
                plugin,
                slot,
                replica,
                process,
                code,
                signal,
                ..
            } => {
                let how = self.exit_cause(&plugin, slot, replica, code, signal);
                let mut current = false;
                self.update_slot(&plugin, slot, |s| {
                    if let Some(r) = s.replica_mut(replica)
                        && r.process.is_none_or(|p| p == process)
                    {
                        current = true;
                        r.process_state = SlotProcess(ProcessState::Restarting);
                        r.health = SlotHealth(Health::Unhealthy);
                        r.health_detail = format!("process exited ({how})");
                        r.restarts += 1;
                    }
                });
                if current {
                    self.record(
                        Some(&plugin),
                        Some(slot),
                        EventKind::ProcessExited,
                        format!("{slot} replica {replica} process {} exited ({how})", process.pid),
                        serde_json::json!({"pid": process.pid, "code": code, "signal": signal, "replica": replica}),
                    );
                }
            }
            RuntimeEvent::Restarting { .. } => {}
            RuntimeEvent::Failed {
                plugin,
                slot,
                replica,
                reason,
            } => {
                self.update_slot(&plugin, slot, |s| {
                    if let Some(r) = s.replica_mut(replica) {
                        r.process_state = SlotProcess(ProcessState::Failed);
                        r.health = SlotHealth(Health::Unhealthy);
                        r.health_detail = reason.clone();
                        r.checker = None;
                        r.handle = None;
                        r.process = None;
                    }
                });
                self.record(
                    Some(&plugin),
                    Some(slot),
                    EventKind::SlotFailed,
                    format!("{slot} replica {replica} failed: {reason}"),
                    serde_json::json!({"reason": reason, "replica": replica}),
                );
            }
            RuntimeEvent::Stopped { .. } => {}
        }
    }

    pub(super) fn on_replica_health(&self, change: HealthChange) {
        let HealthChange {
            plugin,
            slot,
            replica,
            health,
            detail,
        } = change;
        let mut previous = Health::Unknown;
        self.update_slot(&plugin, slot, |s| {
            if let Some(r) = s.replica_mut(replica) {
                previous = r.health.0;
                r.health = SlotHealth(health);
                r.health_detail = detail.clone();
            }
        });
        if previous != health {
            self.record(
                Some(&plugin),
                Some(slot),
                EventKind::HealthChanged,
                format!("{slot} replica {replica} is {health}: {detail}"),
                serde_json::json!({"health": health, "detail": detail, "replica": replica}),
            );
        }
    }

    fn restart_replica_checks(&self, plugin: &str, slot: SlotName, replica: u32) {
        let mut plugins = self.lock_plugins();
        let Some(s) = plugins.get_mut(plugin).and_then(|p| p.slots.get_mut(&slot)) else {
            return;
        };
        let Some(spec) = s.spec.clone() else {
            return;
        };
        if let Some(r) = s.replica_mut(replica) {
            r.checker = Some(self.replica_checker(plugin, slot, replica, r.port, &spec));
        }
    }

    /// "exit code 1", "signal 9", or, when the slot has a memory limit and the exit looks
    /// like running out of it, "killed: out of memory, limit 256Mi".
    pub(super) fn exit_cause(
        &self,
        plugin: &str,
        slot: SlotName,
        replica: u32,
        code: Option<i32>,
        signal: Option<i32>,
    ) -> String {
        let limit = self
            .lock_plugins()
            .get(plugin)
            .and_then(|p| p.slot(slot))
            .and_then(|s| s.spec.as_ref())
            .and_then(|s| s.run.resources.memory_bytes);
        if let Some(limit) = limit {
            // The file, not the log hub: the process has exited, so everything it wrote is
            // there, whereas the tailer may not have read its last lines yet.
            let path = super::slot_log_dir(&self.state_dir())
                .join(format!("{}.stderr.log", unit_name(plugin, slot, replica)));
            let tail = stderr_tail(&path);
            if looks_out_of_memory(signal, &tail) {
                return format!("killed: out of memory, limit {}", show_bytes(limit));
            }
        }
        match (code, signal) {
            (Some(code), _) => format!("exit code {code}"),
            (None, Some(sig)) => format!("signal {sig}"),
            _ => "unknown status".to_string(),
        }
    }
}

impl Engine {
    /// The router ejected a replica, or a probe brought it back: an event says so.
    pub(super) fn on_outlier(&self, event: crate::core::router::OutlierEvent) {
        use crate::core::metrics::OutlierChange;
        let crate::core::router::OutlierEvent {
            plugin,
            slot,
            replica,
            addr,
            change,
        } = event;
        match change {
            OutlierChange::Ejected {
                consecutive,
                duration,
            } => self.record(
                Some(&plugin),
                Some(slot),
                EventKind::ReplicaEjected,
                format!(
                    "router ejected {slot} replica {replica} ({addr}) for {} after {consecutive} failed answer(s) in a row; it is probed again then",
                    humantime::format_duration(duration)
                ),
                serde_json::json!({"replica": replica, "consecutive": consecutive, "ejected_ms": duration.as_millis() as u64}),
            ),
            OutlierChange::Returned => self.record(
                Some(&plugin),
                Some(slot),
                EventKind::ReplicaReturned,
                format!("{slot} replica {replica} ({addr}) answered its probe: back in rotation"),
                serde_json::json!({"replica": replica}),
            ),
        }
    }
}

/// The last 4 KiB of a log file, as text.
fn stderr_tail(path: &std::path::Path) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(4096)));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}
