//! One pass over `/proc`: every process with its parent, group, session and start time, for
//! finding all the processes that belong to a slot.

use super::all_stats;

/// One process as `/proc/PID/stat` describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessEntry {
    pub pid: u32,
    pub ppid: u32,
    pub pgrp: u32,
    pub session: u32,
    /// Clock ticks since boot; with `pid`, names the process across pid reuse.
    pub start_time: u64,
    /// False for zombies and dead entries.
    pub live: bool,
}

/// Every process visible in `/proc` (empty when `/proc` is not mounted).
pub fn process_table() -> Vec<ProcessEntry> {
    all_stats()
        .map(|(pid, stat)| ProcessEntry {
            pid,
            ppid: stat.ppid,
            pgrp: stat.pgrp,
            session: stat.session,
            start_time: stat.start_time,
            live: stat.is_live(),
        })
        .collect()
}

/// Whether the initial environment of a process (`/proc/PID/environ`, the one it was
/// exec'd with) holds exactly `entry` (`NAME=value`). False when it cannot be read: another
/// user's process, or one that exited.
pub fn environ_contains(pid: u32, entry: &str) -> bool {
    any_variable(pid, |variable| variable == entry.as_bytes())
}

/// Whether `/proc/PID/environ` has a variable that starts with `prefix`.
pub fn environ_has_prefix(pid: u32, prefix: &str) -> bool {
    any_variable(pid, |variable| variable.starts_with(prefix.as_bytes()))
}

fn any_variable(pid: u32, test: impl Fn(&[u8]) -> bool) -> bool {
    let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
        return false;
    };
    environ.split(|&b| b == 0).any(test)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    #[test]
    fn lists_a_child_with_its_parent_and_reads_its_environment() {
        let mut child = Command::new("sleep")
            .arg("30")
            .env("NAAP_TABLE_TEST", "marker-1")
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn sleep");
        let pid = child.id();
        let entry = process_table()
            .into_iter()
            .find(|e| e.pid == pid)
            .expect("the child is listed");
        assert_eq!(entry.ppid, std::process::id());
        assert!(entry.live);
        // The child's environment is readable once its exec has completed; on a loaded
        // machine that can trail `spawn` returning, so poll with a deadline.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !environ_contains(pid, "NAAP_TABLE_TEST=marker-1") {
            assert!(
                std::time::Instant::now() < deadline,
                "the child's environment never showed the marker"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(!environ_contains(pid, "NAAP_TABLE_TEST=marker"));
        assert!(!environ_contains(u32::MAX, "NAAP_TABLE_TEST=marker-1"));
        child.kill().expect("kill sleep");
        child.wait().expect("reap sleep");
    }
}
