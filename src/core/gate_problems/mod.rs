//! A failed gate's output, read as problems a person or a model can act on: file, line,
//! column, message. Known formats: `file:line:col: message` and `file:line: message`
//! (gcc, flake8, mypy, eslint's unix format, pytest's short lines), rustc's and cargo's
//! (human and `--message-format=json`), pytest's `FAILED` summary, Python tracebacks,
//! eslint's stylish format and tsc's `file.ts(3,5): error TS…`. Output in no known format
//! gives no problems; the caller keeps the raw output either way.
//!
//! Pure: text in, problems out.

mod generic;
mod js;
mod python;
mod rust;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use std::path::Path;

/// Most problems kept from one output: the first ones are the ones to fix first.
const MAX_PROBLEMS: usize = 50;

/// One thing a gate reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateProblem {
    /// As the tool printed it, made relative to the tree the gate ran in when it was
    /// inside it.
    pub file: String,
    /// 1-based; `None` when the tool named only the file (pytest's `FAILED` line).
    pub line: Option<u32>,
    pub col: Option<u32>,
    pub message: String,
    /// `error`, `warning`, `note`, `test_failure` or `exception`.
    pub kind: String,
    /// Which format it was read from.
    pub format: ProblemFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemFormat {
    FileLine,
    CargoJson,
    Rustc,
    Pytest,
    PythonTraceback,
    Eslint,
    Tsc,
}

/// A problem found at an output line (0-based), so problems keep the output's order.
pub(crate) type Found = (usize, GateProblem);

/// The problems in `output`, in the order the output gave them, each once. Paths under
/// `root` (the directory the gate ran in) are made relative to it.
pub fn parse(output: &str, root: Option<&Path>) -> Vec<GateProblem> {
    let lines: Vec<&str> = output.lines().map(|l| l.trim_end_matches('\r')).collect();
    let mut found: Vec<Found> = Vec::new();
    found.extend(rust::cargo_json(&lines));
    found.extend(rust::human(&lines));
    found.extend(python::tracebacks(&lines));
    found.extend(python::pytest_summary(&lines));
    found.extend(js::tsc(&lines));
    found.extend(js::eslint_stylish(&lines));
    found.extend(generic::file_line(&lines));
    found.sort_by_key(|(at, _)| *at);
    let mut out: Vec<GateProblem> = Vec::new();
    for (_, mut problem) in found {
        problem.file = relative(&problem.file, root);
        let seen = out.iter().any(|p| {
            p.file == problem.file && p.line == problem.line && p.message == problem.message
        });
        if !seen {
            out.push(problem);
        }
        if out.len() == MAX_PROBLEMS {
            break;
        }
    }
    out
}

fn relative(file: &str, root: Option<&Path>) -> String {
    let Some(root) = root else {
        return file.to_string();
    };
    let canonical = root.canonicalize().ok();
    for base in std::iter::once(root.to_path_buf()).chain(canonical) {
        if let Ok(rel) = Path::new(file).strip_prefix(&base) {
            return rel.display().to_string();
        }
    }
    file.to_string()
}

/// `error`/`warning`/`note` when a message starts with one, else `default`.
pub(crate) fn kind_of(message: &str, default: &str) -> String {
    let lower = message.trim_start().to_ascii_lowercase();
    for kind in ["error", "warning", "note"] {
        if lower.starts_with(kind) {
            return kind.to_string();
        }
    }
    default.to_string()
}

pub(crate) fn number(text: &str) -> Option<u32> {
    text.parse().ok()
}
