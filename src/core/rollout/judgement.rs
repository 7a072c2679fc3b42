//! The verdict on one canary step, produced by the engine's judge hook.

use serde::{Deserialize, Serialize};

/// How a step's analysis ended. Only `Pass` lets a rollout go on by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JudgementOutcome {
    Pass,
    /// Close to the limits: a person decides (promote or abort).
    Marginal,
    /// The canary is worse than the stable slot: roll back.
    Fail,
    /// Too little data to judge: a person decides, never a silent pass.
    Inconclusive,
}

impl JudgementOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            JudgementOutcome::Pass => "pass",
            JudgementOutcome::Marginal => "marginal",
            JudgementOutcome::Fail => "fail",
            JudgementOutcome::Inconclusive => "inconclusive",
        }
    }
}

impl std::fmt::Display for JudgementOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for JudgementOutcome {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pass" => Ok(JudgementOutcome::Pass),
            "marginal" => Ok(JudgementOutcome::Marginal),
            "fail" => Ok(JudgementOutcome::Fail),
            "inconclusive" => Ok(JudgementOutcome::Inconclusive),
            other => Err(format!(
                "unknown judgement `{other}`: pass, marginal, fail or inconclusive"
            )),
        }
    }
}

/// The judgement of one step: the outcome, one sentence for people, and the numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepJudgement {
    pub outcome: JudgementOutcome,
    pub summary: String,
    pub detail: serde_json::Value,
}

impl StepJudgement {
    pub fn new(outcome: JudgementOutcome, summary: impl Into<String>) -> Self {
        StepJudgement {
            outcome,
            summary: summary.into(),
            detail: serde_json::Value::Null,
        }
    }
}
