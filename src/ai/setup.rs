//! Assembling an operator for a face, and keeping its turns in the session store: the same
//! steps for the dashboard, `naap chat` and `naap mcp`, so no face configures the operator
//! its own way.

use super::config::{self, AiConfigError, AiOverrides};
use super::operator::{Operator, Pending, Turn};
use super::policy::{Mode, Policy};
use super::provider::Message;
use super::redact::Redactor;
use super::session::{
    ProposalEntry, ProposalId, ProposalStatus, Session, SessionEntry, SessionError, SessionId,
    SessionStore, ToolCallEntry, ToolEffect, TurnUsage,
};
use super::tools::Tools;
use crate::core::engine::socket_path;
use crate::core::types::Face;
use crate::core::workspace;
use std::path::Path;

/// What the person starting a face chose.
#[derive(Clone, Debug, Default)]
pub struct FaceSettings {
    pub overrides: AiOverrides,
    /// The mode asked for by a flag; `None` leaves it to `[ai] mode` (default confirm).
    pub mode: Option<Mode>,
}

/// The operator for `face` on the workspace at `root`: the configured provider (or the
/// offline router), the engine's tools as `face`, the policy, and a redactor that knows
/// this workspace's secrets.
pub fn operator_for(
    root: &Path,
    state_dir: &Path,
    face: Face,
    settings: &FaceSettings,
) -> Result<Operator, AiConfigError> {
    operator_and_config(root, state_dir, face, settings).map(|(operator, _)| operator)
}

/// [`operator_for`], with the configuration it was made from (for settings beyond the
/// operator's, such as `heal_attempts`), read once.
pub fn operator_and_config(
    root: &Path,
    state_dir: &Path,
    face: Face,
    settings: &FaceSettings,
) -> Result<(Operator, config::AiConfig), AiConfigError> {
    let config = config::load(Some(root), &settings.overrides)?;
    let provider = config::build(&config)?;
    // The provider's own key is a secret too, should it ever appear in a log line.
    let key = config
        .api_key_env
        .as_deref()
        .and_then(|v| std::env::var(v).ok())
        .filter(|k| !k.trim().is_empty());
    let mode = settings.mode.unwrap_or(config.mode);
    let operator = assemble(root, state_dir, face, mode, provider, key)
        .with_price(config.price)
        .with_heal_attempts(config.heal_attempts);
    Ok((operator, config))
}

/// The provider flags of a face (`--provider --model --base-url`) as overrides.
pub fn model_overrides(
    provider: Option<&str>,
    model: Option<&str>,
    base_url: Option<&str>,
) -> Result<AiOverrides, String> {
    Ok(AiOverrides {
        provider: provider.map(str::parse).transpose()?,
        model: model.map(str::to_string),
        base_url: base_url.map(str::to_string),
        ..Default::default()
    })
}

/// [`operator_for`], but a broken AI configuration falls back to the offline operator,
/// with the reason for the face to show: a console opened during an incident must not
/// fail to start over a typo in ai.toml.
pub fn operator_or_offline(
    root: &Path,
    state_dir: &Path,
    face: Face,
    settings: &FaceSettings,
) -> (Operator, Option<String>) {
    match operator_for(root, state_dir, face, settings) {
        Ok(operator) => (operator, None),
        Err(e) => (
            // The configuration did not load, so neither did its mode: of what is left, the
            // flag's, else the default.
            assemble(
                root,
                state_dir,
                face,
                settings.mode.unwrap_or_default(),
                None,
                None,
            ),
            Some(format!(
                "the configured model is not used: {e}\nThe offline operator answers."
            )),
        ),
    }
}

fn assemble(
    root: &Path,
    state_dir: &Path,
    face: Face,
    mode: Mode,
    provider: Option<std::sync::Arc<dyn super::provider::Provider>>,
    provider_key: Option<String>,
) -> Operator {
    // A workspace with problems still has secrets worth masking: read it leniently. If it
    // cannot be read at all, the patterns still apply.
    let redactor = match workspace::load_lenient(root) {
        Ok(ws) => Redactor::for_workspace(&ws),
        Err(_) => Redactor::default(),
    };
    let redactor = match provider_key {
        Some(key) => redactor.with([super::redact::KnownSecret::named("provider key", key)]),
        None => redactor,
    };
    let tools = Tools::new(socket_path(state_dir), root.to_path_buf(), face);
    let policy = Policy {
        mode,
        ..Policy::default()
    };
    Operator::new(provider, tools, policy, redactor)
}

/// The conversation of a stored session, as messages to continue it: what was asked and
/// answered (tool results of earlier turns are stale by now, so they are not replayed).
/// A question whose turn never finished (cancelled, or the face was closed) is left out,
/// so the history alternates as the providers require.
pub fn history_of(session: &Session) -> Vec<Message> {
    let mut history = Vec::new();
    let mut asked: Option<&str> = None;
    for stored in &session.entries {
        match &stored.entry {
            SessionEntry::User { text } => asked = Some(text),
            SessionEntry::Assistant { text } => {
                if let Some(question) = asked.take() {
                    history.push(Message::User {
                        text: question.to_string(),
                    });
                    // Some APIs refuse an empty text block; a turn may have answered
                    // with proposals only.
                    let text = if text.trim().is_empty() {
                        "(no text: that turn only made proposals)".to_string()
                    } else {
                        text.clone()
                    };
                    history.push(Message::Assistant {
                        text,
                        tool_calls: Vec::new(),
                    });
                }
            }
            _ => {}
        }
    }
    history
}

/// Records a finished turn: its tool calls, its answer, its proposals (waiting) and usage.
/// The user's text is recorded by the face before the turn starts.
pub fn record_turn(
    store: &SessionStore,
    session: SessionId,
    turn: &Turn,
) -> Result<(), SessionError> {
    for call in &turn.tool_calls {
        store.append(
            session,
            &SessionEntry::ToolCall(ToolCallEntry {
                id: call.id.clone(),
                name: call.name.clone(),
                arguments: call.arguments.clone(),
                effect: if call.effect == "change" {
                    ToolEffect::Change
                } else {
                    ToolEffect::Read
                },
                result: call.result.clone(),
                truncated: call.truncated,
            }),
        )?;
    }
    store.append(
        session,
        &SessionEntry::Assistant {
            text: turn.answer.clone(),
        },
    )?;
    for pending in &turn.proposals {
        let entry = proposal_entry(pending)?;
        // A face may have stored it already, to record a decision made mid-turn.
        if store.proposal(&entry.id).is_ok() {
            continue;
        }
        store.append(session, &SessionEntry::Proposal(entry))?;
    }
    store.append(
        session,
        &SessionEntry::Usage(TurnUsage {
            input_tokens: turn.usage.input_tokens,
            output_tokens: turn.usage.output_tokens,
            cost_usd: turn.cost_usd,
        }),
    )?;
    Ok(())
}

/// A pending proposal as the store keeps it: waiting, with the call as on the socket.
pub fn proposal_entry(pending: &Pending) -> Result<ProposalEntry, SessionError> {
    let id: ProposalId = pending
        .id
        .parse()
        .map_err(|e: String| SessionError::Invalid {
            what: "a proposal id",
            detail: e,
        })?;
    Ok(ProposalEntry {
        id,
        call: serde_json::to_value(&pending.proposal.call).unwrap_or_default(),
        preview: pending.proposal.lines.clone(),
        argument_hash: pending.hash.clone(),
        status: ProposalStatus::Waiting,
        outcome: None,
        decided: None,
    })
}

/// How a person's decision on a proposal ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Settled {
    pub status: ProposalStatus,
    /// The engine's summary when it ran, the reason when it failed.
    pub outcome: Option<String>,
}

/// Decides a proposal for a person: a no is recorded; a yes is recorded as approved
/// first — so two faces approving the same proposal cannot both run it — then the call
/// runs (checked against its hash) and its outcome is recorded.
pub async fn settle(
    operator: &Operator,
    store: &SessionStore,
    pending: &Pending,
    approve: bool,
    decision: &super::session::Decision,
) -> Settled {
    let id: ProposalId = match pending.id.parse() {
        Ok(id) => id,
        Err(e) => {
            return Settled {
                status: ProposalStatus::Failed,
                outcome: Some(e),
            };
        }
    };
    if !approve {
        let recorded =
            store.set_proposal_status(&id, ProposalStatus::Rejected, None, Some(decision));
        return Settled {
            status: ProposalStatus::Rejected,
            outcome: recorded.err().map(|e| e.to_string()),
        };
    }
    if let Err(e) = store.set_proposal_status(&id, ProposalStatus::Approved, None, Some(decision)) {
        return Settled {
            status: ProposalStatus::Failed,
            outcome: Some(format!("not run: {e}")),
        };
    }
    let (status, outcome) = match operator.approve(pending, decision.confirmed).await {
        Ok(value) => (
            ProposalStatus::Ran,
            value
                .get("summary")
                .and_then(|s| s.as_str())
                .map(str::to_string)
                .unwrap_or_else(|| value.to_string()),
        ),
        Err(e) => (ProposalStatus::Failed, e),
    };
    if let Err(e) = store.set_proposal_status(&id, status, Some(&outcome), None) {
        tracing::warn!("could not record how proposal {id} ended: {e}");
    }
    Settled {
        status,
        outcome: Some(outcome),
    }
}
