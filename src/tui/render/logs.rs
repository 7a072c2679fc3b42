//! The log pane: the selected plugin's lines across its slots, coloured by slot and level,
//! JSON fields shown as `key=value`, filters and follow state in the title.

use super::style::{self, fg};
use crate::core::logs::{LogLine, escape_controls};
use crate::tui::app::App;
use crate::tui::theme::Paint;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, focused: bool) {
    let theme = &app.theme;
    let filter = app.logs.filter();
    let mut title = format!(
        " logs · {}",
        if filter.plugin.is_empty() {
            "all"
        } else {
            &filter.plugin
        }
    );
    if let Some(level) = filter.min_level {
        title.push_str(&format!(" · ≥{}", level.as_str()));
    }
    if let Some(slot) = filter.slot {
        title.push_str(&format!(" · {slot}"));
    }
    if !app.log_filter_text.trim().is_empty() {
        title.push_str(&format!(" · /{}/", app.log_filter_text.trim()));
    }
    title.push_str(if app.logs.follow {
        " · following "
    } else {
        " · PAUSED "
    });
    let block = style::pane(theme, title, focused);
    let rows = area.height.saturating_sub(2) as usize;
    let lines: Vec<Line> = app
        .logs
        .visible(rows)
        .into_iter()
        .map(|l| line(app, l))
        .collect();
    let body = if lines.is_empty() {
        Paragraph::new(Span::styled(
            if app.logs.is_empty() {
                "no log lines yet"
            } else {
                "no line matches the filter"
            },
            fg(theme, Paint::Muted),
        ))
    } else {
        Paragraph::new(lines)
    };
    let body = if app.log_wrap {
        body.wrap(Wrap { trim: false })
    } else {
        body
    };
    frame.render_widget(body.block(block), area);
}

fn line<'a>(app: &App, l: &'a LogLine) -> Line<'a> {
    let theme = &app.theme;
    let mut spans = Vec::with_capacity(6);
    if app.log_timestamps {
        spans.push(Span::styled(
            l.ts.format("%H:%M:%S%.3f ").to_string(),
            fg(theme, Paint::Muted),
        ));
    }
    match l.slot {
        Some(slot) => spans.push(Span::styled(
            format!("{:<6}", slot.as_str()),
            style::slot(theme, slot),
        )),
        None => spans.push(Span::styled(
            format!("{:<6}", format!("{:?}", l.source).to_lowercase()),
            fg(theme, Paint::Muted),
        )),
    }
    spans.push(Span::styled(
        format!("{:<6}", l.level.as_str().to_uppercase()),
        style::level(theme, l.level),
    ));
    // A plugin's backspaces or carriage returns would redraw the terminal under the pane.
    spans.push(Span::styled(
        escape_controls(&l.message),
        style::level(theme, l.level),
    ));
    if let Some(fields) = &l.fields {
        let mut extra = String::new();
        for (key, value) in fields.iter().filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "ts" | "time" | "timestamp" | "@timestamp" | "level"
            )
        }) {
            let key = escape_controls(key);
            match value.as_str() {
                Some(s) => extra.push_str(&format!("  {key}={}", escape_controls(s))),
                None => extra.push_str(&format!("  {key}={value}")),
            }
        }
        spans.push(Span::styled(extra, fg(theme, Paint::Muted)));
    }
    Line::from(spans)
}
