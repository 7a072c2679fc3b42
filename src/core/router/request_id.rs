//! `x-request-id`: kept when the client sent a usable one, otherwise made here, forwarded to
//! the slot, and shown in the proxy's own answers, so a client's report ("request id …")
//! leads to the engine's log line about it.
//!
//! Like Envoy, an id is made for every request, not only for failed ones: the slot has
//! already seen the request when its answer turns out broken, and only an id it was given
//! lets its own logs be matched to ours. The cost is one random draw and one 32-byte header
//! value per request.

use hyper::header::{HeaderMap, HeaderName, HeaderValue};

pub(crate) const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-sent id that is kept; longer ones are replaced rather than echoed.
const MAX_CLIENT_ID: usize = 128;

/// The request's id: the client's `x-request-id` when it is short printable text, else a
/// new random one, which is put in the request's headers.
pub(super) fn take_or_make(headers: &mut HeaderMap) -> HeaderValue {
    if let Some(id) = headers.get(X_REQUEST_ID)
        && usable(id)
    {
        return id.clone();
    }
    let id = make();
    headers.insert(X_REQUEST_ID, id.clone());
    id
}

fn usable(id: &HeaderValue) -> bool {
    !id.is_empty()
        && id.len() <= MAX_CLIENT_ID
        && id.as_bytes().iter().all(|b| b.is_ascii_graphic())
}

/// 32 lowercase hex digits of a 128-bit random number.
fn make() -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut n = fastrand::u128(..);
    let mut digits = [0u8; 32];
    for d in digits.iter_mut().rev() {
        *d = HEX[(n & 0xf) as usize];
        n >>= 4;
    }
    // Hex digits are always a valid header value.
    HeaderValue::from_bytes(&digits).unwrap_or(HeaderValue::from_static("unknown"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_usable_client_id_is_kept_and_others_are_replaced() {
        let mut headers = HeaderMap::new();
        headers.insert(X_REQUEST_ID, HeaderValue::from_static("abc-123"));
        assert_eq!(take_or_make(&mut headers), "abc-123");

        for bad in ["", "has space", &"x".repeat(200)] {
            let mut headers = HeaderMap::new();
            headers.insert(X_REQUEST_ID, HeaderValue::from_str(bad).expect("valid"));
            let id = take_or_make(&mut headers);
            assert_eq!(id.len(), 32, "{bad:?} → {id:?}");
            assert_eq!(headers[X_REQUEST_ID], id);
        }
        let mut headers = HeaderMap::new();
        let (a, b) = (take_or_make(&mut headers), make());
        assert_ne!(a, b);
        assert!(a.as_bytes().iter().all(u8::is_ascii_hexdigit));
    }
}
