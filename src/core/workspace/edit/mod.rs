//! Edits to a plugin's files, as a model or a person proposes them for a candidate: exact
//! search/replace blocks or whole files, checked to stay inside the plugin directory, and
//! the unified diff of two trees.
//!
//! Pure: nothing here writes. [`plan`] reads the files the edits name and returns the new
//! contents of every touched file, or one refusal; the caller writes them all or none.
//! A search block must match exactly once. When it does not, the refusal carries the most
//! similar lines of the file (with their numbers) so a model can copy them and retry;
//! nothing is ever applied fuzzily (the lesson of Aider's search/replace edits).

mod diff;
mod paths;
mod search;
#[cfg(test)]
mod tests;

pub use diff::{DiffLine, DiffStat, FileChange, FileDiff, Hunk, LineKind, TreeDiff, diff_trees};
pub use paths::inside;
pub use search::Nearest;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One change to one file of a plugin; paths are relative to the plugin directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Edit {
    /// Replace the one place where `search` occurs (exact text, whitespace included) with
    /// `replace`. Give enough lines around the change that they occur only once.
    SearchReplace {
        path: String,
        search: String,
        replace: String,
    },
    /// Write the whole file, creating it (and its directories) when it is new.
    WholeFile { path: String, content: String },
}

impl Edit {
    pub fn path(&self) -> &str {
        match self {
            Edit::SearchReplace { path, .. } | Edit::WholeFile { path, .. } => path,
        }
    }
}

/// The new content of one file an edit list touches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedFile {
    /// Relative to the plugin directory, normalised (`src/app.py`).
    pub path: PathBuf,
    /// The content before the edits; `None` for a new file.
    pub before: Option<String>,
    pub after: String,
}

/// Why an edit list was refused; nothing of it may be written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("edit {} of {total} (`{path}`): {reason}", index + 1)]
pub struct EditRefusal {
    /// Which edit (0-based) of how many.
    pub index: usize,
    pub total: usize,
    pub path: String,
    pub kind: RefusalKind,
    /// What is wrong and what to do, with the nearest lines for a search that missed.
    pub reason: String,
    /// For a search that matched nothing: the most similar lines of the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nearest: Option<Nearest>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalKind {
    /// Absolute, `..`, a symlink out, the plugin directory itself, or naap's state.
    Outside,
    /// The search text occurs nowhere in the file.
    NoMatch,
    /// The search text occurs more than once.
    Ambiguous,
    /// The file does not exist, is a directory, or is not UTF-8 text.
    NotEditable,
    /// The edit itself is malformed (an empty search, no edits at all).
    Malformed,
}

/// Checks and applies `edits` in memory, in order (a later edit sees an earlier one's
/// result), reading the files under `root`. `protected` names directories an edit may not
/// enter at any depth (`.git`, `.naap`, build caches). All or nothing: the first refusal
/// ends the plan.
pub fn plan(
    root: &Path,
    edits: &[Edit],
    protected: &[&str],
) -> Result<Vec<PlannedFile>, EditRefusal> {
    let total = edits.len();
    if edits.is_empty() {
        return Err(EditRefusal {
            index: 0,
            total: 0,
            path: String::new(),
            kind: RefusalKind::Malformed,
            reason: "no edits were given; give at least one search_replace or whole_file edit"
                .to_string(),
            nearest: None,
        });
    }
    // By path: (content before any edit, content after the edits so far).
    let mut files: BTreeMap<PathBuf, (Option<String>, String)> = BTreeMap::new();
    for (index, edit) in edits.iter().enumerate() {
        let refuse = |kind, reason: String, nearest| EditRefusal {
            index,
            total,
            path: edit.path().to_string(),
            kind,
            reason,
            nearest,
        };
        let rel = paths::inside(root, edit.path(), protected)
            .map_err(|why| refuse(RefusalKind::Outside, why, None))?;
        let current = match files.get(&rel) {
            Some((_, after)) => Some(after.clone()),
            None => read_text(&root.join(&rel))
                .map_err(|why| refuse(RefusalKind::NotEditable, why, None))?,
        };
        let after = match edit {
            Edit::WholeFile { content, .. } => content.clone(),
            Edit::SearchReplace {
                search, replace, ..
            } => {
                let Some(text) = &current else {
                    return Err(refuse(
                        RefusalKind::NotEditable,
                        "the file does not exist; create it with a whole_file edit".to_string(),
                        None,
                    ));
                };
                search::apply(text, search, replace)
                    .map_err(|miss| refuse(miss.kind, miss.reason, miss.nearest))?
            }
        };
        files
            .entry(rel)
            .and_modify(|(_, a)| *a = after.clone())
            .or_insert((current, after));
    }
    Ok(files
        .into_iter()
        .map(|(path, (before, after))| PlannedFile {
            path,
            before,
            after,
        })
        .collect())
}

/// The file's text; `None` when it does not exist.
fn read_text(path: &Path) -> Result<Option<String>, String> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read it: {e}")),
        Ok(meta) if meta.is_dir() => {
            return Err("it is a directory; name a file inside it".to_string());
        }
        Ok(_) => {}
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read it: {e}"))?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| "it is not UTF-8 text, so it cannot be edited as text".to_string())
}
