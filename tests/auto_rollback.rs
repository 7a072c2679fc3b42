//! The engine rolls a new version back by itself when it breaches the manifest's
//! `[rollback]` thresholds while the previous version is still warm.

mod common;
use common::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Version 2.0.0 of this plugin runs with `extra_for_v2`; 1.0.0 runs clean.
fn manifest(name: &str, extra_for_v2: &str, rollback: &str) -> String {
    sample_plugin(name, "1.0.0", "")
        .replace(
            "--version {version} ",
            &format!(
                "--version {{version}} $([ \\\"$NAAP_VERSION\\\" = 2.0.0 ] && echo {extra_for_v2})"
            ),
        )
        .replace(
            "keep_previous_warm = \"30m\"",
            &format!("keep_previous_warm = \"30m\"\n{rollback}"),
        )
}

fn events(ws: &TestWorkspace, plugin: &str) -> Vec<serde_json::Value> {
    ws.json(&["history", plugin])["events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_rate_breach_rolls_back_to_the_warm_slot() {
    let mut ws = TestWorkspace::new(&[(
        "pay",
        manifest(
            "pay",
            "--error-rate 0.3",
            "on_error_rate = 0.05\non_health_check_fail = false",
        ),
    )]);
    ws.start_engine();
    ws.wait_serving("pay");
    let url = format!("http://{}/pay/api/items", ws.router());
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (stop, url) = (stop.clone(), url.clone());
        tokio::spawn(async move {
            let http = client();
            while !stop.load(Ordering::Relaxed) {
                let _ = get(&http, &url).await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };

    ws.json(&["deploy", "pay", "--version", "2.0.0"]);
    let rolled_back = wait_for(Duration::from_secs(30), || {
        ws.slot("pay", "blue")["weight"] == 100
    });
    stop.store(true, Ordering::Relaxed);
    let _ = load.await;
    assert!(rolled_back, "no automatic rollback: {:#}", ws.status());
    assert_eq!(ws.slot("pay", "green")["weight"], 0);

    let auto = events(&ws, "pay")
        .into_iter()
        .find(|e| e["kind"] == "auto_rollback")
        .expect("auto_rollback event");
    let message = auto["message"].as_str().unwrap_or("");
    assert!(
        message.contains("error rate") && message.contains("> 5.0 %"),
        "{message}"
    );
    let audit = ws.json(&["history", "pay"])["audit"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        audit
            .iter()
            .any(|a| a["face"] == "engine" && a["action"] == "rollback" && a["result"] == "ok"),
        "{audit:#?}"
    );
    assert_eq!(
        versions_answering(&client(), &url, 20).await,
        [("1.0.0".to_string(), 20)].into()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_health_checks_roll_back_without_any_traffic() {
    let mut ws = TestWorkspace::new(&[("cart", manifest("cart", "--fail-health-after 1s", ""))]);
    ws.start_engine();
    ws.wait_serving("cart");
    ws.json(&["deploy", "cart", "--version", "2.0.0"]);
    assert_eq!(ws.slot("cart", "green")["weight"], 100);
    let rolled_back = wait_for(Duration::from_secs(30), || {
        ws.slot("cart", "blue")["weight"] == 100
    });
    assert!(rolled_back, "no automatic rollback: {:#}", ws.status());
    let auto = events(&ws, "cart")
        .into_iter()
        .find(|e| e["kind"] == "auto_rollback")
        .expect("auto_rollback event");
    assert!(
        auto["message"]
            .as_str()
            .unwrap_or("")
            .contains("health checks fail"),
        "{auto:#}"
    );

    // Exactly one rollback: the guard does not flap back and forth.
    std::thread::sleep(Duration::from_millis(1500));
    let rollbacks = events(&ws, "cart")
        .iter()
        .filter(|e| e["kind"] == "rolled_back")
        .count();
    assert_eq!(rollbacks, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_new_version_is_left_alone() {
    let mut ws = TestWorkspace::new(&[(
        "calm",
        manifest("calm", "", "on_error_rate = 0.05\non_latency_p99_ms = 2000"),
    )]);
    ws.start_engine();
    ws.wait_serving("calm");
    ws.json(&["deploy", "calm", "--version", "2.0.0"]);
    let url = format!("http://{}/calm/api/items", ws.router());
    assert_eq!(
        versions_answering(&client(), &url, 200).await,
        [("2.0.0".to_string(), 200)].into()
    );
    assert_eq!(ws.slot("calm", "green")["weight"], 100);
    assert!(
        !events(&ws, "calm")
            .iter()
            .any(|e| e["kind"] == "auto_rollback")
    );
}
