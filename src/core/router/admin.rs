//! The admin endpoint: `/healthz` for supervisors and `/metrics` for Prometheus.

use super::server;
use super::{RouteTable, Router};
use crate::core::metrics::{MetricsRegistry, MetricsSnapshot};
use crate::core::types::SlotName;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Serves `GET /healthz` (200 "ok") and `GET /metrics` (Prometheus text format) until
/// `shutdown` turns true; every other path is 404.
pub async fn serve_admin(
    listener: TcpListener,
    metrics: MetricsRegistry,
    router: Arc<Router>,
    shutdown: watch::Receiver<bool>,
) {
    server::run(listener, shutdown, move |_remote| {
        let metrics = metrics.clone();
        let router = Arc::clone(&router);
        hyper::service::service_fn(move |req: Request<Incoming>| {
            let response = answer(&req, &metrics, &router);
            async move { Ok::<_, Infallible>(response) }
        })
    })
    .await;
}

fn answer(
    req: &Request<Incoming>,
    metrics: &MetricsRegistry,
    router: &Router,
) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    let known = matches!(path, "/healthz" | "/metrics");
    if !known {
        return plain(
            StatusCode::NOT_FOUND,
            format!("naap admin: no endpoint {path}; try /healthz or /metrics\n"),
        );
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return plain(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("naap admin: {path} only answers GET\n"),
        );
    }
    if path == "/healthz" {
        return plain(StatusCode::OK, "ok\n".to_owned());
    }
    let mut response = Response::new(Full::new(Bytes::from(render_prometheus(
        metrics,
        &router.table(),
    ))));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

fn plain(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// A metric family taken from each slot's snapshot: name, type, help, value.
type Family = (
    &'static str,
    &'static str,
    &'static str,
    fn(&MetricsSnapshot) -> f64,
);

struct Row {
    plugin: String,
    slot: SlotName,
    version: String,
    snapshot: MetricsSnapshot,
}

/// Renders every slot's metrics in the Prometheus text exposition format.
///
/// Slots in the route table are read through the table's own metrics handle (what the
/// router records into); slots only in the registry (stopped ones) keep their counters with
/// an empty version.
pub(crate) fn render_prometheus(metrics: &MetricsRegistry, table: &RouteTable) -> String {
    let mut rows: Vec<Row> = Vec::new();
    for plugin in &table.plugins {
        for target in &plugin.slots {
            rows.push(Row {
                plugin: plugin.name.clone(),
                slot: target.slot,
                version: target.version.clone(),
                snapshot: target.metrics.snapshot(),
            });
        }
    }
    for (plugin, slot, handle) in metrics.entries() {
        if !rows.iter().any(|r| r.plugin == plugin && r.slot == slot) {
            rows.push(Row {
                plugin,
                slot,
                version: String::new(),
                snapshot: handle.snapshot(),
            });
        }
    }
    rows.sort_by(|a, b| (&a.plugin, a.slot).cmp(&(&b.plugin, b.slot)));

    let mut out = String::with_capacity(512 + rows.len() * 700);
    let families: [Family; 10] = [
        (
            "naap_requests_total",
            "counter",
            "Requests proxied to the slot.",
            |s| s.requests_total as f64,
        ),
        (
            "naap_request_errors_total",
            "counter",
            "Requests that got a 5xx or no answer from the slot.",
            |s| s.errors_total as f64,
        ),
        (
            "naap_requests_per_second",
            "gauge",
            "Request rate over the last 10 s.",
            |s| s.rps,
        ),
        (
            "naap_request_error_ratio",
            "gauge",
            "Share of failed requests over the last 10 s.",
            |s| s.error_rate,
        ),
        (
            "naap_request_duration_p50_seconds",
            "gauge",
            "Median latency to response headers over the last 10 s.",
            |s| s.p50_ms / 1000.0,
        ),
        (
            "naap_request_duration_p95_seconds",
            "gauge",
            "95th percentile latency to response headers over the last 10 s.",
            |s| s.p95_ms / 1000.0,
        ),
        (
            "naap_request_duration_p99_seconds",
            "gauge",
            "99th percentile latency to response headers over the last 10 s.",
            |s| s.p99_ms / 1000.0,
        ),
        (
            "naap_request_retries_total",
            "counter",
            "Requests that failed on the slot before any response byte and were retried on another slot.",
            |s| s.retries_total as f64,
        ),
        (
            "naap_upgrades_total",
            "counter",
            "Upgraded connections (WebSocket) tunnelled to the slot.",
            |s| s.upgrades_total as f64,
        ),
        (
            "naap_tunnels_open",
            "gauge",
            "Upgraded connections to the slot open now.",
            |s| s.tunnels_open as f64,
        ),
    ];
    for (name, kind, help, value) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for row in &rows {
            let _ = writeln!(
                out,
                "{name}{{plugin=\"{}\",slot=\"{}\",version=\"{}\"}} {}",
                escape(&row.plugin),
                row.slot,
                escape(&row.version),
                value(&row.snapshot)
            );
        }
    }

    slot_gauge(
        &mut out,
        table,
        "naap_slot_weight",
        "Share of the plugin's traffic routed to the slot, in percent.",
        |t| u64::from(t.weight),
    );
    slot_gauge(
        &mut out,
        table,
        "naap_slot_healthy",
        "Whether the slot passes its health checks (1) or not (0).",
        |t| u64::from(t.healthy),
    );
    slot_gauge(
        &mut out,
        table,
        "naap_slot_in_flight",
        "Requests forwarded to the slot whose response has not finished; a stopping slot drains to 0 first.",
        |t| t.metrics.in_flight(),
    );
    out
}

/// One gauge with a sample per slot of the route table.
fn slot_gauge(
    out: &mut String,
    table: &RouteTable,
    name: &str,
    help: &str,
    value: impl Fn(&super::SlotTarget) -> u64,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for plugin in &table.plugins {
        for t in &plugin.slots {
            let _ = writeln!(
                out,
                "{name}{{plugin=\"{}\",slot=\"{}\",version=\"{}\"}} {}",
                escape(&plugin.name),
                t.slot,
                escape(&t.version),
                value(t)
            );
        }
    }
}

/// Escapes a label value as the exposition format asks: backslash, quote, newline.
fn escape(value: &str) -> std::borrow::Cow<'_, str> {
    if !value.contains(['\\', '"', '\n']) {
        return std::borrow::Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 4);
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}
