//! The approvals list (`A`): proposals waiting in the session store for a person, whoever
//! made them (an MCP client, a model in `naap chat`, an earlier dashboard). Each shows the
//! exact call and the engine's dry run stored with it; y runs it as stored (its hash
//! checked), n rejects it. Also: the engine's dry run arriving for a key's confirmation.

use super::{App, Effect, Overlay};
use crate::ai::session::ProposalRecord;
use crate::tui::keymap::{Code, Key, Named};

impl App {
    pub(super) fn open_approvals(&mut self) {
        if self.waiting.is_empty() {
            self.notify(
                "no proposal is waiting for a yes (MCP clients' and naap chat's show here)"
                    .to_string(),
                false,
            );
        } else {
            self.overlay = Overlay::Approvals(0);
        }
    }

    /// A new list from the store. The selection stays on the same proposal when it is
    /// still there; the list closes when nothing waits any more.
    pub(super) fn on_waiting(&mut self, list: Result<Vec<ProposalRecord>, String>) {
        let list = match list {
            Ok(list) => list,
            Err(e) => {
                self.notify(format!("cannot read the waiting proposals: {e}"), true);
                return;
            }
        };
        let arrived = list
            .iter()
            .filter(|r| !self.waiting.iter().any(|w| w.proposal.id == r.proposal.id))
            .count();
        if let Overlay::Approvals(at) = self.overlay {
            let selected = self.waiting.get(at).map(|r| r.proposal.id.clone());
            self.overlay =
                match selected.and_then(|id| list.iter().position(|r| r.proposal.id == id)) {
                    _ if list.is_empty() => Overlay::None,
                    Some(i) => Overlay::Approvals(i),
                    None => Overlay::Approvals(at.min(list.len() - 1)),
                };
        }
        // Say so when a proposal from elsewhere arrives; this dashboard's own are on cards.
        let foreign = list
            .iter()
            .rev()
            .take(arrived)
            .filter(|r| r.face != crate::core::types::Face::Dashboard)
            .count();
        self.waiting = list;
        if foreign > 0 && !self.waiting.is_empty() && self.notice.is_none() {
            self.notify(
                format!(
                    "{} proposal{} waiting for a yes: A lists {}",
                    self.waiting.len(),
                    if self.waiting.len() == 1 {
                        " is"
                    } else {
                        "s are"
                    },
                    if self.waiting.len() == 1 {
                        "it"
                    } else {
                        "them"
                    }
                ),
                false,
            );
        }
    }

    pub(super) fn on_approvals_key(&mut self, key: Key, at: usize) -> Vec<Effect> {
        let last = self.waiting.len().saturating_sub(1);
        match key.code {
            Code::Named(Named::Esc) | Code::Char('q') => Vec::new(),
            Code::Named(Named::Up) | Code::Char('k') => {
                self.overlay = Overlay::Approvals(at.saturating_sub(1));
                Vec::new()
            }
            Code::Named(Named::Down) | Code::Char('j') => {
                self.overlay = Overlay::Approvals((at + 1).min(last));
                Vec::new()
            }
            Code::Char(c @ ('y' | 'Y' | 'n' | 'N')) => {
                let Some(record) = self.waiting.get(at) else {
                    return Vec::new();
                };
                let id = record.proposal.id.to_string();
                let approve = c.eq_ignore_ascii_case(&'y');
                self.in_flight.push(format!("proposal {id}"));
                // Off the list at once; the store's next answer says how it stands.
                self.waiting.remove(at);
                if !self.waiting.is_empty() {
                    self.overlay = Overlay::Approvals(at.min(self.waiting.len() - 1));
                }
                vec![Effect::DecideStored {
                    id,
                    approve,
                    confirmed: self.confirmed(),
                }]
            }
            _ => {
                // Any other key keeps the list up: a stray key must not decide.
                self.overlay = Overlay::Approvals(at);
                Vec::new()
            }
        }
    }

    /// The engine's dry run for the confirmation on screen, when it is still the one for
    /// that call: its lines replace the dashboard's estimate.
    pub(super) fn previewed(&mut self, hash: &str, lines: Vec<String>) {
        if let Overlay::Confirm(card) = &mut self.overlay
            && card.hash() == hash
            && !lines.is_empty()
        {
            card.lines = lines;
        }
    }
}
