//! Launches `naap mcp`: finds the workspace and its engine (starting one unless
//! `--no-start`), then hands stdio or the loopback port to the MCP face.

use crate::cli::context::{connect, state_dir, workspace_root};
use crate::cli::output::Usage;
use crate::command::{Cli, McpArgs};
use crate::mcp::{self, Mode, Options};

pub async fn mcp(cli: Cli, args: McpArgs) -> anyhow::Result<()> {
    let listen = match &args.listen {
        Some(text) => Some(mcp::loopback_addr(text).map_err(Usage)?),
        None => None,
    };
    let root = workspace_root(&cli)?;
    let state = state_dir(&root);
    // Reached once now so a missing engine is started (or reported) before a client waits.
    let environment = crate::cli::confirm::environment(&mut connect(&cli).await?).await?;
    // An MCP client's own "yes" is a model's or a program's, not a person's who was told
    // this is production; the engine would refuse each change anyway, so say it at once.
    if args.allow_changes && environment.is_production() {
        return Err(Usage(format!(
            "--allow-changes is refused in a {environment} workspace: every change there needs a person's confirmation\n  hint: run `naap mcp` without it; its changes then wait for `naap approve ID` or the dashboard's A list"
        ))
        .into());
    }
    let mode = if args.read_only {
        Mode::ReadOnly
    } else if args.allow_changes {
        Mode::AllowChanges
    } else {
        Mode::Propose
    };
    mcp::run(Options {
        socket: crate::core::engine::socket_path(&state),
        root,
        state_dir: state,
        mode,
        listen,
    })
    .await?;
    Ok(())
}
