//! The dashboard driven headlessly against a real engine: keys go into the app, the app's
//! engine calls go over the real socket, and the engine's state and the router's answers
//! show the result.

mod common;
use common::*;
use naap::tui::app::{App, Effect, Msg};
use naap::tui::keymap::Keymap;
use naap::tui::{link, theme};
use std::time::Duration;
use tokio::sync::mpsc;

/// The app with its subscription running; `pump` feeds it what the engine sent.
struct Dashboard {
    app: App,
    rx: mpsc::UnboundedReceiver<Msg>,
    socket: std::path::PathBuf,
}

impl Dashboard {
    fn new(ws: &TestWorkspace) -> Dashboard {
        let socket = naap::core::engine::socket_path(&ws.state_dir());
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(link::subscribe(socket.clone(), tx));
        let app = App::new(
            Keymap::defaults(),
            theme::built_in("dark").expect("the dark theme"),
            chrono::Utc::now(),
        );
        Dashboard { app, rx, socket }
    }

    /// Applies what arrived until `ok` holds for the app, or panics after 15 s.
    async fn pump_until(&mut self, what: &str, ok: impl Fn(&App) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while !ok(&self.app) {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(msg)) => {
                    self.app.update(msg);
                }
                _ => panic!("the dashboard never saw {what}"),
            }
        }
    }

    /// Presses keys; runs the engine calls they cause and applies their results.
    async fn keys(&mut self, keys: &[&str]) -> Vec<String> {
        let mut labels = Vec::new();
        for key in keys {
            let effects = self.app.update(Msg::Key(key.parse().expect("a key")));
            for effect in effects {
                if let Effect::Call { label, call } = effect {
                    labels.push(label.clone());
                    let done = link::perform(&self.socket, label, call).await;
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
    let type_line = |text: &str| -> Vec<String> {
        text.chars()
            .map(|c| {
                if c == ' ' {
                    "space".to_string()
                } else {
                    c.to_string()
                }
            })
            .collect()
    };
    let line = type_line("shift 30% to blue");
    let keys: Vec<&str> = line.iter().map(String::as_str).collect();
    assert!(dash.keys(&keys).await.is_empty());
    assert!(
        dash.keys(&["enter"]).await.is_empty(),
        "asking changes nothing"
    );
    assert_eq!(
        ws.slot("shop", "blue")["weight"],
        0,
        "nothing moves before yes"
    );
    let calls = dash.keys(&["y"]).await;
    assert_eq!(calls, ["traffic shop blue=30 green=70"]);
    assert_eq!(ws.slot("shop", "blue")["weight"], 30);
    assert_eq!(ws.slot("shop", "green")["weight"], 70);
    let history = ws.json(&["history", "shop"]);
    let by_dashboard = history["audit"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["face"] == "dashboard" && a["action"] == "traffic")
        .count();
    assert_eq!(by_dashboard, 1, "{history:#}");
}
