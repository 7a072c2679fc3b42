//! Incidents from real signals: an automatic rollback (a real canary answering errors
//! through the real router) opens one; a person resolves it with a note; when the same
//! thing happens again, the new incident offers that resolution first.

mod common;
use common::*;
use std::time::Duration;

/// Deploys the flaky 2.0.0 under load and waits until the engine rolled it back.
async fn deploy_until_rolled_back(ws: &TestWorkspace) {
    let load = Load::start(format!("http://{}/pay/api/items", ws.router()), 1);
    let out = ws.naap(&["deploy", "pay", "--version", "2.0.0", "--force", "--json"]);
    let rolled_back = wait_for(Duration::from_secs(30), || {
        ws.slot("pay", "blue")["weight"] == 100 && ws.slot("pay", "green")["weight"] == 0
    });
    load.finish().await;
    assert!(
        rolled_back,
        "no automatic rollback: {}\n{:#}",
        stderr(&out),
        ws.status()
    );
}

fn open_incidents(ws: &TestWorkspace) -> Vec<serde_json::Value> {
    ws.json(&["incident", "list"])
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_automatic_rollback_opens_an_incident_and_the_next_like_it_offers_its_resolution() {
    let mut ws = TestWorkspace::new(&[("pay", flaky_v2("pay"))]);
    ws.start_engine();
    ws.wait_serving("pay");
    assert!(open_incidents(&ws).is_empty());

    deploy_until_rolled_back(&ws).await;
    assert!(
        wait_for(Duration::from_secs(10), || !open_incidents(&ws).is_empty()),
        "no incident opened: {:#}",
        ws.json(&["history", "pay"])
    );
    let first = open_incidents(&ws)[0].clone();
    let first_id = first["id"].as_i64().expect("an id");
    assert_eq!(first["plugin"], "pay");
    // The rollback's own critical alert and the rollback itself, in one incident.
    assert!(
        wait_for(Duration::from_secs(10), || {
            open_incidents(&ws)[0]["signals"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|s| s["signal"] == "auto_rollback")
        }),
        "{first:#}"
    );
    // One open incident per plugin: the deploy's failure joins it rather than opening another.
    assert_eq!(open_incidents(&ws).len(), 1);

    // The timeline has the signal and the person's deploy, with its face.
    let shown = ws.json(&["incident", "show", &first_id.to_string()]);
    let texts: Vec<&str> = shown["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["text"].as_str())
        .collect();
    assert!(
        texts.iter().any(|t| t.starts_with("auto_rollback:")),
        "{texts:?}"
    );
    assert!(
        shown["markdown"]
            .as_str()
            .is_some_and(|m| m.starts_with(&format!("# Incident #{first_id} — pay")))
    );

    // A resolution needs a note; with one it closes.
    let out = ws.naap(&["incident", "resolve", &first_id.to_string(), "--note", " "]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("needs a note"), "{}", stderr(&out));
    let note = "2.0.0 retries without backoff; rolled back, fix in 2.0.1";
    let resolved = ws.json(&["incident", "resolve", &first_id.to_string(), "--note", note]);
    assert_eq!(resolved["note"], note);
    assert!(open_incidents(&ws).is_empty());
    let again = ws.naap(&["incident", "resolve", &first_id.to_string(), "--note", "x"]);
    assert!(
        stderr(&again).contains("already resolved"),
        "{}",
        stderr(&again)
    );

    // The same failure again: a new incident, which offers the old resolution first.
    deploy_until_rolled_back(&ws).await;
    assert!(
        wait_for(Duration::from_secs(10), || !open_incidents(&ws).is_empty()),
        "no second incident"
    );
    let second = open_incidents(&ws)[0]["id"].as_i64().expect("an id");
    assert_ne!(second, first_id);
    let shown = ws.json(&["incident", "show", &second.to_string()]);
    let similar = &shown["similar"][0];
    assert_eq!(similar["id"], first_id, "{shown:#}");
    assert_eq!(similar["note"], note);
    assert!(
        similar["score"].as_f64().is_some_and(|s| s >= 0.7),
        "{similar:#}"
    );
    // The status (what the dashboard and the operator read) carries it too.
    let status = ws.status();
    let incident = &plugin_of(&status, "pay")["incident"];
    assert_eq!(incident["id"], second);
    assert_eq!(incident["similar"][0]["note"], note);
    // And the person reads it first.
    let text = stdout(&ws.naap(&["incident", "show", &second.to_string()]));
    let looks = text.find("looks like:").expect("the similar section");
    let timeline = text.find("timeline:").expect("the timeline");
    assert!(looks < timeline && text.contains(note), "{text}");
}
