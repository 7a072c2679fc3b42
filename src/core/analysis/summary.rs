//! Number formatting and the one-sentence verdict an SRE reads at 3 a.m.

use super::classify::INCONCLUSIVE;
use super::judge::{Classification, MetricResult, Outcome};

/// Failing or inconclusive metrics listed by name before "and N more".
const LISTED: usize = 3;

/// The unit implied by a metric name's suffix (`p99_ms` → "ms"), empty when none.
pub(crate) fn unit_of(name: &str) -> &'static str {
    if name.ends_with("_ms") {
        "ms"
    } else if name.ends_with("_s") || name.ends_with("_secs") {
        "s"
    } else {
        ""
    }
}

/// A value with about three significant digits and its unit: "152 ms", "0.0123".
pub(crate) fn fmt_value(value: f64, unit: &str) -> String {
    let number = fmt_number(value, 3);
    if unit.is_empty() {
        number
    } else {
        format!("{number} {unit}")
    }
}

/// A p-value the way people quote them: "p = 0.042", "p < 0.0001".
pub(crate) fn fmt_p(p: f64) -> String {
    if p < 0.0001 {
        "p < 0.0001".to_string()
    } else {
        format!("p = {}", fmt_number(p, 2))
    }
}

/// A relative change: "+210 %", "-4.5 %".
pub(crate) fn fmt_percent(relative: f64) -> String {
    let pct = relative * 100.0;
    if pct.abs() >= 10.0 {
        format!("{pct:+.0} %")
    } else {
        format!("{pct:+.1} %")
    }
}

/// `value` rounded to `digits` significant digits, trailing zeros trimmed.
fn fmt_number(value: f64, digits: i32) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let magnitude = value.abs().log10().floor() as i32;
    let decimals = (digits - 1 - magnitude).clamp(0, 8) as usize;
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// "p99_ms High — canary median …; error_rate High — …, and 2 more".
fn list<'a>(
    items: impl Iterator<Item = &'a MetricResult>,
    line: fn(&MetricResult) -> String,
) -> String {
    let items: Vec<&MetricResult> = items.collect();
    let mut text = items
        .iter()
        .take(LISTED)
        .map(|m| line(m))
        .collect::<Vec<_>>()
        .join("; ");
    if items.len() > LISTED {
        text.push_str(&format!("; and {} more", items.len() - LISTED));
    }
    text
}

fn failure_line(m: &MetricResult) -> String {
    let class = match m.classification {
        Classification::High => "High",
        Classification::Low => "Low",
        Classification::Pass => "Pass",
        Classification::NoData => "NoData",
    };
    format!("{} {class} — {}", m.name, m.reason)
}

fn no_data_line(m: &MetricResult) -> String {
    let detail = m.reason.strip_prefix(INCONCLUSIVE).unwrap_or(&m.reason);
    let critical = if m.critical { " (critical)" } else { "" };
    format!("{}{critical}: {detail}", m.name)
}

/// The verdict sentence. `why` explains an inconclusive outcome.
pub(crate) fn summarize(
    outcome: Outcome,
    score: f64,
    metrics: &[MetricResult],
    why: &str,
) -> String {
    let failed = || metrics.iter().filter(|m| m.failed);
    let no_data = || {
        metrics
            .iter()
            .filter(|m| m.classification == Classification::NoData)
    };
    let decided = metrics.len() - no_data().count();
    let passed = decided - failed().count();
    let counts = format!("{passed} of {decided} metrics passed");
    let score = score.round();
    let mut text = match outcome {
        Outcome::Inconclusive => {
            let mut t = format!("inconclusive ({why})");
            if no_data().count() > 0 {
                t.push_str(": ");
                t.push_str(&list(no_data(), no_data_line));
            }
            t
        }
        Outcome::Pass => format!("pass (score {score}): {counts}"),
        Outcome::Marginal | Outcome::Fail => {
            let word = if outcome == Outcome::Marginal {
                "marginal"
            } else {
                "fail"
            };
            let mut t = format!("{word} (score {score}): {}", list(failed(), failure_line));
            let critical_failure = failed().any(|m| m.critical);
            if !critical_failure {
                t.push_str(&format!("; {counts}"));
            }
            t
        }
    };
    if outcome != Outcome::Inconclusive && no_data().count() > 0 {
        text.push_str(&format!(
            "; without data: {}",
            list(no_data(), no_data_line)
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_naturally() {
        assert_eq!(fmt_value(152.3, "ms"), "152 ms");
        assert_eq!(fmt_value(49.0, "ms"), "49 ms");
        assert_eq!(fmt_value(0.01234, ""), "0.0123");
        assert_eq!(fmt_value(0.2, ""), "0.2");
        assert_eq!(fmt_value(0.0, "ms"), "0 ms");
        assert_eq!(fmt_value(-3.5, ""), "-3.5");
        assert_eq!(fmt_p(0.00001), "p < 0.0001");
        assert_eq!(fmt_p(0.0423), "p = 0.042");
        assert_eq!(fmt_p(1.0), "p = 1");
        assert_eq!(fmt_percent(2.1), "+210 %");
        assert_eq!(fmt_percent(-0.045), "-4.5 %");
        assert_eq!(unit_of("p99_ms"), "ms");
        assert_eq!(unit_of("error_rate"), "");
    }
}
