//! Canary analysis: judge a canary slot against the stable (baseline) slot, in the manner of
//! Kayenta's NetflixACAJudge. Each metric's per-second samples are compared with a two-sided
//! Mann-Whitney U test and a Hodges-Lehmann shift against a tolerance band; the weighted
//! share of passing metrics is the score. Threshold checks on the canary's window complement
//! the judge. Pure logic: the engine collects the samples and acts on the verdict.

mod classify;
mod config;
mod judge;
mod samples;
mod series;
mod stats;
mod step;
mod summary;
mod thresholds;

pub use config::{AnalysisError, Direction, JudgeConfig, MetricConfig};
pub use judge::{Classification, MetricResult, Outcome, Verdict, judge};
pub use samples::MetricSamples;
pub use series::{ERROR_RATE, P50_MS, P99_MS, pair, series_samples, standard_metrics};
pub use stats::{MannWhitney, hodges_lehmann, mann_whitney, median};
pub use step::{SampleCounts, StepAnalysis, StepConfig, StepObservation, judge_step};
pub use thresholds::{BreachKind, ThresholdBreach, Thresholds, WindowStats, check_thresholds};

#[cfg(test)]
mod tests;
