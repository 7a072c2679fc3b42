//! The events pane: what the engine did and saw lately (deploys, rollbacks, automatic
//! rollbacks, failures), newest first; problems stand out.

use super::style::{self, fg};
use crate::tui::app::App;
use crate::tui::theme::Paint;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// Event kinds worth an operator's eye; the rest are in `naap history`.
fn notable(kind: &str) -> Option<Paint> {
    match kind {
        "auto_rollback"
        | "deploy_failed"
        | "slot_failed"
        | "gate_failed"
        | "slot_restart_failed"
        | "process_exited" => Some(Paint::AlertFiring),
        "rolled_back" | "rollback_redeploy" | "rollout_aborted" | "deploy_started"
        | "canary_step" | "deploy_succeeded" | "traffic_changed" | "health_changed"
        | "slot_restarted" => Some(Paint::Foreground),
        _ => None,
    }
}

/// Rows the pane wants at 80×24, where it shares the plugin column: only for problems.
pub fn rows_wanted(app: &App) -> u16 {
    app.events
        .iter()
        .filter(|e| notable(&e.kind) == Some(Paint::AlertFiring))
        .count()
        .min(6) as u16
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, focused: bool) {
    let theme = &app.theme;
    let lines: Vec<Line> = app
        .events
        .iter()
        .rev()
        .filter_map(|e| notable(&e.kind).map(|paint| (e, paint)))
        .take(area.height.saturating_sub(2) as usize)
        .map(|(e, paint)| {
            let age = (app.now - e.ts).num_seconds().max(0);
            let style = if paint == Paint::AlertFiring {
                fg(theme, paint).add_modifier(Modifier::BOLD)
            } else {
                fg(theme, paint)
            };
            Line::from(vec![
                Span::styled(format!("{:>3} ", short_age(age)), fg(theme, Paint::Muted)),
                Span::styled(
                    format!("{} ", e.plugin.as_deref().unwrap_or("engine")),
                    fg(theme, Paint::Foreground).add_modifier(Modifier::BOLD),
                ),
                Span::styled(e.message.clone(), style),
            ])
        })
        .collect();
    let body = if lines.is_empty() {
        Paragraph::new(Span::styled(
            "nothing has happened yet",
            fg(theme, Paint::Muted),
        ))
    } else {
        Paragraph::new(lines)
    };
    frame.render_widget(body.block(style::pane(theme, " events ", focused)), area);
}

fn short_age(secs: i64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        _ => format!("{}h", secs / 3600),
    }
}
