//! The bucket rings behind `SlotMetrics`: per-second counts for the series, and per-second
//! latency histograms for the percentiles.

use super::{MetricsSnapshot, SERIES_SECS, SecondPoint, WINDOW_SECS};
use hdrhistogram::Histogram;

/// Latency is recorded in microseconds between these bounds; slower requests are clamped.
const LOWEST_MICROS: u64 = 1;
const HIGHEST_MICROS: u64 = 60_000_000;
/// Two significant digits: percentiles within 1 %, at about 20 KiB per histogram.
const SIGFIG: u8 = 2;

/// Histograms are large, so only the window's seconds keep one; older seconds keep their
/// p50/p99 summarised into the series point when their histogram is reused.
const HIST_RING: usize = WINDOW_SECS as usize;
const SERIES_RING: usize = SERIES_SECS as usize;

fn new_histogram() -> Histogram<u64> {
    // The bounds are constants that satisfy hdrhistogram's rules (low >= 1, high >= 2 * low,
    // sigfig <= 5), so creation cannot fail.
    Histogram::new_with_bounds(LOWEST_MICROS, HIGHEST_MICROS, SIGFIG)
        .expect("constant histogram bounds are valid")
}

fn micros_to_ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

#[derive(Clone, Copy, Default)]
struct Point {
    second: Option<u64>,
    requests: u64,
    errors: u64,
    /// Valid once the second's histogram has been reused (see `HIST_RING`).
    p50_us: u64,
    p99_us: u64,
}

struct HistSlot {
    second: Option<u64>,
    hist: Histogram<u64>,
}

pub(super) struct Window {
    points: Vec<Point>,
    hists: Vec<HistSlot>,
    first_second: Option<u64>,
    requests_total: u64,
    errors_total: u64,
    /// Scratch space for merging the window's histograms, kept to avoid a 20 KiB
    /// allocation per snapshot.
    merged: Histogram<u64>,
}

impl Window {
    pub(super) fn new() -> Window {
        Window {
            points: vec![Point::default(); SERIES_RING],
            hists: (0..HIST_RING)
                .map(|_| HistSlot {
                    second: None,
                    hist: new_histogram(),
                })
                .collect(),
            first_second: None,
            requests_total: 0,
            errors_total: 0,
            merged: new_histogram(),
        }
    }

    pub(super) fn record(&mut self, second: u64, micros: u64, is_error: bool) {
        self.requests_total += 1;
        self.errors_total += u64::from(is_error);
        self.first_second = Some(self.first_second.map_or(second, |f| f.min(second)));

        let point = &mut self.points[second as usize % SERIES_RING];
        match point.second {
            Some(s) if s == second => {}
            // Older than the series ring: only the lifetime totals can take it.
            Some(s) if s > second => return,
            _ => {
                *point = Point {
                    second: Some(second),
                    ..Point::default()
                }
            }
        }
        point.requests += 1;
        point.errors += u64::from(is_error);

        let slot = &mut self.hists[second as usize % HIST_RING];
        match slot.second {
            Some(s) if s == second => {}
            // Older than the window: its latency can no longer show in any percentile.
            Some(s) if s > second => return,
            Some(old) => {
                let old_point = &mut self.points[old as usize % SERIES_RING];
                if old_point.second == Some(old) {
                    let (p50, p99) = p50_p99(&slot.hist);
                    old_point.p50_us = p50;
                    old_point.p99_us = p99;
                }
                slot.hist.reset();
                slot.second = Some(second);
            }
            None => slot.second = Some(second),
        }
        slot.hist.saturating_record(micros.max(LOWEST_MICROS));
    }

    pub(super) fn snapshot(&mut self, now: u64) -> MetricsSnapshot {
        let mut snap = MetricsSnapshot {
            requests_total: self.requests_total,
            errors_total: self.errors_total,
            ..MetricsSnapshot::default()
        };
        let Some(first) = self.first_second.filter(|&f| f <= now) else {
            return snap;
        };

        let window_lo = now.saturating_sub(WINDOW_SECS - 1).max(first);
        let mut window_errors = 0;
        for second in window_lo..=now {
            if let Some(p) = self.point(second) {
                snap.window_requests += p.requests;
                window_errors += p.errors;
            }
        }
        let covered = now - window_lo + 1;
        snap.rps = snap.window_requests as f64 / covered as f64;
        if snap.window_requests > 0 {
            snap.error_rate = window_errors as f64 / snap.window_requests as f64;
        }

        self.merged.reset();
        for slot in &self.hists {
            if slot.second.is_some_and(|s| (window_lo..=now).contains(&s)) {
                // Same bounds on both sides, so the addition cannot overflow the range.
                let _ = self.merged.add(&slot.hist);
            }
        }
        if !self.merged.is_empty() {
            let mut q = self.merged.value_at_quantiles([0.5, 0.95, 0.99]);
            snap.p50_ms = micros_to_ms(q.next().unwrap_or(0));
            snap.p95_ms = micros_to_ms(q.next().unwrap_or(0));
            snap.p99_ms = micros_to_ms(q.next().unwrap_or(0));
        }

        let series_lo = now.saturating_sub(SERIES_SECS - 1).max(first);
        snap.series = (series_lo..=now).map(|s| self.series_point(s)).collect();
        snap
    }

    fn point(&self, second: u64) -> Option<&Point> {
        let p = &self.points[second as usize % SERIES_RING];
        (p.second == Some(second)).then_some(p)
    }

    fn series_point(&self, second: u64) -> SecondPoint {
        let Some(p) = self.point(second) else {
            return SecondPoint {
                second,
                ..SecondPoint::default()
            };
        };
        let slot = &self.hists[second as usize % HIST_RING];
        let (p50, p99) = if slot.second == Some(second) {
            p50_p99(&slot.hist)
        } else {
            (p.p50_us, p.p99_us)
        };
        SecondPoint {
            second,
            requests: p.requests,
            errors: p.errors,
            p50_ms: micros_to_ms(p50),
            p99_ms: micros_to_ms(p99),
        }
    }
}

fn p50_p99(hist: &Histogram<u64>) -> (u64, u64) {
    if hist.is_empty() {
        return (0, 0);
    }
    let mut q = hist.value_at_quantiles([0.5, 0.99]);
    (q.next().unwrap_or(0), q.next().unwrap_or(0))
}
