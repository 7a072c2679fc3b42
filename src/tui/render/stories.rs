//! The stories view: each story, then its criteria with their tests' last results
//! (✓ passed green, ✗ failed red, ○ still to implement, · not run), and the counts.

use super::overlay::centered;
use super::style::{self, fg};
use crate::core::engine::TestResult;
use crate::core::logs::escape_controls;
use crate::tui::app::App;
use crate::tui::theme::Paint;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, scroll: u16) {
    let theme = &app.theme;
    let Some(report) = &app.stories else {
        return;
    };
    let mut lines: Vec<Line> = Vec::new();
    for story in &report.stories {
        lines.push(Line::from(Span::styled(
            format!("{} {}", story.id, escape_controls(&story.title)),
            fg(theme, Paint::Title).add_modifier(Modifier::BOLD),
        )));
        for c in &story.criteria {
            let paint = match c.result {
                TestResult::Passed => Paint::Healthy,
                TestResult::Failed => Paint::Unhealthy,
                TestResult::Skipped => Paint::AlertPending,
                TestResult::NotRun => Paint::Muted,
            };
            lines.push(Line::from(vec![
                Span::styled(
                    format!("  {} {:<12} ", c.result.mark(), c.result.as_str()),
                    fg(theme, paint).add_modifier(Modifier::BOLD),
                ),
                Span::styled(
                    escape_controls(&c.text).into_owned(),
                    fg(theme, Paint::Foreground),
                ),
            ]));
        }
    }
    let [passed, failed, open, not_run] = report.counts();
    let when = report
        .last_run
        .map(|t| format!("tests ran {}", t.format("%H:%M:%S")))
        .unwrap_or_else(|| "no test run seen".to_string());
    let title = format!(
        " {} stories · {passed} ✓ {failed} ✗ {open} to do {not_run} not run · {when} · esc ",
        report.plugin
    );
    let width = area.width.saturating_sub(2).min(110);
    let box_area = centered(area, width, area.height.saturating_sub(2));
    frame.render_widget(Clear, box_area);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0))
            .block(style::pane(theme, title, true)),
        box_area,
    );
}
