//! `naap approve ID`, `naap reject ID`, `naap approvals`: a person's yes or no to a change
//! an MCP client (or a model in `naap chat`) proposed. Approving shows the preview,
//! re-checks the call against the hash of what was shown and runs it audited as the face
//! that asked (`mcp`, or `ai`); the store records who decided, from the CLI.

use super::Cli;
use super::context::{connect, state_dir, workspace_root};
use super::output::{self, Exit, Usage, print_json};
use crate::ai::approval::{self, ApprovalError};
use crate::ai::session::{ProposalId, ProposalRecord, SessionStore};
use crate::ai::tools::Tools;

fn open(cli: &Cli) -> anyhow::Result<SessionStore> {
    let root = workspace_root(cli)?;
    Ok(SessionStore::open(&state_dir(&root))?)
}

fn parse_id(id: &str) -> anyhow::Result<ProposalId> {
    Ok(id.parse::<ProposalId>().map_err(Usage)?)
}

/// Unknown and already-decided proposals are the caller's mistake: exit 2.
fn refusal(e: ApprovalError) -> anyhow::Error {
    match e {
        ApprovalError::Unknown { .. } | ApprovalError::NotWaiting { .. } => {
            Usage(e.to_string()).into()
        }
        other => other.into(),
    }
}

fn show(record: &ProposalRecord) -> anyhow::Result<()> {
    let p = &record.proposal;
    outln!(
        "proposal {} (session {}, {}):",
        p.id,
        record.session,
        record.created.format("%Y-%m-%d %H:%M:%S UTC")
    )?;
    for line in &p.preview {
        outln!("  {line}")?;
    }
    Ok(())
}

pub async fn approve(cli: &Cli, id: &str) -> anyhow::Result<()> {
    let id = parse_id(id)?;
    let store = open(cli)?;
    let record = approval::waiting(&store, &id).map_err(refusal)?;
    if !cli.json {
        show(&record)?;
    }
    // The engine must be up to run it; this starts one unless --no-start.
    let mut client = connect(cli).await?;
    // A tampered record is refused by `approve` below; here it only names nothing.
    let call = approval::checked_call(&record.proposal).ok();
    let changing = super::confirm::before_change(
        cli,
        &mut client,
        &format!("proposal {id}"),
        call.as_ref().and_then(|c| c.plugin()),
    )
    .await?;
    drop(client);
    let root = workspace_root(cli)?;
    let socket = crate::core::engine::socket_path(&state_dir(&root));
    // Audited as the face that proposed it; the store says a person said yes from the CLI.
    let tools = Tools::new(socket, root, approval::audit_face(&record));
    let approved = approval::approve(
        &store,
        &tools,
        &id,
        &approval::cli_decision(changing.confirmed),
    )
    .await
    .map_err(refusal)?;
    let status = approved.record.proposal.status.as_str();
    if cli.json {
        print_json(&serde_json::json!({
            "id": id,
            "status": status,
            "outcome": approved.record.proposal.outcome,
            "result": approved.outcome.as_ref().ok(),
        }))?;
    } else {
        match &approved.outcome {
            Ok(value) => outln!("{}ran: {}", changing.prefix(), approval::summary_of(value))?,
            Err(e) => outln!("failed: {e}")?,
        }
    }
    match approved.outcome {
        Ok(_) => Ok(()),
        Err(_) => Err(Exit(1).into()),
    }
}

pub fn reject(cli: &Cli, id: &str) -> anyhow::Result<()> {
    let id = parse_id(id)?;
    let store = open(cli)?;
    let record = approval::reject(&store, &id, &approval::cli_decision(None)).map_err(refusal)?;
    if cli.json {
        print_json(&serde_json::json!({
            "id": id,
            "status": record.proposal.status.as_str(),
        }))
    } else {
        outln!("rejected {id}: it will not run")?;
        Ok(())
    }
}

pub fn list(cli: &Cli) -> anyhow::Result<()> {
    let store = open(cli)?;
    let waiting = store.pending_proposals()?;
    if cli.json {
        let rows: Vec<serde_json::Value> = waiting
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.proposal.id,
                    "session": r.session,
                    "created": r.created,
                    "call": r.proposal.call,
                    "preview": r.proposal.preview,
                })
            })
            .collect();
        return print_json(&rows);
    }
    if waiting.is_empty() {
        outln!("no proposals are waiting")?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = waiting
        .iter()
        .map(|r| {
            vec![
                r.proposal.id.to_string(),
                r.created.format("%H:%M:%S").to_string(),
                r.proposal
                    .call
                    .get("method")
                    .and_then(|m| m.as_str())
                    .unwrap_or("?")
                    .to_string(),
                r.proposal.preview.join("\n"),
            ]
        })
        .collect();
    out!("{}", output::table(&["ID", "AT", "CALL", "PREVIEW"], &rows))?;
    outln!("approve with `naap approve ID`, refuse with `naap reject ID`")?;
    Ok(())
}
