//! `[analysis]`: how each canary step is judged (thresholds, statistical judge, warm-up load).

use serde_spanned::Spanned;

use crate::core::types::StrategyKind;
use crate::core::workspace::model::{AnalysisSpec, StrategySpec};
use crate::core::workspace::problem::Report;
use crate::core::workspace::raw::RawAnalysis;
use crate::core::workspace::reader::Field;
use crate::core::workspace::suggest;

/// The metrics the judge can compare (names of `core::analysis::series`).
pub(crate) const ANALYSIS_METRICS: [&str; 3] = ["error_rate", "p50_ms", "p99_ms"];
/// Below this many samples per side a Mann-Whitney test can never be significant at 0.05.
const FEWEST_SAMPLES: i64 = 5;
/// Samples come from the per-second series, which keeps this many seconds.
const MOST_SAMPLES: i64 = crate::core::metrics::SERIES_SECS as i64;
const MOST_WARMUP_RPS: u32 = 1000;

/// `[analysis]`, checked against the strategy it judges.
pub(super) fn analysis(
    a: &Field<RawAnalysis>,
    r: &mut Report,
    strategy: &StrategySpec,
) -> Option<AnalysisSpec> {
    let a = a.value()?;
    if strategy.kind != StrategyKind::Canary {
        // Argo Rollouts and Flagger judge canary steps only; a table that is never used
        // is a mistake the author should hear about.
        r.at(
            &a.span,
            "analysis",
            format!(
                "[analysis] judges canary steps, but strategy.kind is \"{}\"",
                strategy.kind
            ),
            "set kind = \"canary\" in [strategy] (with steps), or remove [analysis]",
        );
    }
    let defaults = AnalysisSpec::default();
    let metrics = metrics(a, r, &defaults.metrics);
    let tolerance = match &a.tolerance {
        Field::Present(t) if !(t.get_ref().is_finite() && *t.get_ref() >= 0.0) => {
            r.at(
                &t.span(),
                "analysis.tolerance",
                format!("tolerance must be a number >= 0, got {}", t.get_ref()),
                "it is relative to the baseline: tolerance = 0.25 lets the canary be 25 % worse",
            );
            defaults.tolerance
        }
        Field::Present(t) => *t.get_ref(),
        _ => defaults.tolerance,
    };
    let pass_score = score(r, &a.pass_score, "pass_score", defaults.pass_score);
    let marginal_score = score(
        r,
        &a.marginal_score,
        "marginal_score",
        defaults.marginal_score,
    );
    if marginal_score > pass_score {
        // Point at whichever of the two the author wrote; the default one is invisible.
        let span = match (&a.marginal_score, &a.pass_score) {
            (Field::Present(m), _) => m.span(),
            (_, Field::Present(p)) => p.span(),
            _ => a.span.clone(),
        };
        r.at(
            &span,
            "analysis.marginal_score",
            format!("marginal_score {marginal_score} is above pass_score {pass_score}"),
            "a step passes at pass_score and is marginal between the two, e.g. pass_score = 95, marginal_score = 75",
        );
    }
    let min_samples = min_samples(r, &a.min_samples, strategy, defaults.min_samples);
    let success_rate = match &a.success_rate {
        Field::Present(x) if !(*x.get_ref() > 0.0 && *x.get_ref() <= 1.0) => {
            r.at(
                &x.span(),
                "analysis.success_rate",
                format!(
                    "success rate must be above 0 and at most 1, got {}",
                    x.get_ref()
                ),
                "it is a fraction: success_rate = 0.99 fails a step with more than 1 % errors",
            );
            None
        }
        Field::Present(x) => Some(*x.get_ref()),
        _ => None,
    };
    let p99_ms = match &a.p99_ms {
        Field::Present(ms) => match u64::try_from(*ms.get_ref()) {
            Ok(v) if v > 0 => Some(v),
            _ => {
                r.at(
                    &ms.span(),
                    "analysis.p99_ms",
                    format!("latency limit must be above 0 ms, got {}", ms.get_ref()),
                    "e.g. p99_ms = 500",
                );
                None
            }
        },
        _ => None,
    };
    Some(AnalysisSpec {
        metrics,
        tolerance,
        pass_score,
        marginal_score,
        min_samples,
        success_rate,
        p99_ms,
        health: a.health.value().is_none_or(|h| *h.get_ref()),
        warmup_load: warmup_load(r, &a.warmup_load),
        warmup_path: warmup_path(r, &a.warmup_path),
    })
}

fn metrics(a: &RawAnalysis, r: &mut Report, default: &[String]) -> Vec<String> {
    let defaults = || default.to_vec();
    let Field::Present(list) = &a.metrics else {
        return defaults();
    };
    if list.get_ref().is_empty() {
        r.at(
            &list.span(),
            "analysis.metrics",
            "metrics must not be empty",
            "list what the judge compares, e.g. metrics = [\"error_rate\", \"p50_ms\", \"p99_ms\"]",
        );
        return defaults();
    }
    let mut out: Vec<String> = Vec::new();
    for (i, m) in list.get_ref().iter().enumerate() {
        let name = m.get_ref();
        let field = format!("analysis.metrics[{i}]");
        if !ANALYSIS_METRICS.contains(&name.as_str()) {
            r.at(
                &m.span(),
                field,
                format!("unknown analysis metric `{name}`"),
                suggest::hint(name, &ANALYSIS_METRICS),
            );
        } else if out.contains(name) {
            r.at(
                &m.span(),
                field,
                format!("metric `{name}` is listed twice"),
                "list each metric once",
            );
        } else {
            out.push(name.clone());
        }
    }
    out
}

fn score(r: &mut Report, value: &Field<Spanned<f64>>, key: &str, default: f64) -> f64 {
    match value {
        Field::Present(s) if !(0.0..=100.0).contains(s.get_ref()) => {
            r.at(
                &s.span(),
                format!("analysis.{key}"),
                format!("{key} must be between 0 and 100, got {}", s.get_ref()),
                format!("scores are percent of the metrics that passed, e.g. {key} = {default}"),
            );
            default
        }
        Field::Present(s) => *s.get_ref(),
        _ => default,
    }
}

fn min_samples(
    r: &mut Report,
    value: &Field<Spanned<i64>>,
    strategy: &StrategySpec,
    default: u32,
) -> u32 {
    let Field::Present(n) = value else {
        return default;
    };
    let v = *n.get_ref();
    let step_secs = strategy.step_interval.as_secs();
    let canary = strategy.kind == StrategyKind::Canary;
    if !(FEWEST_SAMPLES..=MOST_SAMPLES).contains(&v) {
        // Suggest a value both this range and the step accept.
        let fits = if canary {
            (default as i64).min(step_secs as i64)
        } else {
            default as i64
        };
        let example = if fits >= FEWEST_SAMPLES {
            format!("e.g. min_samples = {fits}")
        } else {
            format!(
                "e.g. min_samples = {FEWEST_SAMPLES} with strategy.step_interval = \"{FEWEST_SAMPLES}s\" or longer"
            )
        };
        r.at(
            &n.span(),
            "analysis.min_samples",
            format!("min_samples must be between {FEWEST_SAMPLES} and {MOST_SAMPLES}, got {v}"),
            format!(
                "a sample is one second with traffic on a slot; fewer than {FEWEST_SAMPLES} can never show a significant difference; {example}"
            ),
        );
        return default;
    }
    if canary && (v as u64) > step_secs {
        let hint = if step_secs as i64 >= FEWEST_SAMPLES {
            format!(
                "lower min_samples to {step_secs} or less, or raise strategy.step_interval to \"{v}s\""
            )
        } else {
            // Lowering min_samples below the fewest a test can use would be refused too.
            format!(
                "raise strategy.step_interval to \"{v}s\" (min_samples cannot go below {FEWEST_SAMPLES})"
            )
        };
        r.at(
            &n.span(),
            "analysis.min_samples",
            format!(
                "min_samples {v} cannot be reached in a step of {step_secs}s: a sample is one second with traffic"
            ),
            hint,
        );
    }
    u32::try_from(v).unwrap_or(default)
}

fn warmup_load(r: &mut Report, value: &Field<Spanned<String>>) -> Option<u32> {
    let Field::Present(text) = value else {
        return None;
    };
    let raw = text.get_ref().trim();
    let parsed = raw
        .strip_suffix("rps")
        .and_then(|n| n.trim().parse::<u32>().ok());
    match parsed {
        Some(n) if (1..=MOST_WARMUP_RPS).contains(&n) => Some(n),
        Some(n) => {
            r.at(
                &text.span(),
                "analysis.warmup_load",
                format!("warmup_load must be between 1 and {MOST_WARMUP_RPS} requests per second, got {n}"),
                "e.g. warmup_load = \"20rps\"; remove the key for no warm-up load",
            );
            None
        }
        None => {
            r.at(
                &text.span(),
                "analysis.warmup_load",
                format!("`{raw}` is not a request rate"),
                "write whole requests per second with the unit, e.g. warmup_load = \"20rps\"",
            );
            None
        }
    }
}

fn warmup_path(r: &mut Report, value: &Field<Spanned<String>>) -> Option<String> {
    let Field::Present(path) = value else {
        return None;
    };
    let p = path.get_ref();
    if !p.starts_with('/') || p.chars().any(|c| c.is_whitespace() || c.is_control()) {
        r.at(
            &path.span(),
            "analysis.warmup_path",
            format!("warmup_path `{p}` is not a URL path"),
            "start it with / and leave out spaces, e.g. warmup_path = \"/api/items\"",
        );
        return None;
    }
    Some(p.clone())
}
