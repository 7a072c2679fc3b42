//! HTTP Upgrade (WebSocket and the like): the handshake goes to one slot like any request,
//! and once the slot answers 101 both connections are spliced into a byte tunnel that stays
//! on that slot for its whole life.

use super::ProxyBody;
use super::compiled::Target;
use super::forward;
use http_body_util::{Either, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONNECTION, HeaderMap, HeaderValue, UPGRADE};
use hyper::upgrade::OnUpgrade;
use hyper::{Request, Response, Version};
use hyper_util::rt::TokioIo;
use std::sync::Arc;

/// The protocol a client asks to upgrade to, when this proxy tunnels it: an HTTP/1.1
/// request with `Connection: upgrade` and an `Upgrade` header. `h2c` is not tunnelled: it
/// would switch this hop's protocol, which is the proxy's business (it serves h2c itself).
pub(super) fn requested(req: &Request<Incoming>) -> Option<HeaderValue> {
    if req.version() != Version::HTTP_11 {
        return None;
    }
    let upgrade = req.headers().get(UPGRADE)?;
    if has_token(upgrade.as_bytes(), b"h2c") {
        return None;
    }
    let asked = req
        .headers()
        .get_all(CONNECTION)
        .iter()
        .any(|v| has_token(v.as_bytes(), b"upgrade"));
    asked.then(|| upgrade.clone())
}

fn has_token(list: &[u8], token: &[u8]) -> bool {
    list.split(|b| *b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// Puts back the two hop-by-hop headers an upgrade needs on the hop to the slot.
pub(super) fn ask_slot(headers: &mut HeaderMap, upgrade: HeaderValue) {
    headers.insert(UPGRADE, upgrade);
    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
}

/// Answers the client's handshake with the slot's 101 and, in the background, splices the
/// two upgraded connections together. The tunnel counts as open (and in flight) in the
/// slot's metrics until either side closes it.
pub(super) fn splice(
    target: &Arc<Target>,
    mut response: Response<Incoming>,
    client_side: OnUpgrade,
    in_flight: crate::core::metrics::InFlight,
) -> Response<ProxyBody> {
    let slot_side = hyper::upgrade::on(&mut response);
    let (mut parts, _) = response.into_parts();
    let upgrade = parts.headers.get(UPGRADE).cloned();
    forward::prepare_response_headers(&mut parts.headers);
    if let Some(upgrade) = upgrade {
        parts.headers.insert(UPGRADE, upgrade);
    }
    parts
        .headers
        .insert(CONNECTION, HeaderValue::from_static("upgrade"));
    target.stamp(&mut parts.headers);

    let open = target.metrics.open_tunnel();
    let slot = target.slot;
    let plugin = target.plugin.clone();
    tokio::spawn(async move {
        // An open tunnel is a request in flight: a stop drains it (or its grace runs out).
        let _open = (open, in_flight);
        match tokio::try_join!(client_side, slot_side) {
            Ok((client, slot_conn)) => {
                let (mut client, mut slot_conn) = (TokioIo::new(client), TokioIo::new(slot_conn));
                if let Err(err) = tokio::io::copy_bidirectional(&mut client, &mut slot_conn).await {
                    tracing::debug!(%plugin, %slot, error = %err, "upgraded connection ended with an error");
                }
            }
            Err(err) => {
                tracing::warn!(%plugin, %slot, error = %err, "upgrade handshake did not complete");
            }
        }
    });
    Response::from_parts(parts, Either::Right(Full::new(Bytes::new())))
}
