//! Turning engine state into the router's table, and into the status report.

use super::report::{PluginStatus, SlotStatus, StatusReport};
use super::{Engine, EngineError};
use crate::core::logs::{LogHub, LogLine};
use crate::core::procstat;
use crate::core::router::{
    FailureSink, PluginRoute, ReplicaTarget, RouteMatch, RouteTable, SlotTarget, StickyBy,
    UpstreamFailure,
};
use crate::core::types::{Level, LogSource};
use crate::core::workspace::{Route, Sticky};
use chrono::Utc;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Puts every failed exchange between the router and a slot in that plugin's logs, as an
/// engine line of the slot: an error when the client got a 502, a warning when the request
/// was retried on another slot.
pub(super) fn upstream_failure_sink(logs: LogHub) -> FailureSink {
    std::sync::Arc::new(move |failure: &UpstreamFailure| {
        logs.push_line(LogLine {
            seq: 0,
            ts: Utc::now(),
            plugin: failure.plugin.clone(),
            slot: Some(failure.slot),
            source: LogSource::Engine,
            level: if failure.retried_on.is_some() {
                Level::Warn
            } else {
                Level::Error
            },
            message: failure.message(),
            fields: None,
        });
    })
}

impl Engine {
    /// Rebuilds the route table from the current state and swaps it in atomically: new
    /// requests see the new weights, in-flight ones finish where they started.
    pub(crate) fn publish_routes(&self) {
        let table = {
            let ws = self.workspace();
            let plugins = self.lock_plugins();
            let mut routes = Vec::with_capacity(ws.plugins.len());
            for manifest in &ws.plugins {
                let mut slots = Vec::new();
                let closed = self.closed_body(&manifest.name);
                if let Some(state) = plugins.get(&manifest.name).filter(|_| closed.is_none()) {
                    for (name, slot) in &state.slots {
                        let (Some(port), Some(version)) = (slot.port, slot.version.as_ref()) else {
                            continue;
                        };
                        let local = |port| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
                        let mut replicas = Vec::with_capacity(1 + slot.replicas.len());
                        // Replica 0 while it has a process (a rolling restart takes it out
                        // of rotation and starts it anew).
                        if slot.handle.is_some() || slot.replicas.is_empty() {
                            replicas.push(ReplicaTarget {
                                index: 0,
                                addr: local(port),
                                healthy: slot.primary_serving(),
                                stats: self.inner.metrics.replica(&manifest.name, *name, 0),
                            });
                        }
                        for r in &slot.replicas {
                            replicas.push(ReplicaTarget {
                                index: r.index,
                                addr: local(r.port),
                                healthy: r.is_serving(),
                                stats: self.inner.metrics.replica(&manifest.name, *name, r.index),
                            });
                        }
                        slots.push(SlotTarget {
                            slot: *name,
                            version: version.clone(),
                            weight: slot.weight,
                            healthy: slot.is_serving(),
                            metrics: self.inner.metrics.slot(&manifest.name, *name),
                            replicas,
                        });
                    }
                }
                routes.push(PluginRoute {
                    name: manifest.name.clone(),
                    matcher: match &manifest.route {
                        Route::Prefix { prefix, strip } => RouteMatch::Prefix {
                            prefix: prefix.clone(),
                            strip: *strip,
                        },
                        Route::Host(host) => RouteMatch::Host(host.clone()),
                    },
                    sticky: manifest.sticky.as_ref().map(|s| match s {
                        Sticky::Header(h) => StickyBy::Header(h.clone()),
                        Sticky::Cookie(c) => StickyBy::Cookie(c.clone()),
                    }),
                    slots,
                    closed,
                    outlier: manifest.outlier.clone(),
                });
            }
            RouteTable { plugins: routes }
        };
        self.inner.router.set_table(table);
    }

    /// The state of every plugin (or one), with live metrics.
    pub fn status(&self, only: Option<&str>) -> Result<StatusReport, EngineError> {
        if let Some(name) = only {
            self.require_plugin(name)?;
        }
        // Taken before the plugin lock: the alerts lock is never held while taking it.
        let now = Utc::now();
        let mut active_alerts: Vec<super::AlertRow> = self
            .alert_rows(only, now)
            .into_iter()
            .filter(|a| a.state == "pending" || a.state == "firing")
            .collect();
        let ws = self.workspace();
        // From the store, before the plugin lock is taken.
        let mut last_rollouts = std::collections::BTreeMap::new();
        for manifest in &ws.plugins {
            if only.is_some_and(|name| name != manifest.name) {
                continue;
            }
            let last = match self.last_rollout(&manifest.name, now) {
                Ok(last) => last,
                Err(e) => {
                    tracing::warn!("cannot read the last rollout of {}: {e}", manifest.name);
                    None
                }
            };
            if let Some(alert) = last
                .as_ref()
                .and_then(|l| self.rollback_alert(&manifest.name, l))
                && !active_alerts
                    .iter()
                    .any(|a| a.plugin == alert.plugin && a.rule == alert.rule)
            {
                // Critical, so first: the list is most severe first.
                active_alerts.insert(0, alert);
            }
            last_rollouts.insert(manifest.name.clone(), last);
        }
        let plugins = self.lock_plugins();
        let mut out = Vec::new();
        for manifest in &ws.plugins {
            if only.is_some_and(|name| name != manifest.name) {
                continue;
            }
            let state = plugins.get(&manifest.name);
            let mut slots = Vec::new();
            let mut previews = Vec::new();
            let names = state.map(|s| s.slots.keys().copied().collect::<Vec<_>>());
            for name in names.unwrap_or_default() {
                let Some(slot) = state.and_then(|s| s.slot(name)) else {
                    continue;
                };
                let list = if name.is_preview() {
                    &mut previews
                } else {
                    &mut slots
                };
                list.push(SlotStatus {
                    slot: name,
                    version: slot.version.clone(),
                    process_state: slot.process_state.0,
                    health: slot.health.0,
                    health_detail: slot.detail(),
                    pid: slot.process.map(|p| p.pid),
                    port: slot.port,
                    weight: slot.weight,
                    restarts: slot.restarts,
                    started_at: slot.started_at,
                    warm_until: slot.warm_until,
                    expires_at: slot.expires_at,
                    cpu_percent: slot.cpu_percent,
                    // Sampled once a second for the whole process group; a process younger
                    // than that shows its own memory rather than nothing.
                    rss_bytes: match (slot.rss_bytes, slot.process) {
                        (0, Some(p)) => procstat::resident_bytes(p.pid).unwrap_or(0),
                        (rss, _) => rss,
                    },
                    metrics: self.inner.metrics.slot(&manifest.name, name).snapshot(),
                    replicas: self.replica_statuses(&manifest.name, name, slot),
                    limits: slot
                        .spec
                        .as_ref()
                        .map(|s| super::replicas::limits_of(s).applied())
                        .unwrap_or_default(),
                });
            }
            let live_version = state
                .and_then(|s| s.live_slot().and_then(|l| s.slot(l)))
                .and_then(|s| s.version.clone());
            out.push(PluginStatus {
                name: manifest.name.clone(),
                route: match &manifest.route {
                    Route::Prefix { prefix, .. } => prefix.clone(),
                    Route::Host(host) => format!("host:{host}"),
                },
                manifest_version: manifest.version.clone(),
                strategy: manifest.strategy.kind,
                live_version,
                slots,
                rollout: state.and_then(|s| s.rollout.clone()).map(|mut r| {
                    if let Some(c) = state.and_then(|s| s.canary.as_ref()) {
                        super::canary::describe_canary(&mut r, c);
                    }
                    r
                }),
                last_rollout: last_rollouts.remove(&manifest.name).flatten(),
                alerts: active_alerts
                    .iter()
                    .filter(|a| a.plugin == manifest.name)
                    .cloned()
                    .collect(),
                previews,
                disabled: self.disabled(&manifest.name),
                incident: self.open_incident_of(&manifest.name),
            });
        }
        let broken = ws
            .broken
            .iter()
            .filter(|b| only.is_none_or(|name| name == b.label()))
            .map(|b| super::report::BrokenPluginStatus {
                name: b.label(),
                manifest: b.manifest_path.display().to_string(),
                problems: b.problems.0.iter().map(|p| p.to_string()).collect(),
            })
            .collect();
        let mut engine = self.inner.info.clone();
        engine.environment = ws.environment;
        Ok(StatusReport {
            engine,
            store: self.inner.store_health.get(),
            plugins: out,
            broken,
        })
    }
}

impl Engine {
    /// The slot's processes for status, when it runs more than one.
    fn replica_statuses(
        &self,
        plugin: &str,
        name: crate::core::types::SlotName,
        slot: &super::state::SlotState,
    ) -> Vec<super::report::ReplicaStatus> {
        if slot.replicas.is_empty() {
            return Vec::new();
        }
        let stats = |index| self.inner.metrics.replica(plugin, name, index).snapshot();
        let mut out = vec![super::report::ReplicaStatus {
            index: 0,
            pid: slot.process.map(|p| p.pid),
            port: slot.port,
            process_state: slot.process_state.0,
            health: slot.health.0,
            health_detail: slot.detail(),
            draining: slot.draining,
            restarts: slot.restarts,
            cpu_percent: slot.cpu_percent,
            rss_bytes: slot.rss_bytes,
            stats: stats(0),
        }];
        out.extend(slot.replicas.iter().map(|r| super::report::ReplicaStatus {
            index: r.index,
            pid: r.process.map(|p| p.pid),
            port: Some(r.port),
            process_state: r.process_state.0,
            health: r.health.0,
            health_detail: r.health_detail.clone(),
            draining: r.draining,
            restarts: r.restarts,
            cpu_percent: r.cpu_percent,
            rss_bytes: r.rss_bytes,
            stats: stats(r.index),
        }));
        out
    }
}
