//! The rollout state machine. Inputs: `tick`, `promote`, `pause`, `resume`, `abort`,
//! `step_judged`, `settle_rolled_back`; each answers with a `Directive`: the canary weight
//! the router must apply now and what the engine does next. The whole value serialises,
//! so the engine stores it before acting and a restarted engine carries on from it.

use super::judgement::{JudgementOutcome, StepJudgement};
use super::plan::RolloutPlan;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RolloutController {
    plan: RolloutPlan,
    step_index: usize,
    step_started: DateTime<Utc>,
    stage: Stage,
}

/// Where the current step stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Stage {
    /// The step runs until `ends_at`, then it is judged.
    Stepping {
        ends_at: DateTime<Utc>,
    },
    /// The step ended; its judgement is awaited.
    Judging,
    /// Nothing moves until a person acts.
    Held {
        hold: Hold,
    },
    Finished {
        end: RolloutEnd,
    },
}

/// Why a rollout is held.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Hold {
    /// `naap pause`: the step timer is frozen with `remaining_ms` left; `resume` goes on.
    Human { by: String, remaining_ms: u64 },
    /// A `"pause"` step of the plan: waits for `promote` (or `abort`).
    PauseStep,
    /// The step's judgement was not a clear pass: waits for `promote` (or `abort`).
    Judgement {
        outcome: JudgementOutcome,
        summary: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "end", rename_all = "snake_case")]
pub enum RolloutEnd {
    /// The canary takes all traffic. `by` is set when a person promoted it to 100 %.
    Promoted { by: Option<String> },
    /// A person aborted it: all traffic back to the stable slot.
    Aborted { by: String },
    /// The engine (judge, guard, incident rollback, dead canary) sent traffic back.
    RolledBack { reason: String },
}

/// What the engine must do after an input.
#[derive(Clone, Debug, PartialEq)]
pub struct Directive {
    /// The canary slot's weight in percent; the stable slot gets the rest.
    pub canary_weight: u32,
    pub next: Next,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Next {
    /// The step that started at `step_started` ended: judge it, then call `step_judged`.
    Judge {
        step_index: usize,
        step_started: DateTime<Utc>,
    },
    /// Nothing to do before this time (then `tick`), unless an input arrives.
    WaitUntil(DateTime<Utc>),
    /// Held until a person acts.
    WaitForHuman { reason: String },
    /// Done: the canary is the new stable version.
    FinishPromoted,
    /// Done: all traffic back to the stable slot.
    RollBack { reason: String },
}

/// An input that does not apply where the rollout stands; the text says what does.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error("the rollout already finished ({0})")]
    Finished(String),
    #[error("the rollout is already paused by {0}; resuming continues it")]
    AlreadyPaused(String),
    #[error("the rollout is not paused; pausing holds it")]
    NotPaused,
    #[error("the rollout is held: {0}; promoting goes on, aborting goes back")]
    HeldForDecision(String),
    #[error("step {0} is being judged right now; try again in a moment")]
    Judging(usize),
}

impl RolloutController {
    /// Starts at the first step.
    pub fn start(plan: RolloutPlan, now: DateTime<Utc>) -> (RolloutController, Directive) {
        let mut c = RolloutController {
            plan: plan.normalised(),
            step_index: 0,
            step_started: now,
            stage: Stage::Judging,
        };
        c.enter_step(0, now, None);
        let d = c.tick(now);
        (c, d)
    }

    /// The time is `now`: ends a step whose time is up, otherwise repeats what to wait for.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Directive {
        if let Stage::Stepping { ends_at } = self.stage
            && now >= ends_at
        {
            self.stage = Stage::Judging;
        }
        self.directive()
    }

    /// The judgement of step `step_index`. One that arrives after a person moved the
    /// rollout on (promote, abort) is stale and changes nothing.
    pub fn step_judged(
        &mut self,
        step_index: usize,
        judgement: &StepJudgement,
        now: DateTime<Utc>,
    ) -> Directive {
        if self.stage != Stage::Judging || step_index != self.step_index {
            return self.directive();
        }
        match judgement.outcome {
            JudgementOutcome::Pass => {
                if self.plan.pause_after.contains(&self.step_index) {
                    self.stage = Stage::Held {
                        hold: Hold::PauseStep,
                    };
                } else {
                    self.enter_step(self.step_index + 1, now, None);
                }
            }
            JudgementOutcome::Fail => {
                self.stage = Stage::Finished {
                    end: RolloutEnd::RolledBack {
                        reason: format!(
                            "step {} failed its analysis: {}",
                            self.step_index + 1,
                            judgement.summary
                        ),
                    },
                };
            }
            outcome @ (JudgementOutcome::Marginal | JudgementOutcome::Inconclusive) => {
                self.stage = Stage::Held {
                    hold: Hold::Judgement {
                        outcome,
                        summary: judgement.summary.clone(),
                    },
                };
            }
        }
        self.tick(now)
    }

    /// A person says go on: with `full`, straight to 100 %; otherwise to the next step,
    /// releasing a hold or cutting the current step short (without judging it).
    pub fn promote(
        &mut self,
        now: DateTime<Utc>,
        full: bool,
        by: &str,
    ) -> Result<Directive, Refusal> {
        self.refuse_if_finished()?;
        let next = if full {
            self.plan.last_index()
        } else {
            self.step_index + 1
        };
        self.enter_step(next, now, Some(by));
        Ok(self.tick(now))
    }

    /// A person holds the rollout: the step timer freezes with what is left of it.
    pub fn pause(&mut self, now: DateTime<Utc>, by: &str) -> Result<Directive, Refusal> {
        self.refuse_if_finished()?;
        match &self.stage {
            Stage::Stepping { ends_at } => {
                let remaining_ms =
                    u64::try_from((*ends_at - now).num_milliseconds().max(0)).unwrap_or(0);
                self.stage = Stage::Held {
                    hold: Hold::Human {
                        by: by.to_string(),
                        remaining_ms,
                    },
                };
                Ok(self.tick(now))
            }
            Stage::Judging => Err(Refusal::Judging(self.step_index + 1)),
            Stage::Held {
                hold: Hold::Human { by, .. },
            } => Err(Refusal::AlreadyPaused(by.clone())),
            Stage::Held { hold } => Err(Refusal::HeldForDecision(hold_reason(hold))),
            Stage::Finished { .. } => Err(self.finished_refusal()),
        }
    }

    /// Continues a rollout a person paused; the step runs for the time it had left.
    pub fn resume(&mut self, now: DateTime<Utc>) -> Result<Directive, Refusal> {
        self.refuse_if_finished()?;
        match &self.stage {
            Stage::Held {
                hold: Hold::Human { remaining_ms, .. },
            } => {
                let remaining = chrono::Duration::milliseconds(
                    i64::try_from(*remaining_ms).unwrap_or(i64::MAX / 2),
                );
                self.stage = Stage::Stepping {
                    ends_at: now + remaining,
                };
                Ok(self.tick(now))
            }
            Stage::Held { hold } => Err(Refusal::HeldForDecision(hold_reason(hold))),
            _ => Err(Refusal::NotPaused),
        }
    }

    /// A person sends all traffic back to the stable slot.
    pub fn abort(&mut self, by: &str) -> Result<Directive, Refusal> {
        self.refuse_if_finished()?;
        self.stage = Stage::Finished {
            end: RolloutEnd::Aborted { by: by.to_string() },
        };
        Ok(self.directive())
    }

    /// The engine already sent traffic back (incident rollback, automatic guard, the
    /// canary died): the rollout ends here, whatever stage it was in.
    pub fn settle_rolled_back(&mut self, reason: &str) -> Directive {
        if !self.is_finished() {
            self.stage = Stage::Finished {
                end: RolloutEnd::RolledBack {
                    reason: reason.to_string(),
                },
            };
        }
        self.directive()
    }

    // ---- what faces show ----

    pub fn plan(&self) -> &RolloutPlan {
        &self.plan
    }

    pub fn step_index(&self) -> usize {
        self.step_index
    }

    pub fn step_started(&self) -> DateTime<Utc> {
        self.step_started
    }

    pub fn stage(&self) -> &Stage {
        &self.stage
    }

    pub fn is_finished(&self) -> bool {
        matches!(self.stage, Stage::Finished { .. })
    }

    /// The weight the canary must have now.
    pub fn canary_weight(&self) -> u32 {
        match &self.stage {
            Stage::Finished {
                end: RolloutEnd::Promoted { .. },
            } => 100,
            Stage::Finished { .. } => 0,
            _ => self.plan.weight(self.step_index),
        }
    }

    /// Why nothing moves, when a person must act.
    pub fn held_reason(&self) -> Option<String> {
        match &self.stage {
            Stage::Held { hold } => Some(hold_reason(hold)),
            _ => None,
        }
    }

    /// When the current step ends by itself (none while held or judging).
    pub fn next_step_at(&self) -> Option<DateTime<Utc>> {
        match self.stage {
            Stage::Stepping { ends_at } => Some(ends_at),
            _ => None,
        }
    }

    /// The end, once finished.
    pub fn end(&self) -> Option<&RolloutEnd> {
        match &self.stage {
            Stage::Finished { end } => Some(end),
            _ => None,
        }
    }

    // ---- internals ----

    fn enter_step(&mut self, index: usize, now: DateTime<Utc>, by: Option<&str>) {
        let index = index.min(self.plan.last_index());
        self.step_index = index;
        self.step_started = now;
        self.stage = if self.plan.weight(index) >= 100 {
            Stage::Finished {
                end: RolloutEnd::Promoted {
                    by: by.map(str::to_string),
                },
            }
        } else {
            let interval = chrono::Duration::from_std(self.plan.step_interval)
                .unwrap_or(chrono::Duration::MAX);
            Stage::Stepping {
                ends_at: now.checked_add_signed(interval).unwrap_or(now),
            }
        };
    }

    fn directive(&self) -> Directive {
        let next = match &self.stage {
            Stage::Stepping { ends_at } => Next::WaitUntil(*ends_at),
            Stage::Judging => Next::Judge {
                step_index: self.step_index,
                step_started: self.step_started,
            },
            Stage::Held { hold } => Next::WaitForHuman {
                reason: hold_reason(hold),
            },
            Stage::Finished {
                end: RolloutEnd::Promoted { .. },
            } => Next::FinishPromoted,
            Stage::Finished {
                end: RolloutEnd::Aborted { by },
            } => Next::RollBack {
                reason: format!("aborted by {by}"),
            },
            Stage::Finished {
                end: RolloutEnd::RolledBack { reason },
            } => Next::RollBack {
                reason: reason.clone(),
            },
        };
        Directive {
            canary_weight: self.canary_weight(),
            next,
        }
    }

    fn refuse_if_finished(&self) -> Result<(), Refusal> {
        if self.is_finished() {
            return Err(self.finished_refusal());
        }
        Ok(())
    }

    fn finished_refusal(&self) -> Refusal {
        Refusal::Finished(match self.end() {
            Some(RolloutEnd::Promoted { .. }) => "promoted".to_string(),
            Some(RolloutEnd::Aborted { by }) => format!("aborted by {by}"),
            Some(RolloutEnd::RolledBack { reason }) => format!("rolled back: {reason}"),
            None => "unknown".to_string(),
        })
    }
}

fn hold_reason(hold: &Hold) -> String {
    match hold {
        Hold::Human { by, .. } => format!("paused by {by}"),
        Hold::PauseStep => "pause step: waiting to be promoted".to_string(),
        Hold::Judgement { outcome, summary } => format!("judgement {outcome}: {summary}"),
    }
}
