//! `naap serve` killed with SIGKILL and started again: slots adopted (or restarted), the
//! event history complete, the router serving.

mod common;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_engine_adopts_its_slots_on_restart() {
    let mut ws = TestWorkspace::new(&[
        ("api", sample_plugin("api", "1.0.0", "")),
        ("web", sample_plugin("web", "3.1.0", "")),
    ]);
    ws.start_engine();
    ws.wait_serving("api");
    ws.wait_serving("web");
    ws.json(&["deploy", "api", "--version", "1.1.0"]);
    let api_green_pid = ws.slot("api", "green")["pid"].as_u64().expect("green pid");
    let events_before = ws.json(&["history", "api"])["events"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);

    ws.kill_engine();
    // The plugins outlive the engine.
    // SAFETY: signal 0 only checks that the process exists.
    assert_eq!(
        unsafe { libc::kill(api_green_pid as i32, 0) },
        0,
        "the slot process died with the engine"
    );

    // Kill one slot too, so restart has both cases: adopt and restart.
    let web_pid = ws.slot_pid_from_store("web", "blue");
    // SAFETY: killing the process group naap created for that slot.
    unsafe { libc::kill(-(web_pid as i32), libc::SIGKILL) };

    ws.start_engine();
    ws.wait_serving("api");
    ws.wait_serving("web");
    let green = ws.slot("api", "green");
    assert_eq!(
        green["pid"].as_u64(),
        Some(api_green_pid),
        "the running process was adopted, not replaced"
    );
    assert_eq!(green["weight"], 100);
    assert_eq!(ws.slot("api", "blue")["weight"], 0);
    assert_eq!(ws.slot("api", "blue")["version"], "1.0.0");
    assert_ne!(
        ws.slot("web", "blue")["pid"].as_u64(),
        Some(web_pid as u64),
        "the dead process was restarted"
    );

    let http = client();
    let router = ws.router();
    assert_eq!(
        versions_answering(&http, &format!("http://{router}/api/"), 10).await,
        [("1.1.0".to_string(), 10)].into()
    );
    assert_eq!(
        versions_answering(&http, &format!("http://{router}/web/"), 10).await,
        [("3.1.0".to_string(), 10)].into()
    );

    // Nothing recorded before the kill is lost, and the restart itself is recorded.
    let history = ws.json(&["history", "api", "--limit", "1000"]);
    let events = history["events"].as_array().expect("events");
    assert!(
        events.len() > events_before,
        "{} events now, {events_before} before",
        events.len()
    );
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert!(kinds.contains(&"slot_adopted"), "{kinds:?}");
    assert!(
        kinds.iter().filter(|k| **k == "deploy_succeeded").count() >= 2,
        "{kinds:?}"
    );
    let web = ws.json(&["history", "web"]);
    assert!(
        web["events"]
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["kind"] == "slot_restarted")
    );
}

trait StorePid {
    fn slot_pid_from_store(&self, plugin: &str, slot: &str) -> i64;
}

impl StorePid for TestWorkspace {
    /// Reads the pid straight from SQLite: the engine is down, so the CLI cannot be asked.
    fn slot_pid_from_store(&self, plugin: &str, slot: &str) -> i64 {
        let conn =
            rusqlite::Connection::open(self.state_dir().join("naap.db")).expect("open store");
        conn.query_row(
            "SELECT pid FROM slots WHERE plugin = ?1 AND slot = ?2",
            [plugin, slot],
            |r| r.get(0),
        )
        .expect("pid")
    }
}
