//! Python: tracebacks (`File "x.py", line 3, in f` … `ValueError: …`), as unittest, pytest
//! and a crashing script print them, and pytest's short summary (`FAILED tests/x.py::t - …`).

use super::{Found, GateProblem, ProblemFormat, number};
use regex::Regex;
use std::sync::LazyLock;

static FRAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>.+))?$"#)
        .expect("a valid pattern")
});
static SUMMARY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?P<what>FAILED|ERROR) (?P<file>[^\s:]+)(?:::(?P<test>\S+))?(?: - (?P<msg>.+))?$")
        .expect("a valid pattern")
});

/// One problem per traceback: where it was raised in the plugin's own code (the last
/// frame outside Python's library), with the exception line as the message.
pub(super) fn tracebacks(lines: &[&str]) -> Vec<Found> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < lines.len() {
        let starts = lines[at].trim_start().starts_with("Traceback (most recent call last)")
            // A SyntaxError names its place without a traceback header.
            || (FRAME.is_match(lines[at]) && !lines[at].contains(", in "));
        if !starts {
            at += 1;
            continue;
        }
        let first = at;
        let mut frames: Vec<(String, Option<u32>)> = Vec::new();
        let mut exception = None;
        at += if lines[at].contains("Traceback") {
            1
        } else {
            0
        };
        while at < lines.len() {
            let line = lines[at];
            if let Some(c) = FRAME.captures(line) {
                frames.push((c["file"].to_string(), number(&c["line"])));
            } else if !line.starts_with([' ', '\t']) && !line.trim().is_empty() {
                exception = Some(line.trim().to_string());
                break;
            }
            at += 1;
        }
        at += 1;
        let (Some(exception), Some(last)) = (exception, frames.last().cloned()) else {
            continue;
        };
        let (file, line) = frames
            .iter()
            .rev()
            .find(|(f, _)| !is_library(f))
            .cloned()
            .unwrap_or(last);
        out.push((
            first,
            GateProblem {
                file,
                line,
                col: None,
                message: exception,
                kind: "exception".to_string(),
                format: ProblemFormat::PythonTraceback,
            },
        ));
    }
    out
}

fn is_library(file: &str) -> bool {
    file.contains("/lib/python") || file.contains("site-packages") || file.starts_with('<')
}

pub(super) fn pytest_summary(lines: &[&str]) -> Vec<Found> {
    let mut out = Vec::new();
    for (at, line) in lines.iter().enumerate() {
        let Some(c) = SUMMARY.captures(line) else {
            continue;
        };
        let file = &c["file"];
        if !file.ends_with(".py") {
            continue;
        }
        let test = c.name("test").map(|t| t.as_str());
        let msg = c.name("msg").map(|m| m.as_str());
        let message = match (test, msg) {
            (Some(t), Some(m)) => format!("{t}: {m}"),
            (Some(t), None) => format!("{t} failed"),
            (None, Some(m)) => m.to_string(),
            (None, None) => "could not be collected".to_string(),
        };
        out.push((
            at,
            GateProblem {
                file: file.to_string(),
                line: None,
                col: None,
                message,
                kind: if &c["what"] == "FAILED" {
                    "test_failure"
                } else {
                    "error"
                }
                .to_string(),
                format: ProblemFormat::Pytest,
            },
        ));
    }
    out
}
