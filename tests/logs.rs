//! `naap logs` as a user reads it after things go wrong: failure lines at a level that
//! `--level warn` finds, the gates' output under `--slot gate`, and output that behaves in
//! a pipe.

mod common;
use common::logs::*;
use common::*;
use serde_json::Value;
use std::time::Duration;

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

/// A plugin that writes `count` numbered lines of 80 characters when it starts.
fn chatty_plugin(name: &str, count: usize) -> String {
    python_plugin(
        name,
        &format!(r#"python3 -c 'for i in range({count}): print("line %05d " % i + "x" * 70)';"#),
    )
}

#[test]
fn logs_and_history_end_quietly_when_the_pipe_closes() {
    let mut ws = TestWorkspace::new(&[("shop", chatty_plugin("shop", 2000))]);
    ws.start_engine();
    ws.wait_serving("shop");
    let arrived = wait_for(Duration::from_secs(20), || {
        !ws.json_lines(&["logs", "shop", "--grep", "line 01999"])
            .is_empty()
    });
    assert!(arrived, "the plugin's lines never reached the logs");
    // Enough history to overflow the pipe: each silence is an event and an audit row.
    let comment = "c".repeat(300);
    for _ in 0..12 {
        let out = ws.naap(&[
            "alerts",
            "silence",
            "shop",
            "--for",
            "1h",
            "--comment",
            &comment,
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
    }

    for args in [
        vec!["logs", "shop", "-n", "2000"],
        vec!["logs", "shop", "-n", "2000", "--json"],
        vec!["history", "shop", "-n", "100"],
        vec!["history", "shop", "-n", "100", "--json"],
        // One line per snapshot: the write after the first one finds the pipe closed.
        vec!["status", "--watch", "--json"],
    ] {
        let (status, first, err) = first_line_then_close(ws.path(), &args);
        assert!(!first.is_empty(), "naap {args:?} printed nothing");
        assert_eq!(
            status.code(),
            Some(0),
            "naap {args:?}: {status}; stderr: {err}"
        );
        assert!(err.trim().is_empty(), "naap {args:?} said on stderr: {err}");
    }
}

#[test]
fn dash_n_zero_shows_no_backlog() {
    let mut ws = TestWorkspace::new(&[("shop", chatty_plugin("shop", 5))]);
    ws.start_engine();
    ws.wait_serving("shop");
    let arrived = wait_for(Duration::from_secs(20), || {
        !ws.json_lines(&["logs", "shop", "--grep", "line 00004"])
            .is_empty()
    });
    assert!(arrived);
    let out = ws.naap(&["logs", "shop", "-n", "0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "", "-n 0 prints no line");
    let out = ws.naap(&["logs", "shop", "-n", "2"]);
    assert_eq!(stdout(&out).lines().count(), 2, "{}", stdout(&out));

    // `-f -n 0`: no backlog, then the new lines.
    let mut follow = Running::spawn(ws.path(), &["logs", "shop", "-f", "-n", "0"]);
    let router = ws.router();
    let hit = wait_for(Duration::from_secs(20), || {
        poke(&router, "/shop/after-follow-started");
        follow.wait_line("after-follow-started", Duration::from_millis(500))
    });
    assert!(hit, "no new line arrived: {:?}", follow.seen);
    assert!(
        follow.seen.iter().all(|l| !l.contains("line 0000")),
        "the backlog was shown: {:?}",
        follow.seen
    );
}

#[test]
fn follow_survives_an_engine_restart_and_says_it_reconnected() {
    let mut ws = TestWorkspace::new(&[("shop", python_plugin("shop", ""))]);
    ws.start_engine();
    ws.wait_serving("shop");
    let mut follow = Running::spawn(ws.path(), &["--no-start", "logs", "shop", "-f"]);
    let router = ws.router();
    let hit = wait_for(Duration::from_secs(20), || {
        poke(&router, "/shop/before-restart");
        follow.wait_line("before-restart", Duration::from_millis(500))
    });
    assert!(hit, "the follower never saw a line: {:?}", follow.seen);

    ws.kill_engine();
    // The follower waits for an engine instead of exiting, and does not start one itself.
    let told = wait_for(Duration::from_secs(20), || {
        follow.stderr_so_far().contains("lost the engine")
    });
    assert!(told, "stderr: {}", follow.stderr_so_far());
    // Said after several attempts have failed: by then a follower that starts engines
    // would have started one.
    let waiting = wait_for(Duration::from_secs(20), || {
        follow.stderr_so_far().contains("waiting for the engine")
    });
    assert!(waiting, "stderr: {}", follow.stderr_so_far());
    assert!(
        follow.running(),
        "logs -f exited: {}",
        follow.stderr_so_far()
    );
    assert!(
        !ws.naap(&["--no-start", "status"]).status.success(),
        "--no-start: the follower must not start an engine"
    );

    ws.start_engine();
    let router = ws.router();
    let hit = wait_for(Duration::from_secs(30), || {
        poke(&router, "/shop/after-restart");
        follow.wait_line("after-restart", Duration::from_millis(500))
    });
    let err = follow.stderr_so_far();
    assert!(
        hit,
        "no line after the restart: {:?}\nstderr: {err}",
        follow.seen
    );
    // stderr is read by its own thread: it may trail stdout a little.
    let said = wait_for(Duration::from_secs(10), || {
        follow
            .stderr_so_far()
            .contains("reconnected to a new engine")
    });
    assert!(said, "stderr: {}", follow.stderr_so_far());
    assert!(follow.running());
}

#[test]
fn control_bytes_from_a_plugin_are_escaped_in_the_cli() {
    let mut ws = TestWorkspace::new(&[(
        "shop",
        python_plugin("shop", r"printf 'ctl \010bs \032sub\ttab\n';"),
    )]);
    ws.start_engine();
    ws.wait_serving("shop");
    let arrived = wait_for(Duration::from_secs(20), || {
        !ws.json_lines(&["logs", "shop", "--grep", "ctl"]).is_empty()
    });
    assert!(arrived);

    let out = ws.naap(&["logs", "shop", "--grep", "ctl"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(r"ctl \x08bs \x1asub	tab"),
        "escaped, tab kept: {text:?}"
    );
    assert!(
        !out.stdout.iter().any(|&b| b == 0x08 || b == 0x1a),
        "{text:?}"
    );

    let out = ws.naap(&["logs", "shop", "--grep", "ctl", "--json"]);
    assert!(!out.stdout.iter().any(|&b| b == 0x08 || b == 0x1a));
    let line: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(
        line["message"], "ctl \u{8}bs \u{1a}sub\ttab",
        "JSON keeps the text"
    );
}
