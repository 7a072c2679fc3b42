//! The proxy's own answers: short plain-text bodies that say what went wrong, with the
//! request id, and never the proxy's internals (slot addresses, error chains): those go to
//! the engine log and the plugin's logs (see `report`).

use super::ProxyBody;
use super::compiled::Compiled;
use super::request_id::X_REQUEST_ID;
use http_body_util::{Either, Full};
use hyper::body::Bytes;
use hyper::header::{CONNECTION, CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};

/// A request the proxy answers itself instead of forwarding; small, so routing can return
/// it cheaply through `Result`.
pub(super) struct Reject {
    status: StatusCode,
    body: Bytes,
    /// Close the client connection after answering: the request was malformed in a way
    /// that makes the next one on the same connection suspect (request smuggling).
    close: bool,
}

impl Reject {
    pub(super) fn into_response(self, request_id: &HeaderValue) -> Response<ProxyBody> {
        let mut response = text(self.status, &self.body, request_id);
        if self.close {
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// A text answer ending with the request id line, which also goes in `x-request-id`.
fn text(status: StatusCode, body: &[u8], request_id: &HeaderValue) -> Response<ProxyBody> {
    let mut full = Vec::with_capacity(body.len() + request_id.len() + 16);
    full.extend_from_slice(body);
    full.extend_from_slice(b"request id: ");
    full.extend_from_slice(request_id.as_bytes());
    full.push(b'\n');
    let mut response = Response::new(Either::Right(Full::new(Bytes::from(full))));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(X_REQUEST_ID, request_id.clone());
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
        close: false,
    }
}

/// 404: `x-naap-slot` names a preview the plugin does not have. The live previews are not
/// listed: any client may send the header, and a preview is unreleased work (the CLI and
/// the dashboard list them from the engine's status).
pub(super) fn no_such_preview(plugin: &str, slot: impl std::fmt::Display) -> Reject {
    Reject {
        status: StatusCode::NOT_FOUND,
        body: Bytes::from(format!("naap: plugin {plugin} has no slot {slot}\n")),
        close: false,
    }
}

/// 400 with a message; the connection stays open.
pub(super) fn bad_request(message: String) -> Reject {
    Reject {
        status: StatusCode::BAD_REQUEST,
        body: Bytes::from(message),
        close: false,
    }
}

/// 400 for a request whose framing or addressing is ambiguous; the connection is closed
/// after the answer, as nginx does.
pub(super) fn malformed(message: &'static str) -> Reject {
    Reject {
        status: StatusCode::BAD_REQUEST,
        body: Bytes::from_static(message.as_bytes()),
        close: true,
    }
}

/// 503 with a prepared body.
pub(super) fn service_unavailable(body: Bytes) -> Reject {
    Reject {
        status: StatusCode::SERVICE_UNAVAILABLE,
        body,
        close: false,
    }
}

/// 502: the slot could not be reached or broke the exchange. The client learns what kind
/// of failure it was and the request id; the operator finds the detail under that id.
pub(super) fn bad_gateway(
    err: &hyper_util::client::legacy::Error,
    request_id: &HeaderValue,
) -> Response<ProxyBody> {
    let body = format!("naap: bad gateway: {}\n", failure_kind(err));
    text(StatusCode::BAD_GATEWAY, body.as_bytes(), request_id)
}

/// A short, internals-free description of an upstream failure.
fn failure_kind(err: &hyper_util::client::legacy::Error) -> &'static str {
    if err.is_connect() {
        return "the service could not be reached";
    }
    let hyper_err = std::error::Error::source(err).and_then(|s| s.downcast_ref::<hyper::Error>());
    match hyper_err {
        Some(e) if e.is_parse() => "the service sent an invalid response",
        Some(e) if e.is_incomplete_message() => {
            "the service closed the connection before answering"
        }
        Some(e) if e.is_timeout() => "the service did not answer in time",
        _ => "the exchange with the service failed",
    }
}
