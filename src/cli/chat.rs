//! `naap chat`: the operator headless. One turn with a message (proposals are printed with
//! their preview and not run, unless `--yes`), or an interactive session on the terminal
//! with y/n on each proposal. Exit status: 0 answered, 1 failure, 2 bad arguments, 3 a
//! proposal is waiting.

use super::confirm;
use super::output::{Exit, Usage, print_json};
use super::{Cli, context};
use crate::ai::operator::{OperatorEvent, Pending, Turn};
use crate::ai::policy::Mode;
use crate::ai::provider::Message;
use crate::ai::session::{Decision, SessionEntry, SessionId, SessionStore};
use crate::ai::setup::{self, FaceSettings};
use crate::command::ChatArgs;
use crate::core::types::Face;
use crate::core::workspace::Environment;
use serde::Serialize;
use std::io::{BufRead, IsTerminal, Write};
use tokio::sync::mpsc;

/// Exit status of a turn that left a proposal waiting.
pub(super) const PROPOSAL_WAITING: u8 = 3;

/// A proposal as `--json` prints it: the call exactly as on the socket.
#[derive(Serialize)]
struct ProposalView<'a> {
    id: &'a str,
    hash: &'a str,
    label: &'a str,
    call: &'a crate::api::Call,
    preview: &'a [String],
    /// `waiting`, `ran`, `failed`, `rejected` or `not_runnable` (suggest mode).
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<String>,
}

#[derive(Serialize)]
struct TurnView<'a> {
    session: SessionId,
    answer: &'a str,
    answered_by: &'a crate::ai::provider::ProviderInfo,
    tool_calls: &'a [crate::ai::operator::ToolRecord],
    proposals: Vec<ProposalView<'a>>,
    usage: crate::ai::provider::Usage,
    /// US dollars, when the model's price is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    cost_usd: Option<f64>,
    notices: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

pub async fn chat(cli: &Cli, args: ChatArgs) -> anyhow::Result<()> {
    let root = context::workspace_root(cli)?;
    let state = context::state_dir(&root);
    let store = SessionStore::open(&state)?;
    if args.list {
        return list(cli, &store);
    }
    if cli.yes && (args.read_only || args.suggest) {
        return Err(Usage(
            "--yes runs proposals, which --read-only and --suggest do not make runnable; drop one"
                .to_string(),
        )
        .into());
    }
    let operator = setup::operator_for(&root, &state, Face::Ai, &settings(&args)?)
        .map_err(|e| Usage(e.to_string()))?;
    // The engine must run (started in the background unless --no-start); its environment
    // decides how a proposal is confirmed.
    let environment = confirm::environment(&mut context::connect(cli).await?).await?;
    let info = operator.answerer();
    let (session, mut history) = match &args.resume {
        Some(id) => {
            let id: SessionId = if id.is_empty() {
                store
                    .last()?
                    .ok_or_else(|| Usage("there is no session to resume yet".to_string()))?
            } else {
                id.parse().map_err(Usage)?
            };
            let session = store.load(id)?;
            (id, setup::history_of(&session))
        }
        None => (
            store.create(Face::Cli, &info.kind, &info.model)?,
            Vec::<Message>::new(),
        ),
    };
    let message = args.message.join(" ");
    if args.show_prompt {
        let request = operator.prompt(&history, &message);
        return print_json(&request);
    }
    if message.trim().is_empty() {
        return interactive(
            cli,
            &operator,
            &store,
            session,
            &mut history,
            &args,
            environment,
        )
        .await;
    }
    let turn = one_turn(
        cli,
        &operator,
        &store,
        session,
        &mut history,
        &message,
        &args,
    )
    .await?;
    finish(cli, &operator, &store, session, &turn, environment).await
}

/// The provider and mode the flags ask for.
fn settings(args: &ChatArgs) -> anyhow::Result<FaceSettings> {
    Ok(FaceSettings {
        overrides: setup::model_overrides(
            args.provider.as_deref(),
            args.model.as_deref(),
            args.base_url.as_deref(),
        )
        .map_err(Usage)?,
        mode: if args.read_only {
            Some(Mode::ReadOnly)
        } else if args.suggest {
            Some(Mode::Suggest)
        } else {
            None
        },
    })
}

/// Runs one turn, streaming its text to stdout (not with --json), and records it.
async fn one_turn(
    cli: &Cli,
    operator: &crate::ai::operator::Operator,
    store: &SessionStore,
    session: SessionId,
    history: &mut Vec<Message>,
    message: &str,
    args: &ChatArgs,
) -> anyhow::Result<Turn> {
    store.append(
        session,
        &SessionEntry::User {
            text: message.to_string(),
        },
    )?;
    let (tx, mut rx) = mpsc::channel(256);
    let json = cli.json;
    let printer = tokio::spawn(async move {
        let mut wrote = false;
        while let Some(event) = rx.recv().await {
            if json {
                continue;
            }
            match event {
                OperatorEvent::Text(t) => {
                    wrote = true;
                    let _ = crate::cli::stdout::write(format_args!("{t}"));
                    let _ = std::io::stdout().flush();
                }
                OperatorEvent::Notice(n) => noteln!("naap: {n}"),
                OperatorEvent::ToolCall {
                    name, arguments, ..
                } => {
                    noteln!("  · {name} {}", compact(&arguments));
                }
                _ => {}
            }
        }
        if wrote {
            let _ = crate::cli::stdout::write(format_args!("\n"));
        }
    });
    let turn = operator
        .ask(history, message, args.plugin.as_deref(), &tx)
        .await;
    drop(tx);
    let _ = printer.await;
    setup::record_turn(store, session, &turn)?;
    Ok(turn)
}

/// Prints the proposals (running them with --yes) and picks the exit status.
async fn finish(
    cli: &Cli,
    operator: &crate::ai::operator::Operator,
    store: &SessionStore,
    session: SessionId,
    turn: &Turn,
    environment: Environment,
) -> anyhow::Result<()> {
    let mut views = Vec::new();
    let mut waiting = false;
    for pending in &turn.proposals {
        let (status, outcome) = if !operator.policy().proposals_runnable() {
            ("not_runnable".to_string(), None)
        } else if cli.yes {
            let plugin = pending.proposal.call.plugin();
            let confirmed = confirm::confirm(cli, environment, &pending.proposal.label, plugin)?;
            run(operator, store, pending, true, confirmed).await
        } else {
            waiting = true;
            ("waiting".to_string(), None)
        };
        views.push(ProposalView {
            id: &pending.id,
            hash: &pending.hash,
            label: &pending.proposal.label,
            call: &pending.proposal.call,
            preview: &pending.proposal.lines,
            status,
            outcome,
        });
    }
    let failed = views.iter().any(|v| v.status == "failed");
    if cli.json {
        print_json(&TurnView {
            session,
            answer: &turn.answer,
            answered_by: &turn.answered_by,
            tool_calls: &turn.tool_calls,
            proposals: views,
            usage: turn.usage,
            cost_usd: turn.cost_usd,
            notices: &turn.notices,
            error: turn.error.as_deref(),
        })?;
    } else {
        for view in &views {
            print_proposal(view)?;
        }
        footer(turn);
    }
    if turn.error.is_some() || failed {
        return Err(Exit(1).into());
    }
    if waiting {
        return Err(Exit(PROPOSAL_WAITING).into());
    }
    Ok(())
}

async fn run(
    operator: &crate::ai::operator::Operator,
    store: &SessionStore,
    pending: &Pending,
    approve: bool,
    confirmed: Option<Environment>,
) -> (String, Option<String>) {
    let decision = Decision {
        face: Face::Cli,
        by: crate::core::identity::operator_name(),
        confirmed,
    };
    let settled = setup::settle(operator, store, pending, approve, &decision).await;
    (settled.status.to_string(), settled.outcome)
}

fn print_proposal(view: &ProposalView) -> anyhow::Result<()> {
    outln!()?;
    outln!("proposal {} · {}", view.id, view.label)?;
    for line in view.preview {
        outln!("  {line}")?;
    }
    match view.status.as_str() {
        "waiting" => outln!(
            "  waiting: run it with `naap approve {}` (or ask again with --yes)",
            view.id
        )?,
        "not_runnable" => outln!("  suggest mode: shown only; nothing runs from here")?,
        status => outln!(
            "  {status}: {}",
            view.outcome.as_deref().unwrap_or_default()
        )?,
    }
    Ok(())
}

fn footer(turn: &Turn) {
    let by = &turn.answered_by;
    let model = if by.kind == "offline" {
        "offline operator".to_string()
    } else {
        format!("{} {}", by.kind, by.model)
    };
    let cost = turn
        .cost_usd
        .map(|c| format!(" · {}", crate::ai::config::dollars(c)))
        .unwrap_or_default();
    noteln!(
        "— {model} · {} in / {} out tokens{cost} · {} tool call(s)",
        turn.usage.input_tokens,
        turn.usage.output_tokens,
        turn.tool_calls.len()
    );
}

/// The session with no message: a prompt, a turn, y/n for each proposal, until EOF.
async fn interactive(
    cli: &Cli,
    operator: &crate::ai::operator::Operator,
    store: &SessionStore,
    session: SessionId,
    history: &mut Vec<Message>,
    args: &ChatArgs,
    environment: Environment,
) -> anyhow::Result<()> {
    if !std::io::stdin().is_terminal() && cli.json {
        return Err(Usage(
            "give a message: `naap chat \"MESSAGE\"` (an interactive session needs a terminal)"
                .to_string(),
        )
        .into());
    }
    let info = operator.answerer();
    noteln!(
        "naap chat · session {session} · {} {} · ctrl-d ends",
        info.kind,
        info.model
    );
    let stdin = std::io::stdin();
    loop {
        crate::cli::stdout::note(format_args!("> "));
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 {
            return Ok(());
        }
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let turn = one_turn(cli, operator, store, session, history, line, args).await?;
        for pending in &turn.proposals {
            outln!("proposal {} · {}", pending.id, pending.proposal.label)?;
            for l in &pending.proposal.lines {
                outln!("  {l}")?;
            }
            if !operator.policy().proposals_runnable() {
                outln!("  suggest mode: shown only")?;
                continue;
            }
            let answer = if environment.is_production() {
                // The question names production and the plugin; the typed name is the yes.
                let plugin = pending.proposal.call.plugin();
                match confirm::confirm(cli, environment, &pending.proposal.label, plugin) {
                    Ok(Some(confirmed)) => Some(Some(confirmed)),
                    _ => None,
                }
            } else {
                crate::cli::stdout::note(format_args!("run it? [y/N] "));
                let _ = std::io::stderr().flush();
                let mut answer = String::new();
                stdin.lock().read_line(&mut answer)?;
                matches!(answer.trim(), "y" | "Y" | "yes").then_some(None)
            };
            if let Some(confirmed) = answer {
                let (status, outcome) = run(operator, store, pending, true, confirmed).await;
                outln!("  {status}: {}", outcome.unwrap_or_default())?;
            } else {
                let _ = run(operator, store, pending, false, None).await;
                outln!("  rejected: nothing changed")?;
            }
        }
        footer(&turn);
    }
}

fn list(cli: &Cli, store: &SessionStore) -> anyhow::Result<()> {
    let sessions = store.list(50)?;
    if cli.json {
        return print_json(&sessions);
    }
    if sessions.is_empty() {
        outln!("no sessions yet: `naap chat \"MESSAGE\"` starts one")?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = sessions
        .iter()
        .map(|s| {
            vec![
                s.id.to_string(),
                s.updated.format("%Y-%m-%d %H:%M").to_string(),
                format!("{} {}", s.provider, s.model),
                s.title.clone().unwrap_or_default(),
            ]
        })
        .collect();
    out!(
        "{}",
        super::output::table(&["ID", "UPDATED", "MODEL", "FIRST LINE"], &rows)
    )?;
    Ok(())
}

fn compact(value: &serde_json::Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 80 {
        format!("{}…", text.chars().take(79).collect::<String>())
    } else {
        text
    }
}
