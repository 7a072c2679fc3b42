use super::*;
use crate::tui::theme;
use chrono::TimeZone;

pub(crate) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 3, 0, 0)
        .single()
        .unwrap()
}

/// A status report as the engine sends it: shop serves 1.0.0 on blue with 2.0.0 warm on
/// green; checkout runs a canary.
pub(crate) fn report() -> StatusReport {
    let slot = |slot: &str, version: &str, weight: u32| {
        serde_json::json!({
            "slot": slot, "version": version, "process_state": "running", "health": "healthy",
            "health_detail": "GET /health: 200", "pid": 4242, "port": 41000, "weight": weight,
            "restarts": 0, "started_at": "2026-11-22T02:50:00Z", "warm_until": null,
            "cpu_percent": 1.5, "rss_bytes": 12_000_000,
            "metrics": {"rps": 40.0, "error_rate": 0.0, "p50_ms": 2.0, "p95_ms": 5.0, "p99_ms": 9.0,
                        "requests_total": 1000, "errors_total": 0, "window_requests": 400, "series": []}
        })
    };
    serde_json::from_value(serde_json::json!({
        "engine": {"pid": 1, "naap_version": "0.1.0", "workspace": "/srv/ops", "started_at": "2026-11-22T02:00:00Z",
                   "router": "127.0.0.1:8080", "admin": null},
        "plugins": [
            {"name": "shop", "route": "/shop", "manifest_version": "2.0.0", "strategy": "blue-green",
             "live_version": "1.0.0", "slots": [slot("blue", "1.0.0", 100), slot("green", "2.0.0", 0)], "rollout": null},
            {"name": "checkout", "route": "/checkout", "manifest_version": "3.1.0", "strategy": "canary",
             "live_version": "3.0.0", "slots": [slot("blue", "3.0.0", 90), slot("green", "3.1.0", 10)],
             "rollout": {"id": 7, "strategy": "canary", "to_slot": "green", "to_version": "3.1.0",
                         "phase": "step 1/3: 10%", "started_at": "2026-11-22T02:58:00Z"}}
        ]
    }))
    .expect("a valid status report")
}

pub(crate) fn app() -> App {
    let mut app = App::new(Keymap::defaults(), theme::built_in("dark").unwrap(), now());
    app.update(Msg::Connected);
    app.update(Msg::Engine(EngineEvent::Snapshot(report())));
    app
}

fn key(text: &str) -> Msg {
    Msg::Key(text.parse().unwrap())
}

#[test]
fn selection_moves_and_wraps() {
    let mut app = app();
    assert_eq!(app.selected.as_deref(), Some("shop"));
    app.update(key("down"));
    assert_eq!(app.selected.as_deref(), Some("checkout"));
    app.update(key("j"));
    assert_eq!(app.selected.as_deref(), Some("shop"));
    // The log pane follows the selection.
    assert_eq!(app.logs.filter().plugin, "shop");
}

#[test]
fn sliders_coalesce_key_repeats_into_one_traffic_call() {
    let mut app = app();
    app.update(key("t"));
    assert_eq!(app.context(), Context::Traffic);
    for _ in 0..3 {
        assert!(app.update(key("left")).is_empty());
    }
    assert!(app.update(key("shift+left")).is_empty());
    let edit = app.traffic.clone().unwrap();
    assert_eq!(
        (edit.weight(SlotName::Blue), edit.weight(SlotName::Green)),
        (69, 31)
    );
    let effects = app.update(key("enter"));
    assert_eq!(effects.len(), 1);
    let Effect::Call {
        call:
            Call::Traffic(crate::api::protocol::TrafficRequest {
                plugin, weights, ..
            }),
        ..
    } = &effects[0]
    else {
        panic!("expected one traffic call, got {effects:?}");
    };
    assert_eq!(plugin, "shop");
    assert_eq!(weights.get(&SlotName::Blue), Some(&69));
    assert_eq!(weights.get(&SlotName::Green), Some(&31));
    assert!(app.traffic.is_none());
}

#[test]
fn esc_discards_pending_weights_and_unchanged_weights_send_nothing() {
    let mut app = app();
    app.update(key("t"));
    app.update(key("right"));
    app.update(key("esc"));
    assert!(app.traffic.is_none());
    app.update(key("t"));
    assert!(app.update(key("enter")).is_empty());
    assert!(app.notice.as_ref().unwrap().text.contains("unchanged"));
}

#[test]
fn rollback_asks_first_and_names_what_will_happen() {
    let mut app = app();
    // The card shows at once; the engine is asked for its dry run, nothing else.
    let effects = app.update(key("r"));
    assert!(
        matches!(&effects[..], [Effect::Preview { call: Call::Rollback(r) }] if !r.dry_run),
        "{effects:?}"
    );
    let Overlay::Confirm(c) = &app.overlay else {
        panic!("no confirmation: {:?}", app.overlay);
    };
    assert!(
        c.lines[0].contains("all traffic to green v2.0.0, warm"),
        "{:?}",
        c.lines
    );
    // The engine's dry run replaces the estimate, for this card only.
    let hash = c.hash();
    app.update(Msg::Previewed {
        hash: "another call".into(),
        lines: vec!["not this one".into()],
    });
    app.update(Msg::Previewed {
        hash,
        lines: vec!["would roll back shop: all traffic moves to green 2.0.0".into()],
    });
    let Overlay::Confirm(c) = &app.overlay else {
        panic!("no confirmation: {:?}", app.overlay);
    };
    assert_eq!(
        c.lines,
        ["would roll back shop: all traffic moves to green 2.0.0"]
    );
    // A stray key does not answer; n cancels.
    app.update(key("x"));
    assert!(matches!(app.overlay, Overlay::Confirm(_)));
    assert!(app.update(key("n")).is_empty());
    assert_eq!(app.overlay, Overlay::None);
    // y sends the rollback.
    app.update(key("r"));
    let effects = app.update(key("y"));
    assert_eq!(
        effects,
        [Effect::Call {
            label: "rollback shop".into(),
            call: Call::Rollback(crate::api::protocol::RollbackRequest {
                plugin: "shop".into(),
                ..Default::default()
            }),
            confirmed: None,
        }]
    );
}

#[test]
fn incident_rollback_of_a_canary_says_the_steps_are_skipped() {
    let mut app = app();
    app.update(key("down"));
    app.update(key("R"));
    let Overlay::Confirm(c) = &app.overlay else {
        panic!("no confirmation");
    };
    assert!(c.title.contains("INCIDENT"));
    assert!(
        c.lines
            .iter()
            .any(|l| l.contains("remaining steps and analysis are skipped")),
        "{:?}",
        c.lines
    );
}

#[test]
fn command_line_runs_cli_commands_and_reports_bad_ones() {
    let mut app = app();
    app.update(key(":"));
    for c in "rollback checkout".chars() {
        app.update(Msg::Key(Key::plain(Code::Char(c))));
    }
    let effects = app.update(key("enter"));
    assert!(matches!(
        &effects[..],
        [Effect::Call {
            call: Call::Rollback(crate::api::protocol::RollbackRequest { .. }),
            ..
        }]
    ));
    app.update(key(":"));
    for c in "stop".chars() {
        app.update(Msg::Key(Key::plain(Code::Char(c))));
    }
    assert!(app.update(key("enter")).is_empty());
    assert!(app.notice.as_ref().unwrap().error);
}

#[test]
fn a_lost_engine_shows_until_it_is_back() {
    let mut app = app();
    assert!(app.disconnected.is_none());
    app.update(Msg::Disconnected("engine socket closed".into()));
    assert!(app.disconnected.is_some());
    app.update(Msg::Connected);
    assert!(app.disconnected.is_none());
}

#[test]
fn sliders_do_not_open_when_a_slot_cannot_take_traffic() {
    let mut report = report();
    report.plugins[0].slots[1].process_state = crate::core::types::ProcessState::Stopped;
    let mut app = app();
    app.update(Msg::Engine(EngineEvent::Snapshot(report)));
    app.update(key("t"));
    assert!(app.traffic.is_none());
    let notice = app.notice.clone().unwrap();
    assert!(
        notice.error && notice.text.contains("green of shop does not serve"),
        "{}",
        notice.text
    );
}

fn with_alert(state: &str) -> StatusReport {
    let mut report = report();
    report.plugins[1].alerts = vec![
        serde_json::from_value(serde_json::json!({
            "plugin": "checkout", "rule": "errors", "state": state,
            "since": "2026-11-22T02:59:30Z", "severity": "critical",
            "summary": "error_rate{slot=canary} 21.0% > 5%", "labels": {}, "rollback": false,
            "acked_by": null, "silenced_until": null, "silence_id": null
        }))
        .expect("an alert row"),
    ];
    report
}

#[test]
fn alerts_can_be_acknowledged_and_silenced_with_a_reason() {
    let mut app = app();
    app.update(Msg::Engine(EngineEvent::Snapshot(with_alert("firing"))));
    assert_eq!(app.alerts.len(), 1);
    app.focus = Pane::Alerts;
    let effects = app.update(key("a"));
    let [
        Effect::Call {
            call: Call::Ack(crate::api::protocol::AckRequest { plugin, rule, .. }),
            ..
        },
    ] = &effects[..]
    else {
        panic!("expected an ack call, got {effects:?}");
    };
    assert_eq!((plugin.as_str(), rule.as_str()), ("checkout", "errors"));

    // Silence: a comment is required; then the call carries duration and comment.
    app.update(key("s"));
    assert!(matches!(app.overlay, Overlay::Silence(_)));
    assert!(app.update(key("enter")).is_empty());
    let Overlay::Silence(form) = &app.overlay else {
        panic!("the form closed")
    };
    assert!(form.error.as_deref().unwrap_or("").contains("must say why"));
    for c in "fix rolling out".chars() {
        app.update(Msg::Key(Key::plain(Code::Char(c))));
    }
    let effects = app.update(key("enter"));
    let [
        Effect::Call {
            call:
                Call::Silence(crate::api::protocol::SilenceRequest {
                    duration,
                    comment,
                    rule,
                    ..
                }),
            ..
        },
    ] = &effects[..]
    else {
        panic!("expected a silence call, got {effects:?}");
    };
    assert_eq!(
        (duration.as_str(), comment.as_str(), rule.as_deref()),
        ("1h", "fix rolling out", Some("errors"))
    );
}

#[test]
fn a_pending_alert_cannot_be_acked_and_resolved_ones_fade_out() {
    let mut app = app();
    app.update(Msg::Engine(EngineEvent::Snapshot(with_alert("pending"))));
    app.focus = Pane::Alerts;
    assert!(app.update(key("a")).is_empty());
    assert!(
        app.notice
            .as_ref()
            .unwrap()
            .text
            .contains("only a firing alert")
    );
    // It resolves: still shown, marked, for a while; then gone.
    app.update(Msg::Engine(EngineEvent::Snapshot(report())));
    assert_eq!(app.alerts.len(), 1);
    assert!(app.alerts[0].resolved_at.is_some());
    app.update(Msg::Tick(now() + chrono::Duration::seconds(FADE_SECS + 1)));
    app.update(Msg::Engine(EngineEvent::Snapshot(report())));
    assert!(app.alerts.is_empty());
}

#[test]
fn the_deploy_form_sends_version_and_strategy() {
    let mut app = app();
    app.update(key("d"));
    let Overlay::Deploy(form) = &app.overlay else {
        panic!("no deploy form")
    };
    assert_eq!(
        form.version, "2.0.0",
        "prefilled with the manifest's version"
    );
    for _ in 0..5 {
        app.update(key("backspace"));
    }
    for c in "2.1.0".chars() {
        app.update(Msg::Key(Key::plain(Code::Char(c))));
    }
    app.update(key("tab"));
    let effects = app.update(key("enter"));
    assert_eq!(
        effects,
        [Effect::Call {
            label: "deploy shop 2.1.0".into(),
            call: Call::Deploy(crate::api::protocol::DeployRequest {
                plugin: "shop".into(),
                version: Some("2.1.0".parse().expect("version")),
                strategy: Some(crate::core::types::StrategyKind::Canary),
                dry_run: false,
                no_cache: false,
                preview: false,
                ttl: None,
                detach: true,
                force: false,
                candidate: None,
            }),
            confirmed: None,
        }]
    );
}

#[test]
fn a_held_canary_is_promoted_or_aborted_after_a_confirmation() {
    let mut held = report();
    if let Some(r) = held.plugins[1].rollout.as_mut() {
        r.paused = true;
        r.paused_reason = Some("inconclusive: 3 of 10 samples".into());
        r.step_index = Some(0);
        r.steps = vec![10, 50, 100];
    }
    let mut app = app();
    app.update(Msg::Engine(EngineEvent::Snapshot(held)));
    app.update(key("down"));
    app.update(key("p"));
    let Overlay::Confirm(c) = &app.overlay else {
        panic!("no confirmation")
    };
    assert!(c.lines[0].contains("goes on to 50%"), "{:?}", c.lines);
    assert!(c.lines[1].contains("inconclusive"), "{:?}", c.lines);
    let effects = app.update(key("y"));
    assert!(matches!(
        &effects[..],
        [Effect::Call {
            call: Call::Promote(crate::api::protocol::PromoteRequest { full: false, .. }),
            ..
        }]
    ));
    app.update(key("x"));
    let Overlay::Confirm(c) = &app.overlay else {
        panic!("no confirmation")
    };
    assert!(
        c.lines[0].contains("all traffic back to blue v3.0.0"),
        "{:?}",
        c.lines
    );
    // Space resumes a paused rollout; on shop (no rollout) it says there is none.
    let effects = app.update(key("n"));
    assert!(effects.is_empty());
    let effects = app.update(key("space"));
    assert!(matches!(
        &effects[..],
        [Effect::Call {
            call: Call::Resume(crate::api::protocol::PluginRequest { .. }),
            ..
        }]
    ));
    app.update(key("up"));
    assert!(app.update(key("x")).is_empty());
    assert!(
        app.notice
            .as_ref()
            .unwrap()
            .text
            .contains("no rollout of shop")
    );
}

/// Types `text` to the operator and presses enter; returns what the app asked for.
pub(crate) fn type_and_send(app: &mut App, text: &str) -> Vec<Effect> {
    for c in text.chars() {
        app.update(Msg::Key(Key::plain(Code::Char(c))));
    }
    app.update(key("enter"))
}

/// Asks the operator and plays its turn the way `Operator::ask` does with no model: the
/// offline router's answer from the dashboard's own view, as the events it sends
/// (who answers, the text, then the card), then the end of the turn.
pub(crate) fn ask(app: &mut App, text: &str) -> Vec<Effect> {
    let effects = type_and_send(app, text);
    let Some(Effect::Ask { turn, text, .. }) = effects.first().cloned() else {
        return effects;
    };
    let events: Vec<EventRecord> = app.events.iter().cloned().collect();
    let reply = {
        let logs = app.logs.recent(5_000);
        crate::ai::offline::respond(
            &text,
            &crate::ai::offline::World {
                report: app.report.as_ref(),
                selected: app.selected.as_deref(),
                events: &events,
                logs: &logs,
            },
        )
    };
    let mut played = vec![
        OperatorEvent::Answering(crate::ai::operator::offline_info()),
        OperatorEvent::Text(reply.text),
    ];
    played.extend(reply.card.map(|c| OperatorEvent::Proposal(Pending::new(c))));
    for event in played {
        app.update(Msg::Operator { turn, event });
    }
    app.update(Msg::TurnEnded {
        turn,
        result: Ok(()),
    });
    Vec::new()
}

#[test]
fn the_operator_proposes_actions_as_cards_and_acts_only_on_yes() {
    let mut app = app();
    app.update(key("o"));
    assert_eq!(app.focus, Pane::Operator);
    // Typing goes to the input, not to the keymap ("t" would open the sliders).
    assert!(ask(&mut app, "shift 25% to green").is_empty());
    assert!(app.traffic.is_none());
    let (card, state) = app
        .operator
        .entries
        .last()
        .unwrap()
        .card
        .clone()
        .expect("a card");
    assert_eq!(state, crate::ai::transcript::CardState::Waiting);
    assert_eq!(card.title, "traffic shop blue=75 green=25");
    assert!(
        card.lines[0].contains("green v2.0.0: 0% → 25%"),
        "{:?}",
        card.lines
    );
    // The card is the operator's proposal: y runs it through the operator (as `ai`).
    let effects = app.update(key("y"));
    let [Effect::Approve { label, pending, .. }] = &effects[..] else {
        panic!("expected one approval, got {effects:?}");
    };
    let Call::Traffic(crate::api::protocol::TrafficRequest { weights, .. }) =
        &pending.proposal.call
    else {
        panic!("expected a traffic call, got {:?}", pending.proposal.call);
    };
    assert_eq!(weights.get(&SlotName::Green), Some(&25));
    assert_eq!(pending.hash, card.hash(), "what runs is what was shown");
    app.update(Msg::Done {
        label: label.clone(),
        result: Ok("shop traffic is now blue 75%, green 25%".into()),
        hints: Vec::new(),
    });
    let (_, state) = app.operator.entries.last().unwrap().card.clone().unwrap();
    assert!(matches!(state, crate::ai::transcript::CardState::Done(_)));

    // n declines: recorded, nothing is sent to the engine.
    ask(&mut app, "roll back shop");
    assert!(
        app.update(key("n"))
            .iter()
            .all(|e| matches!(e, Effect::Reject { .. }))
    );
    let (_, state) = app.operator.entries.last().unwrap().card.clone().unwrap();
    assert_eq!(state, crate::ai::transcript::CardState::Rejected);
}

#[test]
fn the_operator_answers_questions_with_numbers_and_never_guesses() {
    let mut app = app();
    app.update(Msg::Engine(EngineEvent::Snapshot(with_alert("firing"))));
    app.update(key("o"));
    ask(&mut app, "why is checkout failing?");
    let answer = app.operator.entries.last().unwrap();
    assert!(answer.card.is_none());
    assert!(
        answer
            .text
            .contains("alert errors is firing: error_rate{slot=canary} 21.0% > 5%"),
        "{}",
        answer.text
    );

    ask(&mut app, "show errors from the canary");
    assert_eq!(app.logs.filter().plugin, "checkout");
    assert_eq!(
        app.logs.filter().slot,
        Some(SlotName::Green.into()),
        "the canary of checkout is green"
    );
    assert_eq!(app.logs.filter().min_level, Some(Level::Error));

    ask(&mut app, "make everything faster");
    let answer = app.operator.entries.last().unwrap();
    assert!(answer.card.is_none());
    assert!(
        answer.text.contains("I did not understand") && answer.text.contains("shift 25% to green"),
        "{}",
        answer.text
    );
    // Esc gives the keys back to the panes.
    app.update(key("esc"));
    assert_eq!(app.focus, Pane::Plugins);
}

#[test]
fn slash_on_the_plugin_list_narrows_it() {
    let mut app = app();
    app.update(key("/"));
    for c in "check".chars() {
        app.update(Msg::Key(Key::plain(Code::Char(c))));
    }
    assert_eq!(
        app.selected.as_deref(),
        Some("checkout"),
        "the selection follows the filter"
    );
    app.update(key("enter"));
    assert_eq!(app.shown_plugins().len(), 1);
    app.update(key("down"));
    assert_eq!(
        app.selected.as_deref(),
        Some("checkout"),
        "only shown plugins are selectable"
    );
    app.update(key("/"));
    app.update(key("esc"));
    assert_eq!(app.shown_plugins().len(), 2);
}

#[test]
fn slash_on_the_alerts_narrows_them_and_acks_the_shown_one() {
    let mut report = with_alert("firing");
    let mut second = report.plugins[1].alerts[0].clone();
    second.rule = "latency".into();
    second.summary = "p99_ms 900 > 800".into();
    report.plugins[1].alerts.push(second);
    let mut app = app();
    app.update(Msg::Engine(EngineEvent::Snapshot(report)));
    app.focus = Pane::Alerts;
    app.update(key("/"));
    for c in "p99".chars() {
        app.update(Msg::Key(Key::plain(Code::Char(c))));
    }
    app.update(key("enter"));
    assert_eq!(app.shown_alerts().len(), 1);
    let effects = app.update(key("a"));
    let [
        Effect::Call {
            call: Call::Ack(crate::api::protocol::AckRequest { rule, .. }),
            ..
        },
    ] = &effects[..]
    else {
        panic!("expected an ack, got {effects:?}");
    };
    assert_eq!(rule, "latency");
}

#[test]
fn a_streamed_answer_grows_one_entry() {
    let mut t = crate::ai::transcript::Transcript::default();
    t.you("why?");
    t.stream("Because ");
    t.stream("the canary fails.");
    assert_eq!(t.entries.len(), 2);
    assert_eq!(t.entries[1].text, "Because the canary fails.");
}

#[test]
fn every_dashboard_entry_refuses_a_bad_version_and_sends_nothing() {
    // The deploy form.
    let mut app = super::tests::app();
    app.update(key("d"));
    for c in "$(reboot)".chars() {
        app.update(Msg::Key(Key::plain(Code::Char(c))));
    }
    assert!(app.update(key("enter")).is_empty());
    let Overlay::Deploy(form) = &app.overlay else {
        panic!("the form stays open with the reason")
    };
    let error = form.error.clone().unwrap_or_default();
    assert!(
        error.contains("contains `$`") && error.contains("1 to 64"),
        "{error}"
    );

    // The `:` command line (clap, with the CLI's value parser).
    let mut app = super::tests::app();
    app.update(key(":"));
    for c in "deploy shop --version 1;reboot".chars() {
        app.update(Msg::Key(Key::plain(Code::Char(c))));
    }
    assert!(app.update(key("enter")).is_empty());
    let notice = app.notice.clone().expect("a notice");
    assert!(notice.error, "{notice:?}");

    // The operator: no card for a bad version, the reason instead.
    let mut app = super::tests::app();
    app.update(key("o"));
    assert!(ask(&mut app, "deploy shop 2.0$(reboot)").is_empty());
    let last = app.operator.entries.last().expect("an answer");
    assert!(last.card.is_none(), "{last:?}");
    assert!(last.text.contains("`$`"), "{}", last.text);
}

#[test]
fn an_engine_hint_is_shown_as_what_to_press_here() {
    let mut app = app();
    app.update(Msg::Done {
        label: "promote checkout".into(),
        result: Err("checkout: the rollout is held: pause step: waiting to be promoted; promoting goes on, aborting goes back".into()),
        hints: vec![Hint::PromoteOrAbort {
            plugin: "checkout".into(),
        }],
    });
    let notice = app.notice.clone().expect("a notice");
    assert!(notice.error, "{notice:?}");
    assert!(
        notice
            .text
            .ends_with(" — select checkout: `p` promotes, `x` aborts"),
        "{}",
        notice.text
    );
    assert!(!notice.text.contains("naap "), "{}", notice.text);
}
