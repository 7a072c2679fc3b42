//! The parsed form of an alert condition, and its canonical text (what `Display` prints).

use crate::core::types::Health;
use std::fmt;
use std::time::Duration;

/// A per-slot metric a comparison reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Fraction of 5xx/failed requests, 0..1.
    ErrorRate,
    /// Requests per second.
    Rps,
    /// Median latency in milliseconds.
    P50Ms,
    /// 95th percentile latency in milliseconds.
    P95Ms,
    /// 99th percentile latency in milliseconds.
    P99Ms,
    /// Process CPU, 100 = one core.
    CpuPercent,
    /// Resident memory in MiB.
    RssMb,
}

impl Metric {
    /// Every metric with its name in the rule language.
    pub const ALL: [(Metric, &'static str); 7] = [
        (Metric::ErrorRate, "error_rate"),
        (Metric::Rps, "rps"),
        (Metric::P50Ms, "p50_ms"),
        (Metric::P95Ms, "p95_ms"),
        (Metric::P99Ms, "p99_ms"),
        (Metric::CpuPercent, "cpu_percent"),
        (Metric::RssMb, "rss_mb"),
    ];

    /// The name used in conditions.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::ErrorRate => "error_rate",
            Metric::Rps => "rps",
            Metric::P50Ms => "p50_ms",
            Metric::P95Ms => "p95_ms",
            Metric::P99Ms => "p99_ms",
            Metric::CpuPercent => "cpu_percent",
            Metric::RssMb => "rss_mb",
        }
    }

    /// Looks a metric up by its exact name.
    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(m, _)| *m)
    }
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

impl Cmp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Eq => "==",
            Cmp::Ne => "!=",
        }
    }

    /// Applies the operator; NaN (no data) never satisfies anything, not even `!=`.
    pub fn apply(self, left: f64, right: f64) -> bool {
        if left.is_nan() || right.is_nan() {
            return false;
        }
        match self {
            Cmp::Gt => left > right,
            Cmp::Ge => left >= right,
            Cmp::Lt => left < right,
            Cmp::Le => left <= right,
            // Thresholds are typed by humans: exact float equality would surprise them.
            Cmp::Eq => (left - right).abs() <= 1e-9 * right.abs().max(1.0),
            Cmp::Ne => (left - right).abs() > 1e-9 * right.abs().max(1.0),
        }
    }
}

/// Which slots a comparison looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotSel {
    Blue,
    Green,
    /// The slot(s) serving as the live version.
    Live,
    /// The slot currently receiving canary traffic.
    Canary,
    /// Any slot with a process: the atom holds if it holds for one of them.
    Any,
}

impl SlotSel {
    /// The selector as written inside `{slot=...}`.
    pub fn as_str(self) -> &'static str {
        match self {
            SlotSel::Blue => "blue",
            SlotSel::Green => "green",
            SlotSel::Live => "live",
            SlotSel::Canary => "canary",
            SlotSel::Any => "any",
        }
    }

    /// Looks a selector up by name.
    pub fn from_name(name: &str) -> Option<SlotSel> {
        match name {
            "blue" => Some(SlotSel::Blue),
            "green" => Some(SlotSel::Green),
            "live" => Some(SlotSel::Live),
            "canary" => Some(SlotSel::Canary),
            "any" => Some(SlotSel::Any),
            _ => None,
        }
    }
}

/// One node of a condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// `METRIC{slot=SEL} CMP NUMBER`; `value` is already in the metric's base unit.
    Compare {
        metric: Metric,
        slot: SlotSel,
        cmp: Cmp,
        value: f64,
    },
    /// `restarts CMP N in WINDOW`.
    Restarts {
        cmp: Cmp,
        count: f64,
        window: Duration,
    },
    /// `health{slot=SEL} ==|!= STATE`; `equal` is false for `!=`.
    Health {
        slot: SlotSel,
        equal: bool,
        state: Health,
    },
    /// Every child holds.
    And(Vec<Expr>),
    /// At least one child holds.
    Or(Vec<Expr>),
    /// `inner` has held without interruption for `hold`; `timer` indexes the rule's timers.
    For {
        inner: Box<Expr>,
        hold: Duration,
        timer: usize,
    },
}

/// Writes a duration the way users type it (`30s`, `1m`, `500ms`).
pub(crate) fn fmt_duration(d: Duration, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if d.is_zero() {
        return f.write_str("0s");
    }
    // humantime separates units with spaces; the rule language writes `1m30s`.
    let text = humantime::format_duration(d).to_string();
    for part in text.split(' ') {
        f.write_str(part)?;
    }
    Ok(())
}

struct Dur(Duration);

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_duration(self.0, f)
    }
}

/// Formats a duration in the rule language's spelling.
pub fn duration_text(d: Duration) -> String {
    Dur(d).to_string()
}

fn fmt_slot(slot: SlotSel, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if slot == SlotSel::Any {
        Ok(())
    } else {
        write!(f, "{{slot={}}}", slot.as_str())
    }
}

fn fmt_child(e: &Expr, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    // Parenthesise nested chains so the canonical text re-parses to the same tree.
    if matches!(e, Expr::And(_) | Expr::Or(_)) {
        write!(f, "({e})")
    } else {
        write!(f, "{e}")
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Compare {
                metric,
                slot,
                cmp,
                value,
            } => {
                f.write_str(metric.as_str())?;
                fmt_slot(*slot, f)?;
                write!(f, " {} {}", cmp.as_str(), value)
            }
            Expr::Restarts { cmp, count, window } => {
                write!(f, "restarts {} {} in {}", cmp.as_str(), count, Dur(*window))
            }
            Expr::Health { slot, equal, state } => {
                f.write_str("health")?;
                fmt_slot(*slot, f)?;
                write!(f, " {} {}", if *equal { "==" } else { "!=" }, state)
            }
            Expr::And(items) | Expr::Or(items) => {
                let sep = if matches!(self, Expr::And(_)) {
                    " and "
                } else {
                    " or "
                };
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(sep)?;
                    }
                    fmt_child(item, f)?;
                }
                Ok(())
            }
            Expr::For { inner, hold, .. } => {
                f.write_str("(")?;
                write!(f, "{inner}")?;
                write!(f, " for {})", Dur(*hold))
            }
        }
    }
}
