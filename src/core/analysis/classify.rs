//! Classifies one metric: not enough data, no meaningful difference, or higher/lower.

use super::config::{Direction, MetricConfig};
use super::judge::{Classification, MetricResult};
use super::samples::{MetricSamples, finite};
use super::stats::{hodges_lehmann, mann_whitney, median};
use super::summary::{fmt_p, fmt_percent, fmt_value, unit_of};

/// Prefix of every `NoData` reason, so a stored result reads on its own.
pub(crate) const INCONCLUSIVE: &str = "inconclusive: ";

/// Judges one metric. High/Low need both a significant test (p < alpha) and a
/// Hodges-Lehmann shift outside `max(tolerance × |baseline median|, abs_tolerance)`.
pub(crate) fn classify(cfg: &MetricConfig, samples: &MetricSamples, alpha: f64) -> MetricResult {
    let canary = finite(&samples.canary);
    let baseline = finite(&samples.baseline);
    let dropped = samples.canary.len() + samples.baseline.len() - canary.len() - baseline.len();
    let mut result = MetricResult {
        name: cfg.name.clone(),
        classification: Classification::NoData,
        failed: false,
        critical: cfg.critical,
        weight: cfg.weight,
        p_value: None,
        canary_median: median(&canary),
        baseline_median: median(&baseline),
        shift: None,
        effect: None,
        samples: (canary.len(), baseline.len()),
        reason: String::new(),
    };

    if let Err(err) = cfg.validate() {
        // NaN would not survive a JSON round trip; the judge reports the error instead.
        if !(cfg.weight.is_finite() && cfg.weight >= 0.0) {
            result.weight = 0.0;
        }
        result.reason = format!("{INCONCLUSIVE}misconfigured: {err}");
        return result;
    }
    if samples.name != cfg.name {
        result.reason = format!(
            "{INCONCLUSIVE}samples are for metric {:?}, not {:?}",
            samples.name, cfg.name
        );
        return result;
    }
    // Mann-Whitney needs at least one value per side whatever min_samples says.
    let needed = cfg.min_samples.max(1);
    if canary.len() < needed || baseline.len() < needed {
        result.reason = format!(
            "{INCONCLUSIVE}{}",
            too_few(&canary, &baseline, needed, dropped)
        );
        return result;
    }

    // Both sides are non-empty past the check above, so these are all Some.
    let (Some(test), Some(shift), Some(base_med), Some(can_med)) = (
        mann_whitney(&canary, &baseline),
        hodges_lehmann(&canary, &baseline),
        result.baseline_median,
        result.canary_median,
    ) else {
        result.reason = format!("{INCONCLUSIVE}no samples");
        return result;
    };
    let effect = (base_med != 0.0).then(|| shift / base_med.abs());
    result.p_value = Some(test.p_value);
    result.shift = Some(shift);
    result.effect = effect;

    let band = (cfg.tolerance * base_med.abs()).max(cfg.abs_tolerance);
    let significant = test.p_value < alpha;
    let unit = unit_of(&cfg.name);
    let change = match effect {
        Some(e) => fmt_percent(e),
        None => format!("{} absolute", signed(fmt_value(shift, unit), shift)),
    };
    let comparison = format!(
        "canary median {} vs baseline {} ({change}, {})",
        fmt_value(can_med, unit),
        fmt_value(base_med, unit),
        fmt_p(test.p_value)
    );

    if !significant {
        result.classification = Classification::Pass;
        result.reason = format!("no significant difference: {comparison}");
        return result;
    }
    if shift.abs() <= band {
        result.classification = Classification::Pass;
        result.reason = format!(
            "within tolerance ±{}: {comparison}",
            fmt_band(cfg, base_med)
        );
        return result;
    }
    let high = shift > 0.0;
    result.classification = if high {
        Classification::High
    } else {
        Classification::Low
    };
    result.failed = match cfg.direction {
        Direction::Either => true,
        Direction::Increase => high,
        Direction::Decrease => !high,
    };
    result.reason = if result.failed {
        comparison
    } else {
        let better = if high { "higher" } else { "lower" };
        format!("{better} than baseline, which is fine for this metric: {comparison}")
    };
    result
}

/// "canary has 12 of 50 samples" (naming whichever side is short).
fn too_few(canary: &[f64], baseline: &[f64], needed: usize, dropped: usize) -> String {
    let mut text = match (canary.len() < needed, baseline.len() < needed) {
        (true, true) => format!(
            "canary has {} and baseline {} of {needed} samples",
            canary.len(),
            baseline.len()
        ),
        (true, false) => format!("canary has {} of {needed} samples", canary.len()),
        _ => format!("baseline has {} of {needed} samples", baseline.len()),
    };
    if dropped > 0 {
        text.push_str(&format!(" ({dropped} non-finite dropped)"));
    }
    text
}

/// The band as the summary shows it: relative when it comes from the tolerance.
fn fmt_band(cfg: &MetricConfig, base_med: f64) -> String {
    if cfg.tolerance * base_med.abs() >= cfg.abs_tolerance {
        format!("{:.0} %", cfg.tolerance * 100.0)
    } else {
        fmt_value(cfg.abs_tolerance, unit_of(&cfg.name))
    }
}

/// Prefixes a plus sign on non-negative values (formatted values carry their own minus).
fn signed(text: String, value: f64) -> String {
    if value >= 0.0 {
        format!("+{text}")
    } else {
        text
    }
}
