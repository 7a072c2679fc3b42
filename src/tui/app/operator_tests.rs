//! The operator pane driven headlessly: keys in, effects out, and a turn's events played
//! back as the run loop forwards them.

use super::tests::{app, type_and_send};
use super::*;
use crate::ai::provider::{ProviderInfo, Usage};
use crate::ai::transcript::{CardState, Speaker};

fn key(text: &str) -> Msg {
    Msg::Key(text.parse().unwrap())
}

fn openai() -> ProviderInfo {
    ProviderInfo {
        kind: "openai".into(),
        model: "gpt-4o-mini".into(),
        base_url: "http://127.0.0.1:1/v1".into(),
    }
}

/// The app with the operator pane focused and a turn asked for; returns the turn.
fn asking(app: &mut App, text: &str) -> u64 {
    app.update(key("o"));
    let effects = type_and_send(app, text);
    let [
        Effect::Ask {
            turn,
            text: sent,
            selected,
        },
    ] = &effects[..]
    else {
        panic!("expected one Ask, got {effects:?}");
    };
    assert_eq!(sent, text);
    assert_eq!(
        selected.as_deref(),
        Some("shop"),
        "the plugin in view goes along"
    );
    *turn
}

fn play(app: &mut App, turn: u64, event: OperatorEvent) {
    assert!(app.update(Msg::Operator { turn, event }).is_empty());
}

fn rollback_of(plugin: &str) -> Pending {
    Pending::new(crate::ai::proposal::Proposal::for_call(
        Call::Rollback(crate::api::protocol::RollbackRequest {
            plugin: plugin.into(),
            ..Default::default()
        }),
        vec![format!("all traffic of {plugin} to blue v1.0.0, warm")],
    ))
}

#[test]
fn streamed_text_appears_chunk_by_chunk_and_the_title_says_who_answers() {
    let mut app = app();
    assert_eq!(app.op.who(), "offline operator");
    let turn = asking(&mut app, "why is checkout failing?");
    assert_eq!(app.op.turn, Some(turn), "the turn runs");
    assert!(
        app.input.lines().concat().is_empty(),
        "the input is cleared"
    );
    play(&mut app, turn, OperatorEvent::Answering(openai()));
    assert_eq!(app.op.who(), "openai gpt-4o-mini");
    let mut shown = Vec::new();
    for chunk in ["Checkout's ", "canary (green) ", "fails 21 % of requests."] {
        play(&mut app, turn, OperatorEvent::Text(chunk.into()));
        shown.push(app.operator.entries.last().unwrap().text.clone());
    }
    assert_eq!(
        shown,
        [
            "Checkout's ",
            "Checkout's canary (green) ",
            "Checkout's canary (green) fails 21 % of requests."
        ],
        "each chunk shows as it arrives, in one answer"
    );
    assert_eq!(app.operator.entries.len(), 2, "the question and one answer");
    play(
        &mut app,
        turn,
        OperatorEvent::Usage(Usage {
            input_tokens: 812,
            output_tokens: 64,
        }),
    );
    app.update(Msg::TurnEnded {
        turn,
        result: Ok(()),
    });
    assert_eq!(app.op.turn, None);
    assert_eq!(
        app.op.usage,
        Some(Usage {
            input_tokens: 812,
            output_tokens: 64
        })
    );
}

#[test]
fn tool_calls_show_as_compact_lines_and_notices_show() {
    let mut app = app();
    let turn = asking(&mut app, "how is checkout?");
    play(
        &mut app,
        turn,
        OperatorEvent::ToolCall {
            id: "call_1".into(),
            name: "status".into(),
            arguments: serde_json::json!({"plugin": "checkout"}),
        },
    );
    play(
        &mut app,
        turn,
        OperatorEvent::ToolCall {
            id: "call_2".into(),
            name: "logs".into(),
            arguments: serde_json::json!({"plugin": "checkout", "grep": "timeout"}),
        },
    );
    play(
        &mut app,
        turn,
        OperatorEvent::ToolResult {
            id: "call_2".into(),
            name: "logs".into(),
            ok: false,
            truncated: false,
        },
    );
    play(
        &mut app,
        turn,
        OperatorEvent::Notice("the turn reached its cap of 12 tool calls".into()),
    );
    play(&mut app, turn, OperatorEvent::Text("It serves.".into()));
    let shown: Vec<(Speaker, String)> = app
        .operator
        .entries
        .iter()
        .skip(1)
        .map(|e| (e.speaker, e.text.clone()))
        .collect();
    assert_eq!(shown[0], (Speaker::Tool, "status checkout".to_string()));
    assert!(
        shown[1].0 == Speaker::Tool
            && shown[1].1.starts_with("logs checkout")
            && shown[1].1.ends_with(" — failed"),
        "{shown:?}"
    );
    assert_eq!(shown[2].0, Speaker::Notice);
    assert_eq!(shown[3], (Speaker::Operator, "It serves.".to_string()));
}

#[test]
fn a_proposal_from_the_model_becomes_a_card_that_runs_through_the_operator_on_yes() {
    let mut app = app();
    let turn = asking(&mut app, "roll back shop and checkout");
    play(&mut app, turn, OperatorEvent::Answering(openai()));
    play(&mut app, turn, OperatorEvent::Text("Two rollbacks:".into()));
    let (shop, checkout) = (rollback_of("shop"), rollback_of("checkout"));
    play(&mut app, turn, OperatorEvent::Proposal(shop.clone()));
    play(&mut app, turn, OperatorEvent::Proposal(checkout.clone()));
    app.update(Msg::TurnEnded {
        turn,
        result: Ok(()),
    });
    let cards: Vec<(String, CardState)> = app
        .operator
        .entries
        .iter()
        .filter_map(|e| e.card.clone())
        .map(|(c, s)| (c.label, s))
        .collect();
    assert_eq!(
        cards,
        [
            ("rollback shop".to_string(), CardState::Waiting),
            ("rollback checkout".to_string(), CardState::Waiting)
        ],
        "several changes are several cards, all waiting"
    );
    // y answers the first card shown; it runs as the operator's approval, not a plain call.
    let effects = app.update(key("y"));
    assert_eq!(
        effects,
        [Effect::Approve {
            label: "rollback shop".into(),
            pending: shop,
            confirmed: None,
        }]
    );
    assert_eq!(app.in_flight, ["rollback shop"]);
    // n rejects the next one: recorded as rejected, nothing is sent to the engine.
    assert!(matches!(
        &app.update(key("n"))[..],
        [Effect::Reject { label, .. }] if label == "rollback checkout"
    ));
    app.update(Msg::Done {
        label: "rollback shop".into(),
        result: Ok("shop: all traffic to blue v1.0.0".into()),
        hints: Vec::new(),
    });
    let states: Vec<CardState> = app
        .operator
        .entries
        .iter()
        .filter_map(|e| e.card.clone())
        .map(|(_, s)| s)
        .collect();
    assert_eq!(
        states,
        [
            CardState::Done("shop: all traffic to blue v1.0.0".into()),
            CardState::Rejected
        ]
    );
    // With no card waiting, y and n are just letters.
    assert!(app.update(key("y")).is_empty());
    assert_eq!(app.input.lines().concat(), "y");
}

#[test]
fn in_suggest_mode_a_card_is_shown_but_y_does_not_run_it() {
    let mut app = app();
    app.op.runnable = false;
    let turn = asking(&mut app, "roll back shop");
    play(&mut app, turn, OperatorEvent::Proposal(rollback_of("shop")));
    assert!(app.update(key("y")).is_empty(), "nothing runs");
    let notice = app.notice.clone().expect("a notice");
    assert!(notice.text.contains("not runnable here"), "{notice:?}");
    let (_, state) = app.operator.waiting_mut().cloned().expect("still shown");
    assert_eq!(state, CardState::Waiting);
    assert!(matches!(&app.update(key("n"))[..], [Effect::Reject { .. }]));
    assert!(!app.operator.has_waiting());
}

#[test]
fn esc_cancels_a_running_turn_and_its_late_events_are_dropped() {
    let mut app = app();
    let turn = asking(&mut app, "why is checkout failing?");
    play(
        &mut app,
        turn,
        OperatorEvent::Text("Checkout's canary".into()),
    );
    assert_eq!(app.update(key("esc")), [Effect::CancelTurn { turn }]);
    assert_eq!(app.focus, Pane::Operator, "the first esc only cancels");
    assert_eq!(app.op.turn, None);
    let last = app.operator.entries.last().unwrap();
    assert_eq!(
        (last.speaker, last.text.as_str()),
        (Speaker::Notice, "cancelled")
    );
    // What the aborted task had already sent is not shown.
    play(&mut app, turn, OperatorEvent::Text(" fails.".into()));
    play(
        &mut app,
        turn,
        OperatorEvent::Proposal(rollback_of("checkout")),
    );
    assert_eq!(app.operator.entries.last().unwrap().text, "cancelled");
    assert!(!app.operator.has_waiting());
    assert_eq!(
        app.operator.entries[1].text, "Checkout's canary",
        "kept as it was"
    );
    // A new request runs as a new turn.
    let effects = type_and_send(&mut app, "and shop?");
    assert!(
        matches!(&effects[..], [Effect::Ask { turn: next, .. }] if *next > turn),
        "{effects:?}"
    );
    // With no turn running, esc goes back to the panes.
    app.update(Msg::TurnEnded {
        turn: turn + 1,
        result: Ok(()),
    });
    assert!(app.update(key("esc")).is_empty());
    assert_eq!(app.focus, Pane::Plugins);
}

#[test]
fn a_request_while_the_operator_answers_is_refused_and_kept() {
    let mut app = app();
    let turn = asking(&mut app, "why is checkout failing?");
    assert!(type_and_send(&mut app, "roll back shop").is_empty());
    let notice = app.notice.clone().expect("a notice");
    assert!(notice.text.contains("still answering"), "{notice:?}");
    assert_eq!(
        app.input.lines().concat(),
        "roll back shop",
        "the text is kept"
    );
    app.update(Msg::TurnEnded {
        turn,
        result: Ok(()),
    });
    assert!(matches!(
        &app.update(key("enter"))[..],
        [Effect::Ask { text, .. }] if text == "roll back shop"
    ));
}

#[test]
fn a_failed_turn_says_so_and_frees_the_pane() {
    let mut app = app();
    let turn = asking(&mut app, "status");
    app.update(Msg::TurnEnded {
        turn,
        result: Err("the turn failed: task panicked".into()),
    });
    assert_eq!(app.op.turn, None);
    let last = app.operator.entries.last().unwrap();
    assert_eq!(last.speaker, Speaker::Notice);
    assert!(last.text.contains("task panicked"));
}

#[test]
fn the_operator_pane_keys_come_from_the_keymap() {
    let keymap = crate::tui::keymap::Keymap::defaults();
    let keys =
        |a: Action| -> Vec<String> { keymap.keys_of(a).iter().map(|k| k.to_string()).collect() };
    assert_eq!(Action::Cancel.context(), Context::Operator);
    assert_eq!(keys(Action::Cancel), ["esc"]);
    assert_eq!(keys(Action::Send), ["enter"]);
    assert_eq!(keys(Action::Yes), ["y", "Y"]);
    // Rebinding cancel in keymap.toml moves it.
    let keymap = crate::tui::keymap::Keymap::parse(
        std::path::Path::new("keymap.toml"),
        "[operator]\ncancel = \"ctrl+g\"\n",
    )
    .unwrap();
    let mut app = app();
    app.keymap = keymap;
    let turn = asking(&mut app, "why?");
    assert!(app.update(key("esc")).is_empty(), "esc is no longer cancel");
    assert_eq!(app.update(key("ctrl+g")), [Effect::CancelTurn { turn }]);

    // Printable keys type, even those bound globally; ? opens the help with nothing typed.
    let mut app = super::tests::app();
    app.update(key("o"));
    for k in ["q", ":", "z", "t"] {
        assert!(app.update(key(k)).is_empty());
    }
    assert_eq!(app.input.lines().concat(), "q:zt");
    assert_eq!(app.overlay, Overlay::None);
    app.input = ratatui_textarea::TextArea::default();
    app.update(key("?"));
    assert_eq!(app.overlay, Overlay::Help);
    app.update(key("?"));
    assert_eq!(app.update(key("ctrl+c")), [Effect::Quit]);
}
