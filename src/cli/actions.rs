//! `naap deploy`, `traffic`, `rollback`: actions that change something.

use super::output::print_json;
use super::{Cli, context};
use crate::api::Call;
use crate::core::engine::{ActionOutcome, EngineEvent, GateOutcome, GateReport};
use crate::core::event_kind::EventKind;
use crate::core::types::{SlotName, StrategyKind, Version};
use std::io::{BufRead, IsTerminal, Write};

/// The flags of `naap deploy` that change how, not what, it deploys.
#[derive(Clone, Debug, Default)]
pub struct DeployOptions {
    pub dry_run: bool,
    pub no_cache: bool,
    pub preview: bool,
    pub ttl: Option<String>,
    /// Answer once the rollout started, not when it ends.
    pub detach: bool,
    /// Deploy even when the version is already live.
    pub force: bool,
}

pub async fn deploy(
    cli: &Cli,
    plugin: String,
    version: Option<Version>,
    strategy: Option<StrategyKind>,
    options: DeployOptions,
) -> anyhow::Result<()> {
    let DeployOptions {
        dry_run,
        no_cache,
        preview,
        ttl,
        detach,
        force,
    } = options;
    let mut client = context::connect(cli).await?;
    let progress = if !cli.json && !dry_run && !detach {
        noteln!(
            "deploying {plugin}{} …",
            version
                .as_ref()
                .map(|v| format!(" {v}"))
                .unwrap_or_default()
        );
        follow_progress(cli, &plugin).await
    } else {
        None
    };
    let outcome: Result<ActionOutcome, _> = client
        .call_as(Call::Deploy {
            plugin,
            version,
            strategy,
            dry_run,
            no_cache,
            preview,
            ttl,
            detach,
            force,
        })
        .await;
    if let Some(mut progress) = progress {
        // Events travel on the other connection: let the last ones arrive, briefly — but
        // only when the deploy got as far as starting; a refusal (bad manifest, unknown
        // plugin, bad version) has no events to wait for and answers at once.
        let started = match &outcome {
            Ok(_) => true,
            Err(crate::api::ClientError::Api { code, .. }) => {
                DEPLOY_RAN_CODES.contains(&code.as_str())
            }
            Err(_) => false,
        };
        if !started
            || tokio::time::timeout(std::time::Duration::from_secs(2), &mut progress)
                .await
                .is_err()
        {
            progress.abort();
        }
    }
    report(cli, &outcome?)
}

/// Prints the rollout's events (steps, judgements, holds) as they happen, from a second
/// connection, while the deploy call waits. Progress is a nicety: without it the deploy
/// still runs and reports.
async fn follow_progress(cli: &Cli, plugin: &str) -> Option<tokio::task::JoinHandle<()>> {
    let mut events = context::connect(cli).await.ok()?;
    events
        .call(Call::Subscribe {
            logs: false,
            plugin: Some(plugin.to_string()),
        })
        .await
        .ok()?;
    let plugin = plugin.to_string();
    Some(tokio::spawn(async move {
        while let Ok(push) = events.next_push().await {
            let EngineEvent::Event(e) = push else {
                continue;
            };
            if e.plugin.as_deref() != Some(plugin.as_str()) {
                continue;
            }
            if PROGRESS_KINDS.contains(&e.kind) {
                noteln!(
                    "  {} {}",
                    e.ts.format("%H:%M:%S"),
                    crate::core::logs::escape_controls(&e.message)
                );
            }
            // The deploy's own last event: everything before it was printed.
            if matches!(e.kind, EventKind::DeploySucceeded | EventKind::DeployFailed) {
                break;
            }
        }
    }))
}

/// Error codes of a deploy that started (its rollout has events); any other error is a
/// refusal before anything ran.
const DEPLOY_RAN_CODES: &[&str] = &["gate_failed", "deploy_failed", "cancelled", "rolled_back"];

/// The events a waiting `naap deploy` prints.
const PROGRESS_KINDS: &[EventKind] = &[
    EventKind::CanaryStep,
    EventKind::CanaryJudged,
    EventKind::RolloutHeld,
    EventKind::RolloutPromoted,
    EventKind::RolloutPaused,
    EventKind::RolloutResumed,
    EventKind::RolloutAborted,
    EventKind::AutoRollback,
    EventKind::GatePassed,
    EventKind::GateFailed,
    EventKind::DeployWaiting,
];

/// `naap promote | abort | pause | resume`.
pub async fn steer(cli: &Cli, call: Call) -> anyhow::Result<()> {
    let mut client = context::connect(cli).await?;
    let outcome: ActionOutcome = client.call_as(call).await?;
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
    to: Option<Version>,
    yes: bool,
) -> anyhow::Result<()> {
    // Ask only a person at a terminal; a script must not hang on a prompt.
    if !yes && std::io::stdin().is_terminal() && !cli.json {
        let target = to
            .as_ref()
            .map(|v| format!(" to {v}"))
            .unwrap_or_else(|| " to the previous version".to_string());
        crate::cli::stdout::note(format_args!("Roll back {plugin}{target}? [y/N] "));
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            noteln!("nothing changed");
            return Ok(());
        }
    }
    let mut client = context::connect(cli).await?;
    let outcome: ActionOutcome = client.call_as(Call::Rollback { plugin, to }).await?;
    report(cli, &outcome)
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
    outln!("{}", outcome.summary)?;
    if let Some(line) = super::hint::hint_line(&outcome.hints) {
        outln!("{line}")?;
    }
    for gate in &outcome.gates {
        outln!("{}", gate_line(gate))?;
    }
    if !outcome.weights.is_empty() {
        let split: Vec<String> = outcome
            .weights
            .iter()
            .map(|(s, w)| format!("{s} {w}%"))
            .collect();
        outln!("traffic: {}", split.join(", "))?;
    }
    Ok(())
}
