//! Parses the command line and launches the chosen face: a CLI verb, the dashboard, the
//! demo, the engine server. The one place that knows every face, so faces never import
//! each other.

mod dashboard;
mod demo;
mod mcp;

use crate::cli::{self, actions, alerts, candidates, logs, output, reload, serve, status, stop};
use crate::command::{
    Cli, Command, ExportCommand, PluginCommand, PreviewCommand, SampleCli, to_call,
};
use clap::Parser;
use std::process::ExitCode;

/// Parses the command line and runs the chosen face.
pub fn main() -> ExitCode {
    // The sample service is a plugin, not a naap command: its own parser, so its --help
    // lists its flags and none of naap's global ones.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == "sample-service")
    {
        let sample = SampleCli::parse_from(std::env::args_os().skip(1));
        return run_async(crate::sample_service::run(sample.args));
    }
    let cli = Cli::parse();
    let result = match cli.command.clone() {
        Some(Command::SampleService(args)) => {
            return run_async(crate::sample_service::run(args));
        }
        Some(Command::Init { dir, force }) => cli::workspace_cmds::init(&cli, dir, force),
        Some(Command::Validate) => cli::workspace_cmds::validate(&cli),
        Some(Command::Generate(args)) if args.implement => {
            return run_async(
                async move { cli::generate::generate_and_implement(&cli, &args).await },
            );
        }
        Some(Command::Generate(args)) => cli::generate::generate(&cli, &args),
        Some(Command::Completions { shell }) => {
            let mut script = Vec::new();
            crate::command::manual::completions(shell, &mut script);
            cli::stdout::write(format_args!("{}", String::from_utf8_lossy(&script)))
        }
        Some(Command::Man) => {
            let mut page = Vec::new();
            match crate::command::manual::man_page(&mut page) {
                Ok(()) => cli::stdout::write(format_args!("{}", String::from_utf8_lossy(&page))),
                Err(e) => Err(anyhow::anyhow!("cannot write the manual page: {e}")),
            }
        }
        Some(Command::Serve { keep_plugins }) => {
            return run_async(serve::serve(cli.clone(), keep_plugins));
        }
        Some(Command::Demo { no_traffic }) => {
            return run_async(demo::demo(cli.clone(), no_traffic));
        }
        Some(Command::Mcp(args)) => return run_async(mcp::mcp(cli.clone(), args)),
        Some(Command::Approve { id: Some(id), .. }) => {
            return run_async(async move { cli::approve::approve(&cli, &id).await });
        }
        Some(Command::Approve { id: None, .. } | Command::Approvals) => cli::approve::list(&cli),
        Some(Command::Reject { id }) => cli::approve::reject(&cli, &id),
        _ => return run_async(dispatch_client(cli)),
    };
    finish(result)
}

/// The verbs that talk to a running engine.
async fn dispatch_client(cli: Cli) -> anyhow::Result<()> {
    let Some(command) = cli.command.clone() else {
        return dashboard::dashboard(&cli).await;
    };
    // The one command → call mapping; a refusal here is a usage error (exit 2).
    let call = to_call(&command).map_err(|e| output::Usage(e.to_string()))?;
    match (command, call) {
        (Command::Status { plugin, watch }, _) => status::status(&cli, plugin, watch).await,
        (Command::Deploy(args), Some(crate::api::Call::Deploy(req))) => {
            actions::deploy(&cli, req, args.detach).await
        }
        (Command::Rollback { .. }, Some(call)) => actions::rollback(&cli, call).await,
        (Command::Logs(args), _) => logs::logs(&cli, args).await,
        (Command::Chat(args), _) => cli::chat::chat(&cli, args).await,
        (Command::Iterate(args), _) => cli::iterate::iterate(&cli, args).await,
        (Command::History { plugin, limit }, _) => status::history(&cli, plugin, limit).await,
        (Command::Stop { plugins }, _) => stop::stop(&cli, plugins).await,
        (Command::Reload, _) => reload::reload(&cli).await,
        (Command::Runbook(command), Some(call)) => {
            cli::runbooks::runbook(&cli, command, call).await
        }
        (Command::Incident(command), Some(call)) => {
            cli::incidents::incident(&cli, command, call).await
        }
        (Command::Export(ExportCommand::Deployed { out }), Some(call)) => {
            cli::plugins::export_deployed(&cli, call, out.as_deref()).await
        }
        (Command::Plugin(PluginCommand::List { .. }), Some(call)) => {
            cli::plugins::list(&cli, call).await
        }
        (Command::Stories { .. }, Some(call)) => candidates::stories(&cli, call).await,
        (Command::Candidates { .. } | Command::Candidate(_), Some(call)) => {
            candidates::candidates(&cli, call).await
        }
        (Command::Alerts { command }, Some(call)) => alerts::alerts(&cli, command, call).await,
        (
            Command::Promote { .. }
            | Command::Abort { .. }
            | Command::Pause { .. }
            | Command::Resume { .. }
            | Command::Traffic { .. }
            | Command::Scale { .. }
            | Command::Restart { .. }
            | Command::Plugin(PluginCommand::Disable { .. } | PluginCommand::Enable { .. })
            | Command::Preview(PreviewCommand::Stop { .. }),
            Some(call),
        ) => actions::act(&cli, call).await,
        _ => anyhow::bail!("this command is handled before the engine client starts"),
    }
}

fn run_async(future: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            noteln!("naap: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    finish(runtime.block_on(future))
}

fn finish(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of our output went away (`| head -1`): a quiet, successful end.
        Err(e) if cli::stdout::is_closed(&e) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(exit) = e.downcast_ref::<output::Exit>() {
                return ExitCode::from(exit.0);
            }
            noteln!("naap: {e:#}");
            if let Some(line) = e
                .downcast_ref::<crate::api::ClientError>()
                .and_then(cli::hint::client_hint)
            {
                noteln!("{line}");
            }
            if e.downcast_ref::<output::Usage>().is_some() {
                return ExitCode::from(2);
            }
            ExitCode::FAILURE
        }
    }
}
