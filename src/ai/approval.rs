//! Proposals that wait in the session store for a person: an MCP client's change is kept
//! here until `naap approve ID` (or the dashboard) says yes, and runs then exactly as it
//! was shown. Face-neutral: the MCP server stores, the CLI decides.

use super::operator::Pending;
use super::proposal::call_hash;
use super::session::{
    Decision, ProposalEntry, ProposalId, ProposalRecord, ProposalStatus, SessionEntry,
    SessionError, SessionId, SessionStore,
};
use super::tools::Tools;
use crate::api::Call;
use crate::core::types::Face;
use crate::core::workspace::Environment;

/// Why a proposal cannot be decided.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    #[error("there is no proposal {id}\n  hint: `naap approve --list` lists the waiting ones")]
    Unknown { id: ProposalId },
    #[error("proposal {id} is {status}, not waiting: it was decided already")]
    NotWaiting {
        id: ProposalId,
        status: &'static str,
    },
    /// The stored call does not match the hash of what was shown: nothing runs.
    #[error(
        "proposal {id} is not the call that was shown (its hash differs, or the call no longer decodes: {detail}); nothing ran"
    )]
    Tampered { id: ProposalId, detail: String },
    #[error(transparent)]
    Store(SessionError),
}

impl ApprovalError {
    fn from_store(e: SessionError) -> ApprovalError {
        match e {
            SessionError::NoProposal { id } => ApprovalError::Unknown { id },
            SessionError::Transition { id, from, .. } => ApprovalError::NotWaiting {
                id,
                status: from.as_str(),
            },
            other => ApprovalError::Store(other),
        }
    }
}

/// What an approval did: the record as it ends, and the engine's answer or error.
#[derive(Debug)]
pub struct Approved {
    pub record: ProposalRecord,
    pub outcome: Result<serde_json::Value, String>,
}

/// Stores `pending` as a waiting proposal of `session` under a fresh id, with its preview
/// and the hash of its exact call.
pub fn store_pending(
    store: &SessionStore,
    session: SessionId,
    pending: &Pending,
) -> Result<ProposalEntry, SessionError> {
    let call = serde_json::to_value(&pending.proposal.call).map_err(|e| SessionError::Invalid {
        what: "a proposal's call",
        detail: e.to_string(),
    })?;
    let mut preview = pending.proposal.lines.clone();
    if preview.is_empty() {
        preview.push(format!(
            "{} (the engine has no dry run for this call)",
            pending.proposal.label
        ));
    }
    // A fresh id can collide with one in the file (40 bits); draw again then.
    let mut last = None;
    for _ in 0..4 {
        let entry = ProposalEntry {
            id: ProposalId::generate(),
            call: call.clone(),
            preview: preview.clone(),
            argument_hash: call_hash(&pending.proposal.call),
            status: ProposalStatus::Waiting,
            outcome: None,
            decided: None,
        };
        match store.append(session, &SessionEntry::Proposal(entry.clone())) {
            Ok(_) => return Ok(entry),
            Err(e @ SessionError::DuplicateProposal { .. }) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or(SessionError::Invalid {
        what: "a proposal id",
        detail: "no free id".to_string(),
    }))
}

/// The call a stored proposal runs, checked against the hash of what was shown.
pub fn checked_call(entry: &ProposalEntry) -> Result<Call, ApprovalError> {
    let tampered = |detail: String| ApprovalError::Tampered {
        id: entry.id.clone(),
        detail,
    };
    let call: Call =
        serde_json::from_value(entry.call.clone()).map_err(|e| tampered(e.to_string()))?;
    if call_hash(&call) != entry.argument_hash {
        return Err(tampered("the hash differs".to_string()));
    }
    Ok(call)
}

/// A waiting proposal, or why it cannot be decided.
pub fn waiting(store: &SessionStore, id: &ProposalId) -> Result<ProposalRecord, ApprovalError> {
    let record = store.proposal(id).map_err(ApprovalError::from_store)?;
    if record.proposal.status != ProposalStatus::Waiting {
        return Err(ApprovalError::NotWaiting {
            id: id.clone(),
            status: record.proposal.status.as_str(),
        });
    }
    Ok(record)
}

/// Approves proposal `id` as `decision` and runs it through `tools` (whose face is the
/// audit's: `mcp` for an MCP client's proposal). Of two approvals at once only one runs.
pub async fn approve(
    store: &SessionStore,
    tools: &Tools,
    id: &ProposalId,
    decision: &Decision,
) -> Result<Approved, ApprovalError> {
    let record = waiting(store, id)?;
    let call = match checked_call(&record.proposal) {
        Ok(call) => call,
        Err(e) => {
            let _ = store.set_proposal_status(
                id,
                ProposalStatus::Failed,
                Some(&e.to_string()),
                Some(decision),
            );
            return Err(e);
        }
    };
    store
        .set_proposal_status(id, ProposalStatus::Approved, None, Some(decision))
        .map_err(ApprovalError::from_store)?;
    let outcome = tools.engine_confirmed(call, decision.confirmed).await;
    let (status, text) = match &outcome {
        Ok(value) => (ProposalStatus::Ran, summary_of(value)),
        Err(e) => (ProposalStatus::Failed, e.clone()),
    };
    let record = store
        .set_proposal_status(id, status, Some(&text), None)
        .map_err(ApprovalError::from_store)?;
    Ok(Approved { record, outcome })
}

/// Rejects proposal `id`: it never runs.
pub fn reject(
    store: &SessionStore,
    id: &ProposalId,
    decision: &Decision,
) -> Result<ProposalRecord, ApprovalError> {
    waiting(store, id)?;
    store
        .set_proposal_status(
            id,
            ProposalStatus::Rejected,
            Some("rejected"),
            Some(decision),
        )
        .map_err(ApprovalError::from_store)
}

/// The engine's one-line summary of an outcome, or the whole answer when it has none.
pub fn summary_of(value: &serde_json::Value) -> String {
    value
        .get("summary")
        .and_then(|s| s.as_str())
        .map_or_else(|| value.to_string(), str::to_string)
}

/// The face a stored proposal runs as in the audit: the one that asked for it. An MCP
/// client's change is `mcp`; a model's through `naap chat` or the dashboard is `ai`.
pub fn audit_face(record: &ProposalRecord) -> Face {
    match record.face {
        Face::Mcp => Face::Mcp,
        _ => Face::Ai,
    }
}

/// The face that decided, for a person at the terminal.
pub fn cli_decision(confirmed: Option<Environment>) -> Decision {
    Decision {
        face: Face::Cli,
        by: crate::core::identity::operator_name(),
        confirmed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ai::proposal::Proposal;
    use crate::api::catalog::call_from_tool;

    #[test]
    fn a_stored_proposal_runs_only_as_shown_and_only_once_decided() {
        let dir = tempfile::tempdir().unwrap();
        let store = SessionStore::open(dir.path()).unwrap();
        let session = store.create(Face::Mcp, "mcp", "test client").unwrap();
        let call = call_from_tool("rollback", &serde_json::json!({"plugin": "shop"})).unwrap();
        let pending = Pending::new(Proposal::for_call(call.clone(), Vec::new()));
        let entry = store_pending(&store, session, &pending).unwrap();
        assert_eq!(entry.status, ProposalStatus::Waiting);
        assert!(
            !entry.preview.is_empty(),
            "a call without a dry run still says what it is"
        );
        assert_eq!(checked_call(&entry).unwrap(), call);

        let mut edited = entry.clone();
        edited.call["params"]["plugin"] = serde_json::json!("other");
        assert!(matches!(
            checked_call(&edited),
            Err(ApprovalError::Tampered { .. })
        ));

        let rejected = reject(&store, &entry.id, &cli_decision(None)).unwrap();
        assert_eq!(rejected.proposal.status, ProposalStatus::Rejected);
        assert_eq!(rejected.proposal.decided.map(|d| d.face), Some(Face::Cli));
        assert!(matches!(
            reject(&store, &entry.id, &cli_decision(None)),
            Err(ApprovalError::NotWaiting { .. })
        ));
        let unknown: ProposalId = "p-unknown".parse().unwrap();
        assert!(matches!(
            waiting(&store, &unknown),
            Err(ApprovalError::Unknown { .. })
        ));
    }
}
