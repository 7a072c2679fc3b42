//! The operator pane: who answers (and the turn's tokens) in the title, the conversation
//! (newest at the bottom) with tool calls as compact lines and action cards with their
//! state, and the input.

use super::style::{self, fg};
use crate::ai::transcript::{CardState, Speaker, Tone};
use crate::tui::app::App;
use crate::tui::theme::Paint;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, focused: bool) {
    let theme = &app.theme;
    let block = style::pane(theme, title(app), focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [talk, input_area] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);

    let mut lines: Vec<Line> = Vec::new();
    if app.operator.entries.is_empty() {
        lines.push(Line::from(Span::styled(
            "Ask in plain words: \"why is checkout failing?\", \"shift 25% to green\", \"roll back expense-tracker\". Actions wait for your y.",
            fg(theme, Paint::Muted),
        )));
    }
    let mut first_waiting = true;
    for entry in &app.operator.entries {
        let (who, paint) = match entry.speaker {
            Speaker::You => ("you ", Paint::Title),
            Speaker::Operator => ("op  ", Paint::BorderFocused),
            Speaker::Tool => {
                lines.push(Line::from(Span::styled(
                    format!("    · {}", entry.text),
                    fg(theme, Paint::Muted),
                )));
                continue;
            }
            Speaker::Step(tone) => {
                let paint = match tone {
                    Tone::Info => Paint::Foreground,
                    Tone::Good => Paint::Healthy,
                    Tone::Bad => Paint::Unhealthy,
                };
                for (i, text) in entry.text.lines().enumerate() {
                    lines.push(Line::from(vec![
                        Span::styled(
                            if i == 0 { "  ▸ " } else { "    " },
                            fg(theme, paint).add_modifier(Modifier::BOLD),
                        ),
                        Span::styled(text.to_string(), fg(theme, paint)),
                    ]));
                }
                continue;
            }
            Speaker::Notice => {
                lines.push(Line::from(Span::styled(
                    format!("    ! {}", entry.text),
                    fg(theme, Paint::AlertPending),
                )));
                continue;
            }
        };
        for (i, text) in entry.text.lines().enumerate() {
            lines.push(Line::from(vec![
                Span::styled(
                    if i == 0 { who } else { "    " },
                    fg(theme, paint).add_modifier(Modifier::BOLD),
                ),
                Span::styled(text.to_string(), fg(theme, Paint::Foreground)),
            ]));
        }
        if let Some((card, state)) = &entry.card {
            let (status, status_paint) = match state {
                // y and n answer the oldest waiting card; the others wait their turn.
                CardState::Waiting if first_waiting => {
                    first_waiting = false;
                    let hint = if app.op.runnable {
                        "y do it · n don't"
                    } else {
                        "suggested: not runnable here · n dismiss"
                    };
                    (hint.to_string(), Paint::AlertPending)
                }
                CardState::Waiting => ("waits for the card above".to_string(), Paint::Muted),
                CardState::Sent => ("sent…".to_string(), Paint::Starting),
                CardState::Done(text) => (format!("done: {text}"), Paint::Healthy),
                CardState::Failed(text) => (format!("failed: {text}"), Paint::Unhealthy),
                CardState::Rejected => ("not done".to_string(), Paint::Muted),
            };
            let mut title = vec![Span::styled("    ┃ ", fg(theme, status_paint))];
            // A card that would change production says so, before what it does.
            if *state == CardState::Waiting
                && let Some(badge) = style::environment_badge(theme, app.environment())
            {
                title.push(badge);
                title.push(Span::raw(" "));
            }
            title.push(Span::styled(
                card.title.clone(),
                fg(theme, Paint::Foreground).add_modifier(Modifier::BOLD),
            ));
            lines.push(Line::from(title));
            for l in &card.lines {
                lines.push(Line::from(vec![
                    Span::styled("    ┃ ", fg(theme, status_paint)),
                    Span::styled(format!("• {l}"), fg(theme, Paint::Foreground)),
                ]));
            }
            lines.push(Line::from(vec![
                Span::styled("    ┃ ", fg(theme, status_paint)),
                Span::styled(status, fg(theme, status_paint).add_modifier(Modifier::BOLD)),
            ]));
        }
    }
    // Newest at the bottom: scroll so the end is in view (wrapped lines counted roughly).
    let width = talk.width.max(1) as usize;
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(width)).sum();
    let scroll = rows.saturating_sub(talk.height as usize);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll as u16, 0)),
        talk,
    );

    let typed = app.input.lines().join(" ");
    let mut spans = vec![Span::styled(
        "> ",
        fg(theme, Paint::Title).add_modifier(Modifier::BOLD),
    )];
    spans.push(Span::styled(typed, fg(theme, Paint::Foreground)));
    if focused {
        spans.push(Span::styled("█", fg(theme, Paint::BorderFocused)));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), input_area);
}

/// ` operator · openai gpt-4o-mini · answering… ` or `… · 812 in / 64 out tokens `.
fn title(app: &App) -> String {
    let mut title = format!(" operator · {}", app.op.who());
    if app.op.turn.is_some() {
        title.push_str(" · answering… (esc cancels)");
    } else if let Some(usage) = app
        .op
        .usage
        .filter(|u| u.input_tokens + u.output_tokens > 0)
    {
        title.push_str(&format!(
            " · {} in / {} out tokens",
            usage.input_tokens, usage.output_tokens
        ));
        if let Some(price) = app.op.price {
            title.push_str(&format!(
                " · {}",
                crate::ai::config::dollars(price.cost(&usage))
            ));
        }
    }
    title.push(' ');
    title
}
