//! Per plugin × slot request metrics: rps, error rate and latency percentiles over a sliding
//! window of one-second buckets, plus a 300-second per-second series for charts.

mod clock;
mod in_flight;
mod proxy_counters;
mod registry;
mod replica;
mod window;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

pub use clock::now_second;
pub use in_flight::InFlight;
pub use proxy_counters::TunnelGuard;
pub use registry::MetricsRegistry;
pub use replica::{OutlierChange, ReplicaSnapshot, ReplicaStats, monotonic_ms};
use window::Window;

/// Seconds of history the rate, error rate and percentiles are computed over (the current,
/// partial second included). Ten seconds smooths single-second spikes yet lets a canary
/// analysis notice a breach within a few seconds.
pub const WINDOW_SECS: u64 = 10;

/// Seconds of per-second history kept for charts (`MetricsSnapshot::series`).
pub const SERIES_SECS: u64 = 300;

/// How one proxied request ended, as far as the metrics are concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The slot answered with 1xx, 2xx or 3xx.
    Success,
    /// The slot answered with a 5xx status.
    ServerError,
    /// The slot could not be reached or dropped the exchange (connect, timeout, reset).
    UpstreamFailure,
    /// The slot answered with a 4xx status: the caller's fault, so not counted as an error.
    ClientError,
}

impl Outcome {
    /// Whether this outcome counts towards the error rate.
    pub fn is_error(self) -> bool {
        matches!(self, Outcome::ServerError | Outcome::UpstreamFailure)
    }

    /// The outcome of a response with this HTTP status code.
    pub fn from_status(status: u16) -> Outcome {
        match status {
            500..=599 => Outcome::ServerError,
            400..=499 => Outcome::ClientError,
            _ => Outcome::Success,
        }
    }
}

/// A point-in-time view of one slot's metrics.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct MetricsSnapshot {
    /// Requests per second over the window.
    pub rps: f64,
    /// Fraction (0..=1) of the window's requests that failed (5xx or upstream failure).
    pub error_rate: f64,
    /// Median latency over the window, in milliseconds.
    pub p50_ms: f64,
    /// 95th percentile latency over the window, in milliseconds.
    pub p95_ms: f64,
    /// 99th percentile latency over the window, in milliseconds.
    pub p99_ms: f64,
    /// Requests since the slot's metrics were created.
    pub requests_total: u64,
    /// Failed requests since the slot's metrics were created.
    pub errors_total: u64,
    /// Requests inside the window.
    pub window_requests: u64,
    /// One point per second for the last 300 s (since the first request), most recent last.
    pub series: Vec<SecondPoint>,
    /// Requests that failed on this slot before any response byte and were retried on
    /// another slot (so the client still got an answer).
    #[serde(default)]
    pub retries_total: u64,
    /// Upgraded connections (WebSocket and the like) tunnelled to this slot.
    #[serde(default)]
    pub upgrades_total: u64,
    /// Upgraded connections open right now.
    #[serde(default)]
    pub tunnels_open: u64,
}

/// The requests of one second, for charts.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SecondPoint {
    /// Unix seconds.
    pub second: u64,
    /// Requests that finished in this second.
    pub requests: u64,
    /// Failed requests that finished in this second.
    pub errors: u64,
    /// Median latency of this second, in milliseconds (0 without requests).
    pub p50_ms: f64,
    /// 99th percentile latency of this second, in milliseconds (0 without requests).
    pub p99_ms: f64,
}

/// Thread-safe request metrics of one slot; the router records into it on every request.
pub struct SlotMetrics {
    // One short critical section per request: the window's buckets and histograms are
    // updated together, which atomics alone cannot do for a histogram.
    window: Mutex<Window>,
    counters: proxy_counters::ProxyCounters,
    /// Requests forwarded and not finished (see `InFlight`).
    in_flight: std::sync::atomic::AtomicU64,
}

impl Default for SlotMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for SlotMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlotMetrics").finish_non_exhaustive()
    }
}

impl SlotMetrics {
    /// Empty metrics.
    pub fn new() -> Self {
        SlotMetrics {
            window: Mutex::new(Window::new()),
            counters: proxy_counters::ProxyCounters::default(),
            in_flight: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Records one finished request at the current second of the monotonic clock.
    pub fn record(&self, latency: Duration, outcome: Outcome) {
        self.record_at(clock::now_second(), latency, outcome);
    }

    /// Records one finished request at a given unix second (tests inject time this way).
    pub fn record_at(&self, second: u64, latency: Duration, outcome: Outcome) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        // A panic while holding the lock cannot leave the counters half-updated in a way
        // that matters more than losing metrics, so a poisoned lock is simply reused.
        let mut window = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        window.record(second, micros, outcome.is_error());
    }

    /// The metrics as of now.
    pub fn snapshot(&self) -> MetricsSnapshot {
        self.snapshot_at(clock::now_second())
    }

    /// The metrics as of a given unix second (tests inject time this way).
    pub fn snapshot_at(&self, second: u64) -> MetricsSnapshot {
        let mut snapshot = {
            let mut window = self.window.lock().unwrap_or_else(PoisonError::into_inner);
            window.snapshot(second)
        };
        snapshot.retries_total = self.counters.retries();
        snapshot.upgrades_total = self.counters.upgrades();
        snapshot.tunnels_open = self.counters.tunnels_open();
        snapshot
    }
}
