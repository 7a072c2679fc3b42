//! `[strategy]` (how traffic moves to a new version) and `[rollback]` (when it moves back).

use std::time::Duration;

use serde_spanned::Spanned;

use super::{duration_or, positive};
use crate::core::types::StrategyKind;
use crate::core::workspace::model::{RollbackSpec, StrategySpec};
use crate::core::workspace::problem::Report;
use crate::core::workspace::raw::{RawRollback, RawStrategy};
use crate::core::workspace::reader::Field;
use crate::core::workspace::suggest;

const DEFAULT_STEP_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_KEEP_WARM: Duration = Duration::from_secs(30 * 60);
const STRATEGIES: [&str; 3] = ["immediate", "blue-green", "canary"];

/// `[strategy]`.
pub(super) fn strategy(s: &RawStrategy, r: &mut Report) -> StrategySpec {
    let kind = match &s.kind {
        Field::Present(k) => match k.get_ref().as_str() {
            "immediate" => Some(StrategyKind::Immediate),
            "blue-green" => Some(StrategyKind::BlueGreen),
            "canary" => Some(StrategyKind::Canary),
            other => {
                r.at(
                    &k.span(),
                    "strategy.kind",
                    format!("unknown strategy `{other}`"),
                    suggest::hint(other, &STRATEGIES),
                );
                None
            }
        },
        Field::Absent => Some(StrategyKind::BlueGreen),
        Field::Invalid => None,
    };
    // With an unknown kind, whether steps belong is unknowable; the kind problem says enough.
    let steps = match (kind, &s.steps, &s.kind) {
        (Some(StrategyKind::Canary), Field::Present(steps), _) => canary_steps(r, steps),
        (Some(StrategyKind::Canary), Field::Absent, Field::Present(k)) => {
            r.at(
                &k.span(),
                "strategy.steps",
                "a canary strategy needs `steps`",
                "add e.g. steps = [5, 25, 50, 100] (percent of traffic per step, ending at 100)",
            );
            Vec::new()
        }
        (Some(other), Field::Present(steps), _) => {
            let how = if s.kind.is_absent() {
                "defaults to"
            } else {
                "is"
            };
            r.at(
                &steps.span(),
                "strategy.steps",
                format!("`steps` only applies to canary strategies (kind {how} `{other}`)"),
                "remove steps, or set kind = \"canary\"",
            );
            Vec::new()
        }
        _ => Vec::new(),
    };
    StrategySpec {
        kind: kind.unwrap_or(StrategyKind::BlueGreen),
        steps,
        step_interval: positive(
            r,
            &s.step_interval,
            "strategy.step_interval",
            DEFAULT_STEP_INTERVAL,
        ),
    }
}

fn canary_steps(r: &mut Report, steps: &Spanned<Vec<Spanned<i64>>>) -> Vec<u32> {
    let hint = "steps are traffic percentages, strictly ascending and ending at 100, \
                e.g. [5, 25, 50, 100]";
    let Some(last) = steps.get_ref().last() else {
        r.at(
            &steps.span(),
            "strategy.steps",
            "steps must not be empty",
            hint,
        );
        return Vec::new();
    };
    let mut out = Vec::with_capacity(steps.get_ref().len());
    let mut previous: Option<i64> = None;
    for (i, step) in steps.get_ref().iter().enumerate() {
        let n = *step.get_ref();
        let field = format!("strategy.steps[{i}]");
        if !(1..=100).contains(&n) {
            r.at(
                &step.span(),
                field,
                format!("step {n} is not between 1 and 100"),
                hint,
            );
        } else if let Some(p) = previous.filter(|p| n <= *p) {
            r.at(
                &step.span(),
                field,
                format!("step {n} is not above the step before it ({p})"),
                hint,
            );
        }
        previous = Some(n);
        // In range (checked above) or already reported; the manifest is dropped then anyway.
        out.push(u32::try_from(n.clamp(0, 100)).unwrap_or(0));
    }
    if *last.get_ref() != 100 && (1..=100).contains(last.get_ref()) {
        r.at(
            &last.span(),
            format!("strategy.steps[{}]", steps.get_ref().len() - 1),
            format!("the last step must be 100, not {}", last.get_ref()),
            "end with 100 so the new version takes all traffic, e.g. [5, 25, 50, 100]",
        );
    }
    out
}

/// `[rollback]`.
pub(super) fn rollback(b: &RawRollback, r: &mut Report) -> RollbackSpec {
    let on_error_rate = match &b.on_error_rate {
        Field::Present(x) => {
            let v = *x.get_ref();
            if v > 0.0 && v <= 1.0 {
                Some(v)
            } else {
                r.at(
                    &x.span(),
                    "rollback.on_error_rate",
                    format!("error rate must be above 0 and at most 1, got {v}"),
                    "it is a fraction: on_error_rate = 0.05 means 5 % of requests failing",
                );
                None
            }
        }
        _ => None,
    };
    let on_latency_p99_ms = match &b.on_latency_p99_ms {
        Field::Present(ms) => match u64::try_from(*ms.get_ref()) {
            Ok(v) if v > 0 => Some(v),
            _ => {
                r.at(
                    &ms.span(),
                    "rollback.on_latency_p99_ms",
                    format!("latency limit must be above 0 ms, got {}", ms.get_ref()),
                    "e.g. on_latency_p99_ms = 2000",
                );
                None
            }
        },
        _ => None,
    };
    RollbackSpec {
        on_error_rate,
        on_latency_p99_ms,
        on_health_check_fail: match &b.on_health_check_fail {
            Field::Present(v) => *v.get_ref(),
            _ => true,
        },
        keep_previous_warm: duration_or(&b.keep_previous_warm, DEFAULT_KEEP_WARM),
    }
}
