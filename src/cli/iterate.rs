//! `naap iterate PLUGIN "INSTRUCTION"`: the iterate pipeline headless. Prints the
//! timeline as it happens (candidate, edits, gates, fixes), the candidate's diff, and the
//! proposal to accept it; with `--yes` it accepts, then proposes and runs the canary deploy
//! of the accepted version. The proposals are kept in the session store, so a waiting one
//! is run later with `naap approve ID` or from the dashboard's approvals list.
//! Exit status: 0 shipped, 1 the gates still fail (or a step failed), 2 bad arguments,
//! 3 a proposal is waiting.

use super::chat::PROPOSAL_WAITING;
use super::output::{Exit, Usage, print_json};
use super::{Cli, context};
use crate::ai::iterate::heal::HealDecision;
use crate::ai::iterate::pipeline::{self, IterateEnd, IterateEvent, IterateRequest, ShipAs};
use crate::ai::operator::{Operator, OperatorEvent, Pending};
use crate::ai::session::{Decision, SessionEntry, SessionId, SessionStore};
use crate::ai::setup::{self, FaceSettings};
use crate::command::IterateArgs;
use crate::core::types::Face;
use serde::Serialize;
use tokio::sync::mpsc;

#[derive(Serialize)]
struct Outcome<'a> {
    #[serde(flatten)]
    iterated: &'a pipeline::Iterated,
    /// Each proposal made, with how it stands.
    decided: &'a [Decided],
}

#[derive(Serialize)]
struct Decided {
    id: String,
    label: String,
    preview: Vec<String>,
    /// `waiting`, `ran`, `failed`.
    status: String,
    outcome: Option<String>,
}

pub async fn iterate(cli: &Cli, args: IterateArgs) -> anyhow::Result<()> {
    let root = context::workspace_root(cli)?;
    let state = context::state_dir(&root);
    let settings = FaceSettings {
        overrides: setup::model_overrides(
            args.provider.as_deref(),
            args.model.as_deref(),
            args.base_url.as_deref(),
        )
        .map_err(Usage)?,
        mode: None,
    };
    let version = args
        .version
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e| Usage(format!("--version: {e}")))?;
    let (operator, config) = setup::operator_and_config(&root, &state, Face::Ai, &settings)
        .map_err(|e| Usage(e.to_string()))?;
    if !operator.policy().proposals_runnable() || !operator.policy().offers_changes() {
        return Err(Usage(
            "iterate changes code: it needs [ai] mode = \"confirm\" (this workspace's operator is read-only or suggest-only)".to_string(),
        )
        .into());
    }
    // The engine must run (started in the background unless --no-start). With --yes the
    // proposals run: in production that is confirmed now, before the model works.
    let environment = super::confirm::environment(&mut context::connect(cli).await?).await?;
    let run = if cli.yes {
        Some(super::confirm::confirm(
            cli,
            environment,
            "iterate",
            Some(&args.plugin),
        )?)
    } else {
        None
    };
    let req = IterateRequest {
        plugin: args.plugin.clone(),
        instruction: args.instruction.join(" "),
        version,
        heal_attempts: config.heal_attempts,
        retry_of: args.retry.clone(),
        ship: if args.preview {
            ShipAs::Preview
        } else {
            ShipAs::Canary
        },
    };
    let (tx, rx) = mpsc::channel(256);
    let printer = tokio::spawn(print_timeline(rx, cli.json));
    let result = pipeline::iterate(&operator, &req, &tx).await;
    drop(tx);
    let _ = printer.await;
    let done = result.map_err(anyhow::Error::msg)?;

    let store = SessionStore::open(&state)?;
    let info = operator.answerer();
    let session = store.create(Face::Cli, &info.kind, &info.model)?;
    store.append(
        session,
        &SessionEntry::User {
            text: format!("iterate {}: {}", req.plugin, req.instruction),
        },
    )?;
    let mut decided = Vec::new();
    for pending in &done.proposals {
        let status = decide(&operator, &store, session, pending, run).await?;
        let ran = status.status == "ran";
        decided.push(status);
        if ran && let Some(ship) = &done.ship {
            let deploy = operator.propose(ship.clone()).await;
            decided.push(decide(&operator, &store, session, &deploy, run).await?);
        }
    }
    if cli.json {
        print_json(&Outcome {
            iterated: &done,
            decided: &decided,
        })?;
    } else {
        print_outcome(&done, &decided)?;
    }
    if decided.iter().any(|d| d.status == "failed") || done.end != IterateEnd::Ready {
        return Err(Exit(1).into());
    }
    if decided.iter().any(|d| d.status == "waiting") {
        return Err(Exit(PROPOSAL_WAITING).into());
    }
    Ok(())
}

/// Keeps `pending` in the session; with `run` runs it (hash checked, audited as `ai`),
/// with the environment the person confirmed it in, if they did.
async fn decide(
    operator: &Operator,
    store: &SessionStore,
    session: SessionId,
    pending: &Pending,
    run: Option<Option<crate::core::workspace::Environment>>,
) -> anyhow::Result<Decided> {
    store.append(
        session,
        &SessionEntry::Proposal(setup::proposal_entry(pending)?),
    )?;
    let (status, outcome) = if let Some(confirmed) = run {
        let decision = Decision {
            face: Face::Cli,
            by: crate::core::identity::operator_name(),
            confirmed,
        };
        let settled = setup::settle(operator, store, pending, true, &decision).await;
        (settled.status.to_string(), settled.outcome)
    } else {
        ("waiting".to_string(), None)
    };
    Ok(Decided {
        id: pending.id.clone(),
        label: pending.proposal.label.clone(),
        preview: pending.proposal.lines.clone(),
        status,
        outcome,
    })
}

/// The timeline on stderr as it happens (stdout keeps the result).
async fn print_timeline(mut rx: mpsc::Receiver<IterateEvent>, json: bool) {
    while let Some(event) = rx.recv().await {
        if json {
            continue;
        }
        match event {
            IterateEvent::Created { candidate, .. } => {
                noteln!("naap: candidate {candidate} created")
            }
            IterateEvent::Turn(OperatorEvent::ToolCall { name, .. }) => {
                noteln!("  · {name}")
            }
            IterateEvent::Turn(_) => {}
            IterateEvent::Edited { summary, .. } => noteln!("naap: edited: {summary}"),
            IterateEvent::Gates { passed, summary } => noteln!(
                "naap: gates {}: {summary}",
                if passed { "passed" } else { "failed" }
            ),
            IterateEvent::Heal { decision } => match decision {
                HealDecision::Heal { attempt } => noteln!("naap: asking for fix {attempt}"),
                HealDecision::Stuck { attempts } => {
                    noteln!("naap: stuck: the same failure came back after {attempts} fix(es)")
                }
                HealDecision::Exhausted { attempts } => {
                    noteln!("naap: no fix left to try ({attempts} tried)")
                }
            },
            IterateEvent::Proposed { label, .. } => noteln!("naap: proposed: {label}"),
            IterateEvent::Shipped { label, ok, summary } => noteln!(
                "naap: {label}: {} {summary}",
                if ok { "done:" } else { "failed:" }
            ),
        }
    }
}

fn print_outcome(done: &pipeline::Iterated, decided: &[Decided]) -> anyhow::Result<()> {
    outln!("candidate {} of {}:", done.candidate, done.plugin)?;
    if done.diff.trim().is_empty() {
        outln!("  (no change)")?;
    } else {
        outln!("{}", done.diff.trim_end())?;
    }
    match done.end {
        IterateEnd::Ready => {}
        IterateEnd::Unchanged => outln!("the model changed nothing; nothing to ship")?,
        IterateEnd::Stuck | IterateEnd::Exhausted => {
            outln!(
                "the gates still fail after {} fix(es); the candidate is yours to finish (`naap candidate diff {}`)",
                done.heal_attempts,
                done.candidate
            )?;
            if let Some(failure) = &done.failure {
                outln!("last failure: {} ({})", failure.gate, failure.status)?;
                for p in &failure.problems {
                    let line = p.line.map(|l| format!(":{l}")).unwrap_or_default();
                    outln!("  {}{line}: {}", p.file, p.message)?;
                }
            }
        }
    }
    for d in decided {
        outln!("proposal {} · {}", d.id, d.label)?;
        for line in &d.preview {
            outln!("  {line}")?;
        }
        match (d.status.as_str(), &d.outcome) {
            ("waiting", _) => outln!(
                "  waiting: run it with `naap approve {}` (or ask again with --yes)",
                d.id
            )?,
            (status, Some(outcome)) => outln!("  {status}: {outcome}")?,
            (status, None) => outln!("  {status}")?,
        }
    }
    Ok(())
}
