//! A plugin whose server leaves the slot's process group with `setsid`, and how to tell
//! whether a process is still there.

use super::TestWorkspace;
use std::path::PathBuf;
use std::time::Duration;

/// A plugin whose shell backgrounds `setsid python3 -m http.server`, so the server runs in
/// a session and group of its own, and waits for it. The server writes its pid (and start
/// time, via /proc) to `pid.<slot>` in the plugin directory before it execs.
pub fn setsid_plugin(name: &str, version: &str) -> String {
    format!(
        r#"[plugin]
name = "{name}"
version = "{version}"
route = "/{name}"

[run]
command = "setsid sh -c 'echo $$ > pid.$NAAP_SLOT.tmp && mv pid.$NAAP_SLOT.tmp pid.$NAAP_SLOT && exec python3 -m http.server {{port}} --bind 127.0.0.1' & wait"
stop_grace = "2s"
startup_timeout = "20s"

[health]
path = "/"
interval = "200ms"
timeout = "150ms"

[strategy]
kind = "blue-green"

[rollback]
keep_previous_warm = "0s"
"#
    )
}

/// A process named by pid and start time, so a reused pid is never mistaken for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Proc {
    pub pid: u32,
    pub start_time: u64,
}

impl Proc {
    /// Whether this very process still runs (a zombie counts as gone).
    pub fn alive(&self) -> bool {
        read_stat(self.pid).is_some_and(|(state, start)| start == self.start_time && state != 'Z')
    }

    /// Its process group and session.
    pub fn group_and_session(&self) -> Option<(u32, u32)> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?))
    }
}

/// State letter and start time from `/proc/PID/stat`.
fn read_stat(pid: u32) -> Option<(char, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some((
        fields.first()?.chars().next()?,
        fields.get(19)?.parse().ok()?,
    ))
}

/// The `setsid` server of a slot, once it has written its pid file and runs.
pub fn setsid_server(ws: &TestWorkspace, plugin: &str, slot: &str) -> Proc {
    let file: PathBuf = ws
        .path()
        .join("plugins")
        .join(plugin)
        .join(format!("pid.{slot}"));
    let mut found = None;
    let ok = super::wait_for(Duration::from_secs(20), || {
        found = std::fs::read_to_string(&file)
            .ok()
            .and_then(|text| text.trim().parse::<u32>().ok())
            .and_then(|pid| read_stat(pid).map(|(_, start_time)| Proc { pid, start_time }));
        found.is_some()
    });
    assert!(ok, "{} never appeared", file.display());
    found.expect("found")
}

/// Waits until `process` is gone; false if it still runs after the deadline.
pub fn gone(process: Proc) -> bool {
    super::wait_for(Duration::from_secs(15), || !process.alive())
}

/// SIGKILL, for cleaning up after a failed assertion.
pub fn kill(process: Proc) {
    if process.alive() {
        // SAFETY: sending a signal to a process this test started (checked by start time).
        unsafe { libc::kill(process.pid as i32, libc::SIGKILL) };
    }
}

/// `naap stop --plugins`, then waits for the engine process to exit.
pub fn stop_engine_with_plugins(ws: &mut TestWorkspace) {
    let out = ws.naap(&["--no-start", "stop", "--plugins"]);
    assert!(out.status.success(), "{}", super::stderr(&out));
    let mut engine = ws.engine.take().expect("an engine runs");
    let exited = super::wait_for(Duration::from_secs(20), || {
        matches!(engine.try_wait(), Ok(Some(_)))
    });
    if !exited {
        let _ = engine.kill();
        let _ = engine.wait();
    }
    assert!(
        exited,
        "the engine did not exit after `naap stop --plugins`"
    );
}
