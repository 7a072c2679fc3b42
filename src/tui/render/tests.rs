//! Rendered screens, as text, at the sizes an operator uses: 80×24 over SSH and 200×50.

use super::draw;
use crate::core::engine::EngineEvent;
use crate::core::logs::LogLine;
use crate::core::store::EventRecord;
use crate::core::types::{Level, LogSource, SlotName};
use crate::tui::app::tests::{app, now};
use crate::tui::app::{App, Msg};
use crate::tui::theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn screen(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| draw(frame, app)).unwrap();
    let buffer = terminal.backend().buffer();
    let mut text = String::new();
    for y in 0..height {
        for x in 0..width {
            text.push_str(buffer[(x, y)].symbol());
        }
        text.push('\n');
    }
    text
}

fn busy_app() -> App {
    let mut app = app();
    // Five minutes of traffic: blue steady, green (the canary of checkout) ramping up.
    let end = now().timestamp() as u64;
    if let Some(report) = app.report.as_mut() {
        for plugin in &mut report.plugins {
            for slot in &mut plugin.slots {
                let base = if slot.slot == SlotName::Blue { 40 } else { 10 };
                slot.metrics.series = (0..300u64)
                    .map(|i| crate::core::metrics::SecondPoint {
                        second: end - 300 + i,
                        requests: base + (i % 17) + i / 30,
                        errors: u64::from(i % 50 == 0),
                        p50_ms: 2.0 + (i % 5) as f64,
                        p99_ms: 9.0 + (i % 13) as f64,
                    })
                    .collect();
            }
        }
    }
    for (i, (slot, level, message)) in [
        (SlotName::Blue, Level::Info, "GET /shop/api/items 200 2ms"),
        (SlotName::Green, Level::Warn, "slow query: 812ms"),
        (
            SlotName::Blue,
            Level::Error,
            "upstream payment gateway timed out",
        ),
        (SlotName::Blue, Level::Info, "GET /shop/api/items 200 1ms"),
    ]
    .into_iter()
    .enumerate()
    {
        app.update(Msg::Engine(EngineEvent::Log(LogLine {
            seq: i as u64,
            ts: now(),
            plugin: "shop".into(),
            slot: Some(slot),
            source: LogSource::Stdout,
            level,
            message: message.into(),
            fields: None,
        })));
    }
    if let Some(report) = app.report.clone().as_mut() {
        report.plugins[1].alerts = vec![
            serde_json::from_value(serde_json::json!({
                "plugin": "checkout", "rule": "errors", "state": "firing",
                "since": "2026-11-22T02:59:30Z", "severity": "critical",
                "summary": "error_rate{slot=canary} 21.0% > 5%", "labels": {}, "rollback": true,
                "acked_by": "ana", "silenced_until": null, "silence_id": null
            }))
            .unwrap(),
        ];
        app.update(Msg::Engine(EngineEvent::Snapshot(report.clone())));
    }
    app.update(Msg::Engine(EngineEvent::Event(EventRecord {
        id: 1,
        ts: now() - chrono::Duration::seconds(42),
        plugin: Some("checkout".into()),
        slot: Some(SlotName::Green),
        kind: crate::core::event_kind::EventKind::AutoRollback,
        message: "automatic rollback: green breached its threshold: error rate 21.0 % > 5.0 %"
            .into(),
        data: serde_json::Value::Null,
    })));
    app
}

#[test]
fn main_screen_80x24() {
    insta::assert_snapshot!(screen(&busy_app(), 80, 24));
}

#[test]
fn main_screen_200x50() {
    insta::assert_snapshot!(screen(&busy_app(), 200, 50));
}

#[test]
fn help_overlay() {
    let mut app = busy_app();
    app.update(Msg::Key("?".parse().unwrap()));
    insta::assert_snapshot!(screen(&app, 100, 50));
}

#[test]
fn help_from_the_operator_pane_lists_its_keys_first() {
    let mut app = busy_app();
    app.update(Msg::Key("o".parse().unwrap()));
    app.update(Msg::Key("f1".parse().unwrap()));
    let text = screen(&app, 100, 50);
    let operator = text.find("operator ").expect("the operator's keys");
    let global = text.find("global ").expect("the global keys");
    assert!(operator < global, "{text}");
    for (keys, help) in [
        ("enter", "send what is typed"),
        ("esc", "cancel the answer being written"),
        ("y Y", "run the waiting card"),
        ("n N", "reject the waiting card"),
    ] {
        let line = format!("  {keys:<16}{help}");
        assert!(text.contains(&line), "{line} missing:\n{text}");
    }
}

#[test]
fn rollback_confirmation() {
    let mut app = busy_app();
    app.update(Msg::Key("r".parse().unwrap()));
    insta::assert_snapshot!(screen(&app, 80, 24));
}

#[test]
fn traffic_sliders_show_pending_beside_live() {
    let mut app = busy_app();
    for k in ["t", "left", "left", "shift+left"] {
        app.update(Msg::Key(k.parse().unwrap()));
    }
    insta::assert_snapshot!(screen(&app, 80, 24));
}

#[test]
fn engine_unreachable_banner() {
    let mut app = busy_app();
    app.update(Msg::Disconnected("engine socket closed".into()));
    let text = screen(&app, 80, 24);
    assert!(
        text.lines().next().unwrap().contains("ENGINE UNREACHABLE"),
        "{text}"
    );
}

#[test]
fn store_failing_banner() {
    let mut app = busy_app();
    let mut report = app.report.clone().unwrap();
    report.store.ok = false;
    report.store.error = Some("database /w/.naap/naap.db: the disk is full".into());
    app.update(Msg::Engine(crate::core::engine::EngineEvent::Snapshot(
        report,
    )));
    let text = screen(&app, 80, 24);
    let top = text.lines().next().unwrap();
    assert!(
        top.contains("STORE FAILING") && top.contains("disk is full"),
        "{text}"
    );
}

#[test]
fn every_theme_renders_with_its_own_colours() {
    for (name, _) in theme::BUILT_IN {
        let mut app = busy_app();
        app.theme = theme::built_in(name).unwrap();
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        terminal.draw(|frame| draw(frame, &app)).unwrap();
        let buffer = terminal.backend().buffer();
        // The selected plugin's name is painted in the theme's selection colours.
        let cell = (0..80)
            .flat_map(|x| (0..24).map(move |y| (x, y)))
            .find(|(x, y)| buffer[(*x, *y)].symbol() == "▸")
            .expect("a selected plugin marker");
        let name_cell = &buffer[(cell.0 + 2, cell.1)];
        assert_eq!(
            name_cell.bg,
            app.theme.color(theme::Paint::SelectionBg),
            "{name}: the selection is not in the theme's colour"
        );
        insta::assert_snapshot!(format!("theme_{name}"), screen(&app, 80, 24));
    }
}

#[test]
fn operator_conversation_200x50() {
    let mut app = busy_app();
    app.update(Msg::Key("o".parse().unwrap()));
    for text in ["why is checkout failing?", "shift 25% to green"] {
        crate::tui::app::tests::ask(&mut app, text);
    }
    insta::assert_snapshot!(screen(&app, 200, 50));
}

#[test]
fn operator_pane_mid_stream_80x24() {
    use crate::ai::operator::OperatorEvent;
    let mut app = busy_app();
    app.update(Msg::Key("o".parse().unwrap()));
    let effects = crate::tui::app::tests::type_and_send(&mut app, "why is checkout failing?");
    let [crate::tui::app::Effect::Ask { turn, .. }] = effects[..] else {
        panic!("expected an Ask, got {effects:?}");
    };
    for event in [
        OperatorEvent::Answering(crate::ai::provider::ProviderInfo {
            kind: "openai".into(),
            model: "gpt-4o-mini".into(),
            base_url: "https://api.openai.com/v1".into(),
        }),
        OperatorEvent::ToolCall {
            id: "call_1".into(),
            name: "status".into(),
            arguments: serde_json::json!({"plugin": "checkout"}),
        },
        OperatorEvent::ToolResult {
            id: "call_1".into(),
            name: "status".into(),
            ok: true,
            truncated: false,
        },
        OperatorEvent::Text("The canary of checkout (green v3.1.0) ".into()),
        OperatorEvent::Text("fails 21 % of requests; ".into()),
    ] {
        app.update(Msg::Operator { turn, event });
    }
    let text = screen(&app, 80, 24);
    assert!(text.contains("openai gpt-4o-mini"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn control_characters_in_a_log_line_are_shown_escaped() {
    let mut app = busy_app();
    app.update(Msg::Engine(EngineEvent::Log(LogLine {
        seq: 100,
        ts: now(),
        plugin: "shop".into(),
        slot: Some(SlotName::Blue),
        source: LogSource::Stdout,
        level: Level::Warn,
        message: "ctl \x08bs \x1asub\tend".into(),
        fields: None,
    })));
    let text = screen(&app, 200, 50);
    assert!(text.contains(r"ctl \x08bs \x1asub"), "{text}");
    assert!(
        !text.contains(['\x08', '\x1a']),
        "no raw control byte reaches the terminal"
    );
}

#[test]
fn approvals_list_80x24() {
    use crate::ai::session::{ProposalEntry, ProposalRecord, ProposalStatus, SessionId};
    let mut app = busy_app();
    let waiting =
        |id: &str, face, call: serde_json::Value, preview: &str, secs: i64| ProposalRecord {
            session: SessionId(1),
            face,
            seq: 1,
            created: now() - chrono::Duration::seconds(secs),
            proposal: ProposalEntry {
                id: id.parse().unwrap(),
                call,
                preview: vec![preview.to_string()],
                argument_hash: String::new(),
                status: ProposalStatus::Waiting,
                outcome: None,
                decided: None,
            },
        };
    app.update(Msg::Waiting(Ok(vec![
        waiting(
            "p-mcp0001",
            crate::core::types::Face::Mcp,
            serde_json::json!({"method": "rollback", "params": {"plugin": "shop"}}),
            "would roll back shop: all traffic moves to blue 1.0.0, which is warm (one weight flip, no restart)",
            95,
        ),
        waiting(
            "p-chat0002",
            crate::core::types::Face::Cli,
            serde_json::json!({"method": "traffic", "params": {"plugin": "checkout", "weights": {"blue": 90, "green": 10}}}),
            "would set checkout traffic: blue 100% → 90%, green 0% → 10%",
            7200,
        ),
    ])));
    let header = screen(&app, 80, 24);
    assert!(
        header
            .lines()
            .next()
            .unwrap()
            .contains("2 waiting for a yes (A)"),
        "{header}"
    );
    app.update(Msg::Key("A".parse().unwrap()));
    insta::assert_snapshot!(screen(&app, 80, 24));
}

/// The messages an iterate run in the pane sends, up to its accept card.
fn iterate_timeline(app: &mut App) {
    use crate::ai::iterate::heal::HealDecision;
    use crate::ai::iterate::pipeline::IterateEvent;
    app.update(Msg::Key("o".parse().unwrap()));
    let diff = "--- a/app.py\n+++ b/app.py\n@@ -1,2 +1,2 @@\n def items():\n-    return sorted(rows)\n+    return sorted(rows, reverse=True)\n";
    for event in [
        IterateEvent::Created {
            candidate: "k3x9q2".into(),
            plugin: "expense-tracker".into(),
            tree: "/srv/ops/.naap/candidates/k3x9q2/tree".into(),
        },
        IterateEvent::Edited {
            summary: "+1 -1 in 1 file(s)".into(),
            diff: diff.into(),
        },
        IterateEvent::Gates {
            passed: false,
            summary: "test failed (exit 1), 1 problem(s)".into(),
        },
        IterateEvent::Heal {
            decision: HealDecision::Heal { attempt: 1 },
        },
        IterateEvent::Gates {
            passed: true,
            summary: "2 gate(s) passed".into(),
        },
        IterateEvent::Shipped {
            label: "deploy expense-tracker 1.4.1-ai.k3x9q2 (canary)".into(),
            ok: false,
            summary: "rolled back: error rate 21% > 5% at step 1".into(),
        },
    ] {
        app.update(Msg::Timeline(event));
    }
}

#[test]
fn iterate_timeline_80x24() {
    let mut app = busy_app();
    iterate_timeline(&mut app);
    let text = screen(&app, 80, 24);
    assert!(text.contains("gates passed"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn candidate_diff_overlay_80x24() {
    let mut app = busy_app();
    iterate_timeline(&mut app);
    app.update(Msg::Key("D".parse().unwrap()));
    let text = screen(&app, 80, 24);
    assert!(
        text.contains("+    return sorted(rows, reverse=True)"),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn stories_view_80x24() {
    use crate::core::engine::{CriterionStatus, StoriesReport, StoryStatus, TestResult};
    let mut app = busy_app();
    let criterion = |text: &str, result| CriterionStatus {
        text: text.into(),
        done: false,
        test: "tests.test_stories.StoryTests.test_x".into(),
        describes: String::new(),
        result,
    };
    let report = StoriesReport {
        plugin: "expense-tracker".into(),
        spec: "plugin.md".into(),
        last_run: chrono::DateTime::parse_from_rfc3339("2026-11-22T02:58:00Z")
            .ok()
            .map(|t| t.to_utc()),
        stories: vec![
            StoryStatus {
                id: "US-1".into(),
                title: "Submit an expense".into(),
                criteria: vec![
                    criterion(
                        "An expense has an amount and a category",
                        TestResult::Passed,
                    ),
                    criterion("A receipt is attached", TestResult::Failed),
                ],
            },
            StoryStatus {
                id: "US-3".into(),
                title: "Spend by month".into(),
                criteria: vec![criterion(
                    "The dashboard totals spend by month and category",
                    TestResult::Skipped,
                )],
            },
        ],
    };
    app.update(Msg::Stories(Ok(report)));
    let text = screen(&app, 80, 24);
    assert!(text.contains("✗ failed"), "{text}");
    insta::assert_snapshot!(text);
}

/// A production workspace with an open incident: the header says PRODUCTION, the alerts
/// pane puts the incident and the last fix of one like it first, and the rollback
/// confirmation says PRODUCTION.
#[test]
fn production_incident_and_its_confirmation_80x24() {
    let mut app = busy_app();
    if let Some(report) = app.report.as_mut() {
        report.engine.environment = crate::core::workspace::Environment::Production;
        report.plugins[0].incident = Some(crate::core::engine::OpenIncident {
            id: 7,
            title: "automatic rollback".into(),
            opened_at: now() - chrono::Duration::minutes(3),
            signals: vec!["alert:auto-rollback".into(), "auto_rollback".into()],
            similar: vec![crate::core::engine::SimilarIncident {
                id: 4,
                plugin: report.plugins[0].name.clone(),
                score: 0.86,
                title: "automatic rollback".into(),
                resolved_at: Some(now() - chrono::Duration::days(2)),
                note: "db pool too small; rolled back, raised pool_size".into(),
                actions: vec!["rollback by dashboard".into()],
            }],
        });
    }
    let main = screen(&app, 80, 24);
    assert!(
        main.lines()
            .next()
            .is_some_and(|l| l.contains("PRODUCTION")),
        "{main}"
    );
    assert!(
        main.contains("INCIDENT #7") && main.contains("like #4 (86 %)"),
        "{main}"
    );
    insta::assert_snapshot!("production_main_80x24", main);
    app.update(Msg::Key("r".parse().unwrap()));
    let confirm = screen(&app, 80, 24);
    assert!(confirm.contains("PRODUCTION"), "{confirm}");
    insta::assert_snapshot!("production_rollback_confirmation_80x24", confirm);
}

/// A slot of three replicas, one ejected by the router: the plugin list counts them in the
/// warning colour, the metrics pane has a line per replica (with its port when wide).
#[test]
fn replicas_of_a_slot_80x24_and_200x50() {
    let mut app = busy_app();
    if let Some(report) = app.report.as_mut() {
        let slot = &mut report.plugins[0].slots[0];
        slot.replicas = (0..3u32)
            .map(|index| crate::core::engine::ReplicaStatus {
                index,
                pid: Some(100 + index),
                port: Some(41000 + index as u16),
                process_state: crate::core::types::ProcessState::Running,
                health: crate::core::types::Health::Healthy,
                health_detail: String::new(),
                draining: false,
                restarts: 0,
                cpu_percent: 0.5,
                rss_bytes: 12_000_000,
                stats: crate::core::metrics::ReplicaSnapshot {
                    in_flight: 2,
                    requests_total: 1200,
                    errors_total: if index == 2 { 9 } else { 0 },
                    consecutive_errors: 0,
                    ejected_for_ms: if index == 2 { 29_000 } else { 0 },
                    ejections_total: u64::from(index == 2),
                },
            })
            .collect();
    }
    let small = screen(&app, 80, 24);
    assert!(small.contains("×3: 2 healthy, 1 ejected"), "{small}");
    assert!(small.contains("r2 ejected"), "{small}");
    insta::assert_snapshot!("replicas_80x24", small);
    let wide = screen(&app, 200, 50);
    assert!(wide.contains(":41002"), "{wide}");
    insta::assert_snapshot!("replicas_200x50", wide);
}
