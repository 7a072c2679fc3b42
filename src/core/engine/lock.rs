//! One engine per workspace: an exclusive `flock` on `engine.lock`, released by the kernel
//! when the engine dies, however it dies. The file names the holder as `PID START_TIME`
//! (start time in clock ticks since boot), so a client can reach an engine whose socket is
//! gone through its pid without ever signalling a later process that reused the pid.

use super::EngineError;
use crate::core::procstat;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a starting engine retries a held lock: a client probing the lock (see
/// `holder`) holds it shared for a moment, and an engine that is just exiting still has it.
const TAKE_RETRY_FOR: Duration = Duration::from_millis(500);

pub fn lock_path(state_dir: &Path) -> PathBuf {
    state_dir.join("engine.lock")
}

/// The process that holds a workspace's engine lock, as its lock file names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockHolder {
    pub pid: u32,
    /// Missing when an older naap wrote the file (pid only).
    pub start_time: Option<u64>,
}

impl LockHolder {
    /// Whether `pid` is still the process that took the lock (same start time, not a zombie).
    pub fn is_same_process(&self) -> bool {
        self.start_time
            .is_some_and(|start| procstat::is_alive(self.pid, start))
    }

    /// Whether the process that took the lock has exited (or its pid now names another one).
    pub fn has_exited(&self) -> bool {
        match self.start_time {
            Some(start) => !procstat::is_alive(self.pid, start),
            None => procstat::start_time(self.pid).is_none(),
        }
    }
}

/// Takes the lock for this process, or says which engine holds it.
pub async fn take(state_dir: &Path) -> Result<File, EngineError> {
    let path = lock_path(state_dir);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| EngineError::Start(format!("cannot open {}: {e}", path.display())))?;
    let deadline = tokio::time::Instant::now() + TAKE_RETRY_FOR;
    while !try_flock(&file, libc::LOCK_EX) {
        if tokio::time::Instant::now() >= deadline {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            let pid = parse(&text).map_or_else(|| "?".to_string(), |h| h.pid.to_string());
            return Err(EngineError::Start(format!(
                "another naap engine already runs for this workspace (pid {pid})\n  hint: use `naap status`, or stop it first with `naap stop`"
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = std::process::id();
    let start = procstat::start_time(pid).unwrap_or(0);
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = writeln!(file, "{pid} {start}");
    Ok(file)
}

/// Who holds the engine lock of this state directory, if anyone. Probes with a shared lock
/// that is released at once, so it never keeps an engine from starting for long.
pub fn holder(state_dir: &Path) -> Option<LockHolder> {
    let mut file = File::open(lock_path(state_dir)).ok()?;
    if try_flock(&file, libc::LOCK_SH) {
        // Free: nobody runs. The shared lock goes with the descriptor.
        return None;
    }
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    // Held, but the holder has not written its name yet (it is starting): pid unknown.
    Some(parse(&text).unwrap_or(LockHolder {
        pid: 0,
        start_time: None,
    }))
}

fn try_flock(file: &File, kind: libc::c_int) -> bool {
    // SAFETY: flock on a descriptor we own; no memory is involved.
    unsafe { libc::flock(file.as_raw_fd(), kind | libc::LOCK_NB) == 0 }
}

fn parse(text: &str) -> Option<LockHolder> {
    let mut words = text.split_whitespace();
    let pid = words.next()?.parse().ok()?;
    let start_time = words.next().and_then(|w| w.parse().ok()).filter(|&t| t > 0);
    Some(LockHolder { pid, start_time })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn holder_names_this_process_while_it_holds_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(holder(dir.path()), None);
        let lock = take(dir.path()).await.unwrap();
        let held = holder(dir.path()).expect("held");
        assert_eq!(held.pid, std::process::id());
        assert!(held.is_same_process());
        assert!(!held.has_exited());
        let err = take(dir.path()).await.unwrap_err();
        assert!(err.to_string().contains("already runs"), "{err}");
        drop(lock);
        assert_eq!(holder(dir.path()), None);
    }

    #[test]
    fn a_reused_pid_is_not_the_same_process() {
        let me = std::process::id();
        let start = procstat::start_time(me).unwrap();
        let stale = LockHolder {
            pid: me,
            start_time: Some(start + 1),
        };
        assert!(!stale.is_same_process());
        assert!(stale.has_exited());
        assert_eq!(
            parse("123\n"),
            Some(LockHolder {
                pid: 123,
                start_time: None
            })
        );
    }
}
