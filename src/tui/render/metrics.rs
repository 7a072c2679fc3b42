//! The selected plugin's numbers: a line per slot (rps, errors, p50/p99, CPU, RSS), then
//! charts over the last minutes per slot (requests per second, p99 latency, error rate).

use super::style::{self, fg};
use crate::core::engine::{PluginStatus, ReplicaStatus, SlotStatus};
use crate::tui::app::App;
use crate::tui::theme::Paint;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Paragraph};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, focused: bool) {
    let theme = &app.theme;
    let Some(plugin) = app.plugin() else {
        frame.render_widget(
            Paragraph::new("select a plugin").block(style::pane(theme, " metrics ", focused)),
            area,
        );
        return;
    };
    let block = style::pane(theme, format!(" {} · last 10 s ", plugin.name), focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let serving: Vec<&SlotStatus> = plugin.slots.iter().filter(|s| s.pid.is_some()).collect();
    let per_slot = if inner.width >= 60 { 1 } else { 2 };
    let replica_rows: usize = serving.iter().map(|s| s.replicas.len()).sum();
    let stat_rows = (serving.len().max(1) * per_slot + replica_rows) as u16;
    let [stats_area, charts_area] =
        Layout::vertical([Constraint::Length(stat_rows), Constraint::Min(0)]).areas(inner);
    let mut lines = Vec::new();
    for slot in &serving {
        lines.extend(stat_lines(app, slot, inner.width >= 60));
        lines.extend(
            slot.replicas
                .iter()
                .map(|r| replica_line(app, r, inner.width >= 60)),
        );
    }
    if serving.is_empty() {
        lines.push(Line::from(Span::styled(
            "no slot is running",
            fg(theme, Paint::Muted),
        )));
    }
    frame.render_widget(Paragraph::new(lines), stats_area);
    draw_charts(frame, charts_area, app, plugin);
}

fn stat_lines<'a>(app: &App, slot: &'a SlotStatus, one_line: bool) -> Vec<Line<'a>> {
    let theme = &app.theme;
    let m = &slot.metrics;
    let err_style = if m.error_rate > 0.01 {
        fg(theme, Paint::Unhealthy).add_modifier(Modifier::BOLD)
    } else {
        fg(theme, Paint::Foreground)
    };
    let head = vec![
        Span::styled(
            format!("{:<6}", slot.slot.as_str()),
            style::slot(theme, slot.slot),
        ),
        Span::styled(format!("{:>7.1}/s ", m.rps), fg(theme, Paint::Foreground)),
        Span::styled(format!("err {:>5.2}% ", m.error_rate * 100.0), err_style),
        Span::styled(
            format!("p50 {} p99 {} ", ms(m.p50_ms), ms(m.p99_ms)),
            fg(theme, Paint::Foreground),
        ),
    ];
    let tail = vec![Span::styled(
        format!(
            "cpu {:>4.1}% rss {}",
            slot.cpu_percent,
            megabytes(slot.rss_bytes)
        ),
        fg(theme, Paint::Muted),
    )];
    if one_line {
        vec![Line::from([head, tail].concat())]
    } else {
        let mut indented = vec![Span::raw("      ")];
        indented.extend(tail);
        vec![Line::from(head), Line::from(indented)]
    }
}

/// `  r1 healthy     3 in flight cpu  1.5% 12M`, with the port and the router's totals
/// when the pane is wide: which process of the slot is slow, busy or out of rotation.
fn replica_line<'a>(app: &App, r: &ReplicaStatus, wide: bool) -> Line<'a> {
    let theme = &app.theme;
    let word = r.state_word();
    let paint = match word {
        "healthy" => Paint::Muted,
        "ejected" | "unhealthy" | "failed" => Paint::Unhealthy,
        _ => Paint::Starting,
    };
    let mut spans = vec![
        Span::styled(format!("  r{:<2}", r.index), fg(theme, Paint::Muted)),
        Span::styled(format!("{word:<10}"), fg(theme, paint)),
    ];
    if wide {
        spans.push(Span::styled(
            format!(
                ":{:<6}",
                r.port.map(|p| p.to_string()).unwrap_or_else(|| "-".into())
            ),
            fg(theme, Paint::Muted),
        ));
    }
    spans.push(Span::styled(
        format!("{:>3} in flight ", r.stats.in_flight),
        fg(theme, Paint::Foreground),
    ));
    if wide {
        spans.push(Span::styled(
            format!(
                "{} req {} err ",
                r.stats.requests_total, r.stats.errors_total
            ),
            fg(theme, Paint::Muted),
        ));
    }
    spans.push(Span::styled(
        format!("cpu {:>4.1}% {}", r.cpu_percent, megabytes(r.rss_bytes)),
        fg(theme, Paint::Muted),
    ));
    Line::from(spans)
}

fn ms(value: f64) -> String {
    if value >= 1000.0 {
        format!("{:.1}s", value / 1000.0)
    } else if value < 10.0 {
        format!("{value:.1}ms")
    } else {
        format!("{value:.0}ms")
    }
}

fn megabytes(bytes: u64) -> String {
    format!("{}M", bytes / 1_000_000)
}

/// Charts side by side when wide, stacked when tall, only the first when small.
fn draw_charts(frame: &mut Frame, area: Rect, app: &App, plugin: &PluginStatus) {
    if area.height < 4 || area.width < 20 {
        return;
    }
    type Pick = fn(&crate::core::metrics::SecondPoint) -> f64;
    let charts: [(&str, Pick); 3] = [
        ("req/s", |p| p.requests as f64),
        ("p99 ms", |p| p.p99_ms),
        ("errors %", |p| {
            if p.requests == 0 {
                0.0
            } else {
                100.0 * p.errors as f64 / p.requests as f64
            }
        }),
    ];
    let count = if area.width >= 120 {
        3
    } else if area.height >= 14 {
        2
    } else {
        1
    };
    let areas: Vec<Rect> = if area.width >= 120 {
        Layout::horizontal(vec![Constraint::Ratio(1, count as u32); count])
            .split(area)
            .to_vec()
    } else {
        Layout::vertical(vec![Constraint::Ratio(1, count as u32); count])
            .split(area)
            .to_vec()
    };
    for ((title, pick), chart_area) in charts.iter().zip(areas) {
        draw_chart(frame, chart_area, app, plugin, title, *pick);
    }
}

fn draw_chart(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    plugin: &PluginStatus,
    title: &str,
    pick: fn(&crate::core::metrics::SecondPoint) -> f64,
) {
    let theme = &app.theme;
    let now = app.now.timestamp() as f64;
    let points: Vec<(crate::core::types::SlotName, Vec<(f64, f64)>)> = plugin
        .slots
        .iter()
        .filter(|s| !s.metrics.series.is_empty())
        .map(|s| {
            let data = s
                .metrics
                .series
                .iter()
                .map(|p| (p.second as f64 - now, pick(p)))
                .collect();
            (s.slot, data)
        })
        .collect();
    if points.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::from(Span::styled(
                format!("{title}: no requests in the last 5 minutes"),
                fg(theme, Paint::Muted),
            ))),
            area,
        );
        return;
    }
    let max = points
        .iter()
        .flat_map(|(_, d)| d.iter().map(|(_, y)| *y))
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let datasets: Vec<Dataset> = points
        .iter()
        .map(|(slot, data)| {
            Dataset::default()
                .name(slot.as_str())
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(style::slot(theme, *slot))
                .data(data)
        })
        .collect();
    let chart = Chart::new(datasets)
        .x_axis(
            Axis::default()
                .bounds([-300.0, 0.0])
                .style(fg(theme, Paint::Muted)),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, max * 1.1])
                .labels([Span::raw("0"), Span::raw(format!("{max:.0}"))])
                .style(fg(theme, Paint::Muted)),
        )
        .legend_position(None);
    let [label, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    frame.render_widget(
        Paragraph::new(Span::styled(
            format!("{title} · 5 min"),
            fg(theme, Paint::Title),
        )),
        label,
    );
    frame.render_widget(chart, body);
}
