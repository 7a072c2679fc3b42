//! `file:line:col: message` and `file:line: message`: gcc, clang, flake8, mypy, ruff,
//! eslint's unix format, go vet, and pytest's `tests/x.py:12: AssertionError` lines.

use super::{Found, GateProblem, ProblemFormat, kind_of, number};
use regex::Regex;
use std::sync::LazyLock;

static FILE_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?:(?P<col>\d+):)?\s+(?P<msg>\S.*)$")
        .expect("a valid pattern")
});

/// eslint's unix format ends its message with `[Error/rule-name]`.
static ESLINT_TAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\s*\[(?P<sev>Error|Warning)/(?P<rule>[^\]]+)\]$").expect("a valid pattern")
});

pub(super) fn file_line(lines: &[&str]) -> Vec<Found> {
    let mut out = Vec::new();
    for (at, line) in lines.iter().enumerate() {
        let Some(c) = FILE_LINE.captures(line) else {
            continue;
        };
        let file = &c["file"];
        // A path, not a clock (`12:30:05: …`) or an address (`http://…`).
        if !(file.contains('.') || file.contains('/')) || file.contains("://") {
            continue;
        }
        let mut message = c["msg"].to_string();
        let mut kind = kind_of(&message, "error");
        if let Some(tail) = ESLINT_TAIL.captures(&message) {
            kind = tail["sev"].to_ascii_lowercase();
            let rule = tail["rule"].to_string();
            let cut = tail.get(0).map_or(message.len(), |m| m.start());
            message = format!("{} ({rule})", &message[..cut]);
        }
        for prefix in ["error: ", "warning: ", "note: "] {
            if let Some(rest) = message.strip_prefix(prefix) {
                message = rest.to_string();
            }
        }
        out.push((
            at,
            GateProblem {
                file: file.to_string(),
                line: number(&c["line"]),
                col: c.name("col").and_then(|m| number(m.as_str())),
                message,
                kind,
                format: ProblemFormat::FileLine,
            },
        ));
    }
    out
}
