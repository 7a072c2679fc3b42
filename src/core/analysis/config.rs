//! How the judge is tuned, overall and per metric.

use serde::{Deserialize, Serialize};

/// Which deviation of the canary from the baseline is bad for a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Higher is worse (latency, error ratio).
    Increase,
    /// Lower is worse (throughput, success ratio).
    Decrease,
    /// Any significant deviation is bad.
    Either,
}

/// How one metric is judged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricConfig {
    /// Metric name; a `_ms` / `_s` suffix makes the summary print that unit.
    pub name: String,
    /// Which deviation counts as a failure.
    pub direction: Direction,
    /// A failure of a critical metric fails the whole canary (score 0).
    pub critical: bool,
    /// Tolerated shift relative to the baseline median: 0.25 lets the canary be 25 % worse.
    pub tolerance: f64,
    /// Absolute shift (in the metric's unit) always tolerated. The band is
    /// `max(tolerance × |baseline median|, abs_tolerance)`, so a zero baseline median (an
    /// error ratio that is usually 0) does not make every tiny shift infinitely large.
    pub abs_tolerance: f64,
    /// Fewer finite samples than this on either side makes the metric `NoData`.
    pub min_samples: usize,
    /// Share of the score this metric carries, relative to the others.
    pub weight: f64,
}

impl MetricConfig {
    /// A non-critical metric with tolerance 0.25, no absolute floor, 10 samples minimum and
    /// weight 1; adjust fields with struct update syntax.
    pub fn new(name: impl Into<String>, direction: Direction) -> Self {
        MetricConfig {
            name: name.into(),
            direction,
            critical: false,
            tolerance: 0.25,
            abs_tolerance: 0.0,
            min_samples: 10,
            weight: 1.0,
        }
    }

    /// Checks the values a manifest could get wrong.
    pub fn validate(&self) -> Result<(), AnalysisError> {
        let finite_non_negative = |v: f64| v.is_finite() && v >= 0.0;
        if !finite_non_negative(self.tolerance) {
            return Err(AnalysisError::Tolerance {
                metric: self.name.clone(),
                value: self.tolerance,
            });
        }
        if !finite_non_negative(self.abs_tolerance) {
            return Err(AnalysisError::AbsTolerance {
                metric: self.name.clone(),
                value: self.abs_tolerance,
            });
        }
        if !finite_non_negative(self.weight) {
            return Err(AnalysisError::Weight {
                metric: self.name.clone(),
                value: self.weight,
            });
        }
        Ok(())
    }
}

/// Judge-wide settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct JudgeConfig {
    /// Significance level of the Mann-Whitney test (default 0.05).
    pub alpha: f64,
    /// Score at or above which the canary passes (default 95).
    pub pass_score: f64,
    /// Score at or above which the canary is marginal rather than failed (default 75).
    pub marginal_score: f64,
}

impl Default for JudgeConfig {
    fn default() -> Self {
        JudgeConfig {
            alpha: 0.05,
            pass_score: 95.0,
            marginal_score: 75.0,
        }
    }
}

impl JudgeConfig {
    /// Checks that alpha is a probability and the score bands are ordered within 0..=100.
    pub fn validate(&self) -> Result<(), AnalysisError> {
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(AnalysisError::Alpha(self.alpha));
        }
        let in_range = |v: f64| (0.0..=100.0).contains(&v);
        if !in_range(self.pass_score)
            || !in_range(self.marginal_score)
            || self.marginal_score > self.pass_score
        {
            return Err(AnalysisError::Scores {
                pass: self.pass_score,
                marginal: self.marginal_score,
            });
        }
        Ok(())
    }
}

/// A judge or metric setting that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalysisError {
    /// Alpha outside (0, 1).
    #[error(
        "analysis alpha {0} is not a significance level; use a value between 0 and 1, e.g. 0.05"
    )]
    Alpha(f64),
    /// Score bands out of order or range.
    #[error(
        "analysis scores pass={pass} marginal={marginal} are invalid; both must lie in 0..=100 with marginal <= pass"
    )]
    Scores {
        /// The configured pass score.
        pass: f64,
        /// The configured marginal score.
        marginal: f64,
    },
    /// Negative or non-finite relative tolerance.
    #[error("metric {metric}: tolerance {value} is invalid; use a relative value >= 0, e.g. 0.25")]
    Tolerance {
        /// The metric's name.
        metric: String,
        /// The configured value.
        value: f64,
    },
    /// Negative or non-finite absolute tolerance.
    #[error(
        "metric {metric}: abs_tolerance {value} is invalid; use a value >= 0 in the metric's unit"
    )]
    AbsTolerance {
        /// The metric's name.
        metric: String,
        /// The configured value.
        value: f64,
    },
    /// Negative or non-finite weight.
    #[error("metric {metric}: weight {value} is invalid; use a finite value >= 0")]
    Weight {
        /// The metric's name.
        metric: String,
        /// The configured value.
        value: f64,
    },
}
