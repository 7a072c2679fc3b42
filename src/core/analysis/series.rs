//! Bridges the per-second series naap records (`core::metrics`) to the judge's inputs.

use crate::core::metrics::{MetricsSnapshot, SecondPoint};

use super::config::{Direction, MetricConfig};
use super::samples::MetricSamples;
use super::thresholds::WindowStats;

/// Name of the per-second p99 latency metric.
pub const P99_MS: &str = "p99_ms";
/// Name of the per-second median latency metric.
pub const P50_MS: &str = "p50_ms";
/// Name of the per-second error ratio metric.
pub const ERROR_RATE: &str = "error_rate";

/// The standard metric set: p99 latency and error ratio are critical (higher is worse, 25 %
/// tolerated; one failed request in a hundred tolerated against a zero baseline); median
/// latency is advisory.
pub fn standard_metrics() -> Vec<MetricConfig> {
    vec![
        MetricConfig {
            critical: true,
            ..MetricConfig::new(P99_MS, Direction::Increase)
        },
        MetricConfig {
            critical: true,
            abs_tolerance: 0.01,
            ..MetricConfig::new(ERROR_RATE, Direction::Increase)
        },
        MetricConfig::new(P50_MS, Direction::Increase),
    ]
}

/// Per-second samples of `p99_ms`, `p50_ms` and `error_rate` from the seconds at or after
/// `since` (Unix seconds, e.g. the start of the current canary step). Seconds without requests
/// are skipped: their latency reads 0 and would look like a spectacular improvement.
pub fn series_samples(
    canary: &[SecondPoint],
    baseline: &[SecondPoint],
    since: u64,
) -> Vec<MetricSamples> {
    let pick = |series: &[SecondPoint], value: fn(&SecondPoint) -> f64| -> Vec<f64> {
        series
            .iter()
            .filter(|p| p.second >= since && p.requests > 0)
            .map(value)
            .collect()
    };
    let error_ratio = |p: &SecondPoint| p.errors as f64 / p.requests as f64;
    vec![
        MetricSamples::new(
            P99_MS,
            pick(canary, |p| p.p99_ms),
            pick(baseline, |p| p.p99_ms),
        ),
        MetricSamples::new(
            ERROR_RATE,
            pick(canary, error_ratio),
            pick(baseline, error_ratio),
        ),
        MetricSamples::new(
            P50_MS,
            pick(canary, |p| p.p50_ms),
            pick(baseline, |p| p.p50_ms),
        ),
    ]
}

/// Pairs each config with the samples of the same name, in config order; a config without
/// samples gets empty ones (and so `NoData`) rather than disappearing from the verdict.
pub fn pair(
    configs: Vec<MetricConfig>,
    samples: Vec<MetricSamples>,
) -> Vec<(MetricConfig, MetricSamples)> {
    configs
        .into_iter()
        .map(|config| {
            let found = samples
                .iter()
                .find(|s| s.name == config.name)
                .cloned()
                .unwrap_or_else(|| MetricSamples::new(config.name.clone(), Vec::new(), Vec::new()));
            (config, found)
        })
        .collect()
}

impl WindowStats {
    /// The window of a metrics snapshot (requests and errors inside the sliding window).
    pub fn from_snapshot(snapshot: &MetricsSnapshot) -> Self {
        // error_rate is errors / window_requests of exact counts, so rounding recovers errors.
        let errors = (snapshot.error_rate * snapshot.window_requests as f64).round();
        WindowStats {
            requests: snapshot.window_requests,
            errors: if errors.is_finite() && errors > 0.0 {
                errors as u64
            } else {
                0
            },
            p99_ms: snapshot.p99_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::analysis::{JudgeConfig, Outcome, judge};

    fn point(second: u64, requests: u64, errors: u64, p99_ms: f64) -> SecondPoint {
        SecondPoint {
            second,
            requests,
            errors,
            p50_ms: p99_ms / 3.0,
            p99_ms,
        }
    }

    #[test]
    fn series_become_samples_skipping_idle_and_old_seconds() {
        let canary = vec![
            point(99, 10, 0, 999.0),
            point(100, 10, 1, 60.0),
            point(101, 0, 0, 0.0),
        ];
        let baseline = vec![point(100, 20, 0, 50.0), point(101, 20, 2, 52.0)];
        let samples = series_samples(&canary, &baseline, 100);
        assert_eq!(samples[0].name, P99_MS);
        assert_eq!(samples[0].canary, vec![60.0]);
        assert_eq!(samples[0].baseline, vec![50.0, 52.0]);
        assert_eq!(samples[1].canary, vec![0.1]);
        assert_eq!(samples[1].baseline, vec![0.0, 0.1]);
        assert_eq!(samples[2].canary, vec![20.0]);
    }

    #[test]
    fn standard_metrics_judge_a_slow_canary_from_series() {
        let mut rng = fastrand::Rng::with_seed(3);
        let series = |center: f64, rng: &mut fastrand::Rng| -> Vec<SecondPoint> {
            (0..30)
                .map(|s| point(1000 + s, 50, 0, center * (0.9 + 0.2 * rng.f64())))
                .collect()
        };
        let canary = series(300.0, &mut rng);
        let baseline = series(100.0, &mut rng);
        let metrics = pair(standard_metrics(), series_samples(&canary, &baseline, 1000));
        let verdict = judge(&metrics, &JudgeConfig::default());
        assert_eq!(verdict.outcome, Outcome::Fail, "{}", verdict.summary);
        assert!(
            verdict.summary.starts_with("fail (score 0): p99_ms High"),
            "{}",
            verdict.summary
        );
    }

    #[test]
    fn missing_samples_pair_as_no_data() {
        let paired = pair(standard_metrics(), Vec::new());
        assert_eq!(paired.len(), 3);
        assert!(
            paired
                .iter()
                .all(|(c, s)| c.name == s.name && s.canary.is_empty())
        );
        let verdict = judge(&paired, &JudgeConfig::default());
        assert_eq!(verdict.outcome, Outcome::Inconclusive);
    }

    #[test]
    fn window_stats_from_snapshot_recover_error_count() {
        let snapshot = MetricsSnapshot {
            error_rate: 3.0 / 7.0,
            window_requests: 7,
            p99_ms: 42.0,
            ..MetricsSnapshot::default()
        };
        let stats = WindowStats::from_snapshot(&snapshot);
        assert_eq!((stats.requests, stats.errors, stats.p99_ms), (7, 3, 42.0));
    }
}
