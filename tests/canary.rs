//! Canary rollouts on real processes: steps walked under load, pause steps, promote, pause
//! and resume, abort and incident rollback mid-step, and an engine SIGKILLed mid-canary.

mod common;
use common::*;
use serde_json::Value;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(60);

fn canary_plugin(name: &str, strategy: &str) -> String {
    sample_plugin(name, "1.0.0", "").replace(
        "[strategy]\nkind = \"blue-green\"\n",
        &format!("[strategy]\nkind = \"canary\"\n{strategy}\n"),
    )
}

fn rollout(ws: &TestWorkspace, plugin: &str) -> Value {
    plugin_of(&ws.status(), plugin)["rollout"].clone()
}

fn history(ws: &TestWorkspace, plugin: &str) -> Value {
    ws.json(&["history", plugin, "--limit", "1000"])
}

fn event_kinds(ws: &TestWorkspace, plugin: &str) -> Vec<String> {
    history(ws, plugin)["events"]
        .as_array()
        .map(|es| {
            es.iter()
                .filter_map(|e| e["kind"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn last_rollout(ws: &TestWorkspace, plugin: &str) -> Value {
    history(ws, plugin)["rollouts"]
        .as_array()
        .and_then(|r| r.last().cloned())
        .unwrap_or(Value::Null)
}

fn wait_rollout(ws: &TestWorkspace, plugin: &str, what: &str, ok: impl Fn(&Value) -> bool) {
    let done = wait_for(DEADLINE, || ok(&rollout(ws, plugin)));
    assert!(done, "{what}: rollout is {}", rollout(ws, plugin));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_canary_walks_every_step_under_load_and_is_promoted() {
    let mut ws = TestWorkspace::new(&[(
        "api",
        canary_plugin("api", "steps = [20, 50, 100]\nstep_interval = \"400ms\""),
    )]);
    ws.start_engine();
    ws.wait_serving("api");
    let load = Load::start(format!("http://{}/api/", ws.router()), 1);

    // Without --detach the CLI waits and prints each step as it happens.
    let out = ws.naap(&["deploy", "api", "--version", "2.0.0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (progress, summary) = (stderr(&out), stdout(&out));
    assert!(
        summary.contains("2.0.0 is live on green (canary, 3 steps)"),
        "{summary}"
    );
    for line in [
        "canary step 1/3: 20%",
        "canary step 2/3: 50%",
        "canary step 3/3: 100%",
    ] {
        assert!(progress.contains(line), "{line} missing in:\n{progress}");
    }
    assert!(progress.contains("no analysis configured"), "{progress}");

    let (sent, failed) = load.finish().await;
    assert!(sent > 20, "only {sent} requests went through the router");
    assert_eq!(failed, 0, "{failed} of {sent} requests failed");
    assert_eq!(ws.slot("api", "green")["weight"], 100);
    assert_eq!(ws.slot("api", "blue")["weight"], 0);
    assert!(rollout(&ws, "api").is_null());

    let last = last_rollout(&ws, "api");
    assert_eq!(last["state"], "succeeded", "{last}");
    let kinds = event_kinds(&ws, "api");
    assert_eq!(
        kinds.iter().filter(|k| *k == "canary_step").count(),
        3,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| *k == "canary_judged").count(),
        2,
        "{kinds:?}"
    );
    // Every step's verdict is stored with the rollout and readable from history.
    let judged = history(&ws, "api")["judgements"].clone();
    let judged: Vec<(u64, String)> = judged
        .as_array()
        .map(|js| {
            js.iter()
                .filter(|j| j["rollout_id"] == last["id"])
                .map(|j| {
                    (
                        j["weight"].as_u64().unwrap_or(0),
                        j["outcome"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(judged, [(20, "pass".to_string()), (50, "pass".to_string())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_step_holds_until_promote_and_pause_and_resume_hold_and_continue() {
    let mut ws = TestWorkspace::new(&[(
        "api",
        canary_plugin(
            "api",
            "steps = [10, \"pause\", 50, 100]\nstep_interval = \"1500ms\"",
        ),
    )]);
    ws.start_engine();
    ws.wait_serving("api");

    // Nothing runs yet: every rollout command says so and how to start one.
    let out = ws.naap(&["promote", "api"]);
    assert_eq!(out.status.code(), Some(1));
    // The engine says it without naming a flag; the CLI prints its hint as a command line.
    assert!(
        stderr(&out).contains("no rollout of api is running; a deploy starts one")
            && stderr(&out).contains("\n  hint: run `naap deploy api`"),
        "{}",
        stderr(&out)
    );

    let started = ws.json(&["deploy", "api", "--version", "2.0.0", "--detach"]);
    assert_eq!(started["kind"], "started", "{started}");

    wait_rollout(&ws, "api", "held by the pause step", |r| {
        r["paused"] == true && r["step_index"] == 0
    });
    let r = rollout(&ws, "api");
    assert_eq!(r["weight"], 10);
    assert_eq!(r["steps"], serde_json::json!([10, 50, 100]));
    assert!(r["next_step_at"].is_null(), "{r}");
    assert!(
        r["paused_reason"]
            .as_str()
            .unwrap_or("")
            .contains("pause step"),
        "{r}"
    );
    assert_eq!(r["judgements"][0]["outcome"], "pass", "{r}");
    assert_eq!(ws.slot("api", "green")["weight"], 10);
    // Resume is not how a pause step ends.
    let out = ws.naap(&["resume", "api"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("naap promote"), "{}", stderr(&out));

    let promoted = ws.json(&["promote", "api"]);
    assert!(
        promoted["summary"].as_str().unwrap_or("").contains("50%"),
        "{promoted}"
    );
    // The answer shows the step it moved to, not the one before.
    assert_eq!(
        promoted["weights"],
        serde_json::json!([["blue", 50], ["green", 50]]),
        "{promoted}"
    );
    wait_rollout(&ws, "api", "at 50%", |r| {
        r["step_index"] == 1 && r["paused"] == false
    });
    let paused = ws.json(&["pause", "api"]);
    assert_eq!(paused["kind"], "pause");
    let r = rollout(&ws, "api");
    assert_eq!(r["paused"], true, "{r}");
    assert!(r["next_step_at"].is_null(), "{r}");
    assert!(
        r["paused_reason"]
            .as_str()
            .unwrap_or("")
            .contains("paused by cli"),
        "{r}"
    );
    assert_eq!(ws.slot("api", "green")["weight"], 50);

    ws.json(&["resume", "api"]);
    let r = rollout(&ws, "api");
    assert_eq!(r["paused"], false, "{r}");
    assert!(r["next_step_at"].is_string(), "{r}");

    let done = wait_for(DEADLINE, || ws.slot("api", "green")["weight"] == 100);
    assert!(done, "never promoted: {}", rollout(&ws, "api"));
    let done = wait_for(DEADLINE, || {
        last_rollout(&ws, "api")["state"] == "succeeded"
    });
    assert!(done, "{}", last_rollout(&ws, "api"));
    let kinds = event_kinds(&ws, "api");
    for kind in [
        "rollout_held",
        "rollout_promoted",
        "rollout_paused",
        "rollout_resumed",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} missing: {kinds:?}");
    }
    let audit = history(&ws, "api")["audit"].clone();
    let actions: Vec<&str> = audit
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    for action in ["promote", "pause", "resume"] {
        assert!(
            actions.contains(&action),
            "{action} not audited: {actions:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_and_incident_rollback_mid_step_return_all_traffic_to_stable() {
    let mut ws = TestWorkspace::new(&[(
        "api",
        canary_plugin("api", "steps = [30, 60, 100]\nstep_interval = \"1h\""),
    )]);
    ws.start_engine();
    ws.wait_serving("api");
    let http = client();
    let url = format!("http://{}/api/", ws.router());

    ws.json(&["deploy", "api", "--version", "2.0.0", "--detach"]);
    wait_rollout(&ws, "api", "first step", |r| r["weight"] == 30);
    assert_eq!(ws.slot("api", "green")["weight"], 30);
    let aborted = ws.json(&["abort", "api"]);
    assert!(
        aborted["summary"]
            .as_str()
            .unwrap_or("")
            .contains("all traffic back to blue"),
        "{aborted}"
    );
    // The answer comes after the flip: all traffic is on the stable slot now.
    assert_eq!(ws.slot("api", "blue")["weight"], 100);
    assert_eq!(
        versions_answering(&http, &url, 20).await,
        [("1.0.0".to_string(), 20)].into()
    );
    let done = wait_for(DEADLINE, || last_rollout(&ws, "api")["state"] == "aborted");
    assert!(done, "{}", last_rollout(&ws, "api"));
    assert!(
        wait_for(DEADLINE, || ws.slot("api", "green")["process_state"]
            == "stopped"),
        "the aborted canary keeps running: {}",
        ws.slot("api", "green")
    );

    // Again, and this time an incident rollback: no more steps, no analysis.
    ws.json(&["deploy", "api", "--version", "2.0.1", "--detach"]);
    wait_rollout(&ws, "api", "second canary", |r| r["weight"] == 30);
    let rolled = ws.json(&["rollback", "api", "--yes"]);
    assert_eq!(rolled["kind"], "flip", "{rolled}");
    assert_eq!(ws.slot("api", "blue")["weight"], 100);
    let done = wait_for(DEADLINE, || {
        last_rollout(&ws, "api")["state"] == "rolled_back"
    });
    assert!(done, "{}", last_rollout(&ws, "api"));
    assert!(
        last_rollout(&ws, "api")["detail"]
            .as_str()
            .unwrap_or("")
            .contains("incident rollback by cli"),
        "{}",
        last_rollout(&ws, "api")
    );
    assert!(rollout(&ws, "api").is_null());
    assert_eq!(
        versions_answering(&http, &url, 20).await,
        [("1.0.0".to_string(), 20)].into()
    );
    let out = ws.naap(&["abort", "api"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no rollout of api is running"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_killed_mid_canary_resumes_from_the_stored_step() {
    let mut ws = TestWorkspace::new(&[(
        "api",
        canary_plugin("api", "steps = [25, 50, 100]\nstep_interval = \"2s\""),
    )]);
    ws.start_engine();
    ws.wait_serving("api");
    ws.json(&["deploy", "api", "--version", "2.0.0", "--detach"]);
    wait_rollout(&ws, "api", "first step", |r| r["weight"] == 25);
    let canary_pid = ws.slot("api", "green")["pid"].as_u64();

    ws.kill_engine();
    ws.start_engine();

    // Resumed, not restarted: the same canary process carries on to promotion.
    let load = Load::start(format!("http://{}/api/", ws.router()), 1);
    let done = wait_for(DEADLINE, || {
        last_rollout(&ws, "api")["state"] == "succeeded"
    });
    assert!(done, "{}", last_rollout(&ws, "api"));
    let (sent, failed) = load.finish().await;
    assert_eq!(
        failed, 0,
        "{failed} of {sent} requests failed after the restart"
    );
    assert_eq!(ws.slot("api", "green")["weight"], 100);
    assert_eq!(ws.slot("api", "green")["pid"].as_u64(), canary_pid);
    let kinds = event_kinds(&ws, "api");
    assert!(
        kinds.iter().any(|k| k == "rollout_resumed_after_restart"),
        "{kinds:?}"
    );
    // History is whole: the steps before the kill and after it.
    assert!(
        kinds.iter().filter(|k| *k == "canary_step").count() >= 3,
        "{kinds:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_killed_mid_canary_rolls_back_when_the_canary_died_too() {
    let mut ws = TestWorkspace::new(&[(
        "api",
        canary_plugin("api", "steps = [25, 50, 100]\nstep_interval = \"1h\""),
    )]);
    ws.start_engine();
    ws.wait_serving("api");
    ws.json(&["deploy", "api", "--version", "2.0.0", "--detach"]);
    wait_rollout(&ws, "api", "first step", |r| r["weight"] == 25);
    let canary_pid = ws.slot("api", "green")["pid"].as_i64().expect("canary pid");

    ws.kill_engine();
    // SAFETY: killing the process group naap created for the canary slot.
    unsafe { libc::kill(-(canary_pid as i32), libc::SIGKILL) };
    ws.start_engine();

    let done = wait_for(DEADLINE, || {
        last_rollout(&ws, "api")["state"] == "rolled_back"
    });
    assert!(
        done,
        "{}\nevents: {}\nslots: {}",
        last_rollout(&ws, "api"),
        history(&ws, "api")["events"],
        plugin_of(&ws.status(), "api")["slots"]
    );
    assert_eq!(ws.slot("api", "blue")["weight"], 100);
    assert_eq!(ws.slot("api", "green")["weight"], 0);
    let http = client();
    assert_eq!(
        versions_answering(&http, &format!("http://{}/api/", ws.router()), 20).await,
        [("1.0.0".to_string(), 20)].into()
    );
    let events = history(&ws, "api")["events"].clone();
    let decision = events
        .as_array()
        .and_then(|es| {
            es.iter()
                .find(|e| e["kind"] == "rollout_rolled_back_after_restart")
                .cloned()
        })
        .unwrap_or(Value::Null);
    assert!(
        decision["message"]
            .as_str()
            .unwrap_or("")
            .contains("did not survive the restart"),
        "{decision}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_keeps_running_when_its_cli_goes_away() {
    let mut ws = TestWorkspace::new(&[(
        "api",
        canary_plugin("api", "steps = [50, 100]\nstep_interval = \"1s\""),
    )]);
    ws.start_engine();
    ws.wait_serving("api");
    let mut cli = std::process::Command::new(NAAP)
        .arg("--workspace")
        .arg(ws.path())
        .args(["deploy", "api", "--version", "2.0.0"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn naap deploy");
    wait_rollout(&ws, "api", "first step", |r| r["weight"] == 50);
    let _ = cli.kill();
    let _ = cli.wait();

    let done = wait_for(DEADLINE, || {
        last_rollout(&ws, "api")["state"] == "succeeded"
    });
    assert!(done, "{}", last_rollout(&ws, "api"));
    assert_eq!(ws.slot("api", "green")["weight"], 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_automatic_guard_rolls_a_bad_canary_back_and_ends_the_rollout() {
    // 2.0.0 answers 30 % of requests with errors; 1.0.0 is clean.
    let manifest = canary_plugin("api", "steps = [50, 100]\nstep_interval = \"1h\"")
        .replace(
            "--version {version} ",
            "--version {version} $([ \\\"$NAAP_VERSION\\\" = 2.0.0 ] && echo --error-rate 0.3)",
        )
        .replace(
            "keep_previous_warm = \"30m\"",
            "keep_previous_warm = \"30m\"\non_error_rate = 0.05\non_health_check_fail = false",
        );
    let mut ws = TestWorkspace::new(&[("api", manifest)]);
    ws.start_engine();
    ws.wait_serving("api");
    let load = Load::start(format!("http://{}/api/api/items", ws.router()), 1);
    ws.json(&["deploy", "api", "--version", "2.0.0", "--detach"]);
    let done = wait_for(DEADLINE, || {
        last_rollout(&ws, "api")["state"] == "rolled_back"
    });
    load.finish().await;
    let last = last_rollout(&ws, "api");
    assert!(done, "{last}");
    assert!(
        last["detail"]
            .as_str()
            .unwrap_or("")
            .contains("breached its threshold: error rate"),
        "{last}"
    );
    assert_eq!(ws.slot("api", "blue")["weight"], 100);
    assert!(rollout(&ws, "api").is_null());
}
