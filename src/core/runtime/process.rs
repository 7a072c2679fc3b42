//! Spawning a slot's process with its output in log files, and waiting for it to exit,
//! whether it is our child or a process adopted from an earlier engine.

use super::{ProcessId, RuntimeError, SlotSpec, containment};
use crate::core::procstat;
use std::fs::{File, OpenOptions};
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// How often an adopted process (not our child, so no exit notification) is checked.
const ADOPTED_POLL: Duration = Duration::from_millis(200);

/// How a process ended, as far as we can know: an adopted process is not our child, so its
/// exit status is lost to us.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct ExitInfo {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

impl From<ExitStatus> for ExitInfo {
    fn from(status: ExitStatus) -> Self {
        ExitInfo {
            code: status.code(),
            signal: status.signal(),
        }
    }
}

impl ExitInfo {
    /// "code 1", "signal 9", or "unknown status" for prose.
    pub fn describe(&self) -> String {
        match (self.code, self.signal) {
            (Some(code), _) => format!("code {code}"),
            (None, Some(signal)) => format!("signal {signal} ({})", signal_name(signal)),
            (None, None) => "unknown status".to_string(),
        }
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTERM => "SIGTERM",
        _ => "signal",
    }
}

/// The process currently running in a slot.
pub(super) enum Running {
    /// Spawned by this engine: we reap it and know its exit status.
    Own {
        child: Child,
        id: ProcessId,
        started: Instant,
    },
    /// Started by an earlier engine: watched through `/proc`.
    Adopted { id: ProcessId, started: Instant },
}

impl Running {
    /// Wraps an existing process; its start is estimated from its age in `/proc`.
    pub fn adopted(id: ProcessId) -> Running {
        let age = procstat::process_age(id.start_time).unwrap_or_default();
        let now = Instant::now();
        Running::Adopted {
            id,
            started: now.checked_sub(age).unwrap_or(now),
        }
    }

    /// The process's identity.
    pub fn id(&self) -> ProcessId {
        match self {
            Running::Own { id, .. } | Running::Adopted { id, .. } => *id,
        }
    }

    /// How long the process has been running.
    pub fn uptime(&self) -> Duration {
        match self {
            Running::Own { started, .. } | Running::Adopted { started, .. } => started.elapsed(),
        }
    }

    /// Waits for the process to exit. Cancel-safe: it can be raced against other events.
    pub async fn wait(&mut self) -> ExitInfo {
        match self {
            Running::Own { child, id, .. } => match child.wait().await {
                Ok(status) => status.into(),
                // Only when something else reaped our child; fall back to watching /proc.
                Err(_) => {
                    poll_until_dead(*id).await;
                    ExitInfo::default()
                }
            },
            Running::Adopted { id, .. } => {
                poll_until_dead(*id).await;
                ExitInfo::default()
            }
        }
    }

    /// The exit, if the process has exited (our child is reaped by this call).
    pub fn try_exited(&mut self) -> Option<ExitInfo> {
        match self {
            Running::Own { child, id, .. } => match child.try_wait() {
                Ok(Some(status)) => Some(status.into()),
                Ok(None) => None,
                Err(_) => (!procstat::is_alive(id.pid, id.start_time)).then(ExitInfo::default),
            },
            Running::Adopted { id, .. } => {
                (!procstat::is_alive(id.pid, id.start_time)).then(ExitInfo::default)
            }
        }
    }
}

async fn poll_until_dead(id: ProcessId) {
    while procstat::is_alive(id.pid, id.start_time) {
        tokio::time::sleep(ADOPTED_POLL).await;
    }
}

/// Creates the log directory and opens both log files for appending, emptying them first
/// when `truncate` (a fresh start, not a restart after a crash).
pub(super) fn open_log_files(
    spec: &SlotSpec,
    truncate: bool,
) -> Result<(File, File), RuntimeError> {
    std::fs::create_dir_all(&spec.log_dir).map_err(|source| RuntimeError::LogDir {
        path: spec.log_dir.clone(),
        source,
    })?;
    let open = |path: std::path::PathBuf| -> Result<File, RuntimeError> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            // Owner-only even without the engine's umask: plugin output may hold secrets.
            .mode(0o600)
            .open(&path)
            .and_then(|file| {
                // O_APPEND and O_TRUNC cannot be combined at open; truncate the open file.
                if truncate {
                    file.set_len(0)?;
                }
                Ok(file)
            })
            .map_err(|source| RuntimeError::LogFile { path, source })?;
        Ok(file)
    };
    Ok((open(spec.stdout_log_path())?, open(spec.stderr_log_path())?))
}

/// Spawns `sh -c COMMAND` in a new session and process group, marked as the slot's, with
/// its output appended to the slot's log files. Must be called within a Tokio runtime.
pub(super) fn spawn(spec: &SlotSpec, truncate_logs: bool) -> Result<Running, RuntimeError> {
    let (stdout, stderr) = open_log_files(spec, truncate_logs)?;
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(&spec.command)
        .current_dir(&spec.cwd)
        .envs(&spec.env)
        .env("PORT", spec.port.to_string())
        .env("NAAP_PLUGIN", &spec.plugin)
        .env("NAAP_SLOT", spec.slot.to_string())
        .env("NAAP_VERSION", &spec.version)
        .env("NAAP_REPLICA", spec.replica.to_string())
        .env(containment::SLOT_ID_VAR, containment::slot_id(spec))
        .stdin(Stdio::null())
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr))
        .kill_on_drop(false);
    crate::core::private_files::child_gets_inherited_umask(&mut command);
    // Its own session (so its own group too): signals reach its children, a Ctrl-C or a
    // hang-up of the engine's terminal does not reach it, so it outlives the engine, and
    // the session id finds the children that leave the group.
    // SAFETY: the closure runs in the forked child before exec and only calls setsid,
    // which is async-signal-safe.
    let rlimits = spec.limits.rlimits();
    unsafe {
        command.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            super::limits::set_in_child(&rlimits)
        });
    }
    let child = command.spawn().map_err(|source| RuntimeError::Spawn {
        plugin: spec.plugin.clone(),
        slot: spec.slot,
        command: spec.command.clone(),
        cwd: spec.cwd.clone(),
        source,
    })?;
    let started = Instant::now();
    // A freshly spawned child cannot have been reaped yet, so it has a pid.
    let pid = child.id().unwrap_or_default();
    // Even if it already exited it is an unreaped zombie whose stat is readable; 0 only if
    // /proc is unavailable, which makes later adoption fail safely (it never matches).
    let start_time = procstat::start_time(pid).unwrap_or(0);
    Ok(Running::Own {
        child,
        id: ProcessId { pid, start_time },
        started,
    })
}
