//! `naap logs` as a user reads it after things go wrong: failure lines at a level that
//! `--level warn` finds, the gates' output under `--slot gate`, and output that behaves in
//! a pipe.

mod common;
use common::*;
use serde_json::Value;

/// The manifest of a plugin whose `test` gate fails (exit 4) unless `tests-pass` exists,
/// writing one plain line and one line that names its level to stderr.
fn gated_plugin(name: &str) -> String {
    sample_plugin(name, "1.0.0", "").replace(
        "stop_grace = \"2s\"",
        "stop_grace = \"2s\"\ntest = \"test -f tests-pass || {{ echo 'INFO collected 12 tests' >&2; echo 'FAIL: 1 of 12 tests failed' >&2; exit 4; }}\"",
    )
}

fn lines_at_warn(ws: &TestWorkspace, plugin: &str) -> Vec<Value> {
    ws.json_lines(&["logs", plugin, "--level", "warn"])
}

fn find<'a>(lines: &'a [Value], text: &str) -> Option<&'a Value> {
    lines
        .iter()
        .find(|l| l["message"].as_str().is_some_and(|m| m.contains(text)))
}

#[test]
fn a_failed_gate_is_logged_as_an_error_and_its_output_is_under_slot_gate() {
    let mut ws = TestWorkspace::new(&[("shop", gated_plugin("shop"))]);
    ws.write("plugins/shop/tests-pass", "");
    ws.start_engine();
    ws.wait_serving("shop");

    std::fs::remove_file(ws.path().join("plugins/shop/tests-pass")).expect("break the tests");
    let out = ws.naap(&["deploy", "shop", "--version", "2.0.0"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let hint = "naap logs shop --slot gate";
    assert!(stderr(&out).contains(hint), "{}", stderr(&out));

    let warn = lines_at_warn(&ws, "shop");
    let failed = find(&warn, "gate `test` failed").unwrap_or_else(|| panic!("{warn:#?}"));
    assert_eq!(failed["level"], "error", "{failed}");
    assert_eq!(failed["source"], "gate", "{failed}");
    let deploy = warn
        .iter()
        .find(|l| {
            l["source"] == "engine" && l["message"].as_str().is_some_and(|m| m.contains("failed"))
        })
        .unwrap_or_else(|| panic!("no deploy failure line at warn or above: {warn:#?}"));
    assert_eq!(deploy["level"], "error", "{deploy}");
    let stderr_line = find(&warn, "1 of 12 tests failed").unwrap_or_else(|| panic!("{warn:#?}"));
    assert_eq!(
        stderr_line["level"], "warn",
        "a failed gate's plain stderr is a warning"
    );
    assert!(
        find(&warn, "collected 12 tests").is_none(),
        "a stderr line that names its level keeps it: {warn:#?}"
    );
    let all = ws.json_lines(&["logs", "shop"]);
    assert_eq!(
        find(&all, "collected 12 tests").map(|l| l["level"].clone()),
        Some(Value::from("info"))
    );

    // The command the hint names works, and shows the gate's story and nothing else.
    let out = ws.naap(&["logs", "shop", "--slot", "gate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "gate `test` started",
        "1 of 12 tests failed",
        "gate `test` failed",
    ] {
        assert!(text.contains(expected), "`{expected}` missing:\n{text}");
    }
    assert!(
        text.lines()
            .all(|l| l.split_whitespace().nth(1) == Some("gate")),
        "only gate lines:\n{text}"
    );
    let gate = ws.json_lines(&["logs", "shop", "--slot", "gate"]);
    assert!(
        !gate.is_empty() && gate.iter().all(|l| l["source"] == "gate"),
        "{gate:#?}"
    );

    let out = ws.naap(&["logs", "shop", "--slot", "red"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("`gate`"), "{}", stderr(&out));
}

#[test]
fn a_health_timeout_that_fails_a_deploy_is_an_error() {
    let mut ws = TestWorkspace::new(&[("shop", sample_plugin("shop", "1.0.0", ""))]);
    ws.start_engine();
    ws.wait_serving("shop");

    // The next version never answers its health check and has 2 s to do so.
    let sick = sample_plugin("shop", "1.0.0", "--fail-health-after 0s")
        .replace("startup_timeout = \"20s\"", "startup_timeout = \"2s\"");
    ws.write("plugins/shop/plugin.toml", &sick);
    let out = ws.naap(&["deploy", "shop", "--version", "2.0.0"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not healthy after"),
        "{}",
        stderr(&out)
    );

    let warn = lines_at_warn(&ws, "shop");
    let failed = find(&warn, "not healthy after").unwrap_or_else(|| panic!("{warn:#?}"));
    assert_eq!(failed["level"], "error", "{failed}");
    assert_eq!(failed["source"], "engine", "{failed}");
    let human = stdout(&ws.naap(&["logs", "shop", "--level", "warn"]));
    assert!(
        human
            .lines()
            .any(|l| l.contains("ERROR") && l.contains("not healthy after")),
        "{human}"
    );
}
