//! Runbooks as sagas, against a real engine, slots and router: a failed third step runs
//! the compensations of steps 2 and 1, in that order, and the run is stored with each
//! step's outcome.

mod common;
use common::*;

const SAGA: &str = r#"
description = "shift half the traffic, check, undo when the check fails"

[[steps]]
name = "note"
parallel = [
  { name = "note-a", shell = "echo a >> saga.log", compensate = { shell = "echo undo-a >> saga.log" } },
  { name = "note-b", shell = "echo b >> saga.log" },
]

[[steps]]
name = "shift"
call = "traffic"
params = { plugin = "shop", weights = { blue = 50, green = 50 } }
compensate = { call = "traffic", params = { plugin = "shop", weights = { blue = 0, green = 100 } } }

[[steps]]
name = "skipped"
plugin = "shop"
when = "error_rate > 90%"
shell = "echo never >> saga.log"

[[steps]]
name = "errors high"
plugin = "shop"
expect = "error_rate > 50%"
timeout = "5s"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_step_undoes_the_steps_done_newest_first() {
    let mut ws = TestWorkspace::new(&[("shop", sample_plugin("shop", "1.0.0", ""))]);
    ws.write("runbooks/saga.toml", SAGA);
    ws.start_engine();
    ws.wait_serving("shop");
    ws.json(&["deploy", "shop", "--version", "2.0.0"]);
    assert_eq!(ws.slot("shop", "green")["weight"], 100);

    // The dry run lists every step with its undo, and runs nothing.
    let plan = ws.json(&["runbook", "run", "saga", "--dry-run"]);
    assert_eq!(plan["outcome"], "dry_run");
    assert_eq!(plan["steps"].as_array().map(Vec::len), Some(6), "{plan:#}");
    assert!(!ws.path().join("saga.log").exists());

    let out = ws.naap(&["runbook", "run", "saga", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let run: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(run["outcome"], "failed", "{run:#}");
    let steps: Vec<(String, String, String)> = run["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                s["phase"].as_str().unwrap_or("").to_string(),
                s["step"].as_str().unwrap_or("").to_string(),
                s["outcome"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String)> = [
        ("run", "note-a", "ok"),
        ("run", "note-b", "ok"),
        ("run", "shift", "ok"),
        ("run", "skipped", "skipped"),
        ("run", "errors high", "failed"),
        ("compensate", "shift", "ok"),
        ("compensate", "note-a", "ok"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(steps, expected, "{run:#}");
    assert!(
        run["summary"]
            .as_str()
            .is_some_and(|s| s.contains("undone: shift, note-a")),
        "{run:#}"
    );

    // The undo really ran: the weights are back, the shell compensation wrote its line.
    assert_eq!(ws.slot("shop", "green")["weight"], 100);
    assert_eq!(ws.slot("shop", "blue")["weight"], 0);
    let log = std::fs::read_to_string(ws.path().join("saga.log")).expect("saga.log");
    let mut lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.pop(), Some("undo-a"), "{log}");
    lines.sort_unstable();
    assert_eq!(lines, ["a", "b"], "{log}");

    // Stored with each step, and the audit says who ran it.
    let shown = ws.json(&["runbook", "show", "saga"]);
    assert_eq!(shown["runs"][0]["outcome"], "failed");
    assert_eq!(shown["runs"][0]["steps"].as_array().map(Vec::len), Some(7));
    let history = ws.json(&["history", "shop"]);
    let audit: Vec<&str> = history["audit"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["action"].as_str())
        .collect();
    assert!(audit.ends_with(&["traffic", "traffic"]), "{audit:?}");
}

#[test]
fn a_broken_runbook_names_its_file_line_and_field() {
    let ws = TestWorkspace::new(&[("shop", sample_plugin("shop", "1.0.0", ""))]);
    ws.write(
        "runbooks/bad.toml",
        "[[steps]]\nname = \"one\"\nshell = \"true\"\n\n[[steps]]\nname = \"two\"\ncall = \"explode\"\n",
    );
    let root = ws.path().canonicalize().expect("root");
    let e = naap::api::runbook::load(&root, "bad").expect_err("refused");
    assert_eq!((e.line, e.field.as_str()), (6, "steps.two.call"), "{e}");
    assert!(e.to_string().contains("bad.toml:6"), "{e}");
    ws.write("runbooks/bad.toml", "[[steps]]\nname = \"one\"\nshell = \"true\"\nexpect = \"error_rate < 1%\"\nplugin = \"shop\"\n");
    let e = naap::api::runbook::load(&root, "bad").expect_err("two actions");
    assert!(e.message.contains("shell and expect"), "{e}");
    let e = naap::api::runbook::load(&root, "missing").expect_err("no file");
    assert!(e.hint.contains("bad"), "{e}");
}

#[test]
fn the_shipped_example_runbooks_load() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    for name in ["verified-restart", "checked-canary", "drain-and-rollback"] {
        let runbook = naap::api::runbook::load(&root, name).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !runbook.description.is_empty() && runbook.steps.len() >= 3,
            "{name}"
        );
    }
}
