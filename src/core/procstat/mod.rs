//! Identity and resource use of processes, read from `/proc` (Linux).
//!
//! A pid alone does not identify a process across an engine restart (pids are reused), so a
//! process is named by its pid plus its start time in clock ticks since boot.

mod cpu;
mod group;
mod sockets;
mod table;

pub use cpu::CpuMeter;
pub use group::{GroupUsage, group_usage, usage_by_group};
pub use sockets::listening_ports;
pub use table::{ProcessEntry, environ_contains, environ_has_prefix, process_table};

use std::time::Duration;

/// The fields of `/proc/PID/stat` that naap uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stat {
    /// One letter: R running, S sleeping, D disk wait, Z zombie, T stopped, X dead, ...
    pub state: char,
    pub ppid: u32,
    pub pgrp: u32,
    /// The session id (the pid of the session's leader).
    pub session: u32,
    pub utime: u64,
    pub stime: u64,
    pub start_time: u64,
    pub rss_pages: u64,
}

impl Stat {
    /// Whether the process still runs code (zombies and dead entries do not).
    pub fn is_live(&self) -> bool {
        !matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Parses the content of `/proc/PID/stat`. The command name (field 2) is in parentheses and
/// may itself contain spaces and parentheses, so the fields after it start at the LAST `)`.
pub(crate) fn parse_stat(content: &str) -> Option<Stat> {
    let close = content.rfind(')')?;
    let rest = content.get(close + 1..)?;
    // fields[0] is field 3 of proc(5) (state); fields[i] is field i + 3.
    let mut fields = [""; 22];
    let mut count = 0;
    for (slot, value) in fields.iter_mut().zip(rest.split_whitespace()) {
        *slot = value;
        count += 1;
    }
    if count < fields.len() {
        return None;
    }
    Some(Stat {
        state: fields[0].chars().next()?,
        ppid: fields[1].parse().ok()?,
        pgrp: fields[2].parse().ok()?,
        session: fields[3].parse().ok()?,
        utime: fields[11].parse().ok()?,
        stime: fields[12].parse().ok()?,
        start_time: fields[19].parse().ok()?,
        // rss is a signed long; a negative value never happens in practice, count it as 0.
        rss_pages: fields[21].parse::<i64>().ok()?.max(0).unsigned_abs(),
    })
}

/// Every process in `/proc` with its parsed stat (nothing when `/proc` is not mounted). A
/// process may exit between listing and reading; it is simply left out.
pub(crate) fn all_stats() -> impl Iterator<Item = (u32, Stat)> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| read_stat(pid).map(|stat| (pid, stat)))
}

/// Reads and parses `/proc/PID/stat`; `None` when the process does not exist.
pub(crate) fn read_stat(pid: u32) -> Option<Stat> {
    let content = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&content)
}

/// The start time of a process in clock ticks since boot (field 22 of `/proc/PID/stat`).
pub fn start_time(pid: u32) -> Option<u64> {
    read_stat(pid).map(|stat| stat.start_time)
}

/// The process group of a process.
pub fn process_group(pid: u32) -> Option<u32> {
    read_stat(pid).map(|stat| stat.pgrp)
}

/// Whether the process with this pid is the one that started at `start_time` (not a later
/// process that reused the pid) and has not exited (a zombie counts as exited).
pub fn is_alive(pid: u32, start_time: u64) -> bool {
    read_stat(pid).is_some_and(|stat| stat.start_time == start_time && stat.is_live())
}

/// How long ago a process that started at `start_time` (ticks since boot) started.
pub fn process_age(start_time: u64) -> Option<Duration> {
    let uptime = std::fs::read_to_string("/proc/uptime").ok()?;
    let since_boot: f64 = uptime.split_whitespace().next()?.parse().ok()?;
    let started = start_time as f64 / clock_ticks_per_second() as f64;
    Duration::try_from_secs_f64((since_boot - started).max(0.0)).ok()
}

/// Clock ticks per second, the unit of the CPU times and start times in `/proc`.
pub fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions; it only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    // 100 is the value on every Linux architecture when sysconf cannot tell.
    u64::try_from(ticks).ok().filter(|&t| t > 0).unwrap_or(100)
}

/// The size of a memory page in bytes, the unit of `rss` in `/proc/PID/stat`.
/// The resident memory of one process (`/proc/PID/statm`), if it runs.
pub fn resident_bytes(pid: u32) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

pub(crate) fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions; it only reads a configuration value.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).ok().filter(|&s| s > 0).unwrap_or(4096)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};
    use std::time::Instant;

    #[test]
    fn parses_a_command_name_with_spaces_and_parens() {
        let line = "4242 (my (weird) prog) S 1 4240 4240 0 -1 4194560 100 0 0 0 \
                    17 5 0 0 20 0 1 0 987654 12345678 321 18446744073709551615 0 0 0 0";
        let stat = parse_stat(line).expect("a well-formed stat line");
        assert_eq!(stat.state, 'S');
        assert_eq!((stat.ppid, stat.pgrp, stat.session), (1, 4240, 4240));
        assert_eq!((stat.utime, stat.stime), (17, 5));
        assert_eq!(stat.start_time, 987654);
        assert_eq!(stat.rss_pages, 321);
        assert!(stat.is_live());
    }

    #[test]
    fn rejects_truncated_stat() {
        assert_eq!(parse_stat("12 (x) S 1 2 3"), None);
        assert_eq!(parse_stat("no parens at all"), None);
        assert_eq!(parse_stat(""), None);
    }

    #[test]
    fn identifies_the_current_process() {
        let pid = std::process::id();
        let started = start_time(pid).expect("our own stat is readable");
        assert!(is_alive(pid, started));
        assert!(
            !is_alive(pid, started + 1),
            "a different start time is another process"
        );
        assert!(process_age(started).is_some());
        assert!(clock_ticks_per_second() > 0);
        assert!(start_time(u32::MAX).is_none());
    }

    #[test]
    fn zombies_and_reaped_processes_are_not_alive() {
        let mut child = Command::new("true")
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn `true`");
        let pid = child.id();
        let deadline = Instant::now() + Duration::from_secs(10);
        // Unreaped, the exited child stays as a zombie with its original start time.
        let started = loop {
            match read_stat(pid) {
                Some(stat) if stat.state == 'Z' => break stat.start_time,
                _ if Instant::now() > deadline => panic!("child {pid} never became a zombie"),
                _ => std::thread::sleep(Duration::from_millis(10)),
            }
        };
        assert!(!is_alive(pid, started));
        child.wait().expect("reap the child");
        assert!(!is_alive(pid, started));
    }
}
