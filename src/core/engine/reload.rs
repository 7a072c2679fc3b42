//! `naap reload`: re-read the workspace while the engine runs, like `nginx -s reload` or
//! `systemctl daemon-reload`: everything is read and checked first; one problem anywhere
//! refuses the reload whole and nothing changes. Then the new workspace is swapped in at
//! once and the difference applied:
//!
//! - an added plugin is loaded and, never deployed, gets its manifest version (as at
//!   engine start);
//! - a removed plugin stops taking traffic at once (its route goes) and its slots are
//!   stopped with their grace period — what the next engine start would do anyway
//!   (`slot_orphaned`), and what nginx does with a server block that left its config;
//! - a changed plugin gets its new manifest. Running slots keep running the version and
//!   the run/health spec they were started with (stored per version); the router-level
//!   fields (route or host, sticky), alert rules and rollback thresholds apply at once;
//!   the rest (version, run, health, strategy, analysis) on its next deploy;
//! - an unchanged plugin is not touched: its slots, pids and health checks stay.

use super::{Engine, EngineError};
use crate::core::event_kind::EventKind;
use crate::core::hint::Hint;
use crate::core::types::{Face, SlotName};
use crate::core::workspace::{self, PluginManifest, Workspace};
use serde::{Deserialize, Serialize};

/// What a reload changed.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ReloadReport {
    /// One line for notices (the dashboard) and the audit log.
    pub summary: String,
    pub added: Vec<AddedPlugin>,
    pub removed: Vec<RemovedPlugin>,
    pub changed: Vec<ChangedPlugin>,
    pub unchanged: Vec<String>,
    /// Changes a running engine cannot apply (listen addresses, state directory).
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AddedPlugin {
    pub name: String,
    /// Its first deploy started (it had never been deployed).
    pub first_deploy: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RemovedPlugin {
    pub name: String,
    /// The slots that were running and were stopped, e.g. `blue 1.0.0`.
    pub stopped: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChangedPlugin {
    pub name: String,
    /// Changed fields that apply now.
    pub applied_now: Vec<String>,
    /// Changed fields that apply on the plugin's next deploy.
    pub next_deploy: Vec<String>,
}

impl Engine {
    /// Re-reads the workspace and applies what changed; audited like every action.
    pub async fn reload(&self, face: Face) -> Result<ReloadReport, EngineError> {
        let ticket = self.audit_accept(face, "reload", None, serde_json::json!({}));
        let result = self.reload_inner().await;
        self.audit_finish(ticket, &result, |r| r.summary.clone());
        if let Ok(report) = &result {
            self.record(
                None,
                None,
                EventKind::WorkspaceReloaded,
                format!("workspace reloaded by {face}: {}", report.summary),
                serde_json::to_value(report).unwrap_or_default(),
            );
        }
        result
    }

    async fn reload_inner(&self) -> Result<ReloadReport, EngineError> {
        // Two reloads never interleave: each diffs against what the other swapped in.
        let _one_at_a_time = self.inner.reload_lock.lock().await;
        let root = self.workspace().root.clone();
        let fresh = workspace::load(&root)?;
        let old = self.workspace().clone();
        let mut report = diff(&old, &fresh);

        // A removed plugin's deploy or rollback in flight is cancelled, and waited for,
        // before its slots stop: it must not start a slot after they stopped.
        let mut guards = Vec::new();
        for removed in &report.removed {
            let cancel = self
                .lock_plugins()
                .get(&removed.name)
                .and_then(|s| s.cancel.clone());
            if let Some(cancel) = cancel {
                let _ = cancel.send(true);
            }
            guards.push(self.op_lock(&removed.name).lock_owned().await);
        }

        *self
            .inner
            .workspace
            .write()
            .unwrap_or_else(|e| e.into_inner()) = fresh;
        self.reload_alert_rules();
        self.publish_routes();

        for removed in &mut report.removed {
            removed.stopped = self.stop_removed_plugin(&removed.name).await;
        }
        drop(guards);
        for added in &mut report.added {
            added.first_deploy = self.first_deploy(&added.name);
        }
        report.summary = summary(&report);
        self.record_per_plugin(&report);
        Ok(report)
    }

    /// Each plugin's history says what the reload did to it.
    fn record_per_plugin(&self, report: &ReloadReport) {
        for added in &report.added {
            let message = match &added.first_deploy {
                Some(version) => format!("{} added by a reload; starting {version}", added.name),
                None => format!("{} added by a reload", added.name),
            };
            self.record(
                Some(&added.name),
                None,
                EventKind::PluginAdded,
                message,
                serde_json::Value::Null,
            );
        }
        for removed in &report.removed {
            let stopped = if removed.stopped.is_empty() {
                "no slot was running".to_string()
            } else {
                format!("stopped {}", removed.stopped.join(", "))
            };
            self.record(
                Some(&removed.name),
                None,
                EventKind::PluginRemoved,
                format!(
                    "{} removed by a reload; its route is gone; {stopped}",
                    removed.name
                ),
                serde_json::Value::Null,
            );
        }
        for changed in &report.changed {
            self.record(
                Some(&changed.name),
                None,
                EventKind::ManifestReloaded,
                format!(
                    "{} manifest reloaded: applied now: {}; on its next deploy: {}",
                    changed.name,
                    none_if_empty(&changed.applied_now),
                    none_if_empty(&changed.next_deploy)
                ),
                serde_json::to_value(changed).unwrap_or_default(),
            );
        }
    }

    /// Stops every slot of a plugin that left the workspace and forgets its state.
    async fn stop_removed_plugin(&self, plugin: &str) -> Vec<String> {
        let running: Vec<(SlotName, String)> = self
            .lock_plugins()
            .get(plugin)
            .map(|state| {
                state
                    .slots
                    .iter()
                    .filter(|(_, s)| s.handle.is_some())
                    .map(|(name, s)| (*name, s.version.clone().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        let mut stopped = Vec::new();
        for (slot, version) in running {
            self.stop_slot(
                plugin,
                slot,
                "its plugin was removed from naap.toml by a reload",
            )
            .await;
            if slot.is_preview() {
                let _ = self.store().delete_preview(plugin, &slot.as_str());
            }
            stopped.push(format!("{slot} {version}").trim_end().to_string());
        }
        self.lock_plugins().remove(plugin);
        if let Err(e) = self.store().delete_slots(plugin) {
            tracing::error!("could not forget the slots of {plugin}: {e}");
        }
        self.publish_routes();
        stopped
    }

    /// Before a deploy of `plugin`: re-reads the workspace from disk so an edit of that
    /// plugin's plugin.toml applies to this deploy. Only this plugin's manifest is taken;
    /// added, removed and other changed plugins wait for `naap reload`. A problem in
    /// another plugin's manifest does not block this deploy; one in naap.toml does.
    pub(crate) fn refresh_plugin(&self, plugin: &str) -> Result<(), EngineError> {
        let root = self.workspace().root.clone();
        let fresh = workspace::load_lenient(&root)?;
        if let Some(broken) = fresh.broken_plugin(plugin) {
            return Err(EngineError::BrokenPlugin {
                plugin: plugin.to_string(),
                problems: broken.problems.clone(),
            });
        }
        let loaded = self.workspace().plugin(plugin).is_some();
        match (loaded, fresh.plugin(plugin)) {
            (true, Some(manifest)) => {
                let changed = {
                    let mut ws = self
                        .inner
                        .workspace
                        .write()
                        .unwrap_or_else(|e| e.into_inner());
                    match ws.plugins.iter_mut().find(|m| m.name == plugin) {
                        Some(slot) if *slot != *manifest => {
                            *slot = manifest.clone();
                            true
                        }
                        _ => false,
                    }
                };
                if changed {
                    self.reload_alert_rules();
                    self.publish_routes();
                }
                Ok(())
            }
            (true, None) => Err(EngineError::rejected(
                plugin,
                "it is no longer listed in naap.toml; reload to remove it (its slots stop), or list it again",
            )
            .hint(Hint::Reload)),
            (false, Some(_)) => Err(EngineError::rejected(
                plugin,
                "it is in naap.toml but this engine has not loaded it yet; reload, then deploy",
            )
            .hint(Hint::Reload)),
            (false, None) => self.require_plugin(plugin),
        }
    }
}

/// Which plugins were added, removed, changed (and in what) or left alone.
fn diff(old: &Workspace, fresh: &Workspace) -> ReloadReport {
    let mut report = ReloadReport::default();
    for manifest in &fresh.plugins {
        match old.plugin(&manifest.name) {
            None => report.added.push(AddedPlugin {
                name: manifest.name.clone(),
                first_deploy: None,
            }),
            Some(before) if before == manifest => report.unchanged.push(manifest.name.clone()),
            Some(before) => report.changed.push(changes(before, manifest)),
        }
    }
    for manifest in &old.plugins {
        if fresh.plugin(&manifest.name).is_none() {
            report.removed.push(RemovedPlugin {
                name: manifest.name.clone(),
                stopped: Vec::new(),
            });
        }
    }
    if old.router.listen != fresh.router.listen {
        report.notes.push(format!(
            "router.listen changed to {}: the router keeps {} until the engine restarts",
            fresh.router.listen, old.router.listen
        ));
    }
    if old.router.admin != fresh.router.admin {
        report
            .notes
            .push("router.admin changed: it applies when the engine restarts".to_string());
    }
    if old.state_dir != fresh.state_dir {
        report
            .notes
            .push("state.dir changed: it applies when the engine restarts".to_string());
    }
    report
}

fn changes(before: &PluginManifest, after: &PluginManifest) -> ChangedPlugin {
    let mut applied_now = Vec::new();
    let mut next_deploy = Vec::new();
    let mut check = |field: &str, differs: bool, now: bool| {
        if differs {
            if now {
                applied_now.push(field.to_string());
            } else {
                next_deploy.push(field.to_string());
            }
        }
    };
    check("route", before.route != after.route, true);
    check("sticky", before.sticky != after.sticky, true);
    check("alerts", before.alerts != after.alerts, true);
    check("rollback", before.rollback != after.rollback, true);
    check("version", before.version != after.version, false);
    check("run", before.run != after.run, false);
    check("health", before.health != after.health, false);
    check("strategy", before.strategy != after.strategy, false);
    check("analysis", before.analysis != after.analysis, false);
    check("location", before.dir != after.dir, false);
    ChangedPlugin {
        name: after.name.clone(),
        applied_now,
        next_deploy,
    }
}

fn summary(report: &ReloadReport) -> String {
    let mut parts = Vec::new();
    for added in &report.added {
        parts.push(match &added.first_deploy {
            Some(version) => format!("added {} (starting {version})", added.name),
            None => format!("added {}", added.name),
        });
    }
    for removed in &report.removed {
        parts.push(if removed.stopped.is_empty() {
            format!("removed {}", removed.name)
        } else {
            format!(
                "removed {} (stopped {})",
                removed.name,
                removed.stopped.join(", ")
            )
        });
    }
    for changed in &report.changed {
        let mut how = Vec::new();
        if !changed.applied_now.is_empty() {
            how.push(format!("{} now", changed.applied_now.join(", ")));
        }
        if !changed.next_deploy.is_empty() {
            how.push(format!(
                "{} on its next deploy",
                changed.next_deploy.join(", ")
            ));
        }
        parts.push(format!("changed {} ({})", changed.name, how.join("; ")));
    }
    if parts.is_empty() {
        parts.push("nothing changed".to_string());
    }
    if !report.unchanged.is_empty() {
        parts.push(format!("{} unchanged", report.unchanged.len()));
    }
    parts.extend(report.notes.iter().cloned());
    parts.join("; ")
}

fn none_if_empty(fields: &[String]) -> String {
    if fields.is_empty() {
        "nothing".to_string()
    } else {
        fields.join(", ")
    }
}
