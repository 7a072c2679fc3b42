//! The alerts pane: firing and pending alerts beside the plugin they concern, with age,
//! severity, silence countdown and who acknowledged them; resolved ones fade out. Below,
//! what the engine did lately (deploys, rollbacks, automatic rollbacks).

use super::style::{self, fg};
use crate::core::alerts::Severity;
use crate::core::event_kind::EventKind;
use crate::core::logs::escape_controls;
use crate::tui::app::{App, ShownAlert};
use crate::tui::theme::Paint;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// Event kinds worth an operator's eye; the rest are in `naap history`.
fn notable(kind: &EventKind) -> Option<Paint> {
    use EventKind as K;
    match kind {
        K::AutoRollback
        | K::DeployFailed
        | K::SlotFailed
        | K::GateFailed
        | K::SlotRestartFailed
        | K::ProcessExited
        | K::AlertNotifyFailed => Some(Paint::AlertFiring),
        K::RolledBack
        | K::RollbackRedeploy
        | K::RolloutAborted
        | K::DeployStarted
        | K::CanaryStep
        | K::CanaryJudged
        | K::DeploySucceeded
        | K::TrafficChanged
        | K::HealthChanged
        | K::SlotRestarted
        | K::RunbookStarted
        | K::RunbookStep
        | K::RunbookFinished
        | K::IncidentOpened
        | K::IncidentResolved
        | K::PluginDisabled
        | K::PluginEnabled => Some(Paint::Foreground),
        _ => None,
    }
}

/// Two lines per open incident: what opened it, and the resolution of the past one most
/// like it, if any.
fn incident_lines(app: &App) -> Vec<Line<'static>> {
    let theme = &app.theme;
    let mut lines = Vec::new();
    for plugin in app.report.iter().flat_map(|r| &r.plugins) {
        let Some(incident) = &plugin.incident else {
            continue;
        };
        let age = short_age((app.now - incident.opened_at).num_seconds());
        lines.push(Line::from(vec![
            Span::styled(
                format!(" INCIDENT #{} ", incident.id),
                fg(theme, Paint::Danger).add_modifier(Modifier::BOLD | Modifier::REVERSED),
            ),
            Span::styled(
                format!(
                    "{} {age} {}",
                    plugin.name,
                    escape_controls(&incident.signals.join(", "))
                ),
                fg(theme, Paint::AlertFiring),
            ),
        ]));
        if let Some(like) = incident.similar.first() {
            lines.push(Line::from(Span::styled(
                format!(
                    "  like #{} ({:.0} %): {}",
                    like.id,
                    like.score * 100.0,
                    escape_controls(&like.note)
                ),
                fg(theme, Paint::Foreground),
            )));
        }
    }
    lines
}

/// Rows the pane wants at 80×24, where it shares the plugin column: alerts and problems.
pub fn rows_wanted(app: &App) -> u16 {
    let problems = app
        .events
        .iter()
        .filter(|e| notable(&e.kind) == Some(Paint::AlertFiring))
        .count();
    let incidents = app
        .report
        .iter()
        .flat_map(|r| &r.plugins)
        .filter(|p| p.incident.is_some())
        .count()
        * 2;
    (incidents + app.shown_alerts().len() + problems).min(6) as u16
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, focused: bool) {
    let theme = &app.theme;
    let rows = area.height.saturating_sub(2) as usize;
    // Open incidents first, each with how the one most like it was resolved: at 3 a.m.
    // the last fix is the first thing to read.
    let mut lines: Vec<Line> = incident_lines(app);
    lines.extend(
        app.shown_alerts()
            .into_iter()
            .enumerate()
            .map(|(i, a)| alert_line(app, a, focused && i == app.alert_cursor)),
    );
    let events: Vec<Line> = app
        .events
        .iter()
        .rev()
        .filter_map(|e| notable(&e.kind).map(|paint| (e, paint)))
        .take(rows.saturating_sub(lines.len() + 1))
        .map(|(e, paint)| {
            let style = if paint == Paint::AlertFiring {
                fg(theme, paint).add_modifier(Modifier::BOLD)
            } else {
                fg(theme, paint)
            };
            Line::from(vec![
                Span::styled(
                    format!("{:>3} ", short_age((app.now - e.ts).num_seconds())),
                    fg(theme, Paint::Muted),
                ),
                Span::styled(
                    format!("{} ", e.plugin.as_deref().unwrap_or("engine")),
                    fg(theme, Paint::Foreground).add_modifier(Modifier::BOLD),
                ),
                Span::styled(escape_controls(&e.message).into_owned(), style),
            ])
        })
        .collect();
    if !lines.is_empty() && !events.is_empty() {
        lines.push(Line::from(Span::styled(
            "recent events",
            fg(theme, Paint::Title),
        )));
    }
    lines.extend(events);
    let body = if lines.is_empty() {
        Paragraph::new(Span::styled(
            "no alerts, nothing has happened yet",
            fg(theme, Paint::Muted),
        ))
    } else {
        Paragraph::new(lines)
    };
    let title = match app
        .alerts
        .iter()
        .filter(|a| a.resolved_at.is_none())
        .count()
    {
        0 => " alerts · events ".to_string(),
        n => format!(" alerts ({n}) · events "),
    };
    frame.render_widget(body.block(style::pane(theme, title, focused)), area);
}

fn alert_line<'a>(app: &App, alert: &'a ShownAlert, selected: bool) -> Line<'a> {
    let theme = &app.theme;
    let row = &alert.row;
    let (word, paint) = match (alert.resolved_at, row.state.as_str()) {
        (Some(_), _) => ("resolved", Paint::AlertResolved),
        (None, "firing") if row.silenced_until.is_some() => ("silenced", Paint::AlertSilenced),
        (None, "firing") => ("FIRING", Paint::AlertFiring),
        (None, _) => ("pending", Paint::AlertPending),
    };
    let mut style = fg(theme, paint);
    if alert.resolved_at.is_none() && row.severity == Severity::Critical {
        style = style.add_modifier(Modifier::BOLD);
    }
    let age = match alert.resolved_at {
        Some(t) => short_age((app.now - t).num_seconds()),
        None => short_age((app.now - row.since).num_seconds()),
    };
    let mut spans = vec![
        Span::styled(
            if selected { "▸" } else { " " },
            fg(theme, Paint::BorderFocused),
        ),
        Span::styled(format!("{word:<8} "), style),
        Span::styled(format!("{:>3} ", age), fg(theme, Paint::Muted)),
        Span::styled(
            format!("{}/{} ", row.plugin, row.rule),
            fg(theme, Paint::Foreground).add_modifier(Modifier::BOLD),
        ),
        Span::styled(format!("{} ", row.severity), fg(theme, Paint::Muted)),
    ];
    if let Some(until) = row.silenced_until.filter(|_| alert.resolved_at.is_none()) {
        let left = (until - app.now).num_seconds().max(0);
        spans.push(Span::styled(
            format!("silenced {} more ", short_age(left)),
            fg(theme, Paint::AlertSilenced),
        ));
    }
    if let Some(by) = &row.acked_by {
        spans.push(Span::styled(
            format!("acked by {by} "),
            fg(theme, Paint::Muted),
        ));
    }
    if alert.resolved_at.is_some() {
        spans.push(Span::styled(
            row.summary.clone(),
            fg(theme, Paint::AlertResolved),
        ));
    } else {
        spans.push(Span::styled(row.summary.clone(), fg(theme, Paint::Muted)));
    }
    Line::from(spans)
}

fn short_age(secs: i64) -> String {
    match secs.max(0) {
        s @ 0..60 => format!("{s}s"),
        s @ 60..3600 => format!("{}m", s / 60),
        s => format!("{}h", s / 3600),
    }
}
