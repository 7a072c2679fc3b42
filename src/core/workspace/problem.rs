//! Problems found in workspace files, each pointing at a file, line, column and field.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

/// One thing wrong with a workspace file, pointing at the offending key or value.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// The file the problem is in.
    pub file: PathBuf,
    /// 1-based line; 0 when the problem has no position (a missing table, an unreadable file).
    pub line: usize,
    /// 1-based column in characters; 0 when `line` is 0.
    pub column: usize,
    /// Dotted field name, e.g. `health.interval` or `plugins[1].path`; empty for whole-file problems.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

impl Problem {
    /// A problem with no position in its file (the file is missing, unreadable, already exists).
    pub fn unplaced(
        file: impl Into<PathBuf>,
        field: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Problem {
            file: file.into(),
            line: 0,
            column: 0,
            field: field.into(),
            message: message.into(),
            hint: hint.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        f.write_str(": ")?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)?;
        if !self.hint.is_empty() {
            write!(f, "\n  hint: {}", self.hint)?;
        }
        Ok(())
    }
}

/// Every problem found in a workspace; loading fails with all of them, not just the first.
#[derive(Debug, Clone, PartialEq)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    /// How many problems there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none (never the case for an error returned by `load`).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The problems, in file order and then by position.
    pub fn iter(&self) -> std::slice::Iter<'_, Problem> {
        self.0.iter()
    }
}

impl From<Problem> for Problems {
    fn from(problem: Problem) -> Self {
        Problems(vec![problem])
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// The text of one workspace file, with a line index to turn byte offsets into positions.
#[derive(Debug)]
pub(crate) struct Source {
    pub path: PathBuf,
    pub text: String,
    line_starts: Vec<usize>,
}

impl Source {
    pub fn new(path: PathBuf, text: String) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Source {
            path,
            text,
            line_starts,
        }
    }

    /// 1-based line and character column of a byte offset (clamped to the text).
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line_index = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.line_starts.get(line_index).copied().unwrap_or(0);
        // Columns count characters so they match what an editor shows for non-ASCII lines.
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (line_index + 1, column + 1)
    }

    /// A problem pointing at the start of `span` in this file.
    pub fn problem(
        &self,
        span: &Range<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Problem {
        let (line, column) = self.position(span.start);
        Problem {
            file: self.path.clone(),
            line,
            column,
            field: field.into(),
            message: message.into(),
            hint: hint.into(),
        }
    }
}

/// Collects the problems of one file while it is read and checked.
pub(crate) struct Report<'s> {
    pub src: &'s Source,
    pub problems: Vec<Problem>,
}

impl<'s> Report<'s> {
    pub fn new(src: &'s Source) -> Self {
        Report {
            src,
            problems: Vec::new(),
        }
    }

    /// Records a problem at the start of `span`.
    pub fn at(
        &mut self,
        span: &Range<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let problem = self.src.problem(span, field, message, hint);
        self.problems.push(problem);
    }

    /// Records a problem that has no position in the file (e.g. a missing table).
    pub fn unplaced(
        &mut self,
        field: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let problem = Problem::unplaced(self.src.path.clone(), field, message, hint);
        self.problems.push(problem);
    }

    /// How many problems this file has so far; used to tell whether a section was clean.
    pub fn count(&self) -> usize {
        self.problems.len()
    }
}

/// Problems for each TOML syntax error; the document is not checked further when there are any,
/// because a half-parsed file would produce misleading follow-up problems.
pub(crate) fn syntax_problems(src: &Source, errors: &[toml::de::Error]) -> Vec<Problem> {
    errors
        .iter()
        .map(|error| {
            let message = error.message().trim().to_string();
            let hint = if message.contains("duplicate key") {
                "each key may appear only once per table; remove or rename one of them"
            } else if message.contains("quoted") || message.contains("string") {
                "strings need matching quotes on one line, e.g. name = \"value\""
            } else {
                "fix the TOML syntax; see https://toml.io for the format"
            };
            let message = format!("invalid TOML: {message}");
            match error.span() {
                Some(span) => src.problem(&span, "", message, hint),
                None => Problem::unplaced(src.path.clone(), "", message, hint),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let src = Source::new("f.toml".into(), "ab\nçd = 1\n\nx".into());
        assert_eq!(src.position(0), (1, 1));
        assert_eq!(src.position(2), (1, 3));
        assert_eq!(src.position(3), (2, 1));
        // "ç" is two bytes but one column.
        assert_eq!(src.position(5), (2, 2));
        assert_eq!(src.position(11), (3, 1));
        assert_eq!(src.position(12), (4, 1));
        assert_eq!(src.position(999), (4, 2));
        // A byte offset inside a multi-byte character must not panic.
        let _ = src.position(4);
    }

    #[test]
    fn display_has_one_block_per_problem() {
        let problems = Problems(vec![
            Problem {
                file: "a/plugin.toml".into(),
                line: 3,
                column: 7,
                field: "health.interval".into(),
                message: "bad".into(),
                hint: "fix it".into(),
            },
            Problem::unplaced("naap.toml", "", "missing", ""),
        ]);
        assert_eq!(
            problems.to_string(),
            "a/plugin.toml:3:7: health.interval: bad\n  hint: fix it\nnaap.toml: missing"
        );
    }
}
