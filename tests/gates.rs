//! Build and test gates run before a deploy; a failed gate changes no traffic.

mod common;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_gate_changes_no_traffic_and_its_output_is_in_the_logs() {
    let manifest = sample_plugin("gated", "1.0.0", "").replace(
        "stop_grace = \"2s\"",
        "stop_grace = \"2s\"\nbuild = \"echo building {version} in $PWD\"\ntest = \"test -f tests-pass || {{ echo 'FAIL: 1 of 12 tests failed' >&2; exit 4; }}\"",
    );
    let mut ws = TestWorkspace::new(&[("gated", manifest)]);
    ws.write("plugins/gated/tests-pass", "");
    ws.start_engine();
    ws.wait_serving("gated");

    std::fs::remove_file(ws.path().join("plugins/gated/tests-pass")).expect("break the tests");
    let out = ws.naap(&["deploy", "gated", "--version", "2.0.0"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("gate `test` failed")
            && err.contains("exit code 4")
            && err.contains("traffic is unchanged"),
        "{err}"
    );
    assert_eq!(ws.slot("gated", "blue")["weight"], 100);
    assert_eq!(ws.slot("gated", "blue")["version"], "1.0.0");
    assert!(
        ws.slot("gated", "green").is_null() || ws.slot("gated", "green")["version"].is_null(),
        "no slot was started for 2.0.0"
    );
    let url = format!("http://{}/gated/", ws.router());
    assert_eq!(
        versions_answering(&client(), &url, 10).await,
        [("1.0.0".to_string(), 10)].into()
    );

    // Gate output is in the plugin's logs with source `gate`, in order.
    let gate_lines: Vec<String> = ws
        .json_lines(&["logs", "gated"])
        .iter()
        .filter(|l| l["source"] == "gate")
        .filter_map(|l| l["message"].as_str().map(str::to_string))
        .collect();
    assert!(
        gate_lines
            .iter()
            .any(|l| l.starts_with("building 2.0.0 in ") && l.ends_with("plugins/gated")),
        "{gate_lines:?}"
    );
    assert!(
        gate_lines
            .iter()
            .any(|l| l.contains("1 of 12 tests failed")),
        "{gate_lines:?}"
    );

    // The rollout is recorded as failed, with the reason.
    let history = ws.json(&["history", "gated"]);
    let last = history["rollouts"]
        .as_array()
        .and_then(|r| r.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(last["state"], "failed", "{last:#}");
    assert_eq!(last["to_version"], "2.0.0");

    // Fixed tests: the same deploy goes through.
    ws.write("plugins/gated/tests-pass", "");
    let out = ws.json(&["deploy", "gated", "--version", "2.0.0"]);
    assert_eq!(out["slot"], "green");
    assert_eq!(
        versions_answering(&client(), &url, 10).await,
        [("2.0.0".to_string(), 10)].into()
    );
}
