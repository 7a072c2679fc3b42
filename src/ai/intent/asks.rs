//! The read-only requests: help, why a plugin fails, its errors, what happened, one of its
//! numbers, its status. Only reached when the request names no action.

use super::words::Words;
use super::{Intent, Measure, SlotWord};
use crate::core::types::SlotName;

pub(super) fn ask(w: &Words, plugin: Option<String>) -> Intent {
    let greeting = w.len() <= 2 && w.any(&["hi", "hello", "hey", "yo", "hiya"]);
    if w.has("help")
        || greeting
        || w.has_seq(&["what", "can", "you", "do"])
        || w.has_seq(&["what", "do", "you", "understand"])
        || w.any(&["commands", "examples"])
    {
        return Intent::Help;
    }
    let Some(plugin) = plugin else {
        return if recognised(w) {
            Intent::NoPlugin
        } else {
            Intent::Unknown
        };
    };
    if why_failing(w) {
        return Intent::WhyFailing { plugin };
    }
    if show_errors(w) {
        return Intent::ShowErrors {
            plugin,
            slot: slot_word(w),
        };
    }
    if history(w) {
        return Intent::History {
            plugin,
            about: None,
        };
    }
    if let Some(measure) = measure(w) {
        return Intent::Metric {
            plugin,
            measure,
            slot: slot_word(w),
        };
    }
    if status(w) {
        return Intent::Status { plugin };
    }
    Intent::Unknown
}

fn recognised(w: &Words) -> bool {
    why_failing(w) || show_errors(w) || history(w) || measure(w).is_some() || status(w)
}

/// The slot a request names, if any.
pub(super) fn slot_word(w: &Words) -> Option<SlotWord> {
    if w.any(&["canary", "new", "newer"]) {
        Some(SlotWord::Canary)
    } else if w.any(&["stable", "old", "older", "baseline"]) {
        Some(SlotWord::Stable)
    } else if w.has("blue") {
        Some(SlotWord::Slot(SlotName::Blue))
    } else if w.has("green") {
        Some(SlotWord::Slot(SlotName::Green))
    } else {
        None
    }
}

const ERROR_WORDS: &[&str] = &[
    "error",
    "errors",
    "failures",
    "exceptions",
    "500s",
    "5xx",
    "panics",
    "panic",
    "stacktrace",
    "traceback",
    "erroring",
];
const RATE_WORDS: &[&str] = &["rate", "percent", "ratio", "percentage", "often", "much"];

fn why_failing(w: &Words) -> bool {
    const BAD: &[&str] = &[
        "fail",
        "failing",
        "failed",
        "error",
        "errors",
        "down",
        "break",
        "broken",
        "slow",
        "wrong",
        "red",
        "crash",
        "unhealthy",
        "high",
        "spike",
        "spiking",
        "500",
        "5xx",
        "timeout",
        "timeouts",
        "bad",
        "flaky",
        "degraded",
        "alert",
        "alerting",
        "firing",
        "paging",
        "erroring",
        "sick",
        "problem",
        "trouble",
        "struggling",
        "worse",
    ];
    (w.any(&["why", "anything", "something"]) && w.any(BAD))
        || w.has_seq(&["what", "is", "wrong"])
        || w.has_seq(&["what", "go", "wrong"])
        || w.has_seq(&["what", "break"])
        || w.has_seq(&["what", "fail"])
        || w.has_seq(&["anything", "wrong"])
        || w.has_seq(&["something", "wrong"])
        || w.has_seq(&["root", "cause"])
        || w.any(&[
            "diagnose",
            "investigate",
            "troubleshoot",
            "debug",
            "diagnosis",
            "problem",
            "problems",
            "issue",
            "issues",
        ])
}

fn show_errors(w: &Words) -> bool {
    w.any(ERROR_WORDS)
        && !w.any(RATE_WORDS)
        && !w.has_seq(&["how", "many"])
        && (w.any(&[
            "show", "list", "see", "tail", "display", "print", "give", "any", "last", "latest",
            "recent", "which", "logs", "log", "lines", "me",
        ]) || w.has_seq(&["what", "error"]))
}

fn history(w: &Words) -> bool {
    w.any(&[
        "history",
        "timeline",
        "audit",
        "events",
        "lately",
        "recently",
        "changelog",
    ]) || w.has_seq(&["what", "happen"])
        || w.has_seq(&["what", "change"])
        || w.has_seq(&["who", "change"])
        || w.has_seq(&["last", "hour"])
        || w.has_seq(&["last", "rollout"])
        || w.has_seq(&["how", "did"])
        || w.has_seq(&["what", "did", "you", "do"])
        || w.has_seq(&["what", "did", "naap", "do"])
}

fn measure(w: &Words) -> Option<Measure> {
    let text_has = |s: &str| (0..w.len()).any(|i| w.text(i) == s);
    Some(
        if w.any(&["p99", "99th"]) || w.has_seq(&["99", "percentile"]) {
            Measure::P99
        } else if w.any(&["p95", "95th"]) {
            Measure::P95
        } else if w.any(&["p50", "median", "50th"]) {
            Measure::P50
        } else if w.any(&[
            "latency",
            "latencies",
            "slow",
            "fast",
            "ms",
            "milliseconds",
            "quick",
            "snappy",
        ]) || w.has_seq(&["response", "time"])
            || w.has_seq(&["response", "times"])
            || w.has_seq(&["how", "long"])
        {
            Measure::Latency
        } else if w.any(ERROR_WORDS) || w.has_seq(&["failure", "rate"]) || w.has("failing") {
            Measure::ErrorRate
        } else if w.any(&["rps", "qps", "throughput", "load", "busy", "req/s"])
            || w.has_seq(&["per", "second"])
            || w.has_seq(&["how", "many", "request"])
            || w.has_seq(&["how", "many", "requests"])
            || text_has("requests")
            || (0..w.len()).any(|i| w.text(i).starts_with("req") && w.text(i).contains('/'))
        {
            Measure::Rps
        } else if w.any(&["weight", "weights", "split"])
            || w.has_seq(&["how", "much", "traffic"])
            || w.has_seq(&["what", "percent"])
            || (w.has("traffic") && w.any(&["what", "which", "how", "where"]))
            || (w.has("percent") || (0..w.len()).any(|i| w.text(i).ends_with('%')))
        {
            Measure::Weight
        } else if w.any(&["health", "healthy", "unhealthy", "alive"])
            || (w.at(0) == "is" && w.at(w.len().saturating_sub(1)) == "up")
            || w.has_seq(&["health", "check"])
        {
            Measure::Health
        } else if w.any(&["cpu", "processor"]) {
            Measure::Cpu
        } else if w.any(&["memory", "ram", "rss"]) {
            Measure::Memory
        } else if w.any(&["restart", "restarts", "restarted", "crashloop"]) {
            Measure::Restarts
        } else {
            return None;
        },
    )
}

fn status(w: &Words) -> bool {
    w.any(&[
        "status", "doing", "state", "overview", "summary", "report", "look", "looking", "going",
        "okay", "ok", "fine", "alright", "progress", "warm",
    ]) || w.has_seq(&["how", "is"])
        || w.has_seq(&["go", "on"])
        || w.has_seq(&["is", "happen"])
        || w.has_seq(&["how", "are"])
        || w.has_seq(&["what", "is", "up"])
}
