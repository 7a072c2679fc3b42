//! The local runtime: one supervised child process per plugin slot.
//!
//! Children must outlive the engine (it may be killed and re-adopt them later), so each runs
//! in its own session and process group with stdout and stderr appended to files under the
//! log directory, which the runtime tails into the [`LogHub`] (and reads back after an
//! engine restart, see `readback`). A crashed process is restarted
//! with exponential backoff until it crash-loops; a stop signals every process of the slot,
//! in its group or not (see `containment`).

mod containment;
mod error;
mod limits;
mod policy;
mod process;
mod readback;
mod report;
mod signal;
mod supervisor;
mod tail;
#[cfg(test)]
mod tests;

pub use containment::{SLOT_ID_VAR, mechanism as containment_mechanism};
pub use error::RuntimeError;
pub use limits::{Limits, LimitsApplied, looks_out_of_memory};
pub use policy::RestartPolicy;

use crate::core::logs::LogHub;
use crate::core::procstat;
use crate::core::types::{LogSource, ProcessState, SlotName};
use policy::CrashTracker;
use process::Running;
use report::{Reporter, SlotStatus};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use supervisor::{Control, Supervisor, announce_start};
use tail::{StartAt, TailTarget, Tailer};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Everything needed to run one slot's process.
#[derive(Clone, Debug)]
pub struct SlotSpec {
    /// The plugin's name.
    pub plugin: String,
    /// The slot this process serves.
    pub slot: SlotName,
    /// The plugin version, passed as `NAAP_VERSION`.
    pub version: String,
    /// The shell command, placeholders already expanded; run as `sh -c COMMAND`.
    pub command: String,
    /// The working directory.
    pub cwd: PathBuf,
    /// Extra environment on top of the engine's.
    pub env: BTreeMap<String, String>,
    /// The port the process must listen on, passed as `PORT`.
    pub port: u16,
    /// How long a stop waits after SIGTERM before SIGKILL.
    pub stop_grace: Duration,
    /// Where the stdout and stderr files go.
    pub log_dir: PathBuf,
    /// Which of the slot's processes this is: 0 for the first, which every slot has.
    pub replica: u32,
    /// Limits on the process, set before it runs its command.
    pub limits: Limits,
}

impl SlotSpec {
    /// `{log_dir}/{unit}.stdout.log`, the unit being `{plugin}.{slot}` (`.r{n}` after it for
    /// replica n > 0).
    pub fn stdout_log_path(&self) -> PathBuf {
        self.log_dir.join(format!(
            "{}.stdout.log",
            unit_name(&self.plugin, self.slot, self.replica)
        ))
    }

    /// `{log_dir}/{unit}.stderr.log`
    pub fn stderr_log_path(&self) -> PathBuf {
        self.log_dir.join(format!(
            "{}.stderr.log",
            unit_name(&self.plugin, self.slot, self.replica)
        ))
    }
}

/// `{plugin}.{slot}` for a slot's first process, `{plugin}.{slot}.r{n}` for replica n: the
/// stem of its log files and of its containment marker.
pub fn unit_name(plugin: &str, slot: SlotName, replica: u32) -> String {
    if replica == 0 {
        format!("{plugin}.{slot}")
    } else {
        format!("{plugin}.{slot}.r{replica}")
    }
}

/// `{log_dir}/{plugin}.{slot}.{stdout|stderr}.log`
fn log_path(log_dir: &Path, plugin: &str, slot: SlotName, source: LogSource) -> PathBuf {
    let stream = if source == LogSource::Stderr {
        "stderr"
    } else {
        "stdout"
    };
    log_dir.join(format!("{plugin}.{slot}.{stream}.log"))
}

/// A process named so that a reused pid is never mistaken for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProcessId {
    /// The pid, which is also the process group id.
    pub pid: u32,
    /// Start time in clock ticks since boot (`/proc/PID/stat` field 22).
    pub start_time: u64,
}

/// What happened to a slot's process.
#[derive(Clone, Debug, PartialEq)]
pub enum RuntimeEvent {
    /// A process now serves the slot (spawned, or adopted from an earlier engine).
    Started {
        plugin: String,
        slot: SlotName,
        replica: u32,
        process: ProcessId,
        adopted: bool,
    },
    /// The process exited without being asked to. `code` and `signal` are `None` for an
    /// adopted process, whose exit status only its parent can know.
    Exited {
        plugin: String,
        slot: SlotName,
        replica: u32,
        process: ProcessId,
        code: Option<i32>,
        signal: Option<i32>,
        uptime: Option<Duration>,
    },
    /// A restart is scheduled after `delay`.
    Restarting {
        plugin: String,
        slot: SlotName,
        replica: u32,
        attempt: u32,
        delay: Duration,
    },
    /// Crash loop or spawn error: no more restarts until the slot is started again.
    Failed {
        plugin: String,
        slot: SlotName,
        replica: u32,
        reason: String,
    },
    /// A requested stop completed (no `Exited` is sent for it).
    Stopped {
        plugin: String,
        slot: SlotName,
        replica: u32,
    },
}

/// A free TCP port on 127.0.0.1, found by binding port 0. Another process could take it
/// before the slot binds it; the health check will then show the slot unhealthy.
pub fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}

/// Starts, adopts and supervises slot processes on this machine.
pub struct LocalRuntime {
    logs: LogHub,
    policy: RestartPolicy,
    events: mpsc::UnboundedSender<RuntimeEvent>,
}

impl LocalRuntime {
    /// A runtime that writes output to `logs` and reports to `events`.
    pub fn new(
        logs: LogHub,
        policy: RestartPolicy,
        events: mpsc::UnboundedSender<RuntimeEvent>,
    ) -> Self {
        LocalRuntime {
            logs,
            policy,
            events,
        }
    }

    /// The hub the slots' output goes to.
    pub fn logs(&self) -> &LogHub {
        &self.logs
    }

    /// Spawns the slot's process now, with fresh (emptied) log files, and supervises it.
    /// Must be called within a Tokio runtime.
    pub fn start(&self, spec: SlotSpec) -> Result<SlotHandle, RuntimeError> {
        let running = process::spawn(&spec, true)?;
        Ok(self.supervise(spec, running, false))
    }

    /// Kills the processes of a slot that nothing supervises: left by an earlier run whose
    /// first process is gone (a `setsid` daemon reparented to init after an engine restart).
    /// Call it before starting the slot afresh; returns the pids it killed.
    pub async fn sweep_leftovers(&self, spec: &SlotSpec) -> Vec<u32> {
        signal::sweep(&containment::Scope::new(spec, None)).await
    }

    /// Pushes the end of a slot's log files into the hub, after a notice naming each file:
    /// the output an earlier engine showed, for a slot this engine will not adopt. Call it
    /// before the slot starts again, which empties the files.
    pub fn read_back_logs(&self, plugin: &str, slot: SlotName, log_dir: &Path) {
        for source in [LogSource::Stdout, LogSource::Stderr] {
            let target = TailTarget {
                hub: self.logs.clone(),
                plugin: plugin.to_string(),
                slot,
                source,
                path: log_path(log_dir, plugin, slot, source),
                max_bytes: tail::MAX_LOG_FILE,
            };
            readback::read_back(&target, true);
        }
    }

    /// Every live process of a slot (its first process, group, session, descendants and
    /// marked processes), read from `/proc` now. Blocking: a pass over `/proc`.
    pub fn slot_processes(
        log_dir: &Path,
        plugin: &str,
        slot: SlotName,
        leader: Option<ProcessId>,
    ) -> Vec<ProcessId> {
        containment::Scope::of(log_dir, plugin, slot, leader).members()
    }

    /// Kills the extra replicas (1 and up) of a slot that an earlier engine left running:
    /// they are never adopted, since no pid of theirs is kept; the engine starts them again.
    pub async fn kill_replica_orphans(log_dir: &Path, plugin: &str, slot: SlotName) -> usize {
        signal::kill_replica_orphans(log_dir, plugin, slot).await
    }

    /// Supervises a process that an earlier engine started for this slot (and detached
    /// from): the end of its log files is read back (see [`LocalRuntime::read_back_logs`]),
    /// then they are followed from there. If it dies later it is
    /// restarted like any other. Must be called within a Tokio runtime.
    pub fn adopt(&self, spec: SlotSpec, process: ProcessId) -> Result<SlotHandle, RuntimeError> {
        if !procstat::is_alive(process.pid, process.start_time) {
            return Err(RuntimeError::NotAlive {
                plugin: spec.plugin,
                slot: spec.slot,
                pid: process.pid,
            });
        }
        // naap starts every slot as a group leader; signalling the group of anything else
        // could hit unrelated processes, even the engine.
        match procstat::process_group(process.pid) {
            Some(pgid) if pgid == process.pid => {}
            Some(pgid) => {
                return Err(RuntimeError::NotGroupLeader {
                    plugin: spec.plugin,
                    slot: spec.slot,
                    pid: process.pid,
                    pgid,
                });
            }
            None => {
                return Err(RuntimeError::NotAlive {
                    plugin: spec.plugin,
                    slot: spec.slot,
                    pid: process.pid,
                });
            }
        }
        // The files must exist for restarts; the process keeps its own descriptors.
        process::open_log_files(&spec, false)?;
        Ok(self.supervise(spec, Running::adopted(process), true))
    }

    fn supervise(&self, spec: SlotSpec, running: Running, adopted: bool) -> SlotHandle {
        let report = Reporter {
            plugin: spec.plugin.clone(),
            slot: spec.slot,
            replica: spec.replica,
            logs: self.logs.clone(),
            events: self.events.clone(),
        };
        let status = SlotStatus::new(None, ProcessState::Starting);
        let tail = |source: LogSource, path: PathBuf| {
            let target = TailTarget {
                hub: self.logs.clone(),
                plugin: spec.plugin.clone(),
                slot: spec.slot,
                source,
                path,
                max_bytes: tail::MAX_LOG_FILE,
            };
            // A fresh start reads its new files from the beginning; an adopted process
            // already wrote output: the end of it is read back, and following goes on from
            // exactly there, so no line is lost or shown twice.
            if adopted {
                let back = readback::read_back(&target, false);
                Tailer::spawn_at(target, StartAt::Offset(back.end))
            } else {
                Tailer::spawn_at(target, StartAt::Beginning)
            }
        };
        let stdout = tail(LogSource::Stdout, spec.stdout_log_path());
        let stderr = tail(LogSource::Stderr, spec.stderr_log_path());
        announce_start(&report, &status, &spec, &running, adopted);

        let (control_tx, control_rx) = mpsc::unbounded_channel();
        let stop_grace = spec.stop_grace;
        let scope = containment::Scope::new(&spec, None);
        let supervisor = Supervisor {
            spec,
            policy: self.policy.clone(),
            report: report.clone(),
            status: status.clone(),
            control: control_rx,
            stdout,
            stderr,
            crashes: CrashTracker::default(),
        };
        SlotHandle {
            status,
            control: control_tx,
            task: Some(tokio::spawn(supervisor.run(running))),
            stop_grace,
            report,
            scope,
        }
    }
}

/// Control over one supervised slot. Dropping it detaches (like [`SlotHandle::detach`]): the
/// process keeps running so that a later engine can adopt it.
pub struct SlotHandle {
    status: Arc<SlotStatus>,
    control: mpsc::UnboundedSender<Control>,
    task: Option<JoinHandle<()>>,
    stop_grace: Duration,
    report: Reporter,
    /// The slot's processes, for a stop without the supervisor.
    scope: containment::Scope,
}

impl SlotHandle {
    /// The plugin this slot belongs to.
    pub fn plugin(&self) -> &str {
        &self.report.plugin
    }

    /// The slot.
    pub fn slot(&self) -> SlotName {
        self.report.slot
    }

    /// The process serving the slot now; `None` between a crash and the restart, after
    /// giving up, and after a stop.
    pub fn process(&self) -> Option<ProcessId> {
        self.status.get().0
    }

    /// What the slot's process is doing (`Running` from spawn on: health is not known here).
    pub fn state(&self) -> ProcessState {
        self.status.get().1
    }

    /// Stops the slot: SIGTERM to its process group and every other process of the slot,
    /// up to `stop_grace` to exit, then SIGKILL. Returns once they are gone and its output is read, after
    /// `Stopped` was sent.
    pub async fn stop(mut self) {
        let (done_tx, done_rx) = oneshot::channel();
        if self.control.send(Control::Stop(done_tx)).is_ok() && done_rx.await.is_ok() {
            if let Some(task) = self.task.take() {
                // The supervisor has answered; this only waits for its last instructions.
                let _ = task.await;
            }
            return;
        }
        // The supervisor is gone, which only a bug can cause: stop the last known process
        // directly so that a stop request is never silently ignored.
        if let Some(id) = self.process()
            && procstat::is_alive(id.pid, id.start_time)
        {
            let mut running = Running::adopted(id);
            signal::terminate(&mut running, &self.scope.led_by(id), self.stop_grace).await;
        }
        self.status.set(None, ProcessState::Stopped);
        self.report.stopped();
    }

    /// Stops supervising and tailing, leaving the process running (engine shutdown without
    /// stopping plugins).
    pub fn detach(self) {
        // If the supervisor is already gone there is nothing left to detach from.
        let _ = self.control.send(Control::Detach);
    }
}
