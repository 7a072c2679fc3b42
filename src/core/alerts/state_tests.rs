//! State machine tests, driven by injected time (minutes pass in microseconds).

use super::tests::{sample, t0};
use super::*;
use chrono::{DateTime, Utc};
use std::time::Duration;

fn at(secs: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::seconds(secs)
}

fn spec(name: &str, condition: &str) -> AlertRuleSpec {
    let rule = parse(condition).unwrap_or_else(|e| panic!("{condition}: {e}"));
    AlertRuleSpec::new(name, rule, Severity::Critical)
}

fn bad(rate: f64) -> PluginSample {
    let mut s = sample();
    s.slots[1].error_rate = rate;
    s
}

fn kinds(ts: &[AlertTransition]) -> Vec<TransitionKind> {
    ts.iter().map(|t| t.kind).collect()
}

#[test]
fn pending_then_firing_then_resolved() {
    let mut eng = AlertEngine::new();
    let mut rule = spec("errors", "error_rate > 0.05 for 30s");
    rule.rollback = true;
    rule.channels = vec!["log".into()];
    let rules = [rule];

    assert!(eng.evaluate("web", &rules, &sample(), at(0)).is_empty());
    let t = eng.evaluate("web", &rules, &bad(0.12), at(10));
    assert_eq!(kinds(&t), [TransitionKind::Pending]);
    assert!(!t[0].rollback, "only Firing asks for a rollback");
    // `for` not yet elapsed: stays pending, nothing new.
    assert!(eng.evaluate("web", &rules, &bad(0.12), at(39)).is_empty());
    assert!(matches!(
        eng.list(at(39))[0].state,
        AlertState::Pending { .. }
    ));

    let t = eng.evaluate("web", &rules, &bad(0.12), at(40));
    assert_eq!(kinds(&t), [TransitionKind::Firing]);
    assert_eq!(t[0].summary, "error_rate 0.12 > 0.05 on green for 30s");
    assert_eq!(t[0].id.to_string(), "web/errors");
    assert!(t[0].rollback && !t[0].silenced);
    assert_eq!(t[0].channels, ["log"]);
    assert!(eng.evaluate("web", &rules, &bad(0.2), at(100)).is_empty());

    let t = eng.evaluate("web", &rules, &sample(), at(200));
    assert_eq!(kinds(&t), [TransitionKind::Resolved]);
    assert!(!t[0].rollback);
    let v = eng.list(at(260));
    assert_eq!(v[0].state, AlertState::Resolved { at: at(200) });
    assert_eq!(v[0].age_secs, 60);
    // Views serialise for `naap alerts --json` and the API.
    let json = serde_json::to_string(&v).unwrap();
    let back: Vec<AlertView> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, v);
}

#[test]
fn flapping_resets_pending() {
    let mut eng = AlertEngine::new();
    let rules = [spec("errors", "error_rate > 0.05 for 30s")];
    assert_eq!(
        kinds(&eng.evaluate("web", &rules, &bad(0.1), at(0))),
        [TransitionKind::Pending]
    );
    assert!(eng.evaluate("web", &rules, &bad(0.1), at(20)).is_empty());
    // One good sample: back to inactive, silently.
    assert!(eng.evaluate("web", &rules, &sample(), at(25)).is_empty());
    assert!(eng.list(at(25)).is_empty());
    assert_eq!(
        kinds(&eng.evaluate("web", &rules, &bad(0.1), at(26))),
        [TransitionKind::Pending]
    );
    // 30s after the first breach, but only 4s after the restart: still pending.
    assert!(eng.evaluate("web", &rules, &bad(0.1), at(30)).is_empty());
    assert_eq!(
        kinds(&eng.evaluate("web", &rules, &bad(0.1), at(56))),
        [TransitionKind::Firing]
    );
}

#[test]
fn without_for_it_fires_at_once() {
    let mut eng = AlertEngine::new();
    let rules = [spec("down", "health == unhealthy")];
    let mut s = sample();
    s.slots[0].health = crate::core::types::Health::Unhealthy;
    assert_eq!(
        kinds(&eng.evaluate("web", &rules, &s, at(0))),
        [TransitionKind::Firing]
    );
}

#[test]
fn repeats_after_the_interval_and_ack_stops_them() {
    let mut eng = AlertEngine::new();
    let mut r = spec("errors", "error_rate > 0.05");
    r.repeat_interval = Duration::from_secs(3600);
    let rules = [r];
    assert_eq!(
        kinds(&eng.evaluate("web", &rules, &bad(0.1), at(0))),
        [TransitionKind::Firing]
    );
    assert!(eng.evaluate("web", &rules, &bad(0.1), at(3599)).is_empty());
    assert_eq!(
        kinds(&eng.evaluate("web", &rules, &bad(0.1), at(3600))),
        [TransitionKind::Repeat]
    );
    assert!(eng.evaluate("web", &rules, &bad(0.1), at(7199)).is_empty());

    let id: AlertId = "web/errors".parse().unwrap();
    eng.ack(&id).unwrap();
    assert!(eng.list(at(7199))[0].acked);
    assert!(eng.evaluate("web", &rules, &bad(0.1), at(7200)).is_empty());
    assert!(
        eng.evaluate("web", &rules, &bad(0.1), at(20_000))
            .is_empty()
    );
    // Resolving clears the ack; the next firing repeats again.
    assert_eq!(
        kinds(&eng.evaluate("web", &rules, &sample(), at(20_001))),
        [TransitionKind::Resolved]
    );
    assert_eq!(eng.ack(&id), Err(AlertError::NotFiring(id.clone())));
    assert_eq!(
        kinds(&eng.evaluate("web", &rules, &bad(0.1), at(20_002))),
        [TransitionKind::Firing]
    );
    assert!(!eng.list(at(20_002))[0].acked);
    assert_eq!(
        kinds(&eng.evaluate("web", &rules, &bad(0.1), at(23_602))),
        [TransitionKind::Repeat]
    );

    let missing = AlertId::new("web", "nope");
    assert_eq!(eng.ack(&missing), Err(AlertError::Unknown(missing.clone())));
    assert!("no-slash".parse::<AlertId>().is_err());
}

#[test]
fn default_repeat_interval_is_four_hours() {
    let mut eng = AlertEngine::new();
    let rules = [spec("errors", "error_rate > 0.05")];
    eng.evaluate("web", &rules, &bad(0.1), at(0));
    assert!(
        eng.evaluate("web", &rules, &bad(0.1), at(4 * 3600 - 1))
            .is_empty()
    );
    assert_eq!(
        kinds(&eng.evaluate("web", &rules, &bad(0.1), at(4 * 3600))),
        [TransitionKind::Repeat]
    );
}

#[test]
fn silences_mark_transitions_and_expire_by_themselves() {
    let mut eng = AlertEngine::new();
    let mut r = spec("errors", "error_rate > 0.05");
    r.rollback = true;
    r.repeat_interval = Duration::from_secs(600);
    let rules = [r, spec("slow", "p99_ms > 10")];
    let sid = eng.silence(
        Some("web"),
        "errors",
        at(1000),
        "ana",
        "known issue, fix deploying",
    );
    let t = eng.evaluate("web", &rules, &bad(0.1), at(0));
    assert_eq!(t.len(), 2);
    let errors = t.iter().find(|t| t.id.rule == "errors").unwrap();
    let slow = t.iter().find(|t| t.id.rule == "slow").unwrap();
    assert!(
        errors.silenced && errors.rollback,
        "silences mute, they do not disarm rollback"
    );
    assert!(!slow.silenced);
    // Another plugin is not covered.
    assert!(
        !eng.evaluate("api", &rules, &bad(0.1), at(0))
            .iter()
            .any(|t| t.silenced)
    );

    let v = eng.list(at(500));
    let ev = v
        .iter()
        .find(|v| v.id == AlertId::new("web", "errors"))
        .unwrap();
    assert_eq!((ev.silence, ev.silenced_until), (Some(sid), Some(at(1000))));
    assert_eq!(eng.silences(at(500)).len(), 1);
    // While silenced nothing repeats.
    assert!(eng.evaluate("web", &rules, &bad(0.1), at(900)).is_empty());
    // Expired at `until`: the notification that never went out goes out now.
    let t = eng.evaluate("web", &rules, &bad(0.1), at(1000));
    assert_eq!(kinds(&t), [TransitionKind::Repeat]);
    assert!(!t[0].silenced);
    assert!(eng.silences(at(1000)).is_empty());
    assert_eq!(eng.unsilence(sid), Err(AlertError::UnknownSilence(sid)));
}

#[test]
fn wildcard_silence_and_early_unsilence() {
    let mut eng = AlertEngine::new();
    let rules = [spec("a", "rps > 1"), spec("b", "rps > 2")];
    let sid = eng.silence(None, "*", at(100), "ops", "maintenance");
    let t = eng.evaluate("web", &rules, &sample(), at(0));
    assert!(t.len() == 2 && t.iter().all(|t| t.silenced));
    eng.unsilence(sid).unwrap();
    let t = eng.evaluate("web", &rules, &sample(), at(1));
    assert_eq!(kinds(&t), [TransitionKind::Repeat, TransitionKind::Repeat]);
    assert!(t.iter().all(|t| !t.silenced));
}

#[test]
fn restart_storm_fires_and_ages_out() {
    let mut eng = AlertEngine::new();
    let rules = [spec("crashloop", "restarts > 3 in 10m")];
    let mut s = sample();
    s.restart_times = (0..4).map(|i| at(i * 60)).collect();
    assert!(
        eng.evaluate("web", &rules, &s, at(120)).is_empty(),
        "3 restarts so far"
    );
    assert_eq!(
        kinds(&eng.evaluate("web", &rules, &s, at(180))),
        [TransitionKind::Firing]
    );
    // At 10m the first restart leaves the window.
    assert!(eng.evaluate("web", &rules, &s, at(599)).is_empty());
    assert_eq!(
        kinds(&eng.evaluate("web", &rules, &s, at(600))),
        [TransitionKind::Resolved]
    );
}

#[test]
fn slot_selectors_separate_canary_from_live() {
    let mut eng = AlertEngine::new();
    let mut canary = spec("canary-errors", "error_rate{slot=canary} > 2%");
    canary.rollback = true;
    let rules = [canary, spec("live-errors", "error_rate{slot=live} > 2%")];
    let t = eng.evaluate("web", &rules, &bad(0.5), at(0));
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].id.rule, "canary-errors");
    assert!(t[0].rollback);
    // The roles swap on promotion: now green is live.
    let mut s = bad(0.5);
    s.slots[1].role = SlotRole::Live;
    s.slots[0].role = SlotRole::Idle;
    let t = eng.evaluate("web", &rules, &s, at(1));
    let mut got: Vec<_> = t.iter().map(|t| (t.id.rule.as_str(), t.kind)).collect();
    got.sort_by_key(|g| g.0);
    assert_eq!(
        got,
        [
            ("canary-errors", TransitionKind::Resolved),
            ("live-errors", TransitionKind::Firing)
        ]
    );
}

#[test]
fn removed_rules_resolve_and_list_orders_by_severity() {
    let mut eng = AlertEngine::new();
    let mut info = spec("busy", "rps > 1");
    info.severity = Severity::Info;
    let rules = [info, spec("hot", "cpu_percent > 1")];
    eng.evaluate("web", &rules, &sample(), at(0));
    let v = eng.list(at(0));
    assert_eq!(
        v.iter().map(|v| v.severity).collect::<Vec<_>>(),
        [Severity::Critical, Severity::Info]
    );
    let t = eng.evaluate("web", &rules[1..], &sample(), at(5));
    assert_eq!(kinds(&t), [TransitionKind::Resolved]);
    assert_eq!(t[0].id.rule, "busy");
    assert_eq!(eng.list(at(5)).len(), 1);
    eng.forget_plugin("web");
    assert!(eng.list(at(5)).is_empty());
    assert_eq!("Warning".parse::<Severity>(), Ok(Severity::Warning));
    assert!("critcal".parse::<Severity>().is_err());
}

#[test]
fn restored_silences_keep_their_ids_and_mute_until_they_expire() {
    let mut eng = AlertEngine::new();
    let rules = [spec("errors", "error_rate > 0.05")];
    eng.add_silence(Silence {
        id: SilenceId(41),
        plugin: Some("web".into()),
        rule: "*".into(),
        until: at(60),
        by: "ana".into(),
        comment: "known issue".into(),
    });
    assert!(eng.is_silenced("web", "errors", at(0)));
    assert!(!eng.is_silenced("api", "errors", at(0)));
    assert!(
        !eng.is_silenced("web", "errors", at(60)),
        "expired at `until`"
    );
    let t = eng.evaluate("web", &rules, &bad(0.5), at(1));
    assert_eq!(kinds(&t), [TransitionKind::Firing]);
    assert!(t[0].silenced);
    // New ids continue above restored ones.
    let next = eng.silence(None, "*", at(10), "bo", "x");
    assert_eq!(next, SilenceId(42));
    // Once the silence expires, the still-firing alert is notified.
    let t = eng.evaluate("web", &rules, &bad(0.5), at(61));
    assert_eq!(kinds(&t), [TransitionKind::Repeat]);
    assert!(!t[0].silenced);
}

#[test]
fn reordered_and_removed_rules_keep_or_resolve_their_state() {
    let mut eng = AlertEngine::new();
    let (a, b, c) = (
        spec("a", "error_rate > 0.05"),
        spec("b", "rps < 0"),
        spec("c", "error_rate > 0.05"),
    );
    let t = eng.evaluate("web", &[a.clone(), b.clone()], &bad(0.5), at(0));
    assert_eq!(kinds(&t), [TransitionKind::Firing]);
    // Reordered, with a new rule: `a` keeps firing without a second Firing.
    let t = eng.evaluate("web", &[b.clone(), a.clone(), c.clone()], &bad(0.5), at(1));
    assert_eq!(kinds(&t), [TransitionKind::Firing]);
    assert_eq!(t[0].id.rule, "c");
    // `a` removed while firing: resolved with a reason.
    let t = eng.evaluate("web", std::slice::from_ref(&c), &bad(0.5), at(2));
    assert_eq!(kinds(&t), [TransitionKind::Resolved]);
    assert_eq!(t[0].id.rule, "a");
    assert!(t[0].summary.contains("removed"));
    assert!(eng.evaluate("web", &[c], &bad(0.5), at(3)).is_empty());
}
