//! `naap stop`: asks the engine to stop and waits until it has (pid gone, lock free), so the
//! next command finds no engine rather than one still on its way out. An engine whose
//! socket is gone is stopped through the pid its lock file names, checked against the
//! process start time so a later process that reused the pid is never signalled.

use super::output::print_json;
use super::{Cli, context};
use crate::api::{Call, Client, ClientError};
use crate::core::engine::lock::{self, LockHolder};
use crate::core::engine::{StatusReport, socket_path};
use crate::core::types::Face;
use std::path::Path;
use std::time::{Duration, Instant};

/// What an engine needs beyond its plugins' stop grace to flush and exit.
const EXIT_MARGIN: Duration = Duration::from_secs(10);
/// After this long, say what `naap stop` is waiting for.
const SAY_WAITING_AFTER: Duration = Duration::from_secs(1);

pub async fn stop(cli: &Cli, plugins: bool) -> anyhow::Result<()> {
    let root = context::workspace_root(cli)?;
    let state = context::state_dir(&root);
    let mut holder = lock::holder(&state);
    let (slots, signalled) = match Client::connect(&socket_path(&state), Face::Cli).await {
        Ok(mut client) => {
            // The slot processes, to name any that outlive the deadline.
            let report = client
                .call_as::<StatusReport>(Call::Status(crate::api::protocol::StatusRequest {
                    plugin: None,
                }))
                .await
                .ok();
            let slots = report.as_ref().map(slot_pids).unwrap_or_default();
            // The lock file may be unreadable or gone (deleted under the engine, which
            // still holds the lock on the old inode): wait on the pid the engine reports.
            if holder.is_none_or(|h| h.pid == 0)
                && let Some(pid) = report.map(|r| r.engine.pid)
            {
                holder = Some(LockHolder {
                    pid,
                    start_time: crate::core::procstat::start_time(pid),
                });
            }
            let shutdown = Call::Shutdown(crate::api::protocol::ShutdownRequest {
                stop_plugins: plugins,
            });
            if plugins {
                // Stopping every slot is a change to what serves (production asks first).
                let _: (serde_json::Value, _) =
                    super::confirm::call_change(cli, &mut client, shutdown).await?;
            } else {
                client.call(shutdown).await?;
            }
            (slots, false)
        }
        Err(ClientError::NoEngine(_)) => match holder {
            None => {
                if cli.json {
                    return print_json(&serde_json::json!({"running": false}));
                }
                noteln!("no engine runs for {}", root.display());
                return Ok(());
            }
            Some(holder) => {
                signal_without_socket(&state, holder, plugins)?;
                (Vec::new(), true)
            }
        },
        Err(e) => return Err(e.into()),
    };
    // A signalled `naap serve` stops its plugins by default, so give it their grace too.
    let deadline = EXIT_MARGIN
        + if plugins || signalled {
            longest_stop_grace(&root)
        } else {
            Duration::ZERO
        };
    let pid = holder.map(|h| h.pid);
    if let Err(still) = wait_until_stopped(&state, holder, deadline, plugins) {
        let mut message = format!(
            "the engine{} did not stop within {}s",
            pid.map(|p| format!(" (pid {p})")).unwrap_or_default(),
            deadline.as_secs()
        );
        if still {
            message.push_str(" and still runs");
        }
        let alive: Vec<String> = slots
            .iter()
            .filter(|(_, pid)| crate::core::procstat::start_time(*pid).is_some())
            .map(|(slot, pid)| format!("{slot} (pid {pid})"))
            .collect();
        if !alive.is_empty() {
            message.push_str(&format!(
                "; slot processes still running: {}",
                alive.join(", ")
            ));
        }
        message.push_str(&format!(
            "\n  hint: see {} and the engine log in {}",
            state.join("engine.out").display(),
            state.join("logs").display()
        ));
        anyhow::bail!(message);
    }
    if cli.json {
        return print_json(&serde_json::json!({
            "stopped": true,
            "pid": pid,
            "stop_plugins": plugins,
            "signalled": signalled,
        }));
    }
    let who = pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
    outln!(
        "engine{who} stopped{}",
        if plugins {
            " with its plugins"
        } else if signalled {
            ""
        } else {
            "; plugins keep running until the next engine adopts them"
        }
    )?;
    Ok(())
}

/// The socket is gone but an engine holds the lock: SIGTERM to the pid the lock file names,
/// only when that pid is still the process that took the lock.
fn signal_without_socket(state: &Path, holder: LockHolder, plugins: bool) -> anyhow::Result<()> {
    let lock_file = lock::lock_path(state);
    let socket = socket_path(state);
    if holder.pid == 0 || holder.start_time.is_none() {
        anyhow::bail!(
            "an engine holds {} but its socket {} is gone, and the lock file does not name it with a start time (an older naap wrote it), so naap cannot tell it from a later process with the same pid; not signalling anything\n  hint: find the holder with `fuser {}` and stop it with `kill PID`",
            lock_file.display(),
            socket.display(),
            lock_file.display()
        );
    }
    if !holder.is_same_process() {
        anyhow::bail!(
            "an engine holds {} but its socket {} is gone, and pid {} named there is now a different process (another start time); not signalling it\n  hint: find the holder with `fuser {}`",
            lock_file.display(),
            socket.display(),
            holder.pid,
            lock_file.display()
        );
    }
    // SAFETY: sending a signal to a pid just verified (pid + start time) to be the engine.
    if unsafe { libc::kill(holder.pid as i32, libc::SIGTERM) } != 0 {
        anyhow::bail!(
            "engine pid {} runs but its socket is gone, and SIGTERM to it failed: {}",
            holder.pid,
            std::io::Error::last_os_error()
        );
    }
    noteln!(
        "engine pid {} runs but its socket {} is gone; sent it SIGTERM{}",
        holder.pid,
        socket.display(),
        if plugins {
            ""
        } else {
            " (on SIGTERM `naap serve` stops its plugins too, unless it runs with --keep-plugins)"
        }
    );
    Ok(())
}

/// Waits until the engine's process is gone and the workspace lock is free. On the
/// deadline, `Err(true)` when the engine process still runs, `Err(false)` when only the
/// lock is still held.
fn wait_until_stopped(
    state: &Path,
    holder: Option<LockHolder>,
    deadline: Duration,
    plugins: bool,
) -> Result<(), bool> {
    let started = Instant::now();
    let mut said = false;
    loop {
        let exited = holder.is_none_or(|h| h.pid == 0 || h.has_exited());
        if exited && lock::holder(state).is_none() {
            return Ok(());
        }
        if started.elapsed() >= deadline {
            return Err(!exited);
        }
        if !said && started.elapsed() >= SAY_WAITING_AFTER {
            said = true;
            noteln!(
                "waiting for the engine{} to exit{} (up to {}s) …",
                holder
                    .map(|h| format!(" (pid {})", h.pid))
                    .unwrap_or_default(),
                if plugins {
                    " after stopping its plugins"
                } else {
                    ""
                },
                deadline.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The longest stop grace of the workspace's plugins (5 s when the workspace cannot be read).
fn longest_stop_grace(root: &Path) -> Duration {
    crate::core::workspace::load(root)
        .ok()
        .and_then(|ws| ws.plugins.iter().map(|p| p.run.stop_grace).max())
        .unwrap_or(Duration::from_secs(5))
}

fn slot_pids(report: &StatusReport) -> Vec<(String, u32)> {
    report
        .plugins
        .iter()
        .flat_map(|p| {
            p.slots
                .iter()
                .chain(&p.previews)
                .filter_map(move |s| s.pid.map(|pid| (format!("{}/{}", p.name, s.slot), pid)))
        })
        .collect()
}
