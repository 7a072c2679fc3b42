//! The plugin list: each plugin with its slots (version, state, health, weight), its running
//! rollout, and the traffic sliders of the selected plugin while they are being moved.

use super::style::{self, fg};
use crate::core::engine::{PluginStatus, SlotStatus};
use crate::core::types::{Health, ProcessState};
use crate::tui::app::{App, TrafficEdit};
use crate::tui::theme::Paint;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, focused: bool) {
    let theme = &app.theme;
    let title = if app.plugin_filter.trim().is_empty() {
        " plugins ".to_string()
    } else {
        format!(" plugins /{}/ ", app.plugin_filter.trim())
    };
    let block = style::pane(theme, title, focused);
    let inner_width = area.width.saturating_sub(2) as usize;
    let mut lines: Vec<Line> = Vec::new();
    let mut selected_line = 0;
    for plugin in app.shown_plugins() {
        let selected = app.selected.as_deref() == Some(plugin.name.as_str());
        if selected {
            selected_line = lines.len();
        }
        lines.push(plugin_line(app, plugin, selected));
        if let Some(off) = &plugin.disabled {
            // Off on purpose: the router answers 503 until `:plugin enable`.
            lines.push(Line::from(Span::styled(
                format!(
                    "  DISABLED {} by {}{}; :plugin enable {}",
                    off.since.format("%H:%M"),
                    off.face,
                    if off.reason.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", off.reason)
                    },
                    plugin.name
                ),
                fg(theme, Paint::Danger).add_modifier(Modifier::BOLD),
            )));
        }
        if let Some(rollout) = &plugin.rollout {
            lines.push(Line::from(vec![
                Span::styled("  ↳ ", fg(theme, Paint::Muted)),
                Span::styled(
                    format!("{} {}", rollout.to_version, rollout.phase),
                    fg(theme, Paint::Starting),
                ),
            ]));
            if rollout.paused {
                // A held rollout waits for a person: say so, and what the keys do.
                lines.push(Line::from(Span::styled(
                    format!(
                        "  HELD: {}; p promote, x abort",
                        rollout.paused_reason.as_deref().unwrap_or("paused")
                    ),
                    fg(theme, Paint::AlertPending).add_modifier(Modifier::BOLD),
                )));
            }
        }
        let edit = app
            .traffic
            .as_ref()
            .filter(|e| selected && e.plugin == plugin.name);
        for slot in &plugin.slots {
            lines.push(match edit {
                Some(edit) => slider_line(app, slot, edit, inner_width),
                None => slot_line(app, slot),
            });
            if let Some(line) = replicas_line(app, slot) {
                lines.push(line);
            }
        }
        for preview in &plugin.previews {
            lines.push(preview_line(app, preview));
        }
    }
    if lines.is_empty() {
        lines.push(Line::from(Span::styled(
            if app.plugin_filter.trim().is_empty() {
                "no plugins yet: add one to naap.toml"
            } else {
                "no plugin name matches the filter; / then esc clears it"
            },
            fg(theme, Paint::Muted),
        )));
    }
    // Keep the selected plugin in view when the list is taller than the pane.
    let rows = area.height.saturating_sub(2) as usize;
    let scroll = selected_line.saturating_sub(rows.saturating_sub(4));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .scroll((scroll as u16, 0)),
        area,
    );
}

fn plugin_line<'a>(app: &App, plugin: &'a PluginStatus, selected: bool) -> Line<'a> {
    let theme = &app.theme;
    let name_style = if selected {
        fg(theme, Paint::SelectionFg)
            .bg(theme.color(Paint::SelectionBg))
            .add_modifier(Modifier::BOLD)
    } else {
        fg(theme, Paint::Foreground).add_modifier(Modifier::BOLD)
    };
    Line::from(vec![
        Span::styled(
            if selected { "▸ " } else { "  " },
            fg(theme, Paint::BorderFocused),
        ),
        Span::styled(plugin.name.clone(), name_style),
        Span::styled(format!(" {} ", plugin.route), fg(theme, Paint::Muted)),
        Span::styled(plugin.strategy.to_string(), fg(theme, Paint::Muted)),
        Span::styled(next_version(plugin), fg(theme, Paint::Warm)),
    ])
}

/// What a slot is doing, in one word: the health of a running process, otherwise its state.
fn state_word(slot: &SlotStatus) -> (&'static str, Paint) {
    match (slot.process_state, slot.health) {
        (ProcessState::Running, Health::Healthy)
            if slot.weight == 0 && slot.warm_until.is_some() =>
        {
            ("warm", Paint::Warm)
        }
        (ProcessState::Running, Health::Healthy) => ("healthy", Paint::Healthy),
        (ProcessState::Running, Health::Unhealthy) => ("UNHEALTHY", Paint::Unhealthy),
        (ProcessState::Running, Health::Unknown) => ("checking", Paint::Unknown),
        (ProcessState::Starting, _) => ("starting", Paint::Starting),
        (ProcessState::Restarting, _) => ("restarting", Paint::Starting),
        (ProcessState::Stopping, _) => ("stopping", Paint::Muted),
        (ProcessState::Failed, _) => ("FAILED", Paint::Failed),
        (ProcessState::Stopped, _) => ("idle", Paint::Muted),
    }
}

fn slot_line<'a>(app: &App, slot: &'a SlotStatus) -> Line<'a> {
    let theme = &app.theme;
    let (word, paint) = state_word(slot);
    let weight_style = if slot.weight > 0 {
        fg(theme, Paint::Foreground).add_modifier(Modifier::BOLD)
    } else {
        fg(theme, Paint::Muted)
    };
    Line::from(vec![
        Span::styled(
            format!("  {:<6}", slot.slot.as_str()),
            style::slot(theme, slot.slot),
        ),
        Span::styled(
            format!("{:<9.8}", slot.version.as_deref().unwrap_or("-")),
            fg(theme, Paint::Foreground),
        ),
        Span::styled(format!("{word:<9.9}"), fg(theme, paint)),
        Span::styled(format!("{:>4}%", slot.weight), weight_style),
    ])
}

/// `    ×3: 2 healthy, 1 ejected` under a slot that runs more than one process; in the
/// warning colour while any of them is out of rotation or not healthy.
fn replicas_line<'a>(app: &App, slot: &SlotStatus) -> Option<Line<'a>> {
    let counts = slot.replica_counts()?;
    let all_healthy = slot.replicas.iter().all(|r| r.state_word() == "healthy");
    let paint = if all_healthy {
        Paint::Muted
    } else {
        Paint::AlertPending
    };
    Some(Line::from(Span::styled(
        format!("    ×{}: {counts}", slot.replicas.len()),
        fg(&app.theme, paint),
    )))
}

/// `blue  [██████····]  69% ← 100%`: the pending weight, and the live one while they differ.
fn slider_line<'a>(app: &App, slot: &'a SlotStatus, edit: &TrafficEdit, width: usize) -> Line<'a> {
    let theme = &app.theme;
    let pending = edit.weight(slot.slot);
    let focused = edit.slot == slot.slot;
    let bar_width = width.saturating_sub(24).clamp(5, 30);
    let filled = (pending as usize * bar_width + 50) / 100;
    let marker = if focused { " ▶ " } else { "   " };
    let mut spans = vec![
        Span::styled(marker, fg(theme, Paint::BorderFocused)),
        Span::styled(
            format!("{:<6}", slot.slot.as_str()),
            style::slot(theme, slot.slot),
        ),
        Span::styled("█".repeat(filled), style::slot(theme, slot.slot)),
        Span::styled("·".repeat(bar_width - filled), fg(theme, Paint::Muted)),
        Span::styled(
            format!(" {pending:>3}%"),
            if focused {
                fg(theme, Paint::Foreground).add_modifier(Modifier::BOLD | Modifier::REVERSED)
            } else {
                fg(theme, Paint::Foreground)
            },
        ),
    ];
    if pending != slot.weight {
        spans.push(Span::styled(
            format!(" ← {}%", slot.weight),
            fg(theme, Paint::Muted),
        ));
    }
    Line::from(spans)
}

/// `preview-3fa91c 2.0.0 healthy 1h59m`: reachable only with its header, gone at expiry.
fn preview_line<'a>(app: &App, slot: &'a SlotStatus) -> Line<'a> {
    let theme = &app.theme;
    let (word, paint) = state_word(slot);
    let left = slot
        .expires_at
        .map(|at| {
            let secs = (at - app.now).num_seconds().max(0);
            if secs >= 3600 {
                format!("{}h{:02}m", secs / 3600, secs % 3600 / 60)
            } else {
                format!("{}m{:02}s", secs / 60, secs % 60)
            }
        })
        .unwrap_or_default();
    Line::from(vec![
        Span::styled(format!("  {} ", slot.slot), style::slot(theme, slot.slot)),
        Span::styled(
            format!("{:<8.8} ", slot.version.as_deref().unwrap_or("-")),
            fg(theme, Paint::Foreground),
        ),
        Span::styled(format!("{word} "), fg(theme, paint)),
        Span::styled(left, fg(theme, Paint::Muted)),
    ])
}

/// ` · 1.1.0 ready` when the manifest names a version no slot runs yet (press d).
fn next_version(plugin: &PluginStatus) -> String {
    let running = plugin
        .slots
        .iter()
        .any(|s| s.version.as_deref() == Some(plugin.manifest_version.as_str()));
    if running || plugin.rollout.is_some() {
        String::new()
    } else {
        format!(" · {} ready", plugin.manifest_version)
    }
}
