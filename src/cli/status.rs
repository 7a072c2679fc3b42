//! `naap status` and `naap history`.

use super::output::{bytes, millis, print_json, table};
use super::{Cli, context};
use crate::api::Call;
use crate::core::engine::{EngineEvent, HistoryReport, StatusReport};

pub async fn status(cli: &Cli, plugin: Option<String>, watch: bool) -> anyhow::Result<()> {
    let mut client = context::connect(cli).await?;
    let report: StatusReport = client
        .call_as(Call::Status {
            plugin: plugin.clone(),
        })
        .await?;
    if !watch {
        if cli.json {
            return print_json(&report);
        }
        print!("{}", render_status(&report));
        return Ok(());
    }
    client
        .call(Call::Subscribe {
            logs: false,
            plugin: plugin.clone(),
        })
        .await?;
    show(cli, &report, true)?;
    loop {
        if let EngineEvent::Snapshot(mut report) = client.next_push().await? {
            if let Some(name) = &plugin {
                report.plugins.retain(|p| &p.name == name);
            }
            show(cli, &report, true)?;
        }
    }
}

fn show(cli: &Cli, report: &StatusReport, clear: bool) -> anyhow::Result<()> {
    if cli.json {
        // One JSON document per line, so `--watch --json` can be piped to jq.
        println!("{}", serde_json::to_string(report)?);
        return Ok(());
    }
    if clear {
        print!("\x1b[2J\x1b[H");
    }
    print!("{}", render_status(report));
    Ok(())
}

pub fn render_status(report: &StatusReport) -> String {
    let e = &report.engine;
    let mut out = format!(
        "engine pid {} · router http://{} · workspace {}\n",
        e.pid, e.router, e.workspace
    );
    if let Some(admin) = &e.admin {
        out.push_str(&format!("admin http://{admin}/metrics\n"));
    }
    out.push('\n');
    let mut rows = Vec::new();
    for p in &report.plugins {
        let mut first = true;
        let rollout = p
            .rollout
            .as_ref()
            .map(|r| {
                format!(
                    " [{} → {} {}: {}]",
                    r.strategy, r.to_slot, r.to_version, r.phase
                )
            })
            .unwrap_or_default();
        if p.slots.is_empty() {
            rows.push(vec![
                p.name.clone(),
                p.route.clone(),
                "-".into(),
                "-".into(),
                "not deployed".into(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
        for s in &p.slots {
            let weight = match (s.weight, s.warm_until) {
                (0, Some(until)) => format!("0% warm→{}", until.format("%H:%M")),
                (w, _) => format!("{w}%"),
            };
            let m = &s.metrics;
            rows.push(vec![
                if first {
                    format!("{}{rollout}", p.name)
                } else {
                    String::new()
                },
                if first {
                    p.route.clone()
                } else {
                    String::new()
                },
                s.slot.to_string(),
                s.version.clone().unwrap_or_else(|| "-".into()),
                s.process_state.to_string(),
                s.health.to_string(),
                weight,
                if m.rps > 0.0 {
                    format!("{:.1}", m.rps)
                } else {
                    "-".into()
                },
                if m.window_requests > 0 {
                    format!("{:.1}%", m.error_rate * 100.0)
                } else {
                    "-".into()
                },
                millis(m.p50_ms),
                millis(m.p99_ms),
                if s.pid.is_some() {
                    format!("{:.0}%", s.cpu_percent)
                } else {
                    "-".into()
                },
                bytes(s.rss_bytes),
            ]);
            first = false;
        }
    }
    out.push_str(&table(
        &[
            "PLUGIN", "ROUTE", "SLOT", "VERSION", "PROCESS", "HEALTH", "WEIGHT", "RPS", "ERR",
            "P50", "P99", "CPU", "RSS",
        ],
        &rows,
    ));
    let unhealthy: Vec<String> = report
        .plugins
        .iter()
        .flat_map(|p| {
            p.slots
                .iter()
                .filter(|s| s.weight > 0 && s.health != crate::core::types::Health::Healthy)
                .map(move |s| {
                    format!(
                        "  ! {} {}: {} ({})",
                        p.name, s.slot, s.health, s.health_detail
                    )
                })
        })
        .collect();
    if !unhealthy.is_empty() {
        out.push_str("\nslots with traffic that are not healthy:\n");
        out.push_str(&unhealthy.join("\n"));
        out.push('\n');
    }
    out
}

pub async fn history(cli: &Cli, plugin: String, limit: usize) -> anyhow::Result<()> {
    let mut client = context::connect(cli).await?;
    let report: HistoryReport = client.call_as(Call::History { plugin, limit }).await?;
    if cli.json {
        return print_json(&report);
    }
    println!("rollouts of {}:", report.plugin);
    let rows: Vec<Vec<String>> = report
        .rollouts
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                r.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                r.strategy.to_string(),
                format!(
                    "{} → {}",
                    r.from_version.clone().unwrap_or_else(|| "-".into()),
                    r.to_version
                ),
                r.to_slot.map(|s| s.to_string()).unwrap_or_default(),
                r.state.clone(),
                r.detail.clone(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &[
                "ID", "STARTED", "STRATEGY", "VERSIONS", "SLOT", "STATE", "DETAIL"
            ],
            &rows
        )
    );
    println!("\nevents:");
    let rows: Vec<Vec<String>> = report
        .events
        .iter()
        .map(|e| {
            vec![
                e.ts.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
                e.kind.clone(),
                e.slot.map(|s| s.to_string()).unwrap_or_default(),
                e.message.clone(),
            ]
        })
        .collect();
    print!("{}", table(&["TIME", "KIND", "SLOT", "MESSAGE"], &rows));
    println!("\naudit:");
    let rows: Vec<Vec<String>> = report
        .audit
        .iter()
        .map(|a| {
            vec![
                a.ts.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
                a.face.to_string(),
                a.action.clone(),
                format!("{:?}", a.result).to_lowercase(),
                a.detail.clone(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(&["TIME", "FACE", "ACTION", "RESULT", "DETAIL"], &rows)
    );
    Ok(())
}
