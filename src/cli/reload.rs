//! `naap reload`: the engine re-reads the workspace and says what changed.

use super::output::print_json;
use super::{Cli, context};
use crate::api::Call;
use crate::core::engine::ReloadReport;

pub async fn reload(cli: &Cli) -> anyhow::Result<()> {
    let mut client = context::connect(cli).await?;
    let (report, changing): (ReloadReport, _) =
        super::confirm::call_change(cli, &mut client, Call::Reload {}).await?;
    if cli.json {
        return print_json(&report);
    }
    out!("{}{}", changing.prefix(), render(&report))
}

fn render(report: &ReloadReport) -> String {
    let mut out = String::new();
    for added in &report.added {
        out.push_str(&format!("added     {}", added.name));
        if let Some(version) = &added.first_deploy {
            out.push_str(&format!(": never deployed, starting {version}"));
        }
        out.push('\n');
    }
    for removed in &report.removed {
        out.push_str(&format!("removed   {}", removed.name));
        if removed.stopped.is_empty() {
            out.push_str(": no slot was running\n");
        } else {
            out.push_str(&format!(
                ": its route is gone; stopped {}\n",
                removed.stopped.join(", ")
            ));
        }
    }
    for changed in &report.changed {
        out.push_str(&format!("changed   {}", changed.name));
        let mut how = Vec::new();
        if !changed.applied_now.is_empty() {
            how.push(format!("{} applied now", changed.applied_now.join(", ")));
        }
        if !changed.next_deploy.is_empty() {
            how.push(format!(
                "{} apply on its next deploy (running slots keep their version)",
                changed.next_deploy.join(", ")
            ));
        }
        out.push_str(&format!(": {}\n", how.join("; ")));
    }
    if !report.unchanged.is_empty() {
        out.push_str(&format!("unchanged {}\n", report.unchanged.join(", ")));
    }
    if report.added.is_empty() && report.removed.is_empty() && report.changed.is_empty() {
        out.push_str("nothing changed\n");
    }
    for note in &report.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    out
}
