//! Alert rules: the condition language, its evaluation against injected samples, and the
//! Alertmanager-style state machine (pending → firing → resolved, silences, acks, repeats).
//! Pure logic: the caller supplies every sample and the current time.
//!
//! # Grammar
//!
//! ```text
//! rule       := expr ["for" DURATION]
//! expr       := or
//! or         := and ("or" and)*
//! and        := atom ("and" atom)*
//! atom       := ( "(" expr ")" | comparison | restarts | health ) ["for" DURATION]
//! comparison := METRIC [selector] CMP NUMBER[UNIT]
//! restarts   := "restarts" CMP INTEGER "in" DURATION
//! health     := "health" [selector] ("==" | "!=") ("healthy" | "unhealthy" | "unknown")
//! selector   := "{" "slot" "=" ("blue" | "green" | "live" | "canary" | "any") "}"
//! METRIC     := error_rate | rps | p50_ms | p95_ms | p99_ms | cpu_percent | rss_mb
//! CMP        := > | >= | < | <= | == | !=
//! UNIT       := % (error_rate: 5% = 0.05; cpu_percent) | ms | s (latencies) | MB | GB (rss_mb)
//! DURATION   := humantime, glued: 500ms, 30s, 1m, 1h30m
//! ```
//!
//! * `and` binds tighter than `or`; parentheses group.
//! * A `for` that **ends the condition** (outside parentheses) applies to the whole rule:
//!   `a and b for 1m` means "`a and b` has held for 1m". That is [`Rule::hold_for`], the
//!   Pending → Firing delay.
//! * Any other `for` applies to the atom or parenthesised group just before it and has its
//!   own timer: `error_rate > 0.05 for 30s and p99_ms > 500` fires once the error rate has
//!   been high for 30s *and* p99 is high now. Inside parentheses `for` always binds to the
//!   atom before it: `(a and b for 1m)` times only `b`; write `(a and b) for 1m` for the group.
//! * A selector defaults to `any`: the atom holds if it holds for any slot with a process.
//!   Slots without a process never match, so "no data" never fires (not even with `!=`).
//! * `restarts > 3 in 10m` counts the restart timestamps in `(now - 10m, now]`.

mod ast;
mod lexer;
mod parser;
mod rule;
mod sample;
mod state;

pub use ast::{Cmp, Expr, Metric, SlotSel, duration_text};
pub use parser::parse;
pub use rule::{Rule, Timers};
pub use sample::{PluginSample, SlotRole, SlotSample};
pub use state::{
    AlertEngine, AlertError, AlertId, AlertRuleSpec, AlertState, AlertTransition, AlertView,
    DEFAULT_REPEAT_INTERVAL, Severity, Silence, SilenceId, TransitionKind,
};

use std::fmt;

/// Why a condition does not parse, pointing at the offending column.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct RuleError {
    /// 1-based character column in the condition string.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// What to write instead.
    pub hint: String,
}

impl RuleError {
    pub(crate) fn new(column: usize, message: impl Into<String>, hint: impl Into<String>) -> Self {
        RuleError {
            column,
            message: message.into(),
            hint: hint.into(),
        }
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "column {}: {} ({})",
            self.column, self.message, self.hint
        )
    }
}

#[cfg(test)]
mod state_tests;
#[cfg(test)]
mod tests;
