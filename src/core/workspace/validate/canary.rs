//! A canary's plan: `steps = [5, 25, "pause", 50, 100]`, or the shorthand
//! `step_weight = 10` + `max_weight = 50` (10, 20, 30, 40, 50, then 100).

use serde_spanned::Spanned;

use crate::core::workspace::problem::Report;
use crate::core::workspace::raw::RawStrategy;
use crate::core::workspace::reader::{Field, IntOrWord};

const STEPS_HINT: &str = "steps are traffic percentages, strictly ascending and ending at 100, \
                          with optional \"pause\" steps between them, e.g. [5, 25, \"pause\", 50, 100]";
const PAUSE: &str = "pause";

/// The steps and the indexes of steps followed by a pause.
pub(super) fn canary_plan(s: &RawStrategy, r: &mut Report) -> (Vec<u32>, Vec<usize>) {
    let shorthand = s.step_weight.value().or(s.max_weight.value());
    match (&s.steps, shorthand) {
        (Field::Present(steps), None) => explicit_steps(r, steps),
        (Field::Present(_), Some(extra)) => {
            let key = if s.step_weight.value().is_some() {
                "step_weight"
            } else {
                "max_weight"
            };
            r.at(
                &extra.span(),
                format!("strategy.{key}"),
                format!("`{key}` and `steps` are both set; they describe the same thing"),
                "keep one: steps = [5, 25, 50, 100], or step_weight = 10 with max_weight = 50",
            );
            (Vec::new(), Vec::new())
        }
        (Field::Absent, _) if shorthand.is_some() => (shorthand_steps(s, r), Vec::new()),
        (Field::Absent, _) => {
            if let Field::Present(k) = &s.kind {
                r.at(
                    &k.span(),
                    "strategy.steps",
                    "a canary strategy needs `steps` (or `step_weight`)",
                    "add e.g. steps = [5, 25, 50, 100] (percent of traffic per step, ending at 100), \
                     or step_weight = 10 with max_weight = 50",
                );
            }
            (Vec::new(), Vec::new())
        }
        // A wrongly typed `steps` was reported where it was read.
        (Field::Invalid, _) => (Vec::new(), Vec::new()),
    }
}

fn explicit_steps(
    r: &mut Report,
    steps: &Spanned<Vec<Spanned<IntOrWord>>>,
) -> (Vec<u32>, Vec<usize>) {
    let items = steps.get_ref();
    if items.is_empty() {
        r.at(
            &steps.span(),
            "strategy.steps",
            "steps must not be empty",
            STEPS_HINT,
        );
        return (Vec::new(), Vec::new());
    }
    let mut weights: Vec<u32> = Vec::with_capacity(items.len());
    let mut pause_after = Vec::new();
    let mut previous: Option<i64> = None;
    let mut last_was_pause = false;
    for (i, item) in items.iter().enumerate() {
        let field = format!("strategy.steps[{i}]");
        match item.get_ref() {
            IntOrWord::Word(w) if w == PAUSE => {
                if weights.is_empty() {
                    r.at(
                        &item.span(),
                        field,
                        "a pause cannot be the first step",
                        "put at least one percentage before it, e.g. [5, \"pause\", 50, 100]",
                    );
                } else if last_was_pause {
                    r.at(
                        &item.span(),
                        field,
                        "two pauses in a row",
                        "one \"pause\" is enough; remove the other",
                    );
                } else {
                    pause_after.push(weights.len() - 1);
                }
                last_was_pause = true;
            }
            IntOrWord::Word(w) => {
                r.at(
                    &item.span(),
                    field,
                    format!("`{w}` is not a step"),
                    "a step is a whole percentage like 25, or \"pause\" to wait for `naap promote`",
                );
            }
            IntOrWord::Int(n) => {
                let n = *n;
                if !(1..=100).contains(&n) {
                    r.at(
                        &item.span(),
                        field,
                        format!("step {n} is not between 1 and 100"),
                        STEPS_HINT,
                    );
                } else if let Some(p) = previous.filter(|p| n <= *p) {
                    r.at(
                        &item.span(),
                        field,
                        format!("step {n} is not above the step before it ({p})"),
                        STEPS_HINT,
                    );
                }
                previous = Some(n);
                last_was_pause = false;
                // In range (checked above) or already reported; the manifest is dropped then.
                weights.push(u32::try_from(n.clamp(0, 100)).unwrap_or(0));
            }
        }
    }
    let last_index = items.len() - 1;
    let last = &items[last_index];
    match last.get_ref() {
        IntOrWord::Int(n) if *n != 100 && (1..=100).contains(n) => r.at(
            &last.span(),
            format!("strategy.steps[{last_index}]"),
            format!("the last step must be 100, not {n}"),
            "end with 100 so the new version takes all traffic, e.g. [5, 25, 50, 100]",
        ),
        IntOrWord::Word(w) if w == PAUSE && !weights.is_empty() => r.at(
            &last.span(),
            format!("strategy.steps[{last_index}]"),
            "a pause cannot be the last step",
            "end with 100; to wait before the last step write [.., 50, \"pause\", 100]",
        ),
        _ => {}
    }
    (weights, pause_after)
}

/// `step_weight` alone walks to 100 in its increments; with `max_weight` it walks to
/// `max_weight`, then goes to 100.
fn shorthand_steps(s: &RawStrategy, r: &mut Report) -> Vec<u32> {
    let hint = "step_weight = 10 with max_weight = 50 means 10, 20, 30, 40, 50, then 100";
    let Some(step) = s.step_weight.value() else {
        if let Some(max) = s.max_weight.value() {
            r.at(
                &max.span(),
                "strategy.max_weight",
                "`max_weight` needs `step_weight`",
                format!("add step_weight, e.g. step_weight = 10; {hint}"),
            );
        }
        return Vec::new();
    };
    let step_n = *step.get_ref();
    if !(1..=100).contains(&step_n) {
        r.at(
            &step.span(),
            "strategy.step_weight",
            format!("step_weight {step_n} is not between 1 and 100"),
            hint,
        );
        return Vec::new();
    }
    let max_n = match s.max_weight.value() {
        Some(max) => {
            let m = *max.get_ref();
            if !(step_n..=100).contains(&m) {
                r.at(
                    &max.span(),
                    "strategy.max_weight",
                    format!("max_weight {m} is not between step_weight ({step_n}) and 100"),
                    hint,
                );
                return Vec::new();
            }
            m
        }
        None => 100,
    };
    let mut out: Vec<u32> = (1..)
        .map(|k| k * step_n)
        .take_while(|w| *w < max_n)
        .filter_map(|w| u32::try_from(w).ok())
        .collect();
    for w in [max_n, 100] {
        let w = u32::try_from(w).unwrap_or(100);
        if out.last() != Some(&w) {
            out.push(w);
        }
    }
    out
}
