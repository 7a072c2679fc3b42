//! The unified diff of two trees: plain text with file headers for the CLI and a model,
//! and the same as data (files, hunks, lines with their kind) for the dashboard to colour.
//! One computation, two renderings, so they cannot disagree.

use serde::{Deserialize, Serialize};
use similar::{ChangeTag, TextDiff};
use std::collections::{BTreeMap, BTreeSet};

/// Lines of context around each change, as `diff -u` and git use.
const CONTEXT: usize = 3;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeDiff {
    /// Changed files only, by path.
    pub files: Vec<FileDiff>,
    pub stat: DiffStat,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffStat {
    pub files: usize,
    pub added: usize,
    pub removed: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDiff {
    pub path: String,
    pub change: FileChange,
    /// Not UTF-8 text on one side: no hunks, only "binary files differ".
    pub binary: bool,
    pub added: usize,
    pub removed: usize,
    pub hunks: Vec<Hunk>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileChange {
    Added,
    Removed,
    Modified,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hunk {
    /// 1-based first line and line count on each side, as in `@@ -a,b +c,d @@`.
    pub old_start: usize,
    pub old_lines: usize,
    pub new_start: usize,
    pub new_lines: usize,
    pub lines: Vec<DiffLine>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffLine {
    pub kind: LineKind,
    /// The line without its line end.
    pub text: String,
    /// The file's last line, without a newline after it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_newline: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    Context,
    Add,
    Remove,
}

/// The diff from `old` to `new`, each a map of relative path → content.
pub fn diff_trees(old: &BTreeMap<String, Vec<u8>>, new: &BTreeMap<String, Vec<u8>>) -> TreeDiff {
    let paths: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let mut files = Vec::new();
    for path in paths {
        let (before, after) = (old.get(path), new.get(path));
        if before == after {
            continue;
        }
        let change = match (before, after) {
            (None, _) => FileChange::Added,
            (_, None) => FileChange::Removed,
            _ => FileChange::Modified,
        };
        let empty = Vec::new();
        let (a, b) = (before.unwrap_or(&empty), after.unwrap_or(&empty));
        let file = match (std::str::from_utf8(a), std::str::from_utf8(b)) {
            (Ok(a), Ok(b)) => text_diff(path, change, a, b),
            _ => FileDiff {
                path: path.clone(),
                change,
                binary: true,
                added: 0,
                removed: 0,
                hunks: Vec::new(),
            },
        };
        files.push(file);
    }
    let stat = DiffStat {
        files: files.len(),
        added: files.iter().map(|f| f.added).sum(),
        removed: files.iter().map(|f| f.removed).sum(),
    };
    TreeDiff { files, stat }
}

fn text_diff(path: &str, change: FileChange, a: &str, b: &str) -> FileDiff {
    let diff = TextDiff::from_lines(a, b);
    let mut hunks = Vec::new();
    let (mut added, mut removed) = (0, 0);
    for group in diff.grouped_ops(CONTEXT) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let old = first.old_range().start..last.old_range().end;
        let new = first.new_range().start..last.new_range().end;
        let mut lines = Vec::new();
        for op in &group {
            for change in diff.iter_changes(op) {
                let kind = match change.tag() {
                    ChangeTag::Equal => LineKind::Context,
                    ChangeTag::Insert => {
                        added += 1;
                        LineKind::Add
                    }
                    ChangeTag::Delete => {
                        removed += 1;
                        LineKind::Remove
                    }
                };
                let text = change.value();
                lines.push(DiffLine {
                    kind,
                    text: text
                        .strip_suffix('\n')
                        .map(|t| t.strip_suffix('\r').unwrap_or(t))
                        .unwrap_or(text)
                        .to_string(),
                    no_newline: change.missing_newline(),
                });
            }
        }
        hunks.push(Hunk {
            // An empty side starts at the line before, as `diff -u` writes it (`-0,0`).
            old_start: if old.is_empty() {
                old.start
            } else {
                old.start + 1
            },
            old_lines: old.len(),
            new_start: if new.is_empty() {
                new.start
            } else {
                new.start + 1
            },
            new_lines: new.len(),
            lines,
        });
    }
    FileDiff {
        path: path.to_string(),
        change,
        binary: false,
        added,
        removed,
        hunks,
    }
}

impl TreeDiff {
    /// The diff as `diff -u` text, with `--- a/PATH` / `+++ b/PATH` headers (`/dev/null`
    /// for an added or removed file).
    pub fn unified(&self) -> String {
        let mut out = String::new();
        for file in &self.files {
            let old = match file.change {
                FileChange::Added => "/dev/null".to_string(),
                _ => format!("a/{}", file.path),
            };
            let new = match file.change {
                FileChange::Removed => "/dev/null".to_string(),
                _ => format!("b/{}", file.path),
            };
            out.push_str(&format!("diff -u a/{0} b/{0}\n", file.path));
            if file.binary {
                out.push_str(&format!("Binary files {old} and {new} differ\n"));
                continue;
            }
            out.push_str(&format!("--- {old}\n+++ {new}\n"));
            for hunk in &file.hunks {
                out.push_str(&format!(
                    "@@ -{},{} +{},{} @@\n",
                    hunk.old_start, hunk.old_lines, hunk.new_start, hunk.new_lines
                ));
                for line in &hunk.lines {
                    let sign = match line.kind {
                        LineKind::Context => ' ',
                        LineKind::Add => '+',
                        LineKind::Remove => '-',
                    };
                    out.push(sign);
                    out.push_str(&line.text);
                    out.push('\n');
                    if line.no_newline {
                        out.push_str("\\ No newline at end of file\n");
                    }
                }
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// `3 files changed, 12 insertions(+), 4 deletions(-)`, as git says it.
    pub fn summary(&self) -> String {
        let s = &self.stat;
        format!(
            "{} file{} changed, {} insertion{}(+), {} deletion{}(-)",
            s.files,
            plural(s.files),
            s.added,
            plural(s.added),
            s.removed,
            plural(s.removed)
        )
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
