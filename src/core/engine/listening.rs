//! A slot that does not answer on its port may be listening on another one (a plugin that
//! ignores `{port}` and `$PORT`): find which, from the sockets its processes hold, so the
//! user is told rather than left with "connection refused".

use super::{Engine, slot_log_dir};
use crate::core::procstat;
use crate::core::runtime::{LocalRuntime, ProcessId};
use crate::core::types::{Health, SlotName};
use std::path::PathBuf;

impl Engine {
    /// For every running slot that is not healthy: which other ports its processes listen
    /// on, if any. Once a second from the monitor; healthy slots cost nothing.
    pub(crate) async fn refresh_port_notes(&self) {
        let candidates: Vec<(String, SlotName, ProcessId, u16)> = {
            let plugins = self.lock_plugins();
            plugins
                .iter()
                .flat_map(|(name, p)| {
                    p.slots.iter().filter_map(move |(slot, s)| {
                        let unhealthy = s.health.0 != Health::Healthy && s.handle.is_some();
                        Some((name.clone(), *slot, s.process?, s.port?)).filter(|_| unhealthy)
                    })
                })
                .collect()
        };
        if candidates.is_empty() {
            return;
        }
        let log_dir = slot_log_dir(&self.state_dir());
        let notes = tokio::task::spawn_blocking(move || {
            candidates
                .into_iter()
                .map(|(plugin, slot, leader, port)| {
                    let note = port_note_for(&log_dir, &plugin, slot, leader, port);
                    (plugin, slot, leader, note)
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        let mut plugins = self.lock_plugins();
        for (plugin, slot, leader, note) in notes {
            if let Some(s) = plugins
                .get_mut(&plugin)
                .and_then(|p| p.slots.get_mut(&slot))
                && s.process == Some(leader)
                && s.health.0 != Health::Healthy
            {
                s.port_note = note;
            }
        }
    }

    /// The same, for one slot, now.
    pub(crate) async fn port_note_now(&self, plugin: &str, slot: SlotName) -> Option<String> {
        let (leader, port) = {
            let plugins = self.lock_plugins();
            let s = plugins.get(plugin)?.slot(slot)?;
            (s.process?, s.port?)
        };
        let log_dir: PathBuf = slot_log_dir(&self.state_dir());
        let plugin = plugin.to_string();
        tokio::task::spawn_blocking(move || port_note_for(&log_dir, &plugin, slot, leader, port))
            .await
            .ok()
            .flatten()
    }
}

fn port_note_for(
    log_dir: &std::path::Path,
    plugin: &str,
    slot: SlotName,
    leader: ProcessId,
    port: u16,
) -> Option<String> {
    let pids: Vec<u32> = LocalRuntime::slot_processes(log_dir, plugin, slot, Some(leader))
        .iter()
        .map(|p| p.pid)
        .collect();
    port_note(port, &procstat::listening_ports(&pids))
}

/// "it listens on port 8000 instead of 41234; …" when the slot's processes listen, but not
/// on its own port.
fn port_note(port: u16, listening: &[u16]) -> Option<String> {
    if listening.is_empty() || listening.contains(&port) {
        return None;
    }
    let ports: Vec<String> = listening.iter().map(u16::to_string).collect();
    let which = if ports.len() == 1 { "port" } else { "ports" };
    Some(format!(
        "it listens on {which} {} instead of {port}: make it listen on {{port}} (also in $PORT)",
        ports.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::port_note;

    #[test]
    fn names_the_other_ports_only() {
        assert_eq!(port_note(4000, &[]), None);
        assert_eq!(port_note(4000, &[4000, 9000]), None);
        assert_eq!(
            port_note(4000, &[8000]).as_deref(),
            Some(
                "it listens on port 8000 instead of 4000: make it listen on {port} (also in $PORT)"
            )
        );
        assert!(port_note(4000, &[8000, 8001]).is_some_and(|n| n.contains("ports 8000, 8001")));
    }
}
