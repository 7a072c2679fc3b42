//! The judge hook of canary steps. The canary analysis (a separate branch) replaces this
//! body: judge the canary slot against the baseline slot over `step_started..now` and
//! return the verdict with the numbers behind it. Keep the signature.

use super::Engine;
use crate::core::rollout::{JudgementOutcome, StepJudgement};
use crate::core::types::SlotName;
use chrono::{DateTime, Utc};

impl Engine {
    /// Judges the step that just ended. Without analysis every step passes, and says so.
    pub(crate) async fn judge_canary_step(
        &self,
        plugin: &str,
        rollout_id: i64,
        step_index: usize,
        canary: SlotName,
        baseline: SlotName,
        step_started: DateTime<Utc>,
    ) -> StepJudgement {
        let _ = (
            plugin,
            rollout_id,
            step_index,
            canary,
            baseline,
            step_started,
        );
        StepJudgement::new(JudgementOutcome::Pass, "no analysis configured")
    }
}
