//! Preview slots: a version reachable only by header, next to the live one, stopped by
//! hand or by its TTL, and kept across an engine restart.

mod common;
use common::*;
use std::time::Duration;

fn previews(ws: &TestWorkspace, plugin: &str) -> Vec<serde_json::Value> {
    plugin_of(&ws.status(), plugin)["previews"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Status, `x-naap-version` and body of a GET with `x-naap-slot: slot`.
async fn get_slot(url: &str, slot: &str) -> (u16, String, String) {
    let resp = client()
        .get(url)
        .header("x-naap-slot", slot)
        .send()
        .await
        .expect("request through the router");
    let status = resp.status().as_u16();
    let version = resp
        .headers()
        .get("x-naap-version")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, version, resp.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_is_reachable_only_by_header_stops_by_hand_or_ttl_and_survives_a_restart() {
    let scratch = tempfile::tempdir().expect("scratch dir");
    let counter = scratch.path().join("builds");
    let manifest = sample_plugin("shop", "1.0.0", "").replace(
        "stop_grace = \"2s\"",
        &format!(
            "stop_grace = \"2s\"\nbuild = \"echo built >> {}\"",
            counter.display()
        ),
    );
    let builds = || {
        std::fs::read_to_string(&counter)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    let mut ws = TestWorkspace::new(&[("shop", manifest)]);
    ws.start_engine();
    ws.wait_serving("shop");
    let url = format!("http://{}/shop/", ws.router());

    // A preview of 2.0.0 while 1.0.0 serves.
    let out = ws.json(&[
        "deploy",
        "shop",
        "--version",
        "2.0.0",
        "--preview",
        "--ttl",
        "1h",
    ]);
    assert_eq!(out["kind"], "preview", "{out:#}");
    assert_eq!(
        out["gates"][0]["outcome"], "ran",
        "gates run for previews: {out:#}"
    );
    assert_eq!(builds(), 2);
    let slot = out["slot"].as_str().unwrap_or_default().to_string();
    assert!(
        slot.starts_with("preview-") && slot.len() == "preview-".len() + 6,
        "{out:#}"
    );
    assert!(out["summary"].as_str().unwrap_or_default().contains(&slot));
    let id = slot.trim_start_matches("preview-").to_string();

    // Plain requests never reach it; the header does.
    assert_eq!(
        versions_answering(&client(), &url, 30).await,
        [("1.0.0".to_string(), 30)].into()
    );
    for _ in 0..5 {
        let (status, version, _) = get_slot(&url, &slot).await;
        assert_eq!((status, version.as_str()), (200, "2.0.0"));
    }
    // Its logs and metrics are tagged with its id.
    assert!(
        wait_for(Duration::from_secs(10), || {
            let lines = ws.json_lines(&["logs", "shop", "--slot", &slot]);
            !lines.is_empty() && lines.iter().all(|l| l["slot"] == slot.as_str())
        }),
        "{:?}",
        ws.json_lines(&["logs", "shop", "--slot", &slot])
    );

    // An unknown preview: a 404 that does not list the live ones to any client (the CLI
    // and the dashboard list them from status).
    let (status, _, body) = get_slot(&url, "preview-000000").await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("has no slot preview-000000"), "{body}");
    assert!(!body.contains(&slot) && !body.contains("2.0.0"), "{body}");

    // Listed in status, with its expiry, and never weighted.
    let listed = previews(&ws, "shop");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["slot"], slot.as_str());
    assert_eq!(listed[0]["version"], "2.0.0");
    assert_eq!(listed[0]["weight"], 0);
    assert_eq!(listed[0]["metrics"]["requests_total"], 5, "{listed:?}");
    let expires_at = listed[0]["expires_at"].clone();
    assert!(expires_at.is_string(), "{listed:?}");
    let table = stdout(&ws.naap(&["status"]));
    assert!(table.contains(&format!("x-naap-slot: {slot}")), "{table}");
    let refused = ws.naap(&["traffic", "shop", &format!("{slot}=10")]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("cannot take weighted traffic"));

    // An engine restart (SIGKILL) keeps it: same process, same expiry.
    let pid = listed[0]["pid"].clone();
    ws.kill_engine();
    ws.start_engine();
    // The new engine's router listens on a new ephemeral port.
    let url = format!("http://{}/shop/", ws.router());
    let after = previews(&ws, "shop");
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0]["slot"], slot.as_str());
    assert_eq!(after[0]["expires_at"], expires_at);
    assert_eq!(after[0]["pid"], pid, "the preview's process was adopted");
    assert!(
        wait_for(Duration::from_secs(20), || previews(&ws, "shop")
            .first()
            .is_some_and(|p| p["health"] == "healthy")),
        "{:?}",
        previews(&ws, "shop")
    );
    let (status, version, _) = get_slot(&url, &slot).await;
    assert_eq!((status, version.as_str()), (200, "2.0.0"));

    // Stopped by hand: gone from status and from the router.
    let stopped = ws.json(&["preview", "stop", "shop", &id]);
    assert_eq!(stopped["kind"], "preview-stop", "{stopped:#}");
    assert!(previews(&ws, "shop").is_empty());
    let (status, _, body) = get_slot(&url, &slot).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains(&format!("has no slot {slot}")), "{body}");
    let again = ws.naap(&["preview", "stop", "shop", &id]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("live previews: none"),
        "{}",
        stderr(&again)
    );

    // A short TTL removes it by itself. Same version, same inputs: the gate is cached.
    let out = ws.json(&[
        "deploy",
        "shop",
        "--version",
        "2.0.0",
        "--preview",
        "--ttl",
        "3s",
    ]);
    assert_eq!(out["gates"][0]["outcome"], "cached", "{out:#}");
    assert_eq!(builds(), 2);
    let short = out["slot"].as_str().unwrap_or_default().to_string();
    assert_ne!(short, slot, "a new preview gets a new id");
    let (status, version, _) = get_slot(&url, &short).await;
    assert_eq!((status, version.as_str()), (200, "2.0.0"));
    assert!(
        wait_for(Duration::from_secs(20), || previews(&ws, "shop").is_empty()),
        "{:?}",
        previews(&ws, "shop")
    );
    let (status, _, _) = get_slot(&url, &short).await;
    assert_eq!(status, 404);
    let history = ws.json(&["history", "shop"]);
    let expired = history["events"].as_array().into_iter().flatten().any(|e| {
        e["kind"] == "preview_removed"
            && e["message"]
                .as_str()
                .is_some_and(|m| m.contains(&short) && m.contains("TTL expired"))
    });
    assert!(expired, "{history:#}");

    // Plain traffic stayed on 1.0.0 throughout.
    assert_eq!(
        versions_answering(&client(), &url, 10).await,
        [("1.0.0".to_string(), 10)].into()
    );
}

#[test]
fn bad_ttls_are_usage_errors() {
    let ws = TestWorkspace::new(&[("shop", sample_plugin("shop", "1.0.0", ""))]);
    for (args, says) in [
        (
            vec!["deploy", "shop", "--preview", "--ttl", "soon"],
            "not a duration",
        ),
        (
            vec!["deploy", "shop", "--preview", "--ttl", "30d"],
            "at most 7d",
        ),
        (
            vec!["deploy", "shop", "--preview", "--ttl", "10ms"],
            "at least 1s",
        ),
        (vec!["deploy", "shop", "--ttl", "1h"], "--preview"),
    ] {
        let out = ws.naap(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_engine_restarts_a_dead_preview_and_drops_an_expired_one() {
    let mut ws = TestWorkspace::new(&[("shop", sample_plugin("shop", "1.0.0", ""))]);
    ws.start_engine();
    ws.wait_serving("shop");
    let long = ws.json(&["deploy", "shop", "--version", "2.0.0", "--preview"]);
    let long_slot = long["slot"].as_str().unwrap_or_default().to_string();
    let short = ws.json(&[
        "deploy",
        "shop",
        "--version",
        "3.0.0",
        "--preview",
        "--ttl",
        "2s",
    ]);
    let short_slot = short["slot"].as_str().unwrap_or_default().to_string();
    let listed = previews(&ws, "shop");
    let find =
        |list: &[serde_json::Value], slot: &str| list.iter().find(|p| p["slot"] == slot).cloned();
    let long_before = find(&listed, &long_slot).expect("long preview listed");
    let short_before = find(&listed, &short_slot).expect("short preview listed");
    let short_expiry: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(short_before["expires_at"].clone()).expect("expiry");

    // The engine dies; so does the long preview's process; the short one's TTL passes
    // while nothing watches it.
    ws.kill_engine();
    let pid = long_before["pid"].as_i64().expect("pid");
    let killed = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .status()
        .expect("run kill");
    assert!(killed.success());
    assert!(wait_for(Duration::from_secs(10), || chrono::Utc::now()
        > short_expiry));

    ws.start_engine();
    let after = previews(&ws, "shop");
    assert!(
        find(&after, &short_slot).is_none(),
        "expired while down: {after:?}"
    );
    let long_after = find(&after, &long_slot).expect("the long preview is kept");
    assert_eq!(long_after["expires_at"], long_before["expires_at"]);
    assert_ne!(
        long_after["pid"], long_before["pid"],
        "restarted, not adopted"
    );
    assert!(
        wait_for(Duration::from_secs(20), || previews(&ws, "shop")
            .first()
            .is_some_and(|p| p["health"] == "healthy")),
        "{:?}",
        previews(&ws, "shop")
    );
    let url = format!("http://{}/shop/", ws.router());
    let (status, version, _) = get_slot(&url, &long_slot).await;
    assert_eq!((status, version.as_str()), (200, "2.0.0"));
    let short_pid = short_before["pid"].as_i64().expect("pid");
    assert!(
        wait_for(Duration::from_secs(10), || !std::path::Path::new(&format!(
            "/proc/{short_pid}"
        ))
        .exists()),
        "the expired preview's process was stopped"
    );
}
