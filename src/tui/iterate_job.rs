//! The dashboard's iterate runs: a turn whose request is a change to a plugin's code runs
//! iterate's pipeline instead of an ordinary answer. Its steps go to the pane's timeline
//! ([`Msg::Timeline`]), the model's words and tool lines as usual ([`Msg::Operator`]), and
//! the proposals to ship it as cards. Once a person ran one, the next one follows (the
//! canary after the accept) and the timeline says how each ended.

use super::app::Msg;
use crate::ai::iterate::pipeline::{self, IterateEvent, IterateRequest};
use crate::ai::iterate::route;
use crate::ai::operator::{Operator, OperatorEvent, Pending, Turn};
use crate::api::Call;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// The proposals of iterate runs still to be decided, by proposal id, each with the one
/// to make once it ran.
#[derive(Clone, Default)]
pub struct Shipping(Arc<Mutex<HashMap<String, Option<Call>>>>);

impl Shipping {
    fn expect(&self, id: &str, then: Option<Call>) {
        lock(&self.0).insert(id.to_string(), then);
    }

    /// `Some` when `id` is an iterate proposal: what follows it, if anything.
    fn take(&self, id: &str) -> Option<Option<Call>> {
        lock(&self.0).remove(id)
    }

    /// After a person decided proposal `pending` (labelled `label`): for an iterate
    /// proposal the timeline says how it ended, and a yes that ran brings the next one.
    pub async fn decided(
        &self,
        operator: &Operator,
        pending: &Pending,
        label: &str,
        result: Option<&Result<String, String>>,
        tx: &mpsc::UnboundedSender<Msg>,
    ) {
        let Some(then) = self.take(&pending.id) else {
            return;
        };
        let Some(result) = result else {
            return; // rejected: nothing ran, nothing follows
        };
        let (ok, summary) = match result {
            Ok(text) => (true, text.clone()),
            Err(text) => (false, text.clone()),
        };
        let _ = tx.send(Msg::Timeline(IterateEvent::Shipped {
            label: label.to_string(),
            ok,
            summary,
        }));
        if let (true, Some(call)) = (ok, then) {
            let next = operator.propose(call).await;
            self.expect(&next.id, None);
            let _ = tx.send(Msg::FollowUp(next));
        }
    }
}

/// Runs `req` as turn `turn`; returns the turn to record in the session.
pub async fn run(
    operator: &Operator,
    req: IterateRequest,
    turn: u64,
    forward: &mpsc::UnboundedSender<Msg>,
    shipping: &Shipping,
) -> Turn {
    let (tx, mut rx) = mpsc::channel(256);
    let work = async {
        let done = pipeline::iterate(operator, &req, &tx).await;
        drop(tx);
        done
    };
    let relay = async {
        while let Some(event) = rx.recv().await {
            let _ = forward.send(match event {
                IterateEvent::Turn(event) => Msg::Operator { turn, event },
                step => Msg::Timeline(step),
            });
        }
    };
    let (result, ()) = tokio::join!(work, relay);
    let mut out = Turn::new(operator.answerer());
    let say = |text: &str| {
        let _ = forward.send(Msg::Operator {
            turn,
            // After the timeline's steps, so it starts an answer of its own.
            event: OperatorEvent::Text(text.to_string()),
        });
    };
    match result {
        Ok(done) => {
            let text = route::outcome_text(&done);
            say(&text);
            let last = done.proposals.len().saturating_sub(1);
            for (i, pending) in done.proposals.iter().enumerate() {
                // The canary follows the accept, which is the last proposal.
                let then = if i == last { done.ship.clone() } else { None };
                shipping.expect(&pending.id, then);
                let _ = forward.send(Msg::Operator {
                    turn,
                    event: OperatorEvent::Proposal(pending.clone()),
                });
            }
            out.answer = text;
            out.proposals = done.proposals;
            out.usage = done.usage;
            out.cost_usd = done.cost_usd;
        }
        Err(e) => {
            let text = format!(
                "I could not work on {}'s code: {e}\nNothing live changed.",
                req.plugin
            );
            say(&text);
            out.answer = text;
            out.error = Some(e);
        }
    }
    out
}

fn lock<T>(value: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    value.lock().unwrap_or_else(|e| e.into_inner())
}
