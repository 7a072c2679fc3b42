//! What the router knows of one replica of a slot: requests outstanding (for least-
//! outstanding balancing and for draining one replica), totals, and its outlier state
//! (consecutive failures, ejected until when). Atomics only: every request touches it.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Milliseconds on a monotonic clock shared by the router and the engine; never 0, so 0
/// can mean "not ejected".
pub fn monotonic_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX) + 1
}

/// One replica's counters and outlier state.
#[derive(Debug, Default)]
pub struct ReplicaStats {
    outstanding: AtomicU64,
    requests: AtomicU64,
    errors: AtomicU64,
    consecutive_errors: AtomicU32,
    /// `monotonic_ms` until which the replica is out of rotation; 0 when it is in.
    ejected_until: AtomicU64,
    /// Set when an ejection ran out: the next answer decides (a probe).
    probing: AtomicBool,
    /// Ejections that grew the interval; one less after each probe that passed.
    ejection_level: AtomicU32,
    ejections_total: AtomicU64,
}

/// A point-in-time view of a replica's counters.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReplicaSnapshot {
    pub in_flight: u64,
    pub requests_total: u64,
    pub errors_total: u64,
    pub consecutive_errors: u32,
    /// Milliseconds of ejection left; 0 when in rotation.
    pub ejected_for_ms: u64,
    pub ejections_total: u64,
}

/// What one answer changed in the outlier state.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OutlierChange {
    /// Out of rotation for this long.
    Ejected {
        consecutive: u32,
        duration: Duration,
    },
    /// A probe after an ejection passed: back in rotation.
    Returned,
}

impl ReplicaStats {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts a request as outstanding; `finish_outstanding` takes it back.
    pub fn start_outstanding(&self) {
        self.outstanding.fetch_add(1, Ordering::AcqRel);
    }

    pub fn finish_outstanding(&self) {
        self.outstanding.fetch_sub(1, Ordering::AcqRel);
    }

    /// Requests sent to the replica whose response has not finished.
    pub fn outstanding(&self) -> u64 {
        self.outstanding.load(Ordering::Acquire)
    }

    /// Whether the replica is out of rotation at `now` (a `monotonic_ms`).
    pub fn is_ejected(&self, now: u64) -> bool {
        let until = self.ejected_until.load(Ordering::Acquire);
        until != 0 && now < until
    }

    /// Whether the replica has been ejected and not yet probed back.
    pub fn is_out(&self) -> bool {
        self.ejected_until.load(Ordering::Acquire) != 0
    }

    /// Records one answer (`failed`: a 5xx or a connection error). `may_eject` says whether
    /// the slot has another replica in rotation; ejection needs `threshold` > 0 failures in
    /// a row, lasts `base × level` up to `max`, and a failed probe ejects again at once.
    pub fn observe(
        &self,
        failed: bool,
        threshold: u32,
        base: Duration,
        max: Duration,
        may_eject: bool,
        now: u64,
    ) -> Option<OutlierChange> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if !failed {
            self.consecutive_errors.store(0, Ordering::Relaxed);
            if self.ejected_until.load(Ordering::Acquire) != 0
                && !self.is_ejected(now)
                && self.probing.swap(false, Ordering::AcqRel)
            {
                self.ejected_until.store(0, Ordering::Release);
                let _ =
                    self.ejection_level
                        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |l| {
                            Some(l.saturating_sub(1))
                        });
                return Some(OutlierChange::Returned);
            }
            return None;
        }
        self.errors.fetch_add(1, Ordering::Relaxed);
        let consecutive = self.consecutive_errors.fetch_add(1, Ordering::AcqRel) + 1;
        if threshold == 0 || !may_eject || self.is_ejected(now) {
            return None;
        }
        let probe_failed = self.probing.swap(false, Ordering::AcqRel);
        if consecutive < threshold && !probe_failed {
            return None;
        }
        let level = self.ejection_level.fetch_add(1, Ordering::AcqRel) + 1;
        let duration = base.saturating_mul(level).min(max);
        let until = now.saturating_add(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX));
        self.ejected_until.store(until, Ordering::Release);
        self.probing.store(true, Ordering::Release);
        self.consecutive_errors.store(0, Ordering::Relaxed);
        self.ejections_total.fetch_add(1, Ordering::Relaxed);
        Some(OutlierChange::Ejected {
            consecutive,
            duration,
        })
    }

    pub fn snapshot(&self) -> ReplicaSnapshot {
        let until = self.ejected_until.load(Ordering::Acquire);
        ReplicaSnapshot {
            in_flight: self.outstanding(),
            requests_total: self.requests.load(Ordering::Relaxed),
            errors_total: self.errors.load(Ordering::Relaxed),
            consecutive_errors: self.consecutive_errors.load(Ordering::Relaxed),
            ejected_for_ms: until.saturating_sub(monotonic_ms()),
            ejections_total: self.ejections_total.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_millis(250);

    #[test]
    fn five_failures_in_a_row_eject_for_a_growing_interval_and_a_probe_brings_it_back() {
        let s = ReplicaStats::new();
        for _ in 0..4 {
            assert_eq!(s.observe(true, 5, BASE, MAX, true, 1000), None);
        }
        assert_eq!(
            s.observe(true, 5, BASE, MAX, true, 1000),
            Some(OutlierChange::Ejected {
                consecutive: 5,
                duration: BASE
            })
        );
        assert!(s.is_ejected(1050));
        assert!(!s.is_ejected(1100));
        // The probe after the interval fails: ejected again at once, for twice as long.
        assert_eq!(
            s.observe(true, 5, BASE, MAX, true, 1100),
            Some(OutlierChange::Ejected {
                consecutive: 1,
                duration: BASE * 2
            })
        );
        // Then capped at the maximum.
        assert!(matches!(
            s.observe(true, 5, BASE, MAX, true, 1300),
            Some(OutlierChange::Ejected { duration, .. }) if duration == MAX
        ));
        assert_eq!(
            s.observe(false, 5, BASE, MAX, true, 1600),
            Some(OutlierChange::Returned)
        );
        assert!(!s.is_out());
        assert_eq!(s.snapshot().ejections_total, 3);
    }

    #[test]
    fn the_last_replica_in_rotation_is_never_ejected_and_a_success_resets_the_count() {
        let s = ReplicaStats::new();
        for _ in 0..10 {
            assert_eq!(s.observe(true, 5, BASE, MAX, false, 1000), None);
        }
        let s = ReplicaStats::new();
        for _ in 0..4 {
            s.observe(true, 5, BASE, MAX, true, 1000);
        }
        s.observe(false, 5, BASE, MAX, true, 1000);
        assert_eq!(s.observe(true, 5, BASE, MAX, true, 1000), None);
        assert_eq!(
            s.observe(true, 0, BASE, MAX, true, 1000),
            None,
            "0 turns it off"
        );
    }
}
