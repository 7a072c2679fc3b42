//! Turning cumulative CPU ticks into a CPU percentage between two samples.

use super::clock_ticks_per_second;
use std::collections::HashMap;
use std::time::Instant;

/// Remembers the last CPU sample of each process group and reports the CPU use since then,
/// in percent of one core (a group busy on two cores shows 200).
#[derive(Debug)]
pub struct CpuMeter {
    ticks_per_second: f64,
    last: HashMap<u32, (u64, Instant)>,
}

impl Default for CpuMeter {
    fn default() -> Self {
        Self::new()
    }
}

impl CpuMeter {
    /// Creates a meter with no samples.
    pub fn new() -> Self {
        CpuMeter {
            ticks_per_second: clock_ticks_per_second() as f64,
            last: HashMap::new(),
        }
    }

    /// Records a sample of a group's cumulative CPU ticks and returns its CPU use since the
    /// previous sample; 0 for the first sample, or when the ticks went down (the group was
    /// replaced by a new process, or a busy member exited).
    pub fn percent(&mut self, pgid: u32, ticks: u64, now: Instant) -> f64 {
        let previous = self.last.insert(pgid, (ticks, now));
        let Some((last_ticks, last_at)) = previous else {
            return 0.0;
        };
        let elapsed = now.saturating_duration_since(last_at).as_secs_f64();
        if elapsed <= 0.0 {
            return 0.0;
        }
        let used = ticks.saturating_sub(last_ticks) as f64 / self.ticks_per_second;
        used / elapsed * 100.0
    }

    /// Forgets the groups not listed, so that stopped slots do not accumulate.
    pub fn retain(&mut self, pgids: &[u32]) {
        self.last.retain(|pgid, _| pgids.contains(pgid));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn percent_from_deltas() {
        let mut meter = CpuMeter::new();
        let tps = clock_ticks_per_second();
        let t0 = Instant::now();
        assert_eq!(
            meter.percent(7, 1000, t0),
            0.0,
            "first sample has no baseline"
        );
        let one_core = meter.percent(7, 1000 + tps, t0 + Duration::from_secs(1));
        assert!((one_core - 100.0).abs() < 1e-9, "{one_core}");
        let half = meter.percent(7, 1000 + tps + tps, t0 + Duration::from_secs(3));
        assert!((half - 50.0).abs() < 1e-9, "{half}");
        assert_eq!(
            meter.percent(7, 10, t0 + Duration::from_secs(4)),
            0.0,
            "ticks went down"
        );
        assert_eq!(
            meter.percent(7, 10, t0 + Duration::from_secs(4)),
            0.0,
            "no time passed"
        );

        meter.percent(8, 0, t0);
        meter.retain(&[8]);
        assert_eq!(
            meter.percent(7, 5000, t0 + Duration::from_secs(5)),
            0.0,
            "7 was forgotten"
        );
    }
}
