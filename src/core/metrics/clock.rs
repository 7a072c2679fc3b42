//! The process-wide second counter the metrics buckets are keyed by.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

struct Clock {
    origin: Instant,
    origin_unix: u64,
}

static CLOCK: OnceLock<Clock> = OnceLock::new();

/// The current second as unix seconds, advanced by a monotonic clock.
///
/// Wall-clock jumps (NTP, suspend) would otherwise reorder buckets; anchoring a monotonic
/// `Instant` to the unix time once keeps bucket order right while series stay chartable
/// against wall time. One shared anchor keeps every slot's buckets aligned.
pub fn now_second() -> u64 {
    let clock = CLOCK.get_or_init(|| Clock {
        origin: Instant::now(),
        origin_unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    });
    clock.origin_unix + clock.origin.elapsed().as_secs()
}
