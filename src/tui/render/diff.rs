//! The diff of the operator's candidate (`D`): the unified diff against the live source,
//! coloured as a person reads one (added green, removed red, hunks and files set apart),
//! scrolled with j/k and the page keys.

use super::overlay::centered;
use super::style::{self, fg};
use crate::tui::app::App;
use crate::tui::theme::Paint;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, scroll: u16) {
    let theme = &app.theme;
    let Some(candidate) = &app.op.candidate else {
        return;
    };
    let mut lines: Vec<Line> = candidate
        .diff
        .lines()
        .map(|line| {
            let style = if line.starts_with("+++") || line.starts_with("---") {
                fg(theme, Paint::Title).add_modifier(Modifier::BOLD)
            } else if line.starts_with("@@") {
                fg(theme, Paint::BorderFocused)
            } else if line.starts_with('+') {
                fg(theme, Paint::Healthy)
            } else if line.starts_with('-') {
                fg(theme, Paint::Unhealthy)
            } else {
                fg(theme, Paint::Foreground)
            };
            // Tabs and control characters would move the cursor: shown, not obeyed.
            Line::from(Span::styled(
                crate::core::logs::escape_controls(&line.replace('\t', "    ")).into_owned(),
                style,
            ))
        })
        .collect();
    if lines.is_empty() {
        lines.push(Line::from(Span::styled(
            "no change yet",
            fg(theme, Paint::Muted),
        )));
    }
    let width = area.width.saturating_sub(2).min(120);
    let height = area.height.saturating_sub(2);
    let box_area = centered(area, width, height);
    frame.render_widget(Clear, box_area);
    let title = format!(
        " {} candidate {} · {} · j/k esc ",
        candidate.plugin,
        candidate.id,
        crate::ai::iterate::pipeline::diff_summary(&candidate.diff)
    );
    frame.render_widget(
        Paragraph::new(lines)
            .scroll((scroll, 0))
            .block(style::pane(theme, title, true)),
        box_area,
    );
}
