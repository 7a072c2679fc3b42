//! Sending one attempt to a slot, and rewriting a request for the slot and a response for
//! the client: URI, hop-by-hop headers, x-forwarded-* headers.

use super::compiled::Target;
use super::report::{OutlierEvent, OutlierSink};
use super::{Upstream, UpstreamBody};
use crate::core::metrics::{Outcome, monotonic_ms};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::http::uri::{Authority, PathAndQuery, Scheme};
use hyper::{Request, Response, Uri};
use std::net::SocketAddr;
use std::time::Instant;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// Headers that describe one hop, not the exchange (RFC 9110 §7.6.1), plus `expect`,
/// which this proxy answers itself towards the client.
const HOP_BY_HOP: [HeaderName; 10] = [
    header::CONNECTION,
    KEEP_ALIVE,
    PROXY_CONNECTION,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::EXPECT,
];

/// What the proxy knows about the client connection, built once per connection.
#[derive(Clone)]
pub(super) struct ConnInfo {
    /// The client's IP, ready to be an `x-forwarded-for` value.
    client_ip: HeaderValue,
}

impl ConnInfo {
    pub(super) fn new(remote: SocketAddr) -> ConnInfo {
        let ip = Bytes::from(remote.ip().to_string());
        ConnInfo {
            // An IP address renders as ASCII digits, dots, colons and hex letters only.
            client_ip: HeaderValue::from_maybe_shared(ip)
                .unwrap_or(HeaderValue::from_static("unknown")),
        }
    }
}

/// Sends one attempt to a slot and records it in the slot's metrics. Latency is time to
/// the response head: what a caller waits before anything arrives, and independent of how
/// fast the caller reads a large body.
/// The answer also feeds the replica's outlier detection; an ejection or a return is
/// handed to `outliers`.
pub(super) async fn send_to_slot(
    client: &Upstream,
    target: &Target,
    replica: usize,
    req: Request<UpstreamBody>,
    outliers: Option<&OutlierSink>,
) -> Result<Response<Incoming>, hyper_util::client::legacy::Error> {
    let started = Instant::now();
    let result = client.request(req).await;
    let latency = started.elapsed();
    let outcome = match &result {
        Ok(response) => Outcome::from_status(response.status().as_u16()),
        Err(_) => Outcome::UpstreamFailure,
    };
    target.metrics.record(latency, outcome);
    if let Some(r) = target.replicas.get(replica) {
        let spec = &target.outlier;
        let change = r.stats.observe(
            outcome.is_error(),
            spec.consecutive_errors,
            spec.base_ejection,
            spec.max_ejection,
            target.others_in_rotation(replica),
            monotonic_ms(),
        );
        if let (Some(change), Some(sink)) = (change, outliers) {
            sink(&OutlierEvent {
                plugin: target.plugin.clone(),
                slot: target.slot,
                replica: r.index,
                addr: r.addr,
                change,
            });
        }
    }
    result
}

/// The host a request is addressed to: from an absolute-form URI, else the Host header.
pub(super) fn request_host<B>(req: &Request<B>) -> Option<&str> {
    req.uri().host().or_else(|| {
        req.headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
    })
}

/// The URI to send to the slot: its address, the request's path (or `rewritten`, the
/// path normalised by `hygiene::normalize_path` when that changed it) minus `strip_len`
/// bytes of routed prefix, and the query unchanged.
pub(super) fn upstream_uri(
    authority: &Authority,
    uri: &Uri,
    rewritten: Option<&str>,
    strip_len: usize,
) -> Result<Uri, hyper::http::Error> {
    let path_and_query = if strip_len == 0 && rewritten.is_none() {
        uri.path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"))
    } else {
        let path = rewritten.unwrap_or(uri.path());
        let rest = path.get(strip_len..).unwrap_or("");
        let rest = if rest.is_empty() { "/" } else { rest };
        let mut pq = String::with_capacity(rest.len() + uri.query().map_or(0, |q| q.len() + 1));
        pq.push_str(rest);
        if let Some(query) = uri.query() {
            pq.push('?');
            pq.push_str(query);
        }
        PathAndQuery::from_maybe_shared(Bytes::from(pq))?
    };
    let mut parts = hyper::http::uri::Parts::default();
    parts.scheme = Some(Scheme::HTTP);
    parts.authority = Some(authority.clone());
    parts.path_and_query = Some(path_and_query);
    Ok(Uri::from_parts(parts)?)
}

/// Drops hop-by-hop headers and adds the x-forwarded-* headers.
pub(super) fn prepare_request_headers(headers: &mut HeaderMap, conn: &ConnInfo) {
    remove_hop_by_hop(headers);

    let forwarded_for = match headers.get(X_FORWARDED_FOR) {
        Some(previous) => {
            let mut chain = Vec::with_capacity(previous.len() + 2 + conn.client_ip.len());
            chain.extend_from_slice(previous.as_bytes());
            chain.extend_from_slice(b", ");
            chain.extend_from_slice(conn.client_ip.as_bytes());
            HeaderValue::from_maybe_shared(Bytes::from(chain))
                .unwrap_or_else(|_| conn.client_ip.clone())
        }
        None => conn.client_ip.clone(),
    };
    headers.insert(X_FORWARDED_FOR, forwarded_for);
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
    if let Some(host) = headers.get(header::HOST).cloned() {
        headers.insert(X_FORWARDED_HOST, host);
    }
}

/// Drops hop-by-hop headers from the slot's response; hyper frames the body anew.
pub(super) fn prepare_response_headers(headers: &mut HeaderMap) {
    remove_hop_by_hop(headers);
}

fn remove_hop_by_hop(headers: &mut HeaderMap) {
    // Headers the sender listed in Connection are hop-by-hop too. Common values
    // ("keep-alive", "close") name nothing else, so the list is only copied when needed.
    if headers.contains_key(header::CONNECTION) {
        let listed: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .flat_map(|v| v.as_bytes().split(|b| *b == b','))
            .filter_map(|token| HeaderName::from_bytes(token.trim_ascii()).ok())
            .filter(|name| !HOP_BY_HOP.contains(name) && *name != "close")
            .collect();
        for name in listed {
            headers.remove(name);
        }
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn upstream(target: &str, strip_len: usize) -> Uri {
        let uri: Uri = target.parse().expect("literal URI");
        let path = super::super::hygiene::normalize_path(uri.path())
            .ok()
            .expect("a path below the root");
        let authority = Authority::from_static("127.0.0.1:9000");
        let rewritten = match &path {
            Cow::Owned(p) => Some(p.as_str()),
            Cow::Borrowed(_) => None,
        };
        upstream_uri(&authority, &uri, rewritten, strip_len).expect("valid parts")
    }

    #[test]
    fn strip_keeps_the_query_and_roots_empty_paths() {
        let strip = "/expenses".len();
        let up = upstream("/expenses/x?q=1", strip);
        assert_eq!(up.to_string(), "http://127.0.0.1:9000/x?q=1");
        let up = upstream("/expenses", strip);
        assert_eq!(up.to_string(), "http://127.0.0.1:9000/");
        let up = upstream("/expenses?a=b", strip);
        assert_eq!(up.to_string(), "http://127.0.0.1:9000/?a=b");
        let up = upstream("/expenses/a/../b?c", strip);
        assert_eq!(up.to_string(), "http://127.0.0.1:9000/b?c");
        let up = upstream("/a/./b?c", 0);
        assert_eq!(up.to_string(), "http://127.0.0.1:9000/a/b?c");
    }

    #[test]
    fn without_strip_the_path_is_unchanged() {
        let up = upstream("http://example.com/a/b?c", 0);
        assert_eq!(up.to_string(), "http://127.0.0.1:9000/a/b?c");
    }

    #[test]
    fn hop_by_hop_headers_go_and_forwarded_headers_come() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        headers.insert("x-secret", HeaderValue::from_static("1"));
        headers.insert(KEEP_ALIVE, HeaderValue::from_static("timeout=5"));
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
        headers.insert(header::HOST, HeaderValue::from_static("app.local:8080"));
        headers.insert(X_FORWARDED_FOR, HeaderValue::from_static("10.0.0.1"));
        headers.insert("x-keep", HeaderValue::from_static("yes"));
        let conn = ConnInfo::new("127.0.0.1:5555".parse().expect("literal address"));
        prepare_request_headers(&mut headers, &conn);
        assert!(headers.get(header::CONNECTION).is_none());
        assert!(headers.get("x-secret").is_none());
        assert!(headers.get(KEEP_ALIVE).is_none());
        assert!(headers.get(header::TE).is_none());
        assert_eq!(headers["x-keep"], "yes");
        assert_eq!(headers[X_FORWARDED_FOR], "10.0.0.1, 127.0.0.1");
        assert_eq!(headers[X_FORWARDED_PROTO], "http");
        assert_eq!(headers[X_FORWARDED_HOST], "app.local:8080");
    }
}
