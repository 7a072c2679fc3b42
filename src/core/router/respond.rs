//! The proxy's own answers: short plain-text bodies that say what went wrong and where.

use super::ProxyBody;
use super::compiled::{Compiled, Target};
use http_body_util::{Either, Full};
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};
use std::error::Error as StdError;

/// A request the proxy answers itself instead of forwarding; small, so routing can return
/// it cheaply through `Result`.
pub(super) struct Reject {
    status: StatusCode,
    body: Bytes,
}

impl Reject {
    pub(super) fn into_response(self) -> Response<ProxyBody> {
        text(self.status, self.body)
    }
}

fn text(status: StatusCode, body: Bytes) -> Response<ProxyBody> {
    let mut response = Response::new(Either::Right(Full::new(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// 404: no plugin claims the request; lists the routes that exist.
pub(super) fn not_found(table: &Compiled, path: &str) -> Reject {
    let body = if table.known_routes.is_empty() {
        format!("naap: no plugin route matches {path}; no plugins are routed yet\n")
    } else {
        format!(
            "naap: no plugin route matches {path}; known routes: {}\n",
            table.known_routes
        )
    };
    Reject {
        status: StatusCode::NOT_FOUND,
        body: Bytes::from(body),
    }
}

/// 404: `x-naap-slot` names a preview the plugin does not have.
pub(super) fn no_such_preview(message: String) -> Reject {
    Reject {
        status: StatusCode::NOT_FOUND,
        body: Bytes::from(message),
    }
}

/// 400 with a message.
pub(super) fn bad_request(message: String) -> Reject {
    Reject {
        status: StatusCode::BAD_REQUEST,
        body: Bytes::from(message),
    }
}

/// 503 with a prepared body.
pub(super) fn service_unavailable(body: Bytes) -> Reject {
    Reject {
        status: StatusCode::SERVICE_UNAVAILABLE,
        body,
    }
}

/// 502: the slot could not be reached or broke the exchange.
pub(super) fn bad_gateway(
    target: &Target,
    err: &hyper_util::client::legacy::Error,
) -> Response<ProxyBody> {
    let body = format!(
        "naap: slot {} of plugin {} at {} failed: {}\n",
        target.slot,
        target.plugin,
        target.addr,
        error_chain(err)
    );
    text(StatusCode::BAD_GATEWAY, Bytes::from(body))
}

/// "client error (Connect): tcp connect error: Connection refused (os error 111)".
fn error_chain(err: &dyn StdError) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        // Wrappers often repeat their cause's text; say each thing once.
        if !out.contains(&message) {
            out.push_str(": ");
            out.push_str(&message);
        }
        source = cause.source();
    }
    out
}
