//! TypeScript's `tsc` (`src/a.ts(3,5): error TS2322: …`) and eslint's default "stylish"
//! format (a file path line, then `  3:5  error  message  rule` lines).

use super::{Found, GateProblem, ProblemFormat, number};
use regex::Regex;
use std::sync::LazyLock;

static TSC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?P<file>[^\s(][^(]*)\((?P<line>\d+),(?P<col>\d+)\): (?P<kind>error|warning) (?P<code>TS\d+): (?P<msg>.+)$")
        .expect("a valid pattern")
});
static STYLISH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s+(?P<line>\d+):(?P<col>\d+)\s+(?P<kind>error|warning)\s+(?P<msg>.+?)(?:\s{2,}(?P<rule>[@\w/-]+))?$")
        .expect("a valid pattern")
});

pub(super) fn tsc(lines: &[&str]) -> Vec<Found> {
    let mut out = Vec::new();
    for (at, line) in lines.iter().enumerate() {
        let Some(c) = TSC.captures(line) else {
            continue;
        };
        out.push((
            at,
            GateProblem {
                file: c["file"].to_string(),
                line: number(&c["line"]),
                col: number(&c["col"]),
                message: format!("{}: {}", &c["code"], &c["msg"]),
                kind: c["kind"].to_string(),
                format: ProblemFormat::Tsc,
            },
        ));
    }
    out
}

pub(super) fn eslint_stylish(lines: &[&str]) -> Vec<Found> {
    let mut out = Vec::new();
    let mut file: Option<&str> = None;
    for (at, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            file = None;
            continue;
        }
        if !line.starts_with([' ', '\t']) {
            let looks_like_path = line.contains('/') || line.contains('.');
            file = (looks_like_path && !line.contains(' ')).then_some(line.trim());
            continue;
        }
        let (Some(path), Some(c)) = (file, STYLISH.captures(line)) else {
            continue;
        };
        let message = match c.name("rule") {
            Some(rule) => format!("{} ({})", &c["msg"], rule.as_str()),
            None => c["msg"].to_string(),
        };
        out.push((
            at,
            GateProblem {
                file: path.to_string(),
                line: number(&c["line"]),
                col: number(&c["col"]),
                message,
                kind: c["kind"].to_string(),
                format: ProblemFormat::Eslint,
            },
        ));
    }
    out
}
