//! The in-flight gauge of a slot: requests the router has forwarded to it whose response
//! has not finished yet. A slot is stopped only once this reaches 0 (or its `stop_grace`
//! passed), so a deploy never cuts a stream or a slow answer mid-way.

use super::{ReplicaStats, SlotMetrics};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// One request in flight; the gauge goes down when this is dropped — when the response
/// body ended, or the client went away and hyper dropped the exchange.
#[must_use = "the request counts as in flight only while the guard lives"]
pub struct InFlight {
    metrics: Arc<SlotMetrics>,
    /// The replica it went to, whose outstanding count goes down with the slot's.
    replica: Option<Arc<ReplicaStats>>,
}

impl SlotMetrics {
    /// Counts a request as in flight until the returned guard is dropped.
    pub fn track_in_flight(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight {
            metrics: Arc::clone(self),
            replica: None,
        }
    }

    /// Counts a request as in flight on the slot and outstanding on one of its replicas.
    pub fn track_on_replica(self: &Arc<Self>, replica: &Arc<ReplicaStats>) -> InFlight {
        let mut guard = self.track_in_flight();
        replica.start_outstanding();
        guard.replica = Some(Arc::clone(replica));
        guard
    }

    /// Requests forwarded to the slot whose response has not finished.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Acquire)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.metrics.in_flight.fetch_sub(1, Ordering::AcqRel);
        if let Some(replica) = &self.replica {
            replica.finish_outstanding();
        }
    }
}

impl std::fmt::Debug for InFlight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InFlight").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gauge_counts_live_guards() {
        let m = Arc::new(SlotMetrics::new());
        let a = m.track_in_flight();
        let b = m.track_in_flight();
        assert_eq!(m.in_flight(), 2);
        drop(a);
        assert_eq!(m.in_flight(), 1);
        drop(b);
        assert_eq!(m.in_flight(), 0);
    }
}
