//! `naap` with no command: the dashboard in a terminal, the status table otherwise (so
//! scripts and pipes keep getting text).

use crate::cli::{context, status};
use crate::command::Cli;
use std::io::IsTerminal;

pub async fn dashboard(cli: &Cli) -> anyhow::Result<()> {
    if cli.json || !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return status::status(cli, None, false).await;
    }
    // A broken theme or keymap is reported before anything starts or the screen changes.
    let (theme, keymap) = crate::tui::run::load_look().map_err(|p| anyhow::anyhow!("{p}"))?;
    let root = context::workspace_root(cli)?;
    let state = context::state_dir(&root);
    // Makes sure an engine runs (starting one in the background unless --no-start).
    drop(context::connect(cli).await?);
    crate::tui::run::run(
        &crate::core::engine::socket_path(&state),
        &root,
        theme,
        keymap,
    )
    .await
}
