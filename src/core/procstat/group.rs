//! CPU time, memory and size of whole process groups (a slot's process and its children).

use super::{all_stats, page_size};
use std::collections::HashMap;

/// Resource use summed over the live processes of one process group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupUsage {
    /// User plus system CPU time, in clock ticks.
    pub cpu_ticks: u64,
    /// Resident memory in bytes.
    pub rss_bytes: u64,
    /// Processes in the group that have not exited (zombies excluded).
    pub processes: u32,
}

/// Resource use of one process group.
pub fn group_usage(pgid: u32) -> GroupUsage {
    usage_by_group(&[pgid]).remove(&pgid).unwrap_or_default()
}

/// Resource use of several process groups in one pass over `/proc`. Every requested group
/// has an entry, zero when no live process belongs to it.
pub fn usage_by_group(pgids: &[u32]) -> HashMap<u32, GroupUsage> {
    let mut usage: HashMap<u32, GroupUsage> = pgids
        .iter()
        .map(|&pgid| (pgid, GroupUsage::default()))
        .collect();
    if usage.is_empty() {
        return usage;
    }
    let page = page_size();
    for (_, stat) in all_stats().filter(|(_, stat)| stat.is_live()) {
        if let Some(group) = usage.get_mut(&stat.pgrp) {
            group.cpu_ticks += stat.utime + stat.stime;
            group.rss_bytes += stat.rss_pages * page;
            group.processes += 1;
        }
    }
    usage
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    #[test]
    fn sums_over_every_process_of_a_group() {
        let mut child = Command::new("sh")
            .args(["-c", "sleep 1000 & sleep 1000; exit 0"])
            .stdout(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("spawn sh");
        let pgid = child.id();
        let deadline = Instant::now() + Duration::from_secs(10);
        let usage = loop {
            let usage = group_usage(pgid);
            if usage.processes >= 3 || Instant::now() > deadline {
                break usage;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(usage.processes, 3, "sh and both sleeps");
        assert!(usage.rss_bytes > 0);

        let both = usage_by_group(&[pgid, u32::MAX]);
        assert_eq!(both.len(), 2);
        assert_eq!(both[&u32::MAX], GroupUsage::default());
        assert_eq!(both[&pgid].processes, 3);

        // SAFETY: kill has no memory-safety preconditions; the group is the one spawned above.
        unsafe { libc::kill(-(pgid as i32), libc::SIGKILL) };
        child.wait().expect("reap sh");
        let deadline = Instant::now() + Duration::from_secs(10);
        while group_usage(pgid).processes > 0 {
            assert!(Instant::now() < deadline, "group {pgid} outlived SIGKILL");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(usage_by_group(&[]).is_empty());
    }
}
