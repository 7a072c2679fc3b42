//! The verdict of one canary step: health, thresholds, sample counts and the statistical
//! judge combined into one outcome and one line for the operator. Pure: the engine hands in
//! the per-second series it observed.

use serde::{Deserialize, Serialize};

use super::config::{JudgeConfig, MetricConfig};
use super::judge::{MetricResult, Outcome, Verdict, judge};
use super::series::{pair, series_samples};
use super::thresholds::{ThresholdBreach, Thresholds, WindowStats, check_thresholds};
use crate::core::metrics::SecondPoint;

/// What a step is judged on, from the manifest's `[analysis]`.
#[derive(Clone, Debug, PartialEq)]
pub struct StepConfig {
    /// Metrics for the statistical judge.
    pub metrics: Vec<MetricConfig>,
    /// Score bands and significance.
    pub judge: JudgeConfig,
    /// Samples (seconds with traffic) each slot needs.
    pub min_samples: usize,
    /// Lowest acceptable canary success rate over the step.
    pub min_success_rate: Option<f64>,
    /// Highest acceptable canary p99, in milliseconds.
    pub max_p99_ms: Option<f64>,
    /// Whether an unhealthy canary fails the step.
    pub require_health: bool,
}

/// What the engine saw of both slots during the step.
#[derive(Clone, Copy, Debug)]
pub struct StepObservation<'a> {
    /// Per-second series of the canary slot.
    pub canary: &'a [SecondPoint],
    /// Per-second series of the baseline (stable) slot.
    pub baseline: &'a [SecondPoint],
    /// First second of the step (unix seconds of the metrics clock).
    pub since: u64,
    /// The canary's p99 latency over the metrics window at the end of the step.
    pub canary_p99_ms: f64,
    /// Whether the canary passes its health checks now, and the checker's last word.
    pub canary_health: (bool, &'a str),
}

/// How many samples each side had, and how many were needed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleCounts {
    /// Seconds with traffic on the canary during the step.
    pub canary: usize,
    /// Seconds with traffic on the baseline during the step.
    pub baseline: usize,
    /// `min_samples`.
    pub needed: usize,
}

/// The judgement of one step, with every number behind it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepAnalysis {
    /// Pass, marginal, fail or inconclusive.
    pub outcome: Outcome,
    /// 0..=100; 0 for a failed threshold or health check, and when inconclusive.
    pub score: f64,
    /// One line for a person woken at 3 a.m.
    pub summary: String,
    /// Samples per side.
    pub samples: SampleCounts,
    /// The canary's requests, errors and p99 over the step.
    pub canary_window: WindowStats,
    /// Threshold breaches (empty when none, or when there were too few requests to check).
    pub breaches: Vec<ThresholdBreach>,
    /// The statistical judge's verdict, when it ran.
    pub judge: Option<Verdict>,
}

/// Seconds at or after `since` with at least one request.
fn seconds_with_traffic(series: &[SecondPoint], since: u64) -> usize {
    series
        .iter()
        .filter(|p| p.second >= since && p.requests > 0)
        .count()
}

/// Judges one step. Order matters: a failing health check or a breached threshold fails
/// the step whatever the sample count (they are absolute, not comparisons); too few samples
/// on either side is inconclusive, never a pass; only then does the judge compare.
pub fn judge_step(obs: &StepObservation<'_>, cfg: &StepConfig) -> StepAnalysis {
    let needed = cfg.min_samples.max(1);
    let samples = SampleCounts {
        canary: seconds_with_traffic(obs.canary, obs.since),
        baseline: seconds_with_traffic(obs.baseline, obs.since),
        needed,
    };
    let step_points = obs.canary.iter().filter(|p| p.second >= obs.since);
    let canary_window = WindowStats {
        requests: step_points.clone().map(|p| p.requests).sum(),
        errors: step_points.map(|p| p.errors).sum(),
        p99_ms: obs.canary_p99_ms,
    };
    let mut analysis = StepAnalysis {
        outcome: Outcome::Inconclusive,
        score: 0.0,
        summary: String::new(),
        samples,
        canary_window,
        breaches: Vec::new(),
        judge: None,
    };

    let (healthy, health_detail) = obs.canary_health;
    if cfg.require_health && !healthy {
        analysis.outcome = Outcome::Fail;
        analysis.summary =
            format!("fail: the canary fails its health checks ({health_detail}), score 0");
        return analysis;
    }
    let thresholds = Thresholds {
        min_success_rate: cfg.min_success_rate,
        max_p99_ms: cfg.max_p99_ms,
        min_requests: needed as u64,
    };
    let breaches: Vec<ThresholdBreach> = check_thresholds(&canary_window, &thresholds)
        .into_iter()
        .filter(|b| !b.is_inconclusive())
        .collect();
    if !breaches.is_empty() {
        let what: Vec<&str> = breaches.iter().map(|b| b.message.as_str()).collect();
        analysis.outcome = Outcome::Fail;
        analysis.summary = format!("fail: {}, score 0", what.join("; "));
        analysis.breaches = breaches;
        return analysis;
    }
    if samples.canary < needed || samples.baseline < needed {
        analysis.summary = format!(
            "inconclusive: {} of {needed} samples on the canary, {} of {needed} on the baseline (a sample is one second with traffic); send traffic or set [analysis] warmup_load",
            samples.canary, samples.baseline
        );
        return analysis;
    }

    let metrics: Vec<MetricConfig> = cfg
        .metrics
        .iter()
        .map(|m| MetricConfig {
            min_samples: needed,
            ..m.clone()
        })
        .collect();
    let paired = pair(metrics, series_samples(obs.canary, obs.baseline, obs.since));
    let verdict = judge(&paired, &cfg.judge);
    analysis.outcome = verdict.outcome;
    analysis.score = verdict.score;
    analysis.summary = headline(&verdict, samples);
    analysis.judge = Some(verdict);
    analysis
}

/// "fail: p99_ms 3.1× baseline (412 ms vs 133 ms), score 0".
fn headline(verdict: &Verdict, samples: SampleCounts) -> String {
    let score = verdict.score.round();
    match verdict.outcome {
        Outcome::Pass => {
            let all: Vec<String> = verdict.metrics.iter().map(comparison).collect();
            format!(
                "pass: score {score}; {}; {} and {} samples",
                all.join(", "),
                samples.canary,
                samples.baseline
            )
        }
        Outcome::Marginal | Outcome::Fail => {
            let word = if verdict.outcome == Outcome::Fail {
                "fail"
            } else {
                "marginal"
            };
            let failed: Vec<String> = verdict
                .metrics
                .iter()
                .filter(|m| m.failed)
                .map(comparison)
                .collect();
            if failed.is_empty() {
                format!("{word}: score {score}")
            } else {
                format!("{word}: {}, score {score}", failed.join("; "))
            }
        }
        Outcome::Inconclusive => verdict.summary.clone(),
    }
}

/// "p99_ms 3.1× baseline (412 ms vs 133 ms)" or, against a zero baseline,
/// "error_rate 4.0 % vs 0.0 % on the baseline".
fn comparison(m: &MetricResult) -> String {
    let (Some(canary), Some(baseline)) = (m.canary_median, m.baseline_median) else {
        return format!("{} without data", m.name);
    };
    let (c, b) = (show(&m.name, canary), show(&m.name, baseline));
    if baseline > 0.0 && m.failed {
        format!("{} {:.1}× baseline ({c} vs {b})", m.name, canary / baseline)
    } else {
        format!("{} {c} vs {b}", m.name)
    }
}

fn show(metric: &str, value: f64) -> String {
    if metric.ends_with("_ms") {
        if value >= 10.0 {
            format!("{value:.0} ms")
        } else {
            format!("{value:.1} ms")
        }
    } else if metric == super::series::ERROR_RATE {
        format!("{:.1} %", value * 100.0)
    } else {
        format!("{value:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::analysis::standard_metrics;

    const START: u64 = 10_000;

    fn config(min_samples: usize) -> StepConfig {
        StepConfig {
            metrics: standard_metrics(),
            judge: JudgeConfig::default(),
            min_samples,
            min_success_rate: None,
            max_p99_ms: None,
            require_health: true,
        }
    }

    /// `seconds` seconds from START of `requests` requests each, p99 near `p99_ms`.
    fn series(
        seconds: u64,
        requests: u64,
        errors: u64,
        p99_ms: f64,
        seed: u64,
    ) -> Vec<SecondPoint> {
        let mut rng = fastrand::Rng::with_seed(seed);
        (0..seconds)
            .map(|s| {
                let jitter = 0.95 + 0.1 * rng.f64();
                SecondPoint {
                    second: START + s,
                    requests,
                    errors,
                    p50_ms: p99_ms * 0.8 * jitter,
                    p99_ms: p99_ms * jitter,
                }
            })
            .collect()
    }

    fn observe<'a>(canary: &'a [SecondPoint], baseline: &'a [SecondPoint]) -> StepObservation<'a> {
        StepObservation {
            canary,
            baseline,
            since: START,
            canary_p99_ms: canary.last().map_or(0.0, |p| p.p99_ms),
            canary_health: (true, "200 OK"),
        }
    }

    #[test]
    fn a_canary_like_its_baseline_passes_with_the_numbers_in_the_line() {
        let (canary, baseline) = (series(12, 20, 0, 20.0, 1), series(12, 60, 0, 20.0, 2));
        let step = judge_step(&observe(&canary, &baseline), &config(10));
        assert_eq!(step.outcome, Outcome::Pass, "{}", step.summary);
        assert_eq!(step.score, 100.0);
        assert!(
            step.summary.starts_with("pass: score 100; p99_ms "),
            "{}",
            step.summary
        );
        assert!(
            step.summary.ends_with("12 and 12 samples"),
            "{}",
            step.summary
        );
        assert_eq!(step.canary_window.requests, 240);
        assert!(step.judge.is_some());
    }

    #[test]
    fn three_times_the_latency_fails_with_the_ratio_in_the_line() {
        let (canary, baseline) = (series(12, 20, 0, 60.0, 3), series(12, 60, 0, 20.0, 4));
        let step = judge_step(&observe(&canary, &baseline), &config(10));
        assert_eq!(step.outcome, Outcome::Fail, "{}", step.summary);
        assert_eq!(step.score, 0.0);
        assert!(
            step.summary.starts_with("fail: p99_ms 3."),
            "{}",
            step.summary
        );
        assert!(step.summary.contains("× baseline ("), "{}", step.summary);
        assert!(step.summary.ends_with("score 0"), "{}", step.summary);
    }

    #[test]
    fn too_few_samples_is_inconclusive_with_the_counts() {
        // Traffic before the step started does not count.
        let mut canary = series(3, 5, 0, 20.0, 5);
        canary.insert(
            0,
            SecondPoint {
                second: START - 5,
                requests: 100,
                ..SecondPoint::default()
            },
        );
        let baseline = series(12, 60, 0, 20.0, 6);
        let step = judge_step(&observe(&canary, &baseline), &config(10));
        assert_eq!(step.outcome, Outcome::Inconclusive);
        assert_eq!(
            step.samples,
            SampleCounts {
                canary: 3,
                baseline: 12,
                needed: 10
            }
        );
        assert!(
            step.summary.starts_with(
                "inconclusive: 3 of 10 samples on the canary, 12 of 10 on the baseline"
            ),
            "{}",
            step.summary
        );
        assert!(step.judge.is_none());

        let nothing = judge_step(&observe(&[], &[]), &config(5));
        assert!(
            nothing.summary.starts_with("inconclusive: 0 of 5 samples"),
            "{}",
            nothing.summary
        );
    }

    #[test]
    fn an_unhealthy_canary_or_a_breached_threshold_fails_at_once() {
        let (canary, baseline) = (series(12, 20, 2, 20.0, 7), series(12, 60, 0, 20.0, 8));
        let mut obs = observe(&canary, &baseline);
        obs.canary_health = (false, "GET /health: 503");
        let step = judge_step(&obs, &config(10));
        assert_eq!(step.outcome, Outcome::Fail);
        assert!(
            step.summary.contains("health checks (GET /health: 503)"),
            "{}",
            step.summary
        );

        let cfg = StepConfig {
            min_success_rate: Some(0.99),
            max_p99_ms: Some(500.0),
            ..config(10)
        };
        let step = judge_step(&observe(&canary, &baseline), &cfg);
        assert_eq!(step.outcome, Outcome::Fail, "{}", step.summary);
        assert_eq!(step.breaches.len(), 1);
        assert!(
            step.summary.contains("24 of 240 requests failed"),
            "{}",
            step.summary
        );

        // Without health required, an unhealthy flag alone does not fail the step.
        let mut obs = observe(&baseline, &baseline);
        obs.canary_health = (false, "down");
        let relaxed = StepConfig {
            require_health: false,
            ..config(10)
        };
        assert_eq!(judge_step(&obs, &relaxed).outcome, Outcome::Pass);
    }

    #[test]
    fn a_step_verdict_round_trips_through_json() {
        let (canary, baseline) = (series(12, 20, 0, 60.0, 9), series(12, 60, 0, 20.0, 10));
        let step = judge_step(&observe(&canary, &baseline), &config(10));
        let json = serde_json::to_string(&step).expect("serialize");
        let back: StepAnalysis = serde_json::from_str(&json).expect("deserialize");
        // Floats may lose their last bit in JSON; the facts a reader acts on survive exactly.
        assert_eq!(
            (back.outcome, back.score, &back.summary, back.samples),
            (step.outcome, step.score, &step.summary, step.samples)
        );
        assert_eq!(back.judge.map(|j| j.metrics.len()), Some(3));
    }
}
