//! The conversation with the operator: what was asked, what it answered, and the action
//! cards waiting for a yes or a no.

use super::proposal::{Proposal, label_of};
use super::session::{ProposalStatus, Session, SessionEntry};

/// How many entries of a reopened session the pane shows again (the operator remembers
/// the whole conversation; the pane needs only its end).
pub const REOPENED_ENTRIES: usize = 60;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Speaker {
    You,
    Operator,
    /// A tool the operator called, as one compact line (`· status checkout`).
    Tool,
    /// Something the person should know about the turn: a fallback, a cap, a cancel.
    Notice,
    /// A step of an iterate run's timeline (edits → gates → fixes → ship → verdict).
    Step(Tone),
}

/// How a timeline step went, for its colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    Info,
    Good,
    Bad,
}

/// Where a proposed action stands.
#[derive(Clone, Debug, PartialEq)]
pub enum CardState {
    /// Shown; nothing happens until y or n.
    Waiting,
    /// Confirmed and sent to the engine.
    Sent,
    Done(String),
    Failed(String),
    Rejected,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub speaker: Speaker,
    pub text: String,
    pub card: Option<(Proposal, CardState)>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Transcript {
    pub entries: Vec<Entry>,
}

impl Transcript {
    /// A stored session shown again: its last [`REOPENED_ENTRIES`] entries, proposals
    /// with how they ended (one still waiting is decided from the approvals list: its
    /// card cannot be answered from a conversation that is over).
    pub fn reopened(session: &Session) -> Transcript {
        let mut transcript = Transcript::default();
        let summary = &session.summary;
        transcript.note(
            Speaker::Notice,
            format!(
                "reopened the conversation of {} (session {}, {} {}); the operator remembers it",
                summary.updated.format("%Y-%m-%d %H:%M UTC"),
                summary.id,
                summary.provider,
                summary.model
            ),
        );
        let skip = session.entries.len().saturating_sub(REOPENED_ENTRIES);
        for stored in session.entries.iter().skip(skip) {
            match &stored.entry {
                SessionEntry::User { text } => transcript.you(text),
                SessionEntry::Assistant { text } if !text.is_empty() => {
                    transcript.operator(text.clone(), None);
                }
                SessionEntry::ToolCall(call) => {
                    transcript.note(Speaker::Tool, tool_line(&call.name, &call.arguments));
                }
                SessionEntry::Proposal(p) => {
                    let label = serde_json::from_value(p.call.clone())
                        .map(|call| label_of(&call))
                        .unwrap_or_else(|_| p.id.to_string());
                    let how = match (p.status, &p.outcome) {
                        (ProposalStatus::Waiting, _) => "still waiting: A lists it".to_string(),
                        (status, Some(outcome)) => format!("{}: {outcome}", status.as_str()),
                        (status, None) => status.as_str().to_string(),
                    };
                    transcript.note(
                        Speaker::Notice,
                        format!("proposal {} `{label}` — {how}", p.id),
                    );
                }
                _ => {}
            }
        }
        transcript
    }

    pub fn you(&mut self, text: &str) {
        self.entries.push(Entry {
            speaker: Speaker::You,
            text: text.to_string(),
            card: None,
        });
    }

    /// An answer, with an action card when it proposes one. A new card replaces an older
    /// one still waiting: only the latest proposal can be confirmed.
    pub fn operator(&mut self, text: String, card: Option<Proposal>) {
        if card.is_some()
            && let Some((_, state)) = self.waiting_mut()
        {
            *state = CardState::Rejected;
        }
        self.entries.push(Entry {
            speaker: Speaker::Operator,
            text,
            card: card.map(|c| (c, CardState::Waiting)),
        });
    }

    /// One more card in the same answer: unlike [`Transcript::operator`] it leaves the
    /// cards already waiting alone (a model may propose several changes in one turn; they
    /// are answered in order).
    pub fn another_card(&mut self, card: Proposal) {
        self.entries.push(Entry {
            speaker: Speaker::Operator,
            text: String::new(),
            card: Some((card, CardState::Waiting)),
        });
    }

    /// A tool line or a notice; returns its index, to amend it when the tool's result comes.
    pub fn note(&mut self, speaker: Speaker, text: String) -> usize {
        self.entries.push(Entry {
            speaker,
            text,
            card: None,
        });
        self.entries.len() - 1
    }

    /// A piece of a streamed answer (a language-model provider): appended to the answer
    /// being written, or the start of a new one.
    pub fn stream(&mut self, chunk: &str) {
        match self.entries.last_mut() {
            Some(e) if e.speaker == Speaker::Operator && e.card.is_none() => e.text.push_str(chunk),
            _ => self.operator(chunk.to_string(), None),
        }
    }

    /// The card waiting for an answer, if any: the oldest, so several cards of one answer
    /// are answered in the order they are shown.
    pub fn waiting_mut(&mut self) -> Option<&mut (Proposal, CardState)> {
        self.entries
            .iter_mut()
            .filter_map(|e| e.card.as_mut())
            .find(|(_, state)| *state == CardState::Waiting)
    }

    pub fn has_waiting(&self) -> bool {
        self.entries
            .iter()
            .filter_map(|e| e.card.as_ref())
            .any(|(_, state)| *state == CardState::Waiting)
    }

    /// Records how a sent card's call ended; returns whether one was waiting for it.
    pub fn resolve(&mut self, label: &str, result: &Result<String, String>) -> bool {
        let sent = self
            .entries
            .iter_mut()
            .rev()
            .filter_map(|e| e.card.as_mut())
            .find(|(c, state)| c.label == label && *state == CardState::Sent);
        match sent {
            Some((_, state)) => {
                *state = match result {
                    Ok(text) => CardState::Done(text.clone()),
                    Err(text) => CardState::Failed(text.clone()),
                };
                true
            }
            None => false,
        }
    }
}

/// A tool call as one short line: the call as a person reads it (`status checkout`), or
/// the workspace tool with its arguments.
pub fn tool_line(name: &str, arguments: &serde_json::Value) -> String {
    if let Ok(call) = crate::api::catalog::call_from_tool(name, arguments) {
        return label_of(&call);
    }
    let mut words = vec![name.to_string()];
    if let Some(args) = arguments.as_object() {
        for (key, value) in args {
            match value {
                serde_json::Value::String(s) => words.push(format!("{key}={s}")),
                serde_json::Value::Null => {}
                // Edits name their files; the contents are the diff's business (`D`).
                serde_json::Value::Array(items) => {
                    let paths: Vec<&str> = items
                        .iter()
                        .filter_map(|i| i.get("path").and_then(|p| p.as_str()))
                        .collect();
                    if paths.len() == items.len() && !paths.is_empty() {
                        words.push(paths.join(", "));
                    } else {
                        words.push(format!("{key}=[{} item(s)]", items.len()));
                    }
                }
                serde_json::Value::Object(map) => {
                    words.push(format!("{key}={{{} field(s)}}", map.len()))
                }
                other => words.push(format!("{key}={other}")),
            }
        }
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::tool_line;

    #[test]
    fn an_edit_shows_as_its_files_not_its_contents() {
        let edits = serde_json::json!({"edits": [
            {"kind": "whole_file", "path": "ORDER.md", "content": "a long text"},
            {"kind": "search_replace", "path": "app.py", "search": "a", "replace": "b"}
        ]});
        assert_eq!(
            tool_line("candidate_edit", &edits),
            "candidate_edit ORDER.md, app.py"
        );
    }
}
