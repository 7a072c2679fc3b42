//! Candidates: a staged copy of a plugin's source that edits change, a diff shows, and
//! an accept writes back; refusals write nothing. A real engine, the real socket and CLI.

mod common;
use common::*;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};

const APP: &str = "def items():\n    rows = [1, 2, 3]\n    return sorted(rows)\n";

/// One request on the engine's socket, its reply.
fn call(ws: &TestWorkspace, method: &str, params: Value) -> Value {
    let socket = ws.state_dir().join("engine.sock");
    let stream = std::os::unix::net::UnixStream::connect(&socket).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    let mut writer = stream.try_clone().expect("clone");
    let line = json!({"id": 1, "method": method, "params": params}).to_string();
    writer.write_all(line.as_bytes()).expect("write");
    writer.write_all(b"\n").expect("write");
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply).expect("reply");
    serde_json::from_str(&reply).unwrap_or_else(|e| panic!("not JSON ({e}): {reply}"))
}

fn ok(reply: Value) -> Value {
    assert_eq!(reply["ok"], true, "{reply:#}");
    reply["result"].clone()
}

fn error(reply: &Value) -> String {
    assert_eq!(reply["ok"], false, "{reply:#}");
    reply["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn workspace() -> TestWorkspace {
    let mut ws = TestWorkspace::new(&[("shop", sample_plugin("shop", "1.4.0", ""))]);
    ws.write("plugins/shop/app.py", APP);
    ws.start_engine();
    // The first deploy holds the plugin's lock, which an accept respects.
    ws.wait_serving("shop");
    ws
}

#[test]
fn a_candidate_is_edited_diffed_and_accepted_while_the_live_source_waits() {
    let ws = workspace();
    let live = ws.path().join("plugins/shop/app.py");
    let made = ok(call(
        &ws,
        "candidate_create",
        json!({"plugin": "shop", "instruction": "newest first"}),
    ));
    let id = made["id"].as_str().expect("id").to_string();
    assert_eq!(made["status"], "open");
    let tree = std::path::PathBuf::from(made["tree"].as_str().expect("tree"));
    assert!(tree.starts_with(ws.state_dir()), "{tree:?}");
    assert_eq!(
        std::fs::read_to_string(tree.join("app.py")).expect("staged"),
        APP
    );

    let edited = ok(call(
        &ws,
        "candidate_edit",
        json!({"id": id, "edits": [
            {"kind": "search_replace", "path": "app.py", "search": "return sorted(rows)", "replace": "return sorted(rows, reverse=True)"}
        ]}),
    ));
    assert_eq!(edited["diff"]["stat"]["files"], 1, "{edited:#}");
    assert_eq!(
        std::fs::read_to_string(&live).expect("live"),
        APP,
        "the live source is untouched"
    );

    let out = ws.naap(&["candidate", "diff", &id]);
    let diff = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(diff.contains("--- a/app.py\n+++ b/app.py\n"), "{diff}");
    assert!(
        diff.contains("-    return sorted(rows)\n+    return sorted(rows, reverse=True)\n"),
        "{diff}"
    );

    // A search that misses: the nearest lines come back, and nothing is written.
    let missed = call(
        &ws,
        "candidate_edit",
        json!({"id": id, "edits": [
            {"kind": "whole_file", "path": "new.py", "content": "x = 1\n"},
            {"kind": "search_replace", "path": "app.py", "search": "  rows = [1, 2, 4]", "replace": "no"}
        ]}),
    );
    let why = error(&missed);
    assert!(
        why.contains("edit 2 of 2 (`app.py`): the search text does not occur"),
        "{why}"
    );
    assert!(why.contains("    2 |     rows = [1, 2, 3]"), "{why}");
    assert!(why.contains("nothing was written"), "{why}");
    assert!(
        !tree.join("new.py").exists(),
        "the first edit of a refused list is not written"
    );

    // Paths out of the plugin directory: refused, nothing written anywhere.
    let outside = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink(outside.path(), tree.join("out")).expect("symlink");
    for path in ["../x.py", "/tmp/naap-candidate-escape.py", "out/x.py"] {
        let reply = call(
            &ws,
            "candidate_edit",
            json!({"id": id, "edits": [
                {"kind": "whole_file", "path": path, "content": "x"}
            ]}),
        );
        assert!(error(&reply).contains(path), "{reply:#}");
    }
    assert_eq!(std::fs::read_dir(outside.path()).expect("dir").count(), 0);
    assert!(!std::path::Path::new("/tmp/naap-candidate-escape.py").exists());
    assert!(!ws.path().join("plugins/x.py").exists());
    std::fs::remove_file(tree.join("out")).expect("unlink");

    // Accepted: the source is written and the derived version recorded.
    let accepted = ws.json(&["candidate", "accept", &id]);
    assert_eq!(
        accepted["version"],
        format!("1.4.1-ai.{id}"),
        "{accepted:#}"
    );
    assert!(
        std::fs::read_to_string(&live)
            .expect("live")
            .contains("reverse=True")
    );
    let shown = ws.json(&["candidate", "show", &id]);
    assert_eq!(shown["status"], "accepted");
    assert_eq!(shown["version"], format!("1.4.1-ai.{id}"));
    let kinds: Vec<&str> = shown["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|s| s["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["created", "edit", "accepted"], "{shown:#}");
    let listed = ws.json(&["candidates", "shop"]);
    assert_eq!(listed[0]["id"], id.as_str());
}

#[test]
fn accept_is_refused_when_the_live_source_changed_and_discard_removes_the_tree() {
    let ws = workspace();
    let made = ok(call(
        &ws,
        "candidate_create",
        json!({"plugin": "shop", "instruction": "x"}),
    ));
    let id = made["id"].as_str().expect("id").to_string();
    let tree = std::path::PathBuf::from(made["tree"].as_str().expect("tree"));
    ok(call(
        &ws,
        "candidate_edit",
        json!({"id": id, "edits": [
            {"kind": "whole_file", "path": "app.py", "content": "print('candidate')\n"}
        ]}),
    ));
    ws.write("plugins/shop/app.py", "print('someone else')\n");
    let out = ws.naap(&["candidate", "accept", &id, "--version", "2.0.0"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("changed since (app.py)") && err.contains("nothing was written"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(ws.path().join("plugins/shop/app.py")).expect("live"),
        "print('someone else')\n"
    );

    let out = ws.naap(&["candidate", "discard", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!tree.exists(), "the staged tree is removed");
    assert_eq!(ws.json(&["candidate", "show", &id])["status"], "discarded");
    let again = call(
        &ws,
        "candidate_edit",
        json!({"id": id, "edits": [
            {"kind": "whole_file", "path": "a.py", "content": "x"}
        ]}),
    );
    assert!(error(&again).contains("is discarded"), "{again:#}");
}

#[test]
fn bad_candidate_requests_get_clear_errors() {
    let ws = workspace();
    let reply = call(&ws, "candidate_show", json!({"id": "nope42"}));
    assert_eq!(reply["error"]["code"], "bad_request", "{reply:#}");
    assert!(
        error(&reply).contains("unknown candidate `nope42`"),
        "{reply:#}"
    );
    let reply = call(
        &ws,
        "candidate_create",
        json!({"plugin": "shop", "instruction": "x", "branch": "y"}),
    );
    assert_eq!(reply["error"]["code"], "bad_request", "{reply:#}");
    assert!(error(&reply).contains("unknown field"), "{reply:#}");
    let reply = call(
        &ws,
        "candidate_edit",
        json!({"id": "nope42", "edits": [
            {"kind": "rename", "path": "a", "to": "b"}
        ]}),
    );
    assert_eq!(reply["error"]["code"], "bad_request", "{reply:#}");
    let reply = call(
        &ws,
        "candidate_create",
        json!({"plugin": "nope", "instruction": "x"}),
    );
    assert_eq!(reply["error"]["code"], "unknown_plugin", "{reply:#}");
}

const TEST_APP: &str = "import unittest\n\nimport app\n\n\nclass AppTest(unittest.TestCase):\n    def test_items(self):\n        self.assertEqual(app.items(), [1, 2, 3])\n\n\nif __name__ == \"__main__\":\n    unittest.main()\n";

#[test]
fn gates_run_on_the_candidate_and_a_broken_test_comes_back_as_a_problem() {
    let manifest = sample_plugin("shop", "1.4.0", "").replace(
        "stop_grace = \"2s\"",
        "stop_grace = \"2s\"\ntest = \"python3 -m unittest -q\"",
    );
    let mut ws = TestWorkspace::new(&[("shop", manifest)]);
    ws.write("plugins/shop/app.py", APP);
    ws.write("plugins/shop/test_app.py", TEST_APP);
    ws.start_engine();
    ws.wait_serving("shop");
    let made = ok(call(
        &ws,
        "candidate_create",
        json!({"plugin": "shop", "instruction": "comment"}),
    ));
    let id = made["id"].as_str().expect("id").to_string();
    ok(call(
        &ws,
        "candidate_edit",
        json!({"id": id, "edits": [
            {"kind": "search_replace", "path": "app.py", "search": "def items():\n", "replace": "def items():\n    # the rows, in order\n"}
        ]}),
    ));
    let run = ok(call(&ws, "candidate_gates", json!({"id": id})));
    assert_eq!(run["passed"], true, "{run:#}");
    assert_eq!(
        ws.json(&["candidate", "show", &id])["status"],
        "gates_passed"
    );

    ok(call(
        &ws,
        "candidate_edit",
        json!({"id": id, "edits": [
            {"kind": "search_replace", "path": "app.py", "search": "return sorted(rows)", "replace": "return sorted(rows, reverse=True)"}
        ]}),
    ));
    let run = ok(call(&ws, "candidate_gates", json!({"id": id})));
    assert_eq!(run["passed"], false, "{run:#}");
    let failed = &run["failed"];
    assert_eq!(failed["gate"], "test", "{run:#}");
    let problem = &failed["problems"][0];
    assert_eq!(problem["file"], "test_app.py", "{run:#}");
    assert_eq!(problem["line"], 8, "{run:#}");
    assert!(
        problem["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("AssertionError"),
        "{run:#}"
    );
    assert_eq!(
        ws.json(&["candidate", "show", &id])["status"],
        "gates_failed"
    );
    // The live source and its tests are untouched.
    assert_eq!(
        std::fs::read_to_string(ws.path().join("plugins/shop/app.py")).expect("live"),
        APP
    );
}

/// Runs git in `dir` (with an identity of its own), its trimmed stdout.
fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@localhost")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@localhost")
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A plugin in a git repository: its candidate is also a branch `naap/candidate-<id>` with
/// a commit per edit, and the person's checkout stays as it was.
#[test]
fn a_candidate_of_a_plugin_in_git_is_also_a_branch_with_a_commit_per_edit() {
    let mut ws = TestWorkspace::new(&[("shop", sample_plugin("shop", "1.4.0", ""))]);
    ws.write("plugins/shop/app.py", APP);
    ws.write(".gitignore", ".naap/\nserve.out\n");
    git(ws.path(), &["init", "-q", "-b", "main"]);
    git(ws.path(), &["add", "-A"]);
    git(ws.path(), &["commit", "-q", "-m", "the workspace"]);
    let head = git(ws.path(), &["rev-parse", "HEAD"]);
    ws.start_engine();
    ws.wait_serving("shop");

    let made = ok(call(
        &ws,
        "candidate_create",
        json!({"plugin": "shop", "instruction": "newest first"}),
    ));
    let id = made["id"].as_str().expect("id").to_string();
    ok(call(
        &ws,
        "candidate_edit",
        json!({"id": id, "edits": [
            {"kind": "search_replace", "path": "app.py", "search": "return sorted(rows)", "replace": "return sorted(rows, reverse=True)"}
        ]}),
    ));
    let branch = format!("naap/candidate-{id}");
    assert_eq!(git(ws.path(), &["rev-parse", &format!("{branch}^")]), head);
    assert!(
        git(
            ws.path(),
            &["show", &format!("{branch}:plugins/shop/app.py")]
        )
        .contains("reverse=True")
    );
    assert!(
        git(ws.path(), &["log", "-1", "--format=%s", &branch])
            .starts_with(&format!("naap candidate {id}: ")),
    );
    // The person's branch and files are untouched until an accept.
    assert_eq!(git(ws.path(), &["rev-parse", "HEAD"]), head);
    assert_eq!(git(ws.path(), &["status", "--porcelain"]), "");
    let shown = ws.json(&["candidate", "show", &id]);
    let noted = shown["history"].as_array().into_iter().flatten().any(|s| {
        s["kind"] == "branch" && s["summary"].as_str().is_some_and(|t| t.contains(&branch))
    });
    assert!(noted, "{shown:#}");
}
