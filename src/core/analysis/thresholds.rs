//! Hard thresholds on the canary's window (manifest `success_rate >= 0.99`, `p99 <= 500ms`),
//! complementing the statistical judge: they catch an absolute breach even when the baseline
//! is just as bad, and work before there are enough per-second samples to compare.

use serde::{Deserialize, Serialize};

/// What the canary did over the analysis window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowStats {
    /// Requests that finished in the window.
    pub requests: u64,
    /// Failed requests (5xx or upstream failure) in the window.
    pub errors: u64,
    /// 99th percentile latency over the window, in milliseconds.
    pub p99_ms: f64,
}

/// Limits the canary must respect.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Lowest acceptable share (0..=1) of successful requests.
    pub min_success_rate: Option<f64>,
    /// Highest acceptable p99 latency, in milliseconds.
    pub max_p99_ms: Option<f64>,
    /// Fewer requests than this (and never fewer than one) make the check inconclusive.
    pub min_requests: u64,
}

/// Which limit was breached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreachKind {
    /// Too few requests to judge: inconclusive, not a pass and not a failure.
    TooFewRequests,
    /// Success rate below `min_success_rate`.
    SuccessRate,
    /// p99 latency above `max_p99_ms` (or not a number).
    LatencyP99,
}

/// One breached limit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThresholdBreach {
    /// Which limit.
    pub kind: BreachKind,
    /// The value measured; `None` when it was not a number.
    pub observed: Option<f64>,
    /// The limit it was compared with.
    pub limit: f64,
    /// What happened, in words.
    pub message: String,
}

impl ThresholdBreach {
    /// Whether this breach means "cannot tell yet" rather than "bad".
    pub fn is_inconclusive(&self) -> bool {
        self.kind == BreachKind::TooFewRequests
    }
}

/// Checks the canary's window against the thresholds. An empty result is a pass. With too few
/// requests only the `TooFewRequests` breach is returned: rates over a handful of requests are
/// noise, and the caller must wait rather than promote.
pub fn check_thresholds(canary: &WindowStats, thresholds: &Thresholds) -> Vec<ThresholdBreach> {
    let needed = thresholds.min_requests.max(1);
    if canary.requests < needed {
        return vec![ThresholdBreach {
            kind: BreachKind::TooFewRequests,
            observed: Some(canary.requests as f64),
            limit: needed as f64,
            message: format!(
                "inconclusive: {} of {needed} requests needed to check thresholds",
                canary.requests
            ),
        }];
    }
    let mut breaches = Vec::new();
    if let Some(min) = thresholds.min_success_rate {
        // More errors than requests would be a counting bug upstream; clamp rather than go negative.
        let errors = canary.errors.min(canary.requests);
        let success = 1.0 - errors as f64 / canary.requests as f64;
        if success < min || min.is_nan() {
            breaches.push(ThresholdBreach {
                kind: BreachKind::SuccessRate,
                observed: Some(success),
                limit: min,
                message: format!(
                    "success rate {:.2} % below {:.2} % ({errors} of {} requests failed)",
                    success * 100.0,
                    min * 100.0,
                    canary.requests
                ),
            });
        }
    }
    if let Some(max) = thresholds.max_p99_ms {
        if !canary.p99_ms.is_finite() {
            breaches.push(ThresholdBreach {
                kind: BreachKind::LatencyP99,
                observed: None,
                limit: max,
                message: format!(
                    "p99 is not a number ({}); treated as a breach",
                    canary.p99_ms
                ),
            });
        } else if canary.p99_ms > max || max.is_nan() {
            breaches.push(ThresholdBreach {
                kind: BreachKind::LatencyP99,
                observed: Some(canary.p99_ms),
                limit: max,
                message: format!("p99 {:.0} ms above {:.0} ms", canary.p99_ms, max),
            });
        }
    }
    breaches
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Thresholds {
        Thresholds {
            min_success_rate: Some(0.99),
            max_p99_ms: Some(500.0),
            min_requests: 100,
        }
    }

    #[test]
    fn healthy_window_has_no_breach() {
        let stats = WindowStats {
            requests: 1000,
            errors: 5,
            p99_ms: 120.0,
        };
        assert!(check_thresholds(&stats, &limits()).is_empty());
    }

    #[test]
    fn too_few_requests_is_inconclusive_not_a_pass() {
        let stats = WindowStats {
            requests: 12,
            errors: 12,
            p99_ms: 9000.0,
        };
        let breaches = check_thresholds(&stats, &limits());
        assert_eq!(breaches.len(), 1);
        assert!(breaches[0].is_inconclusive());
        assert!(
            breaches[0].message.contains("12 of 100"),
            "{}",
            breaches[0].message
        );
        // Zero requests is never a pass, even when no minimum is configured.
        let none = check_thresholds(&WindowStats::default(), &Thresholds::default());
        assert_eq!(none[0].kind, BreachKind::TooFewRequests);
    }

    #[test]
    fn error_and_latency_breaches_are_reported() {
        let stats = WindowStats {
            requests: 1000,
            errors: 200,
            p99_ms: 750.0,
        };
        let breaches = check_thresholds(&stats, &limits());
        let kinds: Vec<BreachKind> = breaches.iter().map(|b| b.kind).collect();
        assert_eq!(kinds, vec![BreachKind::SuccessRate, BreachKind::LatencyP99]);
        assert_eq!(breaches[0].observed, Some(0.8));
        assert!(
            breaches[0].message.contains("200 of 1000"),
            "{}",
            breaches[0].message
        );
        assert!(breaches.iter().all(|b| !b.is_inconclusive()));
    }

    #[test]
    fn nan_latency_and_impossible_counts_do_not_pass_or_panic() {
        let stats = WindowStats {
            requests: 100,
            errors: 500,
            p99_ms: f64::NAN,
        };
        let breaches = check_thresholds(&stats, &limits());
        assert_eq!(breaches.len(), 2);
        assert_eq!(breaches[0].observed, Some(0.0));
        assert_eq!(breaches[1].observed, None);
        let json = serde_json::to_string(&breaches).expect("breaches serialize");
        let back: Vec<ThresholdBreach> = serde_json::from_str(&json).expect("and deserialize");
        assert_eq!(back, breaches);
    }
}
