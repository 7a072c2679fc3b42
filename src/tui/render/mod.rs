//! Drawing the dashboard from the app state. Nothing here awaits or changes state; a pane
//! per file.
//!
//! At 80×24 the plugins (with their slots) sit left of the selected plugin's metrics, the
//! logs take the lower half and alerts share the plugin column when there are any. At
//! 200×50 and up the plugin column widens, charts get room, and alerts get their own
//! column. A zoomed pane takes everything but the header and the status line.

mod alerts;
mod approvals;
mod diff;
mod header;
mod logs;
mod metrics;
mod operator;
mod overlay;
mod plugins;
mod statusbar;
mod stories;
pub(crate) mod style;

use super::app::{App, ListKind, Overlay, Pane};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};

/// Draws one frame.
pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    let [header_area, body, status_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    header::draw(frame, header_area, app);
    statusbar::draw(frame, status_area, app);

    if app.zoomed {
        draw_pane(frame, body, app, app.focus);
    } else {
        let wide = area.width >= 160 && area.height >= 40;
        let [top, bottom] =
            Layout::vertical([Constraint::Percentage(55), Constraint::Min(6)]).areas(body);
        let plugin_width = if wide { 48 } else { 34 };
        if wide {
            let [plugins_area, metrics_area, alerts_area] = Layout::horizontal([
                Constraint::Length(plugin_width),
                Constraint::Min(40),
                Constraint::Length(48),
            ])
            .areas(top);
            draw_pane(frame, plugins_area, app, Pane::Plugins);
            draw_pane(frame, metrics_area, app, Pane::Metrics);
            draw_pane(frame, alerts_area, app, Pane::Alerts);
        } else {
            let [left, metrics_area] =
                Layout::horizontal([Constraint::Length(plugin_width), Constraint::Min(20)])
                    .areas(top);
            let alert_rows = alerts::rows_wanted(app);
            if alert_rows > 0 {
                let [plugins_area, alerts_area] = Layout::vertical([
                    Constraint::Min(5),
                    Constraint::Length(alert_rows.min(6) + 2),
                ])
                .areas(left);
                draw_pane(frame, plugins_area, app, Pane::Plugins);
                draw_pane(frame, alerts_area, app, Pane::Alerts);
            } else {
                draw_pane(frame, left, app, Pane::Plugins);
            }
            draw_pane(frame, metrics_area, app, Pane::Metrics);
        }
        if wide {
            // The operator sits beside the logs where there is room for both.
            let [logs_area, operator_area] =
                Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)])
                    .areas(bottom);
            draw_pane(frame, logs_area, app, Pane::Logs);
            draw_pane(frame, operator_area, app, Pane::Operator);
        } else if app.focus == Pane::Operator {
            // On a small screen the operator takes the log pane's place while it has focus.
            draw_pane(frame, bottom, app, Pane::Operator);
        } else {
            draw_pane(frame, bottom, app, Pane::Logs);
        }
    }

    match &app.overlay {
        Overlay::None => {}
        Overlay::Help => overlay::help(frame, body, app),
        Overlay::Confirm(c) => overlay::confirm(frame, body, app, c),
        Overlay::Command(text) => overlay::line(frame, status_area, app, ":", text),
        Overlay::Filter(text) => overlay::line(frame, status_area, app, "/", text),
        Overlay::Find(list, text) => {
            let prompt = match list {
                ListKind::Plugins => "find plugin /",
                ListKind::Alerts => "find alert /",
            };
            overlay::line(frame, status_area, app, prompt, text)
        }
        Overlay::Silence(form) => overlay::silence(frame, body, app, form),
        Overlay::Deploy(form) => overlay::deploy(frame, body, app, form),
        Overlay::Approvals(at) => approvals::draw(frame, body, app, *at),
        Overlay::Diff(scroll) => diff::draw(frame, body, app, *scroll),
        Overlay::Stories(scroll) => stories::draw(frame, body, app, *scroll),
    }
}

fn draw_pane(frame: &mut Frame, area: Rect, app: &App, pane: Pane) {
    let focused = app.focus == pane;
    match pane {
        Pane::Plugins => plugins::draw(frame, area, app, focused),
        Pane::Metrics => metrics::draw(frame, area, app, focused),
        Pane::Logs => logs::draw(frame, area, app, focused),
        Pane::Alerts => alerts::draw(frame, area, app, focused),
        Pane::Operator => operator::draw(frame, area, app, focused),
    }
}

#[cfg(test)]
mod tests;
