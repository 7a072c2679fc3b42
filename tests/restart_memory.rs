//! What a restarted engine still knows: the output its slots wrote before the restart (read
//! back from `.naap/slots/*.log`, with a notice saying so) and why a slot failed.

mod common;
use common::*;
use serde_json::Value;
use std::time::Duration;

fn messages(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .map(|l| l["message"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn an_adopted_slots_earlier_output_is_read_back_with_a_notice() {
    let manifest = sample_plugin("chatty", "1.0.0", "").replace(
        "command = \"{naap}",
        "command = \"echo 'hello from before the restart'; echo 'ERROR disk almost full' >&2; exec {naap}",
    );
    let mut ws = TestWorkspace::new(&[("chatty", manifest)]);
    ws.start_engine();
    ws.wait_serving("chatty");
    let seen = wait_for(Duration::from_secs(10), || {
        messages(&ws.json_lines(&["logs", "chatty"]))
            .contains(&"hello from before the restart".to_string())
    });
    assert!(seen, "the line never arrived before the restart");
    ws.kill_engine();
    ws.start_engine();
    ws.wait_serving("chatty");

    let lines = ws.json_lines(&["logs", "chatty"]);
    let all = messages(&lines);
    let stdout_notice = lines.iter().position(|l| {
        l["source"] == "engine"
            && l["message"].as_str().is_some_and(|m| {
                m.contains("from before this engine started")
                    && m.contains("chatty.blue.stdout.log")
            })
    });
    let hello = lines
        .iter()
        .position(|l| l["source"] == "stdout" && l["message"] == "hello from before the restart");
    assert!(
        matches!((stdout_notice, hello), (Some(n), Some(h)) if n < h),
        "the earlier stdout, after a notice naming its file: {all:#?}"
    );
    assert!(
        lines.iter().any(|l| l["source"] == "stderr"
            && l["level"] == "error"
            && l["message"] == "ERROR disk almost full"),
        "the earlier stderr, with its level: {all:#?}"
    );
    assert_eq!(
        all.iter()
            .filter(|m| *m == "hello from before the restart")
            .count(),
        1,
        "read back once: {all:#?}"
    );
}

#[test]
fn a_failed_slot_keeps_its_reason_and_its_output_across_a_restart() {
    let manifest = r#"[plugin]
name = "crash"
version = "1.0.0"
route = "/crash"

[run]
command = "echo 'ERROR config missing: DB_URL' >&2; exec sleep 600"
stop_grace = "1s"
startup_timeout = "1s"

[health]
path = "/health"
interval = "200ms"
timeout = "150ms"
"#;
    let mut ws = TestWorkspace::new(&[("crash", manifest.to_string())]);
    ws.start_engine();
    let failed = wait_for(Duration::from_secs(20), || {
        ws.slot("crash", "blue")["process_state"] == "failed"
    });
    assert!(failed, "{:#}", ws.status());
    let reason = ws.slot("crash", "blue")["health_detail"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(reason.starts_with("not healthy after"), "{reason}");

    let out = ws.naap(&["--no-start", "stop"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut engine = ws.engine.take().expect("engine");
    assert!(wait_for(Duration::from_secs(20), || matches!(
        engine.try_wait(),
        Ok(Some(_))
    )));
    ws.start_engine();

    let text = stdout(&ws.naap(&["--no-start", "status"]));
    assert!(
        text.contains(&format!("! blue failed: {reason}")),
        "status after the restart: {text}"
    );
    let lines = ws.json_lines(&["logs", "crash"]);
    assert!(
        lines.iter().any(|l| l["source"] == "stderr"
            && l["level"] == "error"
            && l["message"] == "ERROR config missing: DB_URL"),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l["source"] == "engine"
            && l["message"]
                .as_str()
                .is_some_and(|m| m.contains("crash.blue.stderr.log"))),
        "a notice names the file: {lines:#?}"
    );
}
