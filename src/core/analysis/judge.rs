//! Scores the per-metric classifications into one verdict.

use serde::{Deserialize, Serialize};

use super::classify::classify;
use super::config::{JudgeConfig, MetricConfig};
use super::samples::MetricSamples;
use super::summary::summarize;

/// How one metric's canary samples compare with the baseline's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// No significant difference, or one within the tolerance band.
    Pass,
    /// Significantly higher than the baseline, beyond the tolerance band.
    High,
    /// Significantly lower than the baseline, beyond the tolerance band.
    Low,
    /// Too few samples (or a misconfiguration) to judge.
    NoData,
}

/// What to do with the canary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Score at or above `pass_score`: continue the rollout.
    Pass,
    /// Score between `marginal_score` and `pass_score`: hold and look.
    Marginal,
    /// A critical metric failed or the score is below `marginal_score`: roll back.
    Fail,
    /// Not enough data to decide; never treat as a pass.
    Inconclusive,
}

/// The judgement of one metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricResult {
    /// Metric name.
    pub name: String,
    /// High/Low/Pass/NoData as the test saw it, before applying the direction.
    pub classification: Classification,
    /// Whether the classification is bad for this metric's direction.
    pub failed: bool,
    /// Whether a failure of this metric fails the canary outright.
    pub critical: bool,
    /// Weight the metric carries in the score.
    pub weight: f64,
    /// Two-sided Mann-Whitney p-value; `None` without data.
    pub p_value: Option<f64>,
    /// Median of the canary's finite samples.
    pub canary_median: Option<f64>,
    /// Median of the baseline's finite samples.
    pub baseline_median: Option<f64>,
    /// Hodges-Lehmann shift (median of pairwise canary − baseline), in the metric's unit.
    pub shift: Option<f64>,
    /// `shift / |baseline median|`; `None` without data or when the baseline median is 0.
    pub effect: Option<f64>,
    /// Finite samples used: (canary, baseline).
    pub samples: (usize, usize),
    /// Why, in words.
    pub reason: String,
}

/// The judgement of a canary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// 0..=100: weighted share of the metrics with data that passed (0 on a critical failure).
    pub score: f64,
    /// What to do with the canary.
    pub outcome: Outcome,
    /// One result per metric, in input order.
    pub metrics: Vec<MetricResult>,
    /// One sentence for the operator.
    pub summary: String,
}

/// Judges the canary: classifies every metric, then scores the weighted share that passed.
/// A failed critical metric forces score 0 and `Fail`; a critical metric without data, more
/// than half the weight without data, or any misconfiguration gives `Inconclusive`.
pub fn judge(metrics: &[(MetricConfig, MetricSamples)], cfg: &JudgeConfig) -> Verdict {
    if let Err(err) = cfg.validate() {
        return Verdict {
            score: 0.0,
            outcome: Outcome::Inconclusive,
            metrics: Vec::new(),
            summary: format!("inconclusive (misconfigured): {err}"),
        };
    }
    let results: Vec<MetricResult> = metrics
        .iter()
        .map(|(config, samples)| classify(config, samples, cfg.alpha))
        .collect();

    let weight_of = |pred: &dyn Fn(&MetricResult) -> bool| -> f64 {
        results.iter().filter(|m| pred(m)).map(|m| m.weight).sum()
    };
    let total_weight = weight_of(&|_| true);
    let no_data_weight = weight_of(&|m| m.classification == Classification::NoData);
    let decided_weight = total_weight - no_data_weight;
    let passed_weight = weight_of(&|m| m.classification != Classification::NoData && !m.failed);
    let mut score = if decided_weight > 0.0 {
        (100.0 * passed_weight / decided_weight).clamp(0.0, 100.0)
    } else {
        0.0
    };

    let misconfigured = metrics.iter().find_map(|(c, _)| c.validate().err());
    let (outcome, why) = if results.iter().any(|m| m.critical && m.failed) {
        score = 0.0;
        (Outcome::Fail, String::new())
    } else if let Some(err) = misconfigured {
        (Outcome::Inconclusive, format!("misconfigured: {err}"))
    } else if results.is_empty() {
        (Outcome::Inconclusive, "no metrics to judge".to_string())
    } else if results
        .iter()
        .any(|m| m.critical && m.classification == Classification::NoData)
    {
        (
            Outcome::Inconclusive,
            "critical metric without data".to_string(),
        )
    } else if no_data_weight * 2.0 > total_weight {
        let share = 100.0 * no_data_weight / total_weight;
        (
            Outcome::Inconclusive,
            format!("{share:.0} % of the weight without data"),
        )
    } else if decided_weight <= 0.0 {
        (
            Outcome::Inconclusive,
            "no metric with data carries weight".to_string(),
        )
    } else if score >= cfg.pass_score {
        (Outcome::Pass, String::new())
    } else if score >= cfg.marginal_score {
        (Outcome::Marginal, String::new())
    } else {
        (Outcome::Fail, String::new())
    };

    let summary = summarize(outcome, score, &results, &why);
    Verdict {
        score,
        outcome,
        metrics: results,
        summary,
    }
}
