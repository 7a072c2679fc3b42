//! `naap incident list|show|resolve`.

use super::output::print_json;
use super::{Cli, confirm, context};
use crate::api::Call;
use crate::command::IncidentCommand;
use crate::core::engine::IncidentReport;
use crate::core::store::IncidentRecord;

pub async fn incident(cli: &Cli, command: IncidentCommand, call: Call) -> anyhow::Result<()> {
    let mut client = context::connect(cli).await?;
    match command {
        IncidentCommand::List { .. } => {
            let incidents: Vec<IncidentRecord> = client.call_as(call).await?;
            if cli.json {
                return print_json(&incidents);
            }
            if incidents.is_empty() {
                outln!("no incident (add --all for resolved ones)")?;
            }
            for i in &incidents {
                outln!("{}", list_line(i))?;
            }
            Ok(())
        }
        IncidentCommand::Show { markdown, .. } => {
            let report: IncidentReport = client.call_as(call).await?;
            if cli.json {
                return print_json(&report);
            }
            if markdown {
                return out!("{}", report.markdown);
            }
            out!("{}", show(&report))
        }
        IncidentCommand::Resolve { .. } => {
            let (resolved, changing): (IncidentRecord, _) =
                confirm::call_change(cli, &mut client, call).await?;
            if cli.json {
                return print_json(&resolved);
            }
            outln!(
                "{}incident #{} of {} resolved: {}",
                changing.prefix(),
                resolved.id,
                resolved.plugin,
                resolved.note
            )?;
            Ok(())
        }
    }
}

fn list_line(i: &IncidentRecord) -> String {
    let state = match i.resolved_at {
        Some(at) => format!("resolved {}", at.format("%Y-%m-%d %H:%M")),
        None => "OPEN".to_string(),
    };
    let signals: Vec<&str> = i.signals.iter().map(|s| s.signal.as_str()).collect();
    format!(
        "#{:<4} {:<14} {:<22} opened {}  [{}]  {}",
        i.id,
        i.plugin,
        state,
        i.opened_at.format("%Y-%m-%d %H:%M"),
        signals.join(", "),
        i.title
    )
}

fn show(r: &IncidentReport) -> String {
    let i = &r.incident;
    let mut out = format!("{}\n", list_line(i));
    if !i.note.is_empty() {
        out.push_str(&format!("  resolved: {}\n", i.note));
    }
    // The past resolutions first: what fixed one like this before.
    if !r.similar.is_empty() {
        out.push_str("looks like:\n");
        for s in &r.similar {
            out.push_str(&format!(
                "  #{} {} ({:.0} % alike): {}\n",
                s.id,
                s.plugin,
                s.score * 100.0,
                crate::core::logs::escape_controls(&s.resolution())
            ));
        }
    }
    out.push_str("timeline:\n");
    for t in &r.timeline {
        out.push_str(&format!(
            "  {} {:<6} {}\n",
            t.ts.format("%H:%M:%S"),
            t.kind,
            crate::core::logs::escape_controls(&t.text)
        ));
    }
    out
}
