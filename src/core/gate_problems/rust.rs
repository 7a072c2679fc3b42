//! rustc and cargo: `--message-format=json` lines, and the human format
//! (`error[E0308]: mismatched types` then ` --> src/main.rs:3:5`).

use super::{Found, GateProblem, ProblemFormat, number};
use regex::Regex;
use std::sync::LazyLock;

static HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?P<kind>error|warning)(?:\[(?P<code>[A-Za-z0-9_]+)\])?: (?P<msg>.+)$")
        .expect("a valid pattern")
});
static ARROW: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*--> (?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+)$").expect("a valid pattern")
});

/// `{"reason":"compiler-message","message":{…}}` lines: one problem per message with a
/// primary span.
pub(super) fn cargo_json(lines: &[&str]) -> Vec<Found> {
    let mut out = Vec::new();
    for (at, line) in lines.iter().enumerate() {
        if !line.starts_with('{') || !line.contains("\"compiler-message\"") {
            continue;
        }
        let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let message = &value["message"];
        let Some(text) = message["message"].as_str() else {
            continue;
        };
        let level = message["level"].as_str().unwrap_or("error");
        let spans = message["spans"].as_array().cloned().unwrap_or_default();
        let Some(span) = spans
            .iter()
            .find(|s| s["is_primary"].as_bool() == Some(true))
            .or(spans.first())
        else {
            continue; // "aborting due to 2 previous errors" and the like
        };
        let code = message["code"]["code"]
            .as_str()
            .map(|c| format!("[{c}] "))
            .unwrap_or_default();
        let label = span["label"]
            .as_str()
            .map(|l| format!(": {l}"))
            .unwrap_or_default();
        out.push((
            at,
            GateProblem {
                file: span["file_name"].as_str().unwrap_or_default().to_string(),
                line: span["line_start"]
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok()),
                col: span["column_start"]
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok()),
                message: format!("{code}{text}{label}"),
                kind: level.to_string(),
                format: ProblemFormat::CargoJson,
            },
        ));
    }
    out
}

/// A header line followed (within a few lines) by its ` --> file:line:col`.
pub(super) fn human(lines: &[&str]) -> Vec<Found> {
    let mut out = Vec::new();
    for (at, line) in lines.iter().enumerate() {
        let Some(head) = HEADER.captures(line) else {
            continue;
        };
        let arrow = lines
            .iter()
            .skip(at + 1)
            .take(3)
            .find_map(|l| ARROW.captures(l));
        let Some(arrow) = arrow else {
            continue;
        };
        let code = head
            .name("code")
            .map(|c| format!("[{}] ", c.as_str()))
            .unwrap_or_default();
        out.push((
            at,
            GateProblem {
                file: arrow["file"].to_string(),
                line: number(&arrow["line"]),
                col: number(&arrow["col"]),
                message: format!("{code}{}", &head["msg"]),
                kind: head["kind"].to_string(),
                format: ProblemFormat::Rustc,
            },
        ));
    }
    out
}
