//! One retry on another slot when the chosen slot failed before answering, as nginx's
//! `proxy_next_upstream error` does: only for idempotent methods (RFC 9110 §9.2.2), only
//! when there is no request body to replay, never for a request pinned to a slot with
//! `x-naap-slot`, and only once.

use super::UpstreamBody;
use http_body_util::{Either, Empty};
use hyper::body::{Body, Incoming};
use hyper::header::HeaderMap;
use hyper::http::request::Parts;
use hyper::http::uri::{Authority, Uri};
use hyper::{Method, Request, Version};

/// What it takes to send the request again: its head. The body is known to be empty.
pub(super) struct Replay {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
}

impl Replay {
    /// A copy of the request head when the request may be retried; `None` otherwise (then
    /// nothing is copied). `retryable`: routing found another slot that could take it.
    pub(super) fn of(parts: &Parts, body: &Incoming, retryable: bool) -> Option<Replay> {
        let idempotent = matches!(
            parts.method,
            Method::GET
                | Method::HEAD
                | Method::OPTIONS
                | Method::PUT
                | Method::DELETE
                | Method::TRACE
        );
        (retryable && idempotent && body.is_end_stream()).then(|| Replay {
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            headers: parts.headers.clone(),
        })
    }

    /// The request again, addressed to another slot.
    pub(super) fn to(self, authority: &Authority) -> Option<Request<UpstreamBody>> {
        let mut uri = self.uri.into_parts();
        uri.authority = Some(authority.clone());
        let uri = Uri::from_parts(uri).ok()?;
        let mut req = Request::new(Either::Right(Empty::new()));
        *req.method_mut() = self.method;
        *req.uri_mut() = uri;
        *req.version_mut() = Version::HTTP_11;
        *req.headers_mut() = self.headers;
        Some(req)
    }
}

/// Whether the failure happened before the slot answered anything: the connection could
/// not be made, or it was closed or reset before a response head arrived. A slot that
/// answered garbage is not retried: it did get the request.
pub(super) fn failed_before_answer(err: &hyper_util::client::legacy::Error) -> bool {
    if err.is_connect() {
        return true;
    }
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if let Some(e) = cause.downcast_ref::<hyper::Error>() {
            if e.is_incomplete_message() || e.is_canceled() {
                return true;
            }
            if e.is_parse() || e.is_user() {
                return false;
            }
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset};
            return matches!(io.kind(), ConnectionReset | ConnectionAborted | BrokenPipe);
        }
        source = cause.source();
    }
    false
}
