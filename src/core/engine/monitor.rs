//! The engine's monitor task: applies runtime and health events to state in arrival order,
//! and once a second samples CPU/RSS, expires warm slots and publishes a status snapshot.

use super::Engine;
use super::report::EngineEvent;
use super::state::{SlotHealth, SlotProcess};
use crate::core::event_kind::EventKind;
use crate::core::health::HealthChange;
use crate::core::procstat::{self, CpuMeter};
use crate::core::runtime::RuntimeEvent;
use crate::core::types::{Health, ProcessState, SlotName};
use chrono::Utc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub(crate) async fn run(
    engine: Engine,
    mut runtime: mpsc::UnboundedReceiver<RuntimeEvent>,
    mut health: mpsc::UnboundedReceiver<HealthChange>,
    mut outliers: mpsc::UnboundedReceiver<crate::core::router::OutlierEvent>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Thresholds are checked more often than the once-a-second bookkeeping, so a bad
    // version is rolled back within a second or two of its window showing it.
    let mut guard = tokio::time::interval(Duration::from_millis(200));
    guard.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Alert rules are evaluated on their own beat: `for 2s` should mean about two seconds,
    // and a slow once-a-second bookkeeping tick must not stretch it.
    let mut alerts = tokio::time::interval(Duration::from_millis(500));
    alerts.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut cpu = CpuMeter::default();
    let mut shutdown = engine.shutdown_requested();
    loop {
        tokio::select! {
            Some(event) = runtime.recv() => engine.on_runtime_event(event),
            Some(change) = health.recv() => engine.on_health_change(change),
            Some(event) = outliers.recv() => engine.on_outlier(event),
            _ = tick.tick() => engine.on_tick(&mut cpu).await,
            _ = guard.tick() => engine.check_rollback_thresholds(),
            _ = alerts.tick() => engine.evaluate_alerts(Utc::now()),
            _ = shutdown.changed() => return,
        }
    }
}

impl Engine {
    fn on_runtime_event(&self, event: RuntimeEvent) {
        if super::replica_events::replica_of(&event) > 0 {
            return self.on_replica_event(event);
        }
        match event {
            RuntimeEvent::Started {
                plugin,
                slot,
                process,
                adopted,
                ..
            } => {
                // A process other than the one the slot was launched with is a restart
                // after a crash: its health is unknown until a fresh checker (in startup
                // mode) says otherwise, or the old checker's verdict would stick.
                let mut restarted = false;
                self.update_slot(&plugin, slot, |s| {
                    restarted = s.process.is_some_and(|p| p != process);
                    s.process = Some(process);
                    s.process_state = SlotProcess(ProcessState::Running);
                    if !adopted && s.started_at.is_none() {
                        s.started_at = Some(Utc::now());
                    }
                    if restarted {
                        s.health = SlotHealth(Health::Unknown);
                        s.health_detail = "restarted; waiting for the first health check".into();
                    }
                });
                if restarted {
                    self.restart_health_checks(&plugin, slot);
                }
            }
            RuntimeEvent::Exited {
                plugin,
                slot,
                process,
                code,
                signal,
                uptime,
                ..
            } => {
                let current = self
                    .lock_plugins()
                    .get(&plugin)
                    .and_then(|p| p.slot(slot))
                    .and_then(|s| s.process);
                if current.is_some_and(|c| c != process) {
                    return; // a previous process of this slot; already replaced
                }
                let how = self.exit_cause(&plugin, slot, 0, code, signal);
                let after = uptime
                    .map(|u| format!(" after {:.1}s", u.as_secs_f64()))
                    .unwrap_or_default();
                self.update_slot(&plugin, slot, |s| {
                    s.process_state = SlotProcess(ProcessState::Restarting);
                    s.health = SlotHealth(Health::Unhealthy);
                    s.health_detail = format!("process exited ({how})");
                    s.restarts += 1;
                });
                if let Some(state) = self.lock_plugins().get_mut(&plugin) {
                    super::alerting::note_restart(&mut state.restart_times, Utc::now());
                }
                self.record(
                    Some(&plugin),
                    Some(slot),
                    EventKind::ProcessExited,
                    if how.starts_with("killed: out of memory") {
                        format!("{slot} {how} (process {}{after})", process.pid)
                    } else {
                        format!("{slot} process {} exited ({how}){after}", process.pid)
                    },
                    serde_json::json!({"pid": process.pid, "code": code, "signal": signal}),
                );
            }
            RuntimeEvent::Restarting { .. } => {}
            RuntimeEvent::Failed {
                plugin,
                slot,
                reason,
                ..
            } => {
                self.update_slot(&plugin, slot, |s| {
                    s.process_state = SlotProcess(ProcessState::Failed);
                    s.health = SlotHealth(Health::Unhealthy);
                    s.health_detail = reason.clone();
                    s.checker = None;
                    s.handle = None;
                    s.process = None;
                });
                self.record(
                    Some(&plugin),
                    Some(slot),
                    EventKind::SlotFailed,
                    format!("{slot} failed: {reason}"),
                    serde_json::json!({"reason": reason}),
                );
            }
            RuntimeEvent::Stopped { plugin, slot, .. } => {
                // Only when no newer process was launched into the slot meanwhile.
                let replaced = self
                    .lock_plugins()
                    .get(&plugin)
                    .and_then(|p| p.slot(slot))
                    .is_some_and(|s| s.handle.is_some());
                if !replaced {
                    self.update_slot(&plugin, slot, |s| {
                        // A slot that failed to start is stopped and then marked failed
                        // with its reason; this event may arrive after that and must not
                        // turn it back into a plain stop.
                        if s.process_state.0 != ProcessState::Failed {
                            s.process_state = SlotProcess(ProcessState::Stopped);
                        }
                        s.process = None;
                    });
                }
            }
        }
    }

    fn on_health_change(&self, change: HealthChange) {
        if change.replica > 0 {
            return self.on_replica_health(change);
        }
        let HealthChange {
            plugin,
            slot,
            health,
            detail,
            ..
        } = change;
        let mut previous = Health::Unknown;
        let mut live = false;
        self.update_slot(&plugin, slot, |s| {
            previous = s.health.0;
            live = s.weight > 0;
            s.health = SlotHealth(health);
            s.health_detail = detail.clone();
            if health == Health::Healthy {
                s.port_note = None;
            }
        });
        if previous != health {
            let weight_note = if live && health == Health::Unhealthy {
                " — it gets no traffic until it recovers"
            } else {
                ""
            };
            self.record(
                Some(&plugin),
                Some(slot),
                EventKind::HealthChanged,
                format!("{slot} is {health}: {detail}{weight_note}"),
                serde_json::json!({"health": health, "detail": detail}),
            );
        }
    }

    /// Replaces the health checker of a slot with a fresh one.
    fn restart_health_checks(&self, plugin: &str, slot: SlotName) {
        let mut plugins = self.lock_plugins();
        let Some(s) = plugins.get_mut(plugin).and_then(|p| p.slots.get_mut(&slot)) else {
            return;
        };
        let (Some(spec), Some(port)) = (s.spec.as_ref(), s.port) else {
            return;
        };
        s.checker = Some(self.health_checker(plugin, slot, port, spec));
    }

    /// Applies a change to a slot, persists it and republishes the routes.
    pub(super) fn update_slot(
        &self,
        plugin: &str,
        slot: SlotName,
        change: impl FnOnce(&mut super::state::SlotState),
    ) {
        {
            let mut plugins = self.lock_plugins();
            let Some(state) = plugins.get_mut(plugin) else {
                return;
            };
            // A late event of a removed preview must not bring its slot back.
            if slot.is_preview() && state.slot(slot).is_none() {
                return;
            }
            change(state.slot_mut(slot));
        }
        if let Err(e) = self.persist_slots(plugin, &[slot]) {
            tracing::error!("could not persist {plugin}/{slot}: {e}");
        }
        self.publish_routes();
    }

    async fn on_tick(&self, cpu: &mut CpuMeter) {
        let now = Instant::now();
        // (plugin, slot, replica, process group) of every running process.
        let groups: Vec<(String, SlotName, u32, u32)> = {
            let plugins = self.lock_plugins();
            let mut groups = Vec::new();
            for (name, p) in plugins.iter() {
                for (slot, s) in &p.slots {
                    if let Some(pr) = s.process {
                        groups.push((name.clone(), *slot, 0, pr.pid));
                    }
                    for r in &s.replicas {
                        if let Some(pr) = r.process {
                            groups.push((name.clone(), *slot, r.index, pr.pid));
                        }
                    }
                }
            }
            groups
        };
        let pgids: Vec<u32> = groups.iter().map(|(_, _, _, pid)| *pid).collect();
        let usage = tokio::task::spawn_blocking(move || procstat::usage_by_group(&pgids))
            .await
            .unwrap_or_default();
        let mut expired = Vec::new();
        {
            let mut plugins = self.lock_plugins();
            for (plugin, slot, replica, pgid) in &groups {
                let Some(s) = plugins.get_mut(plugin).and_then(|p| p.slots.get_mut(slot)) else {
                    continue;
                };
                let Some(u) = usage.get(pgid) else {
                    continue;
                };
                let percent = cpu.percent(*pgid, u.cpu_ticks, now);
                if *replica == 0 {
                    s.cpu_percent = percent;
                    s.rss_bytes = u.rss_bytes;
                } else if let Some(r) = s.replica_mut(*replica) {
                    r.cpu_percent = percent;
                    r.rss_bytes = u.rss_bytes;
                }
            }
            let utc_now = Utc::now();
            for (plugin, p) in plugins.iter() {
                for (slot, s) in &p.slots {
                    if s.weight == 0
                        && s.warm_until.is_some_and(|t| t <= utc_now)
                        && p.rollout.is_none()
                    {
                        expired.push((plugin.clone(), *slot));
                    }
                }
            }
        }
        for (plugin, slot) in expired {
            // In the background: a long drain must not hold up the monitor.
            self.stop_slot_in_background(&plugin, slot, "keep_previous_warm elapsed");
        }
        self.expire_previews(Utc::now()).await;
        self.refresh_port_notes().await;
        if self.inner.events.receiver_count() > 0
            && let Ok(report) = self.status(None)
        {
            let _ = self.inner.events.send(EngineEvent::Snapshot(report));
        }
    }
}
