//! Canary analysis at the end of a step: collect both slots' per-second series for the step
//! from the metrics registry, judge them (`core::analysis::judge_step`), then store, record
//! and show the verdict. Acting on it is the caller's business (`enforce_verdict` for the
//! current canary loop).

use serde::{Deserialize, Serialize};

use super::Engine;
use crate::core::analysis::JudgeConfig;
use crate::core::analysis::{
    MetricConfig, MetricResult, Outcome, SampleCounts, StepConfig, StepObservation,
    ThresholdBreach, WindowStats, judge_step, standard_metrics,
};
use crate::core::types::SlotName;
use crate::core::workspace::AnalysisSpec;

/// Latency shifts below this many milliseconds never fail a step: two processes of the same
/// build differ by a millisecond of scheduling noise, which is no regression however
/// significant the test finds it with sub-millisecond medians.
const LATENCY_FLOOR_MS: f64 = 5.0;

/// The verdict of one canary step, with the numbers behind it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepVerdict {
    pub rollout_id: i64,
    /// 0-based index of the step in the manifest's `steps`.
    pub step_index: u32,
    /// Canary weight (percent) during the step.
    pub weight: u32,
    pub canary: SlotName,
    pub baseline: SlotName,
    /// `pass`, `marginal`, `fail` or `inconclusive`.
    pub outcome: Outcome,
    /// 0..=100.
    pub score: f64,
    /// One line for the operator, e.g. "fail: p99_ms 3.1× baseline (412 ms vs 133 ms), score 0".
    pub summary: String,
    /// Samples (seconds with traffic) per side and how many were needed.
    pub samples: SampleCounts,
    /// The canary's requests, errors and p99 over the step.
    pub canary_window: WindowStats,
    /// Breached thresholds.
    pub breaches: Vec<ThresholdBreach>,
    /// Per-metric numbers of the statistical judge (empty when it did not run).
    pub metrics: Vec<MetricResult>,
}

impl StepVerdict {
    /// The numbers behind the verdict, as stored with the step's judgement (`rollout_steps`).
    pub fn detail(&self) -> serde_json::Value {
        serde_json::json!({
            "canary": self.canary,
            "baseline": self.baseline,
            "weight": self.weight,
            "score": self.score,
            "samples": self.samples,
            "canary_window": self.canary_window,
            "breaches": self.breaches,
            "metrics": self.metrics,
        })
    }

    /// The three pieces a step judgement is made of: outcome, summary, detail.
    pub fn into_judgement(self) -> (Outcome, String, serde_json::Value) {
        let detail = self.detail();
        (self.outcome, self.summary, detail)
    }
}

/// The stored word for an outcome.
pub fn outcome_word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "pass",
        Outcome::Marginal => "marginal",
        Outcome::Fail => "fail",
        Outcome::Inconclusive => "inconclusive",
    }
}

/// The judge's settings for a manifest's `[analysis]`.
pub(crate) fn step_config(spec: &AnalysisSpec) -> StepConfig {
    let metrics: Vec<MetricConfig> = standard_metrics()
        .into_iter()
        .filter(|m| spec.metrics.contains(&m.name))
        .map(|m| MetricConfig {
            tolerance: spec.tolerance,
            abs_tolerance: if m.name.ends_with("_ms") {
                LATENCY_FLOOR_MS
            } else {
                m.abs_tolerance
            },
            ..m
        })
        .collect();
    StepConfig {
        metrics,
        judge: JudgeConfig {
            pass_score: spec.pass_score,
            marginal_score: spec.marginal_score,
            ..JudgeConfig::default()
        },
        min_samples: spec.min_samples as usize,
        min_success_rate: spec.success_rate,
        max_p99_ms: spec.p99_ms.map(|ms| ms as f64),
        require_health: spec.health,
    }
}

impl Engine {
    /// The manifest's `[analysis]` of a plugin, if it has one.
    pub(crate) fn analysis_spec(&self, plugin: &str) -> Option<AnalysisSpec> {
        self.workspace()
            .plugin(plugin)
            .and_then(|m| m.analysis.clone())
    }

    /// Judges the canary slot against the baseline slot over the step that began at
    /// `step_started` (unix second of the metrics clock). The rollout loop stores and acts
    /// on the verdict. A plugin without `[analysis]` is judged with its defaults.
    pub(crate) fn analyse_canary_step(
        &self,
        plugin: &str,
        rollout_id: i64,
        step_index: usize,
        canary: SlotName,
        baseline: SlotName,
        step_started: u64,
    ) -> StepVerdict {
        let spec = self.analysis_spec(plugin).unwrap_or_default();
        let canary_metrics = self.inner.metrics.slot(plugin, canary).snapshot();
        let baseline_metrics = self.inner.metrics.slot(plugin, baseline).snapshot();
        let (healthy, health_detail, weight) = {
            let plugins = self.lock_plugins();
            match plugins.get(plugin).and_then(|p| p.slot(canary)) {
                Some(s) => (s.is_serving(), s.health_detail.clone(), s.weight),
                None => (false, "the slot is gone".to_string(), 0),
            }
        };
        let analysis = judge_step(
            &StepObservation {
                canary: &canary_metrics.series,
                baseline: &baseline_metrics.series,
                since: step_started,
                canary_p99_ms: canary_metrics.p99_ms,
                canary_health: (healthy, &health_detail),
            },
            &step_config(&spec),
        );
        StepVerdict {
            rollout_id,
            step_index: u32::try_from(step_index).unwrap_or(u32::MAX),
            weight,
            canary,
            baseline,
            outcome: analysis.outcome,
            score: analysis.score,
            summary: analysis.summary,
            samples: analysis.samples,
            canary_window: analysis.canary_window,
            breaches: analysis.breaches,
            metrics: analysis.judge.map(|j| j.metrics).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::analysis::{Direction, P99_MS};

    #[test]
    fn manifest_settings_reach_the_judge() {
        let spec = AnalysisSpec {
            metrics: vec!["p99_ms".into(), "error_rate".into()],
            tolerance: 0.5,
            pass_score: 90.0,
            marginal_score: 60.0,
            min_samples: 20,
            success_rate: Some(0.99),
            p99_ms: Some(500),
            health: false,
            ..AnalysisSpec::default()
        };
        let cfg = step_config(&spec);
        let names: Vec<&str> = cfg.metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, [P99_MS, "error_rate"]);
        assert!(cfg.metrics.iter().all(|m| m.tolerance == 0.5 && m.critical));
        assert_eq!(cfg.metrics[0].abs_tolerance, LATENCY_FLOOR_MS);
        assert_eq!(cfg.metrics[0].direction, Direction::Increase);
        assert_eq!(cfg.metrics[1].abs_tolerance, 0.01);
        assert_eq!(
            (cfg.judge.pass_score, cfg.judge.marginal_score),
            (90.0, 60.0)
        );
        assert_eq!(cfg.min_samples, 20);
        assert_eq!(cfg.min_success_rate, Some(0.99));
        assert_eq!(cfg.max_p99_ms, Some(500.0));
        assert!(!cfg.require_health);
    }

    #[test]
    fn a_verdict_splits_into_outcome_summary_and_detail() {
        let verdict = StepVerdict {
            rollout_id: 7,
            step_index: 1,
            weight: 25,
            canary: SlotName::Green,
            baseline: SlotName::Blue,
            outcome: Outcome::Inconclusive,
            score: 0.0,
            summary: "inconclusive: 3 of 10 samples".into(),
            samples: SampleCounts {
                canary: 3,
                baseline: 12,
                needed: 10,
            },
            canary_window: WindowStats::default(),
            breaches: Vec::new(),
            metrics: Vec::new(),
        };
        let (outcome, summary, detail) = verdict.into_judgement();
        assert_eq!(outcome, Outcome::Inconclusive);
        assert_eq!(summary, "inconclusive: 3 of 10 samples");
        assert_eq!(detail["samples"]["canary"], 3);
        assert_eq!(detail["canary"], "green");
        assert_eq!(detail["weight"], 25);
        let words: Vec<&str> = [
            Outcome::Pass,
            Outcome::Marginal,
            Outcome::Fail,
            Outcome::Inconclusive,
        ]
        .into_iter()
        .map(outcome_word)
        .collect();
        // The stored words are the ones the schema's CHECK constraint accepts.
        assert_eq!(words, ["pass", "marginal", "fail", "inconclusive"]);
    }
}
