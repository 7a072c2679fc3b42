//! `naap runbook list|show|run`.

use super::output::{Exit, print_json};
use super::{Cli, confirm, context};
use crate::api::Call;
use crate::api::runbook::{RunbookOutcome, RunbookView};
use crate::command::RunbookCommand;

pub async fn runbook(cli: &Cli, command: RunbookCommand, call: Call) -> anyhow::Result<()> {
    let mut client = context::connect(cli).await?;
    match command {
        RunbookCommand::List => {
            let list: Vec<serde_json::Value> = client.call_as(call).await?;
            if cli.json {
                return print_json(&list);
            }
            if list.is_empty() {
                outln!("no runbook: add runbooks/NAME.toml beside naap.toml")?;
            }
            for r in &list {
                match r["problem"].as_str() {
                    Some(problem) => outln!("BROKEN {problem}")?,
                    None => outln!(
                        "{:<24} {} steps  {}",
                        r["name"].as_str().unwrap_or("?"),
                        r["steps"],
                        r["description"].as_str().unwrap_or("")
                    )?,
                }
            }
            Ok(())
        }
        RunbookCommand::Show { .. } => {
            let view: RunbookView = client.call_as(call).await?;
            if cli.json {
                return print_json(&view);
            }
            outln!("{}: {}", view.runbook.name, view.runbook.description)?;
            for (i, step) in view.runbook.steps.iter().enumerate() {
                outln!("  {}. {}: {}", i + 1, step.name, step.action.describe())?;
                if let Some(c) = &step.compensate {
                    outln!("     undo: {}", c.describe())?;
                }
            }
            for run in view.runs.iter().take(5) {
                outln!(
                    "run {} {} by {} · {}: {}",
                    run.id,
                    run.started_at.format("%Y-%m-%d %H:%M"),
                    run.face,
                    run.outcome,
                    run.summary
                )?;
            }
            Ok(())
        }
        RunbookCommand::Run { dry_run, .. } => {
            let (outcome, changing): (RunbookOutcome, _) = if dry_run {
                let environment = confirm::environment(&mut client).await?;
                (
                    client.call_as(call).await?,
                    confirm::Changing {
                        environment,
                        confirmed: None,
                    },
                )
            } else {
                confirm::call_change(cli, &mut client, call).await?
            };
            if cli.json {
                print_json(&outcome)?;
            } else {
                for s in &outcome.steps {
                    outln!(
                        "  {:<10} {:<9} {}: {}",
                        s.phase,
                        s.outcome,
                        s.step,
                        s.detail
                    )?;
                }
                outln!(
                    "{}runbook {} {}: {}",
                    changing.prefix(),
                    outcome.runbook,
                    outcome.outcome,
                    outcome.summary
                )?;
            }
            if outcome.outcome == "failed" {
                return Err(Exit(1).into());
            }
            Ok(())
        }
    }
}
