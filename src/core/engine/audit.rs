//! The audit log as the engine writes it: which face did what, and how it ended.
//!
//! A long request (deploy, rollback, traffic change) is audited when it is accepted, as
//! `pending`, and completed with its result when it ends, so an engine crash cannot lose
//! it. At start the engine completes every entry a crash left pending as "interrupted by
//! an engine restart", with what the restarted engine then did about it.

use super::{Engine, EngineError};
use crate::core::store::{AuditRecord, AuditResult, NewAudit};
use crate::core::types::Face;
use std::collections::BTreeMap;

/// A pending audit entry; `Engine::audit_finish` completes it. `None` when the store
/// could not take the entry (logged): the request still runs.
#[must_use = "complete the entry with `audit_finish`"]
pub(crate) struct AuditTicket(Option<i64>);

impl Engine {
    /// Appends an entry written once, complete: for requests that end at once.
    pub(crate) fn audit<T>(
        &self,
        face: Face,
        action: &str,
        plugin: Option<&str>,
        args: serde_json::Value,
        result: &Result<T, EngineError>,
        ok_detail: impl FnOnce(&T) -> String,
    ) {
        let (result, detail) = outcome(result, ok_detail);
        self.append_audit(face, action, plugin, args, result, detail);
    }

    /// Audits a request as it is accepted, before it acts.
    pub(crate) fn audit_accept(
        &self,
        face: Face,
        action: &str,
        plugin: Option<&str>,
        args: serde_json::Value,
    ) -> AuditTicket {
        AuditTicket(self.append_audit(
            face,
            action,
            plugin,
            args,
            AuditResult::Pending,
            "accepted; running".to_string(),
        ))
    }

    /// Completes an entry from `audit_accept` with the request's result.
    pub(crate) fn audit_finish<T>(
        &self,
        ticket: AuditTicket,
        result: &Result<T, EngineError>,
        ok_detail: impl FnOnce(&T) -> String,
    ) {
        let Some(id) = ticket.0 else { return };
        let (result, detail) = outcome(result, ok_detail);
        if let Err(e) = self.store().complete_audit(id, result, &detail) {
            tracing::error!("could not complete audit entry {id}: {e}");
        }
    }

    /// The entries a previous engine left pending; read before this engine audits anything.
    pub(crate) fn interrupted_audit(&self) -> Vec<AuditRecord> {
        self.store().pending_audit().unwrap_or_else(|e| {
            tracing::error!("cannot read pending audit entries: {e}");
            Vec::new()
        })
    }

    /// Completes what a crash cut: each entry says it was interrupted and what this engine
    /// then did for its plugin (`recovered`, by plugin), or what it found.
    pub(crate) fn complete_interrupted(
        &self,
        entries: Vec<AuditRecord>,
        recovered: &BTreeMap<String, String>,
    ) {
        for entry in entries {
            let then = entry
                .plugin
                .as_ref()
                .and_then(|p| recovered.get(p))
                .cloned()
                .unwrap_or_else(|| {
                    "the next engine adopted the slots that still ran and restarted the others"
                        .to_string()
                });
            let detail = format!(
                "interrupted by an engine restart (engine pid {} started {}); then: {then}",
                self.inner.info.pid,
                self.inner.info.started_at.format("%Y-%m-%d %H:%M:%S UTC")
            );
            if let Err(e) = self
                .store()
                .complete_audit(entry.id, AuditResult::Interrupted, &detail)
            {
                tracing::error!(
                    "could not complete interrupted audit entry {}: {e}",
                    entry.id
                );
            }
        }
    }

    fn append_audit(
        &self,
        face: Face,
        action: &str,
        plugin: Option<&str>,
        mut args: serde_json::Value,
        result: AuditResult,
        detail: String,
    ) -> Option<i64> {
        // An action a person approved from an operator proposal names that proposal.
        if let Some(proposal) = PROPOSAL.try_with(Clone::clone).ok().flatten()
            && let Some(object) = args.as_object_mut()
        {
            object.insert("proposal".to_string(), serde_json::Value::String(proposal));
        }
        let entry = NewAudit {
            face,
            action: action.to_string(),
            plugin: plugin.map(str::to_string),
            args,
            result,
            detail,
        };
        match self.store().append_audit(&entry) {
            Ok(id) => Some(id),
            Err(e) => {
                tracing::error!("could not append to the audit log: {e}");
                None
            }
        }
    }
}

fn outcome<T>(
    result: &Result<T, EngineError>,
    ok_detail: impl FnOnce(&T) -> String,
) -> (AuditResult, String) {
    match result {
        Ok(value) => (AuditResult::Ok, ok_detail(value)),
        Err(e) => (AuditResult::Error, e.to_string()),
    }
}

tokio::task_local! {
    /// The operator proposal the request in this task runs (set by the socket server).
    static PROPOSAL: Option<String>;
}

/// Runs `request` with `proposal` recorded on every audit entry it makes, so the audit
/// says which operator proposal an action came from.
pub async fn with_proposal<F: std::future::Future>(
    proposal: Option<String>,
    request: F,
) -> F::Output {
    PROPOSAL.scope(proposal, request).await
}
