//! A plugin made from a plugin.md keeps `stories.json` beside its manifest: each story with
//! its acceptance criteria and the test that covers each. `stories` reads it and puts the
//! last result of each test beside it, read from the test gate's own output (`unittest -v`
//! prints one line per test: `test_x (module.Class.test_x) ... ok`). A test not seen in
//! the gate lines still kept is `not_run`: the gate was cached, or its lines have aged out.

use super::{Engine, EngineError};
use crate::core::logs::{LogOrigin, LogQuery};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The file, in the plugin's directory, that `naap generate` writes.
pub const STORIES_FILE: &str = "stories.json";

/// How a story's test did the last time the test gate ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestResult {
    Passed,
    Failed,
    /// Skipped: for a scaffold's criterion, still to implement.
    Skipped,
    NotRun,
}

impl TestResult {
    /// One character for a list: ✓ passed, ✗ failed, ○ to implement, · not run.
    pub fn mark(self) -> char {
        match self {
            TestResult::Passed => '✓',
            TestResult::Failed => '✗',
            TestResult::Skipped => '○',
            TestResult::NotRun => '·',
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TestResult::Passed => "passed",
            TestResult::Failed => "failed",
            TestResult::Skipped => "to implement",
            TestResult::NotRun => "not run",
        }
    }
}

impl StoriesReport {
    /// How many criteria stand at each result: passed, failed, to implement, not run.
    pub fn counts(&self) -> [usize; 4] {
        let mut counts = [0; 4];
        for c in self.stories.iter().flat_map(|s| &s.criteria) {
            counts[c.result as usize] += 1;
        }
        counts
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoriesReport {
    pub plugin: String,
    /// The spec it came from, in the plugin's directory.
    pub spec: String,
    pub stories: Vec<StoryStatus>,
    /// When the test gate's newest line seen was written.
    pub last_run: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoryStatus {
    pub id: String,
    pub title: String,
    pub criteria: Vec<CriterionStatus>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CriterionStatus {
    pub text: String,
    /// Ticked in the spec.
    pub done: bool,
    pub test: String,
    /// What the test checks, in words.
    pub describes: String,
    pub result: TestResult,
}

/// `stories.json` as `naap generate` writes it (the fields read here).
#[derive(Deserialize)]
struct StoriesFile {
    plugin: String,
    spec: String,
    stories: Vec<FileStory>,
}

#[derive(Deserialize)]
struct FileStory {
    id: String,
    title: String,
    criteria: Vec<FileCriterion>,
}

#[derive(Deserialize)]
struct FileCriterion {
    text: String,
    done: bool,
    test: String,
    #[serde(default)]
    describes: String,
}

impl Engine {
    /// The stories of `plugin` with each test's last result.
    pub fn stories(&self, plugin: &str) -> Result<StoriesReport, EngineError> {
        self.require_plugin(plugin)?;
        let dir = self
            .workspace()
            .plugin(plugin)
            .map(|m| m.dir.clone())
            .ok_or_else(|| EngineError::rejected(plugin, "the plugin was removed"))?;
        let path = dir.join(STORIES_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => format!(
                    "no stories: there is no {STORIES_FILE} in its directory; stories come with a plugin made by `naap generate SPEC.md`"
                ),
                _ => format!("cannot read {}: {e}", path.display()),
            };
            EngineError::rejected(plugin, why)
        })?;
        let file: StoriesFile = serde_json::from_str(&text).map_err(|e| {
            EngineError::rejected(
                plugin,
                format!(
                    "{} is not a stories file naap wrote: {e}; write it again with `naap generate`",
                    path.display()
                ),
            )
        })?;
        let lines = self.inner.logs.query(&LogQuery {
            plugin: plugin.to_string(),
            slot: Some(LogOrigin::Gate),
            ..LogQuery::default()
        });
        let last_run = lines
            .iter()
            .rev()
            .find(|l| test_line(&l.message).is_some())
            .map(|l| l.ts);
        let results = results(lines.iter().map(|l| l.message.as_str()));
        Ok(StoriesReport {
            plugin: file.plugin,
            spec: file.spec,
            last_run,
            stories: file
                .stories
                .into_iter()
                .map(|s| StoryStatus {
                    id: s.id,
                    title: s.title,
                    criteria: s
                        .criteria
                        .into_iter()
                        .map(|c| {
                            let method = c.test.rsplit('.').next().unwrap_or("").to_string();
                            CriterionStatus {
                                result: results.get(&method).copied().unwrap_or(TestResult::NotRun),
                                text: c.text,
                                done: c.done,
                                test: c.test,
                                describes: c.describes,
                            }
                        })
                        .collect(),
                })
                .collect(),
        })
    }
}

/// The newest result of each test method in `lines`, oldest line first.
fn results<'a>(lines: impl Iterator<Item = &'a str>) -> HashMap<String, TestResult> {
    let mut out = HashMap::new();
    for line in lines {
        if let Some((method, result)) = test_line(line) {
            out.insert(method.to_string(), result);
        }
    }
    out
}

/// `test_x (tests.test_stories.StoryTests.test_x) ... ok`: the method and its result.
fn test_line(line: &str) -> Option<(&str, TestResult)> {
    let (test, outcome) = line.trim().split_once(" ... ")?;
    let (method, _) = test.split_once(" (")?;
    if !method.starts_with("test") || method.contains(char::is_whitespace) {
        return None;
    }
    let outcome = outcome.trim();
    let result = if outcome == "ok" || outcome == "expected failure" {
        TestResult::Passed
    } else if outcome.starts_with("skipped") {
        TestResult::Skipped
    } else if outcome == "FAIL" || outcome == "ERROR" || outcome == "unexpected success" {
        TestResult::Failed
    } else {
        return None;
    };
    Some((method, result))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unittest_lines_give_each_tests_newest_result() {
        let lines = [
            "test_us1_c1_routes (tests.test_stories.StoryTests.test_us1_c1_routes) ... FAIL",
            "test_us1_c2_total (tests.test_stories.StoryTests) ... skipped 'still to implement: US-1'",
            "Ran 2 tests in 0.01s",
            "test_us1_c1_routes (tests.test_stories.StoryTests.test_us1_c1_routes) ... ok",
            "test_us2_c1_x (tests.test_stories.StoryTests.test_us2_c1_x) ... ERROR",
            "a line with ... in it",
        ];
        let got = results(lines.into_iter());
        assert_eq!(got["test_us1_c1_routes"], TestResult::Passed);
        assert_eq!(got["test_us1_c2_total"], TestResult::Skipped);
        assert_eq!(got["test_us2_c1_x"], TestResult::Failed);
        assert_eq!(got.len(), 3);
    }
}
