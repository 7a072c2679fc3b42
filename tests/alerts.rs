//! Alert rules against a real engine: a slot with injected errors under load through the
//! router drives a rule pending → firing → resolved; notifications reach a real local HTTP
//! server (retried while it answers 500); silences mute and expire; acks stop repeats;
//! silences survive an engine restart; `rollback = true` rolls the plugin back.

mod common;
use common::*;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A webhook receiver on 127.0.0.1:0: answers the first `failures` requests with 500 and
/// the rest with 200, and keeps every request body it received.
struct Hook {
    url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
    requests: Arc<AtomicUsize>,
}

impl Hook {
    fn start(failures: usize) -> Hook {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind hook");
        let url = format!(
            "http://{}/hook",
            listener.local_addr().expect("hook address")
        );
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(AtomicUsize::new(0));
        let (b, r) = (bodies.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let n = r.fetch_add(1, Ordering::SeqCst);
                let status = if n < failures {
                    "500 Internal Server Error"
                } else {
                    "200 OK"
                };
                if let Some(body) = read_request(&stream) {
                    if n >= failures {
                        b.lock().expect("bodies").push(body);
                    }
                    let mut stream = stream;
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                }
            }
        });
        Hook {
            url,
            bodies,
            requests,
        }
    }

    fn bodies(&self) -> Vec<Value> {
        self.bodies.lock().expect("bodies").clone()
    }

    /// Accepted bodies whose `naap.kind` is `kind`.
    fn of_kind(&self, kind: &str) -> Vec<Value> {
        self.bodies()
            .into_iter()
            .filter(|b| b["naap"]["kind"] == kind)
            .collect()
    }
}

/// Reads one HTTP/1.1 request and returns its JSON body.
fn read_request(stream: &std::net::TcpStream) -> Option<Value> {
    let mut reader = BufReader::new(stream);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

/// The sample service with `--error-rate` for version 2.0.0 only when `v2_only`, or for
/// every version otherwise, plus the given `[[alerts]]` text.
fn manifest(name: &str, errors: &str, v2_only: bool, alerts: &str) -> String {
    let extra = if v2_only {
        format!("$([ \\\"$NAAP_VERSION\\\" = 2.0.0 ] && echo {errors})")
    } else {
        errors.to_string()
    };
    let mut text = sample_plugin(name, "1.0.0", &extra);
    text.push('\n');
    text.push_str(alerts);
    text
}

fn alert(ws: &TestWorkspace, plugin: &str, rule: &str) -> Value {
    ws.json(&["alerts", "list", plugin])["alerts"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["rule"] == rule).cloned())
        .unwrap_or(Value::Null)
}

fn event_kinds(ws: &TestWorkspace, plugin: &str) -> Vec<String> {
    ws.json(&["history", plugin, "-n", "500"])["events"]
        .as_array()
        .map(|es| {
            es.iter()
                .filter_map(|e| e["kind"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_go_pending_firing_resolved_and_reach_a_webhook_that_first_fails() {
    let hook = Hook::start(2);
    let alerts = format!(
        "[[alerts]]\nname = \"errors\"\ncondition = \"error_rate > 0.2 for 2s\"\n\
         severity = \"critical\"\nchannels = [\"log\", \"webhook:{}\"]\n\
         labels = {{ team = \"payments\" }}\nsummary = \"checkout fails\"\n",
        hook.url
    );
    let mut ws =
        TestWorkspace::new(&[("pay", manifest("pay", "--error-rate 0.5", false, &alerts))]);
    ws.start_engine();
    ws.wait_serving("pay");
    let load = Load::start(format!("http://{}/pay/api/items", ws.router()), 1);

    let firing = wait_for(Duration::from_secs(30), || {
        alert(&ws, "pay", "errors")["state"] == "firing"
    });
    assert!(firing, "never fired: {:#}", ws.json(&["alerts", "list"]));
    // Visible in `naap status --json` for the dashboard.
    let status = ws.status();
    let in_status = &plugin_of(&status, "pay")["alerts"];
    assert_eq!(in_status[0]["rule"], "errors", "{in_status:#}");
    assert_eq!(in_status[0]["state"], "firing");

    // The webhook answered 500 twice; the retries got the firing payload through.
    let delivered = wait_for(Duration::from_secs(20), || {
        !hook.of_kind("firing").is_empty()
    });
    assert!(
        delivered,
        "no firing payload; {} requests",
        hook.requests.load(Ordering::SeqCst)
    );
    assert!(hook.requests.load(Ordering::SeqCst) >= 3);
    let body = &hook.of_kind("firing")[0];
    assert_eq!(body["status"], "firing");
    let a = &body["alerts"][0];
    assert_eq!(a["labels"]["alertname"], "errors");
    assert_eq!(a["labels"]["plugin"], "pay");
    assert_eq!(a["labels"]["team"], "payments");
    assert_eq!(a["labels"]["severity"], "critical");
    assert_eq!(a["annotations"]["summary"], "checkout fails");
    assert_eq!(a["slots"][0], "blue", "{body:#}");
    assert!(
        a["annotations"]["value"]
            .as_str()
            .is_some_and(|v| v.contains("error_rate")),
        "{body:#}"
    );

    // The load stops: once the errors leave the metrics window, the alert resolves.
    load.finish().await;
    let resolved = wait_for(Duration::from_secs(40), || {
        alert(&ws, "pay", "errors")["state"] == "resolved"
    });
    assert!(
        resolved,
        "never resolved: {:#}",
        ws.json(&["alerts", "list"])
    );
    let notified = wait_for(Duration::from_secs(20), || {
        !hook.of_kind("resolved").is_empty()
    });
    assert!(notified, "no resolved payload: {:#?}", hook.bodies());
    let resolved_body = &hook.of_kind("resolved")[0];
    assert_eq!(resolved_body["status"], "resolved");
    assert_ne!(resolved_body["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");

    // The whole sequence is in the alert history and in the plugin's events.
    let list = ws.json(&["alerts", "list", "pay"]);
    let kinds: Vec<&str> = list["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter(|t| t["rule"] == "errors")
        .filter_map(|t| t["kind"].as_str())
        .collect();
    assert_eq!(kinds[..3], ["pending", "firing", "resolved"], "{kinds:?}");
    let events = event_kinds(&ws, "pay");
    for kind in ["alert_pending", "alert_firing", "alert_resolved"] {
        assert!(
            events.iter().any(|e| e == kind),
            "{kind} missing: {events:?}"
        );
    }
    // The `log` channel wrote to the plugin's log stream.
    let logs = stdout(&ws.naap(&["logs", "pay", "--grep", "alert pay/errors firing"]));
    assert!(logs.contains("alert pay/errors firing"), "{logs}");
    assert!(
        ws.json(&["status"])["plugins"][0]["alerts"]
            .as_array()
            .is_some_and(|a| a.is_empty())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silences_mute_until_they_expire_acks_stop_repeats_and_both_persist() {
    let hook = Hook::start(0);
    let alerts = format!(
        "[[alerts]]\nname = \"errors\"\ncondition = \"error_rate > 0.2 for 1s\"\n\
         channels = [\"webhook:{}\"]\nrepeat_interval = \"1s\"\n",
        hook.url
    );
    let mut ws =
        TestWorkspace::new(&[("shop", manifest("shop", "--error-rate 0.5", false, &alerts))]);
    ws.start_engine();
    ws.wait_serving("shop");

    // Bad input: a clear message and the right exit code.
    let out = ws.naap(&["alerts", "silence", "nope", "--for", "1h", "--comment", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("unknown plugin `nope`"),
        "{}",
        stderr(&out)
    );
    let out = ws.naap(&[
        "alerts",
        "silence",
        "shop/typo",
        "--for",
        "1h",
        "--comment",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no alert `typo`"), "{}", stderr(&out));
    let out = ws.naap(&[
        "alerts",
        "silence",
        "shop",
        "--for",
        "soon",
        "--comment",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not a duration"), "{}", stderr(&out));
    let out = ws.naap(&["alerts", "silence", "shop", "--for", "1h"]);
    assert_eq!(out.status.code(), Some(2), "a comment is required");
    let out = ws.naap(&["alerts", "ack", "shop/errors"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not firing"), "{}", stderr(&out));
    let out = ws.naap(&["alerts", "unsilence", "999"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no active silence #999"),
        "{}",
        stderr(&out)
    );

    // A short silence, then errors: the alert fires but nothing is sent...
    let silence = ws.json(&[
        "alerts",
        "silence",
        "shop/errors",
        "--for",
        "4s",
        "--comment",
        "fix deploying",
        "--author",
        "ana",
    ]);
    assert_eq!(silence["author"], "ana");
    let load = Load::start(format!("http://{}/shop/api/items", ws.router()), 1);
    let firing = wait_for(Duration::from_secs(30), || {
        let a = alert(&ws, "shop", "errors");
        a["state"] == "firing" && !a["silenced_until"].is_null()
    });
    assert!(firing, "{:#}", ws.json(&["alerts", "list"]));
    let still_silenced = !alert(&ws, "shop", "errors")["silenced_until"].is_null();
    if still_silenced {
        assert!(
            hook.bodies().is_empty(),
            "sent while silenced: {:#?}",
            hook.bodies()
        );
    }
    // ...until the silence expires: then it is notified, and repeats every second.
    let repeated = wait_for(Duration::from_secs(20), || hook.bodies().len() >= 2);
    assert!(repeated, "{:#?}", hook.bodies());
    assert!(alert(&ws, "shop", "errors")["silenced_until"].is_null());

    // An ack stops the repeats.
    let ack = ws.json(&["alerts", "ack", "shop/errors", "--author", "bo"]);
    assert_eq!(ack["author"], "bo");
    assert_eq!(alert(&ws, "shop", "errors")["acked_by"], "bo");
    let after_ack = hook.bodies().len();
    let grew = wait_for(Duration::from_secs(4), || {
        hook.bodies().len() > after_ack + 1
    });
    assert!(!grew, "repeats after the ack: {:#?}", hook.bodies());
    assert_eq!(alert(&ws, "shop", "errors")["state"], "firing");
    load.finish().await;

    // Silences and acks are in the store: an engine restart keeps them.
    let long = ws.json(&[
        "alerts",
        "silence",
        "shop",
        "--for",
        "1h",
        "--comment",
        "maintenance",
    ]);
    let id = long["id"].as_i64().expect("silence id");
    ws.kill_engine();
    ws.start_engine();
    let list = ws.json(&["alerts", "list"]);
    let silences = list["silences"].as_array().expect("silences");
    assert!(
        silences
            .iter()
            .any(|s| s["id"] == id && s["comment"] == "maintenance"),
        "{list:#}"
    );
    let table = stdout(&ws.naap(&["alerts", "list"]));
    assert!(table.contains(&format!("#{id}")), "{table}");
    assert!(table.lines().all(|l| l.chars().count() < 80), "{table}");
    ws.json(&["alerts", "unsilence", &id.to_string()]);
    let list = ws.json(&["alerts", "list"]);
    assert!(
        !list["silences"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["id"] == id)),
        "{list:#}"
    );
    let audit = ws.json(&["history", "shop"])["audit"].clone();
    for action in ["alert_silence", "alert_ack"] {
        assert!(
            audit
                .as_array()
                .is_some_and(|a| a.iter().any(|e| e["action"] == action)),
            "{action} not audited: {audit:#}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_rule_rolls_the_plugin_back() {
    // The command channel writes its stdin (the payload) to a file named by its env.
    let alerts = "[[alerts]]\nname = \"errors\"\ncondition = \"error_rate > 0.2 for 1s\"\n\
                  severity = \"critical\"\nrollback = true\n\
                  channels = [\"command:cat > alert-$NAAP_ALERT_NAME-$NAAP_ALERT_KIND.json\"]\n";
    let mut ws =
        TestWorkspace::new(&[("cart", manifest("cart", "--error-rate 0.5", true, alerts))]);
    ws.start_engine();
    ws.wait_serving("cart");
    let load = Load::start(format!("http://{}/cart/api/items", ws.router()), 1);
    ws.json(&["deploy", "cart", "--version", "2.0.0"]);
    let rolled_back = wait_for(Duration::from_secs(30), || {
        ws.slot("cart", "blue")["weight"] == 100
    });
    load.finish().await;
    assert!(rolled_back, "no rollback: {:#}", ws.status());
    let history = ws.json(&["history", "cart", "-n", "500"]);
    let auto = history["events"]
        .as_array()
        .and_then(|es| es.iter().find(|e| e["kind"] == "auto_rollback").cloned())
        .expect("auto_rollback event");
    assert!(
        auto["message"]
            .as_str()
            .is_some_and(|m| m.contains("alert errors fired")),
        "{auto:#}"
    );
    assert!(
        history["audit"].as_array().is_some_and(|a| a
            .iter()
            .any(|e| e["face"] == "engine" && e["action"] == "rollback" && e["result"] == "ok")),
        "{history:#}"
    );
    let file = ws.path().join("alert-errors-firing.json");
    let written = wait_for(Duration::from_secs(20), || {
        std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .is_some()
    });
    assert!(written, "the command channel wrote no payload");
    let payload: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("payload")).expect("json");
    assert_eq!(payload["alerts"][0]["labels"]["alertname"], "errors");
    assert_eq!(payload["naap"]["slots"][0], "green", "{payload:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rollback_guard_fires_an_auto_rollback_alert_on_the_plugin_channels() {
    let hook = Hook::start(0);
    let alerts = format!(
        "[[alerts]]\nname = \"slow\"\ncondition = \"p99_ms > 5000\"\nchannels = [\"webhook:{}\"]\n",
        hook.url
    );
    let text = manifest("bill", "--error-rate 0.5", true, &alerts).replace(
        "keep_previous_warm = \"30m\"",
        "keep_previous_warm = \"30m\"\non_error_rate = 0.05",
    );
    let mut ws = TestWorkspace::new(&[("bill", text)]);
    ws.start_engine();
    ws.wait_serving("bill");
    let load = Load::start(format!("http://{}/bill/api/items", ws.router()), 1);
    ws.json(&["deploy", "bill", "--version", "2.0.0"]);
    let sent = wait_for(Duration::from_secs(30), || {
        hook.bodies()
            .iter()
            .any(|b| b["alerts"][0]["labels"]["alertname"] == "auto-rollback")
    });
    load.finish().await;
    assert!(sent, "{:#?}\n{:#}", hook.bodies(), ws.status());
    let body = hook
        .bodies()
        .into_iter()
        .find(|b| b["alerts"][0]["labels"]["alertname"] == "auto-rollback")
        .expect("auto-rollback payload");
    assert_eq!(body["alerts"][0]["labels"]["severity"], "critical");
    assert_eq!(body["alerts"][0]["slots"][0], "green", "{body:#}");
    assert!(event_kinds(&ws, "bill").iter().any(|k| k == "alert_firing"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_reload_with_the_workspace_and_keep_their_state() {
    let rule = "[[alerts]]\nname = \"errors\"\ncondition = \"error_rate > 0.2\"\n";
    let mut ws = TestWorkspace::new(&[("inv", manifest("inv", "--error-rate 0.5", false, rule))]);
    ws.start_engine();
    ws.wait_serving("inv");
    let load = Load::start(format!("http://{}/inv/api/items", ws.router()), 1);
    let firing = wait_for(Duration::from_secs(30), || {
        alert(&ws, "inv", "errors")["state"] == "firing"
    });
    assert!(firing, "{:#}", ws.json(&["alerts", "list"]));
    let since = alert(&ws, "inv", "errors")["since"].clone();

    // A new rule in the manifest; a deploy (even a dry run) reloads the workspace.
    let more = format!("{rule}\n[[alerts]]\nname = \"busy\"\ncondition = \"rps > 0.5\"\n");
    ws.write(
        "plugins/inv/plugin.toml",
        &manifest("inv", "--error-rate 0.5", false, &more),
    );
    ws.json(&["deploy", "inv", "--dry-run"]);
    let both = wait_for(Duration::from_secs(20), || {
        alert(&ws, "inv", "busy")["state"] == "firing"
    });
    let errors = alert(&ws, "inv", "errors");
    load.finish().await;
    assert!(both, "{:#}", ws.json(&["alerts", "list"]));
    assert_eq!(errors["state"], "firing", "{errors:#}");
    assert_eq!(errors["since"], since, "the unchanged rule kept its state");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_webhook_delays_no_other_alert() {
    // Accepts connections and never answers.
    let hanging = TcpListener::bind("127.0.0.1:0").expect("bind");
    let hanging_url = format!("http://{}/hook", hanging.local_addr().expect("addr"));
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in hanging.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    let good = Hook::start(0);
    let alerts = format!(
        "[[alerts]]\nname = \"first\"\ncondition = \"error_rate > 0.2\"\n\
         channels = [\"log\", \"webhook:{hanging_url}\"]\n\
         [[alerts]]\nname = \"second\"\ncondition = \"error_rate > 0.2 for 2s\"\n\
         channels = [\"webhook:{}\"]\n",
        good.url
    );
    let mut ws =
        TestWorkspace::new(&[("ord", manifest("ord", "--error-rate 0.5", false, &alerts))]);
    ws.start_engine();
    ws.wait_serving("ord");
    let load = Load::start(format!("http://{}/ord/api/items", ws.router()), 1);
    let delivered = wait_for(Duration::from_secs(30), || {
        !good.of_kind("firing").is_empty()
    });
    // The first try at the hanging receiver is still waiting for its answer.
    let hanging_tries = connections.load(Ordering::SeqCst);
    load.finish().await;
    assert!(delivered, "{:#}", ws.json(&["alerts", "list"]));
    assert_eq!(
        good.of_kind("firing")[0]["alerts"][0]["labels"]["alertname"],
        "second"
    );
    assert_eq!(hanging_tries, 1, "the hanging webhook was retried already");
    assert_eq!(alert(&ws, "ord", "first")["state"], "firing");
    let logs = stdout(&ws.naap(&["logs", "ord", "--grep", "alert ord/first firing"]));
    assert!(logs.contains("alert ord/first firing"), "{logs}");
}
