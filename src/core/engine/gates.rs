//! Build and test gates: commands that must succeed before a version gets a slot. Their
//! output streams into the plugin's logs with source `gate`.
//!
//! A passed gate is cached by the hash of its inputs (`gate_inputs`): the next deploy with
//! the same hash logs `build: cached (…)` instead of running the command. Failed gates are
//! never cached, and `naap deploy --no-cache` runs every gate.

use super::gate_inputs::{GateInvocation, TreeHash, gate_input_hash, hash_tree, short_hash};
use super::state::DeploySpec;
use super::{Engine, EngineError};
use crate::core::event_kind::EventKind;
use crate::core::logs::{LogLine, StreamParser};
use crate::core::types::{Level, LogSource, SlotName};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::watch;

/// How many of a gate's last output lines are kept with a cached pass.
const OUTPUT_TAIL_LINES: usize = 20;

/// What happened to one gate of a deploy; part of the deploy's outcome and `--json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateReport {
    pub gate: String,
    /// `ran` (the command ran and passed) or `cached` (an earlier pass had the same inputs).
    pub outcome: GateOutcome,
    pub input_hash: String,
    /// The run's duration; for a cached gate, the duration of the run it reused.
    pub duration_ms: u64,
    /// For a cached gate: when the reused run passed.
    pub cached_since: Option<DateTime<Utc>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateOutcome {
    Ran,
    Cached,
}

/// The manifest's gates in the order they run: `build`, then `lint`, then `test`; each
/// only when the manifest has it. A failure stops the ones after it.
pub(crate) fn gate_commands(run: &crate::core::workspace::RunSpec) -> Vec<(&'static str, &String)> {
    [
        ("build", &run.build),
        ("lint", &run.lint),
        ("test", &run.test),
    ]
    .into_iter()
    .filter_map(|(name, command)| command.as_ref().map(|c| (name, c)))
    .collect()
}

/// Where and for what a list of gates runs.
pub(crate) struct GateSite<'a> {
    /// The files the input hash covers.
    pub tree: &'a Path,
    pub slot: SlotName,
    pub version: &'a str,
    pub no_cache: bool,
    /// Lines of a failed gate's output to keep (at least the cached tail's).
    pub keep_lines: usize,
}

/// The gates that passed (ran or cached), and the one that failed, if one did.
#[derive(Debug, Default)]
pub(crate) struct GateRun {
    pub passed: Vec<GateReport>,
    pub failure: Option<GateFailure>,
}

#[derive(Debug)]
pub(crate) struct GateFailure {
    pub gate: String,
    pub status: String,
    pub duration_ms: u64,
    /// Its last lines of output, stdout and stderr as they came.
    pub output: String,
}

/// A gate's last lines of output, shared by its stdout and stderr readers.
type OutputTail = Arc<Mutex<VecDeque<String>>>;

impl Engine {
    /// Runs the plugin's gates (`gate_commands`) for a deploy, each skipped when a pass
    /// with the same input hash is cached (unless `no_cache`). Stops at the first failure.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn run_gates(
        &self,
        plugin: &str,
        plugin_dir: &Path,
        spec: &DeploySpec,
        slot: SlotName,
        version: &str,
        no_cache: bool,
        cancel: &mut watch::Receiver<bool>,
    ) -> Result<Vec<GateReport>, EngineError> {
        let site = GateSite {
            tree: plugin_dir,
            slot,
            version,
            no_cache,
            keep_lines: OUTPUT_TAIL_LINES,
        };
        let run = self.run_gate_list(plugin, spec, &site, cancel).await?;
        match run.failure {
            None => Ok(run.passed),
            Some(failure) => Err(EngineError::GateFailed {
                plugin: plugin.to_string(),
                gate: failure.gate,
                status: failure.status,
            }),
        }
    }

    /// Runs the gates on the files under `site.tree` (the plugin directory, or a
    /// candidate's staged copy) in `spec.run.cwd`, with the gate cache. A gate that fails
    /// ends the run with its last `keep_lines` lines of output.
    pub(crate) async fn run_gate_list(
        &self,
        plugin: &str,
        spec: &DeploySpec,
        site: &GateSite<'_>,
        cancel: &mut watch::Receiver<bool>,
    ) -> Result<GateRun, EngineError> {
        let gates = gate_commands(&spec.run);
        let mut run = GateRun::default();
        if gates.is_empty() {
            return Ok(run);
        }
        let (slot, version) = (site.slot, site.version);
        let tree = self.hash_plugin_tree(plugin, site.tree).await?;
        for (gate, template) in gates {
            let command = self.expand(template, plugin, slot, version, 0);
            let env = self.expand_env(spec, plugin, slot, version, 0);
            let input_hash = gate_input_hash(
                &tree,
                &GateInvocation {
                    gate,
                    command: &command,
                    env: &super::secrets::gate_key_env(&env, spec),
                    version,
                },
            );
            if !site.no_cache
                && let Some(report) = self.cached_gate(plugin, gate, &input_hash)
            {
                run.passed.push(report);
                continue;
            }
            let mut env = env;
            env.extend(self.resolve_env_from(plugin, spec)?);
            let started = Instant::now();
            let tail = OutputTail::default();
            let keep = site.keep_lines.max(OUTPUT_TAIL_LINES);
            let result = self
                .run_gate(
                    plugin,
                    gate,
                    &command,
                    &spec.run.cwd,
                    &env,
                    cancel,
                    &tail,
                    keep,
                )
                .await;
            let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let lines: Vec<String> = tail
                .lock()
                .map(|t| t.iter().cloned().collect())
                .unwrap_or_default();
            match result {
                Ok(()) => {}
                Err(EngineError::GateFailed { gate, status, .. }) => {
                    run.failure = Some(GateFailure {
                        gate,
                        status,
                        duration_ms,
                        output: lines.join("\n"),
                    });
                    return Ok(run);
                }
                Err(other) => return Err(other),
            }
            let tail_text = lines[lines.len().saturating_sub(OUTPUT_TAIL_LINES)..].join("\n");
            // A cache write that fails costs a rebuild next time, not this deploy.
            let cached =
                self.store()
                    .record_gate_pass(plugin, gate, &input_hash, duration_ms, &tail_text);
            if let Err(e) = cached {
                tracing::warn!("could not cache the pass of gate `{gate}` of {plugin}: {e}");
            }
            run.passed.push(GateReport {
                gate: gate.to_string(),
                outcome: GateOutcome::Ran,
                input_hash,
                duration_ms,
                cached_since: None,
            });
        }
        Ok(run)
    }

    async fn hash_plugin_tree(&self, plugin: &str, dir: &Path) -> Result<TreeHash, EngineError> {
        let owned = dir.to_path_buf();
        let hashed = tokio::task::spawn_blocking(move || hash_tree(&owned))
            .await
            .map_err(|e| format!("the hashing task failed: {e}"))
            .and_then(|r| r);
        hashed.map_err(|why| EngineError::GateFailed {
            plugin: plugin.to_string(),
            gate: "inputs".to_string(),
            status: format!("cannot hash the plugin's files to check the gate cache: {why}"),
        })
    }

    /// The cached pass of a gate with these inputs, logged and recorded as such.
    fn cached_gate(&self, plugin: &str, gate: &str, input_hash: &str) -> Option<GateReport> {
        // Bound first: the store's lock must be released before `record` takes it again.
        let lookup = self.store().gate_pass(plugin, gate, input_hash);
        let pass = match lookup {
            Ok(pass) => pass?,
            Err(e) => {
                tracing::warn!("could not read the gate cache; running `{gate}`: {e}");
                return None;
            }
        };
        let line = format!(
            "{gate}: cached (inputs unchanged since {}, hash {})",
            pass.passed_at.format("%Y-%m-%d %H:%M:%S UTC"),
            short_hash(input_hash)
        );
        // `record` writes the line into the logs, with the gate's output.
        self.record(
            Some(plugin),
            None,
            EventKind::GateCached,
            line,
            serde_json::json!({"gate": gate, "input_hash": input_hash, "passed_at": pass.passed_at}),
        );
        Some(GateReport {
            gate: gate.to_string(),
            outcome: GateOutcome::Cached,
            input_hash: input_hash.to_string(),
            duration_ms: pass.duration_ms,
            cached_since: Some(pass.passed_at),
        })
    }

    /// Runs one gate to completion. A cancel (rollback) kills its whole process group.
    #[allow(clippy::too_many_arguments)]
    async fn run_gate(
        &self,
        plugin: &str,
        gate: &str,
        command: &str,
        cwd: &Path,
        env: &BTreeMap<String, String>,
        cancel: &mut watch::Receiver<bool>,
        tail: &OutputTail,
        keep: usize,
    ) -> Result<(), EngineError> {
        self.record(
            Some(plugin),
            None,
            EventKind::GateStarted,
            format!("gate `{gate}` started: {command}"),
            serde_json::json!({"gate": gate, "command": command}),
        );
        let mut shell = Command::new("sh");
        shell
            .arg("-c")
            .arg(command)
            .current_dir(cwd)
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        crate::core::private_files::child_gets_inherited_umask(&mut shell);
        let mut child = shell.spawn().map_err(|e| EngineError::GateFailed {
            plugin: plugin.to_string(),
            gate: gate.to_string(),
            status: format!(
                "could not start `sh -c {command}` in {}: {e}",
                cwd.display()
            ),
        })?;
        let pgid = child.id();
        // A gate is a batch job, not a service: its stderr is where compilers, test runners
        // and `sh` itself report what went wrong, so a stderr line that names no level is a
        // warning (a service's stderr, often its request log, stays `info`). Lines that name
        // a level keep it; stdout lines without one are `info`.
        let readers = [
            child
                .stdout
                .take()
                .map(|s| self.forward_gate_output(plugin, s, Level::Info, tail.clone(), keep)),
            child
                .stderr
                .take()
                .map(|s| self.forward_gate_output(plugin, s, Level::Warn, tail.clone(), keep)),
        ];
        let status = tokio::select! {
            status = child.wait() => status,
            _ = cancelled(cancel) => {
                if let Some(pgid) = pgid {
                    // SAFETY: signalling a process group we created.
                    unsafe { libc::kill(-(pgid as i32), libc::SIGKILL) };
                }
                let _ = child.wait().await;
                return Err(EngineError::Cancelled { plugin: plugin.to_string(), by: "a rollback".to_string() });
            }
        };
        for reader in readers.into_iter().flatten() {
            let _ = reader.await;
        }
        let status = status.map_err(|e| EngineError::GateFailed {
            plugin: plugin.to_string(),
            gate: gate.to_string(),
            status: e.to_string(),
        })?;
        if status.success() {
            self.record(
                Some(plugin),
                None,
                EventKind::GatePassed,
                format!("gate `{gate}` passed"),
                serde_json::json!({"gate": gate}),
            );
            Ok(())
        } else {
            let status = match status.code() {
                Some(code) => format!("exit code {code}"),
                None => "killed by a signal".to_string(),
            };
            self.record(
                Some(plugin),
                None,
                EventKind::GateFailed,
                format!("gate `{gate}` failed: {status}"),
                serde_json::json!({"gate": gate, "status": status}),
            );
            Err(EngineError::GateFailed {
                plugin: plugin.to_string(),
                gate: gate.to_string(),
                status,
            })
        }
    }

    fn forward_gate_output(
        &self,
        plugin: &str,
        stream: impl AsyncRead + Unpin + Send + 'static,
        unmarked: Level,
        tail: OutputTail,
        keep: usize,
    ) -> tokio::task::JoinHandle<()> {
        let logs = self.inner.logs.clone();
        let plugin = plugin.to_string();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stream);
            let mut parser = StreamParser::with_unmarked_level(unmarked);
            let mut bytes = Vec::new();
            // Bytes, not `lines()`: one line that is not UTF-8 must not stop the reading
            // (the gate would then block on a full pipe).
            while reader
                .read_until(b'\n', &mut bytes)
                .await
                .is_ok_and(|n| n > 0)
            {
                let line = String::from_utf8_lossy(&bytes)
                    .trim_end_matches(['\r', '\n'])
                    .to_string();
                bytes.clear();
                // Masked before it is kept: the tail is stored with a cached pass.
                let line = logs.masked(&plugin, &line);
                let (level, message, fields) = parser.parse(&line);
                logs.push_line(LogLine {
                    seq: 0,
                    ts: Utc::now(),
                    plugin: plugin.clone(),
                    slot: None,
                    source: LogSource::Gate,
                    level,
                    message,
                    fields,
                });
                if let Ok(mut tail) = tail.lock() {
                    if tail.len() >= keep {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
            }
        })
    }
}

/// Resolves when the cancel flag turns true. A dropped sender means the operation finished
/// and can no longer be cancelled, so this then never resolves.
pub(crate) async fn cancelled(cancel: &mut watch::Receiver<bool>) {
    loop {
        if *cancel.borrow_and_update() {
            return;
        }
        if cancel.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
