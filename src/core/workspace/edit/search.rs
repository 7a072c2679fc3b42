//! Finding a search block: exactly once, or a refusal that helps the retry.

use super::RefusalKind;
use serde::{Deserialize, Serialize};

/// The lines of a file most like a search block that matched nothing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Nearest {
    /// 1-based, inclusive.
    pub first_line: usize,
    pub last_line: usize,
    /// How alike, 0 to 1 (the mean character similarity of the lines).
    pub similarity: f64,
    /// The lines as they are in the file.
    pub text: String,
}

pub(super) struct Miss {
    pub kind: RefusalKind,
    pub reason: String,
    pub nearest: Option<Nearest>,
}

/// Longest file scanned for the nearest lines; past it the refusal says only "no match".
const NEAREST_MAX_LINES: usize = 20_000;

/// `text` with the one occurrence of `search` replaced.
///
/// Besides the exact text, two spellings of the same lines are tried, each only when the
/// exact text occurs nowhere: the search with CRLF line ends in a file that uses them (a
/// model writes `\n`), and the search without its final newline (the file's last line has
/// none). Neither changes which characters match; nothing else is loosened.
pub(super) fn apply(text: &str, search: &str, replace: &str) -> Result<String, Miss> {
    if search.is_empty() {
        return Err(Miss {
            kind: RefusalKind::Malformed,
            reason: "the search text is empty; give the exact lines to replace, or use a whole_file edit".to_string(),
            nearest: None,
        });
    }
    for (s, r) in spellings(text, search, replace) {
        let starts: Vec<usize> = text.match_indices(s.as_str()).map(|(i, _)| i).collect();
        match starts.as_slice() {
            [] => continue,
            [start] => {
                let mut out = String::with_capacity(text.len() + r.len());
                out.push_str(&text[..*start]);
                out.push_str(&r);
                out.push_str(&text[start + s.len()..]);
                return Ok(out);
            }
            many => {
                let lines: Vec<String> = many
                    .iter()
                    .map(|i| (line_of(text, *i)).to_string())
                    .collect();
                return Err(Miss {
                    kind: RefusalKind::Ambiguous,
                    reason: format!(
                        "the search text occurs {} times (at lines {}); add lines around the change so it occurs once",
                        many.len(),
                        lines.join(", ")
                    ),
                    nearest: None,
                });
            }
        }
    }
    let nearest = nearest(text, search);
    let reason = match &nearest {
        Some(n) => format!(
            "the search text does not occur in the file (it must match exactly, whitespace included); the most similar lines are {}-{} ({:.0}% alike):\n{}\ncopy the lines exactly as they are and retry",
            n.first_line,
            n.last_line,
            n.similarity * 100.0,
            numbered(&n.text, n.first_line)
        ),
        None => "the search text does not occur in the file (it must match exactly, whitespace included); read the file and copy the lines exactly".to_string(),
    };
    Err(Miss {
        kind: RefusalKind::NoMatch,
        reason,
        nearest,
    })
}

/// The search as written, then the allowed respellings (see [`apply`]).
fn spellings(text: &str, search: &str, replace: &str) -> Vec<(String, String)> {
    let mut out = vec![(search.to_string(), replace.to_string())];
    if text.contains("\r\n") && !search.contains('\r') {
        out.push((search.replace('\n', "\r\n"), replace.replace('\n', "\r\n")));
    }
    let trimmed: Vec<(String, String)> = out
        .iter()
        .filter_map(|(s, r)| {
            let s2 = s.strip_suffix("\r\n").or_else(|| s.strip_suffix('\n'))?;
            let r2 = r
                .strip_suffix("\r\n")
                .or_else(|| r.strip_suffix('\n'))
                .unwrap_or(r);
            (!s2.is_empty()).then(|| (s2.to_string(), r2.to_string()))
        })
        .collect();
    out.extend(trimmed);
    out
}

/// The 1-based line number of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count() + 1
}

/// `text` with `first`, `first + 1`, … before each line.
pub(super) fn numbered(text: &str, first: usize) -> String {
    text.lines()
        .enumerate()
        .map(|(i, line)| format!("{:>5} | {line}", first + i))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The window of the file's lines, as many as the search has, most like the search.
fn nearest(text: &str, search: &str) -> Option<Nearest> {
    let lines: Vec<&str> = text.lines().collect();
    let wanted: Vec<&str> = search.lines().collect();
    if lines.is_empty() || wanted.is_empty() || lines.len() > NEAREST_MAX_LINES {
        return None;
    }
    let width = wanted.len().min(lines.len());
    let mut best: Option<(usize, f64)> = None;
    for start in 0..=(lines.len() - width) {
        let score = lines[start..start + width]
            .iter()
            .zip(&wanted)
            .map(|(have, want)| line_similarity(have, want))
            .sum::<f64>()
            / wanted.len() as f64;
        if best.is_none_or(|(_, b)| score > b) {
            best = Some((start, score));
        }
    }
    let (start, similarity) = best?;
    Some(Nearest {
        first_line: start + 1,
        last_line: start + width,
        similarity,
        text: lines[start..start + width].join("\n"),
    })
}

fn line_similarity(a: &str, b: &str) -> f64 {
    let (a, b) = (a.trim(), b.trim());
    if a == b {
        return 1.0;
    }
    f64::from(similar::TextDiff::from_chars(a, b).ratio())
}
