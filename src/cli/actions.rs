//! `naap deploy`, `traffic`, `rollback`, `promote`…: actions that change something.

use super::output::print_json;
use super::{Cli, confirm, context};
use crate::api::Call;
use crate::api::protocol::{DeployRequest, SubscribeRequest};
use crate::core::engine::{ActionOutcome, EngineEvent, GateOutcome, GateReport};
use crate::core::event_kind::EventKind;
use std::io::{BufRead, IsTerminal, Write};

pub async fn deploy(cli: &Cli, req: DeployRequest, detach: bool) -> anyhow::Result<()> {
    let mut client = context::connect(cli).await?;
    let changing = if req.dry_run {
        confirm::Changing {
            environment: confirm::environment(&mut client).await?,
            confirmed: None,
        }
    } else {
        confirm::before_change(cli, &mut client, "deploy", Some(&req.plugin)).await?
    };
    let progress = if !cli.json && !req.dry_run && !detach {
        noteln!(
            "deploying {}{} …",
            req.plugin,
            req.version
                .as_ref()
                .map(|v| format!(" {v}"))
                .unwrap_or_default()
        );
        follow_progress(cli, &req.plugin).await
    } else {
        None
    };
    let call = Call::Deploy(req);
    let confirm = changing.confirmation(&call);
    let outcome: Result<ActionOutcome, _> =
        client.call_confirmed(call, confirm).await.and_then(|v| {
            serde_json::from_value(v).map_err(|e| crate::api::ClientError::Protocol(e.to_string()))
        });
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
    report(cli, &outcome?, &changing)
}

/// Prints the rollout's events (steps, judgements, holds) as they happen, from a second
/// connection, while the deploy call waits. Progress is a nicety: without it the deploy
/// still runs and reports.
async fn follow_progress(cli: &Cli, plugin: &str) -> Option<tokio::task::JoinHandle<()>> {
    let mut events = context::connect(cli).await.ok()?;
    events
        .call(Call::Subscribe(SubscribeRequest {
            logs: false,
            plugin: Some(plugin.to_string()),
        }))
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

/// `naap promote | abort | pause | resume | traffic | preview stop`: one call, its outcome.
pub async fn act(cli: &Cli, call: Call) -> anyhow::Result<()> {
    let mut client = context::connect(cli).await?;
    let (outcome, changing): (ActionOutcome, _) =
        confirm::call_change(cli, &mut client, call).await?;
    report(cli, &outcome, &changing)
}

/// `naap rollback`: asks a person at a terminal first (unless `--yes` or `--dry-run`); in
/// production the confirmation that names it is the question.
pub async fn rollback(cli: &Cli, call: Call) -> anyhow::Result<()> {
    let Call::Rollback(req) = &call else {
        anyhow::bail!("not a rollback: {}", call.method());
    };
    if req.dry_run {
        let mut client = context::connect(cli).await?;
        let outcome: ActionOutcome = client.call_as(call).await?;
        let environment = confirm::environment(&mut client).await?;
        return report(
            cli,
            &outcome,
            &confirm::Changing {
                environment,
                confirmed: None,
            },
        );
    }
    let mut client = context::connect(cli).await?;
    let environment = confirm::environment(&mut client).await?;
    // Ask only a person at a terminal; a script must not hang on a prompt.
    if !cli.yes && !environment.is_production() && std::io::stdin().is_terminal() && !cli.json {
        let target = req
            .to
            .as_ref()
            .map(|v| format!(" to {v}"))
            .unwrap_or_else(|| " to the previous version".to_string());
        crate::cli::stdout::note(format_args!("Roll back {}{target}? [y/N] ", req.plugin));
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            noteln!("nothing changed");
            return Ok(());
        }
    }
    let (outcome, changing): (ActionOutcome, _) =
        confirm::call_change(cli, &mut client, call).await?;
    report(cli, &outcome, &changing)
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

fn report(cli: &Cli, outcome: &ActionOutcome, changing: &confirm::Changing) -> anyhow::Result<()> {
    if cli.json {
        return print_json(outcome);
    }
    outln!("{}{}", changing.prefix(), outcome.summary)?;
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
