//! Which requests go to iterate rather than to an ordinary operator turn: a change to a
//! plugin's code ("make /api/items return the newest first"), recognised by the same
//! deterministic reader as the offline router, when a model is there to write the code and
//! the policy lets a person run its proposals. Everything else (and every request when
//! offline, which the offline router answers by saying it needs a model) is a turn.

use super::pipeline::{IterateEnd, IterateRequest, Iterated, ShipAs};
use crate::ai::intent::{self, Intent};
use crate::ai::operator::Operator;
use crate::api::Call;
use crate::core::engine::{CandidatesRequest, StatusReport, StatusRequest};
use crate::core::store::{CandidateRecord, CandidateStatus};

/// The iterate request `text` makes, if it asks for a change to a plugin's code.
pub async fn change_of(
    operator: &Operator,
    text: &str,
    selected: Option<&str>,
) -> Option<IterateRequest> {
    let policy = operator.policy();
    if !operator.has_model() || !policy.proposals_runnable() {
        return None;
    }
    let report: Option<StatusReport> = operator
        .tools()
        .engine(Call::Status(StatusRequest::default()))
        .await
        .ok()
        .and_then(|v| serde_json::from_value(v).ok());
    match intent::parse(text, report.as_ref(), selected) {
        Intent::Change {
            plugin,
            instruction,
        } => Some(IterateRequest {
            plugin,
            instruction,
            version: None,
            heal_attempts: operator.heal_attempts(),
            ship: ShipAs::PreviewThenCanary,
            retry_of: None,
        }),
        Intent::Retry {
            plugin,
            instruction,
        } => {
            let retry_of = last_rolled_back(operator, &plugin).await?;
            Some(IterateRequest {
                plugin,
                instruction,
                version: None,
                heal_attempts: operator.heal_attempts(),
                ship: ShipAs::PreviewThenCanary,
                retry_of: Some(retry_of),
            })
        }
        _ => None,
    }
}

/// The newest candidate of `plugin` whose rollout rolled back.
async fn last_rolled_back(operator: &Operator, plugin: &str) -> Option<String> {
    let list = operator
        .tools()
        .engine(Call::Candidates(CandidatesRequest {
            plugin: Some(plugin.to_string()),
        }))
        .await
        .ok()?;
    let list: Vec<CandidateRecord> = serde_json::from_value(list).ok()?;
    list.into_iter()
        .filter(|c| c.status == CandidateStatus::RolledBack)
        .max_by_key(|c| c.updated_at)
        .map(|c| c.id)
}

/// How an iterate run ended, in a few lines for a person: what changed, the gates, what
/// waits for a yes.
pub fn outcome_text(done: &Iterated) -> String {
    let changed = super::pipeline::diff_summary(&done.diff);
    let fixes = match done.heal_attempts {
        0 => String::new(),
        1 => " after 1 fix".to_string(),
        n => format!(" after {n} fixes"),
    };
    let mut text = match done.end {
        IterateEnd::Ready => format!(
            "Candidate {} of {} is ready: {changed}, the gates pass{fixes}. D shows the diff.",
            done.candidate, done.plugin
        ),
        IterateEnd::Unchanged => format!(
            "The model changed nothing in candidate {}; there is nothing to ship.",
            done.candidate
        ),
        IterateEnd::Stuck | IterateEnd::Exhausted => {
            let why = if done.end == IterateEnd::Stuck {
                "the same failure came back".to_string()
            } else {
                format!("no fix left to try ({} tried)", done.heal_attempts)
            };
            let mut text = format!(
                "Candidate {} of {} still fails its gates: {why}. It is yours to finish (D shows the diff; `naap candidate show {}`).",
                done.candidate, done.plugin, done.candidate
            );
            if let Some(failure) = &done.failure {
                text.push_str(&format!(
                    "\nLast failure: {} ({})",
                    failure.gate, failure.status
                ));
                for p in failure.problems.iter().take(5) {
                    let line = p.line.map(|l| format!(":{l}")).unwrap_or_default();
                    text.push_str(&format!("\n  {}{line}: {}", p.file, p.message));
                }
            }
            text
        }
    };
    if done.end == IterateEnd::Ready {
        let preview = done.proposals.len() > 1 || done.ship.is_none();
        text.push_str(match (preview, done.ship.is_some()) {
            (true, true) => "\nTry it first as a preview (y; n skips it), then accept it (y) and I propose its canary.",
            (false, _) => "\nAccept it (y) and I propose its canary next.",
            (true, false) => "\nStart its preview (y) to try it with the header; accept it later.",
        });
    }
    text
}
