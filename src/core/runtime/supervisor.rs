//! The task that watches one slot's process: restarts it after a crash with backoff, gives
//! up on a crash loop, and carries out stop and detach requests from the slot's handle.

use super::containment::Scope;
use super::policy::{CrashTracker, Decision, RestartPolicy};
use super::process::{self, ExitInfo, Running};
use super::report::{Reporter, SlotStatus, short_duration};
use super::signal;
use super::tail::{TailMode, Tailer};
use super::{RuntimeEvent, SlotSpec};
use crate::core::types::{Level, ProcessState};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

/// A request from the slot's handle.
pub(super) enum Control {
    /// Stop the process group, then answer.
    Stop(oneshot::Sender<()>),
    /// Stop supervising; leave the process running.
    Detach,
}

/// Everything the supervisor task owns.
pub(super) struct Supervisor {
    pub spec: SlotSpec,
    pub policy: RestartPolicy,
    pub report: Reporter,
    pub status: Arc<SlotStatus>,
    pub control: mpsc::UnboundedReceiver<Control>,
    pub stdout: Tailer,
    pub stderr: Tailer,
    pub crashes: CrashTracker,
}

/// What woke the supervisor while a process ran.
enum Step {
    Exited(ExitInfo),
    /// `None` when the handle was dropped.
    Control(Option<Control>),
}

/// What to do after an unexpected exit.
enum Next {
    /// A new process runs.
    Run(Box<Running>),
    /// No process runs (backoff interrupted, or gave up) and the handle asked for this.
    Control(Option<Control>),
}

impl Supervisor {
    /// Supervises `first` and its successors until stopped or detached.
    pub async fn run(mut self, first: Running) {
        let mut current = first;
        loop {
            let step = tokio::select! {
                exit = current.wait() => Step::Exited(exit),
                control = self.control.recv() => Step::Control(control),
            };
            match step {
                Step::Control(control) => return self.on_control(Some(current), control).await,
                Step::Exited(exit) => match self.after_exit(current, exit).await {
                    Next::Run(next) => current = *next,
                    Next::Control(control) => return self.on_control(None, control).await,
                },
            }
        }
    }

    async fn on_control(self, current: Option<Running>, control: Option<Control>) {
        match control {
            Some(Control::Stop(done)) => self.stop(current, done).await,
            Some(Control::Detach) | None => self.detach(current).await,
        }
    }

    /// Reports an unexpected exit, cleans up the group, and restarts after the backoff or
    /// gives up on a crash loop.
    async fn after_exit(&mut self, ended: Running, exit: ExitInfo) -> Next {
        let id = ended.id();
        let uptime = ended.uptime();
        drop(ended);
        let leftovers = signal::kill_leftovers(&Scope::new(&self.spec, Some(id))).await;
        self.report.event(RuntimeEvent::Exited {
            plugin: self.spec.plugin.clone(),
            slot: self.spec.slot,
            replica: self.report.replica,
            process: id,
            code: exit.code,
            signal: exit.signal,
            uptime: Some(uptime),
        });
        let mut what = format!(
            "process {} exited with {} after {}",
            id.pid,
            exit.describe(),
            short_duration(uptime)
        );
        if leftovers > 0 {
            what.push_str(&format!(
                "; killed {leftovers} leftover process(es) of the slot"
            ));
        }
        let level = if exit.code == Some(0) {
            Level::Warn
        } else {
            Level::Error
        };
        match self
            .crashes
            .record(Instant::now(), Some(uptime), &self.policy)
        {
            Decision::Restart { attempt, delay } => {
                self.report.note(
                    level,
                    format!(
                        "{what}; restarting in {} (attempt {attempt})",
                        short_duration(delay)
                    ),
                );
                self.status.set(None, ProcessState::Restarting);
                self.report.restarting(attempt, delay);
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    control = self.control.recv() => return Next::Control(control),
                }
                match process::spawn(&self.spec, false) {
                    Ok(next) => {
                        announce_start(&self.report, &self.status, &self.spec, &next, false);
                        Next::Run(Box::new(next))
                    }
                    Err(err) => {
                        self.fail(format!("cannot restart: {err}"));
                        Next::Control(self.control.recv().await)
                    }
                }
            }
            Decision::GiveUp { exits } => {
                self.report.note(level, what);
                self.fail(format!(
                    "crash loop: {exits} exits within {}; not restarting again, fix the plugin \
                     and deploy it again",
                    short_duration(self.policy.crash_loop_window)
                ));
                Next::Control(self.control.recv().await)
            }
        }
    }

    fn fail(&self, reason: String) {
        self.report
            .note(Level::Error, format!("giving up: {reason}"));
        self.status.set(None, ProcessState::Failed);
        self.report.failed(reason);
    }

    /// SIGTERM, grace, SIGKILL; then reads the rest of the output and reports Stopped.
    async fn stop(self, current: Option<Running>, done: oneshot::Sender<()>) {
        let note = match current {
            Some(mut running) => {
                self.status.set_state(ProcessState::Stopping);
                let pid = running.id().pid;
                let scope = Scope::new(&self.spec, Some(running.id()));
                let outcome = signal::terminate(&mut running, &scope, self.spec.stop_grace).await;
                let mut note = if outcome.killed {
                    (
                        Level::Warn,
                        format!(
                            "process {pid} did not exit within {} of SIGTERM; sent SIGKILL to \
                             every process of the slot",
                            short_duration(self.spec.stop_grace)
                        ),
                    )
                } else {
                    let how = outcome.exit.map(|e| e.describe()).unwrap_or_default();
                    (Level::Info, format!("stopped process {pid} ({how})"))
                };
                if !outcome.outside_group.is_empty() {
                    note.1.push_str(&format!(
                        "; also stopped {} process(es) that had left its process group \
                         (pid {})",
                        outcome.outside_group.len(),
                        join_pids(&outcome.outside_group)
                    ));
                }
                Some(note)
            }
            None => None,
        };
        // The writers are gone: drain so the last output lands before the Stopped line.
        self.stdout.finish(TailMode::Drain).await;
        self.stderr.finish(TailMode::Drain).await;
        if let Some((level, message)) = note {
            self.report.note(level, message);
        }
        self.status.set(None, ProcessState::Stopped);
        self.report.stopped();
        // The handle may have stopped waiting; the stop happened either way.
        let _ = done.send(());
    }

    /// Stops tailing and leaves the process running for a later engine to adopt.
    async fn detach(self, current: Option<Running>) {
        self.stdout.finish(TailMode::Abandon).await;
        self.stderr.finish(TailMode::Abandon).await;
        if let Some(running) = current {
            self.report.note(
                Level::Info,
                format!(
                    "no longer supervising process {}; it keeps running",
                    running.id().pid
                ),
            );
            // Dropping our Child neither kills nor leaks it: Tokio reaps it when it exits.
            drop(running);
        }
    }
}

/// Records and reports that `running` now serves the slot.
pub(super) fn announce_start(
    report: &Reporter,
    status: &SlotStatus,
    spec: &SlotSpec,
    running: &Running,
    adopted: bool,
) {
    let id = running.id();
    status.set(Some(id), ProcessState::Running);
    let verb = if adopted {
        "adopted running"
    } else {
        "started"
    };
    report.note(
        Level::Info,
        format!(
            "{verb} process {} (version {}, port {})",
            id.pid, spec.version, spec.port
        ),
    );
    report.started(id, adopted);
}

/// `12, 34, 56` for prose.
pub(super) fn join_pids(pids: &[u32]) -> String {
    pids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
