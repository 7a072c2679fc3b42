//! Parser and evaluation tests: a table of valid and broken conditions, and garbage input.

use super::*;
use crate::core::types::{Health, SlotName};
use chrono::{DateTime, TimeZone, Utc};
use std::time::Duration;

pub(super) fn t0() -> DateTime<Utc> {
    // A fixed instant keeps the tests independent of the wall clock.
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .expect("valid date")
}

pub(super) fn slot(name: SlotName, role: SlotRole) -> SlotSample {
    SlotSample {
        slot: name,
        role,
        error_rate: 0.0,
        rps: 10.0,
        p50_ms: 5.0,
        p95_ms: 20.0,
        p99_ms: 50.0,
        cpu_percent: 10.0,
        rss_bytes: 100 * 1024 * 1024,
        health: Health::Healthy,
        has_process: true,
    }
}

/// Blue is live, green is the canary.
pub(super) fn sample() -> PluginSample {
    PluginSample {
        slots: vec![
            slot(SlotName::Blue, SlotRole::Live),
            slot(SlotName::Green, SlotRole::Canary),
        ],
        restart_times: Vec::new(),
    }
}

/// (condition, canonical text after parsing)
const VALID: &[(&str, &str)] = &[
    ("error_rate > 0.05 for 30s", "error_rate > 0.05 for 30s"),
    ("p99_ms > 800 for 1m", "p99_ms > 800 for 1m"),
    ("rps < 1 for 5m", "rps < 1 for 5m"),
    ("health == unhealthy", "health == unhealthy"),
    ("restarts > 3 in 10m", "restarts > 3 in 10m"),
    (
        "error_rate{slot=canary} > 2% and p99_ms > 500",
        "error_rate{slot=canary} > 0.02 and p99_ms > 500",
    ),
    (
        "(rps < 1 or health == unhealthy) for 1m",
        "rps < 1 or health == unhealthy for 1m",
    ),
    ("error_rate >= 5%", "error_rate >= 0.05"),
    ("error_rate{slot=any} != 0", "error_rate != 0"),
    ("p95_ms <= 1.5s", "p95_ms <= 1500"),
    ("p50_ms == 10ms", "p50_ms == 10"),
    ("cpu_percent > 80%", "cpu_percent > 80"),
    ("rss_mb > 1GB", "rss_mb > 1024"),
    ("rss_mb > 512MB", "rss_mb > 512"),
    (
        "health{slot=live} != healthy",
        "health{slot=live} != healthy",
    ),
    ("health == unknown for 500ms", "health == unknown for 500ms"),
    ("a_metric_free_zone_is_not_allowed > 1", ""),
    (
        "error_rate > 0.05 for 30s and p99_ms > 500",
        "(error_rate > 0.05 for 30s) and p99_ms > 500",
    ),
    (
        "error_rate > 0.05 and p99_ms > 500 for 1m",
        "error_rate > 0.05 and p99_ms > 500 for 1m",
    ),
    ("(a_b > 1)", ""),
    (
        "rps < 1 or error_rate > 0.1 and p99_ms > 100",
        "rps < 1 or (error_rate > 0.1 and p99_ms > 100)",
    ),
    (
        "(rps < 1 or error_rate > 0.1) and p99_ms > 100",
        "(rps < 1 or error_rate > 0.1) and p99_ms > 100",
    ),
    (
        "(error_rate{slot=blue} > .5 and p99_ms{slot=green} > 5 for 2m)",
        "error_rate{slot=blue} > 0.5 and (p99_ms{slot=green} > 5 for 2m)",
    ),
    ("restarts >= 1 in 1h30m", "restarts >= 1 in 1h30m"),
    ("  rps   >   100  ", "rps > 100"),
    (
        "((rps < 1 for 10s) or health == unhealthy) for 1m",
        "(rps < 1 for 10s) or health == unhealthy for 1m",
    ),
];

#[test]
fn valid_conditions_parse_to_their_canonical_form() {
    for (src, canonical) in VALID {
        if canonical.is_empty() {
            // Rows with no canonical form are here to be rejected (kept next to valid
            // look-alikes on purpose).
            assert!(parse(src).is_err(), "{src} should not parse");
            continue;
        }
        let rule = parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        assert_eq!(rule.to_string(), *canonical, "canonical form of {src}");
        // The canonical form is itself valid and means the same thing.
        let again = parse(canonical).unwrap_or_else(|e| panic!("{canonical}: {e}"));
        assert_eq!(again.to_string(), *canonical);
        assert_eq!(again.expr(), rule.expr(), "{canonical}");
    }
}

#[test]
fn for_durations_go_to_the_rule_or_to_an_atom() {
    let r = parse("error_rate > 0.05 for 30s").unwrap();
    assert_eq!(r.hold_for(), Duration::from_secs(30));
    assert_eq!(r.timer_count(), 0);
    let r = parse("error_rate > 0.05 for 30s and p99_ms > 500").unwrap();
    assert_eq!(r.hold_for(), Duration::ZERO);
    assert_eq!(r.timer_count(), 1);
    let r = parse("(rps < 1 or health == unhealthy) for 1m").unwrap();
    assert_eq!(r.hold_for(), Duration::from_secs(60));
    let r = parse("p99_ms > 800").unwrap();
    assert_eq!(r.hold_for(), Duration::ZERO);
}

/// (condition, expected column, message fragment, hint fragment)
const BROKEN: &[(&str, usize, &str, &str)] = &[
    ("", 1, "empty", "error_rate"),
    ("   ", 1, "empty", ""),
    (
        "errror_rate > 0.05",
        1,
        "unknown metric `errror_rate`",
        "did you mean `error_rate`?",
    ),
    (
        "p99 > 800",
        1,
        "unknown metric `p99`",
        "did you mean `p99_ms`?",
    ),
    (
        "helth == unhealthy",
        1,
        "unknown metric",
        "did you mean `health`?",
    ),
    (
        "error_rate >",
        13,
        "expected a number after `>`",
        "column 12",
    ),
    ("error_rate > for 30s", 14, "expected a number", ""),
    ("error_rate 0.05", 12, "expected a comparison", ""),
    ("error_rate = 0.05", 12, "`=` is not a comparison", "=="),
    ("error_rate > 0.05 for 30x", 23, "not a duration", ""),
    ("error_rate > 0.05 for 30", 23, "has no unit", "30s"),
    ("error_rate > 0.05 for", 22, "expected a duration", ""),
    ("error_rate > 0.05 extra", 19, "unexpected `extra`", "and"),
    ("(rps < 1", 9, "unbalanced `(`", "column 1"),
    ("rps < 1)", 8, "unbalanced `)`", ""),
    ("((rps < 1) or rps > 5", 22, "unbalanced `(`", "column 1"),
    ("health == sick", 11, "expected a health state", "unhealthy"),
    ("health > healthy", 8, "expected `==` or `!=`", ""),
    ("restarts > 3", 13, "expected `in`", "10m"),
    ("restarts > 3 in", 16, "expected a duration", ""),
    ("restarts > 2.5 in 1m", 12, "whole number", ""),
    (
        "error_rate{slot=purple} > 0.1",
        17,
        "unknown slot selector `purple`",
        "canary",
    ),
    ("error_rate{slt=canary} > 0.1", 12, "expected `slot`", ""),
    (
        "error_rate{slot=canary > 0.1",
        24,
        "expected `}`",
        "column 11",
    ),
    ("rps > 5%", 7, "unit `%` does not fit `rps`", ""),
    ("error_rate > 5", 14, "fraction", "5%"),
    (
        "error_rate > 0.05 and",
        22,
        "expected a condition after `and`",
        "",
    ),
    ("rps > 1 or or rps < 1", 12, "expected a metric", ""),
    ("rps < -1", 7, "negative", ""),
    ("rps > 1 && rps < 5", 9, "unexpected `&`", "and"),
    ("rps > 1 || rps < 5", 9, "unexpected `|`", "or"),
    ("rps > 1 for 1m for 2m", 16, "second `for`", ""),
    ("rps ≥ 1", 5, "unexpected character `≥`", ""),
    ("é > 1", 1, "unexpected character", ""),
    ("rps > 1 and (p99_ms > 5))", 25, "unbalanced `)`", ""),
    ("not rps > 1", 1, "unknown metric `not`", ""),
    ("() ", 2, "expected a metric", ""),
];

#[test]
fn broken_conditions_point_at_the_column() {
    for (src, column, message, hint) in BROKEN {
        let err = match parse(src) {
            Ok(rule) => panic!("{src:?} parsed as {rule}"),
            Err(e) => e,
        };
        assert_eq!(err.column, *column, "{src:?}: {err}");
        assert!(err.message.contains(message), "{src:?}: {err}");
        assert!(err.hint.contains(hint), "{src:?}: {err}");
    }
}

#[test]
fn garbage_never_panics() {
    let pieces = [
        "error_rate",
        "rps",
        "p99_ms",
        "health",
        "restarts",
        "for",
        "in",
        "and",
        "or",
        "(",
        ")",
        "{",
        "}",
        "slot",
        "=",
        "==",
        "!=",
        ">",
        ">=",
        "<",
        "0.05",
        "5%",
        "30s",
        "1m",
        ".",
        "..",
        "1e9",
        "99999999999999999999999",
        "canary",
        "unhealthy",
        "é",
        "≥",
        " ",
        "",
        "-",
        "!",
        "&",
        "\t",
        "0",
        "1.2.3",
        "18446744073709551616h",
        "\u{0}",
        "_",
    ];
    let mut rng = fastrand::Rng::with_seed(7);
    for _ in 0..600 {
        let n = rng.usize(0..12);
        let mut s = String::new();
        for _ in 0..n {
            s.push_str(pieces[rng.usize(..pieces.len())]);
            if rng.bool() {
                s.push(' ');
            }
        }
        match parse(&s) {
            Ok(rule) => {
                // Whatever parses must also evaluate and describe without panicking.
                let _ = rule.holds(&sample(), t0());
                let _ = rule.summary(&sample(), t0());
                let mut timers = vec![None; rule.timer_count()];
                let _ = rule.holds_timed(&sample(), t0(), &mut timers);
            }
            Err(e) => assert!(
                e.column >= 1 && e.column <= s.chars().count() + 1,
                "{s:?}: {e}"
            ),
        }
    }
    // Plain random characters too.
    for _ in 0..300 {
        let s: String = (0..rng.usize(0..20)).map(|_| rng.char(..)).collect();
        let _ = parse(&s);
    }
}

#[test]
fn comparisons_evaluate_per_slot_selector() {
    let mut s = sample();
    s.slots[1].error_rate = 0.10; // canary is bad, live is fine
    let holds = |c: &str, s: &PluginSample| parse(c).unwrap().holds(s, t0());
    assert!(holds("error_rate > 0.05", &s));
    assert!(holds("error_rate{slot=canary} > 5%", &s));
    assert!(holds("error_rate{slot=green} > 5%", &s));
    assert!(!holds("error_rate{slot=live} > 5%", &s));
    assert!(!holds("error_rate{slot=blue} > 5%", &s));
    assert!(holds("error_rate{slot=canary} > 2% and p99_ms > 40", &s));
    assert!(!holds("error_rate{slot=canary} > 2% and p99_ms > 500", &s));
    assert!(holds("rss_mb >= 100 and rss_mb < 0.1GB", &s));
    // A slot without a process has no data: it never matches, not even with `!=`.
    s.slots[1].has_process = false;
    assert!(!holds("error_rate{slot=canary} != 0", &s));
    assert!(!holds("error_rate > 0.05", &s));
    s.slots[0].health = Health::Unhealthy;
    assert!(holds("health == unhealthy", &s));
    assert!(holds("health{slot=live} != healthy", &s));
    assert!(!holds("health{slot=canary} == unhealthy", &s));
    // NaN is "no data", not a breach.
    s.slots[0].p99_ms = f64::NAN;
    assert!(!holds("p99_ms > 1", &s));
    assert!(!holds("p99_ms != 1", &s));
}

#[test]
fn restarts_are_counted_in_the_window() {
    let now = t0();
    let mut s = sample();
    let mins = |m: i64| now - chrono::Duration::minutes(m);
    s.restart_times = vec![mins(30), mins(9), mins(5), mins(1)];
    let rule = parse("restarts > 3 in 10m").unwrap();
    assert!(!rule.holds(&s, now), "only 3 restarts in the last 10m");
    s.restart_times.push(mins(0));
    assert!(rule.holds(&s, now));
    assert!(rule.summary(&s, now).contains("4 restarts in the last 10m"));
    // The same restarts age out of the window.
    assert!(!rule.holds(&s, now + chrono::Duration::minutes(6)));
    assert!(parse("restarts >= 5 in 1h").unwrap().holds(&s, now));
}

#[test]
fn nested_for_needs_its_own_timer() {
    let rule = parse("error_rate > 0.05 for 30s and p99_ms > 40").unwrap();
    let mut s = sample();
    s.slots[0].error_rate = 0.2;
    let mut timers = vec![None; rule.timer_count()];
    let at = |secs: i64| t0() + chrono::Duration::seconds(secs);
    assert!(rule.holds(&s, at(0)), "instantaneous view ignores `for`");
    assert!(!rule.holds_timed(&s, at(0), &mut timers));
    assert!(!rule.holds_timed(&s, at(29), &mut timers));
    assert!(rule.holds_timed(&s, at(30), &mut timers));
    // One good tick restarts the timer.
    s.slots[0].error_rate = 0.0;
    assert!(!rule.holds_timed(&s, at(31), &mut timers));
    s.slots[0].error_rate = 0.2;
    assert!(!rule.holds_timed(&s, at(32), &mut timers));
    assert!(rule.holds_timed(&s, at(62), &mut timers));
}

#[test]
fn summaries_carry_the_numbers() {
    let mut s = sample();
    s.slots[1].error_rate = 0.12;
    let rule = parse("error_rate > 0.05 for 30s").unwrap();
    assert_eq!(
        rule.summary(&s, t0()),
        "error_rate 0.12 > 0.05 on green for 30s"
    );
    let rule = parse("rps < 1 or error_rate > 5%").unwrap();
    assert_eq!(rule.summary(&s, t0()), "error_rate 0.12 > 0.05 on green");
    let rule = parse("p99_ms{slot=canary} > 500").unwrap();
    assert_eq!(
        rule.summary(&s, t0()),
        "p99_ms 50 (threshold > 500) on green"
    );
    s.slots[1].has_process = false;
    assert_eq!(
        rule.summary(&s, t0()),
        "p99_ms > 500 (no canary slot running)"
    );
}

#[test]
fn rule_error_display_names_column_and_hint() {
    let e = parse("errror_rate > 1").unwrap_err();
    assert_eq!(
        e.to_string(),
        "column 1: unknown metric `errror_rate` (did you mean `error_rate`?)"
    );
}
