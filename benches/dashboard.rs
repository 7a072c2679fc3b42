//! The dashboard's costs, measured on its real code paths.
//!
//! `cargo bench --bench dashboard` reports:
//!
//! * **frame render time**: every pane drawn at 200×50 (and 80×24) with 100,000 log lines
//!   buffered, a filter on, two plugins with 5 minutes of per-second series, and alerts;
//! * **log ingest**: lines per second through `App::update` while frames are still drawn
//!   at the 20 per second cap (the frames drawn meanwhile are counted: none may be missed);
//! * **bytes written to the terminal** per second by a real crossterm backend while a
//!   demo-like stream (a snapshot a second, 40 log lines a second) flows for 60 s of
//!   simulated time;
//! * **start to first frame**: theme and keymap loading, app creation and the first frame
//!   of a status report.
//!
//! Under `cargo test` (no `--bench`) it is a smoke test with smaller numbers.

use chrono::{TimeZone, Utc};
use naap::core::engine::{EngineEvent, StatusReport};
use naap::core::logs::{LogLine, parse_line};
use naap::core::types::{LogSource, SlotName};
use naap::tui::app::{App, Msg};
use naap::tui::keymap::Keymap;
use naap::tui::{render, theme};
use ratatui::Terminal;
use ratatui::backend::{CrosstermBackend, TestBackend};
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 3, 0, 0)
        .single()
        .expect("a time")
}

/// Two plugins, both slots serving, 5 minutes of series, one firing alert.
fn report(second: u64) -> StatusReport {
    let series: Vec<serde_json::Value> = (0..300u64)
        .map(|i| {
            serde_json::json!({"second": second - 300 + i, "requests": 40 + (i * 7 + second) % 13,
                               "errors": u64::from((i + second).is_multiple_of(40)), "p50_ms": 2.0 + (i % 5) as f64,
                               "p99_ms": 9.0 + ((i + second) % 11) as f64})
        })
        .collect();
    let slot = |slot: &str, version: &str, weight: u32| {
        serde_json::json!({
            "slot": slot, "version": version, "process_state": "running", "health": "healthy",
            "health_detail": "GET /health: 200", "pid": 4242, "port": 41000, "weight": weight,
            "restarts": 0, "started_at": "2026-11-22T02:50:00Z", "warm_until": null,
            "cpu_percent": 1.5, "rss_bytes": 12_000_000,
            "metrics": {"rps": 40.0 + (second % 5) as f64, "error_rate": 0.001, "p50_ms": 2.0, "p95_ms": 5.0,
                        "p99_ms": 9.0 + (second % 3) as f64, "requests_total": 1000 + second * 40,
                        "errors_total": second / 40, "window_requests": 400, "series": series}
        })
    };
    let alert = serde_json::json!({
        "plugin": "checkout", "rule": "errors", "state": "firing", "since": "2026-11-22T02:59:30Z",
        "severity": "critical", "summary": "error_rate{slot=canary} 21.0% > 5%", "labels": {},
        "rollback": false, "acked_by": null, "silenced_until": null, "silence_id": null
    });
    serde_json::from_value(serde_json::json!({
        "engine": {"pid": 1, "naap_version": "0.1.0", "workspace": "/srv/ops", "started_at": "2026-11-22T02:00:00Z",
                   "router": "127.0.0.1:8080", "admin": null},
        "plugins": [
            {"name": "shop", "route": "/shop", "manifest_version": "2.0.0", "strategy": "blue-green",
             "live_version": "1.0.0", "slots": [slot("blue", "1.0.0", 70), slot("green", "2.0.0", 30)], "rollout": null},
            {"name": "checkout", "route": "/checkout", "manifest_version": "3.1.0", "strategy": "canary",
             "live_version": "3.0.0", "slots": [slot("blue", "3.0.0", 90), slot("green", "3.1.0", 10)],
             "rollout": {"id": 7, "strategy": "canary", "to_slot": "green", "to_version": "3.1.0",
                         "phase": "step 1/3: 10%", "started_at": "2026-11-22T02:58:00Z"},
             "alerts": [alert]}
        ]
    }))
    .expect("a valid status report")
}

/// A request log line as the sample service writes it, parsed like the engine parses it.
fn log_line(seq: u64) -> LogLine {
    let raw = format!(
        r#"{{"level":"{}","msg":"GET /api/items/{} 200","latency_ms":0.{},"status":200,"version":"1.0.0"}}"#,
        if seq.is_multiple_of(50) {
            "error"
        } else {
            "info"
        },
        seq % 97,
        seq % 1000
    );
    let (level, message, fields) = parse_line(&raw);
    LogLine {
        seq,
        ts: now(),
        plugin: if seq.is_multiple_of(3) {
            "checkout".into()
        } else {
            "shop".into()
        },
        slot: Some(if seq.is_multiple_of(4) {
            SlotName::Green
        } else {
            SlotName::Blue
        }),
        source: LogSource::Stdout,
        level,
        message,
        fields,
    }
}

fn app_with_lines(lines: u64) -> App {
    let mut app = App::new(
        Keymap::defaults(),
        theme::built_in("dark").expect("the dark theme"),
        now(),
    );
    app.update(Msg::Connected);
    app.update(Msg::Engine(EngineEvent::Snapshot(report(
        now().timestamp() as u64,
    ))));
    for seq in 0..lines {
        app.update(Msg::Engine(EngineEvent::Log(log_line(seq))));
    }
    app
}

fn render_times(app: &App, width: u16, height: u16, frames: usize) -> Vec<f64> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("a test terminal");
    let mut ms = Vec::with_capacity(frames);
    for _ in 0..frames {
        let began = Instant::now();
        terminal
            .draw(|frame| render::draw(frame, app))
            .expect("draw");
        ms.push(began.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    ms
}

/// A `Write` that counts bytes, for the real crossterm backend.
struct Counter(std::rc::Rc<std::cell::Cell<u64>>);
impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.set(self.0.get() + buf.len() as u64);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn main() -> ExitCode {
    let bench = std::env::args().skip(1).any(|a| a == "--bench");
    let buffered: u64 = if bench { 100_000 } else { 10_000 };
    println!(
        "\ndashboard — {}\n",
        if bench { "bench" } else { "smoke test" }
    );

    // Frame render time with a full log buffer and a filter that keeps 1 line in 50.
    let mut app = app_with_lines(buffered);
    app.update(Msg::Key("/".parse().expect("a key")));
    for c in "items/1".chars() {
        app.update(Msg::Key(naap::tui::keymap::Key::plain(
            naap::tui::keymap::Code::Char(c),
        )));
    }
    app.update(Msg::Key("enter".parse().expect("a key")));
    let filtered_ms = {
        let began = Instant::now();
        app.update(Msg::Key("v".parse().expect("a key")));
        began.elapsed().as_secs_f64() * 1000.0
    };
    let frames = if bench { 500 } else { 20 };
    println!(
        "| frame ({} lines buffered) | p50 ms | p95 ms | max ms |",
        buffered
    );
    println!("| --- | ---: | ---: | ---: |");
    for (w, h) in [(200, 50), (80, 24)] {
        let ms = render_times(&app, w, h, frames);
        println!(
            "| {w}×{h}, all panes | {:.3} | {:.3} | {:.3} |",
            percentile(&ms, 50.0),
            percentile(&ms, 95.0),
            percentile(&ms, 100.0)
        );
    }
    println!("\nrefilter {buffered} lines on a key press: {filtered_ms:.2} ms");

    // Log ingest while frames are drawn at the cap.
    let ingest: u64 = if bench { 1_000_000 } else { 50_000 };
    let mut app = app_with_lines(0);
    let mut terminal = Terminal::new(TestBackend::new(200, 50)).expect("a test terminal");
    let began = Instant::now();
    let mut last_frame = Instant::now();
    let (mut frames_drawn, mut frames_due) = (0u64, 0u64);
    let mut seq = 0;
    while seq < ingest {
        for _ in 0..256 {
            app.update(Msg::Engine(EngineEvent::Log(log_line(seq))));
            seq += 1;
        }
        if last_frame.elapsed() >= Duration::from_millis(50) {
            frames_due += last_frame.elapsed().as_millis() as u64 / 50;
            terminal
                .draw(|frame| render::draw(frame, &app))
                .expect("draw");
            frames_drawn += 1;
            last_frame = Instant::now();
        }
    }
    let secs = began.elapsed().as_secs_f64();
    println!(
        "log ingest: {ingest} lines in {secs:.2} s = {:.0} lines/s, {frames_drawn} frames drawn at the 50 ms cap ({} intervals elapsed)",
        ingest as f64 / secs,
        frames_due
    );

    // Bytes to a real terminal backend: a demo-like minute, frames at the cap.
    let mut app = app_with_lines(0);
    let written = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let mut terminal = Terminal::new(CrosstermBackend::new(Counter(written.clone())))
        .expect("a crossterm terminal");
    terminal
        .resize(ratatui::layout::Rect::new(0, 0, 200, 50))
        .expect("resize");
    let start = now().timestamp() as u64;
    let mut seq = 0;
    let seconds = 60;
    for s in 0..seconds {
        app.update(Msg::Engine(EngineEvent::Snapshot(report(start + s))));
        app.update(Msg::Tick(now() + chrono::Duration::seconds(s as i64)));
        // 40 lines a second arrive in two batches; a frame follows each batch.
        for _ in 0..2 {
            for _ in 0..20 {
                app.update(Msg::Engine(EngineEvent::Log(log_line(seq))));
                seq += 1;
            }
            terminal
                .draw(|frame| render::draw(frame, &app))
                .expect("draw");
        }
    }
    let bytes = written.get();
    println!(
        "bytes to the terminal at 200×50 (1 snapshot + 40 log lines a second): {:.1} KiB/s",
        bytes as f64 / 1024.0 / seconds as f64
    );

    // Start to first frame: look, app, first snapshot, first frame.
    let began = Instant::now();
    let look = naap::tui::run::load_look();
    let (theme, keymap) = match look {
        Ok(look) => look,
        Err(e) => {
            eprintln!("dashboard: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut app = App::new(keymap, theme, Utc::now());
    app.update(Msg::Connected);
    app.update(Msg::Engine(EngineEvent::Snapshot(report(start))));
    let mut terminal = Terminal::new(TestBackend::new(200, 50)).expect("a test terminal");
    terminal
        .draw(|frame| render::draw(frame, &app))
        .expect("draw");
    println!(
        "start to first frame (in process, engine reply excluded): {:.2} ms",
        began.elapsed().as_secs_f64() * 1000.0
    );
    ExitCode::SUCCESS
}
