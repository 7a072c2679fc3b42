//! The router's phrasebook: each row a request as people type it, and the intent it must
//! be. The rows that only mention an action (negations, questions, hypotheticals, the
//! past) must never come out as a proposal.

use super::*;
use crate::core::types::SlotName::{Blue, Green};

/// checkout runs a canary (green 3.1.0 at 10 %, blue 3.0.0 stable at 90 %);
/// expense-tracker serves 1.4.0 on blue with 1.3.0 warm on green.
pub(crate) fn report() -> StatusReport {
    let slot = |slot: &str, version: &str, weight: u32| {
        serde_json::json!({
            "slot": slot, "version": version, "process_state": "running", "health": "healthy",
            "health_detail": "GET /health: 200", "pid": 4242, "port": 41000, "weight": weight,
            "restarts": 0, "started_at": "2026-11-22T02:50:00Z", "warm_until": null,
            "cpu_percent": 1.5, "rss_bytes": 12_000_000,
            "metrics": {"rps": 40.0, "error_rate": 0.002, "p50_ms": 2.0, "p95_ms": 5.0, "p99_ms": 9.0,
                        "requests_total": 1000, "errors_total": 2, "window_requests": 400, "series": []}
        })
    };
    serde_json::from_value(serde_json::json!({
        "engine": {"pid": 1, "naap_version": "0.1.0", "workspace": "/srv/ops", "started_at": "2026-11-22T02:00:00Z",
                   "router": "127.0.0.1:8080", "admin": null},
        "plugins": [
            {"name": "expense-tracker", "route": "/expenses", "manifest_version": "1.4.0", "strategy": "blue-green",
             "live_version": "1.4.0", "slots": [slot("blue", "1.4.0", 100), slot("green", "1.3.0", 0)], "rollout": null},
            {"name": "checkout", "route": "/checkout", "manifest_version": "3.1.0", "strategy": "canary",
             "live_version": "3.0.0", "slots": [slot("blue", "3.0.0", 90), slot("green", "3.1.0", 10)],
             "rollout": {"id": 7, "strategy": "canary", "to_slot": "green", "to_version": "3.1.0",
                         "phase": "step 1/3: 10%", "started_at": "2026-11-22T02:58:00Z",
                         "step_index": 0, "steps": [10, 50, 100], "weight": 10}}
        ]
    }))
    .expect("a valid status report")
}

pub(crate) const C: &str = "checkout";
const E: &str = "expense-tracker";

fn change(p: &str, instruction: &str) -> Intent {
    Intent::Change {
        plugin: p.into(),
        instruction: instruction.into(),
    }
}
fn retry(p: &str, instruction: &str) -> Intent {
    Intent::Retry {
        plugin: p.into(),
        instruction: instruction.into(),
    }
}
fn rollback(p: &str) -> Intent {
    Intent::Rollback { plugin: p.into() }
}
fn promote(p: &str) -> Intent {
    Intent::Promote { plugin: p.into() }
}
fn finish(p: &str) -> Intent {
    Intent::Finish { plugin: p.into() }
}
fn abort(p: &str) -> Intent {
    Intent::Abort { plugin: p.into() }
}
fn pause(p: &str) -> Intent {
    Intent::Pause { plugin: p.into() }
}
fn resume(p: &str) -> Intent {
    Intent::Resume { plugin: p.into() }
}
fn traffic(p: &str, slot: SlotWord, percent: u32) -> Intent {
    Intent::Traffic {
        plugin: p.into(),
        slot,
        percent,
    }
}
fn deploy(p: &str, version: &str) -> Intent {
    Intent::Deploy {
        plugin: p.into(),
        version: version.into(),
    }
}
fn explain(p: &str, action: Action) -> Intent {
    Intent::Explain {
        plugin: p.into(),
        action,
    }
}
fn declined(p: &str, action: Action) -> Intent {
    Intent::Declined {
        plugin: Some(p.into()),
        action,
    }
}
fn history(p: &str, about: Option<Action>) -> Intent {
    Intent::History {
        plugin: p.into(),
        about,
    }
}
fn metric(p: &str, measure: Measure, slot: Option<SlotWord>) -> Intent {
    Intent::Metric {
        plugin: p.into(),
        measure,
        slot,
    }
}
fn moved(slot: SlotWord, percent: Option<u32>) -> Action {
    Action::Traffic {
        slot: Some(slot),
        percent,
    }
}
fn ship(version: Option<&str>) -> Action {
    Action::Deploy {
        version: version.map(str::to_string),
    }
}

const GREEN: SlotWord = SlotWord::Slot(Green);
const BLUE: SlotWord = SlotWord::Slot(Blue);
const CANARY: SlotWord = SlotWord::Canary;
const STABLE: SlotWord = SlotWord::Stable;

/// `(request, intent)` with checkout in view.
pub(crate) fn table() -> Vec<(&'static str, Intent)> {
    use Action as A;
    use Measure as M;
    vec![
        // Rollback, asked for.
        ("roll back expense-tracker", rollback(E)),
        ("please rollback", rollback(C)),
        ("revert checkout", rollback(C)),
        ("undo the last deploy of expense-tracker", rollback(E)),
        ("go back to the previous version", rollback(C)),
        (
            "restore the previous version of expense-tracker",
            rollback(E),
        ),
        ("roll it back", rollback(C)),
        ("roll expense-tracker back", rollback(E)),
        ("revert to the old version", rollback(C)),
        ("switch back to the old version", rollback(C)),
        ("I want expense-tracker rolled back", rollback(E)),
        ("we need to roll back checkout now", rollback(C)),
        ("let's revert", rollback(C)),
        ("downgrade expense-tracker", rollback(E)),
        ("bring back the old version", rollback(C)),
        ("can you roll back expense-tracker?", rollback(E)),
        ("could you please revert checkout", rollback(C)),
        ("roll this back", rollback(C)),
        ("back out the last release", rollback(C)),
        ("rollback expense-tracker asap", rollback(E)),
        ("roll back to the previous version, quickly", rollback(C)),
        ("ROLL BACK EXPENSE-TRACKER!", rollback(E)),
        ("go back to the last good version", rollback(C)),
        ("restore expense-tracker", rollback(E)),
        (
            "switch expense tracker to the previous version",
            rollback(E),
        ),
        ("roll back checkout's canary", rollback(C)),
        // Rollback, only mentioned.
        (
            "please don't roll back expense-tracker",
            declined(E, A::Rollback),
        ),
        ("is it safe to roll back checkout?", explain(C, A::Rollback)),
        ("what would a rollback do?", explain(C, A::Rollback)),
        ("do not roll back", declined(C, A::Rollback)),
        ("never revert expense-tracker", declined(E, A::Rollback)),
        (
            "if I rolled back, would traffic go to blue?",
            explain(C, A::Rollback),
        ),
        (
            "what happens if I roll back expense-tracker",
            explain(E, A::Rollback),
        ),
        ("did it roll back?", history(C, Some(A::Rollback))),
        ("why did checkout roll back?", history(C, Some(A::Rollback))),
        (
            "was expense-tracker rolled back?",
            history(E, Some(A::Rollback)),
        ),
        ("has checkout been reverted", history(C, Some(A::Rollback))),
        ("should I roll back?", explain(C, A::Rollback)),
        ("should we revert expense-tracker", explain(E, A::Rollback)),
        ("can I roll back checkout", explain(C, A::Rollback)),
        ("I don't want to roll back", declined(C, A::Rollback)),
        (
            "no need to roll back expense-tracker",
            declined(E, A::Rollback),
        ),
        ("no rollback please", declined(C, A::Rollback)),
        ("roll back?", explain(C, A::Rollback)),
        (
            "how do I roll back expense-tracker",
            explain(E, A::Rollback),
        ),
        (
            "when did the last rollback happen",
            history(C, Some(A::Rollback)),
        ),
        ("any rollbacks today?", history(C, Some(A::Rollback))),
        ("it rolled back an hour ago", history(C, Some(A::Rollback))),
        (
            "who rolled back expense-tracker",
            history(E, Some(A::Rollback)),
        ),
        ("don't revert, it is fine", declined(C, A::Rollback)),
        ("would a rollback be safe", explain(C, A::Rollback)),
        ("what does roll back mean", explain(C, A::Rollback)),
        ("a rollback would be a bad idea", explain(C, A::Rollback)),
        ("hold off on the rollback", declined(C, A::Rollback)),
        ("what if we reverted checkout", explain(C, A::Rollback)),
        ("suppose I undo the deploy", explain(C, A::Rollback)),
        ("roll back if errors go above 5%", explain(C, A::Rollback)),
        ("isn't it time to roll back?", explain(C, A::Rollback)),
        ("shouldn't we roll back?", explain(C, A::Rollback)),
        ("don’t roll back expense-tracker", declined(E, A::Rollback)),
        ("dont rollback", declined(C, A::Rollback)),
        ("roll back once the errors stop", explain(C, A::Rollback)),
        // Two actions: the plain request wins over the negated one.
        ("instead of rolling back, pause the canary", pause(C)),
        ("don't roll back checkout, pause it", pause(C)),
        ("rather than rolling back, let's abort", abort(C)),
        // Promote.
        ("promote checkout", promote(C)),
        ("promote the canary", promote(C)),
        ("advance the canary", promote(C)),
        ("go to the next step", promote(C)),
        ("skip the wait", promote(C)),
        ("move the rollout forward", promote(C)),
        ("promote it", promote(C)),
        ("step up the canary", promote(C)),
        ("can you promote the canary?", promote(C)),
        ("should I promote?", explain(C, A::Promote)),
        ("do not promote", declined(C, A::Promote)),
        ("don't promote expense-tracker", declined(E, A::Promote)),
        ("what would promoting do", explain(C, A::Promote)),
        ("did checkout get promoted?", history(C, Some(A::Promote))),
        ("is it ok to promote?", explain(C, A::Promote)),
        // Finish.
        ("finish the rollout", finish(C)),
        ("complete the canary", finish(C)),
        ("go to 100", finish(C)),
        ("promote fully", finish(C)),
        ("promote all the way", finish(C)),
        ("take it all the way", finish(C)),
        ("wrap up the rollout", finish(C)),
        ("go straight to 100%", finish(C)),
        ("don't finish the rollout yet", declined(C, A::Finish)),
        ("what if I finish the canary now?", explain(C, A::Finish)),
        ("has the rollout finished?", history(C, Some(A::Finish))),
        // Abort.
        ("abort the canary", abort(C)),
        ("cancel the rollout", abort(C)),
        ("stop the canary", abort(C)),
        ("kill the canary", abort(C)),
        ("call off the rollout", abort(C)),
        ("scrap the deploy", abort(C)),
        ("give up on the canary", abort(C)),
        ("back out of the canary", abort(C)),
        ("pull the plug on the canary", abort(C)),
        ("don't abort", declined(C, A::Abort)),
        ("should I abort the canary?", explain(C, A::Abort)),
        ("was the rollout aborted?", history(C, Some(A::Abort))),
        // Pause.
        ("pause the rollout", pause(C)),
        ("halt the canary", pause(C)),
        ("freeze the rollout", pause(C)),
        ("hold the canary where it is", pause(C)),
        ("put the rollout on hold", pause(C)),
        ("suspend the rollout", pause(C)),
        ("stop at this step", pause(C)),
        ("do not pause", declined(C, A::Pause)),
        ("why did it pause?", history(C, Some(A::Pause))),
        ("is it paused?", history(C, Some(A::Pause))),
        // Resume.
        ("resume", resume(C)),
        ("continue the rollout", resume(C)),
        ("carry on", resume(C)),
        ("unpause", resume(C)),
        ("keep going", resume(C)),
        ("proceed", resume(C)),
        ("release the hold", resume(C)),
        ("let it continue", resume(C)),
        ("should I resume?", explain(C, A::Resume)),
        ("don't resume yet", declined(C, A::Resume)),
        // Traffic.
        ("shift 25% to green", traffic(C, GREEN, 25)),
        (
            "send 10 percent of expense-tracker to the canary",
            traffic(E, CANARY, 10),
        ),
        ("put all traffic on blue", traffic(C, BLUE, 100)),
        ("give 25 percent to green", traffic(C, GREEN, 25)),
        ("green to 25%", traffic(C, GREEN, 25)),
        ("25% on the canary", traffic(C, CANARY, 25)),
        ("move everything off the canary", traffic(C, CANARY, 0)),
        ("drain green", traffic(C, GREEN, 0)),
        ("route 50% to blue", traffic(C, BLUE, 50)),
        ("send half the traffic to green", traffic(C, GREEN, 50)),
        ("bump the canary to 30%", traffic(C, CANARY, 30)),
        ("bump the canary by 10%", traffic(C, CANARY, 20)),
        ("increase green by 5 percent", traffic(C, GREEN, 15)),
        ("reduce the canary by 5%", traffic(C, CANARY, 5)),
        ("move 10% from blue to green", traffic(C, GREEN, 20)),
        ("take all traffic away from green", traffic(C, GREEN, 0)),
        ("stop sending traffic to green", traffic(C, GREEN, 0)),
        ("set blue to 75%", traffic(C, BLUE, 75)),
        ("switch to green", traffic(C, GREEN, 100)),
        ("give the canary 100%", traffic(C, CANARY, 100)),
        ("green 30%", traffic(C, GREEN, 30)),
        ("put 5% on the new version", traffic(C, CANARY, 5)),
        ("send twenty five percent to green", traffic(C, GREEN, 25)),
        (
            "send a quarter of the traffic to blue",
            traffic(C, BLUE, 25),
        ),
        ("route nothing to green", traffic(C, GREEN, 0)),
        ("move everything to stable", traffic(C, STABLE, 100)),
        ("drain the canary of expense-tracker", traffic(E, CANARY, 0)),
        ("give green of expense-tracker 40 %", traffic(E, GREEN, 40)),
        (
            "don't send any traffic to green",
            declined(C, moved(GREEN, None)),
        ),
        (
            "what would 50% on green do?",
            explain(C, moved(GREEN, Some(50))),
        ),
        (
            "is it safe to give the canary 50%?",
            explain(C, moved(CANARY, Some(50))),
        ),
        (
            "who moved traffic to green?",
            history(C, Some(moved(GREEN, None))),
        ),
        (
            "never move everything off the canary",
            declined(C, moved(CANARY, Some(0))),
        ),
        // Deploy.
        ("deploy checkout v2.5.0", deploy(C, "2.5.0")),
        ("ship 3.2.0", deploy(C, "3.2.0")),
        ("release version 3.2.0 of checkout", deploy(C, "3.2.0")),
        ("roll out 3.2.0", deploy(C, "3.2.0")),
        ("push 1.5.0 to expense-tracker", deploy(E, "1.5.0")),
        ("upgrade expense-tracker to 1.5", deploy(E, "1.5")),
        ("launch 2.0.0 on checkout", deploy(C, "2.0.0")),
        ("deploy 2.0 to expense-tracker", deploy(E, "2.0")),
        ("never deploy 2.0", declined(C, ship(Some("2.0")))),
        ("deploy checkout", Intent::Unknown),
        ("should I ship 3.2.0?", explain(C, ship(Some("3.2.0")))),
        ("when was the last deploy?", history(C, Some(ship(None)))),
        ("what did we deploy yesterday", history(C, Some(ship(None)))),
        ("don't ship it", declined(C, ship(None))),
        (
            "what happens if I deploy 3.2.0",
            explain(C, ship(Some("3.2.0"))),
        ),
        ("any deploys today?", history(C, Some(ship(None)))),
        // Measured as unseen phrasings first (54 of 64 right), then taught.
        ("revert expense-tracker to what it was before", rollback(E)),
        ("take checkout back to 3.0.0", rollback(C)),
        ("get rid of the canary", abort(C)),
        ("we're done with this canary, end it", abort(C)),
        ("ramp the canary up to 50%", traffic(C, CANARY, 50)),
        ("dial green down to 5 percent", traffic(C, GREEN, 5)),
        ("give blue everything", traffic(C, BLUE, 100)),
        ("I'd like to promote the canary", promote(C)),
        ("go ahead and promote", promote(C)),
        ("yes, roll back expense-tracker", rollback(E)),
        ("roll back checkout right now please", rollback(C)),
        (
            "don't you dare roll back expense-tracker",
            declined(E, A::Rollback),
        ),
        ("would rolling back help?", explain(C, A::Rollback)),
        ("how risky is a promote right now", explain(C, A::Promote)),
        ("what's the downside of aborting", explain(C, A::Abort)),
        ("tell me what a promote does", explain(C, A::Promote)),
        ("rolled back already?", history(C, Some(A::Rollback))),
        ("has anyone deployed today", history(C, Some(ship(None)))),
        ("show me recent rollbacks", history(C, Some(A::Rollback))),
        ("last time we shipped?", history(C, Some(ship(None)))),
        ("p99?", metric(C, M::P99, None)),
        (
            "how's the error rate on green",
            metric(C, M::ErrorRate, Some(GREEN)),
        ),
        (
            "what is the latency like for expense-tracker",
            metric(E, M::Latency, None),
        ),
        ("requests/sec?", metric(C, M::Rps, None)),
        ("is checkout ok?", Intent::Status { plugin: C.into() }),
        ("is the canary healthy", metric(C, M::Health, Some(CANARY))),
        (
            "shift all of expense-tracker to green",
            traffic(E, GREEN, 100),
        ),
        ("put the canary at 50", traffic(C, CANARY, 50)),
        ("send 5% more to green", traffic(C, GREEN, 15)),
        ("go live with 3.2.0", deploy(C, "3.2.0")),
        ("can you deploy 3.2.0 to checkout", deploy(C, "3.2.0")),
        ("release 3.2.0", deploy(C, "3.2.0")),
        ("let's ship v3.2.0 of checkout", deploy(C, "3.2.0")),
        ("don't deploy anything", declined(C, ship(None))),
        ("pause it", pause(C)),
        ("wait, hold the rollout", pause(C)),
        ("resume checkout's rollout", resume(C)),
        ("un-pause", resume(C)),
        ("let the canary continue", resume(C)),
        ("finish it", finish(C)),
        ("take the canary to 100%", traffic(C, CANARY, 100)),
        ("we should promote", promote(C)),
        ("promote? yes or no", explain(C, A::Promote)),
        ("cancel", abort(C)),
        ("nope, don't promote", declined(C, A::Promote)),
        (
            "what would happen to traffic if I abort",
            explain(C, A::Abort),
        ),
        ("is it too early to promote?", explain(C, A::Promote)),
        (
            "any idea why it rolled back?",
            history(C, Some(A::Rollback)),
        ),
        ("why was the canary aborted", history(C, Some(A::Abort))),
        ("how did the last rollout go", history(C, None)),
        (
            "what's going on with checkout",
            Intent::Status { plugin: C.into() },
        ),
        ("move the canary to 0", traffic(C, CANARY, 0)),
        ("zero traffic to green", traffic(C, GREEN, 0)),
        ("route everything to blue", traffic(C, BLUE, 100)),
        (
            "please send no traffic to the canary",
            traffic(C, CANARY, 0),
        ),
        ("rollback pls", rollback(C)),
        ("put expense-tracker back on 1.3.0", rollback(E)),
        ("can we go back to blue?", explain(C, A::Rollback)),
        (
            "what are the p95 numbers for blue",
            metric(C, M::P95, Some(BLUE)),
        ),
        (
            "how much memory is checkout using",
            metric(C, M::Memory, None),
        ),
        (
            "is anything failing?",
            Intent::WhyFailing { plugin: C.into() },
        ),
        ("anything broken?", Intent::WhyFailing { plugin: C.into() }),
        ("canary looks bad, abort", abort(C)),
        ("if the canary looks bad, abort", explain(C, A::Abort)),
        // A second set measured unseen first (39 of 44 right), then taught.
        ("flip expense-tracker back", rollback(E)),
        ("roll back the canary now", rollback(C)),
        ("go back", rollback(C)),
        ("revert please", rollback(C)),
        ("would you roll back expense-tracker", rollback(E)),
        ("I think we need a rollback", rollback(C)),
        ("rollback now!!", rollback(C)),
        ("not now, don't roll back", declined(C, A::Rollback)),
        ("leave it, do not revert", declined(C, A::Rollback)),
        (
            "what would reverting expense-tracker change",
            explain(E, A::Rollback),
        ),
        (
            "was there a rollback last night",
            history(C, Some(A::Rollback)),
        ),
        (
            "did naap revert checkout automatically?",
            history(C, Some(A::Rollback)),
        ),
        ("promote the canary to the next step", promote(C)),
        ("next step please", promote(C)),
        ("speed up the rollout", promote(C)),
        ("don't promote yet", declined(C, A::Promote)),
        ("why hasn't it been promoted", history(C, Some(A::Promote))),
        ("abort!", abort(C)),
        ("cancel the canary of checkout", abort(C)),
        ("stop this rollout", abort(C)),
        ("pause checkout", pause(C)),
        ("freeze it", pause(C)),
        ("hold", pause(C)),
        ("resume the canary", resume(C)),
        ("continue please", resume(C)),
        ("send 20% to the canary", traffic(C, CANARY, 20)),
        ("make green 40%", traffic(C, GREEN, 40)),
        ("set the canary weight to 15", traffic(C, CANARY, 15)),
        ("shift traffic to blue", Intent::Unknown),
        (
            "route 100% of expense-tracker to blue",
            traffic(E, BLUE, 100),
        ),
        ("take green out of rotation", traffic(C, GREEN, 0)),
        ("deploy 3.2.0", deploy(C, "3.2.0")),
        ("ship expense-tracker 1.5.0", deploy(E, "1.5.0")),
        ("please deploy version 2.1 to checkout", deploy(C, "2.1")),
        ("do not ship 3.2.0", declined(C, ship(Some("3.2.0")))),
        ("what version is deployed?", history(C, Some(ship(None)))),
        ("errors?", metric(C, M::ErrorRate, None)),
        ("latency of blue", metric(C, M::Latency, Some(BLUE))),
        ("what's the load on checkout", metric(C, M::Rps, None)),
        (
            "how many errors on the canary",
            metric(C, M::ErrorRate, Some(CANARY)),
        ),
        ("is expense-tracker up?", metric(E, M::Health, None)),
        (
            "what is happening with checkout",
            Intent::Status { plugin: C.into() },
        ),
        (
            "show the logs with errors",
            Intent::ShowErrors {
                plugin: C.into(),
                slot: None,
            },
        ),
        ("what broke?", Intent::WhyFailing { plugin: C.into() }),
        // Reports on an action, and a request after one.
        ("the rollback worked, thanks", history(C, Some(A::Rollback))),
        (
            "thanks for rolling back expense-tracker",
            history(E, Some(A::Rollback)),
        ),
        ("deploy failed", history(C, Some(ship(None)))),
        ("the deploy failed, roll back", rollback(C)),
        ("thanks, now promote", promote(C)),
        // Numbers.
        ("what's the p99 of checkout", metric(C, M::P99, None)),
        ("error rate?", metric(C, M::ErrorRate, None)),
        ("how many requests per second", metric(C, M::Rps, None)),
        ("is it healthy", metric(C, M::Health, None)),
        ("latency", metric(C, M::Latency, None)),
        ("what is the p95 on green", metric(C, M::P95, Some(GREEN))),
        ("how fast is expense-tracker", metric(E, M::Latency, None)),
        (
            "what's the canary's error rate",
            metric(C, M::ErrorRate, Some(CANARY)),
        ),
        ("rps for expense-tracker", metric(E, M::Rps, None)),
        (
            "how much traffic does green get",
            metric(C, M::Weight, Some(GREEN)),
        ),
        ("what's the split", metric(C, M::Weight, None)),
        ("cpu usage of checkout", metric(C, M::Cpu, None)),
        ("memory?", metric(C, M::Memory, None)),
        ("how many restarts", metric(C, M::Restarts, None)),
        (
            "median latency on the canary",
            metric(C, M::P50, Some(CANARY)),
        ),
        ("is green healthy?", metric(C, M::Health, Some(GREEN))),
        (
            "why is the canary at 10%?",
            metric(C, M::Weight, Some(CANARY)),
        ),
        ("throughput of expense-tracker", metric(E, M::Rps, None)),
        // Why, errors, status, history, help.
        (
            "why is checkout failing?",
            Intent::WhyFailing { plugin: C.into() },
        ),
        (
            "what's wrong with expense-tracker",
            Intent::WhyFailing { plugin: E.into() },
        ),
        ("why is it slow", Intent::WhyFailing { plugin: C.into() }),
        (
            "investigate expense-tracker",
            Intent::WhyFailing { plugin: E.into() },
        ),
        (
            "show errors from the canary",
            Intent::ShowErrors {
                plugin: C.into(),
                slot: Some(CANARY),
            },
        ),
        (
            "show me the errors",
            Intent::ShowErrors {
                plugin: C.into(),
                slot: None,
            },
        ),
        (
            "any errors on green?",
            Intent::ShowErrors {
                plugin: C.into(),
                slot: Some(GREEN),
            },
        ),
        (
            "how is expense-tracker doing",
            Intent::Status { plugin: E.into() },
        ),
        ("status", Intent::Status { plugin: C.into() }),
        ("what happened to checkout?", history(C, None)),
        ("what changed recently", history(C, None)),
        ("show the history of expense-tracker", history(E, None)),
        ("help", Intent::Help),
        ("what can you do?", Intent::Help),
        ("hello", Intent::Help),
        ("make it faster", Intent::Unknown),
        // Changes to the code: for iterate.
        (
            "make /api/items return the newest first",
            change(C, "make /api/items return the newest first"),
        ),
        (
            "add a created_at field to expense-tracker's expenses",
            change(E, "add a created_at field to expense-tracker's expenses"),
        ),
        (
            "iterate expense-tracker: reject amounts below zero",
            change(E, "reject amounts below zero"),
        ),
        ("iterate log each refund", change(C, "log each refund")),
        ("should I add a field?", Intent::Unknown),
        (
            "make /api/items return an empty list instead of the old error",
            change(
                C,
                "make /api/items return an empty list instead of the old error",
            ),
        ),
        ("make green take 50%", traffic(C, SlotWord::Slot(Green), 50)),
        (
            "return expense-tracker to the previous version",
            rollback(E),
        ),
        ("try again", retry(C, "")),
        (
            "try again, keep the old order for empty lists",
            retry(C, "keep the old order for empty lists"),
        ),
        ("retry expense-tracker", retry(E, "")),
        ("", Intent::Unknown),
        ("   ", Intent::Unknown),
        ("the weather is nice", Intent::Unknown),
    ]
}

pub(crate) fn is_proposal(intent: &Intent) -> bool {
    matches!(
        intent,
        Intent::Rollback { .. }
            | Intent::Promote { .. }
            | Intent::Finish { .. }
            | Intent::Abort { .. }
            | Intent::Pause { .. }
            | Intent::Resume { .. }
            | Intent::Traffic { .. }
            | Intent::Deploy { .. }
    )
}

#[test]
fn every_phrasing_in_the_table_is_read_as_its_intent() {
    let r = report();
    let rows = table();
    assert!(rows.len() >= 150, "{} rows", rows.len());
    let wrong: Vec<String> = rows
        .iter()
        .filter_map(|(text, want)| {
            let got = parse(text, Some(&r), Some(C));
            (got != *want).then(|| format!("{text:?}\n    want {want:?}\n    got  {got:?}"))
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "{} of {} rows wrong:\n{}",
        wrong.len(),
        rows.len(),
        wrong.join("\n")
    );
}

#[test]
fn a_request_that_only_mentions_an_action_is_never_a_proposal() {
    let r = report();
    for text in [
        "please don't roll back expense-tracker",
        "is it safe to roll back checkout?",
        "what would a rollback do?",
        "should I promote?",
        "do not promote",
        "never deploy 2.0",
        "if I rolled back, what would happen?",
        "what happens if I abort?",
        "did it roll back?",
        "why did it roll back?",
        "when was the last deploy?",
        "don't move everything off the canary",
        "is shifting 50% to green a good idea?",
        "no need to pause",
        "I would never give the canary 100%",
        "what if we drained green",
        "rolling back would be a mistake",
        "roll back? no way",
        "I'd never roll back on a Friday",
        "what does promote --full do",
        "the rollback failed",
        "has anyone shipped 3.2.0 yet",
        "hold off on promoting",
        "is 50% on green too much?",
    ] {
        let got = parse(text, Some(&r), Some(C));
        assert!(!is_proposal(&got), "{text:?} became {got:?}");
    }
}

#[test]
fn it_and_this_mean_the_plugin_in_view_and_none_in_view_asks_which() {
    let r = report();
    assert_eq!(parse("roll it back", Some(&r), Some(E)), rollback(E));
    assert_eq!(
        parse("how is this doing", Some(&r), Some(E)),
        Intent::Status { plugin: E.into() }
    );
    assert_eq!(parse("roll back", Some(&r), None), Intent::NoPlugin);
    assert_eq!(
        parse("don't roll back", Some(&r), None),
        Intent::Declined {
            plugin: None,
            action: Action::Rollback
        }
    );
    // "the canary" with none in view is the one plugin running a canary.
    assert_eq!(
        parse("move everything off the canary", Some(&r), None),
        traffic(C, CANARY, 0)
    );
}

/// Not an assertion (timings on a shared machine are not a test): prints how long one
/// request takes, for the record. `cargo test --release --lib intent::table -- --nocapture`
#[test]
fn time_per_request() {
    let r = report();
    let rows = table();
    let rounds = 20;
    let started = std::time::Instant::now();
    for _ in 0..rounds {
        for (text, _) in &rows {
            std::hint::black_box(parse(text, Some(&r), Some(C)));
        }
    }
    let each = started.elapsed() / (rounds * rows.len()) as u32;
    println!(
        "intent::parse: {each:?} per request over {} phrasings",
        rows.len()
    );
}

#[test]
fn the_phrase_an_explanation_suggests_reads_back_as_that_request() {
    let r = report();
    for action in [
        Action::Rollback,
        Action::Promote,
        Action::Finish,
        Action::Abort,
        Action::Pause,
        Action::Resume,
        moved(GREEN, Some(25)),
        moved(CANARY, Some(0)),
        moved(STABLE, Some(100)),
        ship(Some("3.2.0")),
    ] {
        for plugin in [C, E] {
            let phrase = action.phrase(plugin);
            assert_eq!(
                Some(parse(&phrase, Some(&r), Some(C))),
                action.request(plugin.to_string()),
                "{phrase:?}"
            );
        }
    }
}
