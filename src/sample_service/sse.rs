//! `GET /sse?n=20&interval_ms=100`: a server-sent event stream of `n` events, one every
//! `interval_ms`, for trying what a deploy does to a long response. Like most servers, the
//! service ends its open streams when it is told to shut down (SIGTERM), so a stream the
//! proxy let the engine cut shows up as missing events.

use super::handlers::{Reply, SampleBody, State};
use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::json;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;

/// Most events one stream sends, and the longest pause between two.
const MAX_EVENTS: u64 = 10_000;
const MAX_INTERVAL_MS: u64 = 10_000;

/// The events of one stream, produced by a task and sent as they come.
pub struct EventStream {
    events: mpsc::Receiver<Bytes>,
}

impl Body for EventStream {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.events
            .poll_recv(cx)
            .map(|event| event.map(|e| Ok(Frame::data(e))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

fn number(query: Option<&str>, key: &str) -> Option<Result<u64, String>> {
    let value = query?
        .split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))?;
    Some(
        value
            .parse::<u64>()
            .map_err(|_| format!("{key} must be a whole number, got {value:?}")),
    )
}

/// `n` (default 10, at most 10000) and `interval_ms` (default 100, at most 10000).
pub(crate) fn sse_params(query: Option<&str>) -> Result<(u64, Duration), String> {
    let n = number(query, "n").unwrap_or(Ok(10))?;
    let interval = number(query, "interval_ms").unwrap_or(Ok(100))?;
    if n > MAX_EVENTS || interval > MAX_INTERVAL_MS {
        return Err(format!(
            "n is at most {MAX_EVENTS} and interval_ms at most {MAX_INTERVAL_MS}"
        ));
    }
    Ok((n, Duration::from_millis(interval)))
}

pub(crate) fn sse(query: Option<&str>, st: &State) -> Reply {
    let (n, interval) = match sse_params(query) {
        Ok(params) => params,
        Err(message) => return st.error(StatusCode::BAD_REQUEST, message),
    };
    let (tx, events) = mpsc::channel(4);
    let version = st.version.clone();
    let mut stopping = st.stopping.clone();
    tokio::spawn(async move {
        for i in 1..=n {
            if i > 1 {
                tokio::select! {
                    () = tokio::time::sleep(interval) => {}
                    _ = stopping.wait_for(|stop| *stop) => break,
                }
            }
            let data = json!({"event": i, "of": n, "version": version});
            let event = Bytes::from(format!("id: {i}\ndata: {data}\n\n"));
            // The client went away: nothing left to send to.
            if tx.send(event).await.is_err() {
                return;
            }
        }
    });
    let mut r = Response::new(SampleBody::Right(EventStream { events }));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_have_defaults_and_limits() {
        assert_eq!(sse_params(None), Ok((10, Duration::from_millis(100))));
        assert_eq!(
            sse_params(Some("n=20&interval_ms=5")),
            Ok((20, Duration::from_millis(5)))
        );
        assert!(sse_params(Some("n=x")).is_err());
        assert!(sse_params(Some("n=10001")).is_err());
    }
}
