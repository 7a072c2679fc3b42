//! Canary rollout control: a pure state machine with injected time. It owns where a canary
//! rollout stands (step, pause, when the step ends) and answers every input with what the
//! engine must do next. The engine applies weights, runs the judge and waits; this module
//! never touches a clock, a socket or a process, so every path is unit-tested.

mod controller;
mod judgement;
mod plan;

pub use controller::{Directive, Hold, Next, Refusal, RolloutController, RolloutEnd, Stage};
pub use judgement::{JudgementOutcome, StepJudgement};
pub use plan::RolloutPlan;

#[cfg(test)]
mod tests;
