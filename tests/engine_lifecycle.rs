//! The engine as a process: its socket deleted or replaced under it, `naap stop` through the
//! socket and through the pid, `stop` then `status` at once, and a failed autostart.

mod common;
use common::lifecycle::{lock_holder, process_runs};
use common::*;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::time::Duration;

fn socket_inode(ws: &TestWorkspace) -> Option<u64> {
    std::fs::symlink_metadata(ws.state_dir().join("engine.sock"))
        .ok()
        .filter(|m| m.file_type().is_socket())
        .map(|m| m.ino())
}

#[test]
fn a_deleted_socket_is_bound_again_and_clients_say_what_is_missing() {
    let mut ws = TestWorkspace::new(&[("web", sample_plugin("web", "1.0.0", ""))]);
    ws.start_engine();
    let pid = ws.status()["engine"]["pid"].as_u64().expect("pid");
    let first = socket_inode(&ws).expect("socket");

    std::fs::remove_file(ws.state_dir().join("engine.sock")).expect("rm socket");
    // Right away: either the socket is already back, or the client says it is gone; never
    // "no engine runs", and never a second engine.
    let out = ws.naap(&["--no-start", "status"]);
    if !out.status.success() {
        let err = stderr(&out);
        assert!(
            err.contains(&format!("engine pid {pid} runs but its socket")),
            "{err}"
        );
        assert!(!err.contains("no naap engine runs"), "{err}");
    }
    let back = wait_for(Duration::from_secs(10), || {
        socket_inode(&ws).is_some_and(|inode| inode != first)
    });
    assert!(back, "the socket was not bound again");
    assert_eq!(ws.status()["engine"]["pid"].as_u64(), Some(pid));

    // A regular file put in its place is replaced by a socket too.
    let path = ws.state_dir().join("engine.sock");
    std::fs::remove_file(&path).expect("rm socket");
    std::fs::write(&path, "not a socket").expect("write file");
    let replaced = wait_for(Duration::from_secs(10), || socket_inode(&ws).is_some());
    assert!(replaced, "the file in the socket's place stayed");
    assert_eq!(ws.status()["engine"]["pid"].as_u64(), Some(pid));
    // The engine log says what happened (it is written in the background: poll).
    let logged = wait_for(Duration::from_secs(10), || {
        let log = engine_log(&ws);
        log.contains("was deleted; bound a new one") && log.contains("was replaced by another file")
    });
    assert!(logged, "{}", engine_log(&ws));
}

/// When the socket cannot come back (a directory sits in its place), `naap stop` stops the
/// engine through the pid in its lock file, and waits until it is gone.
#[test]
fn stop_reaches_an_engine_whose_socket_cannot_come_back_through_its_pid() {
    let mut ws = TestWorkspace::new(&[("web", sample_plugin("web", "1.0.0", ""))]);
    ws.start_engine();
    ws.wait_serving("web");
    let pid = ws.status()["engine"]["pid"].as_u64().expect("pid") as u32;
    let (lock_pid, start) = lock_holder(&ws.state_dir()).expect("lock file");
    assert_eq!(lock_pid, pid);
    assert!(start.is_some(), "the lock file names no start time");
    let slot_pid = ws.slot("web", "blue")["pid"].as_u64().expect("slot pid") as u32;

    let path = ws.state_dir().join("engine.sock");
    std::fs::remove_file(&path).expect("rm socket");
    std::fs::create_dir(&path).expect("dir in the socket's place");
    let out = ws.naap(&["--no-start", "status"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!("engine pid {pid} runs but its socket")),
        "{}",
        stderr(&out)
    );

    let out = ws.naap(&["--no-start", "stop", "--plugins"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("sent it SIGTERM"), "{}", stderr(&out));
    // `stop` returned only once the engine was gone, with its plugins.
    assert!(!process_runs(pid), "engine pid {pid} still runs after stop");
    assert!(!process_runs(slot_pid), "slot pid {slot_pid} still runs");
    let exited = ws.engine.as_mut().map(|c| c.wait().expect("wait"));
    assert!(exited.is_some_and(|s| s.success()), "{exited:?}");
    ws.engine = None;
    std::fs::remove_dir(&path).expect("rmdir");
}

/// The lock is held but the pid its file names is another process (pid reuse): nothing is
/// signalled.
#[test]
fn stop_never_signals_a_pid_that_is_not_the_lock_holder() {
    use std::os::fd::AsRawFd;
    let ws = TestWorkspace::new(&[("web", sample_plugin("web", "1.0.0", ""))]);
    std::fs::create_dir_all(ws.state_dir()).expect("state dir");
    let mut bystander = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .expect("sleep");
    // The lock held by this test, naming the bystander with a start time it never had.
    let lock = std::fs::File::create(ws.state_dir().join("engine.lock")).expect("lock");
    // SAFETY: flock on a descriptor this test owns.
    assert_eq!(
        unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) },
        0
    );
    std::fs::write(
        ws.state_dir().join("engine.lock"),
        format!("{} 1\n", bystander.id()),
    )
    .expect("write lock");

    let out = ws.naap(&["--no-start", "stop", "--plugins"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is now a different process"),
        "{}",
        stderr(&out)
    );
    assert!(
        matches!(bystander.try_wait(), Ok(None)),
        "the bystander was signalled"
    );
    let _ = bystander.kill();
    let _ = bystander.wait();
    drop(lock);
}

#[test]
fn stop_then_status_at_once_finds_no_old_engine() {
    let mut ws = TestWorkspace::new(&[("web", sample_plugin("web", "1.0.0", ""))]);
    ws.start_engine();
    ws.wait_serving("web");
    let old = ws.status()["engine"]["pid"].as_u64().expect("pid");
    let out = ws.naap(&["--no-start", "stop", "--plugins"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !process_runs(old as u32),
        "stop returned while the engine ran"
    );
    // At once: this autostarts a fresh engine, which must not meet the old one's lock.
    let out = ws.naap(&["status", "--json"]);
    assert!(
        out.status.success(),
        "status after stop failed: {}",
        stderr(&out)
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let new = status["engine"]["pid"].as_u64().expect("pid");
    assert_ne!(new, old);
    if let Some(mut child) = ws.engine.take() {
        let _ = child.wait();
    }
    // The autostarted engine is not our child: stop it (and wait) through the CLI.
    let out = ws.naap(&["--no-start", "stop", "--plugins"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!process_runs(new as u32));
}

#[test]
fn autostart_failure_shows_only_this_attempt_and_names_the_cause() {
    let ws = TestWorkspace::new(&[("web", sample_plugin("web", "1.0.0", ""))]);
    std::fs::create_dir_all(ws.state_dir()).expect("state dir");
    // An earlier engine's output, with an unrelated error.
    std::fs::write(
        ws.state_dir().join("engine.out"),
        "naap engine 0.0.9 serving /old\nnaap: an old unrelated failure\n",
    )
    .expect("engine.out");
    std::fs::create_dir(ws.state_dir().join("naap.db")).expect("db dir");

    let out = ws.naap(&["status"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("naap.db is a directory"), "{err}");
    assert!(!err.contains("old unrelated failure"), "{err}");
    assert!(!err.contains("0.0.9"), "{err}");
    assert!(!err.contains("state directory exists"), "{err}");
    // The cause comes first, not buried under the output.
    let first = err.lines().next().unwrap_or_default();
    assert!(first.contains("is a directory"), "{err}");
}

fn engine_log(ws: &TestWorkspace) -> String {
    let dir = ws.state_dir().join("logs");
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
    }
    text
}
