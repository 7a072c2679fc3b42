//! Blue-green deploy of a new version, then rollback, through the real router.

mod common;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blue_green_deploy_then_rollback_answers_from_the_expected_version() {
    let mut ws = TestWorkspace::new(&[("shop", sample_plugin("shop", "1.0.0", ""))]);
    ws.start_engine();
    ws.wait_serving("shop");
    let url = format!("http://{}/shop/api/items", ws.router());
    let http = client();

    // The first deploy happened on engine start: v1 on blue, all traffic.
    assert_eq!(
        versions_answering(&http, &url, 20).await,
        [("1.0.0".to_string(), 20)].into()
    );
    assert_eq!(ws.slot("shop", "blue")["weight"], 100);

    let out = ws.json(&["deploy", "shop", "--version", "2.0.0"]);
    assert_eq!(out["kind"], "deploy");
    assert_eq!(out["slot"], "green");
    assert_eq!(
        versions_answering(&http, &url, 20).await,
        [("2.0.0".to_string(), 20)].into()
    );
    let blue = ws.slot("shop", "blue");
    assert_eq!(blue["weight"], 0);
    assert_eq!(blue["health"], "healthy", "the previous version stays warm");
    assert!(!blue["warm_until"].is_null());

    // Rollback to the warm slot is a weight flip, and says so.
    let out = ws.json(&["rollback", "shop", "--yes"]);
    assert_eq!(out["kind"], "flip", "{out:#}");
    assert_eq!(out["version"], "1.0.0");
    assert!(out["summary"].as_str().unwrap_or("").contains("warm"));
    assert_eq!(
        versions_answering(&http, &url, 20).await,
        [("1.0.0".to_string(), 20)].into()
    );

    // The header override reaches the idle slot without moving traffic.
    let resp = http
        .get(&url)
        .header("x-naap-slot", "green")
        .send()
        .await
        .expect("override request");
    assert_eq!(resp.headers()["x-naap-version"], "2.0.0");

    // A manual split sends some traffic to each.
    ws.json(&["traffic", "shop", "blue=50", "green=50"]);
    let seen = versions_answering(&http, &url, 200).await;
    assert!(
        seen.get("1.0.0").copied().unwrap_or(0) > 40
            && seen.get("2.0.0").copied().unwrap_or(0) > 40,
        "{seen:?}"
    );

    // The admin listener reports the same traffic to Prometheus.
    let admin = ws.admin();
    let healthz = http
        .get(format!("http://{admin}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(healthz.status(), 200);
    let metrics = http
        .get(format!("http://{admin}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics body");
    for needle in [
        "naap_requests_total{plugin=\"shop\",slot=\"blue\",version=\"1.0.0\"}",
        "naap_slot_weight{plugin=\"shop\",slot=\"green\",version=\"2.0.0\"} 50",
        "naap_slot_healthy{plugin=\"shop\",slot=\"blue\",version=\"1.0.0\"} 1",
    ] {
        assert!(metrics.contains(needle), "missing {needle} in:\n{metrics}");
    }

    // History has the whole story, in order, and the audit log names the face.
    let history = ws.json(&["history", "shop"]);
    let kinds: Vec<&str> = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    for kind in [
        "deploy_started",
        "deploy_succeeded",
        "rolled_back",
        "traffic_changed",
    ] {
        assert!(kinds.contains(&kind), "missing {kind} in {kinds:?}");
    }
    let actions: Vec<(&str, &str)> = history["audit"]
        .as_array()
        .expect("audit")
        .iter()
        .map(|a| {
            (
                a["face"].as_str().unwrap_or(""),
                a["action"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(
        actions.contains(&("cli", "deploy"))
            && actions.contains(&("cli", "rollback"))
            && actions.contains(&("cli", "traffic")),
        "{actions:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_when_the_previous_slot_is_not_warm_redeploys_it() {
    let manifest = sample_plugin("cold", "1.0.0", "").replace(
        "keep_previous_warm = \"30m\"",
        "keep_previous_warm = \"0s\"",
    );
    let mut ws = TestWorkspace::new(&[("cold", manifest)]);
    ws.start_engine();
    ws.wait_serving("cold");
    ws.json(&["deploy", "cold", "--version", "2.0.0"]);
    // The old slot drains in the background once traffic has moved, then stops.
    let stopped = wait_for(std::time::Duration::from_secs(20), || {
        ws.slot("cold", "blue")["process_state"] == "stopped"
    });
    assert!(
        stopped,
        "keep_previous_warm = 0s stops the old slot: {:#}",
        ws.slot("cold", "blue")
    );

    let out = ws.json(&["rollback", "cold", "--yes"]);
    assert_eq!(out["kind"], "redeploy", "{out:#}");
    assert_eq!(out["version"], "1.0.0");
    let url = format!("http://{}/cold/", ws.router());
    assert_eq!(
        versions_answering(&client(), &url, 10).await,
        [("1.0.0".to_string(), 10)].into()
    );

    // --to an unknown version is refused with the known ones listed; nothing changes.
    let out = ws.naap(&["rollback", "cold", "--yes", "--to", "9.9.9"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("never deployed") && stderr(&out).contains("2.0.0"),
        "{}",
        stderr(&out)
    );
}

/// A slot whose health checks fail gets no traffic, whatever its weight says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unhealthy_slot_gets_no_traffic() {
    let manifest = sample_plugin("sick", "1.0.0", "").replace(
        "--version {version} ",
        "--version {version} $([ \\\"$NAAP_VERSION\\\" = 2.0.0 ] && echo --fail-health-after 1500ms)",
    );
    // This test is about the router alone; the automatic rollback has its own tests.
    let manifest = manifest.replace(
        "keep_previous_warm = \"30m\"",
        "keep_previous_warm = \"30m\"\non_health_check_fail = false",
    );
    let mut ws = TestWorkspace::new(&[("sick", manifest)]);
    ws.start_engine();
    ws.wait_serving("sick");
    ws.json(&["deploy", "sick", "--version", "2.0.0"]);
    ws.json(&["traffic", "sick", "blue=50", "green=50"]);
    let unhealthy = wait_for(std::time::Duration::from_secs(15), || {
        ws.slot("sick", "green")["health"] == "unhealthy"
    });
    assert!(
        unhealthy,
        "green never turned unhealthy: {:#}",
        ws.slot("sick", "green")
    );
    assert_eq!(
        ws.slot("sick", "green")["weight"],
        50,
        "weights are not rewritten by health"
    );
    let url = format!("http://{}/sick/api/items", ws.router());
    assert_eq!(
        versions_answering(&client(), &url, 40).await,
        [("1.0.0".to_string(), 40)].into()
    );

    // Sending traffic to it by hand is refused, with the reason and where to look.
    let out = ws.naap(&["traffic", "sick", "blue=0", "green=100"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("unhealthy") && err.contains("naap logs sick --slot green"),
        "{err}"
    );
    assert_eq!(
        ws.slot("sick", "blue")["weight"],
        50,
        "nothing was half-applied"
    );

    let history = ws.json(&["history", "sick"]);
    assert!(
        history["events"]
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["kind"] == "health_changed" && e["slot"] == "green"),
        "the health change is recorded"
    );
}

/// A rollback in the middle of a canary cancels the deploy and sends all traffic back to
/// the stable slot at once; the rollout is recorded as an incident rollback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_mid_canary_cancels_the_deploy() {
    let manifest = sample_plugin("bird", "1.0.0", "").replace(
        "kind = \"blue-green\"",
        "kind = \"canary\"\nsteps = [10, 50, 100]\nstep_interval = \"60s\"",
    );
    let mut ws = TestWorkspace::new(&[("bird", manifest)]);
    ws.start_engine();
    ws.wait_serving("bird");
    let dir = ws.path().to_path_buf();
    let deploy = std::thread::spawn(move || {
        std::process::Command::new(NAAP)
            .arg("--workspace")
            .arg(dir)
            .args(["deploy", "bird", "--version", "2.0.0"])
            .output()
            .expect("deploy")
    });
    let at_first_step = wait_for(std::time::Duration::from_secs(20), || {
        ws.slot("bird", "green")["weight"] == 10
    });
    assert!(at_first_step, "canary never reached 10%: {:#}", ws.status());
    assert!(
        !ws.status()["plugins"][0]["rollout"].is_null(),
        "the rollout shows in status"
    );

    let out = ws.json(&["rollback", "bird", "--yes"]);
    assert_eq!(out["kind"], "flip", "{out:#}");
    assert_eq!(out["version"], "1.0.0");
    let deploy = deploy.join().expect("deploy thread");
    assert_eq!(deploy.status.code(), Some(1));
    assert!(
        stderr(&deploy).contains("cancelled by a rollback"),
        "{}",
        stderr(&deploy)
    );
    assert_eq!(ws.slot("bird", "blue")["weight"], 100);
    assert_eq!(ws.slot("bird", "green")["weight"], 0);
    assert!(
        !ws.slot("bird", "green")["warm_until"].is_null(),
        "the cancelled canary stays warm for a while, then stops"
    );
    let url = format!("http://{}/bird/", ws.router());
    assert_eq!(
        versions_answering(&client(), &url, 20).await,
        [("1.0.0".to_string(), 20)].into()
    );
    let history = ws.json(&["history", "bird"]);
    let last = history["rollouts"]
        .as_array()
        .and_then(|r| r.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(last["state"], "rolled_back", "{last:#}");
    assert!(
        last["detail"]
            .as_str()
            .unwrap_or("")
            .contains("incident rollback by cli"),
        "{last:#}"
    );
    assert!(ws.status()["plugins"][0]["rollout"].is_null());
}
