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

/// The gates of the last deploy, as `naap deploy --json` reports them: (gate, outcome).
fn gate_outcomes(outcome: &serde_json::Value) -> Vec<(String, String)> {
    outcome["gates"]
        .as_array()
        .map(|gates| {
            gates
                .iter()
                .map(|g| {
                    (
                        g["gate"].as_str().unwrap_or_default().to_string(),
                        g["outcome"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passed_gate_is_cached_by_its_inputs_until_a_file_changes_or_no_cache() {
    let scratch = tempfile::tempdir().expect("scratch dir");
    let counter = scratch.path().join("builds");
    let manifest = sample_plugin("cached", "1.0.0", "").replace(
        "stop_grace = \"2s\"",
        &format!(
            "stop_grace = \"2s\"\nbuild = \"echo built >> {}\"\ntest = \"true\"",
            counter.display()
        ),
    );
    let mut ws = TestWorkspace::new(&[("cached", manifest)]);
    ws.write("plugins/cached/app.txt", "v1");
    ws.write("plugins/cached/.naapignore", "*.log\n");
    ws.start_engine();
    ws.wait_serving("cached");
    let builds = || {
        std::fs::read_to_string(&counter)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    assert_eq!(builds(), 1, "the first deploy on engine start builds");

    // Unchanged inputs (and changes only to ignored files): both gates are cached.
    ws.write("plugins/cached/target/debug/artifact", "build output");
    ws.write("plugins/cached/server.log", "ignored by .naapignore");
    let out = ws.json(&["deploy", "cached", "--force"]);
    assert_eq!(
        gate_outcomes(&out),
        [
            ("build".into(), "cached".into()),
            ("test".into(), "cached".into())
        ],
        "{out:#}"
    );
    assert!(out["gates"][0]["cached_since"].is_string(), "{out:#}");
    assert_eq!(builds(), 1, "a cached build does not run");
    let cached_lines: Vec<String> = ws
        .json_lines(&["logs", "cached"])
        .iter()
        .filter(|l| l["source"] == "gate")
        .filter_map(|l| l["message"].as_str().map(str::to_string))
        .filter(|m| m.starts_with("build: cached (inputs unchanged since "))
        .collect();
    assert_eq!(cached_lines.len(), 1, "{cached_lines:?}");
    let hash = out["gates"][0]["input_hash"].as_str().unwrap_or_default();
    assert!(
        cached_lines[0].contains(&format!("hash {})", &hash[..12.min(hash.len())])),
        "{cached_lines:?} vs {hash}"
    );

    // The table output says so too.
    let text = stdout(&ws.naap(&["deploy", "cached", "--force"]));
    assert!(
        text.contains("gate build: cached (inputs unchanged since "),
        "{text}"
    );
    assert_eq!(builds(), 1);

    // An edit to a plugin file changes the inputs: the gates run again.
    ws.write("plugins/cached/app.txt", "v2");
    let out = ws.json(&["deploy", "cached", "--force"]);
    assert_eq!(
        gate_outcomes(&out),
        [
            ("build".into(), "ran".into()),
            ("test".into(), "ran".into())
        ],
        "{out:#}"
    );
    assert_eq!(builds(), 2);

    // Unchanged again: cached; `--no-cache` forces both to run.
    let out = ws.json(&["deploy", "cached", "--force"]);
    assert_eq!(out["gates"][0]["outcome"], "cached", "{out:#}");
    assert_eq!(builds(), 2);
    let out = ws.json(&["deploy", "cached", "--no-cache", "--force"]);
    assert_eq!(
        gate_outcomes(&out),
        [
            ("build".into(), "ran".into()),
            ("test".into(), "ran".into())
        ],
        "{out:#}"
    );
    assert_eq!(builds(), 3);

    // A new version is a new input, and the gates of the cached deploys served it.
    let out = ws.json(&["deploy", "cached", "--version", "2.0.0"]);
    assert_eq!(out["gates"][0]["outcome"], "ran", "{out:#}");
    assert_eq!(builds(), 4);
    let url = format!("http://{}/cached/", ws.router());
    assert_eq!(
        versions_answering(&client(), &url, 5).await,
        [("2.0.0".to_string(), 5)].into()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_gate_is_never_cached() {
    let manifest = sample_plugin("flaky", "1.0.0", "").replace(
        "stop_grace = \"2s\"",
        "stop_grace = \"2s\"\ntest = \"echo testing >> ../../test-runs; test -f ../../tests-pass\"",
    );
    let mut ws = TestWorkspace::new(&[("flaky", manifest)]);
    ws.write("tests-pass", "");
    ws.start_engine();
    ws.wait_serving("flaky");
    std::fs::remove_file(ws.path().join("tests-pass")).expect("break the tests");
    let runs = |ws: &TestWorkspace| {
        std::fs::read_to_string(ws.path().join("test-runs"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    let before = runs(&ws);
    // The plugin's own files do not change between these deploys.
    for attempt in 1..=2 {
        let out = ws.naap(&["deploy", "flaky", "--version", "2.0.0"]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert_eq!(
            runs(&ws),
            before + attempt,
            "a failed test gate runs every time"
        );
    }
    ws.write("tests-pass", "");
    let out = ws.json(&["deploy", "flaky", "--version", "2.0.0"]);
    assert_eq!(out["gates"][0]["outcome"], "ran", "{out:#}");
    // The same version again is a no-op unless forced; forced, its gates are cached.
    let out = ws.json(&["deploy", "flaky", "--version", "2.0.0", "--force"]);
    assert_eq!(out["gates"][0]["outcome"], "cached", "{out:#}");
    assert_eq!(runs(&ws), before + 3);
}
