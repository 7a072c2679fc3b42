//! How a slot's supervisor tells the world what happened: runtime events for the engine,
//! engine lines in the log hub for users, and the status its handle reads.

use super::{ProcessId, RuntimeEvent};
use crate::core::logs::{LogHub, LogLine};
use crate::core::types::{Level, LogSource, ProcessState, SlotName};
use chrono::Utc;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// The slot's current process and state, shared between its supervisor and its handle.
#[derive(Debug)]
pub(super) struct SlotStatus {
    inner: Mutex<(Option<ProcessId>, ProcessState)>,
}

impl SlotStatus {
    pub fn new(process: Option<ProcessId>, state: ProcessState) -> Arc<Self> {
        Arc::new(SlotStatus {
            inner: Mutex::new((process, state)),
        })
    }

    pub fn get(&self) -> (Option<ProcessId>, ProcessState) {
        // The tuple is always whole; a panic elsewhere cannot leave it half-written.
        *self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn set(&self, process: Option<ProcessId>, state: ProcessState) {
        *self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = (process, state);
    }

    pub fn set_state(&self, state: ProcessState) {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .1 = state;
    }
}

/// Sends runtime events and engine log lines about one slot.
#[derive(Clone)]
pub(super) struct Reporter {
    pub plugin: String,
    pub slot: SlotName,
    pub replica: u32,
    pub logs: LogHub,
    pub events: mpsc::UnboundedSender<RuntimeEvent>,
}

impl Reporter {
    /// Sends an event; if the engine stopped listening there is nobody left to tell.
    pub fn event(&self, event: RuntimeEvent) {
        let _ = self.events.send(event);
    }

    /// Writes an engine line about the slot, shown with the plugin's own output.
    pub fn note(&self, level: Level, message: String) {
        self.logs.push_line(LogLine {
            seq: 0,
            ts: Utc::now(),
            plugin: self.plugin.clone(),
            slot: Some(self.slot),
            source: LogSource::Engine,
            level,
            message,
            fields: None,
        });
    }

    pub fn started(&self, process: ProcessId, adopted: bool) {
        self.event(RuntimeEvent::Started {
            plugin: self.plugin.clone(),
            slot: self.slot,
            replica: self.replica,
            process,
            adopted,
        });
    }

    pub fn restarting(&self, attempt: u32, delay: Duration) {
        self.event(RuntimeEvent::Restarting {
            plugin: self.plugin.clone(),
            slot: self.slot,
            replica: self.replica,
            attempt,
            delay,
        });
    }

    pub fn failed(&self, reason: String) {
        self.event(RuntimeEvent::Failed {
            plugin: self.plugin.clone(),
            slot: self.slot,
            replica: self.replica,
            reason,
        });
    }

    pub fn stopped(&self) {
        self.event(RuntimeEvent::Stopped {
            plugin: self.plugin.clone(),
            slot: self.slot,
            replica: self.replica,
        });
    }
}

/// Short human durations for log lines: `0.2s`, `1s`, `500ms`, `2m 5s`.
pub(super) fn short_duration(d: Duration) -> String {
    if d >= Duration::from_secs(60) {
        return humantime::format_duration(Duration::from_secs(d.as_secs())).to_string();
    }
    if d.subsec_nanos() == 0 {
        return format!("{}s", d.as_secs());
    }
    if d < Duration::from_secs(1) && d.subsec_nanos().is_multiple_of(1_000_000) {
        return format!("{}ms", d.as_millis());
    }
    format!("{:.1}s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(short_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(short_duration(Duration::from_secs(1)), "1s");
        assert_eq!(short_duration(Duration::from_micros(200_300)), "0.2s");
        assert_eq!(short_duration(Duration::from_millis(2500)), "2.5s");
        assert_eq!(short_duration(Duration::from_secs(125)), "2m 5s");
    }
}
