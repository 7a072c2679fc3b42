//! The sample service's endpoints.

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Incoming};
use hyper::header::{ALLOW, CONNECTION, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Largest body `/api/echo` accepts.
pub const ECHO_LIMIT: usize = 1024 * 1024;
/// How much of an oversized body is read and discarded before answering 413, so the client
/// finishes sending and reads the answer instead of a connection reset.
const DRAIN_LIMIT: u64 = 16 * 1024 * 1024;
/// Longest sleep `/api/slow` grants.
pub const SLOW_CAP_MS: u64 = 10_000;

/// What every request handler can see.
#[derive(Debug)]
pub struct State {
    pub name: String,
    pub version: String,
    pub error_rate: f64,
    pub latency: Duration,
    pub fail_health_after: Option<Duration>,
    pub started: Instant,
    /// Requests answered so far.
    pub requests: AtomicU64,
    /// Requests being handled right now.
    pub in_flight: AtomicU64,
    /// Turns true when the service shuts down; open event streams end then.
    pub stopping: tokio::sync::watch::Receiver<bool>,
}

/// The body of every response: a whole one, or an event stream (`/sse`).
pub type SampleBody = http_body_util::Either<Full<Bytes>, super::sse::EventStream>;

/// The type of every response.
pub type Reply = Response<SampleBody>;

const ITEMS: [(u64, &str, u64); 5] = [
    (1, "keyboard", 4999),
    (2, "mouse", 1999),
    (3, "monitor", 18999),
    (4, "usb cable", 599),
    (5, "desk lamp", 2499),
];

fn item_json((id, name, price_cents): (u64, &str, u64)) -> Value {
    json!({ "id": id, "name": name, "price_cents": price_cents })
}

fn reply(status: StatusCode, content_type: HeaderValue, body: Bytes) -> Reply {
    let mut r = Response::new(SampleBody::Left(Full::new(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, content_type);
    r
}

fn json_reply(status: StatusCode, v: Value) -> Reply {
    reply(
        status,
        HeaderValue::from_static("application/json"),
        Bytes::from(v.to_string()),
    )
}

impl State {
    /// A JSON object reply; `version` is added to every object.
    fn object(&self, status: StatusCode, mut v: Value) -> Reply {
        if let Value::Object(map) = &mut v {
            map.insert("version".into(), json!(self.version));
        }
        json_reply(status, v)
    }

    pub(crate) fn error(&self, status: StatusCode, msg: impl Into<String>) -> Reply {
        self.object(status, json!({ "error": msg.into() }))
    }

    fn health_failing(&self) -> bool {
        self.fail_health_after
            .is_some_and(|after| self.started.elapsed() >= after)
    }
}

/// Answers one request.
pub async fn handle(req: Request<Incoming>, st: &State) -> Reply {
    let path = req.uri().path().to_owned();
    let get = matches!(*req.method(), Method::GET | Method::HEAD);
    let post = *req.method() == Method::POST;

    if path == "/health" {
        return if !get {
            not_allowed(st, "GET")
        } else if st.health_failing() {
            st.object(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "status": "failing", "reason": "--fail-health-after elapsed" }),
            )
        } else {
            st.object(StatusCode::OK, json!({ "status": "ok" }))
        };
    }
    if path == "/sse" {
        return if get {
            super::sse::sse(req.uri().query(), st)
        } else {
            not_allowed(st, "GET")
        };
    }
    if path == "/" {
        return if get {
            index(st)
        } else {
            not_allowed(st, "GET")
        };
    }
    if let Some(rest) = path.strip_prefix("/api/") {
        // Injected latency and failures apply to the API only: health stays truthful.
        if !st.latency.is_zero() {
            tokio::time::sleep(st.latency).await;
        }
        if st.error_rate > 0.0 && fastrand::f64() < st.error_rate {
            return st.error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("injected failure (--error-rate {})", st.error_rate),
            );
        }
        return match (rest, get, post) {
            ("items", true, _) => json_reply(
                StatusCode::OK,
                Value::Array(ITEMS.into_iter().map(item_json).collect()),
            ),
            ("echo", _, true) => echo(req, st).await,
            ("slow", true, _) => slow(req.uri().query(), st).await,
            (r, true, _) if r.starts_with("items/") => item(&r["items/".len()..], st),
            ("items" | "slow", false, _) => not_allowed(st, "GET"),
            ("echo", _, false) => not_allowed(st, "POST"),
            (r, false, _) if r.starts_with("items/") => not_allowed(st, "GET"),
            _ => not_found(&path, st),
        };
    }
    not_found(&path, st)
}

fn not_found(path: &str, st: &State) -> Reply {
    st.error(StatusCode::NOT_FOUND, format!("no route for {path}"))
}

fn not_allowed(st: &State, allow: &'static str) -> Reply {
    let mut r = st.error(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method not allowed here; use {allow}"),
    );
    r.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    r
}

fn index(st: &State) -> Reply {
    st.object(
        StatusCode::OK,
        json!({
            "name": st.name,
            "uptime_s": st.started.elapsed().as_secs(),
            "requests": st.requests.load(Ordering::Relaxed),
            "in_flight": st.in_flight.load(Ordering::Relaxed),
            "error_rate": st.error_rate,
            "latency_ms": st.latency.as_millis() as u64,
            "endpoints": [
                "GET /health",
                "GET /api/items",
                "GET /api/items/{id}",
                "POST /api/echo",
                "GET /api/slow?ms=N",
                "GET /sse?n=N&interval_ms=MS",
            ],
        }),
    )
}

fn item(id: &str, st: &State) -> Reply {
    let found = id
        .parse::<u64>()
        .ok()
        .and_then(|n| ITEMS.into_iter().find(|it| it.0 == n));
    match found {
        Some(it) => st.object(StatusCode::OK, item_json(it)),
        None => st.error(StatusCode::NOT_FOUND, format!("item {id} not found")),
    }
}

/// The sleep `/api/slow` was asked for, capped: `(ms, capped)`, or `None` if `ms` is missing
/// or not a number.
pub(crate) fn slow_ms(query: Option<&str>) -> Option<(u64, bool)> {
    let asked: u64 = query?
        .split('&')
        .find_map(|kv| kv.strip_prefix("ms="))?
        .parse()
        .ok()?;
    Some((asked.min(SLOW_CAP_MS), asked > SLOW_CAP_MS))
}

async fn slow(query: Option<&str>, st: &State) -> Reply {
    let Some((ms, capped)) = slow_ms(query) else {
        return st.error(
            StatusCode::BAD_REQUEST,
            format!("give the sleep as ?ms=N with N from 0 to {SLOW_CAP_MS}"),
        );
    };
    tokio::time::sleep(Duration::from_millis(ms)).await;
    st.object(StatusCode::OK, json!({ "slept_ms": ms, "capped": capped }))
}

fn too_large(st: &State) -> Reply {
    let mut r = st.error(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body is larger than {ECHO_LIMIT} bytes"),
    );
    // Whatever is left of the body is not read, so the connection cannot be reused.
    r.headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    r
}

async fn echo(req: Request<Incoming>, st: &State) -> Reply {
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static("application/octet-stream"));
    let mut body = req.into_body();
    let announced = body.size_hint().exact();
    if announced.is_some_and(|n| n > DRAIN_LIMIT) {
        return too_large(st);
    }
    // Read frame by frame so memory stays bounded by ECHO_LIMIT whatever the client sends.
    let mut kept = BytesMut::new();
    let mut seen: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(f) => f,
            Err(e) => {
                return st.error(
                    StatusCode::BAD_REQUEST,
                    format!("could not read the request body: {e}"),
                );
            }
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers carry nothing to echo
        };
        seen += data.len() as u64;
        if seen > DRAIN_LIMIT {
            return too_large(st);
        }
        if seen <= ECHO_LIMIT as u64 {
            kept.extend_from_slice(&data);
        }
    }
    if seen > ECHO_LIMIT as u64 {
        return too_large(st);
    }
    reply(StatusCode::OK, content_type, kept.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_ms_parses_and_caps() {
        assert_eq!(slow_ms(Some("ms=25")), Some((25, false)));
        assert_eq!(slow_ms(Some("x=1&ms=0")), Some((0, false)));
        assert_eq!(slow_ms(Some("ms=99999")), Some((SLOW_CAP_MS, true)));
        assert_eq!(slow_ms(Some("ms=-1")), None);
        assert_eq!(slow_ms(Some("ms=")), None);
        assert_eq!(slow_ms(None), None);
    }
}
