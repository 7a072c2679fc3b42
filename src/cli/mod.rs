//! The headless face: every subcommand is a client of the engine's socket, except `init`,
//! `validate`, `serve`, `demo` and `sample-service`, which work on files or run the engine.

// Printing goes through `stdout` (outln!, out!, noteln!), which never panics on a closed
// pipe; the std macros do, so they are refused here.
#![deny(clippy::print_stdout, clippy::print_stderr)]

#[macro_use]
mod stdout;
mod actions;
pub mod alerts;
mod args;
mod context;
mod dashboard;
mod demo;
mod hint;
mod logs;
mod output;
mod reload;
mod serve;
mod status;
mod stop;
mod workspace_cmds;

pub use args::{AlertsCommand, Cli, Command};

use crate::api::Call;
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
        let sample = args::SampleCli::parse_from(std::env::args_os().skip(1));
        return run_async(crate::sample_service::run(sample.args));
    }
    let cli = Cli::parse();
    if let Some(Command::SampleService(args)) = &cli.command {
        return run_async(crate::sample_service::run(args.clone()));
    }
    let result = match cli.command.clone() {
        Some(Command::Init { dir, force }) => workspace_cmds::init(&cli, dir, force),
        Some(Command::Validate) => workspace_cmds::validate(&cli),
        Some(Command::Serve { keep_plugins }) => {
            return run_async(serve::serve(cli.clone(), keep_plugins));
        }
        Some(Command::Demo { no_traffic }) => {
            return run_async(demo::demo(cli.clone(), no_traffic));
        }
        _ => return run_async(dispatch_client(cli)),
    };
    finish(result)
}

async fn dispatch_client(cli: Cli) -> anyhow::Result<()> {
    match cli.command.clone() {
        None => dashboard::dashboard(&cli).await,
        Some(Command::Status { plugin, watch }) => status::status(&cli, plugin, watch).await,
        Some(Command::Deploy {
            plugin,
            version,
            strategy,
            dry_run,
            no_cache,
            preview,
            ttl,
            detach,
            force,
        }) => {
            let options = actions::DeployOptions {
                dry_run,
                no_cache,
                preview,
                ttl,
                detach,
                force,
            };
            actions::deploy(&cli, plugin, version, strategy, options).await
        }
        Some(Command::Promote { plugin, full }) => {
            actions::steer(&cli, Call::Promote { plugin, full }).await
        }
        Some(Command::Abort { plugin }) => actions::steer(&cli, Call::Abort { plugin }).await,
        Some(Command::Pause { plugin }) => actions::steer(&cli, Call::Pause { plugin }).await,
        Some(Command::Resume { plugin }) => actions::steer(&cli, Call::Resume { plugin }).await,
        Some(Command::Traffic { plugin, weights }) => actions::traffic(&cli, plugin, weights).await,
        Some(Command::Rollback { plugin, to, yes }) => {
            actions::rollback(&cli, plugin, to, yes).await
        }
        Some(Command::Logs(args)) => logs::logs(&cli, args).await,
        Some(Command::History { plugin, limit }) => status::history(&cli, plugin, limit).await,
        Some(Command::Stop { plugins }) => stop::stop(&cli, plugins).await,
        Some(Command::Reload) => reload::reload(&cli).await,
        Some(Command::Alerts { command }) => alerts::alerts(&cli, command).await,
        Some(Command::Preview(args::PreviewCommand::Stop { plugin, id })) => {
            actions::stop_preview(&cli, plugin, id).await
        }
        Some(_) => unreachable_command(),
    }
}

fn unreachable_command() -> anyhow::Result<()> {
    anyhow::bail!("this command is handled before the engine client starts")
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
        Err(e) if stdout::is_closed(&e) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(exit) = e.downcast_ref::<output::Exit>() {
                return ExitCode::from(exit.0);
            }
            noteln!("naap: {e:#}");
            if let Some(crate::api::ClientError::Api { hints, .. }) = e.downcast_ref()
                && let Some(line) = hint::hint_line(hints)
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
