//! Request checks and normalisation done before routing, as nginx does them: one Host
//! header (and one at all in HTTP/1.1), the authority of an absolute-form target wins over
//! Host, and `.`/`..` path segments are resolved so that routing and the slot see the same
//! path.

use super::respond::{self, Reject};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Request, Uri, Version};
use std::borrow::Cow;

/// Rejects requests whose Host is ambiguous or missing.
pub(super) fn check_host<B>(req: &Request<B>) -> Result<(), Reject> {
    let mut hosts = req.headers().get_all(header::HOST).iter();
    let first = hosts.next();
    if hosts.next().is_some() {
        // Two proxies could each pick a different one and route the request two ways.
        return Err(respond::malformed(
            "naap: bad request: more than one Host header\n",
        ));
    }
    if first.is_none() && req.version() == Version::HTTP_11 {
        // RFC 9112 §3.2: a server must answer 400 to an HTTP/1.1 request without Host.
        return Err(respond::malformed(
            "naap: bad request: an HTTP/1.1 request needs a Host header\n",
        ));
    }
    Ok(())
}

/// When the request target carries an authority (absolute-form, or HTTP/2's :authority),
/// that is the request's host (RFC 9112 §3.2.2): the slot gets it as its Host header.
pub(super) fn host_from_target(uri: &Uri, headers: &mut HeaderMap) {
    let Some(authority) = uri.authority() else {
        return;
    };
    // Userinfo ("user@host") is not part of a Host header.
    let host = authority.as_str().rsplit('@').next().unwrap_or("");
    if let Ok(value) = HeaderValue::from_str(host) {
        headers.insert(header::HOST, value);
    }
}

/// The path with `.` and `..` segments (also percent-encoded, `%2e`) resolved, as RFC 3986
/// §5.2.4 says; a `..` above the root is refused, as nginx does. Paths without a dot
/// segment are returned as they are, without copying.
pub(super) fn normalize_path(path: &str) -> Result<Cow<'_, str>, Reject> {
    if !may_have_dot_segment(path) {
        return Ok(Cow::Borrowed(path));
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Ok(Cow::Borrowed(path));
    };
    let mut kept: Vec<&str> = Vec::new();
    // A path ending in a dot segment names a directory: "/a/b/.." is "/a/".
    let mut ends_in_dir = false;
    for segment in rest.split('/') {
        match dot_segment(segment) {
            Some(Dots::One) => ends_in_dir = true,
            Some(Dots::Two) => {
                if kept.pop().is_none() {
                    return Err(respond::malformed(
                        "naap: bad request: the path goes above the root (`..`)\n",
                    ));
                }
                ends_in_dir = true;
            }
            None => {
                kept.push(segment);
                ends_in_dir = false;
            }
        }
    }
    let mut out = String::with_capacity(path.len());
    for segment in &kept {
        out.push('/');
        out.push_str(segment);
    }
    if ends_in_dir || out.is_empty() {
        out.push('/');
    }
    Ok(Cow::Owned(out))
}

/// A cheap first look, so that ordinary paths cost one scan.
fn may_have_dot_segment(path: &str) -> bool {
    path.contains("/.")
        || (path.contains('%')
            && path
                .as_bytes()
                .windows(3)
                .any(|w| w[0] == b'%' && w[1] == b'2' && (w[2] == b'e' || w[2] == b'E')))
}

enum Dots {
    One,
    Two,
}

fn dot_segment(segment: &str) -> Option<Dots> {
    // "%2e" is at most 3 bytes per dot: longer segments are never dot segments.
    if segment.is_empty() || segment.len() > 6 {
        return None;
    }
    let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
    match decoded.as_str() {
        "." => Some(Dots::One),
        ".." => Some(Dots::Two),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(path: &str) -> Option<String> {
        normalize_path(path).ok().map(Cow::into_owned)
    }

    #[test]
    fn dot_segments_are_resolved_like_rfc_3986() {
        assert_eq!(norm("/echo/../api/x").as_deref(), Some("/api/x"));
        assert_eq!(norm("/a/./b").as_deref(), Some("/a/b"));
        assert_eq!(norm("/a/b/..").as_deref(), Some("/a/"));
        assert_eq!(norm("/a/b/.").as_deref(), Some("/a/b/"));
        assert_eq!(norm("/a/%2E%2e/b").as_deref(), Some("/b"));
        assert_eq!(norm("/a/.%2e/b").as_deref(), Some("/b"));
        assert_eq!(norm("/a/..").as_deref(), Some("/"));
        assert_eq!(norm("/.well-known/x").as_deref(), Some("/.well-known/x"));
        assert_eq!(norm("/a/...").as_deref(), Some("/a/..."));
        assert_eq!(norm("/plain/path").as_deref(), Some("/plain/path"));
        assert_eq!(norm("/.."), None);
        assert_eq!(norm("/a/../../b"), None);
        assert!(matches!(normalize_path("/x/y"), Ok(Cow::Borrowed(_))));
    }
}
