//! Stopping every process of a slot: SIGTERM, grace, SIGKILL, to its process group and to
//! each process [`Scope`] finds outside it.

use super::ProcessId;
use super::containment::{self, Scope};
use super::process::{ExitInfo, Running};
use crate::core::procstat;
use crate::core::types::SlotName;
use std::path::Path;
use std::time::Duration;
use tokio::time::Instant;

/// How often a stopping slot is checked for remaining processes.
const STOP_POLL: Duration = Duration::from_millis(20);
/// How long to wait for the processes to die after SIGKILL (only a process stuck in
/// uninterruptible I/O survives that long).
const KILL_WAIT: Duration = Duration::from_secs(5);

/// Sends `signal` to every process of group `pgid`. Refuses groups 0 and 1 (which `kill`
/// treats as "my group" and "everyone") and the engine's own group.
pub(super) fn signal_group(pgid: u32, signal: libc::c_int) -> bool {
    let Ok(group) = libc::pid_t::try_from(pgid) else {
        return false;
    };
    // SAFETY: getpgrp has no preconditions.
    let own_group = unsafe { libc::getpgrp() };
    if group <= 1 || group == own_group {
        return false;
    }
    // SAFETY: kill has no memory-safety preconditions; the group was checked above.
    unsafe { libc::kill(-group, signal) == 0 }
}

/// SIGKILLs whatever is left of a slot whose leader exited (children that would otherwise
/// keep the port or the files, in its group or not) and waits for them to go. Returns how
/// many there were.
pub(super) async fn kill_leftovers(scope: &Scope) -> usize {
    sweep(scope).await.len()
}

/// SIGKILLs what an earlier engine left of a slot's extra replicas and waits for them to
/// go. Returns how many there were.
pub(super) async fn kill_replica_orphans(log_dir: &Path, plugin: &str, slot: SlotName) -> usize {
    kill_and_wait(containment::replica_orphans(log_dir, plugin, slot))
        .await
        .len()
}

/// SIGKILLs every process of the slot and waits a little for them to go, so that the next
/// run finds its port free. Returns their pids.
pub(super) async fn sweep(scope: &Scope) -> Vec<u32> {
    kill_and_wait(scope.members()).await
}

async fn kill_and_wait(left: Vec<ProcessId>) -> Vec<u32> {
    containment::signal_each(&left, libc::SIGKILL);
    let deadline = Instant::now() + KILL_WAIT;
    while !containment::still_alive(&left).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(STOP_POLL).await;
    }
    left.iter().map(|p| p.pid).collect()
}

/// How a requested stop went.
pub(super) struct StopOutcome {
    /// The leader's exit, when it was seen.
    pub exit: Option<ExitInfo>,
    /// Whether the slot outlived the grace period and got SIGKILL.
    pub killed: bool,
    /// Processes of the slot other than the leader that were signalled outside its group
    /// (a `setsid` child, an orphan), by pid.
    pub outside_group: Vec<u32>,
}

/// SIGTERM to the group and to every other process of the slot, wait until all have
/// exited or `grace` has passed, then SIGKILL what is left.
pub(super) async fn terminate(
    running: &mut Running,
    scope: &Scope,
    grace: Duration,
) -> StopOutcome {
    let pgid = running.id().pid;
    let mut stop = Stopping {
        pgid,
        exit: running.try_exited(),
        // Found before any signal, while the process tree still leads to them.
        members: scope.members(),
        outside_group: Vec::new(),
    };
    // Also when the leader already exited: its children may still be there. Members keep
    // the group id ours, so signalling it cannot hit a stranger.
    if stop.exit.is_none() || procstat::group_usage(pgid).processes > 0 {
        signal_group(pgid, libc::SIGTERM);
    }
    stop.signal_members(libc::SIGTERM);
    if stop
        .wait(running, scope, libc::SIGTERM, Instant::now() + grace)
        .await
    {
        return stop.outcome(false);
    }
    signal_group(pgid, libc::SIGKILL);
    stop.signal_members(libc::SIGKILL);
    stop.wait(running, scope, libc::SIGKILL, Instant::now() + KILL_WAIT)
        .await;
    stop.outcome(true)
}

/// A stop in progress.
struct Stopping {
    pgid: u32,
    exit: Option<ExitInfo>,
    /// The slot's processes not yet seen gone.
    members: Vec<ProcessId>,
    outside_group: Vec<u32>,
}

impl Stopping {
    fn signal_members(&mut self, signal: libc::c_int) {
        for member in &self.members {
            if member.pid != self.pgid
                && procstat::process_group(member.pid) != Some(self.pgid)
                && !self.outside_group.contains(&member.pid)
            {
                self.outside_group.push(member.pid);
            }
        }
        containment::signal_each(&self.members, signal);
    }

    /// Polls until the leader has exited and no process of the slot is left, or the
    /// deadline. A process that appeared meanwhile (forked while stopping) gets `signal`
    /// too. Returns whether the slot is gone.
    async fn wait(
        &mut self,
        running: &mut Running,
        scope: &Scope,
        signal: libc::c_int,
        deadline: Instant,
    ) -> bool {
        loop {
            if self.exit.is_none() {
                self.exit = running.try_exited();
            }
            self.members = containment::still_alive(&self.members);
            if self.exit.is_some()
                && self.members.is_empty()
                && procstat::group_usage(self.pgid).processes == 0
            {
                // The cheap checks say done; one more full scan catches late forks.
                self.members = scope.members();
                if self.members.is_empty() {
                    return true;
                }
                self.signal_members(signal);
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(STOP_POLL).await;
        }
    }

    fn outcome(self, killed: bool) -> StopOutcome {
        StopOutcome {
            exit: self.exit,
            killed,
            outside_group: self.outside_group,
        }
    }
}
