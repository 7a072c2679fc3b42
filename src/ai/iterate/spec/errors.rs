//! What is wrong with a plugin.md, each problem at its line, in its section, with a fix.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// One problem of a spec, printed as
/// `spec.md:14: in ### User Stories, US-2 has no "As a …" sentence; write one under its heading`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpecProblem {
    pub file: PathBuf,
    /// 1-based; 0 for a problem of the whole file (no `## Plugin:` heading at all).
    pub line: usize,
    /// 1-based column in characters, where pointing into the line helps; else `None`.
    pub column: Option<usize>,
    /// The section heading as written, e.g. `### User Stories`; empty outside any section.
    pub section: String,
    pub message: String,
    pub fix: String,
}

impl fmt::Display for SpecProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        f.write_str(": ")?;
        if !self.section.is_empty() {
            write!(f, "in {}, ", self.section)?;
        }
        write!(f, "{}; {}", self.message, self.fix)
    }
}

/// Every problem of a spec, in line order.
#[derive(Clone, Debug, PartialEq, Serialize, thiserror::Error)]
pub struct SpecErrors(pub Vec<SpecProblem>);

impl fmt::Display for SpecErrors {
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

/// A part of the spec that was not understood but does not stop it (an unknown section).
pub type SpecWarning = SpecProblem;

/// Collects problems while parsing; `section` is the heading currently being read.
pub(super) struct Collector {
    pub file: PathBuf,
    pub section: String,
    pub problems: Vec<SpecProblem>,
    pub warnings: Vec<SpecWarning>,
}

impl Collector {
    pub fn new(file: PathBuf) -> Collector {
        Collector {
            file,
            section: String::new(),
            problems: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn make(
        &self,
        line: usize,
        column: Option<usize>,
        message: String,
        fix: String,
    ) -> SpecProblem {
        SpecProblem {
            file: self.file.clone(),
            line,
            column,
            section: self.section.clone(),
            message,
            fix,
        }
    }

    pub fn error(&mut self, line: usize, message: impl Into<String>, fix: impl Into<String>) {
        let p = self.make(line, None, message.into(), fix.into());
        self.problems.push(p);
    }

    pub fn error_at(
        &mut self,
        line: usize,
        column: usize,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        let p = self.make(line, Some(column), message.into(), fix.into());
        self.problems.push(p);
    }

    pub fn warn(&mut self, line: usize, message: impl Into<String>, fix: impl Into<String>) {
        let p = self.make(line, None, message.into(), fix.into());
        self.warnings.push(p);
    }
}
