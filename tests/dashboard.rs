//! The dashboard driven headlessly against a real engine: keys go into the app, the app's
//! engine calls go over the real socket, operator turns run as the event loop runs them
//! (`tui::turns`, on a model served by the fake LLM server or the offline router), and the
//! engine's state and the router's answers show the result.

mod common;
use common::fake_llm::{self, FakeLlm};
use common::*;
use naap::tui::app::{App, Effect, Msg};
use naap::tui::keymap::Keymap;
use naap::tui::turns::{Turns, operator_for_dashboard};
use naap::tui::{link, theme};
use std::time::Duration;
use tokio::sync::mpsc;

/// The app with its subscription running; `pump` feeds it what the engine sent.
struct Dashboard {
    app: App,
    tx: mpsc::UnboundedSender<Msg>,
    rx: mpsc::UnboundedReceiver<Msg>,
    socket: std::path::PathBuf,
    turns: Turns,
}

impl Dashboard {
    fn new(ws: &TestWorkspace) -> Dashboard {
        let socket = naap::core::engine::socket_path(&ws.state_dir());
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(link::subscribe(socket.clone(), tx.clone()));
        let mut app = App::new(
            Keymap::defaults(),
            theme::built_in("dark").expect("the dark theme"),
            chrono::Utc::now(),
        );
        // As `tui::run` does: the operator for this workspace, its sessions, the last
        // conversation reopened.
        let turns = Turns::start(&mut app, &socket, ws.path());
        Dashboard {
            app,
            tx,
            rx,
            socket,
            turns,
        }
    }

    /// Applies what arrived until `ok` holds for the app, or panics after 15 s.
    async fn pump_until(&mut self, what: &str, ok: impl Fn(&App) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while !ok(&self.app) {
            // As the event loop does each tick: the proposals waiting in the store.
            if let Some(waiting) = self.turns.poll_waiting() {
                self.app.update(Msg::Waiting(waiting));
                continue;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("the dashboard never saw {what}");
            }
            let tick = tokio::time::Instant::now() + Duration::from_millis(200);
            if let Ok(Some(msg)) = tokio::time::timeout_at(tick.min(deadline), self.rx.recv()).await
            {
                self.app.update(msg);
            }
        }
    }

    /// Types `text` into whatever has the keys, a key per character.
    async fn type_text(&mut self, text: &str) -> Vec<String> {
        let keys: Vec<String> = text
            .chars()
            .map(|c| {
                if c == ' ' {
                    "space".to_string()
                } else {
                    c.to_string()
                }
            })
            .collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        self.keys(&keys).await
    }

    /// Presses keys; runs the engine calls they cause and applies their results.
    async fn keys(&mut self, keys: &[&str]) -> Vec<String> {
        let mut labels = Vec::new();
        for key in keys {
            let effects = self.app.update(Msg::Key(key.parse().expect("a key")));
            for effect in effects {
                // Operator turns and approvals run as tasks reporting through `rx`.
                let Some(effect) = self.turns.handle(effect, &self.tx) else {
                    continue;
                };
                if let Effect::Call {
                    label,
                    call,
                    confirmed,
                } = effect
                {
                    labels.push(label.clone());
                    let done = link::perform(&self.socket, label, call, confirmed).await;
                    if let Msg::Done {
                        result: Err(e),
                        label,
                        ..
                    } = &done
                    {
                        panic!("{label} failed: {e}");
                    }
                    self.app.update(done);
                }
            }
        }
        labels
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_move_traffic_and_roll_back_through_the_engine() {
    let mut ws = TestWorkspace::new(&[("shop", sample_plugin("shop", "1.0.0", ""))]);
    ws.start_engine();
    ws.wait_serving("shop");
    ws.json(&["deploy", "shop", "--version", "2.0.0"]);
    let url = format!("http://{}/shop/api/items", ws.router());
    let http = client();

    let mut dash = Dashboard::new(&ws);
    dash.pump_until("green live and blue warm", |app| {
        app.plugin().is_some_and(|p| {
            p.slots
                .iter()
                .all(|s| s.health == naap::core::types::Health::Healthy)
                && p.slots.iter().any(|s| s.weight == 100)
        })
    })
    .await;
    assert_eq!(dash.app.selected.as_deref(), Some("shop"));

    // Sliders: focus is on green (it has the traffic); three steps down, one fine step up,
    // then one request.
    let calls = dash
        .keys(&["t", "left", "left", "left", "shift+right", "enter"])
        .await;
    assert_eq!(calls, ["traffic shop blue=29 green=71"]);
    assert_eq!(ws.slot("shop", "green")["weight"], 71);
    assert_eq!(ws.slot("shop", "blue")["weight"], 29);
    let seen = versions_answering(&http, &url, 300).await;
    assert!(
        seen.get("1.0.0").copied().unwrap_or(0) > 40
            && seen.get("2.0.0").copied().unwrap_or(0) > 120,
        "the router does not split 29/71: {seen:?}"
    );

    // Rollback asks first; the answer sends it.
    assert!(dash.keys(&["r"]).await.is_empty());
    let calls = dash.keys(&["y"]).await;
    assert_eq!(calls, ["rollback shop"]);
    let blue = ws.slot("shop", "blue");
    let green = ws.slot("shop", "green");
    assert_eq!(
        (blue["weight"].as_u64(), green["weight"].as_u64()),
        (Some(100), Some(0))
    );
    assert_eq!(
        versions_answering(&http, &url, 20).await,
        [("1.0.0".to_string(), 20)].into()
    );

    // Both actions are in the audit log as the dashboard's.
    let history = ws.json(&["history", "shop"]);
    let by_dashboard: Vec<&str> = history["audit"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["face"] == "dashboard")
        .filter_map(|a| a["action"].as_str())
        .collect();
    assert_eq!(by_dashboard, ["traffic", "rollback"], "{history:#}");

    // The dashboard sees the outcome too.
    dash.pump_until("blue back at 100 %", |app| {
        app.plugin().is_some_and(|p| {
            p.slots
                .iter()
                .any(|s| s.slot == naap::core::types::SlotName::Blue && s.weight == 100)
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_engine_shows_a_banner_and_the_dashboard_reconnects() {
    let mut ws = TestWorkspace::new(&[("shop", sample_plugin("shop", "1.0.0", ""))]);
    ws.start_engine();
    ws.wait_serving("shop");
    let mut dash = Dashboard::new(&ws);
    dash.pump_until("the first status", |app| {
        app.report.is_some() && app.disconnected.is_none()
    })
    .await;
    ws.kill_engine();
    dash.pump_until("the engine gone", |app| app.disconnected.is_some())
        .await;
    ws.start_engine();
    dash.pump_until("the engine back", |app| app.disconnected.is_none())
        .await;
    assert!(dash.app.report.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_moves_traffic_only_after_yes() {
    let mut ws = TestWorkspace::new(&[("shop", sample_plugin("shop", "1.0.0", ""))]);
    ws.start_engine();
    ws.wait_serving("shop");
    ws.json(&["deploy", "shop", "--version", "2.0.0"]);
    let mut dash = Dashboard::new(&ws);
    dash.pump_until("both slots serving", |app| {
        app.plugin().is_some_and(|p| {
            p.slots
                .iter()
                .all(|s| s.health == naap::core::types::Health::Healthy)
        })
    })
    .await;
    dash.keys(&["o"]).await;
    assert!(dash.type_text("shift 30% to blue").await.is_empty());
    assert!(
        dash.keys(&["enter"]).await.is_empty(),
        "asking changes nothing"
    );
    // The offline operator answers as a task of its own; its card arrives as a message.
    dash.pump_until("the operator's card", |app| {
        app.op.turn.is_none() && app.operator.has_waiting()
    })
    .await;
    assert_eq!(dash.app.op.who(), "offline operator");
    assert_eq!(
        ws.slot("shop", "blue")["weight"],
        0,
        "nothing moves before yes"
    );
    assert!(dash.keys(&["y"]).await.is_empty(), "no plain engine call");
    dash.pump_until("the card done", card_done).await;
    assert_eq!(ws.slot("shop", "blue")["weight"], 30);
    assert_eq!(ws.slot("shop", "green")["weight"], 70);
    // An operator proposal runs as the operator's action, whoever said yes.
    assert_eq!(audit_faces(&ws, "traffic"), ["ai"]);
}

/// The dashboard keeps its conversation in operator.db: closed and opened again, it shows
/// the last one and the operator continues it; a card decided here does not wait on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reopened_dashboard_shows_its_last_conversation() {
    let mut ws = TestWorkspace::new(&[("shop", sample_plugin("shop", "1.0.0", ""))]);
    ws.start_engine();
    ws.wait_serving("shop");
    ws.json(&["deploy", "shop", "--version", "2.0.0"]);
    let mut dash = Dashboard::new(&ws);
    dash.pump_until("the status", |app| app.plugin().is_some())
        .await;
    dash.keys(&["o"]).await;
    dash.type_text("shift 30% to blue").await;
    dash.keys(&["enter"]).await;
    dash.pump_until("the operator's card", |app| {
        app.op.turn.is_none() && app.operator.has_waiting()
    })
    .await;
    // n: rejected, and recorded so (it is not left waiting in the approvals list).
    dash.keys(&["n"]).await;
    let store = naap::ai::session::SessionStore::open(&ws.state_dir()).expect("operator.db");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !store
        .pending_proposals()
        .expect("the waiting list")
        .is_empty()
        || store
            .last_of(naap::core::types::Face::Dashboard)
            .expect("sessions")
            .is_none()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the rejection was never recorded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(dash);

    // The dashboard again, as after a dropped SSH session.
    let mut again = Dashboard::new(&ws);
    let texts: Vec<String> = again
        .app
        .operator
        .entries
        .iter()
        .map(|e| e.text.clone())
        .collect();
    assert!(
        texts
            .first()
            .is_some_and(|t| t.starts_with("reopened the conversation")),
        "{texts:#?}"
    );
    assert!(texts.iter().any(|t| t == "shift 30% to blue"), "{texts:#?}");
    assert!(
        texts
            .iter()
            .any(|t| t.contains("rejected") && t.contains("traffic shop")),
        "the proposal shows how it ended: {texts:#?}"
    );
    // The operator continues the same session: the next question lands in it.
    let session = store
        .last_of(naap::core::types::Face::Dashboard)
        .expect("sessions");
    again
        .pump_until("the status", |app| app.plugin().is_some())
        .await;
    again.keys(&["o"]).await;
    again.type_text("status of shop").await;
    again.keys(&["enter"]).await;
    again
        .pump_until("the answer", |app| {
            app.op.turn.is_none() && app.operator.entries.len() > texts.len() + 1
        })
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let stored = store
            .load(session.expect("a session"))
            .expect("the session");
        let asked: Vec<_> = stored
            .entries
            .iter()
            .filter_map(|e| match &e.entry {
                naap::ai::session::SessionEntry::User { text } => Some(text.clone()),
                _ => None,
            })
            .collect();
        if asked == ["shift 30% to blue", "status of shop"] {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "asked: {asked:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(ws.slot("shop", "blue")["weight"], 0, "nothing ran");
}

/// A change an MCP client proposed waits in the store; the dashboard lists it (A), and y
/// runs it exactly as stored, audited as `mcp`, decided from the dashboard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_approvals_list_runs_an_mcp_proposal_on_yes() {
    use naap::ai::session::{ProposalStatus, SessionStore};
    let mut ws = TestWorkspace::new(&[("shop", sample_plugin("shop", "1.0.0", ""))]);
    ws.start_engine();
    ws.wait_serving("shop");
    ws.json(&["deploy", "shop", "--version", "2.0.0"]);
    let mut dash = Dashboard::new(&ws);
    dash.pump_until("the status", |app| app.plugin().is_some())
        .await;
    assert!(dash.app.waiting.is_empty());

    // As `naap mcp` stores a client's change: a session of the mcp face, a waiting proposal.
    let store = SessionStore::open(&ws.state_dir()).expect("operator.db");
    let session = store
        .create(naap::core::types::Face::Mcp, "mcp", "a test client")
        .expect("a session");
    let call =
        naap::api::catalog::call_from_tool("rollback", &serde_json::json!({"plugin": "shop"}))
            .expect("a rollback call");
    let pending = naap::ai::operator::Pending::new(naap::ai::proposal::Proposal::for_call(
        call,
        vec!["would roll back shop".to_string()],
    ));
    let entry = naap::ai::approval::store_pending(&store, session, &pending).expect("stored");
    dash.pump_until("the waiting proposal", |app| app.waiting.len() == 1)
        .await;
    assert_eq!(dash.app.waiting[0].face, naap::core::types::Face::Mcp);
    assert_eq!(
        ws.slot("shop", "blue")["weight"],
        0,
        "nothing ran before yes"
    );

    dash.keys(&["A"]).await;
    assert!(matches!(
        dash.app.overlay,
        naap::tui::app::Overlay::Approvals(0)
    ));
    // A stray key neither decides nor closes it.
    dash.keys(&["x"]).await;
    assert!(matches!(
        dash.app.overlay,
        naap::tui::app::Overlay::Approvals(0)
    ));
    dash.keys(&["y"]).await;
    let label = format!("proposal {}", entry.id);
    dash.pump_until("the approval's outcome", |app| {
        !app.in_flight.contains(&label) && app.waiting.is_empty()
    })
    .await;
    assert_eq!(
        ws.slot("shop", "blue")["weight"],
        100,
        "rolled back to blue"
    );
    let record = store.proposal(&entry.id).expect("the proposal");
    assert_eq!(record.proposal.status, ProposalStatus::Ran);
    assert_eq!(
        record.proposal.decided.map(|d| d.face),
        Some(naap::core::types::Face::Dashboard)
    );
    assert_eq!(audit_faces(&ws, "rollback"), ["mcp"]);
}

/// Whether the newest card ran and the engine said it was done.
fn card_done(app: &App) -> bool {
    app.operator
        .entries
        .iter()
        .rev()
        .find_map(|e| e.card.as_ref())
        .is_some_and(|(_, state)| matches!(state, naap::ai::transcript::CardState::Done(_)))
}

/// The faces that made `action` on shop, from the audit log.
fn audit_faces(ws: &TestWorkspace, action: &str) -> Vec<String> {
    let history = ws.json(&["history", "shop"]);
    history["audit"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["action"] == action)
        .filter_map(|a| a["face"].as_str().map(str::to_string))
        .collect()
}

/// The operator pane on a model: the fake server speaks OpenAI's streaming protocol; the
/// model reads the status, proposes a traffic change, and streams its answer in pieces. The
/// pane shows the text piece by piece, the tool calls as lines, the proposal as a card that
/// runs only on y (through the operator, audited as `ai`), and who answered with its tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pane_streams_a_models_answer_and_runs_its_proposal_on_yes() {
    let fake = FakeLlm::with([
        fake_llm::openai_tool_calls(&[("call_1", "status", r#"{"plugin":"shop"}"#)]),
        fake_llm::openai_tool_calls(&[(
            "call_2",
            "traffic",
            r#"{"plugin":"shop","weights":{"blue":30,"green":70}}"#,
        )]),
        fake_llm::openai_text(&[
            "Shop serves 2.0.0 on green. ",
            "I proposed 30 % to blue; ",
            "it waits for your yes.",
        ]),
    ]);
    let mut ws = TestWorkspace::new(&[("shop", sample_plugin("shop", "1.0.0", ""))]);
    with_fake_model(&ws, &fake);
    ws.start_engine();
    ws.wait_serving("shop");
    ws.json(&["deploy", "shop", "--version", "2.0.0"]);
    let mut dash = Dashboard::new(&ws);
    assert_eq!(
        dash.app.op.who(),
        "openai fake-model",
        "{:?}",
        dash.app.operator
    );
    dash.pump_until("both slots serving", |app| {
        app.plugin().is_some_and(|p| {
            p.slots
                .iter()
                .all(|s| s.health == naap::core::types::Health::Healthy)
        })
    })
    .await;
    dash.keys(&["o"]).await;
    dash.app
        .input
        .insert_str("move some traffic to blue on shop");
    assert!(dash.keys(&["enter"]).await.is_empty());
    assert!(
        dash.app.op.turn.is_some(),
        "the turn runs in the background"
    );

    // Every text message the pane gets is one streamed piece: record what it shows after each.
    let mut shown = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while dash.app.op.turn.is_some() {
        let msg = tokio::time::timeout_at(deadline, dash.rx.recv())
            .await
            .expect("the turn ends in time")
            .expect("the channel stays open");
        let text = matches!(
            &msg,
            Msg::Operator {
                event: naap::ai::operator::OperatorEvent::Text(_),
                ..
            }
        );
        dash.app.update(msg);
        if text {
            shown.push(
                dash.app
                    .operator
                    .entries
                    .last()
                    .expect("an entry")
                    .text
                    .clone(),
            );
        }
    }
    assert_eq!(
        shown,
        [
            "Shop serves 2.0.0 on green. ",
            "Shop serves 2.0.0 on green. I proposed 30 % to blue; ",
            "Shop serves 2.0.0 on green. I proposed 30 % to blue; it waits for your yes."
        ],
        "the answer grows piece by piece"
    );
    let tools: Vec<&str> = dash
        .app
        .operator
        .entries
        .iter()
        .filter(|e| e.speaker == naap::ai::transcript::Speaker::Tool)
        .map(|e| e.text.as_str())
        .collect();
    assert_eq!(tools, ["status shop", "traffic shop blue=30 green=70"]);
    let usage = dash.app.op.usage.expect("tokens for the turn");
    assert_eq!(
        (usage.input_tokens, usage.output_tokens),
        (40 + 40 + 11, 25 + 25 + 3)
    );
    assert_eq!(fake.requests().len(), 3, "one request per round");
    assert_eq!(
        ws.slot("shop", "blue")["weight"],
        0,
        "the model's change did not run"
    );

    // y runs the card through the operator; the engine moves the weights.
    assert!(dash.keys(&["y"]).await.is_empty());
    dash.pump_until("the card done", card_done).await;
    assert_eq!(ws.slot("shop", "blue")["weight"], 30);
    assert_eq!(ws.slot("shop", "green")["weight"], 70);
    assert_eq!(audit_faces(&ws, "traffic"), ["ai"]);

    // The next turn continues the conversation: the model gets the first turn whole.
    fake.push(fake_llm::openai_text(&["Done, as you saw."]));
    dash.app.input.insert_str("did it work?");
    dash.keys(&["enter"]).await;
    dash.pump_until("the second answer", |app| app.op.turn.is_none())
        .await;
    let body = &fake.requests()[3].body;
    let roles: Vec<&str> = body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["role"].as_str())
        .filter(|r| *r != "system")
        .collect();
    assert_eq!(
        roles,
        [
            "user",
            "assistant",
            "tool",
            "assistant",
            "tool",
            "assistant",
            "user"
        ],
        "{body:#}"
    );
}

/// Esc while the model is still streaming stops the turn: its task is aborted (it ends as
/// cancelled, not after the stream), and nothing the model sends after that is shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn esc_cancels_a_streaming_turn() {
    let fake = FakeLlm::with([
        fake_llm::openai_text(&["First piece. ", "Second piece. ", "Never shown."])
            .delay(Duration::from_secs(1)),
        fake_llm::openai_text(&["Shop is fine."]),
    ]);
    let mut ws = TestWorkspace::new(&[("shop", sample_plugin("shop", "1.0.0", ""))]);
    with_fake_model(&ws, &fake);
    ws.start_engine();
    ws.wait_serving("shop");
    let mut dash = Dashboard::new(&ws);
    dash.keys(&["o"]).await;
    dash.app.input.insert_str("why?");
    dash.keys(&["enter"]).await;
    let turn = dash.app.op.turn.expect("a turn runs");
    dash.pump_until("the first piece", |app| {
        app.operator
            .entries
            .last()
            .is_some_and(|e| e.text.contains("First piece."))
    })
    .await;
    assert!(dash.keys(&["esc"]).await.is_empty());
    assert_eq!(dash.app.op.turn, None);
    assert_eq!(
        dash.app.operator.entries.last().map(|e| e.text.as_str()),
        Some("cancelled")
    );
    // The turn's task ends as aborted; nothing more of its stream came before that.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let ended = loop {
        let msg = tokio::time::timeout_at(deadline, dash.rx.recv())
            .await
            .expect("the cancelled turn ends")
            .expect("the channel stays open");
        match &msg {
            Msg::TurnEnded { turn: t, result } if *t == turn => break result.clone(),
            Msg::Operator { turn: t, event } if *t == turn => {
                panic!("the cancelled turn still sent {event:?}")
            }
            _ => {}
        }
        dash.app.update(msg);
    };
    assert_eq!(ended, Err(naap::tui::turns::CANCELLED.to_string()));
    // The next request is a turn of its own, answered in full.
    dash.app.input.insert_str("and shop?");
    dash.keys(&["enter"]).await;
    dash.pump_until("the second answer", |app| app.op.turn.is_none())
        .await;
    let last = dash.app.operator.entries.last().expect("an answer");
    assert_eq!(last.text, "Shop is fine.");
    let all: String = dash
        .app
        .operator
        .entries
        .iter()
        .map(|e| e.text.clone())
        .collect();
    assert!(!all.contains("Second piece"), "{all}");
    // The cancelled turn left nothing in the conversation sent to the model: the second
    // request carries the second question only, not half of the first turn.
    let second = &fake.requests()[1].body;
    let users: Vec<&str> = second["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["role"] == "user")
        .filter_map(|m| m["content"].as_str())
        .collect();
    assert_eq!(users, ["and shop?"], "{second:#}");
}

/// Points the workspace's `[ai]` table at the fake server's OpenAI endpoint.
fn with_fake_model(ws: &TestWorkspace, fake: &FakeLlm) {
    let toml = std::fs::read_to_string(ws.path().join("naap.toml")).expect("naap.toml");
    ws.write(
        "naap.toml",
        &format!(
            "{toml}\n[ai]\nprovider = \"openai\"\nmodel = \"fake-model\"\nbase_url = \"{}\"\n",
            fake.openai_base()
        ),
    );
}

/// A model that does not answer (nothing listens at its address): the offline operator
/// answers the same turn, the pane says so, and its title names who answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_down_leaves_the_offline_operator_answering_and_saying_so() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = dead.local_addr().expect("its address").port();
    drop(dead);
    let mut ws = TestWorkspace::new(&[("shop", sample_plugin("shop", "1.0.0", ""))]);
    let toml = std::fs::read_to_string(ws.path().join("naap.toml")).expect("naap.toml");
    ws.write(
        "naap.toml",
        &format!(
            "{toml}\n[ai]\nprovider = \"openai\"\nmodel = \"gone\"\nbase_url = \"http://127.0.0.1:{port}/v1\"\nmax_retries = 0\n"
        ),
    );
    ws.start_engine();
    ws.wait_serving("shop");
    let mut dash = Dashboard::new(&ws);
    assert_eq!(dash.app.op.who(), "openai gone");
    dash.pump_until("the first status", |app| app.report.is_some())
        .await;
    dash.keys(&["o"]).await;
    dash.app.input.insert_str("how is shop?");
    dash.keys(&["enter"]).await;
    dash.pump_until("the turn's end", |app| app.op.turn.is_none())
        .await;
    assert_eq!(dash.app.op.who(), "offline operator");
    let notices: Vec<&str> = dash
        .app
        .operator
        .entries
        .iter()
        .filter(|e| e.speaker == naap::ai::transcript::Speaker::Notice)
        .map(|e| e.text.as_str())
        .collect();
    assert!(
        notices.len() == 1 && notices[0].contains("openai (gone) is not answering"),
        "{notices:?}"
    );
    let answer = dash.app.operator.entries.last().expect("an answer");
    assert!(answer.text.contains("shop"), "{}", answer.text);
}

/// A broken AI setup does not keep the dashboard from starting: the offline operator
/// answers and the pane says what is wrong, with the file.
#[test]
fn a_broken_ai_setup_leaves_the_offline_operator_and_says_why() {
    let ws = TestWorkspace::new(&[("shop", sample_plugin("shop", "1.0.0", ""))]);
    let toml = std::fs::read_to_string(ws.path().join("naap.toml")).expect("naap.toml");
    ws.write("naap.toml", &format!("{toml}\n[ai]\nprovider = \"gpt\"\n"));
    let socket = naap::core::engine::socket_path(&ws.state_dir());
    let (operator, why) = operator_for_dashboard(&socket, ws.path());
    assert_eq!(operator.answerer().kind, "offline");
    let why = why.expect("a reason");
    assert!(
        why.contains("naap.toml")
            && why.contains("gpt")
            && why.contains("offline operator answers"),
        "{why}"
    );
}

/// A change asked in the operator pane runs iterate: the pane shows the timeline (the
/// candidate, the edit, the gates), `D` shows the diff, the accept is a card run on y, the
/// canary follows as the next card, and the timeline ends with how the canary ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_asked_in_the_pane_shows_its_timeline_and_ships_a_yes_per_step() {
    const APP: &str = "def items():\n    return sorted([1, 2, 3])\n";
    const TEST: &str = "import unittest\n\nimport app\n\n\nclass T(unittest.TestCase):\n    def test_items(self):\n        self.assertEqual(len(app.items()), 3)\n";
    let manifest = sample_plugin("shop", "1.4.0", "")
        .replace(
            "stop_grace = \"2s\"",
            "stop_grace = \"2s\"\ntest = \"python3 -m unittest -q\"",
        )
        .replace(
            "kind = \"blue-green\"",
            "kind = \"canary\"\nsteps = [50, 100]\nstep_interval = \"1s\"",
        );
    let mut ws = TestWorkspace::new(&[("shop", manifest)]);
    ws.write("plugins/shop/app.py", APP);
    ws.write("plugins/shop/test_app.py", TEST);
    let edit = serde_json::json!({"edits": [{"kind": "search_replace", "path": "app.py",
        "search": "sorted([1, 2, 3])", "replace": "sorted([1, 2, 3], reverse=True)"}]})
    .to_string();
    let fake = FakeLlm::with([
        fake_llm::openai_tool_calls(&[("call_e", "candidate_edit", &edit)]),
        fake_llm::openai_text(&["Items come newest first now."]),
    ]);
    with_fake_model(&ws, &fake);
    ws.start_engine();
    ws.wait_serving("shop");
    let mut dash = Dashboard::new(&ws);
    dash.pump_until("shop selected", |app| app.plugin().is_some())
        .await;
    dash.keys(&["o"]).await;
    dash.app
        .input
        .insert_str("make /api/items return the newest first");
    dash.keys(&["enter"]).await;
    dash.pump_until("the accept card", |app| {
        app.op.turn.is_none() && app.operator.has_waiting()
    })
    .await;

    let steps: Vec<String> = dash
        .app
        .operator
        .entries
        .iter()
        .filter(|e| matches!(e.speaker, naap::ai::transcript::Speaker::Step(_)))
        .map(|e| e.text.clone())
        .collect();
    assert!(steps.len() >= 3, "{steps:#?}");
    assert!(steps[0].starts_with("candidate "), "{steps:#?}");
    assert!(
        steps[1].starts_with("edited: +1 -1 in 1 file(s)"),
        "{steps:#?}"
    );
    assert!(steps[2].starts_with("gates passed"), "{steps:#?}");
    let candidate = dash.app.op.candidate.clone().expect("a candidate");
    assert!(
        candidate.diff.contains("reverse=True"),
        "{}",
        candidate.diff
    );
    let live = ws.path().join("plugins/shop/app.py");
    assert_eq!(std::fs::read_to_string(&live).expect("live"), APP);

    // The diff is one key away, with nothing typed; esc closes it.
    dash.keys(&["D"]).await;
    assert_eq!(dash.app.overlay, naap::tui::app::Overlay::Diff(0));
    dash.keys(&["j", "esc"]).await;
    assert_eq!(dash.app.overlay, naap::tui::app::Overlay::None);

    // The first card is the preview: y starts the candidate's tree in a preview slot.
    let first_card = dash
        .app
        .operator
        .entries
        .iter()
        .find_map(|e| e.card.as_ref().map(|(c, _)| c.label.clone()))
        .expect("a card");
    assert!(
        first_card.starts_with("deploy shop") && first_card.contains("preview"),
        "{first_card}"
    );
    dash.keys(&["y"]).await;
    dash.pump_until("the preview in the timeline", |app| {
        app.operator.entries.iter().any(|e| {
            matches!(e.speaker, naap::ai::transcript::Speaker::Step(_))
                && e.text.contains("preview")
                && e.text.contains("done")
        })
    })
    .await;
    assert!(
        !plugin_of(&ws.status(), "shop")["previews"]
            .as_array()
            .is_none_or(|p| p.is_empty()),
        "a preview runs"
    );
    assert_eq!(std::fs::read_to_string(&live).expect("live"), APP);

    // y accepts it into the source; the canary deploy follows as a card of its own.
    dash.keys(&["y"]).await;
    dash.pump_until("the canary card", |app| {
        app.operator.has_waiting()
            && app.operator.entries.iter().any(|e| {
                e.card
                    .as_ref()
                    .is_some_and(|(c, _)| c.label.contains("canary"))
            })
    })
    .await;
    assert!(
        std::fs::read_to_string(&live)
            .expect("live")
            .contains("reverse=True")
    );
    let version = format!("1.4.1-ai.{}", candidate.id);
    dash.keys(&["y"]).await;
    dash.pump_until("the canary's end in the timeline", |app| {
        app.operator.entries.iter().any(|e| {
            matches!(e.speaker, naap::ai::transcript::Speaker::Step(_))
                && e.text.starts_with("deploy shop")
                && e.text.contains("canary")
                && !e.text.contains("preview")
        })
    })
    .await;
    let last = dash
        .app
        .operator
        .entries
        .iter()
        .rev()
        .find(|e| matches!(e.speaker, naap::ai::transcript::Speaker::Step(_)))
        .expect("a step");
    assert!(
        last.text.contains(": done:"),
        "the canary succeeded: {:?}",
        last.text
    );
    let serving: Vec<serde_json::Value> = plugin_of(&ws.status(), "shop")["slots"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        serving
            .iter()
            .any(|s| s["version"] == version.as_str() && s["weight"] == 100),
        "{serving:#?}"
    );
    assert_eq!(audit_faces(&ws, "candidate_accept"), ["ai"]);
    // The canary's own steps joined the timeline between the card and its end.
    assert!(
        dash.app.operator.entries.iter().any(|e| {
            matches!(e.speaker, naap::ai::transcript::Speaker::Step(_)) && e.text.contains("step")
        }),
        "{:#?}",
        dash.app.operator.entries
    );
    assert_eq!(
        ws.json(&["candidate", "show", &candidate.id])["status"],
        "accepted"
    );
}

/// The screen as text, drawn at `width`×`height` on a TestBackend.
fn screen(app: &App, width: u16, height: u16) -> String {
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(width, height))
        .expect("a terminal");
    terminal
        .draw(|frame| naap::tui::render::draw(frame, app))
        .expect("draw");
    let buffer = terminal.backend().buffer();
    (0..height)
        .map(|y| {
            (0..width)
                .map(|x| buffer[(x, y)].symbol())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// In a production workspace every change from the dashboard waits on a confirmation that
/// says PRODUCTION; the yes travels with the call, which the engine would refuse without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_production_every_change_asks_on_a_card_that_says_production() {
    let mut ws = TestWorkspace::new(&[("shop", sample_plugin("shop", "1.0.0", ""))]);
    ws.prepend_to_naap_toml("environment = \"production\"");
    ws.start_engine();
    ws.wait_serving("shop");
    ws.json(&[
        "deploy",
        "shop",
        "--version",
        "2.0.0",
        "--yes",
        "--env",
        "production",
    ]);
    let mut dash = Dashboard::new(&ws);
    dash.pump_until("both slots healthy", |app| {
        app.plugin().is_some_and(|p| {
            p.slots
                .iter()
                .all(|s| s.health == naap::core::types::Health::Healthy)
        })
    })
    .await;
    assert!(
        screen(&dash.app, 100, 30)
            .lines()
            .next()
            .is_some_and(|l| l.contains("PRODUCTION")),
        "the header names production:\n{}",
        screen(&dash.app, 100, 30)
    );

    // The sliders' enter sends nothing yet: a card asks, naming production.
    assert!(dash.keys(&["t", "left", "enter"]).await.is_empty());
    let shown = screen(&dash.app, 100, 30);
    assert!(
        shown.contains("PRODUCTION") && shown.contains("traffic shop"),
        "{shown}"
    );
    assert_eq!(ws.slot("shop", "green")["weight"], 100, "nothing moved");
    let calls = dash.keys(&["y"]).await;
    assert_eq!(calls, ["traffic shop blue=10 green=90"]);
    assert_eq!(ws.slot("shop", "green")["weight"], 90);

    // The incident rollback keeps its one key and one confirmation: no typing.
    assert!(dash.keys(&["R"]).await.is_empty());
    let shown = screen(&dash.app, 80, 24);
    assert!(shown.contains("PRODUCTION"), "{shown}");
    let calls = dash.keys(&["y"]).await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(ws.slot("shop", "blue")["weight"], 100);
}
