//! A slot that never becomes healthy says why: the last check's error, and the port its
//! process listens on when that is not the one naap gave it.

mod common;
use common::*;
use std::time::Duration;

fn manifest(name: &str, command: &str) -> String {
    format!(
        r#"[plugin]
name = "{name}"
version = "1.0.0"
route = "/{name}"

[run]
command = "{command}"
stop_grace = "1s"
startup_timeout = "1s"

[health]
path = "/health"
interval = "200ms"
timeout = "150ms"
"#
    )
}

/// Deploys again (the engine's first deploy already failed) and returns the CLI's stderr.
fn failed_deploy(ws: &TestWorkspace, plugin: &str) -> String {
    // Generous: under a loaded machine the first deploy and its startup timeout take a while.
    let failed = wait_for(Duration::from_secs(60), || {
        ws.slot(plugin, "blue")["process_state"] == "failed"
    });
    assert!(failed, "{:#}", ws.status());
    let out = ws.naap(&["deploy", plugin, "--version", "1.0.1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    stderr(&out)
}

#[test]
fn a_plugin_that_never_listens_shows_the_refused_check() {
    let mut ws = TestWorkspace::new(&[("mute", manifest("mute", "exec sleep 600"))]);
    ws.start_engine();
    let err = failed_deploy(&ws, "mute");
    assert!(
        err.contains("last check: GET /health: connection refused"),
        "{err}"
    );
    assert!(!err.contains("waiting for the first health check"), "{err}");
    let detail = ws.slot("mute", "blue")["health_detail"].clone();
    assert!(
        detail
            .as_str()
            .is_some_and(|d| d.contains("connection refused")),
        "{detail}"
    );
}

#[test]
fn a_plugin_on_another_port_is_told_which_port_it_listens_on() {
    let other = std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let command =
        format!("exec {{naap}} sample-service --name astray --port {other} --version {{version}}");
    let mut ws = TestWorkspace::new(&[("astray", manifest("astray", &command))]);
    ws.start_engine();
    let err = failed_deploy(&ws, "astray");
    assert!(
        err.contains(&format!("it listens on port {other} instead of")),
        "{err}"
    );
    let detail = ws.slot("astray", "blue")["health_detail"].clone();
    assert!(
        detail
            .as_str()
            .is_some_and(|d| d.contains(&format!("port {other}"))),
        "{detail}"
    );
}
