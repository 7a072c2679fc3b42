use super::*;
use crate::core::types::SlotName;
use std::sync::Arc;

const T0: u64 = 1_700_000_000;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn within(actual: f64, expected: f64, rel: f64) -> bool {
    (actual - expected).abs() <= expected.abs() * rel
}

#[test]
fn empty_metrics_are_all_zero() {
    let m = SlotMetrics::new();
    assert_eq!(m.snapshot_at(T0), MetricsSnapshot::default());
}

#[test]
fn rps_divides_by_the_seconds_covered_since_the_first_request() {
    let m = SlotMetrics::new();
    for s in 0..3 {
        for _ in 0..10 {
            m.record_at(T0 + s, ms(1), Outcome::Success);
        }
    }
    let snap = m.snapshot_at(T0 + 2);
    assert_eq!(snap.window_requests, 30);
    assert!((snap.rps - 10.0).abs() < 1e-9, "rps {}", snap.rps);

    // Long after the first request the divisor is the whole window.
    for s in 3..20 {
        for _ in 0..5 {
            m.record_at(T0 + s, ms(1), Outcome::Success);
        }
    }
    let snap = m.snapshot_at(T0 + 19);
    assert_eq!(snap.window_requests, 5 * WINDOW_SECS);
    assert!((snap.rps - 5.0).abs() < 1e-9, "rps {}", snap.rps);
    assert_eq!(snap.requests_total, 30 + 17 * 5);
}

#[test]
fn error_rate_counts_5xx_and_upstream_failures_but_not_4xx() {
    let m = SlotMetrics::new();
    for _ in 0..70 {
        m.record_at(T0, ms(1), Outcome::Success);
    }
    for _ in 0..10 {
        m.record_at(T0, ms(1), Outcome::ClientError);
    }
    for _ in 0..15 {
        m.record_at(T0, ms(1), Outcome::ServerError);
    }
    for _ in 0..5 {
        m.record_at(T0, ms(1), Outcome::UpstreamFailure);
    }
    let snap = m.snapshot_at(T0);
    assert_eq!(snap.window_requests, 100);
    assert!((snap.error_rate - 0.20).abs() < 1e-9, "{}", snap.error_rate);
    assert_eq!(snap.errors_total, 20);
}

#[test]
fn percentiles_match_known_latencies() {
    let m = SlotMetrics::new();
    // 1..=1000 ms, one each: p50 = 500 ms, p95 = 950 ms, p99 = 990 ms.
    for i in 1..=1000 {
        m.record_at(T0 + i % 5, ms(i), Outcome::Success);
    }
    let snap = m.snapshot_at(T0 + 4);
    assert!(within(snap.p50_ms, 500.0, 0.01), "p50 {}", snap.p50_ms);
    assert!(within(snap.p95_ms, 950.0, 0.01), "p95 {}", snap.p95_ms);
    assert!(within(snap.p99_ms, 990.0, 0.01), "p99 {}", snap.p99_ms);
}

#[test]
fn latency_beyond_the_histogram_range_is_clamped_not_lost() {
    let m = SlotMetrics::new();
    m.record_at(T0, Duration::from_secs(3600), Outcome::Success);
    m.record_at(T0, Duration::ZERO, Outcome::Success);
    let snap = m.snapshot_at(T0);
    assert_eq!(snap.window_requests, 2);
    assert!(within(snap.p99_ms, 60_000.0, 0.01), "p99 {}", snap.p99_ms);
}

#[test]
fn old_seconds_leave_the_window() {
    let m = SlotMetrics::new();
    for _ in 0..100 {
        m.record_at(T0, ms(900), Outcome::ServerError);
    }
    m.record_at(T0 + 10, ms(2), Outcome::Success);
    let snap = m.snapshot_at(T0 + 10);
    // T0 is 11 seconds back from T0+10: outside a 10-second window.
    assert_eq!(snap.window_requests, 1);
    assert_eq!(snap.error_rate, 0.0);
    assert!(snap.p99_ms < 3.0, "p99 {}", snap.p99_ms);
    assert_eq!(snap.requests_total, 101);
    assert_eq!(snap.errors_total, 100);
}

#[test]
fn a_quiet_window_reports_zero_rate_but_keeps_totals() {
    let m = SlotMetrics::new();
    m.record_at(T0, ms(5), Outcome::Success);
    let snap = m.snapshot_at(T0 + 100);
    assert_eq!(snap.rps, 0.0);
    assert_eq!(snap.window_requests, 0);
    assert_eq!(snap.p99_ms, 0.0);
    assert_eq!(snap.requests_total, 1);
    assert_eq!(snap.series.len(), 101);
}

#[test]
fn series_has_explicit_zero_points_for_gaps() {
    let m = SlotMetrics::new();
    m.record_at(T0, ms(10), Outcome::Success);
    m.record_at(T0 + 3, ms(20), Outcome::ServerError);
    let snap = m.snapshot_at(T0 + 4);
    let seconds: Vec<u64> = snap.series.iter().map(|p| p.second).collect();
    assert_eq!(seconds, (T0..=T0 + 4).collect::<Vec<_>>());
    let requests: Vec<u64> = snap.series.iter().map(|p| p.requests).collect();
    assert_eq!(requests, vec![1, 0, 0, 1, 0]);
    assert_eq!(snap.series[3].errors, 1);
    assert!(within(snap.series[0].p50_ms, 10.0, 0.01));
    assert!(within(snap.series[3].p99_ms, 20.0, 0.01));
    assert_eq!(snap.series[1].p50_ms, 0.0);
}

#[test]
fn series_keeps_per_second_percentiles_after_the_histograms_are_reused() {
    let m = SlotMetrics::new();
    for s in 0..50 {
        m.record_at(T0 + s, ms(s + 1), Outcome::Success);
    }
    let snap = m.snapshot_at(T0 + 49);
    assert_eq!(snap.series.len(), 50);
    for (i, p) in snap.series.iter().enumerate() {
        assert_eq!(p.second, T0 + i as u64);
        assert_eq!(p.requests, 1);
        assert!(within(p.p50_ms, i as f64 + 1.0, 0.01), "{i}: {}", p.p50_ms);
    }
}

#[test]
fn ring_wraparound_resets_reused_buckets() {
    let m = SlotMetrics::new();
    for s in 0..700 {
        m.record_at(T0 + s, ms(1), Outcome::Success);
        if s % 2 == 0 {
            m.record_at(T0 + s, ms(1), Outcome::ServerError);
        }
    }
    let now = T0 + 699;
    let snap = m.snapshot_at(now);
    assert_eq!(snap.series.len(), SERIES_SECS as usize);
    assert_eq!(snap.series.first().map(|p| p.second), Some(now - 299));
    assert_eq!(snap.series.last().map(|p| p.second), Some(now));
    for p in &snap.series {
        let expected = if (p.second - T0).is_multiple_of(2) {
            2
        } else {
            1
        };
        assert_eq!(p.requests, expected, "second {}", p.second - T0);
    }
    assert_eq!(snap.window_requests, 15);
    assert_eq!(snap.requests_total, 1050);

    // A bucket reused after a long silence holds only its new second.
    m.record_at(now + SERIES_SECS, ms(1), Outcome::Success);
    let snap = m.snapshot_at(now + SERIES_SECS);
    assert_eq!(snap.window_requests, 1);
    assert_eq!(snap.series.iter().map(|p| p.requests).sum::<u64>(), 1);
}

#[test]
fn a_request_older_than_the_ring_only_counts_in_totals() {
    let m = SlotMetrics::new();
    m.record_at(T0 + 1000, ms(1), Outcome::Success);
    m.record_at(T0 + 1000 - SERIES_SECS, ms(1), Outcome::Success);
    let snap = m.snapshot_at(T0 + 1000);
    assert_eq!(snap.requests_total, 2);
    assert_eq!(snap.series.last().map(|p| p.requests), Some(1));
}

#[test]
fn record_uses_the_monotonic_clock() {
    let m = SlotMetrics::new();
    m.record(ms(3), Outcome::Success);
    let snap = m.snapshot();
    assert_eq!(snap.requests_total, 1);
    assert_eq!(snap.window_requests, 1);
    assert!(!snap.series.is_empty());
}

#[test]
fn registry_shares_slots_and_forgets_plugins() {
    let reg = MetricsRegistry::default();
    let a = reg.slot("expenses", SlotName::Blue);
    let b = reg.slot("expenses", SlotName::Blue);
    assert!(Arc::ptr_eq(&a, &b));
    reg.slot("expenses", SlotName::Green);
    reg.slot("notes", SlotName::Blue)
        .record(ms(1), Outcome::Success);
    let all = reg.snapshot_all();
    let keys: Vec<(String, SlotName)> = all.iter().map(|(p, s, _)| (p.clone(), *s)).collect();
    assert_eq!(
        keys,
        vec![
            ("expenses".to_owned(), SlotName::Blue),
            ("expenses".to_owned(), SlotName::Green),
            ("notes".to_owned(), SlotName::Blue),
        ]
    );
    assert_eq!(all[2].2.requests_total, 1);
    reg.remove_plugin("expenses");
    assert_eq!(reg.snapshot_all().len(), 1);
    assert!(!Arc::ptr_eq(&a, &reg.slot("expenses", SlotName::Blue)));
}

#[test]
fn concurrent_recording_loses_nothing() {
    let m = Arc::new(SlotMetrics::new());
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let m = Arc::clone(&m);
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    m.record_at(T0, ms(1), Outcome::Success);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("recording thread panicked");
    }
    assert_eq!(m.snapshot_at(T0).requests_total, 4000);
}
