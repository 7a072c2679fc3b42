//! Canary analysis on real processes: every step of a canary is judged against the stable
//! slot, the verdict decides whether the rollout goes on, and every verdict is readable in
//! `naap history --json` and (while the rollout runs) `naap status --json`.

mod common;
use common::*;
use serde_json::Value;
use std::time::Duration;

/// A canary plugin whose 1.0.0 runs the sample service with `v1` and 2.0.0 with `v2`.
fn manifest(name: &str, v1: &str, v2: &str, steps: &str, analysis: &str) -> String {
    sample_plugin(name, "1.0.0", "")
        .replace(
            "--version {version} ",
            &format!(
                "--version {{version}} $([ \\\"$NAAP_VERSION\\\" = 2.0.0 ] && echo '{v2}' || echo '{v1}')"
            ),
        )
        .replace(
            "kind = \"blue-green\"",
            &format!("kind = \"canary\"\nsteps = {steps}\nstep_interval = \"6s\""),
        )
        + &format!("\n[analysis]\nmin_samples = 5\n{analysis}\n")
}

/// Starts `naap deploy PLUGIN --version 2.0.0` on a thread; join it for the output.
fn deploy_v2(ws: &TestWorkspace, plugin: &str) -> std::thread::JoinHandle<std::process::Output> {
    let (dir, plugin) = (ws.path().to_path_buf(), plugin.to_string());
    std::thread::spawn(move || {
        std::process::Command::new(NAAP)
            .arg("--workspace")
            .arg(dir)
            .args(["deploy", &plugin, "--version", "2.0.0"])
            .output()
            .expect("deploy")
    })
}

/// The stored judgement of every canary step; `detail` holds the judge's numbers.
fn verdicts(ws: &TestWorkspace, plugin: &str) -> Vec<Value> {
    ws.json(&["history", plugin])["judgements"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn metric<'a>(verdict: &'a Value, name: &str) -> &'a Value {
    verdict["detail"]["metrics"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["name"] == name))
        .unwrap_or_else(|| panic!("no metric {name} in {verdict:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_canary_passes_every_step() {
    let mut ws = TestWorkspace::new(&[(
        "fine",
        manifest(
            "fine",
            "--latency-ms 20",
            "--latency-ms 20",
            "[25, 50, 100]",
            "success_rate = 0.99\np99_ms = 2000",
        ),
    )]);
    ws.start_engine();
    ws.wait_serving("fine");
    let load = Load::start(format!("http://{}/fine/api/items", ws.router()), 3);

    let deploy = deploy_v2(&ws, "fine");
    // While the rollout runs, status shows the verdicts judged so far.
    let mut running: Option<Value> = None;
    let seen = wait_for(Duration::from_secs(40), || {
        let rollout = plugin_of(&ws.status(), "fine")["rollout"].clone();
        let judged = rollout["judgements"]
            .as_array()
            .is_some_and(|v| !v.is_empty());
        if judged {
            running = Some(rollout);
        }
        judged
    });
    assert!(seen, "no verdict in status: {:#}", ws.status());
    let deploy = deploy.join().expect("deploy thread");
    let failures = load.finish().await.1;
    assert!(deploy.status.success(), "{}", stderr(&deploy));
    let running = running.unwrap_or_default();
    assert_eq!(running["judgements"][0]["outcome"], "pass", "{running:#}");
    assert_eq!(running["judgements"][0]["weight"], 25, "{running:#}");

    let all = verdicts(&ws, "fine");
    let steps: Vec<(u64, u64, &str)> = all
        .iter()
        .map(|v| {
            (
                v["step_index"].as_u64().unwrap_or(99),
                v["weight"].as_u64().unwrap_or(0),
                v["outcome"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(steps, [(0, 25, "pass"), (1, 50, "pass")], "{all:#?}");
    for v in &all {
        assert_eq!(v["detail"]["score"], 100.0, "{v:#}");
        assert!(
            v["summary"]
                .as_str()
                .is_some_and(|s| s.starts_with("pass: score 100; ")),
            "{v:#}"
        );
        assert!(
            v["detail"]["samples"]["canary"].as_u64() >= Some(5),
            "{v:#}"
        );
        assert_eq!(metric(v, "p99_ms")["classification"], "pass", "{v:#}");
    }
    assert_eq!(ws.slot("fine", "green")["weight"], 100);
    let events = ws.json(&["history", "fine"])["events"].clone();
    let judged = events
        .as_array()
        .map(|e| e.iter().filter(|e| e["kind"] == "canary_judged").count());
    assert_eq!(judged, Some(2), "{events:#}");
    assert_eq!(failures, 0, "requests failed during a healthy canary");

    // The table form shows them too.
    let text = stdout(&ws.naap(&["history", "fine"]));
    assert!(
        text.contains("canary step judgements:") && text.contains("pass: score 100"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_times_the_latency_fails_the_judge_and_traffic_goes_back() {
    // No [rollback] latency limit: only the statistical judge can catch this canary.
    let mut ws = TestWorkspace::new(&[(
        "slow",
        manifest(
            "slow",
            "--latency-ms 20",
            "--latency-ms 60",
            "[50, 100]",
            "",
        ),
    )]);
    ws.start_engine();
    ws.wait_serving("slow");
    let load = Load::start(format!("http://{}/slow/api/items", ws.router()), 3);
    let deploy = deploy_v2(&ws, "slow").join().expect("deploy thread");
    let failures = load.finish().await.1;

    assert_eq!(deploy.status.code(), Some(1), "{}", stdout(&deploy));
    let err = stderr(&deploy);
    assert!(
        err.contains("step 1 failed its analysis: fail: p99_ms "),
        "{err}"
    );
    assert!(
        err.contains("all traffic is back on the stable slot"),
        "{err}"
    );
    assert_eq!(ws.slot("slow", "blue")["weight"], 100);
    assert_eq!(ws.slot("slow", "green")["weight"], 0);
    assert_eq!(failures, 0, "slow is not failed: no request may fail");

    let all = verdicts(&ws, "slow");
    assert_eq!(all.len(), 1, "{all:#?}");
    let v = &all[0];
    assert_eq!(v["outcome"], "fail", "{v:#}");
    assert_eq!(v["detail"]["score"], 0.0);
    let p99 = metric(v, "p99_ms");
    assert_eq!(p99["classification"], "high", "{v:#}");
    let (canary, baseline) = (
        p99["canary_median"].as_f64().unwrap_or(0.0),
        p99["baseline_median"].as_f64().unwrap_or(f64::MAX),
    );
    assert!(canary > 2.0 * baseline, "{v:#}");
    assert_eq!(metric(v, "error_rate")["classification"], "pass", "{v:#}");
    let rollout = &ws.json(&["history", "slow"])["rollouts"];
    let last = rollout
        .as_array()
        .and_then(|r| r.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(last["state"], "rolled_back", "{last:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_without_traffic_is_inconclusive_not_passed() {
    let mut ws = TestWorkspace::new(&[("idle", manifest("idle", "", "", "[50, 100]", ""))]);
    ws.start_engine();
    ws.wait_serving("idle");
    // Too little data never passes: the rollout holds for a person, traffic unchanged.
    ws.json(&["deploy", "idle", "--version", "2.0.0", "--detach"]);
    let mut held = Value::Null;
    let holds = wait_for(Duration::from_secs(30), || {
        held = plugin_of(&ws.status(), "idle")["rollout"].clone();
        held["paused"] == true
    });
    assert!(holds, "the inconclusive canary was not held: {held:#}");
    let reason = held["paused_reason"].as_str().unwrap_or("");
    assert!(
        reason.contains("inconclusive: 0 of 5 samples on the canary, 0 of 5 on the baseline"),
        "{held:#}"
    );
    assert_eq!(ws.slot("idle", "green")["weight"], 50);
    // A person decides: abort sends all traffic back.
    ws.json(&["abort", "idle"]);
    assert_eq!(ws.slot("idle", "blue")["weight"], 100);
    assert_eq!(ws.slot("idle", "green")["weight"], 0);

    let all = verdicts(&ws, "idle");
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0]["outcome"], "inconclusive");
    assert_eq!(
        all[0]["detail"]["samples"],
        serde_json::json!({"canary": 0, "baseline": 0, "needed": 5})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warmup_load_lets_a_canary_without_users_be_judged() {
    let mut ws = TestWorkspace::new(&[(
        "warm",
        manifest(
            "warm",
            "",
            "",
            "[50, 100]",
            "warmup_load = \"20rps\"\nwarmup_path = \"/api/items\"",
        ),
    )]);
    ws.start_engine();
    ws.wait_serving("warm");
    let deploy = deploy_v2(&ws, "warm").join().expect("deploy thread");
    assert!(deploy.status.success(), "{}", stderr(&deploy));

    let all = verdicts(&ws, "warm");
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0]["outcome"], "pass", "{:#}", all[0]);
    let samples = &all[0]["detail"]["samples"];
    assert!(
        samples["canary"].as_u64() >= Some(5) && samples["baseline"].as_u64() >= Some(5),
        "{samples:#}"
    );
    // The warm-up went through the router, which measured it on both slots.
    for slot in ["blue", "green"] {
        let measured = ws.slot("warm", slot)["metrics"]["requests_total"].as_u64();
        assert!(measured >= Some(50), "{slot}: {measured:?}");
    }
    assert_eq!(ws.slot("warm", "green")["weight"], 100);
}
