//! What runs where, in writing: DEPLOYED.md, a page a person reads (in a review, in the
//! repository, at 3 a.m. without naap at hand): every plugin, its live and warm versions,
//! route and URL, since when and by which face, and its last rollouts and rollbacks.
//! `naap export deployed` writes it on demand; with `[export] deployed_md` in naap.toml the
//! engine rewrites it after every change that moves what serves.

use super::report::{PluginStatus, SlotStatus, StatusReport};
use super::{Engine, EngineError, EngineEvent};
use crate::core::event_kind::EventKind;
use crate::core::store::{AuditRecord, AuditResult, RolloutRecord};
use chrono::{DateTime, Utc};
use std::fmt::Write as _;
use std::time::Duration;

/// Rollouts and rollbacks listed per plugin.
const LAST_ROLLOUTS: usize = 5;
/// Audit entries read per plugin to find who made the live version live.
const AUDIT_LOOKBACK: usize = 200;
/// Changes that come together (a deploy's flip and its warm slot's stop) make one write.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// The events after which the page may be out of date.
const CHANGES: &[EventKind] = &[
    EventKind::DeploySucceeded,
    EventKind::DeployFailed,
    EventKind::RolledBack,
    EventKind::AutoRollback,
    EventKind::TrafficChanged,
    EventKind::RolloutPromoted,
    EventKind::RolloutAborted,
    EventKind::SlotStopped,
    EventKind::PluginAdded,
    EventKind::PluginRemoved,
    EventKind::PluginDisabled,
    EventKind::PluginEnabled,
    EventKind::WorkspaceReloaded,
];

impl Engine {
    /// DEPLOYED.md as of now.
    pub fn deployed_markdown(&self) -> Result<String, EngineError> {
        let status = self.status(None)?;
        let mut plugins = Vec::with_capacity(status.plugins.len());
        for plugin in &status.plugins {
            let store = self.store();
            let rollouts = store.rollouts(&plugin.name, LAST_ROLLOUTS)?;
            let audit = store.audit(Some(&plugin.name), AUDIT_LOOKBACK)?;
            plugins.push((plugin, rollouts, audit));
        }
        Ok(render(&status, &plugins, Utc::now()))
    }

    /// Writes DEPLOYED.md to `path` whole or not at all (a temporary file renamed over it).
    pub fn write_deployed(&self, path: &std::path::Path) -> Result<(), EngineError> {
        let text = self.deployed_markdown()?;
        crate::core::atomic_file::replace_file(path, &text).map_err(|e| {
            EngineError::BadRequest(format!(
                "cannot write {}: {e}; check that its directory exists and is writable",
                path.display()
            ))
        })
    }
}

/// Keeps `[export] deployed_md` current: written at start, then after each change (the
/// setting is read at each write, so a reload turns it on or off).
pub(crate) async fn keep_current(engine: Engine) {
    let mut events = engine.subscribe();
    let mut dirty = true;
    loop {
        if dirty {
            tokio::time::sleep(DEBOUNCE).await;
            // Whatever arrived meanwhile is in this write.
            while events.try_recv().is_ok() {}
            if let Some(path) = engine.workspace().deployed_md.clone()
                && let Err(e) = engine.write_deployed(&path)
            {
                tracing::warn!("DEPLOYED.md: {e}");
            }
            dirty = false;
        }
        match events.recv().await {
            Ok(EngineEvent::Event(e)) => dirty = CHANGES.contains(&e.kind),
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => dirty = true,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

type PluginRows<'a> = (&'a PluginStatus, Vec<RolloutRecord>, Vec<AuditRecord>);

fn render(status: &StatusReport, plugins: &[PluginRows<'_>], now: DateTime<Utc>) -> String {
    let mut md = String::new();
    let environment = match status.engine.environment {
        crate::core::workspace::Environment::Development => String::new(),
        other => format!(" ({})", other.name().to_uppercase()),
    };
    let _ = writeln!(md, "# Deployed{environment}\n");
    let _ = writeln!(
        md,
        "Written by naap {} at {} for the workspace `{}`. Router `http://{}`. Rewritten after every change while `[export] deployed_md` is set; `naap export deployed` writes it on demand.\n",
        status.engine.naap_version,
        stamp(now),
        status.engine.workspace,
        status.engine.router
    );
    let _ = writeln!(md, "| plugin | live | warm | route | state |");
    let _ = writeln!(md, "| --- | --- | --- | --- | --- |");
    for (p, _, _) in plugins {
        let _ = writeln!(
            md,
            "| {} | {} | {} | `{}` | {} |",
            p.name,
            p.live_version.as_deref().unwrap_or("—"),
            warm(p)
                .map(|s| s.version.clone().unwrap_or_default())
                .unwrap_or_else(|| "—".into()),
            p.route,
            state(p)
        );
    }
    for (p, rollouts, audit) in plugins {
        plugin_section(&mut md, status, p, rollouts, audit);
    }
    md
}

fn plugin_section(
    md: &mut String,
    status: &StatusReport,
    p: &PluginStatus,
    rollouts: &[RolloutRecord],
    audit: &[AuditRecord],
) {
    let _ = writeln!(md, "\n## {}\n", p.name);
    let url = match p.route.strip_prefix("host:") {
        Some(host) => format!(
            "http://{host} (through the router at {})",
            status.engine.router
        ),
        None => format!("http://{}{}", status.engine.router, p.route),
    };
    let _ = writeln!(md, "- **Route:** `{}` → {url}", p.route);
    match live(p) {
        Some(slot) => {
            let by = made_live_by(audit)
                .map(|a| format!(", by {} ({})", a.face, a.action))
                .unwrap_or_default();
            let _ = writeln!(
                md,
                "- **Live:** {} on {} ({} %){}{by}",
                slot.version.as_deref().unwrap_or("?"),
                slot.slot,
                slot.weight,
                slot.started_at
                    .map(|t| format!(", since {}", stamp(t)))
                    .unwrap_or_default()
            );
        }
        None => {
            let _ = writeln!(md, "- **Live:** nothing serves");
        }
    }
    if let Some(slot) = warm(p) {
        let _ = writeln!(
            md,
            "- **Warm:** {} on {} (0 %, kept running: a rollback to it is a weight flip){}",
            slot.version.as_deref().unwrap_or("?"),
            slot.slot,
            slot.warm_until
                .map(|t| format!(", until {}", stamp(t)))
                .unwrap_or_default()
        );
    }
    let running = p.slots.iter().filter(|s| s.pid.is_some()).count();
    let _ = writeln!(md, "- **Processes:** {running} (one per running slot)");
    let _ = writeln!(md, "- **State:** {}", state(p));
    if rollouts.is_empty() {
        return;
    }
    let _ = writeln!(md, "\n| rollout | when | from → to | strategy | outcome |");
    let _ = writeln!(md, "| --- | --- | --- | --- | --- |");
    for r in rollouts {
        let _ = writeln!(
            md,
            "| {} | {} | {} → {} | {} | {} |",
            r.id,
            stamp(r.finished_at.unwrap_or(r.started_at)),
            r.from_version.as_deref().unwrap_or("—"),
            r.to_version,
            r.strategy,
            r.state.replace('_', " ")
        );
    }
    // The audit log reads oldest first; the page shows the newest first.
    let rollbacks: Vec<&AuditRecord> = audit
        .iter()
        .rev()
        .filter(|a| a.action == "rollback" && a.result == AuditResult::Ok)
        .take(LAST_ROLLOUTS)
        .collect();
    if !rollbacks.is_empty() {
        let _ = writeln!(md, "\nRollbacks:\n");
        for a in rollbacks {
            let _ = writeln!(md, "- {} by {}: {}", stamp(a.ts), a.face, a.detail);
        }
    }
}

fn live(p: &PluginStatus) -> Option<&SlotStatus> {
    p.slots
        .iter()
        .filter(|s| s.weight > 0 && s.version.is_some())
        .max_by_key(|s| s.weight)
}

fn warm(p: &PluginStatus) -> Option<&SlotStatus> {
    p.slots
        .iter()
        .find(|s| s.weight == 0 && s.pid.is_some() && s.version.is_some())
}

fn state(p: &PluginStatus) -> String {
    if let Some(d) = &p.disabled {
        return format!("DISABLED since {} by {}", stamp(d.since), d.face);
    }
    match (&p.rollout, live(p)) {
        (Some(r), _) => format!("rolling out {} ({})", r.to_version, r.phase),
        (None, Some(_)) => "serving".to_string(),
        (None, None) => "not serving".to_string(),
    }
}

/// The newest successful action that changes what serves: who made the live version live.
fn made_live_by(audit: &[AuditRecord]) -> Option<&AuditRecord> {
    audit.iter().rev().find(|a| {
        a.result == AuditResult::Ok
            && matches!(
                a.action.as_str(),
                "deploy" | "rollback" | "traffic" | "promote" | "enable"
            )
    })
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}
