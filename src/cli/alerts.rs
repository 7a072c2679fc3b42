//! `naap alerts list | silence | unsilence | ack`.

use super::args::AlertsCommand;
use super::output::{Usage, print_json, table};
use super::{Cli, context};
use crate::api::Call;
use crate::core::engine::AlertsReport;
use chrono::{DateTime, Utc};

pub async fn alerts(cli: &Cli, command: Option<AlertsCommand>) -> anyhow::Result<()> {
    let command = command.unwrap_or(AlertsCommand::List {
        plugin: None,
        limit: 20,
    });
    match command {
        AlertsCommand::List { plugin, limit } => list(cli, plugin, limit).await,
        AlertsCommand::Silence {
            target,
            duration,
            comment,
            author,
        } => {
            let call = match silence_call(&target, duration, comment, author) {
                Ok(call) => call,
                Err(message) => return bad_argument(&message),
            };
            let mut client = context::connect(cli).await?;
            let silence: serde_json::Value = client.call(call).await?;
            if cli.json {
                return print_json(&silence);
            }
            outln!(
                "silence #{} on {}/{} until {}",
                silence["id"],
                target.split('/').next().unwrap_or(&target),
                silence["rule"].as_str().unwrap_or("*"),
                silence["until"].as_str().unwrap_or("?")
            )?;
            Ok(())
        }
        AlertsCommand::Unsilence { id } => {
            let mut client = context::connect(cli).await?;
            let result = client.call(Call::Unsilence { id }).await?;
            if cli.json {
                return print_json(&result);
            }
            outln!("silence #{id} expired")?;
            Ok(())
        }
        AlertsCommand::Ack { target, author } => {
            let call = match ack_call(&target, author) {
                Ok(call) => call,
                Err(message) => return bad_argument(&message),
            };
            let mut client = context::connect(cli).await?;
            let ack = client.call(call).await?;
            if cli.json {
                return print_json(&ack);
            }
            outln!(
                "{target} acknowledged by {}: no repeats until it resolves",
                ack["author"].as_str().unwrap_or("?")
            )?;
            Ok(())
        }
    }
}

/// The engine call of `naap alerts silence`; also what the dashboard's `:` line sends.
pub fn silence_call(
    target: &str,
    duration: String,
    comment: String,
    author: Option<String>,
) -> Result<Call, String> {
    let (plugin, rule) = match target.split_once('/') {
        Some((p, r)) => (p.to_string(), Some(r.to_string())),
        None => (target.to_string(), None),
    };
    if plugin.is_empty() || rule.as_deref() == Some("") {
        return Err(format!(
            "`{target}` is not PLUGIN or PLUGIN/RULE; write e.g. web or web/errors"
        ));
    }
    if comment.trim().is_empty() {
        return Err("--comment must say why, e.g. --comment \"fix deploying\"".to_string());
    }
    Ok(Call::Silence {
        plugin,
        rule,
        duration,
        comment,
        author: author_or_login_name(author),
    })
}

/// The engine call of `naap alerts ack`; also what the dashboard sends.
pub fn ack_call(target: &str, author: Option<String>) -> Result<Call, String> {
    let Some((plugin, rule)) = target
        .split_once('/')
        .filter(|(p, r)| !p.is_empty() && !r.is_empty())
    else {
        return Err(format!(
            "`{target}` is not PLUGIN/RULE; write e.g. web/errors"
        ));
    };
    Ok(Call::Ack {
        plugin: plugin.to_string(),
        rule: rule.to_string(),
        author: author_or_login_name(author),
    })
}

/// `--author`, else $USER (via clap), else the login name (`operator_name`).
fn author_or_login_name(author: Option<String>) -> String {
    author
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(crate::core::identity::operator_name)
}

/// Arguments clap cannot check: message on stderr, exit 2 like clap's own.
fn bad_argument(message: &str) -> anyhow::Result<()> {
    Err(Usage(message.to_string()).into())
}

async fn list(cli: &Cli, plugin: Option<String>, limit: usize) -> anyhow::Result<()> {
    let mut client = context::connect(cli).await?;
    let report: AlertsReport = client.call_as(Call::Alerts { plugin, limit }).await?;
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
