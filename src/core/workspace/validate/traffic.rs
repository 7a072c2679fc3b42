//! `[strategy]` (how traffic moves to a new version) and `[rollback]` (when it moves back).

use std::time::Duration;

use super::canary::canary_plan;
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
    let (steps, pause_after) = match kind {
        Some(StrategyKind::Canary) => canary_plan(s, r),
        Some(other) => {
            not_for_kind(s, other, r);
            (Vec::new(), Vec::new())
        }
        None => (Vec::new(), Vec::new()),
    };
    StrategySpec {
        kind: kind.unwrap_or(StrategyKind::BlueGreen),
        steps,
        pause_after,
        step_interval: positive(
            r,
            &s.step_interval,
            "strategy.step_interval",
            DEFAULT_STEP_INTERVAL,
        ),
    }
}

/// `steps`, `step_weight` and `max_weight` only mean something to a canary.
fn not_for_kind(s: &RawStrategy, kind: StrategyKind, r: &mut Report) {
    let how = if s.kind.is_absent() {
        "defaults to"
    } else {
        "is"
    };
    let spans = [
        ("steps", s.steps.value().map(|v| v.span())),
        ("step_weight", s.step_weight.value().map(|v| v.span())),
        ("max_weight", s.max_weight.value().map(|v| v.span())),
    ];
    for (key, span) in spans {
        if let Some(span) = span {
            r.at(
                &span,
                format!("strategy.{key}"),
                format!("`{key}` only applies to canary strategies (kind {how} `{kind}`)"),
                format!("remove {key}, or set kind = \"canary\""),
            );
        }
    }
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
