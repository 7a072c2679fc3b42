//! The top line: where this is, whether the engine is reachable and its store writes.

use super::style::{self, fg};
use crate::tui::app::App;
use crate::tui::theme::Paint;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let clock = app.now.format("%H:%M:%S UTC").to_string();
    let line = match (&app.disconnected, &app.report) {
        (Some(why), _) => Line::from(vec![
            Span::styled(
                " ENGINE UNREACHABLE ",
                Style::new()
                    .fg(theme.color(Paint::Background))
                    .bg(theme.color(Paint::Unhealthy))
                    .add_modifier(Modifier::BOLD),
            ),
            Span::styled(
                format!(
                    " {why} — retrying; nothing is lost, the engine keeps running if it is up "
                ),
                fg(theme, Paint::Unhealthy),
            ),
        ]),
        (None, Some(report)) if !report.store.ok => Line::from(vec![
            Span::styled(
                " STORE FAILING ",
                Style::new()
                    .fg(theme.color(Paint::Background))
                    .bg(theme.color(Paint::Unhealthy))
                    .add_modifier(Modifier::BOLD),
            ),
            Span::styled(
                format!(
                    " {} — serving on, changes are not recorded ",
                    report.store.error.as_deref().unwrap_or("writes fail")
                ),
                fg(theme, Paint::Unhealthy),
            ),
        ]),
        (None, Some(report)) => Line::from(vec![
            Span::styled(
                " naap ",
                fg(theme, Paint::Title).add_modifier(Modifier::BOLD),
            ),
            Span::styled(format!("{clock}  "), fg(theme, Paint::Muted)),
            // Before the workspace's details: on a narrow terminal they must not be cut.
            style::environment_badge(theme, report.engine.environment)
                .map(|badge| Span::styled(format!("{} ", badge.content), badge.style))
                .unwrap_or_default(),
            waiting(app),
            Span::styled(
                report.engine.workspace.clone(),
                fg(theme, Paint::Foreground),
            ),
            Span::styled(
                format!("  router {}", report.engine.router),
                fg(theme, Paint::Muted),
            ),
            Span::styled(
                format!("  engine pid {}", report.engine.pid),
                fg(theme, Paint::Muted),
            ),
        ]),
        (None, None) => Line::from(Span::styled(
            " naap  waiting for the first status…",
            fg(theme, Paint::Muted),
        )),
    };
    frame.render_widget(
        Paragraph::new(line).style(Style::new().bg(theme.color(Paint::SelectionBg))),
        area,
    );
}

/// How many proposals wait for a person, in the warning colour, with the key that lists
/// them; nothing when none does.
fn waiting(app: &App) -> Span<'static> {
    let theme = &app.theme;
    match app.waiting.len() {
        0 => Span::raw(""),
        n => Span::styled(
            format!(
                "⚑ {n} waiting for a yes{}  ",
                app.keymap
                    .keys_of(crate::tui::keymap::Action::Approvals)
                    .first()
                    .map(|k| format!(" ({k})"))
                    .unwrap_or_default()
            ),
            fg(theme, Paint::AlertPending).add_modifier(Modifier::BOLD),
        ),
    }
}
