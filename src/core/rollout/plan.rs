//! What a canary rollout walks: weights, the time each step lasts, and the steps after
//! which a person must promote.

use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RolloutPlan {
    /// Canary weights in percent, strictly ascending, the last one 100.
    pub steps: Vec<u32>,
    /// How long each step below 100 % lasts before it is judged.
    pub step_interval: Duration,
    /// Indexes into `steps`: after that step passes, wait for `naap promote`.
    pub pause_after: Vec<usize>,
}

impl RolloutPlan {
    /// A plan that cannot be walked (no steps, not ending at 100) becomes a single step
    /// to 100 %, so a malformed plan never leaves a canary half-way forever.
    pub fn normalised(mut self) -> Self {
        self.steps.retain(|w| *w > 0);
        for w in &mut self.steps {
            *w = (*w).min(100);
        }
        self.steps.dedup();
        if self.steps.last() != Some(&100) {
            self.steps.push(100);
        }
        let last = self.steps.len() - 1;
        self.pause_after.retain(|i| *i < last);
        self
    }

    pub fn last_index(&self) -> usize {
        self.steps.len().saturating_sub(1)
    }

    pub fn weight(&self, index: usize) -> u32 {
        self.steps.get(index).copied().unwrap_or(100)
    }
}
