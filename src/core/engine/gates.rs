//! Build and test gates: commands that must succeed before a version gets a slot. Their
//! output streams into the plugin's logs with source `gate`.

use super::{Engine, EngineError};
use crate::core::types::LogSource;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::watch;

impl Engine {
    /// Runs one gate to completion. A cancel (rollback) kills its whole process group.
    pub(crate) async fn run_gate(
        &self,
        plugin: &str,
        gate: &str,
        command: &str,
        cwd: &Path,
        env: &BTreeMap<String, String>,
        cancel: &mut watch::Receiver<bool>,
    ) -> Result<(), EngineError> {
        self.record(
            Some(plugin),
            None,
            "gate_started",
            format!("gate `{gate}` started: {command}"),
            serde_json::json!({"gate": gate, "command": command}),
        );
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(command)
            .current_dir(cwd)
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| EngineError::GateFailed {
                plugin: plugin.to_string(),
                gate: gate.to_string(),
                status: format!(
                    "could not start `sh -c {command}` in {}: {e}",
                    cwd.display()
                ),
            })?;
        let pgid = child.id();
        let readers = [
            child
                .stdout
                .take()
                .map(|s| self.forward_gate_output(plugin, s)),
            child
                .stderr
                .take()
                .map(|s| self.forward_gate_output(plugin, s)),
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
                "gate_passed",
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
                "gate_failed",
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
    ) -> tokio::task::JoinHandle<()> {
        let logs = self.inner.logs.clone();
        let plugin = plugin.to_string();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                logs.push(&plugin, None, LogSource::Gate, &line);
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
