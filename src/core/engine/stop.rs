//! Stopping a slot without cutting what it is serving: the slot leaves the route table at
//! once, then the engine waits until the router has no request in flight to it (or its
//! `stop_grace` passed) before SIGTERM — what nginx's graceful shutdown and Envoy's drain
//! do. Every stop comes here: an immediate deploy's flip, warm-slot expiry, an aborted
//! canary, a preview's end. The `slot_stopped` event says whether it drained or timed out.

use super::Engine;
use super::state::{SlotHealth, SlotProcess};
use crate::core::event_kind::EventKind;
use crate::core::runtime::SlotHandle;
use crate::core::types::{Health, ProcessState, SlotName};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often a draining stop looks at the slot's in-flight gauge.
const DRAIN_POLL: Duration = Duration::from_millis(20);
/// Used when a slot has no stored run spec (cannot happen for a launched slot).
const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(5);

/// A stop that took the slot out of traffic and still has to drain and signal it.
pub(crate) struct PendingStop {
    handle: SlotHandle,
    extras: Vec<SlotHandle>,
    version: String,
    grace: Duration,
    done: watch::Sender<bool>,
}

/// How the wait for in-flight requests ended.
#[derive(Debug, PartialEq)]
pub(crate) enum Drain {
    Drained { after: Duration },
    TimedOut { after: Duration, in_flight: u64 },
}

impl Drain {
    fn describe(&self) -> String {
        match self {
            Drain::Drained { after } => {
                format!("drained: 0 in flight after {:.1} s", after.as_secs_f64())
            }
            Drain::TimedOut { after, in_flight } => format!(
                "drain timed out after {:.1} s with {in_flight} in flight",
                after.as_secs_f64()
            ),
        }
    }
}

impl Engine {
    /// Stops a slot and waits until it has stopped: out of the route table, drained (or
    /// `stop_grace` passed), then SIGTERM, grace, SIGKILL.
    pub(crate) async fn stop_slot(&self, plugin: &str, slot: SlotName, why: &str) {
        self.wait_for_stop(plugin, slot).await;
        if let Some(pending) = self.begin_stop(plugin, slot, why) {
            self.finish_stop(plugin, slot, why, pending).await;
        }
    }

    /// Takes the slot out of the route table now and drains and stops it in the
    /// background: an action that has moved traffic has done its job, and its answer
    /// should not wait for the last stream on the old slot. A later start in the same
    /// slot waits for this stop to finish. A slot already stopping is left to that stop.
    pub(crate) fn stop_slot_in_background(&self, plugin: &str, slot: SlotName, why: &str) {
        if let Some(pending) = self.begin_stop(plugin, slot, why) {
            let engine = self.clone();
            let (plugin, why) = (plugin.to_string(), why.to_string());
            tokio::spawn(async move { engine.finish_stop(&plugin, slot, &why, pending).await });
        }
    }

    /// Waits until a stop of this slot that is under way (draining) has finished.
    pub(crate) async fn wait_for_stop(&self, plugin: &str, slot: SlotName) {
        let stopping = self
            .lock_plugins()
            .get(plugin)
            .and_then(|p| p.slot(slot))
            .and_then(|s| s.stopping.clone());
        if let Some(mut done) = stopping {
            // An error means the stop's task is gone, which also means it is over.
            let _ = done.wait_for(|done| *done).await;
        }
    }

    /// Takes the slot out of traffic and hands back what is left to do; `None` when it
    /// has no process (or another stop already took it).
    fn begin_stop(&self, plugin: &str, slot: SlotName, why: &str) -> Option<PendingStop> {
        let (done, stopping) = watch::channel(false);
        let (handle, extras, version, grace) = {
            let mut plugins = self.lock_plugins();
            let state = plugins
                .get_mut(plugin)
                .and_then(|p| p.slots.get_mut(&slot))?;
            state.checker = None;
            let handle = state.handle.take()?;
            // The other replicas stop with the slot; the slot's in-flight gauge counts
            // requests on all of them.
            let extras: Vec<SlotHandle> = state
                .replicas
                .drain(..)
                .filter_map(|mut r| {
                    r.checker = None;
                    r.handle.take()
                })
                .collect();
            state.process_state = SlotProcess(ProcessState::Stopping);
            state.weight = 0;
            // No longer a rollback target, and not expired a second time.
            state.warm_until = None;
            state.stopping = Some(stopping);
            let grace = state
                .spec
                .as_ref()
                .map_or(DEFAULT_STOP_GRACE, |s| s.run.stop_grace);
            (
                handle,
                extras,
                state.version.clone().unwrap_or_default(),
                grace,
            )
        };
        self.publish_routes();
        let in_flight = self.inner.metrics.slot(plugin, slot).in_flight();
        if in_flight > 0 {
            self.record(
                Some(plugin),
                Some(slot),
                EventKind::SlotDraining,
                format!(
                    "draining {slot} {version} ({why}): {in_flight} in flight; it stops when they finish or after {} (stop_grace)",
                    humantime::format_duration(grace)
                ),
                serde_json::json!({"reason": why, "in_flight": in_flight, "stop_grace_ms": grace.as_millis() as u64}),
            );
        }
        Some(PendingStop {
            handle,
            extras,
            version,
            grace,
            done,
        })
    }

    async fn finish_stop(&self, plugin: &str, slot: SlotName, why: &str, pending: PendingStop) {
        let PendingStop {
            handle,
            extras,
            version,
            grace,
            done,
        } = pending;
        let drain = self.drain(plugin, slot, grace).await;
        let mut stops = tokio::task::JoinSet::new();
        for extra in extras {
            stops.spawn(extra.stop());
        }
        handle.stop().await;
        while stops.join_next().await.is_some() {}
        {
            let mut plugins = self.lock_plugins();
            if let Some(state) = plugins.get_mut(plugin).and_then(|p| p.slots.get_mut(&slot)) {
                state.process_state = SlotProcess(ProcessState::Stopped);
                state.health = SlotHealth(Health::Unknown);
                state.health_detail = format!("stopped: {why}");
                state.port_note = None;
                state.process = None;
                state.warm_until = None;
                state.cpu_percent = 0.0;
                state.rss_bytes = 0;
                state.stopping = None;
            }
        }
        if let Err(e) = self.persist_slots(plugin, &[slot]) {
            tracing::error!("could not persist the stop of {plugin}/{slot}: {e}");
        }
        let (drained, waited, left) = match &drain {
            Drain::Drained { after } => (true, after, 0),
            Drain::TimedOut { after, in_flight } => (false, after, *in_flight),
        };
        self.record(
            Some(plugin),
            Some(slot),
            EventKind::SlotStopped,
            format!("stopped {slot} {version} ({why}; {})", drain.describe()),
            serde_json::json!({
                "reason": why,
                "drained": drained,
                "drain_ms": waited.as_millis() as u64,
                "in_flight": left,
            }),
        );
        let _ = done.send(true);
    }

    /// Waits until the router has nothing in flight to the slot, or `grace` passed.
    async fn drain(&self, plugin: &str, slot: SlotName, grace: Duration) -> Drain {
        let metrics = self.inner.metrics.slot(plugin, slot);
        let started = Instant::now();
        loop {
            // Polled before the first look too: a request that picked this slot from the
            // route table just replaced is counted a moment after it was routed.
            tokio::time::sleep(DRAIN_POLL).await;
            let in_flight = metrics.in_flight();
            if in_flight == 0 {
                return Drain::Drained {
                    after: started.elapsed(),
                };
            }
            if started.elapsed() >= grace {
                return Drain::TimedOut {
                    after: started.elapsed(),
                    in_flight,
                };
            }
        }
    }
}
