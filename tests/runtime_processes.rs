//! Plugins that are not the sample service, and a version that crash-loops.

mod common;
use common::*;
use std::time::Duration;

/// A plugin that is an arbitrary command: Python's own HTTP server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_arbitrary_command_deploys_and_serves() {
    let manifest = r#"[plugin]
name = "static"
version = "1.0.0"
route = "/static"

[run]
command = "python3 -m http.server $PORT --bind 127.0.0.1"

[health]
path = "/"
interval = "200ms"
timeout = "150ms"
"#;
    let mut ws = TestWorkspace::new(&[("static", manifest.to_string())]);
    ws.write("plugins/static/hello.txt", "hello from python\n");
    ws.start_engine();
    ws.wait_serving("static");
    let url = format!("http://{}/static/hello.txt", ws.router());
    let resp = client().get(&url).send().await.expect("request");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-naap-slot"], "blue");
    assert_eq!(resp.text().await.expect("body"), "hello from python\n");

    // Its request log (on stderr) reaches naap's log buffer.
    let ok = wait_for(Duration::from_secs(10), || {
        !ws.json_lines(&["logs", "static", "--grep", "hello.txt"])
            .is_empty()
    });
    assert!(ok, "python's request log never arrived");
}

/// A shell one-liner that crash-loops for version 2: the deploy fails, the slot ends failed,
/// and traffic never leaves the healthy slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_looping_version_ends_failed_while_traffic_stays() {
    let manifest = r#"[plugin]
name = "flaky"
version = "1.0.0"
route = "/flaky"

[run]
command = "if [ \"$NAAP_VERSION\" = 2.0.0 ]; then echo 'ERROR config missing' >&2; exit 3; fi; exec {naap} sample-service --port {port} --version {version}"
startup_timeout = "60s"

[health]
interval = "200ms"
timeout = "150ms"
"#;
    let mut ws = TestWorkspace::new(&[("flaky", manifest.to_string())]);
    ws.start_engine();
    ws.wait_serving("flaky");
    let url = format!("http://{}/flaky/api/items", ws.router());

    let out = ws.naap(&["deploy", "flaky", "--version", "2.0.0"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the deploy must fail: {}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("traffic is unchanged"),
        "{}",
        stderr(&out)
    );
    let green = ws.slot("flaky", "green");
    assert_eq!(green["process_state"], "failed", "{green:#}");
    assert_eq!(green["weight"], 0);
    assert!(
        green["restarts"].as_u64() >= Some(2),
        "it was restarted before giving up: {green:#}"
    );
    assert_eq!(
        versions_answering(&client(), &url, 20).await,
        [("1.0.0".to_string(), 20)].into()
    );

    let logs = ws.json_lines(&["logs", "flaky", "--slot", "green", "--level", "error"]);
    assert!(
        logs.iter().any(|line| line["source"] == "stderr"
            && line["message"]
                .as_str()
                .unwrap_or("")
                .contains("config missing")),
        "{logs:#?}"
    );
}

/// A live slot whose process is killed is restarted by the runtime, health-checked afresh,
/// and serves again; meanwhile the router sends it nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_slot_process_is_restarted_and_serves_again() {
    // A health interval much longer than the restart backoff: the checker may never see
    // the outage, so the restart itself must reset the slot's health.
    let manifest =
        sample_plugin("phoenix", "1.0.0", "").replace("interval = \"200ms\"", "interval = \"30s\"");
    let mut ws = TestWorkspace::new(&[("phoenix", manifest)]);
    ws.start_engine();
    ws.wait_serving("phoenix");
    let pid = ws.slot("phoenix", "blue")["pid"].as_u64().expect("pid");
    // SAFETY: killing the process group naap created for the slot.
    unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };

    let restarted = wait_for(std::time::Duration::from_secs(20), || {
        let slot = ws.slot("phoenix", "blue");
        slot["pid"].as_u64().is_some_and(|p| p != pid)
            && slot["health"] == "healthy"
            && slot["process_state"] == "running"
    });
    assert!(
        restarted,
        "not restarted and healthy: {:#}",
        ws.slot("phoenix", "blue")
    );
    assert!(ws.slot("phoenix", "blue")["restarts"].as_u64() >= Some(1));
    let url = format!("http://{}/phoenix/api/items", ws.router());
    assert_eq!(
        versions_answering(&client(), &url, 10).await,
        [("1.0.0".to_string(), 10)].into()
    );
    let kinds: Vec<String> = ws.json(&["history", "phoenix"])["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["kind"].as_str().map(str::to_string))
        .collect();
    assert!(kinds.iter().any(|k| k == "process_exited"), "{kinds:?}");
}
