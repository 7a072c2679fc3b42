//! A production workspace (`environment = "production"` in naap.toml): every change needs a
//! person's confirmation naming production and the plugin, at the engine's socket, so no
//! face can skip it. The CLI takes `--yes` only with `--env production`; MCP's
//! `--allow-changes` is refused; reads run as everywhere.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;

fn production_workspace() -> TestWorkspace {
    let mut ws = TestWorkspace::new(&[("shop", sample_plugin("shop", "1.0.0", ""))]);
    ws.prepend_to_naap_toml("environment = \"production\"");
    ws.start_engine();
    ws.wait_serving("shop");
    ws
}

/// One request line on the engine's socket, and its reply.
fn socket_call(ws: &TestWorkspace, line: &str) -> serde_json::Value {
    let socket = naap::core::engine::socket_path(&ws.state_dir());
    let mut stream = UnixStream::connect(socket).expect("the engine's socket");
    stream.write_all(line.as_bytes()).expect("send");
    stream.write_all(b"\n").expect("send");
    let mut reply = String::new();
    BufReader::new(stream)
        .read_line(&mut reply)
        .expect("a reply");
    serde_json::from_str(&reply).expect("a JSON reply")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_to_production_needs_a_confirmation_naming_it() {
    let ws = production_workspace();
    assert_eq!(ws.status()["engine"]["environment"], "production");

    // A script without a confirmation: refused, nothing changed, and told what to add.
    let out = ws.naap(&["deploy", "shop", "--version", "2.0.0"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("shop is in a production workspace") && err.contains("nothing changed"),
        "{err}"
    );
    assert!(err.contains("--yes --env production"), "{err}");
    assert_eq!(ws.slot("shop", "green")["version"], serde_json::Value::Null);

    // --yes alone is not enough: a script cannot change production by accident.
    let out = ws.naap(&["deploy", "shop", "--version", "2.0.0", "--yes"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--yes alone does not change production"));

    // --env naming another environment is a usage error, before anything is sent.
    let out = ws.naap(&[
        "deploy",
        "shop",
        "--version",
        "2.0.0",
        "--yes",
        "--env",
        "staging",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("this workspace is production"));

    // Reads need nothing.
    ws.json(&["history", "shop"]);
    ws.json(&["deploy", "shop", "--version", "2.0.0", "--dry-run"]);

    // With it, the change is applied, and the line that says so names production.
    let out = ws.naap(&[
        "deploy",
        "shop",
        "--version",
        "2.0.0",
        "--yes",
        "--env",
        "production",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("[production] "),
        "{}",
        stdout(&out)
    );
    assert_eq!(ws.slot("shop", "green")["version"], "2.0.0");
    let back = ws.json(&["rollback", "shop", "--yes", "--env", "production"]);
    assert_eq!(back["kind"], "flip", "{back:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socket_refuses_an_unconfirmed_or_misnamed_change_whatever_the_face() {
    let ws = production_workspace();
    let traffic =
        r#""method":"traffic","params":{"plugin":"shop","weights":{"blue":100,"green":0}}"#;

    // As a face that forgot (or an MCP client that says it may): refused with the hint.
    let reply = socket_call(&ws, &format!(r#"{{"id":1,{traffic},"face":"mcp"}}"#));
    assert_eq!(reply["ok"], false, "{reply:#}");
    assert_eq!(reply["error"]["code"], "needs_confirmation");
    assert_eq!(reply["error"]["hints"][0]["do"], "confirm");
    assert_eq!(reply["error"]["hints"][0]["environment"], "production");
    assert_eq!(reply["error"]["hints"][0]["plugin"], "shop");

    // A confirmation of another plugin, or of another environment, is not one of this.
    let reply = socket_call(
        &ws,
        &format!(r#"{{"id":2,{traffic},"confirm":{{"environment":"production","plugin":"web"}}}}"#),
    );
    assert_eq!(reply["error"]["code"], "needs_confirmation", "{reply:#}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("names web, not shop")),
        "{reply:#}"
    );
    let reply = socket_call(
        &ws,
        &format!(r#"{{"id":3,{traffic},"confirm":{{"environment":"staging","plugin":"shop"}}}}"#),
    );
    assert_eq!(reply["error"]["code"], "needs_confirmation", "{reply:#}");

    // A read runs unconfirmed; the confirmed change runs.
    let reply = socket_call(&ws, r#"{"id":4,"method":"status","params":{}}"#);
    assert_eq!(reply["ok"], true);
    let reply = socket_call(
        &ws,
        &format!(
            r#"{{"id":5,{traffic},"confirm":{{"environment":"production","plugin":"shop"}}}}"#
        ),
    );
    assert_eq!(reply["ok"], true, "{reply:#}");

    // Nothing refused reached the audit log; the one that ran did.
    let history = ws.json(&["history", "shop"]);
    let traffic_audits = history["audit"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["action"] == "traffic")
        .count();
    assert_eq!(traffic_audits, 1, "{history:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_allow_changes_is_refused_in_production() {
    let ws = production_workspace();
    let out = ws.naap(&["mcp", "--allow-changes"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("--allow-changes is refused in a production workspace"),
        "{err}"
    );
    assert!(err.contains("naap approve"), "{err}");
}

#[test]
fn an_unknown_environment_is_a_positioned_error_with_a_suggestion() {
    let ws = TestWorkspace::new(&[("shop", sample_plugin("shop", "1.0.0", ""))]);
    ws.prepend_to_naap_toml("environment = \"prod\"");
    let out = ws.naap(&["validate"]);
    assert_eq!(out.status.code(), Some(1));
    let err = format!("{}{}", stdout(&out), stderr(&out));
    assert!(err.contains("naap.toml:1:"), "{err}");
    assert!(err.contains("unknown environment `prod`"), "{err}");
    assert!(err.contains("did you mean `production`?"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_proposal_runs_in_production_only_with_the_confirmation() {
    let ws = production_workspace();
    ws.json(&[
        "deploy",
        "shop",
        "--version",
        "2.0.0",
        "--yes",
        "--env",
        "production",
    ]);
    let chat = |extra: &[&str]| {
        let mut args = vec![
            "chat",
            "--provider",
            "offline",
            "--json",
            "roll back shop",
            "--yes",
        ];
        args.extend_from_slice(extra);
        ws.naap(&args)
    };
    // --yes without --env: the proposal is made, and the engine refuses to run it.
    let out = chat(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let turn: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(turn["proposals"][0]["status"], "failed", "{turn:#}");
    assert!(
        turn["proposals"][0]["outcome"]
            .as_str()
            .is_some_and(|o| o.contains("production workspace")),
        "{turn:#}"
    );
    assert_eq!(ws.slot("shop", "green")["weight"], 100, "nothing moved");

    // With --env production it runs, audited as the operator's.
    let out = chat(&["--env", "production"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(ws.slot("shop", "blue")["weight"], 100);
}
