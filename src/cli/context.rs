//! Finding the workspace and reaching its engine.

use super::Cli;
use super::output::Usage;
use crate::api::Client;
use crate::core::types::Face;
use crate::core::workspace;
use anyhow::Context;
use std::path::PathBuf;

/// The workspace root: `--workspace`, or the nearest directory with a naap.toml.
pub fn workspace_root(cli: &Cli) -> anyhow::Result<PathBuf> {
    if let Some(dir) = &cli.workspace {
        // A --workspace (or NAAP_WORKSPACE) that is no workspace is a bad argument: exit 2.
        let dir = dir.canonicalize().map_err(|e| {
            Usage(format!(
                "--workspace {}: {}\n  hint: pass the directory that holds naap.toml, or create one with `naap init DIR`",
                dir.display(),
                if e.kind() == std::io::ErrorKind::NotFound {
                    "no such directory".to_string()
                } else {
                    e.to_string()
                }
            ))
        })?;
        if !dir.join("naap.toml").is_file() {
            return Err(Usage(format!(
                "--workspace {} has no naap.toml\n  hint: run `naap init {}` to create a workspace there",
                dir.display(),
                dir.display()
            ))
            .into());
        }
        return Ok(dir);
    }
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    workspace::find_root(&cwd).ok_or_else(|| {
        anyhow::anyhow!("no naap.toml in {} or any directory above it\n  hint: run `naap init` to create a workspace here, or pass --workspace DIR", cwd.display())
    })
}

/// The state directory of a workspace. A workspace with problems still has an engine
/// worth talking to, so this falls back to the default location.
pub fn state_dir(root: &std::path::Path) -> PathBuf {
    match workspace::load(root) {
        Ok(ws) => ws.state_dir,
        Err(_) => root.join(".naap"),
    }
}

/// Connects to the workspace's engine, starting it in the background unless `--no-start`.
pub async fn connect(cli: &Cli) -> anyhow::Result<Client> {
    let root = workspace_root(cli)?;
    let state = state_dir(&root);
    if cli.no_start {
        return Ok(Client::connect_running(&state, Face::Cli).await?);
    }
    let (client, started) = Client::connect_or_start(&root, &state, Face::Cli).await?;
    if let Some(log) = started {
        noteln!(
            "naap: no engine was running; started one in the background (output: {})",
            log.display()
        );
    }
    Ok(client)
}
