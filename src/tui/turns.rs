//! Operator turns as async jobs (gitui's pattern): the app asks with an [`Effect`], a task
//! runs the turn and reports back as [`Msg`]s, and the event loop keeps drawing meanwhile.
//!
//! One [`Operator`] is built when the dashboard starts ([`operator_for_dashboard`]) and
//! shared by every turn and approval. The conversation's history is the operator's memory
//! between turns; a turn works on a copy and writes it back only when it finishes, so a
//! cancelled turn (its task aborted at any await) leaves no half-turn behind — no request
//! without an answer, no tool call without its result.

use super::app::{Effect, Msg};
use crate::ai::operator::{Operator, Pending};
use crate::ai::provider::Message;
use crate::core::types::Face;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

/// How a turn stopped by [`Turns::cancel`] ends.
pub const CANCELLED: &str = "cancelled";

/// Events of one turn waiting to be forwarded; the operator waits when it is full.
const TURN_EVENTS: usize = 256;

/// The dashboard's operator: the provider configured for this workspace (`[ai]` in
/// naap.toml, `~/.config/naap/ai.toml`, `NAAP_AI_*`), else the offline router; tools on the
/// engine at `socket` as the `ai` face; the workspace's redactor. The text, when there is
/// one, says why the configured provider is not used, for the pane to show.
pub fn operator_for_dashboard(socket: &Path, root: &Path) -> (Operator, Option<String>) {
    let state_dir = socket.parent().unwrap_or(root);
    crate::ai::setup::operator_or_offline(root, state_dir, Face::Ai, &Default::default())
}

/// Runs the turns and approvals the app asks for.
pub struct Turns {
    operator: Arc<Operator>,
    history: Arc<Mutex<Vec<Message>>>,
    running: Option<(u64, AbortHandle)>,
}

impl Turns {
    pub fn new(operator: Arc<Operator>) -> Turns {
        Turns {
            operator,
            history: Arc::new(Mutex::new(Vec::new())),
            running: None,
        }
    }

    pub fn operator(&self) -> &Arc<Operator> {
        &self.operator
    }

    /// Runs an operator effect; returns it back when it is not one (an engine call, quit).
    pub fn handle(&mut self, effect: Effect, tx: &mpsc::UnboundedSender<Msg>) -> Option<Effect> {
        match effect {
            Effect::Ask {
                turn,
                text,
                selected,
            } => self.ask(turn, text, selected, tx.clone()),
            Effect::CancelTurn { turn } => self.cancel(turn),
            Effect::Approve { label, pending } => self.approve(label, pending, tx.clone()),
            other => return Some(other),
        }
        None
    }

    /// Starts turn `turn`. The app sends one turn at a time; should another arrive, the
    /// older one is stopped first, so two turns never race over the history.
    pub fn ask(
        &mut self,
        turn: u64,
        text: String,
        selected: Option<String>,
        tx: mpsc::UnboundedSender<Msg>,
    ) {
        if let Some((_, old)) = self.running.take() {
            old.abort();
        }
        let operator = self.operator.clone();
        let history = self.history.clone();
        let forward = tx.clone();
        let job = tokio::spawn(async move {
            let (events_tx, mut events_rx) = mpsc::channel(TURN_EVENTS);
            let mut mine = lock(&history).clone();
            let ask = async {
                operator
                    .ask(&mut mine, &text, selected.as_deref(), &events_tx)
                    .await;
                // The receiver below ends when every sender is gone.
                drop(events_tx);
            };
            let relay = async {
                while let Some(event) = events_rx.recv().await {
                    let _ = forward.send(Msg::Operator { turn, event });
                }
            };
            tokio::join!(ask, relay);
            *lock(&history) = mine;
        });
        self.running = Some((turn, job.abort_handle()));
        // Every turn ends with a message: a panic says so; a cancelled turn's end is for
        // the record only (the pane said "cancelled" when it asked and ignores it).
        tokio::spawn(async move {
            let result = match job.await {
                Ok(()) => Ok(()),
                Err(e) if e.is_cancelled() => Err(CANCELLED.to_string()),
                Err(e) => Err(format!("the turn failed: {e}")),
            };
            let _ = tx.send(Msg::TurnEnded { turn, result });
        });
    }

    /// Stops turn `turn` if it still runs: dropping its future stops the provider's stream
    /// and any tool call in flight.
    pub fn cancel(&mut self, turn: u64) {
        if let Some((running, handle)) = self.running.take() {
            if running == turn {
                handle.abort();
            } else {
                self.running = Some((running, handle));
            }
        }
    }

    /// Runs an approved proposal through the operator (audited as `ai`, hash checked) and
    /// reports like any engine call, with [`Msg::Done`].
    pub fn approve(&self, label: String, pending: Pending, tx: mpsc::UnboundedSender<Msg>) {
        let operator = self.operator.clone();
        tokio::spawn(async move {
            let result = operator.approve(&pending).await.map(|value| {
                value
                    .get("summary")
                    .and_then(|s| s.as_str())
                    .map_or_else(|| format!("{label}: done"), str::to_string)
            });
            let _ = tx.send(Msg::Done {
                label,
                result,
                hints: Vec::new(),
            });
        });
    }
}

/// The history, even if a turn panicked while holding it (it holds it only to copy).
fn lock(history: &Mutex<Vec<Message>>) -> std::sync::MutexGuard<'_, Vec<Message>> {
    history.lock().unwrap_or_else(|e| e.into_inner())
}
