//! The operator pane's state and keys. A request becomes an [`Effect::Ask`]; the event loop
//! runs the turn as a task of its own and hands back what happens as [`Msg::Operator`]
//! messages (text as it streams, tool calls, proposals, notices, tokens), then
//! [`Msg::TurnEnded`]. Nothing here waits for a model, so no turn ever holds up a frame.
//!
//! One turn at a time: a request sent while the operator is still answering is refused with
//! a notice (the text stays in the input, to send once the answer is in or after `esc`
//! cancels it). Queueing would run a request against an answer the person has not read yet.

use super::{App, Effect, Msg, Pane};
use crate::ai::offline::{World, respond};
use crate::ai::operator::{OperatorEvent, Pending, offline_info};
use crate::ai::provider::{ProviderInfo, Usage};
use crate::ai::transcript::{CardState, Speaker};
use crate::core::logs::{LogOrigin, LogQuery};
use crate::core::store::EventRecord;
use crate::core::types::Level;
use crate::tui::keymap::{Action, Context, Key};
use ratatui_textarea::TextArea;
use std::collections::HashMap;

/// What the pane knows about the operator beyond the transcript.
#[derive(Clone, Debug, PartialEq)]
pub struct OperatorState {
    /// Who answers: the model configured, or the offline router (until a turn says).
    pub answering: ProviderInfo,
    /// The turn under way, by number; `None` when the operator is idle.
    pub turn: Option<u64>,
    /// Tokens of the last turn, when the provider reported them.
    pub usage: Option<Usage>,
    /// Whether a person may run a proposal from here (`false` in suggest mode).
    pub runnable: bool,
    /// The model's price, when configured: the title shows a turn's cost.
    pub price: Option<crate::ai::config::Price>,
    next_turn: u64,
    /// The operator's proposals, each bound to the hash of its exact call.
    proposals: Vec<Pending>,
    /// Transcript line of each tool call of the turn, to mark how it ended.
    tool_lines: HashMap<String, usize>,
    /// Whether this turn already showed a card (its next cards wait beside it).
    carded: bool,
    /// The candidate iterate works on (or last worked on): `D` shows its diff.
    pub candidate: Option<super::iterate::CandidateView>,
}

impl Default for OperatorState {
    fn default() -> OperatorState {
        OperatorState {
            answering: offline_info(),
            turn: None,
            usage: None,
            runnable: true,
            price: None,
            next_turn: 1,
            proposals: Vec::new(),
            tool_lines: HashMap::new(),
            carded: false,
            candidate: None,
        }
    }
}

impl OperatorState {
    /// Who answers, as the pane's title says it: `offline operator`, `openai gpt-4o-mini`.
    pub fn who(&self) -> String {
        if self.answering.kind == offline_info().kind {
            "offline operator".to_string()
        } else {
            format!("{} {}", self.answering.kind, self.answering.model)
        }
    }

    /// A proposal whose card is shown, for y to find.
    pub(super) fn remember(&mut self, pending: Pending) {
        self.proposals.push(pending);
    }

    /// The operator's proposal behind a card, if the card is one.
    fn pending_for(&self, card: &crate::ai::proposal::Proposal) -> Option<&Pending> {
        self.proposals
            .iter()
            .rev()
            .find(|p| p.proposal == *card && p.hash == card.hash())
    }
}

impl App {
    /// Typing to the operator. Printable keys type (y and n answer a waiting card when
    /// nothing is typed); the operator context's bindings and the global non-printable ones
    /// (tab, f1, ctrl+c) work as everywhere; the rest edits the input.
    pub(super) fn on_operator_key(&mut self, key: Key) -> Vec<Effect> {
        let empty = self.input.lines().iter().all(|l| l.trim().is_empty());
        let action = match self.keymap.action(Context::Operator, key) {
            // With nothing typed, `?` (or whatever help is bound to) opens the help.
            // So does the candidate's diff key, once there is a candidate.
            None if empty && key.is_printable() => {
                self.keymap.action(Context::Global, key).filter(|a| {
                    *a == Action::Help
                        || (*a == Action::CandidateDiff && self.op.candidate.is_some())
                })
            }
            other => other,
        };
        let card_key = matches!(action, Some(Action::Yes | Action::No));
        match action {
            Some(_) if card_key && !(empty && self.operator.has_waiting()) => {
                self.input.input(super::textarea_input(key));
                Vec::new()
            }
            Some(action) => self.on_action(action),
            None => {
                self.input.input(super::textarea_input(key));
                Vec::new()
            }
        }
    }

    /// The operator context's actions.
    pub(super) fn on_operator_action(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Send => self.ask_operator(),
            Action::Cancel => match self.op.turn.take() {
                Some(turn) => {
                    self.operator.note(Speaker::Notice, "cancelled".to_string());
                    vec![Effect::CancelTurn { turn }]
                }
                None => {
                    self.focus = Pane::Plugins;
                    Vec::new()
                }
            },
            Action::Yes => self.answer_card(true),
            Action::No => self.answer_card(false),
            _ => Vec::new(),
        }
    }

    /// y or n on the waiting card. An operator proposal runs through the operator (audited
    /// as `ai`, its hash checked); in suggest mode it is shown but not run from here.
    fn answer_card(&mut self, yes: bool) -> Vec<Effect> {
        let pending = match self.operator.waiting_mut() {
            Some((card, _)) => self.op.pending_for(card).cloned(),
            None => return Vec::new(),
        };
        if !yes {
            let Some((card, state)) = self.operator.waiting_mut() else {
                return Vec::new();
            };
            *state = CardState::Rejected;
            let label = card.label.clone();
            // The operator's proposal is recorded as rejected, so it does not wait on.
            return pending
                .map(|pending| vec![Effect::Reject { label, pending }])
                .unwrap_or_default();
        }
        if pending.is_some() && !self.op.runnable {
            self.notify(
                "suggest mode: this proposal is not runnable here; run the call yourself (:line or naap) or n to dismiss it".to_string(),
                true,
            );
            return Vec::new();
        }
        let Some((card, state)) = self.operator.waiting_mut() else {
            return Vec::new();
        };
        *state = CardState::Sent;
        let (label, call) = (card.label.clone(), card.call.clone());
        match pending {
            Some(pending) => {
                self.in_flight.push(label.clone());
                vec![Effect::Approve {
                    label,
                    pending,
                    confirmed: self.confirmed(),
                }]
            }
            None => self.send_confirmed(label, call),
        }
    }

    /// Sends what is typed to the operator as a new turn, unless one is under way.
    fn ask_operator(&mut self) -> Vec<Effect> {
        let text = self.input.lines().join(" ");
        let text = text.trim();
        if text.is_empty() {
            return Vec::new();
        }
        if self.op.turn.is_some() {
            self.notify(
                "the operator is still answering; esc cancels it, then send again (your text is kept)".to_string(),
                true,
            );
            return Vec::new();
        }
        let text = text.to_string();
        self.input = TextArea::default();
        self.operator.you(&text);
        self.show_errors_if_asked(&text);
        let turn = self.op.next_turn;
        self.op.next_turn += 1;
        self.op.turn = Some(turn);
        self.op.usage = None;
        self.op.tool_lines.clear();
        self.op.carded = false;
        vec![Effect::Ask {
            turn,
            text,
            selected: self.selected.clone(),
        }]
    }

    /// "show errors from the canary" also narrows this dashboard's log pane: a view of this
    /// face, not an engine call, read from the words the same way the offline router does.
    fn show_errors_if_asked(&mut self, text: &str) {
        let events: Vec<EventRecord> = self.events.iter().cloned().collect();
        let logs = self.logs.recent(0);
        let reply = respond(
            text,
            &World {
                report: self.report.as_ref(),
                selected: self.selected.as_deref(),
                events: &events,
                logs: &logs,
            },
        );
        if let Some((plugin, slot)) = reply.show_errors {
            self.selected = Some(plugin.clone());
            self.log_filter_text.clear();
            self.logs.set_filter(LogQuery {
                plugin,
                slot: slot.map(LogOrigin::Slot),
                min_level: Some(Level::Error),
                ..LogQuery::default()
            });
        }
    }

    /// What a running turn reports. Messages of a turn that is no longer the current one
    /// (cancelled, or superseded) are dropped.
    pub(super) fn on_operator_msg(&mut self, msg: Msg) {
        match msg {
            Msg::Operator { turn, event } if self.op.turn == Some(turn) => self.on_turn(event),
            Msg::TurnEnded { turn, result } if self.op.turn == Some(turn) => {
                self.op.turn = None;
                if let Err(why) = result {
                    self.operator.note(Speaker::Notice, why);
                }
            }
            _ => {}
        }
    }

    fn on_turn(&mut self, event: OperatorEvent) {
        match event {
            OperatorEvent::Answering(info) => self.op.answering = info,
            OperatorEvent::Text(chunk) => self.operator.stream(&chunk),
            OperatorEvent::ToolCall {
                id,
                name,
                arguments,
            } => {
                let line = self.operator.note(
                    Speaker::Tool,
                    crate::ai::transcript::tool_line(&name, &arguments),
                );
                self.op.tool_lines.insert(id, line);
            }
            OperatorEvent::ToolResult {
                id, ok, truncated, ..
            } => {
                let line = self.op.tool_lines.get(&id).copied();
                if let Some(entry) = line.and_then(|i| self.operator.entries.get_mut(i)) {
                    if !ok {
                        entry.text.push_str(" — failed");
                    }
                    if truncated {
                        entry.text.push_str(" (cut to the cap)");
                    }
                }
            }
            OperatorEvent::Proposal(pending) => {
                let card = pending.proposal.clone();
                if self.op.carded {
                    self.operator.another_card(card);
                } else {
                    // A new turn's first card replaces an older one still waiting.
                    self.operator.operator(String::new(), Some(card));
                }
                self.op.carded = true;
                self.op.proposals.push(pending);
            }
            OperatorEvent::Notice(text) => {
                self.operator.note(Speaker::Notice, text);
            }
            OperatorEvent::Usage(usage) => self.op.usage = Some(usage),
        }
    }

    /// A line in the transcript saying something about the operator (e.g. why the
    /// configured model is not the one answering).
    pub fn operator_notice(&mut self, text: String) {
        self.operator.note(Speaker::Notice, text);
    }
}
