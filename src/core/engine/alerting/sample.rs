//! Turns the engine's slot state and metrics into the [`PluginSample`] alert rules read.
//! Pure: the caller copies what it needs out of the locked state first.

use crate::core::alerts::{PluginSample, Rule, SlotRole, SlotSample};
use crate::core::metrics::MetricsSnapshot;
use crate::core::types::{Health, ProcessState, SlotName};
use chrono::{DateTime, Utc};
use std::collections::VecDeque;

/// Restart timestamps kept per plugin: enough for `restarts > N in D` with any sane N.
pub(crate) const RESTARTS_KEPT: usize = 64;

/// What the sample needs of one slot, copied out of the engine's state.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SlotInput {
    pub slot: SlotName,
    pub weight: u32,
    pub process_state: ProcessState,
    pub health: Health,
    pub cpu_percent: f64,
    pub rss_bytes: u64,
    pub metrics: MetricsSnapshot,
}

/// The sample of one plugin. The slot with the most weight is `live` (blue on a tie, like
/// the router's live slot); another slot with weight is the `canary`; the rest are idle.
pub(crate) fn build_sample(
    slots: &[SlotInput],
    restarts: &VecDeque<DateTime<Utc>>,
) -> PluginSample {
    let live = slots
        .iter()
        .filter(|s| s.weight > 0)
        .fold(None::<&SlotInput>, |best, s| match best {
            Some(b) if b.weight >= s.weight => Some(b),
            _ => Some(s),
        })
        .map(|s| s.slot);
    PluginSample {
        slots: slots
            .iter()
            .map(|s| SlotSample {
                slot: s.slot,
                role: match s.weight {
                    0 => SlotRole::Idle,
                    _ if Some(s.slot) == live => SlotRole::Live,
                    _ => SlotRole::Canary,
                },
                error_rate: s.metrics.error_rate,
                rps: s.metrics.rps,
                p50_ms: s.metrics.p50_ms,
                p95_ms: s.metrics.p95_ms,
                p99_ms: s.metrics.p99_ms,
                cpu_percent: s.cpu_percent,
                rss_bytes: s.rss_bytes,
                health: s.health,
                // A crashed or failed slot still counts: `health == unhealthy` must see it.
                has_process: matches!(
                    s.process_state,
                    ProcessState::Starting
                        | ProcessState::Running
                        | ProcessState::Restarting
                        | ProcessState::Failed
                ),
            })
            .collect(),
        restart_times: restarts.iter().copied().collect(),
    }
}

/// Remembers a restart, forgetting the oldest beyond [`RESTARTS_KEPT`].
pub(crate) fn note_restart(restarts: &mut VecDeque<DateTime<Utc>>, at: DateTime<Utc>) {
    if restarts.len() == RESTARTS_KEPT {
        restarts.pop_front();
    }
    restarts.push_back(at);
}

/// The slots on which `rule` holds by itself: what a notification names as the culprit.
pub(crate) fn matching_slots(
    rule: &Rule,
    sample: &PluginSample,
    now: DateTime<Utc>,
) -> Vec<SlotName> {
    sample
        .slots
        .iter()
        .filter(|s| s.has_process)
        .filter(|s| {
            let one = PluginSample {
                slots: vec![(*s).clone()],
                restart_times: sample.restart_times.clone(),
            };
            rule.holds(&one, now)
        })
        .map(|s| s.slot)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::alerts::parse;

    fn slot(slot: SlotName, weight: u32, error_rate: f64) -> SlotInput {
        SlotInput {
            slot,
            weight,
            process_state: ProcessState::Running,
            health: Health::Healthy,
            cpu_percent: 1.0,
            rss_bytes: 10 << 20,
            metrics: MetricsSnapshot {
                error_rate,
                rps: 5.0,
                ..MetricsSnapshot::default()
            },
        }
    }

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).expect("valid time")
    }

    #[test]
    fn roles_follow_the_weights() {
        let none = VecDeque::new();
        let s = build_sample(
            &[
                slot(SlotName::Blue, 90, 0.0),
                slot(SlotName::Green, 10, 0.0),
            ],
            &none,
        );
        assert_eq!(s.slots[0].role, SlotRole::Live);
        assert_eq!(s.slots[1].role, SlotRole::Canary);
        let s = build_sample(
            &[
                slot(SlotName::Blue, 0, 0.0),
                slot(SlotName::Green, 100, 0.0),
            ],
            &none,
        );
        assert_eq!(s.slots[0].role, SlotRole::Idle);
        assert_eq!(s.slots[1].role, SlotRole::Live);
        // A tie goes to blue, like the router's live slot.
        let s = build_sample(
            &[
                slot(SlotName::Blue, 50, 0.0),
                slot(SlotName::Green, 50, 0.0),
            ],
            &none,
        );
        assert_eq!(s.slots[0].role, SlotRole::Live);
        assert_eq!(s.slots[1].role, SlotRole::Canary);
    }

    #[test]
    fn stopped_slots_carry_no_data_but_failed_ones_do() {
        let mut stopped = slot(SlotName::Blue, 0, 0.9);
        stopped.process_state = ProcessState::Stopped;
        let mut failed = slot(SlotName::Green, 100, 0.0);
        failed.process_state = ProcessState::Failed;
        failed.health = Health::Unhealthy;
        let s = build_sample(&[stopped, failed], &VecDeque::new());
        assert!(!s.slots[0].has_process);
        assert!(s.slots[1].has_process);
        let rule = parse("health == unhealthy").expect("rule");
        assert!(rule.holds(&s, t(0)));
        assert!(!parse("error_rate > 0.5").expect("rule").holds(&s, t(0)));
    }

    #[test]
    fn restarts_are_bounded_and_counted_in_their_window() {
        let mut restarts = VecDeque::new();
        for i in 0..(RESTARTS_KEPT as i64 + 10) {
            note_restart(&mut restarts, t(i));
        }
        assert_eq!(restarts.len(), RESTARTS_KEPT);
        assert_eq!(restarts.front(), Some(&t(10)));
        let s = build_sample(&[slot(SlotName::Blue, 100, 0.0)], &restarts);
        let now = t(RESTARTS_KEPT as i64 + 10);
        assert!(parse("restarts > 3 in 10s").expect("rule").holds(&s, now));
        assert!(!parse("restarts > 3 in 2s").expect("rule").holds(&s, now));
    }

    #[test]
    fn the_culprit_is_the_slot_the_rule_holds_on() {
        let s = build_sample(
            &[
                slot(SlotName::Blue, 80, 0.0),
                slot(SlotName::Green, 20, 0.4),
            ],
            &VecDeque::new(),
        );
        let rule = parse("error_rate > 0.05").expect("rule");
        assert_eq!(matching_slots(&rule, &s, t(0)), [SlotName::Green]);
        let canary = parse("error_rate{slot=canary} > 0.05").expect("rule");
        assert_eq!(matching_slots(&canary, &s, t(0)), [SlotName::Green]);
        let live = parse("error_rate{slot=live} > 0.05").expect("rule");
        assert!(matching_slots(&live, &s, t(0)).is_empty());
    }
}
