//! `naap alerts list | silence | unsilence | ack`.

use super::output::{Usage, print_json, table};
use super::{Cli, context};
use crate::api::Call;
use crate::api::protocol::AlertsRequest;
use crate::command::AlertsCommand;
use crate::core::engine::AlertsReport;
use chrono::{DateTime, Utc};

/// `call` is the command's engine call (`command::to_call`), already checked.
pub async fn alerts(cli: &Cli, command: Option<AlertsCommand>, call: Call) -> anyhow::Result<()> {
    match command {
        None | Some(AlertsCommand::List { .. }) => {
            let Call::Alerts(req) = call else {
                return bad_argument("alerts list makes an alerts call");
            };
            list(cli, req).await
        }
        Some(AlertsCommand::Silence { target, .. }) => {
            let mut client = context::connect(cli).await?;
            let (silence, changing): (serde_json::Value, _) =
                super::confirm::call_change(cli, &mut client, call).await?;
            if cli.json {
                return print_json(&silence);
            }
            outln!(
                "{}silence #{} on {}/{} until {}",
                changing.prefix(),
                silence["id"],
                target.split('/').next().unwrap_or(&target),
                silence["rule"].as_str().unwrap_or("*"),
                silence["until"].as_str().unwrap_or("?")
            )?;
            Ok(())
        }
        Some(AlertsCommand::Unsilence { id }) => {
            let mut client = context::connect(cli).await?;
            let (result, changing): (serde_json::Value, _) =
                super::confirm::call_change(cli, &mut client, call).await?;
            if cli.json {
                return print_json(&result);
            }
            outln!("{}silence #{id} expired", changing.prefix())?;
            Ok(())
        }
        Some(AlertsCommand::Ack { target, .. }) => {
            let mut client = context::connect(cli).await?;
            let (ack, changing): (serde_json::Value, _) =
                super::confirm::call_change(cli, &mut client, call).await?;
            if cli.json {
                return print_json(&ack);
            }
            outln!(
                "{}{target} acknowledged by {}: no repeats until it resolves",
                changing.prefix(),
                ack["author"].as_str().unwrap_or("?")
            )?;
            Ok(())
        }
    }
}

/// Arguments clap cannot check: message on stderr, exit 2 like clap's own.
fn bad_argument(message: &str) -> anyhow::Result<()> {
    Err(Usage(message.to_string()).into())
}

async fn list(cli: &Cli, req: AlertsRequest) -> anyhow::Result<()> {
    let mut client = context::connect(cli).await?;
    let report: AlertsReport = client.call_as(Call::Alerts(req)).await?;
    if cli.json {
        return print_json(&report);
    }
    out!("{}", render(&report, Utc::now()))?;
    Ok(())
}

/// Cuts `text` to `max` characters, marking the cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn ago(since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - since).num_seconds().max(0) as u64;
    compact(secs)
}

fn compact(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        s => format!("{}d{}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// Alerts, then silences, each table under 80 columns.
pub fn render(report: &AlertsReport, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    if report.alerts.is_empty() {
        out.push_str("no alerts pending or firing\n");
    } else {
        let rows: Vec<Vec<String>> = report
            .alerts
            .iter()
            .map(|a| {
                let note = match (&a.acked_by, a.silenced_until, a.silence_id) {
                    (_, Some(until), Some(id)) => {
                        let left = (until - now).num_seconds().max(0) as u64;
                        format!("silenced #{id} {}", compact(left))
                    }
                    (Some(by), _, _) => format!("acked by {}", clip(by, 10)),
                    _ => String::new(),
                };
                vec![
                    clip(&format!("{}/{}", a.plugin, a.rule), 24),
                    a.state.clone(),
                    ago(a.since, now),
                    a.severity.to_string(),
                    note,
                ]
            })
            .collect();
        out.push_str(&table(
            &["ALERT", "STATE", "FOR", "SEVERITY", "NOTE"],
            &rows,
        ));
        for a in report.alerts.iter().filter(|a| !a.summary.is_empty()) {
            out.push_str(&clip(
                &format!("  {}/{}: {}", a.plugin, a.rule, a.summary),
                79,
            ));
            out.push('\n');
        }
    }
    if !report.silences.is_empty() {
        out.push('\n');
        let rows: Vec<Vec<String>> = report
            .silences
            .iter()
            .map(|s| {
                let left = (s.until - now).num_seconds().max(0) as u64;
                vec![
                    format!("#{}", s.id),
                    clip(
                        &format!("{}/{}", s.plugin.as_deref().unwrap_or("*"), s.rule),
                        20,
                    ),
                    compact(left),
                    clip(&s.author, 10),
                    clip(&s.comment, 28),
                ]
            })
            .collect();
        out.push_str(&table(
            &["SILENCE", "MATCHES", "LEFT", "BY", "COMMENT"],
            &rows,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::alerts::Severity;
    use crate::core::engine::AlertRow;
    use crate::core::store::SilenceRecord;

    #[test]
    fn tables_stay_under_80_columns() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).expect("time");
        let long = "x".repeat(200);
        let report = AlertsReport {
            alerts: vec![AlertRow {
                plugin: long.clone(),
                rule: long.clone(),
                state: "firing".into(),
                since: now - chrono::Duration::seconds(3700),
                severity: Severity::Critical,
                summary: long.clone(),
                labels: Default::default(),
                rollback: false,
                acked_by: Some(long.clone()),
                silenced_until: None,
                silence_id: None,
            }],
            silences: vec![SilenceRecord {
                id: 12,
                plugin: Some(long.clone()),
                rule: "*".into(),
                until: now + chrono::Duration::hours(2),
                author: long.clone(),
                comment: long.clone(),
                created_at: now,
                expired_at: None,
            }],
            history: vec![],
        };
        let text = render(&report, now);
        for line in text.lines() {
            assert!(line.chars().count() < 80, "too wide: {line}");
        }
        assert!(text.contains("1h01m"));
        assert!(text.contains("#12"));
        assert!(text.contains("2h00m"));
    }
}
