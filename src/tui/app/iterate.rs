//! Iterate in the operator pane: a change asked in plain words ("make /api/items return
//! the newest first") shows as a timeline: the candidate, each edit, each gate run, each
//! fix, the proposals to ship it (cards, each on a y), and how the preview or canary
//! ended. The candidate's diff is one key away (`D`), coloured.

use super::{App, Effect, Overlay};
use crate::ai::iterate::heal::HealDecision;
use crate::ai::iterate::pipeline::IterateEvent;
use crate::ai::operator::Pending;
use crate::ai::transcript::{Speaker, Tone};
use crate::tui::keymap::{Code, Key, Named};

/// The candidate the operator is working on (or last worked on), for `D`.
#[derive(Clone, Debug, PartialEq)]
pub struct CandidateView {
    pub id: String,
    pub plugin: String,
    /// Unified, against the live source.
    pub diff: String,
    /// While its canary is proposed or under way: the newest engine event shown in the
    /// timeline (rollout steps and verdicts of its plugin), so a replayed one is not shown
    /// twice.
    pub canary_events_after: Option<i64>,
}

/// Lines a page key scrolls the diff.
const PAGE: u16 = 10;

impl App {
    pub(super) fn on_timeline(&mut self, event: IterateEvent) {
        let diff_key = self
            .keymap
            .keys_of(crate::tui::keymap::Action::CandidateDiff)
            .first()
            .map(|k| k.to_string())
            .unwrap_or_else(|| "D".to_string());
        let (tone, text) = match event {
            IterateEvent::Created {
                candidate, plugin, ..
            } => {
                let text = format!(
                    "candidate {candidate} of {plugin}: a staged copy; nothing live changes"
                );
                self.op.candidate = Some(CandidateView {
                    id: candidate,
                    plugin,
                    diff: String::new(),
                    canary_events_after: None,
                });
                (Tone::Info, text)
            }
            IterateEvent::Edited { summary, diff } => {
                if let Some(view) = &mut self.op.candidate {
                    view.diff = diff;
                }
                (Tone::Info, format!("edited: {summary} ({diff_key} diff)"))
            }
            IterateEvent::Gates { passed, summary } => {
                if passed {
                    (Tone::Good, format!("gates passed: {summary}"))
                } else {
                    (Tone::Bad, format!("gates failed: {summary}"))
                }
            }
            IterateEvent::Heal { decision } => match decision {
                HealDecision::Heal { attempt } => {
                    (Tone::Info, format!("asking the model for fix {attempt}"))
                }
                HealDecision::Stuck { attempts } => (
                    Tone::Bad,
                    format!("stuck: the same failure came back after {attempts} fix(es)"),
                ),
                HealDecision::Exhausted { attempts } => {
                    (Tone::Bad, format!("no fix left to try ({attempts} tried)"))
                }
            },
            // The card that follows says it in full.
            IterateEvent::Proposed { .. } => return,
            IterateEvent::Shipped { label, ok, summary } => {
                if label.starts_with("deploy")
                    && let Some(view) = &mut self.op.candidate
                {
                    view.canary_events_after = None;
                }
                let tone = if ok { Tone::Good } else { Tone::Bad };
                let how = if ok { "done" } else { "failed" };
                (tone, format!("{label}: {how}: {summary}"))
            }
            // A turn's own text and tool lines come as operator messages.
            IterateEvent::Turn(_) => return,
        };
        self.operator.note(Speaker::Step(tone), text);
    }

    /// A proposal that follows one a person ran: one more card, answered like the others.
    pub(super) fn on_follow_up(&mut self, pending: Pending) {
        // The canary card: from now on its plugin's rollout steps join the timeline.
        let newest = self.events.back().map_or(0, |e| e.id);
        if let Some(view) = &mut self.op.candidate {
            view.canary_events_after = Some(newest);
        }
        self.operator.another_card(pending.proposal.clone());
        self.op.remember(pending);
    }

    /// An engine event: a step or verdict of the candidate's canary joins the timeline.
    pub(super) fn timeline_event(&mut self, record: &crate::core::store::EventRecord) {
        use crate::core::event_kind::EventKind as K;
        let Some(view) = &mut self.op.candidate else {
            return;
        };
        let Some(after) = view.canary_events_after else {
            return;
        };
        if record.id <= after || record.plugin.as_deref() != Some(view.plugin.as_str()) {
            return;
        }
        let tone = match record.kind {
            K::CanaryStep | K::CanaryJudged | K::RolloutHeld | K::RolloutPromoted => Tone::Info,
            K::DeploySucceeded => Tone::Good,
            K::AutoRollback | K::RolledBack | K::RolloutAborted | K::DeployFailed => Tone::Bad,
            _ => return,
        };
        view.canary_events_after = Some(record.id);
        self.operator.note(
            Speaker::Step(tone),
            crate::core::logs::escape_controls(&record.message).into_owned(),
        );
    }

    pub(super) fn open_diff(&mut self) {
        if self.op.candidate.is_some() {
            self.overlay = Overlay::Diff(0);
        } else {
            self.notify(
                "no candidate yet: ask the operator for a change to a plugin's code".to_string(),
                false,
            );
        }
    }

    pub(super) fn on_diff_key(&mut self, key: Key, scroll: u16) -> Vec<Effect> {
        let rows = self
            .op
            .candidate
            .as_ref()
            .map_or(0, |c| c.diff.lines().count()) as u16;
        let last = rows.saturating_sub(1);
        self.overlay = match key.code {
            Code::Named(Named::Esc) | Code::Char('q') | Code::Char('D') => Overlay::None,
            Code::Named(Named::Down) | Code::Char('j') => Overlay::Diff((scroll + 1).min(last)),
            Code::Named(Named::Up) | Code::Char('k') => Overlay::Diff(scroll.saturating_sub(1)),
            Code::Named(Named::PageDown) | Code::Char(' ') => {
                Overlay::Diff((scroll + PAGE).min(last))
            }
            Code::Named(Named::PageUp) => Overlay::Diff(scroll.saturating_sub(PAGE)),
            Code::Named(Named::Home) | Code::Char('g') => Overlay::Diff(0),
            Code::Named(Named::End) | Code::Char('G') => Overlay::Diff(last),
            _ => Overlay::Diff(scroll),
        };
        Vec::new()
    }
}
