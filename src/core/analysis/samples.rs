//! The per-metric sample vectors the judge compares.

use serde::{Deserialize, Serialize};

/// Samples of one metric over the same window, e.g. per-second p99 latency of each slot.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricSamples {
    /// Metric name (matches `MetricConfig::name`).
    pub name: String,
    /// Samples from the canary slot.
    pub canary: Vec<f64>,
    /// Samples from the baseline (stable) slot.
    pub baseline: Vec<f64>,
}

impl MetricSamples {
    /// Samples of `name` from the two sides.
    pub fn new(name: impl Into<String>, canary: Vec<f64>, baseline: Vec<f64>) -> Self {
        MetricSamples {
            name: name.into(),
            canary,
            baseline,
        }
    }
}

/// The finite values of `values`: NaN and ±inf mean a broken measurement (a division by zero
/// upstream, a missing second), so they are dropped rather than allowed to poison the ranks.
pub(crate) fn finite(values: &[f64]) -> Vec<f64> {
    values.iter().copied().filter(|v| v.is_finite()).collect()
}
