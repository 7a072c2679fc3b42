//! What the proxy tells the operator about a failed exchange with a slot. The client gets a
//! short reason and the request id (see `respond`); the detail goes to the engine log here
//! and, through a sink the engine installs, to the plugin's own logs (`naap logs PLUGIN`),
//! without the router knowing about the engine.

use crate::core::types::SlotName;
use std::net::SocketAddr;
use std::sync::Arc;

/// One failed attempt to get an answer from a slot.
#[derive(Clone, Debug)]
pub struct UpstreamFailure {
    pub plugin: String,
    pub slot: SlotName,
    /// Where the slot listens.
    pub addr: SocketAddr,
    pub method: String,
    /// The path as sent to the slot.
    pub path: String,
    pub request_id: String,
    /// The full error chain, e.g. "client error (Connect): tcp connect error: Connection
    /// refused (os error 111)".
    pub detail: String,
    /// The slot the request was sent to again, when it was retried.
    pub retried_on: Option<SlotName>,
}

impl UpstreamFailure {
    /// One plain line for logs.
    pub fn message(&self) -> String {
        let outcome = match self.retried_on {
            Some(other) => format!("retried on slot {other}"),
            None => "answered 502".to_owned(),
        };
        format!(
            "router: {} {} (request id {}) to slot {} at {} failed: {}; {outcome}",
            self.method, self.path, self.request_id, self.slot, self.addr, self.detail
        )
    }
}

/// Receives every upstream failure, on the serving thread: keep it quick.
pub type FailureSink = Arc<dyn Fn(&UpstreamFailure) + Send + Sync>;

/// A replica taken out of rotation by the router, or brought back by a passing probe.
#[derive(Clone, Debug)]
pub struct OutlierEvent {
    pub plugin: String,
    pub slot: SlotName,
    pub replica: u32,
    pub addr: SocketAddr,
    pub change: crate::core::metrics::OutlierChange,
}

/// Receives every ejection and return, on the serving thread: keep it quick.
pub type OutlierSink = Arc<dyn Fn(&OutlierEvent) + Send + Sync>;

/// "client error (Connect): tcp connect error: Connection refused (os error 111)".
pub(super) fn error_chain(err: &dyn std::error::Error) -> String {
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
