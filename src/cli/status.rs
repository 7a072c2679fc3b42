//! `naap status` and `naap history`.

use super::output::{bytes, millis, print_json, table};
use super::{Cli, context};
use crate::api::Call;
use crate::core::engine::{EngineEvent, HistoryReport, PluginStatus, SlotStatus, StatusReport};
use crate::core::types::{Health, ProcessState};
use std::io::IsTerminal;

pub async fn status(cli: &Cli, plugin: Option<String>, watch: bool) -> anyhow::Result<()> {
    let mut client = context::connect(cli).await?;
    let report: StatusReport = client
        .call_as(Call::Status(crate::api::protocol::StatusRequest {
            plugin: plugin.clone(),
        }))
        .await?;
    if !watch {
        if cli.json {
            return print_json(&report);
        }
        out!("{}", render_status(&report))?;
        return Ok(());
    }
    client
        .call(Call::Subscribe(crate::api::protocol::SubscribeRequest {
            logs: false,
            plugin: plugin.clone(),
        }))
        .await?;
    // Clear-screen codes only for a person watching; a pipe gets one report after another.
    let clear = std::io::stdout().is_terminal();
    show(cli, &report, clear)?;
    loop {
        if let EngineEvent::Snapshot(mut report) = client.next_push().await? {
            if let Some(name) = &plugin {
                report.plugins.retain(|p| &p.name == name);
            }
            show(cli, &report, clear)?;
        }
    }
}

/// The engine serves on while its store fails, but nothing it changes is recorded.
fn store_failing_line(store: &crate::core::store::StoreHealth) -> String {
    let since = store
        .since
        .map(|t| format!(" since {}", t.format("%Y-%m-%d %H:%M:%S UTC")))
        .unwrap_or_default();
    format!(
        "! store failing{since}: {}\n  the engine and the router keep serving; changes are not recorded until the store writes again\n",
        store.error.as_deref().unwrap_or("unknown error")
    )
}

fn show(cli: &Cli, report: &StatusReport, clear: bool) -> anyhow::Result<()> {
    if cli.json {
        // One JSON document per line, so `--watch --json` can be piped to jq.
        outln!("{}", serde_json::to_string(report)?)?;
        return Ok(());
    }
    if clear {
        out!("\x1b[2J\x1b[H")?;
    } else {
        outln!()?;
    }
    out!("{}", render_status(report))?;
    Ok(())
}

/// One block per plugin, under 80 columns:
/// ```text
/// expense-tracker  /expenses  live 1.0.0 on blue  (blue-green)
///   SLOT   VERSION  STATE    WEIGHT  RPS   ERR   P50    P99    CPU  RSS
///   blue   1.0.0    healthy  100%    17.7  0.0%  0.5ms  1.2ms  1%   14.0M
/// ```
pub fn render_status(report: &StatusReport) -> String {
    let e = &report.engine;
    let mut out = format!("engine pid {} · router http://{}", e.pid, e.router);
    if let Some(admin) = &e.admin {
        out.push_str(&format!(" · admin {admin}"));
    }
    out.push_str(&format!("\nworkspace {}\n", e.workspace));
    if !e.containment.is_empty() {
        out.push_str(&format!("slot processes kept by {}\n", e.containment));
    }
    if !report.store.ok {
        out.push_str(&store_failing_line(&report.store));
    }
    for b in &report.broken {
        out.push_str(&format!(
            "\n{}  NOT LOADED: its manifest has problems (fix them, then `naap reload`)\n",
            b.name
        ));
        for problem in &b.problems {
            for line in problem.lines() {
                out.push_str("  ");
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    for p in &report.plugins {
        out.push('\n');
        out.push_str(&plugin_header(p));
        out.push('\n');
        // A running rollout is on the header line; a finished one says how it ended.
        if let Some(last) = p.last_rollout.as_ref().filter(|_| p.rollout.is_none()) {
            let mark = if last.outcome == "succeeded" {
                ' '
            } else {
                '!'
            };
            out.push_str(&format!("  {mark} last rollout: {}\n", last.summary));
        }
        if p.slots.iter().all(|s| s.version.is_none()) {
            out.push_str("  not deployed yet: `naap deploy ");
            out.push_str(&p.name);
            out.push_str("`\n");
            continue;
        }
        let rows: Vec<Vec<String>> = p.slots.iter().map(slot_row).collect();
        for line in table(
            &[
                "SLOT", "VERSION", "STATE", "WEIGHT", "RPS", "ERR", "P50", "P99", "CPU", "RSS",
            ],
            &rows,
        )
        .lines()
        {
            out.push_str("  ");
            out.push_str(line);
            out.push('\n');
        }
        for s in p
            .slots
            .iter()
            .filter(|s| s.weight > 0 && s.health != Health::Healthy)
        {
            out.push_str(&format!(
                "  ! {} has {}% of traffic but is {}: {}\n",
                s.slot, s.weight, s.health, s.health_detail
            ));
        }
        for s in p.slots.iter().filter(|s| !s.replicas.is_empty()) {
            out.push_str(&replicas_line(s));
        }
        if let Some(limits) = p
            .slots
            .iter()
            .find(|s| s.weight > 0 && !s.limits.lines.is_empty())
            .map(|s| &s.limits)
        {
            out.push_str(&format!(
                "  limits ({}): {}\n",
                limits.mechanism,
                limits.lines.join("; ")
            ));
        }
        for s in p
            .slots
            .iter()
            .filter(|s| s.process_state == ProcessState::Failed)
        {
            out.push_str(&format!("  ! {} failed: {}\n", s.slot, s.health_detail));
        }
        for a in &p.alerts {
            out.push_str(&format!(
                "  ! alert {} {} ({}): {}\n",
                a.rule,
                a.state,
                a.severity,
                super::alerts::clip(&a.summary, 50)
            ));
        }
        for s in p.previews.iter().filter(|s| s.version.is_some()) {
            out.push_str(&preview_line(s));
        }
    }
    out
}

/// "  blue replicas: 0 healthy :4101 12 in flight · 1 ejected 20s :4102 0 in flight · …"
fn replicas_line(s: &SlotStatus) -> String {
    let parts: Vec<String> = s
        .replicas
        .iter()
        .map(|r| {
            // An ejected replica says for how much longer it is out of rotation.
            let left = match r.stats.ejected_for_ms {
                0 => String::new(),
                ms => format!(" {}s", ms.div_ceil(1000)),
            };
            format!(
                "{} {}{left} :{} {} in flight",
                r.index,
                r.state_word(),
                r.port.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
                r.stats.in_flight
            )
        })
        .collect();
    format!("  {} replicas: {}\n", s.slot, parts.join(" · "))
}

/// "  preview-3fa91c 2.0.0 running, healthy · expires 14:05:00 UTC (in 1h 59m) · header …"
fn preview_line(s: &SlotStatus) -> String {
    let expires = match s.expires_at {
        Some(at) => {
            let left = (at - chrono::Utc::now()).to_std().unwrap_or_default();
            let left = std::time::Duration::from_secs(left.as_secs());
            format!(
                "expires {} (in {})",
                at.format("%Y-%m-%d %H:%M:%S UTC"),
                humantime::format_duration(left)
            )
        }
        None => "stopping".to_string(),
    };
    format!(
        "  {} {} {}, {} · {expires} · reach it with the header `x-naap-slot: {}`\n",
        s.slot,
        s.version.as_deref().unwrap_or("-"),
        s.process_state,
        s.health,
        s.slot
    )
}

fn plugin_header(p: &PluginStatus) -> String {
    // During a rollout the stable slot is the live one, even at 50/50.
    let canary = p.rollout.as_ref().map(|r| r.to_slot);
    let live = p
        .slots
        .iter()
        .filter(|s| s.weight > 0)
        .max_by_key(|s| (s.weight, Some(s.slot) != canary))
        .map(|s| format!("live {} on {}", s.version.as_deref().unwrap_or("-"), s.slot))
        .unwrap_or_else(|| "no live slot".to_string());
    let rollout = match &p.rollout {
        Some(r) => format!(
            "  ▶ {} {} → {}: {}{}{}",
            r.strategy,
            r.to_version,
            r.to_slot,
            r.phase,
            r.next_step_at
                .map(|t| format!(", next step at {}", t.format("%H:%M:%S UTC")))
                .unwrap_or_default(),
            r.judgements
                .last()
                .map(|j| format!(
                    "; step {} judged {}: {}",
                    j.step_index + 1,
                    j.outcome,
                    j.summary
                ))
                .unwrap_or_default()
        ),
        None => format!("  ({})", p.strategy),
    };
    format!("{}  {}  {live}{rollout}", p.name, p.route)
}

fn slot_row(s: &SlotStatus) -> Vec<String> {
    let state = match (s.process_state, s.health) {
        (ProcessState::Running, Health::Unknown) => "starting".to_string(),
        (ProcessState::Running, health) => health.to_string(),
        (_, _) if s.version.is_none() => "idle".to_string(),
        (process, _) => process.to_string(),
    };
    let weight = match (s.weight, s.warm_until) {
        (0, Some(until)) => format!(
            "0% warm→{}",
            until.with_timezone(&chrono::Local).format("%H:%M")
        ),
        (w, _) => format!("{w}%"),
    };
    let m = &s.metrics;
    let running = s.pid.is_some();
    vec![
        s.slot.to_string(),
        s.version.clone().unwrap_or_else(|| "-".into()),
        state,
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
        if running {
            format!("{:.0}%", s.cpu_percent)
        } else {
            "-".into()
        },
        if running {
            bytes(s.rss_bytes)
        } else {
            "-".into()
        },
    ]
}

pub async fn history(cli: &Cli, plugin: String, limit: usize) -> anyhow::Result<()> {
    let mut client = context::connect(cli).await?;
    let report: HistoryReport = client
        .call_as(Call::History(crate::api::protocol::HistoryRequest {
            plugin,
            limit,
        }))
        .await?;
    if cli.json {
        return print_json(&report);
    }
    outln!("rollouts of {}:", report.plugin)?;
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
    out!(
        "{}",
        table(
            &[
                "ID", "STARTED", "STRATEGY", "VERSIONS", "SLOT", "STATE", "DETAIL"
            ],
            &rows
        )
    )?;
    if !report.judgements.is_empty() {
        outln!("\ncanary step judgements:")?;
        let rows: Vec<Vec<String>> = report
            .judgements
            .iter()
            .map(|j| {
                vec![
                    j.rollout_id.to_string(),
                    format!("{} ({}%)", j.step_index + 1, j.weight),
                    j.judged_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    j.outcome.clone(),
                    j.summary.clone(),
                ]
            })
            .collect();
        out!(
            "{}",
            table(&["ROLLOUT", "STEP", "JUDGED", "OUTCOME", "SUMMARY"], &rows)
        )?;
    }
    outln!("\nevents:")?;
    let rows: Vec<Vec<String>> = report
        .events
        .iter()
        .map(|e| {
            vec![
                e.ts.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
                e.kind.to_string(),
                e.slot.map(|s| s.to_string()).unwrap_or_default(),
                e.message.clone(),
            ]
        })
        .collect();
    out!("{}", table(&["TIME", "KIND", "SLOT", "MESSAGE"], &rows))?;
    outln!("\naudit:")?;
    let rows: Vec<Vec<String>> = report
        .audit
        .iter()
        .map(|a| {
            vec![
                a.ts.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
                a.face.to_string(),
                a.action.clone(),
                a.result.to_string(),
                // Requests audited at acceptance: when their result came (blank while
                // pending, and for entries written complete).
                a.completed_at
                    .map(|t| t.format("%H:%M:%S%.3f").to_string())
                    .unwrap_or_default(),
                a.detail.clone(),
            ]
        })
        .collect();
    out!(
        "{}",
        table(
            &["TIME", "FACE", "ACTION", "RESULT", "COMPLETED", "DETAIL"],
            &rows
        )
    )?;
    Ok(())
}
