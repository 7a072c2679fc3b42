//! Every process of a slot stops with it, also one that left the slot's process group with
//! `setsid`, and also after the engine was killed and a new engine took over.

mod common;
use common::containment::{
    Proc, gone, kill, setsid_plugin, setsid_server, stop_engine_with_plugins,
};
use common::*;
use std::time::Duration;

/// Kills the servers on drop, so a failing assertion leaves nothing running.
struct Cleanup(Vec<Proc>);
impl Drop for Cleanup {
    fn drop(&mut self) {
        self.0.iter().copied().for_each(kill);
    }
}

fn started(name: &str) -> (TestWorkspace, Proc, Cleanup) {
    let mut ws = TestWorkspace::new(&[(name, setsid_plugin(name, "1.0.0"))]);
    ws.start_engine();
    ws.wait_serving(name);
    let server = setsid_server(&ws, name, "blue");
    let leader = ws.slot(name, "blue")["pid"].as_u64().expect("pid") as u32;
    let (group, session) = server.group_and_session().expect("server stat");
    assert!(
        group != leader && session != leader,
        "the server must have left the slot's group and session (group {group}, session {session}, slot pid {leader})"
    );
    (ws, server, Cleanup(vec![server]))
}

#[test]
fn stop_with_plugins_stops_a_setsid_child() {
    let (mut ws, server, _cleanup) = started("detached");
    stop_engine_with_plugins(&mut ws);
    assert!(
        gone(server),
        "the setsid'd server {server:?} outlived `naap stop --plugins`"
    );
}

#[test]
fn a_redeploy_stops_the_old_slots_setsid_child() {
    let (ws, old, mut cleanup) = started("redeployed");
    let out = ws.naap(&["deploy", "redeployed", "--version", "1.0.1"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let new = setsid_server(&ws, "redeployed", "green");
    cleanup.0.push(new);
    assert!(
        gone(old),
        "the old slot's setsid'd server {old:?} outlived the redeploy"
    );
    assert!(new.alive(), "the new slot's server runs");
    // The slot is marked stopped once its supervisor has read the last output, a moment
    // after the process is gone.
    assert!(
        wait_for(
            Duration::from_secs(10),
            || ws.slot("redeployed", "blue")["process_state"] == "stopped"
        ),
        "{:#}",
        ws.slot("redeployed", "blue")
    );
}

#[test]
fn the_next_engine_stops_what_a_killed_engine_started() {
    let (mut ws, server, _cleanup) = started("adopted");
    ws.kill_engine();
    assert!(server.alive(), "a killed engine leaves its plugins running");
    ws.start_engine();
    ws.wait_serving("adopted");
    stop_engine_with_plugins(&mut ws);
    assert!(
        gone(server),
        "the setsid'd server {server:?} outlived the next engine's stop"
    );
}

/// The slot's shell dies while no engine runs, so its `setsid` child is reparented to init
/// and nothing in the process tree leads to it: the next engine still finds it (by the
/// slot's marker) and kills it before starting the slot again.
#[test]
fn an_orphan_left_by_a_killed_engine_is_killed_before_the_slot_starts_again() {
    let (mut ws, old, mut cleanup) = started("orphaned");
    let leader = ws.slot("orphaned", "blue")["pid"].as_u64().expect("pid") as i32;
    ws.kill_engine();
    let pid_file = ws.path().join("plugins/orphaned/pid.blue");
    std::fs::remove_file(&pid_file).expect("remove the pid file");
    // SAFETY: killing the slot's shell only (not its group), which this test started.
    unsafe { libc::kill(leader, libc::SIGKILL) };
    let reparented = wait_for(Duration::from_secs(10), || {
        std::fs::read_to_string(format!("/proc/{}/stat", old.pid)).is_ok_and(|s| {
            s[s.rfind(')').unwrap_or(0) + 2..].split(' ').nth(1) != Some(&leader.to_string())
        })
    });
    assert!(reparented && old.alive(), "the server outlives its shell");

    ws.start_engine();
    let new = setsid_server(&ws, "orphaned", "blue");
    cleanup.0.push(new);
    assert!(
        gone(old),
        "the orphaned server {old:?} was left running by the next engine"
    );
    ws.wait_serving("orphaned");
    let history = ws.json(&["history", "orphaned"]);
    let events = history["events"].as_array().cloned().unwrap_or_default();
    assert!(
        events.iter().any(|e| e["kind"] == "slot_leftovers_killed"
            && e["message"]
                .as_str()
                .unwrap_or("")
                .contains(&old.pid.to_string())),
        "{events:#?}"
    );
}
