//! Theme colours applied to the things the panes draw.

use crate::core::types::{Level, SlotName};
use crate::tui::theme::{Paint, Theme};
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Block, BorderType};

pub fn fg(theme: &Theme, paint: Paint) -> Style {
    Style::new().fg(theme.color(paint))
}

pub fn slot(theme: &Theme, slot: SlotName) -> Style {
    fg(
        theme,
        match slot {
            SlotName::Blue => Paint::SlotBlue,
            SlotName::Green => Paint::SlotGreen,
            SlotName::Preview(_) => Paint::SlotPreview,
        },
    )
}

pub fn level(theme: &Theme, level: Level) -> Style {
    match level {
        Level::Trace => fg(theme, Paint::LevelTrace),
        Level::Debug => fg(theme, Paint::LevelDebug),
        Level::Info => fg(theme, Paint::LevelInfo),
        Level::Warn => fg(theme, Paint::LevelWarn),
        Level::Error => fg(theme, Paint::LevelError).add_modifier(Modifier::BOLD),
    }
}

/// A pane's frame: the focused one stands out in colour and in line weight, so focus is
/// visible without colour too.
pub fn pane<'a>(
    theme: &Theme,
    title: impl Into<ratatui::text::Line<'a>>,
    focused: bool,
) -> Block<'a> {
    let (border, kind) = if focused {
        (Paint::BorderFocused, BorderType::Thick)
    } else {
        (Paint::Border, BorderType::Plain)
    };
    Block::bordered()
        .border_type(kind)
        .border_style(fg(theme, border))
        .title(title)
        .title_style(fg(theme, Paint::Title).add_modifier(Modifier::BOLD))
        .style(
            Style::new()
                .bg(theme.color(Paint::Background))
                .fg(theme.color(Paint::Foreground)),
        )
}

/// The environment as a badge (` PRODUCTION `, reversed in the danger colour), before a
/// title or in the header; nothing for a development workspace.
pub fn environment_badge(
    theme: &Theme,
    environment: crate::core::workspace::Environment,
) -> Option<ratatui::text::Span<'static>> {
    use crate::core::workspace::Environment;
    match environment {
        Environment::Development => None,
        Environment::Production => Some(ratatui::text::Span::styled(
            " PRODUCTION ",
            Style::new()
                .fg(theme.color(Paint::Background))
                .bg(theme.color(Paint::Danger))
                .add_modifier(Modifier::BOLD),
        )),
        other => Some(ratatui::text::Span::styled(
            format!(" {} ", other.name()),
            fg(theme, Paint::Title).add_modifier(Modifier::BOLD),
        )),
    }
}

/// A pane's title after the environment badge, for what changes something.
pub fn titled_with_environment(
    theme: &Theme,
    environment: crate::core::workspace::Environment,
    title: String,
) -> ratatui::text::Line<'static> {
    let mut spans: Vec<ratatui::text::Span<'static>> =
        environment_badge(theme, environment).into_iter().collect();
    spans.push(ratatui::text::Span::raw(title));
    ratatui::text::Line::from(spans)
}
