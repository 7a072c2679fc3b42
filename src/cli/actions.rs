//! `naap deploy`, `traffic`, `rollback`, `stop`: actions that change something.

use super::output::print_json;
use super::{Cli, context};
use crate::api::Call;
use crate::core::engine::{ActionOutcome, GateOutcome, GateReport};
use crate::core::types::{SlotName, StrategyKind};
use std::io::{BufRead, IsTerminal, Write};

/// The flags of `naap deploy` that change how, not what, it deploys.
#[derive(Clone, Debug, Default)]
pub struct DeployOptions {
    pub dry_run: bool,
    pub no_cache: bool,
    pub preview: bool,
    pub ttl: Option<String>,
}

pub async fn deploy(
    cli: &Cli,
    plugin: String,
    version: Option<String>,
    strategy: Option<StrategyKind>,
    options: DeployOptions,
) -> anyhow::Result<()> {
    let DeployOptions {
        dry_run,
        no_cache,
        preview,
        ttl,
    } = options;
    let mut client = context::connect(cli).await?;
    if !cli.json && !dry_run {
        eprintln!(
            "deploying {plugin}{} …",
            version
                .as_ref()
                .map(|v| format!(" {v}"))
                .unwrap_or_default()
        );
    }
    let outcome: ActionOutcome = client
        .call_as(Call::Deploy {
            plugin,
            version,
            strategy,
            dry_run,
            no_cache,
            preview,
            ttl,
        })
        .await?;
    report(cli, &outcome)
}

pub async fn stop_preview(cli: &Cli, plugin: String, id: String) -> anyhow::Result<()> {
    let mut client = context::connect(cli).await?;
    let outcome: ActionOutcome = client.call_as(Call::PreviewStop { plugin, id }).await?;
    report(cli, &outcome)
}

pub async fn traffic(
    cli: &Cli,
    plugin: String,
    weights: Vec<(SlotName, u32)>,
) -> anyhow::Result<()> {
    let mut seen = std::collections::BTreeMap::new();
    for (slot, weight) in weights {
        if seen.insert(slot, weight).is_some() {
            anyhow::bail!("{slot} is given twice; give each slot once, e.g. `blue=90 green=10`");
        }
    }
    let mut client = context::connect(cli).await?;
    let outcome: ActionOutcome = client
        .call_as(Call::Traffic {
            plugin,
            weights: seen,
        })
        .await?;
    report(cli, &outcome)
}

pub async fn rollback(
    cli: &Cli,
    plugin: String,
    to: Option<String>,
    yes: bool,
) -> anyhow::Result<()> {
    // Ask only a person at a terminal; a script must not hang on a prompt.
    if !yes && std::io::stdin().is_terminal() && !cli.json {
        let target = to
            .as_ref()
            .map(|v| format!(" to {v}"))
            .unwrap_or_else(|| " to the previous version".to_string());
        eprint!("Roll back {plugin}{target}? [y/N] ");
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("nothing changed");
            return Ok(());
        }
    }
    let mut client = context::connect(cli).await?;
    let outcome: ActionOutcome = client.call_as(Call::Rollback { plugin, to }).await?;
    report(cli, &outcome)
}

pub async fn stop(cli: &Cli, plugins: bool) -> anyhow::Result<()> {
    let root = context::workspace_root(cli)?;
    let state = context::state_dir(&root);
    let socket = crate::core::engine::socket_path(&state);
    let mut client = match crate::api::Client::connect(&socket, crate::core::types::Face::Cli).await
    {
        Ok(c) => c,
        Err(crate::api::ClientError::NoEngine(_)) => {
            eprintln!("no engine runs for {}", root.display());
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let result = client
        .call(Call::Shutdown {
            stop_plugins: plugins,
        })
        .await?;
    if cli.json {
        return print_json(&result);
    }
    println!(
        "engine stopping{}",
        if plugins {
            " with its plugins"
        } else {
            "; plugins keep running until the next engine adopts them"
        }
    );
    Ok(())
}

fn gate_line(gate: &GateReport) -> String {
    let hash = gate.input_hash.get(..12).unwrap_or(&gate.input_hash);
    match (gate.outcome, gate.cached_since) {
        (GateOutcome::Cached, Some(since)) => format!(
            "gate {}: cached (inputs unchanged since {}, hash {hash})",
            gate.gate,
            since.format("%Y-%m-%d %H:%M:%S UTC")
        ),
        (GateOutcome::Cached, None) => format!("gate {}: cached (hash {hash})", gate.gate),
        (GateOutcome::Ran, _) => format!(
            "gate {}: ran and passed in {:.1}s (hash {hash})",
            gate.gate,
            gate.duration_ms as f64 / 1000.0
        ),
    }
}

fn report(cli: &Cli, outcome: &ActionOutcome) -> anyhow::Result<()> {
    if cli.json {
        return print_json(outcome);
    }
    println!("{}", outcome.summary);
    for gate in &outcome.gates {
        println!("{}", gate_line(gate));
    }
    if !outcome.weights.is_empty() {
        let split: Vec<String> = outcome
            .weights
            .iter()
            .map(|(s, w)| format!("{s} {w}%"))
            .collect();
        println!("traffic: {}", split.join(", "));
    }
    Ok(())
}
