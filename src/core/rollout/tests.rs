//! The rollout controller, driven with injected time.

use super::*;
use chrono::{DateTime, TimeZone, Utc};
use std::time::Duration;

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + secs, 0)
        .single()
        .expect("valid time")
}

fn plan(steps: &[u32], pause_after: &[usize]) -> RolloutPlan {
    RolloutPlan {
        steps: steps.to_vec(),
        step_interval: Duration::from_secs(10),
        pause_after: pause_after.to_vec(),
    }
}

fn pass() -> StepJudgement {
    StepJudgement::new(JudgementOutcome::Pass, "no analysis configured")
}

/// Ticks to the end of the current step and passes its judgement.
fn walk_step(c: &mut RolloutController, now: DateTime<Utc>) -> Directive {
    let d = c.tick(now);
    let Next::Judge { step_index, .. } = d.next else {
        panic!("expected a judgement at {now}, got {d:?}");
    };
    c.step_judged(step_index, &pass(), now)
}

#[test]
fn a_healthy_canary_walks_every_step_and_is_promoted() {
    let (mut c, d) = RolloutController::start(plan(&[5, 25, 50, 100], &[]), t(0));
    assert_eq!(d.canary_weight, 5);
    assert_eq!(d.next, Next::WaitUntil(t(10)));
    // Before the step ends, a tick only repeats the wait.
    assert_eq!(c.tick(t(9)).next, Next::WaitUntil(t(10)));
    assert_eq!(
        c.tick(t(10)).next,
        Next::Judge {
            step_index: 0,
            step_started: t(0)
        }
    );
    let d = c.step_judged(0, &pass(), t(10));
    assert_eq!((d.canary_weight, d.next), (25, Next::WaitUntil(t(20))));
    let d = walk_step(&mut c, t(20));
    assert_eq!((d.canary_weight, d.next), (50, Next::WaitUntil(t(30))));
    let d = walk_step(&mut c, t(31));
    assert_eq!((d.canary_weight, d.next), (100, Next::FinishPromoted));
    assert_eq!(c.end(), Some(&RolloutEnd::Promoted { by: None }));
    assert_eq!(c.step_index(), 3);
}

#[test]
fn a_pause_step_waits_for_promote_and_then_goes_on() {
    let (mut c, _) = RolloutController::start(plan(&[5, 25, 50, 100], &[1]), t(0));
    walk_step(&mut c, t(10));
    let d = walk_step(&mut c, t(20));
    assert_eq!(d.canary_weight, 25);
    assert!(matches!(d.next, Next::WaitForHuman { ref reason } if reason.contains("pause step")));
    // Time passing changes nothing while held, and resume is not the way on.
    assert_eq!(c.tick(t(5000)), d);
    assert!(matches!(
        c.resume(t(5000)),
        Err(Refusal::HeldForDecision(_))
    ));
    assert!(matches!(
        c.pause(t(5000), "cli"),
        Err(Refusal::HeldForDecision(_))
    ));
    let d = c.promote(t(5000), false, "cli").expect("promote");
    assert_eq!((d.canary_weight, d.next), (50, Next::WaitUntil(t(5010))));
    let d = walk_step(&mut c, t(5010));
    assert_eq!((d.canary_weight, d.next), (100, Next::FinishPromoted));
}

#[test]
fn pause_freezes_the_step_timer_and_resume_continues_it() {
    let (mut c, _) = RolloutController::start(plan(&[10, 100], &[]), t(0));
    let d = c.pause(t(4), "cli").expect("pause");
    assert_eq!(d.canary_weight, 10);
    assert_eq!(c.held_reason().as_deref(), Some("paused by cli"));
    assert_eq!(c.next_step_at(), None);
    // An hour later the step has still not ended.
    assert!(matches!(c.tick(t(3600)).next, Next::WaitForHuman { .. }));
    assert!(matches!(c.pause(t(3600), "tui"), Err(Refusal::AlreadyPaused(by)) if by == "cli"));
    // 6 of 10 seconds were left.
    let d = c.resume(t(3600)).expect("resume");
    assert_eq!(d.next, Next::WaitUntil(t(3606)));
    assert_eq!(c.tick(t(3605)).next, Next::WaitUntil(t(3606)));
    assert!(matches!(c.tick(t(3606)).next, Next::Judge { .. }));
    assert_eq!(c.resume(t(3606)), Err(Refusal::NotPaused));
}

#[test]
fn promote_at_any_step_with_full_jumps_to_all_traffic() {
    for at in 0..3 {
        let (mut c, _) = RolloutController::start(plan(&[5, 25, 50, 100], &[]), t(0));
        for i in 0..at {
            walk_step(&mut c, t(10 * (i as i64 + 1)));
        }
        let d = c.promote(t(100), true, "cli").expect("promote");
        assert_eq!(
            (d.canary_weight, d.next),
            (100, Next::FinishPromoted),
            "at {at}"
        );
        assert_eq!(
            c.end(),
            Some(&RolloutEnd::Promoted {
                by: Some("cli".to_string())
            })
        );
        assert!(matches!(
            c.promote(t(101), true, "cli"),
            Err(Refusal::Finished(_))
        ));
    }
}

#[test]
fn promote_cuts_a_running_step_short_and_a_paused_one_too() {
    let (mut c, _) = RolloutController::start(plan(&[5, 25, 100], &[]), t(0));
    let d = c.promote(t(3), false, "cli").expect("promote");
    assert_eq!((d.canary_weight, d.next), (25, Next::WaitUntil(t(13))));
    c.pause(t(5), "cli").expect("pause");
    let d = c.promote(t(6), false, "cli").expect("promote");
    assert_eq!((d.canary_weight, d.next), (100, Next::FinishPromoted));
}

#[test]
fn abort_at_any_step_goes_back_to_stable() {
    for at in 0..3 {
        let (mut c, _) = RolloutController::start(plan(&[5, 25, 50, 100], &[1]), t(0));
        for i in 0..at {
            walk_step(&mut c, t(10 * (i as i64 + 1)));
        }
        let d = c.abort("cli").expect("abort");
        assert_eq!(d.canary_weight, 0, "at {at}");
        assert_eq!(
            d.next,
            Next::RollBack {
                reason: "aborted by cli".to_string()
            }
        );
        assert_eq!(
            c.abort("cli"),
            Err(Refusal::Finished("aborted by cli".into()))
        );
        assert!(c.resume(t(100)).is_err());
        // Later ticks keep saying the same: the engine can repeat it after a restart.
        assert_eq!(c.tick(t(1000)), d);
    }
    // Abort while paused and while judging, too.
    let (mut c, _) = RolloutController::start(plan(&[5, 100], &[]), t(0));
    c.pause(t(1), "cli").expect("pause");
    assert_eq!(c.abort("tui").expect("abort").canary_weight, 0);
    let (mut c, _) = RolloutController::start(plan(&[5, 100], &[]), t(0));
    assert!(matches!(c.tick(t(10)).next, Next::Judge { .. }));
    assert_eq!(c.pause(t(10), "cli"), Err(Refusal::Judging(1)));
    assert_eq!(c.abort("cli").expect("abort").canary_weight, 0);
    // The judgement arriving afterwards is stale.
    let d = c.step_judged(0, &pass(), t(11));
    assert!(matches!(d.next, Next::RollBack { .. }));
}

#[test]
fn a_failed_judgement_rolls_back_with_its_summary() {
    let (mut c, _) = RolloutController::start(plan(&[5, 25, 100], &[]), t(0));
    c.tick(t(10));
    let fail = StepJudgement::new(JudgementOutcome::Fail, "p99 3x the baseline");
    let d = c.step_judged(0, &fail, t(10));
    assert_eq!(d.canary_weight, 0);
    assert!(
        matches!(d.next, Next::RollBack { ref reason } if reason.contains("p99 3x the baseline") && reason.contains("step 1"))
    );
    assert!(matches!(c.end(), Some(RolloutEnd::RolledBack { .. })));
}

#[test]
fn marginal_and_inconclusive_hold_with_the_reason_never_pass_silently() {
    for outcome in [JudgementOutcome::Marginal, JudgementOutcome::Inconclusive] {
        let judgement = StepJudgement::new(outcome, "inconclusive: 12 of 50 samples");
        // Go on anyway.
        let (mut c, _) = RolloutController::start(plan(&[5, 25, 100], &[]), t(0));
        c.tick(t(10));
        let d = c.step_judged(0, &judgement, t(10));
        assert_eq!(d.canary_weight, 5);
        let Next::WaitForHuman { reason } = &d.next else {
            panic!("{outcome}: expected a hold, got {d:?}");
        };
        assert!(
            reason.contains(outcome.as_str()) && reason.contains("12 of 50"),
            "{reason}"
        );
        assert_eq!(
            c.tick(t(99_999)),
            d,
            "{outcome}: time alone never passes it"
        );
        assert!(matches!(c.resume(t(20)), Err(Refusal::HeldForDecision(_))));
        let d = c.promote(t(20), false, "cli").expect("promote");
        assert_eq!((d.canary_weight, d.next), (25, Next::WaitUntil(t(30))));
        // Or abort.
        let (mut c, _) = RolloutController::start(plan(&[5, 25, 100], &[]), t(0));
        c.tick(t(10));
        c.step_judged(0, &judgement, t(10));
        assert_eq!(c.abort("cli").expect("abort").canary_weight, 0);
    }
}

#[test]
fn settling_after_an_incident_rollback_ends_the_rollout() {
    let (mut c, _) = RolloutController::start(plan(&[5, 25, 100], &[]), t(0));
    let d = c.settle_rolled_back("incident rollback by cli");
    assert_eq!(d.canary_weight, 0);
    assert_eq!(
        c.end(),
        Some(&RolloutEnd::RolledBack {
            reason: "incident rollback by cli".into()
        })
    );
    // A finished rollout keeps its end.
    c.settle_rolled_back("again");
    assert!(
        matches!(c.end(), Some(RolloutEnd::RolledBack { reason }) if reason.contains("incident"))
    );
}

#[test]
fn stale_judgements_change_nothing() {
    let (mut c, _) = RolloutController::start(plan(&[5, 25, 100], &[]), t(0));
    // Not judging yet.
    assert_eq!(c.step_judged(0, &pass(), t(1)).next, Next::WaitUntil(t(10)));
    c.tick(t(10));
    // Wrong step.
    assert!(matches!(
        c.step_judged(3, &pass(), t(10)).next,
        Next::Judge { .. }
    ));
}

#[test]
fn the_state_survives_serialisation_mid_step() {
    let (mut c, _) = RolloutController::start(plan(&[5, 25, 100], &[0]), t(0));
    c.pause(t(3), "cli").expect("pause");
    let json = serde_json::to_string(&c).expect("serialise");
    let mut back: RolloutController = serde_json::from_str(&json).expect("deserialise");
    assert_eq!(back, c);
    assert_eq!(
        back.resume(t(100)).expect("resume").next,
        Next::WaitUntil(t(107))
    );
}

#[test]
fn malformed_plans_still_end_at_all_traffic() {
    let (c, d) = RolloutController::start(plan(&[], &[]), t(0));
    assert_eq!((d.canary_weight, d.next), (100, Next::FinishPromoted));
    assert_eq!(c.plan().steps, [100]);
    let (c, _) = RolloutController::start(plan(&[0, 30, 30], &[5]), t(0));
    assert_eq!(c.plan().steps, [30, 100]);
    assert!(c.plan().pause_after.is_empty());
}

#[test]
fn a_zero_interval_judges_at_once() {
    let mut p = plan(&[50, 100], &[]);
    p.step_interval = Duration::ZERO;
    let (mut c, d) = RolloutController::start(p, t(0));
    assert!(matches!(d.next, Next::Judge { step_index: 0, .. }));
    assert_eq!(c.step_judged(0, &pass(), t(0)).next, Next::FinishPromoted);
}
