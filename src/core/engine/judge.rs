//! The judge of canary steps: with an `[analysis]` table, the canary slot is judged against
//! the baseline slot over the step (`analysis.rs`); without one, every step passes, and the
//! judgement says so. The rollout loop stores the judgement (with every number behind it)
//! and acts on it.

use super::Engine;
use crate::core::analysis::Outcome;
use crate::core::rollout::{JudgementOutcome, StepJudgement};
use crate::core::types::SlotName;
use chrono::{DateTime, Utc};

impl Engine {
    /// Judges the step that just ended.
    pub(crate) async fn judge_canary_step(
        &self,
        plugin: &str,
        rollout_id: i64,
        step_index: usize,
        canary: SlotName,
        baseline: SlotName,
        step_started: DateTime<Utc>,
    ) -> StepJudgement {
        if self.analysis_spec(plugin).is_none() {
            return StepJudgement::new(JudgementOutcome::Pass, "no analysis configured");
        }
        let since = u64::try_from(step_started.timestamp()).unwrap_or(0);
        let verdict =
            self.analyse_canary_step(plugin, rollout_id, step_index, canary, baseline, since);
        let (outcome, summary, detail) = verdict.into_judgement();
        StepJudgement {
            outcome: match outcome {
                Outcome::Pass => JudgementOutcome::Pass,
                Outcome::Marginal => JudgementOutcome::Marginal,
                Outcome::Fail => JudgementOutcome::Fail,
                Outcome::Inconclusive => JudgementOutcome::Inconclusive,
            },
            summary,
            detail,
        }
    }
}
