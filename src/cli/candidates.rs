//! `naap candidates [PLUGIN]` and `naap candidate show|diff|accept|discard ID`.

use super::output::print_json;
use super::{Cli, context};
use crate::api::Call;
use crate::core::engine::{AcceptOutcome, CandidateDiff, CandidateReport};
use crate::core::store::CandidateRecord;

pub async fn candidates(cli: &Cli, call: Call) -> anyhow::Result<()> {
    let mut client = context::connect(cli).await?;
    match &call {
        Call::Candidates(_) => {
            let list: Vec<CandidateRecord> = client.call_as(call).await?;
            if cli.json {
                return print_json(&list);
            }
            if list.is_empty() {
                outln!("no candidates")?;
            }
            for c in &list {
                outln!(
                    "{}  {:<14} {:<12} {}  {}{}",
                    c.id,
                    c.plugin,
                    c.status,
                    c.created_at.format("%Y-%m-%d %H:%M"),
                    crate::core::logs::escape_controls(&c.instruction),
                    c.version
                        .as_ref()
                        .map(|v| format!(" → {v}"))
                        .unwrap_or_default()
                )?;
            }
            Ok(())
        }
        Call::CandidateShow(_) | Call::CandidateDiscard(_) => {
            let discard = matches!(call, Call::CandidateDiscard(_));
            if discard {
                let record: CandidateRecord = client.call_as(call).await?;
                if cli.json {
                    return print_json(&record);
                }
                outln!("candidate {} of {} discarded", record.id, record.plugin)?;
                return Ok(());
            }
            let report: CandidateReport = client.call_as(call).await?;
            if cli.json {
                return print_json(&report);
            }
            let c = &report.candidate;
            outln!("candidate {} of {}: {}", c.id, c.plugin, c.status)?;
            outln!(
                "instruction: {}",
                crate::core::logs::escape_controls(&c.instruction)
            )?;
            if let Some(v) = &c.version {
                outln!("version: {v}")?;
            }
            if let Some(stat) = report.stat {
                outln!(
                    "change: {} files, +{} -{}",
                    stat.files,
                    stat.added,
                    stat.removed
                )?;
            }
            for step in &report.history {
                outln!(
                    "  {} {:<10} {}",
                    step.ts.format("%H:%M:%S"),
                    step.kind,
                    crate::core::logs::escape_controls(&step.summary)
                )?;
            }
            Ok(())
        }
        Call::CandidateDiff(_) => {
            let diff: CandidateDiff = client.call_as(call).await?;
            if cli.json {
                return print_json(&diff);
            }
            // Line by line: the line ends are the diff's, the rest is the plugin's text.
            for line in diff.unified.lines() {
                outln!("{}", crate::core::logs::escape_controls(line))?;
            }
            Ok(())
        }
        Call::CandidateAccept(_) => {
            let outcome: AcceptOutcome = client.call_as(call).await?;
            if cli.json {
                return print_json(&outcome);
            }
            outln!("{}", outcome.summary)?;
            Ok(())
        }
        other => anyhow::bail!("not a candidate call: {}", other.method()),
    }
}
