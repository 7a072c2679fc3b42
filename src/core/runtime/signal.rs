//! Signalling a slot's whole process group, and stopping it: SIGTERM, grace, SIGKILL.

use super::process::{ExitInfo, Running};
use crate::core::procstat;
use std::time::Duration;
use tokio::time::Instant;

/// How often a stopping group is checked for remaining processes.
const STOP_POLL: Duration = Duration::from_millis(20);
/// How long to wait for the leader to die after SIGKILL (only a process stuck in
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

/// SIGKILLs whatever is left of a group whose leader exited (children that would otherwise
/// keep the port or the files). Returns how many live processes there were.
pub(super) fn kill_leftovers(pgid: u32) -> u32 {
    // The scan guards against reusing a group id: while any member lives, the id is ours.
    let left = procstat::group_usage(pgid).processes;
    if left > 0 {
        signal_group(pgid, libc::SIGKILL);
    }
    left
}

/// How a requested stop went.
pub(super) struct StopOutcome {
    /// The leader's exit, when it was seen.
    pub exit: Option<ExitInfo>,
    /// Whether the group outlived the grace period and got SIGKILL.
    pub killed: bool,
}

/// SIGTERM to the group, wait until the leader and every member have exited or `grace` has
/// passed, then SIGKILL what is left.
pub(super) async fn terminate(running: &mut Running, grace: Duration) -> StopOutcome {
    let pgid = running.id().pid;
    let mut exit = running.try_exited();
    // Also when the leader already exited: its children may still be there. Members keep
    // the group id ours, so signalling it cannot hit a stranger.
    if exit.is_none() || procstat::group_usage(pgid).processes > 0 {
        signal_group(pgid, libc::SIGTERM);
    }
    if wait_for_group_exit(running, &mut exit, Instant::now() + grace).await {
        return StopOutcome {
            exit,
            killed: false,
        };
    }
    signal_group(pgid, libc::SIGKILL);
    wait_for_group_exit(running, &mut exit, Instant::now() + KILL_WAIT).await;
    StopOutcome { exit, killed: true }
}

/// Polls until the leader has exited and no member of its group is left, or the deadline.
/// Returns whether the group is gone.
async fn wait_for_group_exit(
    running: &mut Running,
    exit: &mut Option<ExitInfo>,
    deadline: Instant,
) -> bool {
    let pgid = running.id().pid;
    loop {
        if exit.is_none() {
            *exit = running.try_exited();
        }
        if exit.is_some() && procstat::group_usage(pgid).processes == 0 {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(STOP_POLL).await;
    }
}
