//! Layers over the panes: the help with every live binding, a confirmation, and the `:` and
//! `/` input lines.

use super::style::{self, fg};
use crate::tui::app::{App, DeployForm, Proposal, SilenceForm};
use crate::tui::keymap::{Action, Context};
use crate::tui::theme::Paint;
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

pub(super) fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    cell
}

/// Every binding in effect (including the user's), grouped by where it applies: the
/// focused pane's first, then the global ones, then the rest. When they do not fit in the
/// height they are set in two columns if the screen is wide enough.
pub fn help(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let focused = app.context();
    let order: Vec<Context> = std::iter::once(focused)
        .chain(std::iter::once(Context::Global).filter(|c| *c != focused))
        .chain(
            Context::ALL
                .into_iter()
                .filter(|c| *c != focused && *c != Context::Global),
        )
        .collect();
    let mut groups: Vec<Vec<Line>> = Vec::new();
    for context in order {
        let mut lines = vec![Line::from(Span::styled(
            context.name(),
            fg(theme, Paint::Title).add_modifier(Modifier::BOLD),
        ))];
        for action in Action::ALL.iter().filter(|a| a.context() == context) {
            let keys: Vec<String> = app
                .keymap
                .keys_of(*action)
                .iter()
                .map(|k| k.to_string())
                .collect();
            let keys = if keys.is_empty() {
                "(unbound)".to_string()
            } else {
                keys.join(" ")
            };
            lines.push(Line::from(vec![
                Span::styled(
                    format!("  {keys:<16}"),
                    fg(theme, Paint::Foreground).add_modifier(Modifier::BOLD),
                ),
                Span::styled(action.help(), fg(theme, Paint::Muted)),
            ]));
        }
        groups.push(lines);
    }
    let total: usize = groups.iter().map(Vec::len).sum();
    let two_columns = total + 2 > area.height as usize && area.width >= 2 * 90;
    let block = style::pane(theme, " keys · any key closes ", true);
    if !two_columns {
        let lines: Vec<Line> = groups.into_iter().flatten().collect();
        let box_area = centered(area, 90, lines.len() as u16 + 2);
        frame.render_widget(Clear, box_area);
        frame.render_widget(Paragraph::new(lines).block(block), box_area);
        return;
    }
    // Whole groups, in order, to the left until about half the lines are there.
    let mut left = Vec::new();
    let mut right = Vec::new();
    for group in groups {
        if right.is_empty() && (left.is_empty() || left.len() + group.len() <= total.div_ceil(2)) {
            left.extend(group);
        } else {
            right.extend(group);
        }
    }
    let rows = left.len().max(right.len()) as u16 + 2;
    let box_area = centered(area, 2 * 90, rows);
    frame.render_widget(Clear, box_area);
    let inner = block.inner(box_area);
    frame.render_widget(block, box_area);
    let [l, r] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(inner);
    frame.render_widget(Paragraph::new(left), l);
    frame.render_widget(Paragraph::new(right), r);
}

pub fn confirm(frame: &mut Frame, area: Rect, app: &App, c: &Proposal) {
    let theme = &app.theme;
    let mut lines: Vec<Line> = c
        .lines
        .iter()
        .map(|l| Line::from(Span::styled(format!("• {l}"), fg(theme, Paint::Foreground))))
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(vec![
        Span::styled("y", fg(theme, Paint::Title).add_modifier(Modifier::BOLD)),
        Span::styled("/enter do it   ", fg(theme, Paint::Muted)),
        Span::styled("n", fg(theme, Paint::Title).add_modifier(Modifier::BOLD)),
        Span::styled("/esc cancel", fg(theme, Paint::Muted)),
    ]));
    let width = area.width.saturating_sub(4).min(76);
    let text_rows: u16 = c
        .lines
        .iter()
        .map(|l| (l.chars().count() as u16 + 2) / width.saturating_sub(2).max(1) + 1)
        .sum();
    let box_area = centered(area, width, text_rows + 4);
    frame.render_widget(Clear, box_area);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(style::pane(
                theme,
                style::titled_with_environment(theme, app.environment(), format!(" {} ", c.title)),
                true,
            )),
        box_area,
    );
}

/// The `:` or `/` line, over the status line.
pub fn line(frame: &mut Frame, area: Rect, app: &App, prompt: &str, text: &str) {
    let theme = &app.theme;
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(
                prompt.to_string(),
                fg(theme, Paint::Title).add_modifier(Modifier::BOLD),
            ),
            Span::styled(text.to_string(), fg(theme, Paint::Foreground)),
            Span::styled("█", fg(theme, Paint::BorderFocused)),
        ])),
        area,
    );
}

/// A field of a form: label, value, and a cursor when it is the one being typed.
fn field<'a>(app: &App, label: &str, value: String, active: bool) -> Line<'a> {
    let theme = &app.theme;
    let mut spans = vec![
        Span::styled(format!("{label:<10}"), fg(theme, Paint::Muted)),
        Span::styled(
            value,
            fg(theme, Paint::Foreground).add_modifier(Modifier::BOLD),
        ),
    ];
    if active {
        spans.push(Span::styled("█", fg(theme, Paint::BorderFocused)));
    }
    Line::from(spans)
}

/// A small form over the panes: its fields, the last refusal, and a line of help.
fn form(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    title: String,
    mut lines: Vec<Line>,
    error: Option<&String>,
    help: &str,
) {
    let theme = &app.theme;
    lines.push(Line::from(""));
    if let Some(error) = error {
        lines.push(Line::from(Span::styled(
            error.clone(),
            fg(theme, Paint::Unhealthy),
        )));
    }
    lines.push(Line::from(Span::styled(
        help.to_string(),
        fg(theme, Paint::Muted),
    )));
    let box_area = centered(
        area,
        area.width.saturating_sub(4).min(76),
        lines.len() as u16 + 2,
    );
    frame.render_widget(Clear, box_area);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(style::pane(theme, title, true)),
        box_area,
    );
}

/// The silence form: duration and comment.
pub fn silence(frame: &mut Frame, area: Rect, app: &App, f: &SilenceForm) {
    let lines = vec![
        field(app, "for", f.duration.clone(), f.field == 0),
        field(app, "because", f.comment.clone(), f.field == 1),
    ];
    let title = format!(" Silence {} ", f.target);
    let help = "tab other field · enter silence · esc cancel";
    form(frame, area, app, title, lines, f.error.as_ref(), help);
}

/// The deploy form: version (typed), strategy (tab cycles), preview (ctrl+p).
pub fn deploy(frame: &mut Frame, area: Rect, app: &App, f: &DeployForm) {
    let into = if f.preview {
        "a preview slot (only x-naap-slot reaches it; expires in 2h)"
    } else {
        "the idle slot; traffic moves when it is healthy"
    };
    let lines = vec![
        field(app, "version", f.version.clone(), true),
        field(app, "strategy", f.strategy_text(), false),
        field(app, "into", into.to_string(), false),
    ];
    let title = format!(" Deploy {} ", f.plugin);
    let help = "type the version · tab strategy · ctrl+p preview · enter deploy · esc cancel";
    form(frame, area, app, title, lines, f.error.as_ref(), help);
}
