//! A parsed rule: instantaneous evaluation, nested `for` timers and human summaries.

use super::ast::{Expr, Metric, SlotSel, duration_text};
use super::sample::{PluginSample, SlotRole, SlotSample};
use chrono::{DateTime, Utc};
use std::fmt::{self, Write as _};
use std::time::Duration;

/// A parsed alert condition. Build one with [`super::parse`].
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    expr: Expr,
    hold_for: Duration,
    timers: usize,
    source: String,
}

/// Start times of the nested `for` atoms of one rule; owned by whoever evaluates it over time.
pub type Timers = Vec<Option<DateTime<Utc>>>;

impl Rule {
    pub(crate) fn new(expr: Expr, hold_for: Duration, timers: usize, source: &str) -> Rule {
        Rule {
            expr,
            hold_for,
            timers,
            source: source.to_string(),
        }
    }

    /// The condition tree, without the rule-level `for`.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// The text the rule was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// How long the whole condition must hold before the alert fires (the trailing `for`).
    pub fn hold_for(&self) -> Duration {
        self.hold_for
    }

    /// How many nested `for` timers [`Rule::holds_timed`] needs.
    pub fn timer_count(&self) -> usize {
        self.timers
    }

    /// The instantaneous condition: every `for` is ignored.
    pub fn holds(&self, sample: &PluginSample, now: DateTime<Utc>) -> bool {
        eval(&self.expr, sample, now, None)
    }

    /// The condition with nested `for`s honoured (the rule-level `for` is still left to the
    /// caller). `timers` must have [`Rule::timer_count`] entries and persist between calls.
    pub fn holds_timed(
        &self,
        sample: &PluginSample,
        now: DateTime<Utc>,
        timers: &mut [Option<DateTime<Utc>>],
    ) -> bool {
        eval(&self.expr, sample, now, Some(timers))
    }

    /// A human summary with the observed numbers, e.g.
    /// `error_rate 0.12 > 0.05 on green for 30s`. Allocates; call it only on transitions.
    pub fn summary(&self, sample: &PluginSample, now: DateTime<Utc>) -> String {
        let mut out = String::new();
        describe(&self.expr, sample, now, &mut out);
        if !self.hold_for.is_zero() {
            let _ = write!(out, " for {}", duration_text(self.hold_for));
        }
        out
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.expr)?;
        if !self.hold_for.is_zero() {
            write!(f, " for {}", duration_text(self.hold_for))?;
        }
        Ok(())
    }
}

fn selected(slot: &SlotSample, sel: SlotSel) -> bool {
    slot.has_process
        && match sel {
            SlotSel::Any => true,
            SlotSel::Blue => slot.slot == crate::core::types::SlotName::Blue,
            SlotSel::Green => slot.slot == crate::core::types::SlotName::Green,
            SlotSel::Live => slot.role == SlotRole::Live,
            SlotSel::Canary => slot.role == SlotRole::Canary,
        }
}

fn metric_value(slot: &SlotSample, metric: Metric) -> f64 {
    match metric {
        Metric::ErrorRate => slot.error_rate,
        Metric::Rps => slot.rps,
        Metric::P50Ms => slot.p50_ms,
        Metric::P95Ms => slot.p95_ms,
        Metric::P99Ms => slot.p99_ms,
        Metric::CpuPercent => slot.cpu_percent,
        Metric::RssMb => slot.rss_bytes as f64 / (1024.0 * 1024.0),
    }
}

fn restart_count(sample: &PluginSample, now: DateTime<Utc>, window: Duration) -> usize {
    // A window too large for chrono counts every restart we were given.
    let from = chrono::Duration::from_std(window)
        .ok()
        .and_then(|w| now.checked_sub_signed(w));
    sample
        .restart_times
        .iter()
        .filter(|t| **t <= now && from.is_none_or(|f| **t > f))
        .count()
}

fn leaf(expr: &Expr, sample: &PluginSample, now: DateTime<Utc>) -> bool {
    match expr {
        Expr::Compare {
            metric,
            slot,
            cmp,
            value,
        } => sample
            .slots
            .iter()
            .any(|s| selected(s, *slot) && cmp.apply(metric_value(s, *metric), *value)),
        Expr::Restarts { cmp, count, window } => {
            cmp.apply(restart_count(sample, now, *window) as f64, *count)
        }
        Expr::Health { slot, equal, state } => sample
            .slots
            .iter()
            .any(|s| selected(s, *slot) && ((s.health == *state) == *equal)),
        _ => false,
    }
}

/// Without timers every `for` is transparent. With timers nothing short-circuits, because
/// every nested timer must see every tick to know whether its atom held without a break.
fn eval(
    expr: &Expr,
    sample: &PluginSample,
    now: DateTime<Utc>,
    mut timers: Option<&mut [Option<DateTime<Utc>>]>,
) -> bool {
    match expr {
        Expr::And(items) => {
            let mut all = true;
            for item in items {
                all &= eval(item, sample, now, timers.as_deref_mut());
                if !all && timers.is_none() {
                    return false;
                }
            }
            all
        }
        Expr::Or(items) => {
            let mut any = false;
            for item in items {
                any |= eval(item, sample, now, timers.as_deref_mut());
                if any && timers.is_none() {
                    return true;
                }
            }
            any
        }
        Expr::For { inner, hold, timer } => {
            let inner_holds = eval(inner, sample, now, timers.as_deref_mut());
            let Some(timers) = timers else {
                return inner_holds;
            };
            // A timer slice of the wrong size is a caller bug; treat the atom as not yet held.
            let Some(since) = timers.get_mut(*timer) else {
                return false;
            };
            if !inner_holds {
                *since = None;
                return false;
            }
            let start = *since.get_or_insert(now);
            held_long_enough(start, now, *hold)
        }
        _ => leaf(expr, sample, now),
    }
}

/// Whether `now - since >= hold`; used by the rule-level `for` as well.
pub(crate) fn held_long_enough(since: DateTime<Utc>, now: DateTime<Utc>, hold: Duration) -> bool {
    match (now - since).to_std() {
        Ok(elapsed) => elapsed >= hold,
        // `now` before `since` (clock stepped back): not held yet.
        Err(_) => hold.is_zero(),
    }
}

/// Short numbers for humans: at most three decimals, no trailing zeros.
fn num(v: f64) -> String {
    let s = format!("{v:.3}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn describe(expr: &Expr, sample: &PluginSample, now: DateTime<Utc>, out: &mut String) {
    match expr {
        Expr::Compare {
            metric,
            slot,
            cmp,
            value,
        } => {
            let mut chosen = None;
            for s in sample.slots.iter().filter(|s| selected(s, *slot)) {
                let v = metric_value(s, *metric);
                if cmp.apply(v, *value) {
                    chosen = Some((s, v, true));
                    break;
                }
                chosen.get_or_insert((s, v, false));
            }
            let name = metric.as_str();
            let _ = match chosen {
                Some((s, v, true)) => write!(
                    out,
                    "{name} {} {} {} on {}",
                    num(v),
                    cmp.as_str(),
                    num(*value),
                    s.slot
                ),
                Some((s, v, false)) => write!(
                    out,
                    "{name} {} (threshold {} {}) on {}",
                    num(v),
                    cmp.as_str(),
                    num(*value),
                    s.slot
                ),
                None => write!(
                    out,
                    "{name} {} {} (no {} slot running)",
                    cmp.as_str(),
                    num(*value),
                    slot.as_str()
                ),
            };
        }
        Expr::Restarts { cmp, count, window } => {
            let n = restart_count(sample, now, *window);
            let _ = write!(
                out,
                "{n} restarts in the last {} (threshold {} {})",
                duration_text(*window),
                cmp.as_str(),
                num(*count)
            );
        }
        Expr::Health { slot, equal, state } => {
            let found = sample
                .slots
                .iter()
                .filter(|s| selected(s, *slot))
                .find(|s| (s.health == *state) == *equal);
            let _ = match found {
                Some(s) => write!(out, "health of {} is {}", s.slot, s.health),
                None => write!(out, "health {} {}", if *equal { "==" } else { "!=" }, state),
            };
        }
        Expr::And(items) | Expr::Or(items) => {
            let is_or = matches!(expr, Expr::Or(_));
            // For `or`, name only the branches that hold now (when any do): that is the cause.
            let holding: Vec<&Expr> = items
                .iter()
                .filter(|e| !is_or || eval(e, sample, now, None))
                .collect();
            let shown = if holding.is_empty() {
                items.iter().collect()
            } else {
                holding
            };
            for (i, item) in shown.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(if is_or { " or " } else { " and " });
                }
                let nested = matches!(item, Expr::And(_) | Expr::Or(_));
                if nested {
                    out.push('(');
                }
                describe(item, sample, now, out);
                if nested {
                    out.push(')');
                }
            }
        }
        Expr::For { inner, hold, .. } => {
            describe(inner, sample, now, out);
            let _ = write!(out, " for {}", duration_text(*hold));
        }
    }
}
