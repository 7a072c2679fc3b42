//! Judge scenarios on deterministic (seeded) per-second samples.

use super::*;

/// Per-second p99-like latencies around `center` ms: ±20 % uniform jitter.
fn latencies(rng: &mut fastrand::Rng, n: usize, center: f64) -> Vec<f64> {
    (0..n).map(|_| center * (0.8 + 0.4 * rng.f64())).collect()
}

/// Per-second error ratios: each second, `per_second` requests fail with probability `rate`.
fn error_ratios(rng: &mut fastrand::Rng, n: usize, rate: f64, per_second: u32) -> Vec<f64> {
    (0..n)
        .map(|_| {
            let failed = (0..per_second).filter(|_| rng.f64() < rate).count();
            failed as f64 / f64::from(per_second)
        })
        .collect()
}

fn p99_config() -> MetricConfig {
    MetricConfig {
        critical: true,
        ..MetricConfig::new("p99_ms", Direction::Increase)
    }
}

fn error_config() -> MetricConfig {
    MetricConfig {
        critical: true,
        // One failed request in a hundred is tolerated even against a zero baseline.
        abs_tolerance: 0.01,
        ..MetricConfig::new("error_rate", Direction::Increase)
    }
}

fn scenario(
    seed: u64,
    canary_latency: f64,
    canary_errors: f64,
) -> Vec<(MetricConfig, MetricSamples)> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let n = 60;
    let p99 = MetricSamples::new(
        "p99_ms",
        latencies(&mut rng, n, canary_latency),
        latencies(&mut rng, n, 50.0),
    );
    let errors = MetricSamples::new(
        "error_rate",
        error_ratios(&mut rng, n, canary_errors, 50),
        error_ratios(&mut rng, n, 0.002, 50),
    );
    let p50 = MetricSamples::new(
        "p50_ms",
        latencies(&mut rng, n, 20.0),
        latencies(&mut rng, n, 20.0),
    );
    vec![
        (p99_config(), p99),
        (error_config(), errors),
        (MetricConfig::new("p50_ms", Direction::Increase), p50),
    ]
}

fn result<'a>(verdict: &'a Verdict, name: &str) -> &'a MetricResult {
    verdict
        .metrics
        .iter()
        .find(|m| m.name == name)
        .expect("every input metric has a result")
}

#[test]
fn identical_distributions_pass_with_full_score() {
    for seed in [1, 2, 3, 42] {
        let verdict = judge(&scenario(seed, 50.0, 0.002), &JudgeConfig::default());
        assert_eq!(
            verdict.outcome,
            Outcome::Pass,
            "seed {seed}: {}",
            verdict.summary
        );
        assert_eq!(verdict.score, 100.0);
        assert!(
            verdict.summary.starts_with("pass (score 100): 3 of 3"),
            "{}",
            verdict.summary
        );
        assert!(
            verdict
                .metrics
                .iter()
                .all(|m| m.classification == Classification::Pass)
        );
    }
}

#[test]
fn triple_latency_fails_on_p99_while_errors_are_fine() {
    let verdict = judge(&scenario(7, 150.0, 0.002), &JudgeConfig::default());
    assert_eq!(verdict.outcome, Outcome::Fail, "{}", verdict.summary);
    assert_eq!(verdict.score, 0.0);
    let p99 = result(&verdict, "p99_ms");
    assert_eq!(p99.classification, Classification::High);
    assert!(p99.failed);
    assert!(p99.p_value.is_some_and(|p| p < 1e-6), "{p99:?}");
    let effect = p99.effect.expect("baseline median is not zero");
    assert!((1.6..2.4).contains(&effect), "{effect}");
    assert_eq!(
        result(&verdict, "error_rate").classification,
        Classification::Pass
    );
    assert!(
        verdict
            .summary
            .starts_with("fail (score 0): p99_ms High — canary median 1"),
        "{}",
        verdict.summary
    );
    assert!(
        verdict.summary.contains("ms vs baseline"),
        "{}",
        verdict.summary
    );
    assert!(
        verdict.summary.contains("p < 0.0001"),
        "{}",
        verdict.summary
    );
    assert!(
        !verdict.summary.contains("error_rate"),
        "{}",
        verdict.summary
    );
}

#[test]
fn twenty_percent_errors_fail() {
    let verdict = judge(&scenario(11, 50.0, 0.2), &JudgeConfig::default());
    assert_eq!(verdict.outcome, Outcome::Fail, "{}", verdict.summary);
    let errors = result(&verdict, "error_rate");
    assert_eq!(errors.classification, Classification::High);
    assert!(errors.failed);
    assert_eq!(
        result(&verdict, "p99_ms").classification,
        Classification::Pass
    );
    assert!(
        verdict.summary.contains("error_rate High"),
        "{}",
        verdict.summary
    );
}

#[test]
fn ten_percent_slower_within_tolerance_passes() {
    // Large, tight samples make a 10 % shift clearly significant; the band still absorbs it.
    let mut rng = fastrand::Rng::with_seed(5);
    let canary: Vec<f64> = (0..120).map(|_| 55.0 + rng.f64()).collect();
    let baseline: Vec<f64> = (0..120).map(|_| 50.0 + rng.f64()).collect();
    let metrics = vec![(p99_config(), MetricSamples::new("p99_ms", canary, baseline))];
    let verdict = judge(&metrics, &JudgeConfig::default());
    assert_eq!(verdict.outcome, Outcome::Pass, "{}", verdict.summary);
    let p99 = &verdict.metrics[0];
    assert!(
        p99.p_value.is_some_and(|p| p < 0.05),
        "significant: {p99:?}"
    );
    assert!(
        p99.effect.is_some_and(|e| (0.08..0.12).contains(&e)),
        "{p99:?}"
    );
    assert!(
        p99.reason.starts_with("within tolerance ±25 %"),
        "{}",
        p99.reason
    );
}

#[test]
fn too_few_samples_is_inconclusive_with_counts() {
    let mut rng = fastrand::Rng::with_seed(9);
    let config = MetricConfig {
        min_samples: 50,
        ..p99_config()
    };
    let samples = MetricSamples::new(
        "p99_ms",
        latencies(&mut rng, 12, 50.0),
        latencies(&mut rng, 60, 50.0),
    );
    let verdict = judge(&[(config, samples)], &JudgeConfig::default());
    assert_eq!(verdict.outcome, Outcome::Inconclusive);
    assert_eq!(verdict.metrics[0].classification, Classification::NoData);
    assert_eq!(
        verdict.metrics[0].reason,
        "inconclusive: canary has 12 of 50 samples"
    );
    assert!(
        verdict.summary.contains("12 of 50 samples"),
        "{}",
        verdict.summary
    );
    assert!(
        verdict.summary.starts_with("inconclusive"),
        "{}",
        verdict.summary
    );
}

#[test]
fn more_than_half_the_weight_without_data_is_inconclusive() {
    let mut rng = fastrand::Rng::with_seed(13);
    let enough = MetricSamples::new(
        "a",
        latencies(&mut rng, 30, 10.0),
        latencies(&mut rng, 30, 10.0),
    );
    let short = MetricSamples::new(
        "b",
        latencies(&mut rng, 3, 10.0),
        latencies(&mut rng, 30, 10.0),
    );
    let metrics = vec![
        (MetricConfig::new("a", Direction::Either), enough),
        (
            MetricConfig {
                weight: 2.0,
                ..MetricConfig::new("b", Direction::Either)
            },
            short,
        ),
    ];
    let verdict = judge(&metrics, &JudgeConfig::default());
    assert_eq!(
        verdict.outcome,
        Outcome::Inconclusive,
        "{}",
        verdict.summary
    );
    assert!(
        verdict.summary.contains("67 % of the weight"),
        "{}",
        verdict.summary
    );
}

#[test]
fn non_critical_failure_scores_by_weight() {
    // One of four equally weighted, non-critical metrics fails: score 75 = marginal.
    let mut rng = fastrand::Rng::with_seed(17);
    let mut metrics = Vec::new();
    for (name, center) in [
        ("a_ms", 10.0),
        ("b_ms", 10.0),
        ("c_ms", 10.0),
        ("d_ms", 40.0),
    ] {
        let samples = MetricSamples::new(
            name,
            latencies(&mut rng, 40, center),
            latencies(&mut rng, 40, 10.0),
        );
        metrics.push((MetricConfig::new(name, Direction::Increase), samples));
    }
    let verdict = judge(&metrics, &JudgeConfig::default());
    assert_eq!(verdict.score, 75.0);
    assert_eq!(verdict.outcome, Outcome::Marginal, "{}", verdict.summary);
    assert!(
        verdict
            .summary
            .starts_with("marginal (score 75): d_ms High"),
        "{}",
        verdict.summary
    );
    assert!(
        verdict.summary.ends_with("3 of 4 metrics passed"),
        "{}",
        verdict.summary
    );
}

#[test]
fn improvement_in_the_good_direction_is_not_a_failure() {
    let mut rng = fastrand::Rng::with_seed(19);
    let samples = MetricSamples::new(
        "p99_ms",
        latencies(&mut rng, 40, 20.0),
        latencies(&mut rng, 40, 50.0),
    );
    let verdict = judge(&[(p99_config(), samples.clone())], &JudgeConfig::default());
    assert_eq!(verdict.metrics[0].classification, Classification::Low);
    assert!(!verdict.metrics[0].failed);
    assert_eq!(verdict.outcome, Outcome::Pass, "{}", verdict.summary);
    // The same drop fails a metric where lower is worse.
    let throughput = MetricConfig {
        name: "p99_ms".into(),
        ..MetricConfig::new("rps", Direction::Decrease)
    };
    let verdict = judge(&[(throughput, samples)], &JudgeConfig::default());
    assert_eq!(verdict.outcome, Outcome::Fail, "{}", verdict.summary);
}

#[test]
fn ties_everywhere_do_not_fail_or_panic() {
    // Error ratios that are exactly zero on both sides: every value tied, p = 1.
    let metrics = vec![(
        error_config(),
        MetricSamples::new("error_rate", vec![0.0; 30], vec![0.0; 30]),
    )];
    let verdict = judge(&metrics, &JudgeConfig::default());
    assert_eq!(verdict.outcome, Outcome::Pass, "{}", verdict.summary);
    assert_eq!(verdict.metrics[0].p_value, Some(1.0));
    assert_eq!(
        verdict.metrics[0].effect, None,
        "relative effect of a zero baseline"
    );
}

#[test]
fn zero_baseline_uses_the_absolute_floor() {
    // Baseline never fails; canary fails 0.5 % of requests every second: below the 1 % floor.
    let small = vec![(
        error_config(),
        MetricSamples::new("error_rate", vec![0.005; 30], vec![0.0; 30]),
    )];
    assert_eq!(
        judge(&small, &JudgeConfig::default()).outcome,
        Outcome::Pass
    );
    let large = vec![(
        error_config(),
        MetricSamples::new("error_rate", vec![0.05; 30], vec![0.0; 30]),
    )];
    let verdict = judge(&large, &JudgeConfig::default());
    assert_eq!(verdict.outcome, Outcome::Fail, "{}", verdict.summary);
    assert!(
        verdict.summary.contains("+0.05 absolute"),
        "{}",
        verdict.summary
    );
}

#[test]
fn empty_inputs_are_inconclusive_without_panicking() {
    let verdict = judge(&[], &JudgeConfig::default());
    assert_eq!(verdict.outcome, Outcome::Inconclusive);
    assert!(
        verdict.summary.contains("no metrics"),
        "{}",
        verdict.summary
    );

    let empty = vec![(p99_config(), MetricSamples::new("p99_ms", vec![], vec![]))];
    let verdict = judge(&empty, &JudgeConfig::default());
    assert_eq!(verdict.outcome, Outcome::Inconclusive);
    assert_eq!(verdict.metrics[0].canary_median, None);

    // min_samples 0 still needs a sample per side.
    let config = MetricConfig {
        min_samples: 0,
        ..p99_config()
    };
    let verdict = judge(
        &[(config, MetricSamples::new("p99_ms", vec![], vec![1.0]))],
        &JudgeConfig::default(),
    );
    assert_eq!(verdict.outcome, Outcome::Inconclusive);
}

#[test]
fn non_finite_samples_are_ignored() {
    let mut rng = fastrand::Rng::with_seed(23);
    let mut canary = latencies(&mut rng, 20, 50.0);
    let baseline = latencies(&mut rng, 20, 50.0);
    canary.extend([f64::NAN, f64::INFINITY, f64::NEG_INFINITY]);
    let metrics = vec![(p99_config(), MetricSamples::new("p99_ms", canary, baseline))];
    let verdict = judge(&metrics, &JudgeConfig::default());
    assert_eq!(verdict.metrics[0].samples, (20, 20));
    assert_eq!(verdict.outcome, Outcome::Pass, "{}", verdict.summary);

    // Only non-finite values: no data, and the count of dropped values is reported.
    let metrics = vec![(
        p99_config(),
        MetricSamples::new("p99_ms", vec![f64::NAN; 15], latencies(&mut rng, 15, 50.0)),
    )];
    let verdict = judge(&metrics, &JudgeConfig::default());
    assert_eq!(verdict.outcome, Outcome::Inconclusive);
    assert!(
        verdict.metrics[0].reason.contains("15 non-finite dropped"),
        "{}",
        verdict.metrics[0].reason
    );
}

#[test]
fn misconfiguration_is_inconclusive() {
    let mut rng = fastrand::Rng::with_seed(29);
    let samples = MetricSamples::new(
        "p99_ms",
        latencies(&mut rng, 20, 50.0),
        latencies(&mut rng, 20, 50.0),
    );
    let bad_alpha = JudgeConfig {
        alpha: 0.0,
        ..JudgeConfig::default()
    };
    let verdict = judge(&[(p99_config(), samples.clone())], &bad_alpha);
    assert_eq!(verdict.outcome, Outcome::Inconclusive);
    assert!(verdict.summary.contains("alpha"), "{}", verdict.summary);

    let bad_weight = MetricConfig {
        weight: f64::NAN,
        critical: false,
        ..p99_config()
    };
    let verdict = judge(&[(bad_weight, samples.clone())], &JudgeConfig::default());
    assert_eq!(verdict.outcome, Outcome::Inconclusive);
    assert!(
        verdict.summary.contains("weight NaN"),
        "{}",
        verdict.summary
    );
    // The stored result still round-trips through JSON.
    assert_round_trips(&verdict);

    let wrong_name = MetricSamples {
        name: "p50_ms".into(),
        ..samples
    };
    let verdict = judge(&[(p99_config(), wrong_name)], &JudgeConfig::default());
    assert_eq!(verdict.outcome, Outcome::Inconclusive);
}

#[test]
fn verdicts_round_trip_through_json() {
    let verdict = judge(&scenario(31, 150.0, 0.2), &JudgeConfig::default());
    let json = serde_json::to_string(&verdict).expect("verdict serializes");
    assert!(json.contains("\"outcome\":\"fail\""), "{json}");
    assert_round_trips(&verdict);
}

/// Deserializes what was serialized. serde_json's default float parsing may differ in the
/// last bit, so floats are compared with a tolerance and everything else exactly.
fn assert_round_trips(verdict: &Verdict) {
    let json = serde_json::to_string(verdict).expect("verdict serializes");
    let back: Verdict = serde_json::from_str(&json).expect("and deserializes");
    let near = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-12 * a.abs().max(1e-300),
        (a, b) => a == b,
    };
    assert_eq!(back.outcome, verdict.outcome);
    assert_eq!(back.score, verdict.score);
    assert_eq!(back.summary, verdict.summary);
    assert_eq!(back.metrics.len(), verdict.metrics.len());
    for (b, v) in back.metrics.iter().zip(&verdict.metrics) {
        assert_eq!(
            (&b.name, b.classification, b.failed, b.critical),
            (&v.name, v.classification, v.failed, v.critical)
        );
        assert_eq!(
            (b.samples, &b.reason, b.weight),
            (v.samples, &v.reason, v.weight)
        );
        assert!(near(b.p_value, v.p_value) && near(b.shift, v.shift) && near(b.effect, v.effect));
        assert!(
            near(b.canary_median, v.canary_median) && near(b.baseline_median, v.baseline_median)
        );
    }
}
