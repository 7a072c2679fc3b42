//! The audit log survives an engine crash: a request is audited when accepted and its entry
//! completed with its result; one a SIGKILL cut is completed by the next engine as
//! interrupted, with what that engine then did.

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

fn audit(ws: &TestWorkspace, plugin: &str) -> Vec<Value> {
    ws.json(&["history", plugin, "--limit", "1000"])["audit"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The CLI's deploy of `version`, as the audit log has it.
fn cli_deploy(ws: &TestWorkspace, plugin: &str, version: &str) -> Value {
    audit(ws, plugin)
        .into_iter()
        .find(|a| a["face"] == "cli" && a["action"] == "deploy" && a["args"]["version"] == version)
        .unwrap_or(Value::Null)
}

fn canary_at_first_step(ws: &TestWorkspace, plugin: &str) -> bool {
    plugin_of(&ws.status(), plugin)["rollout"]["weight"] == 25
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_cut_by_sigkill_is_completed_as_interrupted_and_resumed() {
    let mut ws = TestWorkspace::new(&[(
        "api",
        canary_plugin("api", "steps = [25, 50, 100]\nstep_interval = \"2s\""),
    )]);
    ws.start_engine();
    ws.wait_serving("api");
    ws.json(&["deploy", "api", "--version", "2.0.0", "--detach"]);
    assert!(wait_for(DEADLINE, || canary_at_first_step(&ws, "api")));
    // Accepted: on record while the canary runs, before any result.
    let accepted = cli_deploy(&ws, "api", "2.0.0");
    assert_eq!(accepted["result"], "pending", "{accepted:#}");

    ws.kill_engine();
    ws.start_engine();

    let entry = cli_deploy(&ws, "api", "2.0.0");
    assert_eq!(entry["id"], accepted["id"], "the same entry, completed");
    assert_eq!(entry["result"], "interrupted", "{entry:#}");
    let detail = entry["detail"].as_str().unwrap_or("");
    assert!(
        detail.contains("interrupted by an engine restart"),
        "{detail}"
    );
    assert!(detail.contains("resuming canary rollout"), "{detail}");
    assert!(entry["completed_at"].is_string(), "{entry:#}");

    // The resumed rollout is the new engine's own request, completed when it ends.
    let resumed_ok = wait_for(DEADLINE, || {
        audit(&ws, "api").iter().any(|a| {
            a["face"] == "engine"
                && a["args"]["resumed_after_restart"] == true
                && a["result"] == "ok"
        })
    });
    assert!(resumed_ok, "{:#?}", audit(&ws, "api"));

    // And `naap history` shows it to a person.
    let out = ws.naap(&["--no-start", "history", "api"]);
    let text = stdout(&out);
    assert!(text.contains("interrupted"), "{text}");
    assert!(text.contains("interrupted by an engine restart"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_cut_by_sigkill_records_the_restarts_rollback() {
    let mut ws = TestWorkspace::new(&[(
        "api",
        canary_plugin("api", "steps = [25, 50, 100]\nstep_interval = \"1h\""),
    )]);
    ws.start_engine();
    ws.wait_serving("api");
    ws.json(&["deploy", "api", "--version", "2.0.0", "--detach"]);
    assert!(wait_for(DEADLINE, || canary_at_first_step(&ws, "api")));
    let canary_pid = ws.slot("api", "green")["pid"].as_i64().expect("canary pid");

    ws.kill_engine();
    // SAFETY: killing the process group naap created for the canary slot.
    unsafe { libc::kill(-(canary_pid as i32), libc::SIGKILL) };
    ws.start_engine();

    let entry = cli_deploy(&ws, "api", "2.0.0");
    assert_eq!(entry["result"], "interrupted", "{entry:#}");
    let detail = entry["detail"].as_str().unwrap_or("");
    assert!(
        detail.contains("interrupted by an engine restart"),
        "{detail}"
    );
    assert!(detail.contains("rolled back rollout"), "{detail}");
    assert!(detail.contains("all traffic went back to blue"), "{detail}");
    let rollback = audit(&ws, "api")
        .into_iter()
        .find(|a| a["face"] == "engine" && a["action"] == "rollback")
        .unwrap_or(Value::Null);
    assert_eq!(rollback["result"], "ok", "{rollback:#}");
    assert!(
        rollback["detail"]
            .as_str()
            .unwrap_or("")
            .contains("after an engine restart"),
        "{rollback:#}"
    );
}
