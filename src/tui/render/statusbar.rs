//! The bottom line: the last action's result while it is fresh, else the keys that matter
//! in the focused pane.

use super::style::fg;
use crate::tui::app::App;
use crate::tui::keymap::{Action, Context};
use crate::tui::theme::Paint;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// How long an action's result stays in the status line.
const NOTICE_SECS: i64 = 8;

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let mut spans = Vec::new();
    for label in &app.in_flight {
        spans.push(Span::styled(
            format!(" … {label} "),
            fg(theme, Paint::Starting),
        ));
    }
    let fresh = app
        .notice
        .as_ref()
        .filter(|n| (app.now - n.at).num_seconds() < NOTICE_SECS);
    match fresh {
        Some(notice) => spans.push(Span::styled(
            format!(" {}", notice.text),
            if notice.error {
                fg(theme, Paint::Unhealthy).add_modifier(Modifier::BOLD)
            } else {
                fg(theme, Paint::Healthy)
            },
        )),
        None => spans.extend(hints(app)),
    }
    // What is still running goes last: the newest result matters more.
    for label in &app.in_flight {
        spans.push(Span::styled(
            format!("  … {label}"),
            fg(theme, Paint::Starting),
        ));
    }
    frame.render_widget(
        Paragraph::new(Line::from(spans)).style(Style::new().bg(theme.color(Paint::Background))),
        area,
    );
}

/// `key action` pairs for the focused context, most useful first.
fn hints(app: &App) -> Vec<Span<'static>> {
    let actions: &[Action] = match app.context() {
        Context::Traffic => &[
            Action::Less,
            Action::More,
            Action::LessFine,
            Action::SliderDown,
            Action::Apply,
            Action::Discard,
        ],
        Context::Plugins => &[
            Action::Down,
            Action::Traffic,
            Action::Rollback,
            Action::IncidentRollback,
            Action::CommandLine,
            Action::Filter,
        ],
        Context::Logs => &[
            Action::Follow,
            Action::NextError,
            Action::Level,
            Action::Slot,
            Action::Filter,
            Action::Wrap,
        ],
        // With a candidate, its diff is one key away: say which.
        Context::Operator if app.op.candidate.is_some() => &[
            Action::Send,
            Action::Yes,
            Action::No,
            Action::CandidateDiff,
            Action::Cancel,
            Action::FocusNext,
        ],
        Context::Operator => &[
            Action::Send,
            Action::Yes,
            Action::No,
            Action::Cancel,
            Action::FocusNext,
        ],
        Context::Alerts | Context::Global => {
            &[Action::FocusNext, Action::Zoom, Action::CommandLine]
        }
    };
    let theme = &app.theme;
    let mut spans = Vec::new();
    // In the operator pane printable keys type: `q` does not quit there.
    let first: &[Action] = if app.context() == Context::Operator {
        &[Action::Help]
    } else {
        &[Action::Help, Action::Quit]
    };
    for action in first.iter().chain(actions) {
        let Some(key) = app.keymap.keys_of(*action).into_iter().next() else {
            continue;
        };
        spans.push(Span::styled(
            format!(" {key}"),
            fg(theme, Paint::Title).add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::styled(
            format!(" {} ", action.name().replace('_', " ")),
            fg(theme, Paint::Muted),
        ));
    }
    spans
}
