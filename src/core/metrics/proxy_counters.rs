//! Counters the router keeps per slot beside the request window: retries, upgraded
//! connections, and the tunnels open right now. Plain atomics: they are touched on rare
//! paths (a failed attempt, an Upgrade handshake) and read by snapshots.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub(super) struct ProxyCounters {
    retries: AtomicU64,
    upgrades: AtomicU64,
    tunnels_open: AtomicU64,
}

impl ProxyCounters {
    pub(super) fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    pub(super) fn upgrades(&self) -> u64 {
        self.upgrades.load(Ordering::Relaxed)
    }

    pub(super) fn tunnels_open(&self) -> u64 {
        self.tunnels_open.load(Ordering::Relaxed)
    }
}

impl super::SlotMetrics {
    /// Counts a request that failed on this slot before any response byte and was sent
    /// again to another slot of the plugin.
    pub fn record_retry(&self) {
        self.counters.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an upgraded connection (e.g. a WebSocket) and keeps it counted as open until
    /// the returned guard is dropped, when the tunnel closes.
    pub fn open_tunnel(self: &Arc<Self>) -> TunnelGuard {
        self.counters.upgrades.fetch_add(1, Ordering::Relaxed);
        self.counters.tunnels_open.fetch_add(1, Ordering::Relaxed);
        TunnelGuard {
            metrics: Arc::clone(self),
        }
    }
}

/// An open tunnel of one slot; dropping it closes the count.
pub struct TunnelGuard {
    metrics: Arc<super::SlotMetrics>,
}

impl Drop for TunnelGuard {
    fn drop(&mut self) {
        self.metrics
            .counters
            .tunnels_open
            .fetch_sub(1, Ordering::Relaxed);
    }
}
