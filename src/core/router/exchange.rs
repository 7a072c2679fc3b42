//! One client request from start to end: checks, request id, routing, the attempt on the
//! chosen slot (and one retry elsewhere when it failed before answering), then the slot's
//! answer, a tunnel for an upgrade, or the proxy's own short answer.

use super::compiled::Target;
use super::forward::{self, ConnInfo};
use super::in_flight::TrackedBody;
use super::report::{UpstreamFailure, error_chain};
use super::retry::{self, Replay};
use super::{ProxyBody, Router, Upstream, hygiene, request_id, respond, tunnel};
use crate::core::metrics::InFlight;
use http_body_util::{Either, Empty};
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::upgrade::OnUpgrade;
use hyper::{Method, Request, Response, StatusCode, Uri, Version};
use std::borrow::Cow;
use std::sync::Arc;

/// Where routing sent a request.
struct Routed {
    target: Arc<Target>,
    /// Which of the slot's replicas (an index into `target.replicas`).
    replica: usize,
    uri: Uri,
    /// Another replica or slot could take the request if this one fails before answering:
    /// not pinned by `x-naap-slot` to a slot of one replica, and there is another.
    retryable: bool,
    /// `x-naap-slot` chose the slot: a retry stays on it.
    pinned: bool,
    /// For reports (a standard method is copied without allocating).
    method: Method,
}

impl Router {
    pub(super) async fn proxy(
        &self,
        client: &Upstream,
        mut req: Request<Incoming>,
        conn: &ConnInfo,
    ) -> Response<ProxyBody> {
        let request_id = request_id::take_or_make(req.headers_mut());
        let routed = match hygiene::check_host(&req).and_then(|()| self.route(&req)) {
            Ok(routed) => routed,
            Err(reject) => return reject.into_response(&request_id),
        };
        let upgrade = tunnel::requested(&req);
        let client_side = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut req));

        let (mut parts, body) = req.into_parts();
        hygiene::host_from_target(&parts.uri, &mut parts.headers);
        parts.uri = routed.uri.clone();
        // Slots speak HTTP/1.1 with keep-alive whatever the client spoke, so the pool works.
        parts.version = Version::HTTP_11;
        forward::prepare_request_headers(&mut parts.headers, conn);
        if let Some(upgrade) = upgrade {
            tunnel::ask_slot(&mut parts.headers, upgrade);
        }

        let replay = Replay::of(&parts, &body, routed.retryable);
        // A replayable request has no body: send an empty one, which can be made again.
        let body = match replay {
            Some(_) => Either::Right(Empty::new()),
            None => Either::Left(body),
        };
        // Counted from here until the response body ends, the tunnel closes or the client
        // goes away: a slot (or one replica) is stopped only when nothing is in flight.
        let target = &routed.target;
        let in_flight = target
            .metrics
            .track_on_replica(&target.replicas[routed.replica].stats);
        let first = forward::send_to_slot(
            client,
            target,
            routed.replica,
            Request::from_parts(parts, body),
            self.outliers.as_ref(),
        );
        let err = match first.await {
            Ok(response) => return finish(target, response, client_side, in_flight),
            Err(err) => err,
        };
        drop(in_flight);
        let retry_on = replay
            .filter(|_| retry::failed_before_answer(&err))
            .and_then(|replay| {
                let (other, replica) = self.fallback(&routed)?;
                let authority = &other.replicas[replica].authority;
                Some((replay.to(authority)?, other, replica))
            });
        let Some((again, other, replica)) = retry_on else {
            self.report(&routed, None, &err, &request_id);
            return failed(target, &err, &request_id);
        };
        target.metrics.record_retry();
        self.report(&routed, Some(&other), &err, &request_id);
        let in_flight = other
            .metrics
            .track_on_replica(&other.replicas[replica].stats);
        match forward::send_to_slot(client, &other, replica, again, self.outliers.as_ref()).await {
            Ok(response) => finish(&other, response, client_side, in_flight),
            Err(err) => {
                let retried = Routed {
                    target: Arc::clone(&other),
                    replica,
                    uri: routed.uri.clone(),
                    retryable: false,
                    pinned: true,
                    method: routed.method.clone(),
                };
                self.report(&retried, None, &err, &request_id);
                failed(&other, &err, &request_id)
            }
        }
    }

    /// Picks the slot, its replica and the upstream URI without awaiting, so the table
    /// guard is never held across an await.
    fn route(&self, req: &Request<Incoming>) -> Result<Routed, respond::Reject> {
        let table = self.table.load();
        let uri = req.uri();
        let path = hygiene::normalize_path(uri.path())?;
        let host = forward::request_host(req);
        let Some(found) = table.find(host, &path) else {
            return Err(respond::not_found(&table, &path));
        };
        let plugin = &table.plugins[found.plugin];
        let (target, pinned) = plugin.select(req.headers())?;
        // Every target has a replica (slots without one are left out of the table).
        let replica = target.pick(None).unwrap_or(0);
        let rewritten = match &path {
            Cow::Owned(p) => Some(p.as_str()),
            Cow::Borrowed(_) => None,
        };
        let authority = &target.replicas[replica].authority;
        let upstream = forward::upstream_uri(authority, uri, rewritten, found.strip_len)
            .map_err(|e| respond::bad_request(format!("naap: cannot forward {uri}: {e}\n")))?;
        Ok(Routed {
            target: Arc::clone(target),
            replica,
            uri: upstream,
            retryable: if pinned {
                target.has_other_replicas()
            } else {
                plugin.has_other_slots(target)
            },
            pinned,
            method: req.method().clone(),
        })
    }

    /// Where to retry a request that failed before an answer: another healthy replica of
    /// the same slot (as nginx's next upstream), else another slot of the plugin from the
    /// current table — unless the request was pinned to its slot.
    fn fallback(&self, failed: &Routed) -> Option<(Arc<Target>, usize)> {
        let target = &failed.target;
        if let Some(other) = target.pick(Some(failed.replica))
            && target.replica_healthy(other)
        {
            return Some((Arc::clone(target), other));
        }
        if failed.pinned {
            return None;
        }
        let other = self.table.load().fallback(&target.plugin, target.slot)?;
        let replica = other.pick(None)?;
        Some((other, replica))
    }

    /// The detail of a failed attempt, for the operator: engine log and plugin logs.
    fn report(
        &self,
        routed: &Routed,
        retried_on: Option<&Target>,
        err: &hyper_util::client::legacy::Error,
        request_id: &HeaderValue,
    ) {
        let target = &routed.target;
        let failure = UpstreamFailure {
            plugin: target.plugin.clone(),
            slot: target.slot,
            addr: target.replicas[routed.replica].addr,
            method: routed.method.to_string(),
            path: routed
                .uri
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned()),
            request_id: String::from_utf8_lossy(request_id.as_bytes()).into_owned(),
            detail: error_chain(err),
            retried_on: retried_on.map(|t| t.slot),
        };
        tracing::warn!(plugin = %failure.plugin, slot = %failure.slot, "{}", failure.message());
        if let Some(sink) = &self.failures {
            sink(&failure);
        }
    }
}

/// The slot's answer on its way to the client, or the start of a tunnel.
fn finish(
    target: &Arc<Target>,
    response: Response<Incoming>,
    client_side: Option<OnUpgrade>,
    in_flight: InFlight,
) -> Response<ProxyBody> {
    if response.status() == StatusCode::SWITCHING_PROTOCOLS
        && let Some(client_side) = client_side
    {
        return tunnel::splice(target, response, client_side, in_flight);
    }
    let (mut parts, body) = response.into_parts();
    forward::prepare_response_headers(&mut parts.headers);
    target.stamp(&mut parts.headers);
    Response::from_parts(parts, Either::Left(TrackedBody::new(body, in_flight)))
}

fn failed(
    target: &Target,
    err: &hyper_util::client::legacy::Error,
    request_id: &HeaderValue,
) -> Response<ProxyBody> {
    let mut response = respond::bad_gateway(err, request_id);
    target.stamp(response.headers_mut());
    response
}
