//! Which processes belong to a slot, so that a stop leaves none of them running.
//!
//! A process group is not enough: `setsid` (or `setpgid`) moves a process out of it, and
//! after the engine restarts, a process whose parent died has been reparented to init, so
//! the process tree no longer leads to it either. A slot's processes are therefore found
//! by three marks, in one pass over `/proc`:
//!
//! - its group and session: the slot's first process leads both (it is started with
//!   `setsid`), so everything that did not leave them is found by id;
//! - the process tree: every descendant of a found process, whatever group it moved to;
//! - a marker in the environment, `NAAP_SLOT_ID=<log dir>/<plugin>.<slot>`, which every
//!   process inherits unless it clears its environment. It names the workspace too, so two
//!   workspaces with a plugin of the same name never touch each other's processes, and it
//!   still finds a `setsid` daemon whose parent is gone, after any number of engine
//!   restarts.
//!
//! This is what systemd gets from a cgroup per unit. naap does not create cgroups yet
//! (issue 11 adds them where the host delegates a cgroup v2 subtree); [`mechanism`] says
//! what applies on this host. A process that both clears its environment and leaves the
//! tree before the stop begins is not found.
//!
//! No child subreaper either: it would make the engine the parent of every orphan (which
//! it must then reap) without telling which slot an orphan came from; the marker does.

use super::{ProcessId, SlotSpec};
use crate::core::procstat::{self, ProcessEntry};
use crate::core::types::SlotName;
use std::collections::HashSet;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;

/// The environment variable that marks every process of a slot.
pub const SLOT_ID_VAR: &str = "NAAP_SLOT_ID";

/// The processes of one slot: found by its marker, and by its leader's group, session and
/// descendants while the leader is known.
#[derive(Clone, Debug)]
pub(super) struct Scope {
    /// `NAAP_SLOT_ID=...`, as it appears in `/proc/PID/environ`.
    marker: String,
    /// The slot's first process (group and session leader), when known.
    leader: Option<ProcessId>,
}

/// The value of [`SLOT_ID_VAR`] for a slot: the common prefix of its log files.
pub(super) fn slot_id(spec: &SlotSpec) -> String {
    slot_id_of(&spec.log_dir, &spec.plugin, spec.slot, spec.replica)
}

/// Each replica has a marker of its own (compared whole, so `.blue` never matches
/// `.blue.r1`): stopping one replica leaves its siblings running.
fn slot_id_of(log_dir: &Path, plugin: &str, slot: SlotName, replica: u32) -> String {
    log_dir
        .join(super::unit_name(plugin, slot, replica))
        .display()
        .to_string()
}

impl Scope {
    pub fn new(spec: &SlotSpec, leader: Option<ProcessId>) -> Scope {
        Scope {
            marker: format!("{SLOT_ID_VAR}={}", slot_id(spec)),
            leader,
        }
    }

    /// The slot `plugin`/`slot` whose log files are in `log_dir`.
    pub fn of(log_dir: &Path, plugin: &str, slot: SlotName, leader: Option<ProcessId>) -> Scope {
        Scope {
            marker: format!("{SLOT_ID_VAR}={}", slot_id_of(log_dir, plugin, slot, 0)),
            leader,
        }
    }

    /// The same slot, led by `leader`.
    pub fn led_by(&self, leader: ProcessId) -> Scope {
        Scope {
            marker: self.marker.clone(),
            leader: Some(leader),
        }
    }

    /// Every live process of the slot, the leader included, read from `/proc` now.
    pub fn members(&self) -> Vec<ProcessId> {
        let table = procstat::process_table();
        members_in(&table, self.leader, std::process::id(), |pid| {
            procstat::environ_contains(pid, &self.marker)
        })
    }
}

/// The live processes of a slot's extra replicas (1 and up), found by their markers alone:
/// the engine keeps no pid for them across a restart, so after a crash this is how the next
/// engine finds what the last one left running before it starts them again.
pub(super) fn replica_orphans(log_dir: &Path, plugin: &str, slot: SlotName) -> Vec<ProcessId> {
    let prefix = format!("{SLOT_ID_VAR}={}.r", slot_id_of(log_dir, plugin, slot, 0));
    let table = procstat::process_table();
    members_in(&table, None, std::process::id(), |pid| {
        procstat::environ_has_prefix(pid, &prefix)
    })
}

/// The slot's live processes in `table`: the leader, its group and session (processes that
/// started after it: a reused id cannot predate its owner), processes carrying the marker,
/// and every descendant of those. Never the engine itself or init.
fn members_in(
    table: &[ProcessEntry],
    leader: Option<ProcessId>,
    engine: u32,
    has_marker: impl Fn(u32) -> bool,
) -> Vec<ProcessId> {
    let eligible = |e: &&ProcessEntry| e.live && e.pid != engine && e.pid > 1;
    // The kernel never hands out a pid that is still a group or session id, so ids equal to
    // the leader's pid are ours unless another process now has that pid.
    let leader = leader.filter(|l| {
        !table
            .iter()
            .any(|e| e.pid == l.pid && e.start_time != l.start_time)
    });
    let mut found: HashSet<u32> = table
        .iter()
        .filter(eligible)
        .filter(|e| {
            leader.is_some_and(|l| {
                (e.pid == l.pid && e.start_time == l.start_time)
                    || ((e.pgrp == l.pid || e.session == l.pid) && e.start_time >= l.start_time)
            }) || has_marker(e.pid)
        })
        .map(|e| e.pid)
        .collect();
    // Descendants, to a fixed point: a child is listed before or after its parent.
    loop {
        let before = found.len();
        for entry in table.iter().filter(eligible) {
            if found.contains(&entry.ppid) {
                found.insert(entry.pid);
            }
        }
        if found.len() == before {
            break;
        }
    }
    table
        .iter()
        .filter(|e| found.contains(&e.pid))
        .map(|e| ProcessId {
            pid: e.pid,
            start_time: e.start_time,
        })
        .collect()
}

/// Sends `signal` to each process that is still the one named (same start time); returns
/// how many were signalled. A pidfd pins the process, so a pid reused between the check and
/// the signal is never hit.
pub(super) fn signal_each(processes: &[ProcessId], signal: libc::c_int) -> usize {
    processes.iter().filter(|p| send(**p, signal)).count()
}

/// The processes of `processes` that have not exited.
pub(super) fn still_alive(processes: &[ProcessId]) -> Vec<ProcessId> {
    processes
        .iter()
        .copied()
        .filter(|p| procstat::is_alive(p.pid, p.start_time))
        .collect()
}

fn send(process: ProcessId, signal: libc::c_int) -> bool {
    let Ok(pid) = libc::pid_t::try_from(process.pid) else {
        return false;
    };
    if pid <= 1 || process.pid == std::process::id() {
        return false;
    }
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        // Gone (ESRCH), or a kernel before 5.3: then check and signal by pid.
        let no_pidfd = std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS);
        // SAFETY: kill has no memory-safety preconditions; the identity was checked.
        return no_pidfd
            && procstat::is_alive(process.pid, process.start_time)
            && unsafe { libc::kill(pid, signal) } == 0;
    }
    let Ok(raw) = i32::try_from(fd) else {
        return false;
    };
    // SAFETY: the descriptor was just returned to us and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // The pidfd names whatever had the pid when it was opened; the start time says whether
    // that is still our process.
    if !procstat::is_alive(process.pid, process.start_time) {
        return false;
    }
    use std::os::fd::AsRawFd;
    // SAFETY: a valid pidfd, a null siginfo (as for kill) and no flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    rc == 0
}

/// How the slots' processes are kept together on this host, for `naap status`.
pub fn mechanism() -> String {
    let tracking = "process tracking (group, session, descendants and the NAAP_SLOT_ID marker)";
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let unified = cgroup.lines().find_map(|l| l.strip_prefix("0::"));
    match unified {
        None => format!("{tracking}; this host has no cgroup v2"),
        Some("/") => {
            format!("{tracking}; the engine runs in the root cgroup, which is not delegated to it")
        }
        Some(path) => {
            format!("{tracking}; the engine's cgroup is {path} (naap creates no cgroups yet)")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(pid: u32, ppid: u32, pgrp: u32, session: u32, start_time: u64) -> ProcessEntry {
        ProcessEntry {
            pid,
            ppid,
            pgrp,
            session,
            start_time,
            live: true,
        }
    }

    #[test]
    fn finds_group_session_descendants_and_marked_processes() {
        let leader = ProcessId {
            pid: 100,
            start_time: 50,
        };
        let table = [
            entry(1, 0, 1, 1, 0),
            entry(7, 1, 7, 7, 1),          // the engine
            entry(100, 7, 100, 100, 50),   // the leader
            entry(101, 100, 100, 100, 51), // its child in the group
            entry(102, 100, 102, 102, 52), // setsid'd child: in the tree only
            entry(103, 102, 102, 102, 53), // its child
            entry(104, 1, 104, 104, 54),   // an orphan carrying the marker
            entry(105, 104, 105, 105, 55), // the orphan's child
            entry(106, 1, 100, 106, 10),   // group id 100 but older than the leader: not ours
            entry(200, 1, 200, 200, 60),   // a stranger
            entry(300, 7, 300, 300, 70),   // another child of the engine
        ];
        let mut found: Vec<u32> = members_in(&table, Some(leader), 7, |pid| pid == 104)
            .iter()
            .map(|p| p.pid)
            .collect();
        found.sort();
        assert_eq!(found, [100, 101, 102, 103, 104, 105]);

        // Without a leader (it died before an engine restart) the marker still finds them.
        let found: Vec<u32> = members_in(&table, None, 7, |pid| pid == 104)
            .iter()
            .map(|p| p.pid)
            .collect();
        assert_eq!(found, [104, 105]);

        // A marker on the engine or on init is ignored.
        assert!(members_in(&table, None, 7, |pid| pid == 7 || pid == 1).is_empty());
    }

    #[test]
    fn a_leader_pid_taken_by_another_process_matches_nothing() {
        // Pid 100 was reused by a process that started later; it and its group are not ours.
        let table = [entry(100, 1, 100, 100, 99), entry(101, 100, 100, 100, 98)];
        let stale = ProcessId {
            pid: 100,
            start_time: 50,
        };
        assert!(members_in(&table, Some(stale), 7, |_| false).is_empty());
        // With the leader gone and its pid free, survivors of its group are still found.
        let survivors = [entry(101, 1, 100, 100, 98)];
        assert_eq!(members_in(&survivors, Some(stale), 7, |_| false).len(), 1);
    }
}
