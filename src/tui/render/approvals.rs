//! The approvals list: each waiting proposal with who asked, when, the exact call and the
//! engine's dry run stored with it; the selected one in full.

use super::overlay::centered;
use super::style::{self, fg};
use crate::ai::proposal::label_of;
use crate::ai::session::ProposalRecord;
use crate::tui::app::App;
use crate::tui::theme::Paint;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, at: usize) {
    let theme = &app.theme;
    let mut lines: Vec<Line> = Vec::new();
    for (i, record) in app.waiting.iter().enumerate() {
        let selected = i == at;
        let marker = if selected { "▶ " } else { "  " };
        let style = if selected {
            fg(theme, Paint::Title).add_modifier(Modifier::BOLD)
        } else {
            fg(theme, Paint::Foreground)
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{marker}{}", call_text(record)), style),
            Span::styled(
                format!(
                    "  {} · {} · {}",
                    asker(record.face),
                    record.proposal.id,
                    age(app, record)
                ),
                fg(theme, Paint::Muted),
            ),
        ]));
        if selected {
            for line in &record.proposal.preview {
                lines.push(Line::from(Span::styled(
                    format!("    • {line}"),
                    fg(theme, Paint::Foreground),
                )));
            }
        }
    }
    lines.push(Line::from(""));
    lines.push(Line::from(vec![
        Span::styled("y", fg(theme, Paint::Title).add_modifier(Modifier::BOLD)),
        Span::styled(" run it as shown   ", fg(theme, Paint::Muted)),
        Span::styled("n", fg(theme, Paint::Title).add_modifier(Modifier::BOLD)),
        Span::styled(" reject   ", fg(theme, Paint::Muted)),
        Span::styled("j/k", fg(theme, Paint::Title).add_modifier(Modifier::BOLD)),
        Span::styled(" choose   ", fg(theme, Paint::Muted)),
        Span::styled("esc", fg(theme, Paint::Title).add_modifier(Modifier::BOLD)),
        Span::styled(" close", fg(theme, Paint::Muted)),
    ]));
    let width = area.width.saturating_sub(4).min(96);
    let inner = width.saturating_sub(2).max(1) as usize;
    let rows: usize = lines.iter().map(|l| l.width().div_ceil(inner).max(1)).sum();
    let box_area = centered(area, width, rows as u16 + 2);
    frame.render_widget(Clear, box_area);
    let title = format!(" Waiting for a yes ({}) ", app.waiting.len());
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(style::pane(
                theme,
                style::titled_with_environment(theme, app.environment(), title),
                true,
            )),
        box_area,
    );
}

/// The stored call as a person reads it, or its method when it no longer decodes (the
/// approval will refuse it, and say why).
fn call_text(record: &ProposalRecord) -> String {
    match serde_json::from_value(record.proposal.call.clone()) {
        Ok(call) => label_of(&call),
        Err(_) => record
            .proposal
            .call
            .get("method")
            .and_then(|m| m.as_str())
            .map_or_else(
                || "an unreadable call".to_string(),
                |m| format!("{m} (unreadable)"),
            ),
    }
}

fn age(app: &App, record: &ProposalRecord) -> String {
    let secs = (app.now - record.created).num_seconds().max(0);
    match secs {
        0..=59 => format!("{secs}s ago"),
        60..=3599 => format!("{}m ago", secs / 60),
        _ => format!("{}h ago", secs / 3600),
    }
}

/// Who asked, as a person knows the faces (`naap chat` sessions are the CLI's).
fn asker(face: crate::core::types::Face) -> &'static str {
    use crate::core::types::Face;
    match face {
        Face::Mcp => "an MCP client",
        Face::Cli => "naap chat",
        Face::Dashboard => "a dashboard",
        Face::Ai => "the operator",
        Face::Engine => "the engine",
    }
}
