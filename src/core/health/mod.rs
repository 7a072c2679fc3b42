//! Periodic health checks of one slot's process (HTTP GET or TCP connect), with
//! consecutive-result thresholds so one slow answer does not flip a slot.

mod probe;
mod tracker;

#[cfg(test)]
mod tests;

use crate::core::types::{Health, SlotName};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracker::Tracker;

pub use probe::probe_once;

/// A zero interval would spin; checks never run more often than this.
const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// How a slot is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// `GET http://127.0.0.1:PORT{url_path}`; 2xx and 3xx pass.
    Http { url_path: String },
    /// A TCP connect to 127.0.0.1:PORT passes.
    Tcp,
}

/// How often and how strictly a slot is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthConfig {
    /// What one check does.
    pub probe: Probe,
    /// Time between the starts of two checks.
    pub interval: Duration,
    /// How long one check may take before it counts as failed.
    pub timeout: Duration,
    /// Consecutive failures that make a slot unhealthy (0 counts as 1).
    pub unhealthy_threshold: u32,
    /// Consecutive successes that make a slot healthy (0 counts as 1).
    pub healthy_threshold: u32,
    /// A new process gets this long to come up: until its first passing check (or until
    /// this runs out) checks run every `STARTUP_PROBE_INTERVAL` and failures do not count,
    /// so a deploy waits milliseconds rather than a whole interval, and a slot that is
    /// still binding its port is not reported unhealthy.
    pub startup_grace: Duration,
}

/// Probe rate while a slot starts up.
const STARTUP_PROBE_INTERVAL: Duration = Duration::from_millis(25);

/// A slot's health changed, or (health still `Unknown`) a starting slot's check failed in a
/// new way.
#[derive(Clone, Debug)]
pub struct HealthChange {
    /// The plugin the slot belongs to.
    pub plugin: String,
    /// The slot that changed.
    pub slot: SlotName,
    /// Which of its replicas (0 for the slot's first process).
    pub replica: u32,
    /// Its new health.
    pub health: Health,
    /// The check that decided it, e.g. "GET /health → 503" or "GET /health: connection refused".
    pub detail: String,
}

/// A running health checker; dropping it stops the checks.
#[derive(Debug)]
pub struct HealthChecker {
    task: JoinHandle<()>,
}

impl HealthChecker {
    /// Stops the checks.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for HealthChecker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts checking a slot: the first check runs at once, then one every `cfg.interval`.
/// Every change of health (starting from `Unknown`) is sent on `changes`; the checker ends
/// by itself when the receiver is dropped. Must be called inside a tokio runtime.
pub fn spawn_checker(
    plugin: String,
    slot: SlotName,
    replica: u32,
    port: u16,
    cfg: HealthConfig,
    client: reqwest::Client,
    changes: mpsc::UnboundedSender<HealthChange>,
) -> HealthChecker {
    let task = tokio::spawn(async move {
        let mut tracker = Tracker::new(cfg.healthy_threshold, cfg.unhealthy_threshold);
        let startup_deadline = tokio::time::Instant::now() + cfg.startup_grace;
        let interval = cfg.interval.max(MIN_INTERVAL);
        // Startup ends at the first passing check or at the deadline, whichever comes first.
        let mut starting = !cfg.startup_grace.is_zero();
        let mut next = tokio::time::Instant::now();
        // While starting, each new kind of failure is reported (health stays Unknown), so
        // that a slot that never comes up shows its last check, not "waiting".
        let mut reported_while_starting: Option<String> = None;
        loop {
            tokio::time::sleep_until(next).await;
            if changes.is_closed() {
                return;
            }
            let began = tokio::time::Instant::now();
            starting = starting && began < startup_deadline;
            let result = probe::check(port, &cfg.probe, cfg.timeout, &client).await;
            // While starting, a failure is a process still binding its port, not a verdict.
            if starting
                && let Err(detail) = &result
                && reported_while_starting.as_ref() != Some(detail)
            {
                reported_while_starting = Some(detail.clone());
                let change = HealthChange {
                    plugin: plugin.clone(),
                    slot,
                    replica,
                    health: Health::Unknown,
                    detail: detail.clone(),
                };
                if changes.send(change).is_err() {
                    return;
                }
            }
            let change = if starting && result.is_err() {
                None
            } else {
                tracker.observe(result.is_ok())
            };
            if let Some(health) = change {
                let detail = match result {
                    Ok(detail) | Err(detail) => detail,
                };
                let change = HealthChange {
                    plugin: plugin.clone(),
                    slot,
                    replica,
                    health,
                    detail,
                };
                if changes.send(change).is_err() {
                    return;
                }
            }
            starting = starting && tracker.health() != Health::Healthy;
            let now = tokio::time::Instant::now();
            next = if starting {
                now + STARTUP_PROBE_INTERVAL
            } else if now > began + interval {
                // After a slow check, a full interval before the next one rather than a
                // burst of catch-up checks at a struggling process.
                now + interval
            } else {
                began + interval
            };
        }
    });
    HealthChecker { task }
}
