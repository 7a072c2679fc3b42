//! Operator turns as async jobs (gitui's pattern): the app asks with an [`Effect`], a task
//! runs the turn and reports back as [`Msg`]s, and the event loop keeps drawing meanwhile.
//!
//! One [`Operator`] is built when the dashboard starts ([`operator_for_dashboard`]) and
//! shared by every turn and approval. The conversation's history is the operator's memory
//! between turns; a turn works on a copy and writes it back only when it finishes, so a
//! cancelled turn (its task aborted at any await) leaves no half-turn behind — no request
//! without an answer, no tool call without its result.
//!
//! With a session store ([`Turns::with_sessions`]) every turn is kept in `operator.db`
//! like `naap chat`'s, the dashboard reopens its last conversation, and proposals waiting
//! in the store (an MCP client's, a script's `naap chat`, an earlier dashboard's) are
//! listed for a person to decide here.

use super::app::{App, Effect, Msg};
use super::iterate_job::{self, Shipping};
use crate::ai::approval;
use crate::ai::operator::{Operator, Pending};
use crate::ai::provider::Message;
use crate::ai::session::{
    Decision, ProposalId, ProposalRecord, SessionEntry, SessionId, SessionStore,
};
use crate::ai::setup;
use crate::ai::tools::Tools;
use crate::ai::transcript::Transcript;
use crate::core::types::Face;
use crate::core::workspace::Environment;
use std::path::{Path, PathBuf};
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

/// Where the dashboard keeps its conversation, and runs stored proposals.
struct Sessions {
    store: Arc<SessionStore>,
    /// The conversation under way; made at the first turn unless one was reopened.
    current: Arc<Mutex<Option<SessionId>>>,
    socket: PathBuf,
    root: PathBuf,
    /// The waiting proposals the app was last told about.
    shown: Option<Vec<ProposalRecord>>,
}

/// Runs the turns and approvals the app asks for.
pub struct Turns {
    operator: Arc<Operator>,
    history: Arc<Mutex<Vec<Message>>>,
    running: Option<(u64, AbortHandle)>,
    sessions: Option<Sessions>,
    /// Iterate's proposals still to be decided, and what follows each.
    shipping: Shipping,
}

impl Turns {
    /// Turns kept only in memory (tests of the pane, or when operator.db cannot be opened).
    pub fn new(operator: Arc<Operator>) -> Turns {
        Turns {
            operator,
            history: Arc::new(Mutex::new(Vec::new())),
            running: None,
            sessions: None,
            shipping: Shipping::default(),
        }
    }

    /// Turns recorded in `store`, with stored proposals run on the engine at `socket` for
    /// the workspace at `root`.
    pub fn with_sessions(
        operator: Arc<Operator>,
        store: SessionStore,
        socket: &Path,
        root: &Path,
    ) -> Turns {
        Turns {
            sessions: Some(Sessions {
                store: Arc::new(store),
                current: Arc::new(Mutex::new(None)),
                socket: socket.to_path_buf(),
                root: root.to_path_buf(),
                shown: None,
            }),
            ..Turns::new(operator)
        }
    }

    /// The dashboard's turns, as it starts: the operator for this workspace
    /// ([`operator_for_dashboard`]), its conversations kept in `operator.db` in the state
    /// directory, and the last one reopened into `app`'s pane, which also says who answers
    /// and anything that did not work out.
    pub fn start(app: &mut App, socket: &Path, root: &Path) -> Turns {
        let (operator, why_offline) = operator_for_dashboard(socket, root);
        app.op.answering = operator.answerer();
        app.op.runnable = operator.policy().proposals_runnable();
        app.op.price = operator.price();
        let operator = Arc::new(operator);
        let state_dir = socket.parent().unwrap_or(root);
        let mut notices = Vec::new();
        let mut turns = match SessionStore::open(state_dir) {
            Ok(store) => Turns::with_sessions(operator, store, socket, root),
            Err(e) => {
                notices.push(format!(
                    "conversations are not kept: {e}\nThe operator works; this conversation is lost when the dashboard closes."
                ));
                Turns::new(operator)
            }
        };
        match turns.reopen_last() {
            Ok(Some(transcript)) => app.operator = transcript,
            Ok(None) => {}
            Err(e) => notices.push(format!("the last conversation cannot be reopened: {e}")),
        }
        notices.extend(why_offline);
        for notice in notices {
            app.operator_notice(notice);
        }
        turns
    }

    pub fn operator(&self) -> &Arc<Operator> {
        &self.operator
    }

    /// Reopens the dashboard's last conversation: the operator continues it, and the pane
    /// shows it again. `None` when there is none (or no store).
    pub fn reopen_last(&mut self) -> Result<Option<Transcript>, String> {
        let Some(sessions) = &self.sessions else {
            return Ok(None);
        };
        let store = &sessions.store;
        let Some(id) = store.last_of(Face::Dashboard).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let session = store.load(id).map_err(|e| e.to_string())?;
        *lock(&self.history) = setup::history_of(&session);
        *lock(&sessions.current) = Some(id);
        Ok(Some(Transcript::reopened(&session)))
    }

    /// The proposals waiting in the store, when they differ from what the app was last
    /// told; the event loop asks once a tick.
    pub fn poll_waiting(&mut self) -> Option<Result<Vec<ProposalRecord>, String>> {
        let sessions = self.sessions.as_mut()?;
        match sessions.store.pending_proposals() {
            Ok(list) if sessions.shown.as_ref() == Some(&list) => None,
            Ok(list) => {
                sessions.shown = Some(list.clone());
                Some(Ok(list))
            }
            Err(e) => Some(Err(e.to_string())),
        }
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
            Effect::Approve {
                label,
                pending,
                confirmed,
            } => self.decide(label, pending, true, confirmed, tx.clone()),
            Effect::Reject { label, pending } => {
                self.decide(label, pending, false, None, tx.clone())
            }
            Effect::DecideStored {
                id,
                approve,
                confirmed,
            } => self.decide_stored(id, approve, confirmed, tx.clone()),
            Effect::Preview { call } => self.preview(call, tx.clone()),
            Effect::Stories { plugin } => self.stories(plugin, tx.clone()),
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
        let record = self
            .sessions
            .as_ref()
            .map(|s| (s.store.clone(), s.current.clone()));
        let shipping = self.shipping.clone();
        let job = tokio::spawn(async move {
            let session = record.as_ref().and_then(|(store, current)| {
                begin_turn(store, current, &operator, &text, &forward)
            });
            // A change to a plugin's code: iterate's pipeline, shown as a timeline.
            if let Some(req) =
                crate::ai::iterate::route::change_of(&operator, &text, selected.as_deref()).await
            {
                let done = iterate_job::run(&operator, req, turn, &forward, &shipping).await;
                if let (Some((store, _)), Some(session)) = (&record, session)
                    && let Err(e) = setup::record_turn(store, session, &done)
                {
                    let _ = forward.send(Msg::Done {
                        label: "session".to_string(),
                        result: Err(format!("this turn is not kept in the session: {e}")),
                        hints: Vec::new(),
                    });
                }
                return;
            }
            let (events_tx, mut events_rx) = mpsc::channel(TURN_EVENTS);
            let mut mine = lock(&history).clone();
            let ask = async {
                let done = operator
                    .ask(&mut mine, &text, selected.as_deref(), &events_tx)
                    .await;
                // The receiver below ends when every sender is gone.
                drop(events_tx);
                done
            };
            let relay = async {
                while let Some(event) = events_rx.recv().await {
                    let _ = forward.send(Msg::Operator { turn, event });
                }
            };
            let (done, ()) = tokio::join!(ask, relay);
            *lock(&history) = mine;
            if let (Some((store, _)), Some(session)) = (&record, session)
                && let Err(e) = setup::record_turn(store, session, &done)
            {
                let _ = forward.send(Msg::Done {
                    label: "session".to_string(),
                    result: Err(format!("this turn is not kept in the session: {e}")),
                    hints: Vec::new(),
                });
            }
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

    /// A person's yes or no to a card of this dashboard's operator. A yes runs through the
    /// operator (audited as `ai`, hash checked) and reports like any engine call, with
    /// [`Msg::Done`]; both are recorded in the session when there is one, so the proposal
    /// does not wait in the approvals list after it was decided here.
    pub fn decide(
        &self,
        label: String,
        pending: Pending,
        approve: bool,
        confirmed: Option<Environment>,
        tx: mpsc::UnboundedSender<Msg>,
    ) {
        let operator = self.operator.clone();
        let record = self
            .sessions
            .as_ref()
            .map(|s| (s.store.clone(), s.current.clone()));
        let shipping = self.shipping.clone();
        tokio::spawn(async move {
            let result = match record {
                Some((store, current)) => {
                    settle_here(&operator, &store, &current, &pending, approve, confirmed).await
                }
                None if approve => operator
                    .approve(&pending, confirmed)
                    .await
                    .map(|value| approval::summary_of(&value)),
                None => return,
            };
            let ran = approve.then(|| result.clone());
            if approve {
                let _ = tx.send(Msg::Done {
                    label: label.clone(),
                    result,
                    hints: Vec::new(),
                });
            } else if let Err(e) = result {
                let _ = tx.send(Msg::Done {
                    label: label.clone(),
                    result: Err(e),
                    hints: Vec::new(),
                });
            }
            // An iterate proposal: the timeline says how it ended; the next one follows.
            shipping
                .decided(&operator, &pending, &label, ran.as_ref(), &tx)
                .await;
        });
    }

    /// A person's yes or no, from the approvals list, to a proposal waiting in the store.
    /// A yes runs it exactly as stored (hash checked), audited as the face that asked.
    pub fn decide_stored(
        &self,
        id: String,
        approve: bool,
        confirmed: Option<Environment>,
        tx: mpsc::UnboundedSender<Msg>,
    ) {
        let label = format!("proposal {id}");
        let Some(sessions) = &self.sessions else {
            let _ = tx.send(Msg::Done {
                label,
                result: Err("no session store is open here".to_string()),
                hints: Vec::new(),
            });
            return;
        };
        let (store, socket, root) = (
            sessions.store.clone(),
            sessions.socket.clone(),
            sessions.root.clone(),
        );
        tokio::spawn(async move {
            let result = decide_in_store(&store, &socket, &root, &id, approve, confirmed).await;
            let _ = tx.send(Msg::Done {
                label,
                result,
                hints: Vec::new(),
            });
        });
    }

    /// A plugin's stories from the engine, for the stories view.
    pub fn stories(&self, plugin: String, tx: mpsc::UnboundedSender<Msg>) {
        let operator = self.operator.clone();
        tokio::spawn(async move {
            let call = crate::api::Call::Stories(crate::core::engine::PluginRequest { plugin });
            let report = operator
                .tools()
                .engine_for_person(call)
                .await
                .and_then(|v| {
                    serde_json::from_value(v)
                        .map_err(|e| format!("the engine's stories are not understood: {e}"))
                });
            let _ = tx.send(Msg::Stories(report));
        });
    }

    /// The engine's own dry run of `call`, for a confirmation the dashboard opened from a
    /// key (its first lines are the dashboard's estimate from the status it has).
    pub fn preview(&self, call: crate::api::Call, tx: mpsc::UnboundedSender<Msg>) {
        let operator = self.operator.clone();
        tokio::spawn(async move {
            let hash = crate::ai::proposal::call_hash(&call);
            let pending = operator.propose(call).await;
            let _ = tx.send(Msg::Previewed {
                hash,
                lines: pending.proposal.lines,
            });
        });
    }
}

/// Records what a person asked, in the session under way (made now if there is none);
/// `None` (and a notice) when the store refuses, and the turn runs unrecorded.
fn begin_turn(
    store: &SessionStore,
    current: &Mutex<Option<SessionId>>,
    operator: &Operator,
    text: &str,
    forward: &mpsc::UnboundedSender<Msg>,
) -> Option<SessionId> {
    let result = session_of(store, current, operator).and_then(|session| {
        store
            .append(
                session,
                &SessionEntry::User {
                    text: text.to_string(),
                },
            )
            .map(|_| session)
            .map_err(|e| e.to_string())
    });
    match result {
        Ok(session) => Some(session),
        Err(e) => {
            let _ = forward.send(Msg::Done {
                label: "session".to_string(),
                result: Err(format!("this turn is not kept in the session: {e}")),
                hints: Vec::new(),
            });
            None
        }
    }
}

fn session_of(
    store: &SessionStore,
    current: &Mutex<Option<SessionId>>,
    operator: &Operator,
) -> Result<SessionId, String> {
    let mut current = lock(current);
    if let Some(id) = *current {
        return Ok(id);
    }
    let info = operator.answerer();
    let id = store
        .create(Face::Dashboard, &info.kind, &info.model)
        .map_err(|e| e.to_string())?;
    *current = Some(id);
    Ok(id)
}

/// A person at this dashboard.
fn dashboard_decision(confirmed: Option<Environment>) -> Decision {
    Decision {
        face: Face::Dashboard,
        by: crate::core::identity::operator_name(),
        confirmed,
    }
}

/// Settles a card of this dashboard in the store. A card answered before its turn ended
/// (and was recorded) is stored first, so the decision always has its proposal.
async fn settle_here(
    operator: &Operator,
    store: &SessionStore,
    current: &Mutex<Option<SessionId>>,
    pending: &Pending,
    approve: bool,
    confirmed: Option<Environment>,
) -> Result<String, String> {
    let id: ProposalId = pending.id.parse()?;
    if store.proposal(&id).is_err() {
        let session = session_of(store, current, operator)?;
        let entry = setup::proposal_entry(pending).map_err(|e| e.to_string())?;
        store
            .append(session, &SessionEntry::Proposal(entry))
            .map_err(|e| e.to_string())?;
    }
    let settled = setup::settle(
        operator,
        store,
        pending,
        approve,
        &dashboard_decision(confirmed),
    )
    .await;
    match settled.status {
        crate::ai::session::ProposalStatus::Ran => Ok(settled.outcome.unwrap_or_default()),
        crate::ai::session::ProposalStatus::Rejected => match settled.outcome {
            Some(e) => Err(e),
            None => Ok("rejected".to_string()),
        },
        _ => Err(settled
            .outcome
            .unwrap_or_else(|| "it did not run".to_string())),
    }
}

async fn decide_in_store(
    store: &SessionStore,
    socket: &Path,
    root: &Path,
    id: &str,
    approve: bool,
    confirmed: Option<Environment>,
) -> Result<String, String> {
    let id: ProposalId = id.parse()?;
    if !approve {
        return approval::reject(store, &id, &dashboard_decision(None))
            .map(|_| "rejected; it will not run".to_string())
            .map_err(|e| e.to_string());
    }
    let record = approval::waiting(store, &id).map_err(|e| e.to_string())?;
    let tools = Tools::new(
        socket.to_path_buf(),
        root.to_path_buf(),
        approval::audit_face(&record),
    );
    let approved = approval::approve(store, &tools, &id, &dashboard_decision(confirmed))
        .await
        .map_err(|e| e.to_string())?;
    approved.outcome.map(|value| approval::summary_of(&value))
}

/// The history, even if a turn panicked while holding it (it holds it only to copy).
fn lock<T>(value: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    value.lock().unwrap_or_else(|e| e.into_inner())
}
