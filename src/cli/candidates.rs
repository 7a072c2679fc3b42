//! `naap candidates [PLUGIN]` and `naap candidate show|diff|accept|discard ID`.

use super::output::print_json;
use super::{Cli, context};
use crate::api::Call;
use crate::core::engine::{AcceptOutcome, CandidateDiff, CandidateReport};
use crate::core::store::CandidateRecord;

/// `naap stories PLUGIN`: each story, each criterion with its test's last result.
pub async fn stories(cli: &Cli, call: Call) -> anyhow::Result<()> {
    let mut client = context::connect(cli).await?;
    let report: crate::core::engine::StoriesReport = client.call_as(call).await?;
    if cli.json {
        return print_json(&report);
    }
    let [passed, failed, open, not_run] = report.counts();
    outln!(
        "{} ({}): {passed} passed, {failed} failed, {open} to implement, {not_run} not run{}",
        report.plugin,
        report.spec,
        report
            .last_run
            .map(|t| format!(" (tests last ran {})", t.format("%Y-%m-%d %H:%M:%S UTC")))
            .unwrap_or_else(|| " (no test run in the gate lines kept)".to_string())
    )?;
    for story in &report.stories {
        outln!(
            "{} {}",
            story.id,
            crate::core::logs::escape_controls(&story.title)
        )?;
        for c in &story.criteria {
            outln!(
                "  {} {:<12} {}",
                c.result.mark(),
                c.result.as_str(),
                crate::core::logs::escape_controls(&c.text)
            )?;
        }
    }
    Ok(())
}

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
            let (outcome, changing): (AcceptOutcome, _) =
                super::confirm::call_change(cli, &mut client, call).await?;
            if cli.json {
                return print_json(&outcome);
            }
            outln!("{}{}", changing.prefix(), outcome.summary)?;
            Ok(())
        }
        other => anyhow::bail!("not a candidate call: {}", other.method()),
    }
}
