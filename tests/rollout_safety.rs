//! The rollback target survives what a hurried person does: deploying the live version
//! again, rolling back twice, rolling back from six terminals at once; and `naap status`
//! says how the last rollout ended.

mod common;
use common::*;
use serde_json::Value;

fn pid(slot: &Value) -> u64 {
    slot["pid"].as_u64().unwrap_or(0)
}

/// 4.0.0 live on green, 1.0.0 warm on blue.
fn live_with_warm_previous(name: &str) -> TestWorkspace {
    let mut ws = TestWorkspace::new(&[(name, sample_plugin(name, "1.0.0", ""))]);
    ws.start_engine();
    ws.wait_serving(name);
    let out = ws.json(&["deploy", name, "--version", "4.0.0"]);
    assert_eq!(out["slot"], "green", "{out:#}");
    ws
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploying_the_live_version_again_keeps_the_warm_previous_version() {
    let ws = live_with_warm_previous("shop");
    let blue_before = ws.slot("shop", "blue");
    let green_before = ws.slot("shop", "green");
    assert_eq!(blue_before["version"], "1.0.0");
    assert!(!blue_before["warm_until"].is_null(), "{blue_before:#}");

    let dry = ws.json(&["deploy", "shop", "--version", "4.0.0", "--dry-run"]);
    let summary = dry["summary"].as_str().unwrap_or("");
    assert_eq!(dry["kind"], "dry-run");
    assert!(summary.contains("4.0.0 is already live"), "{summary}");
    // What to do is a hint, not a flag in the summary: deploy it again with force.
    assert_eq!(
        dry["hints"],
        serde_json::json!([{"do": "deploy", "plugin": "shop", "version": "4.0.0", "force": true}]),
        "{dry:#}"
    );
    let human = ws.naap(&["deploy", "shop", "--version", "4.0.0", "--dry-run"]);
    assert!(
        String::from_utf8_lossy(&human.stdout)
            .contains("  hint: run `naap deploy shop --version 4.0.0 --force`"),
        "{human:?}"
    );

    let out = ws.json(&["deploy", "shop", "--version", "4.0.0"]);
    let summary = out["summary"].as_str().unwrap_or("");
    assert_eq!(out["kind"], "unchanged", "{out:#}");
    assert!(
        summary.contains("already live on green") && summary.contains("blue 1.0.0 stays warm"),
        "{summary}"
    );
    let blue = ws.slot("shop", "blue");
    assert_eq!(blue["version"], "1.0.0");
    assert_eq!(blue["health"], "healthy", "{blue:#}");
    assert_eq!(
        pid(&blue),
        pid(&blue_before),
        "the warm slot was not restarted"
    );
    assert_eq!(pid(&ws.slot("shop", "green")), pid(&green_before));
    assert_eq!(ws.slot("shop", "green")["weight"], 100);

    // The rollback target is still there: a rollback is a flip to 1.0.0.
    let back = ws.json(&["rollback", "shop", "--yes"]);
    assert_eq!(back["kind"], "flip", "{back:#}");
    assert_eq!(back["version"], "1.0.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_redeploy_of_the_live_version_says_it_replaces_the_warm_slot() {
    let ws = live_with_warm_previous("cart");
    let dry = ws.json(&[
        "deploy",
        "cart",
        "--version",
        "4.0.0",
        "--force",
        "--dry-run",
    ]);
    let summary = dry["summary"].as_str().unwrap_or("");
    assert!(
        summary.contains("would deploy cart 4.0.0 into blue")
            && summary.contains("replaces the warm blue 1.0.0"),
        "{summary}"
    );
    let green_pid = pid(&ws.slot("cart", "green"));
    let out = ws.json(&["deploy", "cart", "--version", "4.0.0", "--force"]);
    assert_eq!(out["kind"], "deploy", "{out:#}");
    assert_eq!(out["slot"], "blue");
    assert!(
        out["summary"]
            .as_str()
            .unwrap_or("")
            .contains("replaces the warm blue 1.0.0"),
        "{out:#}"
    );
    let blue = ws.slot("cart", "blue");
    assert_eq!(blue["version"], "4.0.0");
    assert_eq!(blue["weight"], 100);
    // The copy that served before stays warm: the restart can be undone too.
    let green = ws.slot("cart", "green");
    assert_eq!(pid(&green), green_pid, "{green:#}");
    assert!(!green["warm_until"].is_null(), "{green:#}");
}

fn events_of(ws: &TestWorkspace, plugin: &str, kind: &str) -> Vec<Value> {
    ws.json(&["history", plugin])["events"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .filter(|e| e["kind"] == kind)
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_rollback_does_not_roll_forward() {
    let ws = live_with_warm_previous("desk");
    let first = ws.json(&["rollback", "desk", "--yes"]);
    assert_eq!(first["kind"], "flip", "{first:#}");
    assert_eq!(first["version"], "1.0.0");

    let second = ws.json(&["rollback", "desk", "--yes"]);
    let summary = second["summary"].as_str().unwrap_or("");
    assert_eq!(second["kind"], "unchanged", "{second:#}");
    assert!(
        summary.contains("already rolled back to 1.0.0 (at "),
        "{summary}"
    );
    assert_eq!(
        second["hints"],
        serde_json::json!([{"do": "rollback_to_chosen", "plugin": "desk"}]),
        "{second:#}"
    );
    assert_eq!(ws.slot("desk", "blue")["weight"], 100);
    assert_eq!(ws.slot("desk", "green")["weight"], 0);
    let url = format!("http://{}/desk/", ws.router());
    assert_eq!(
        versions_answering(&client(), &url, 10).await,
        [("1.0.0".to_string(), 10)].into()
    );

    // Naming a version still moves to it.
    let to = ws.json(&["rollback", "desk", "--yes", "--to", "4.0.0"]);
    assert_eq!(to["version"], "4.0.0", "{to:#}");
    assert_eq!(ws.slot("desk", "green")["weight"], 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_concurrent_rollbacks_end_on_the_previous_version_without_a_redeploy() {
    let ws = live_with_warm_previous("till");
    let rollbacks: Vec<_> = (0..6)
        .map(|_| {
            let dir = ws.path().to_path_buf();
            std::thread::spawn(move || {
                std::process::Command::new(NAAP)
                    .arg("--workspace")
                    .arg(dir)
                    .args(["rollback", "till", "--yes", "--json"])
                    .output()
                    .expect("rollback")
            })
        })
        .collect();
    let mut kinds = Vec::new();
    for rollback in rollbacks {
        let out = rollback.join().expect("rollback thread");
        assert!(out.status.success(), "{}", stderr(&out));
        let answer: Value = serde_json::from_slice(&out.stdout).expect("JSON answer");
        assert_eq!(answer["version"], "1.0.0", "{answer:#}");
        kinds.push(answer["kind"].as_str().unwrap_or("").to_string());
    }
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "flip",
            "unchanged",
            "unchanged",
            "unchanged",
            "unchanged",
            "unchanged"
        ]
    );
    assert_eq!(ws.slot("till", "blue")["weight"], 100);
    let green = ws.slot("till", "green");
    assert_eq!(green["weight"], 0);
    assert_eq!(green["health"], "healthy", "4.0.0 stays warm: {green:#}");
    assert!(events_of(&ws, "till", "rollback_redeploy").is_empty());
    assert_eq!(events_of(&ws, "till", "rolled_back").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_after_an_automatic_rollback_says_how_the_rollout_ended() {
    let mut ws = TestWorkspace::new(&[("pay", flaky_v2("pay"))]);
    ws.start_engine();
    ws.wait_serving("pay");
    let load = Load::start(format!("http://{}/pay/api/items", ws.router()), 2);
    ws.json(&["deploy", "pay", "--version", "2.0.0"]);
    let rolled_back = wait_for(std::time::Duration::from_secs(30), || {
        ws.slot("pay", "blue")["weight"] == 100
    });
    load.finish().await;
    assert!(rolled_back, "no automatic rollback: {:#}", ws.status());

    let status = ws.status();
    let pay = plugin_of(&status, "pay");
    assert!(pay["rollout"].is_null());
    let last = &pay["last_rollout"];
    assert_eq!(last["outcome"], "rolled_back", "{last:#}");
    assert_eq!(last["automatic"], true);
    assert_eq!(last["version"], "2.0.0");
    assert_eq!(last["rolled_back_to"], "1.0.0");
    let summary = last["summary"].as_str().unwrap_or("");
    assert!(
        summary.starts_with("2.0.0 rolled back to 1.0.0 automatically ")
            && summary.contains(" ago: ")
            && summary.contains("error rate")
            && summary.contains("> 5.0 %"),
        "{summary}"
    );
    let alert = pay["alerts"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["rule"] == "auto-rollback"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(alert["state"], "firing", "{:#}", pay["alerts"]);
    assert_eq!(alert["severity"], "critical");

    let table = ws.naap(&["--no-start", "status"]);
    let table = stdout(&table);
    assert!(
        table.contains("! last rollout: 2.0.0 rolled back to 1.0.0 automatically")
            && table.contains("alert auto-rollback firing"),
        "{table}"
    );

    // A person rolling back after the engine did is told it is done already.
    let again = ws.json(&["rollback", "pay", "--yes"]);
    assert_eq!(again["kind"], "unchanged", "{again:#}");

    // The next rollout replaces the outcome, and the alert with it.
    ws.json(&["deploy", "pay", "--version", "3.0.0"]);
    let status = ws.status();
    let pay = plugin_of(&status, "pay");
    assert_eq!(pay["last_rollout"]["outcome"], "succeeded", "{pay:#}");
    assert!(
        !pay["alerts"]
            .as_array()
            .is_some_and(|a| a.iter().any(|a| a["rule"] == "auto-rollback")),
        "{:#}",
        pay["alerts"]
    );
}
