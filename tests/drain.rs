//! A slot is stopped only once the router has nothing in flight to it (or its stop_grace
//! passed): an immediate deploy no longer cuts a stream that the old version is sending.

mod common;
use common::*;
use std::time::Duration;

fn feed(name: &str, stop_grace: &str) -> String {
    sample_plugin(name, "1.0.0", "").replace(
        "stop_grace = \"2s\"",
        &format!("stop_grace = \"{stop_grace}\""),
    )
}

/// Reads an event stream to its end; returns the `data:` lines.
async fn read_events(
    mut resp: reqwest::Response,
    first: tokio::sync::oneshot::Sender<()>,
) -> Vec<String> {
    let mut first = Some(first);
    let mut text = String::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        text.push_str(&String::from_utf8_lossy(&chunk));
        if text.contains("data: ")
            && let Some(first) = first.take()
        {
            let _ = first.send(());
        }
    }
    text.lines()
        .filter_map(|l| l.strip_prefix("data: ").map(str::to_string))
        .collect()
}

fn stopped_event(ws: &TestWorkspace, plugin: &str, slot: &str) -> Option<serde_json::Value> {
    ws.json(&["history", plugin])["events"]
        .as_array()
        .and_then(|events| {
            events
                .iter()
                .find(|e| e["kind"] == "slot_stopped" && e["slot"] == slot)
                .cloned()
        })
}

/// Starts a stream on the live version, deploys 2.0.0 immediately once the first event
/// arrived, and returns the stream's events and the deploy's answer.
async fn stream_across_an_immediate_deploy(
    ws: &TestWorkspace,
    plugin: &str,
    query: &str,
) -> (Vec<String>, serde_json::Value) {
    let url = format!("http://{}/{plugin}/sse?{query}", ws.router());
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("http client");
    let resp = http.get(&url).send().await.expect("stream request");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-naap-version"], "1.0.0");
    let (first_tx, first_rx) = tokio::sync::oneshot::channel();
    let reader = tokio::spawn(read_events(resp, first_tx));
    first_rx.await.expect("the first event");
    // The stream counts as in flight while its body streams, after the head was answered.
    let metrics = http
        .get(format!("http://{}/metrics", ws.admin()))
        .send()
        .await
        .expect("admin metrics")
        .text()
        .await
        .expect("metrics body");
    let gauge =
        format!("naap_slot_in_flight{{plugin=\"{plugin}\",slot=\"blue\",version=\"1.0.0\"}} 1");
    assert!(metrics.contains(&gauge), "no {gauge} in:\n{metrics}");
    let dir = ws.path().to_path_buf();
    let plugin_name = plugin.to_string();
    let deploy = tokio::task::spawn_blocking(move || {
        std::process::Command::new(NAAP)
            .arg("--workspace")
            .arg(dir)
            .args([
                "deploy",
                &plugin_name,
                "--version",
                "2.0.0",
                "--strategy",
                "immediate",
                "--json",
            ])
            .output()
            .expect("deploy")
    })
    .await
    .expect("deploy thread");
    assert!(deploy.status.success(), "{}", stderr(&deploy));
    let answer: serde_json::Value = serde_json::from_slice(&deploy.stdout).expect("JSON answer");
    (reader.await.expect("reader"), answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_stream_survives_an_immediate_deploy() {
    let mut ws = TestWorkspace::new(&[("feed", feed("feed", "30s"))]);
    ws.start_engine();
    ws.wait_serving("feed");
    let (events, answer) =
        stream_across_an_immediate_deploy(&ws, "feed", "n=20&interval_ms=100").await;
    assert_eq!(answer["slot"], "green", "{answer:#}");
    assert_eq!(events.len(), 20, "the stream was cut: {events:#?}");
    assert!(
        events.iter().all(|e| e.contains("\"1.0.0\"")),
        "{events:#?}"
    );

    // New requests go to 2.0.0, and the old slot stopped once the stream had finished.
    assert_eq!(
        versions_answering(&client(), &format!("http://{}/feed/", ws.router()), 5).await,
        [("2.0.0".to_string(), 5)].into()
    );
    let stopped = wait_for(Duration::from_secs(30), || {
        stopped_event(&ws, "feed", "blue").is_some()
    });
    assert!(stopped, "blue never stopped: {:#}", ws.status());
    let event = stopped_event(&ws, "feed", "blue").unwrap_or_default();
    let message = event["message"].as_str().unwrap_or("");
    assert!(
        message.contains("replaced by an immediate deploy; drained: 0 in flight after"),
        "{message}"
    );
    assert_eq!(event["data"]["drained"], true);
    let history = ws.json(&["history", "feed"]);
    assert!(
        history["events"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["kind"] == "slot_draining")),
        "the drain was announced while the stream ran"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_gives_up_after_stop_grace_and_says_so() {
    let mut ws = TestWorkspace::new(&[("tick", feed("tick", "1s"))]);
    ws.start_engine();
    ws.wait_serving("tick");
    // 100 events 100 ms apart: far longer than the 1 s stop_grace.
    let (events, _) = stream_across_an_immediate_deploy(&ws, "tick", "n=100&interval_ms=100").await;
    assert!(events.len() < 100, "{} events", events.len());
    let stopped = wait_for(Duration::from_secs(30), || {
        stopped_event(&ws, "tick", "blue").is_some()
    });
    assert!(stopped, "blue never stopped: {:#}", ws.status());
    let event = stopped_event(&ws, "tick", "blue").unwrap_or_default();
    let message = event["message"].as_str().unwrap_or("");
    assert!(
        message.contains("drain timed out after") && message.contains("with 1 in flight"),
        "{message}"
    );
    assert_eq!(event["data"]["drained"], false);
}
