//! Runbooks: named chains of steps in `runbooks/NAME.toml` beside naap.toml. A step is a
//! naap call (`call = "traffic"` with `params`), a shell command, or a check
//! (`check = "wait_healthy"`, `expect = "error_rate < 1% for 30s"`); steps run in order,
//! a `parallel` group runs its steps together, `when` skips a step whose condition does
//! not hold, `timeout` bounds it, and `compensate` says how to undo it. When a step fails,
//! the compensations of the steps already done run in reverse order (a saga) and the run
//! ends failed, saying what was undone. This file reads and checks them; `api::runbook`
//! runs them.

use serde::{Deserialize, Serialize};
use serde_spanned::Spanned;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where runbooks live, relative to the workspace root.
pub const RUNBOOK_DIR: &str = "runbooks";
/// A step's time limit when it names none.
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(120);

/// A checked runbook.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Runbook {
    pub name: String,
    pub file: PathBuf,
    pub description: String,
    pub steps: Vec<Step>,
}

/// One step, or a group of steps that run together.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    pub action: Action,
    /// Skip the step unless this holds now for `plugin` (an alert-rule condition).
    pub when: Option<String>,
    pub plugin: Option<String>,
    pub timeout: Duration,
    pub compensate: Option<Action>,
}

/// What a step does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// A naap call, as the socket and the operator's tools take it.
    Call {
        method: String,
        params: serde_json::Value,
    },
    /// `sh -c COMMAND` in the workspace root.
    Shell { command: String },
    /// The plugin's live slot is healthy (within the step's timeout).
    WaitHealthy,
    /// An alert-rule condition holds for the plugin, for its `for` duration.
    Expect { condition: String },
    /// Steps that run at the same time; the group fails when one of them does.
    Parallel { steps: Vec<Step> },
}

impl Action {
    /// One line for lists and the dry run.
    pub fn describe(&self) -> String {
        match self {
            Action::Call { method, params } => format!("call {method} {params}"),
            Action::Shell { command } => format!("shell `{command}`"),
            Action::WaitHealthy => "wait until healthy".to_string(),
            Action::Expect { condition } => format!("expect {condition}"),
            Action::Parallel { steps } => format!(
                "in parallel: {}",
                steps
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// A problem in a runbook file: where, which field, what is wrong and what would fix it.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{}:{line}: {field}: {message}\n  hint: {hint}", file.display())]
pub struct RunbookProblem {
    pub file: PathBuf,
    pub line: usize,
    pub field: String,
    pub message: String,
    pub hint: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRunbook {
    #[serde(default)]
    description: String,
    steps: Vec<RawStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    name: Spanned<String>,
    call: Option<String>,
    params: Option<toml::Table>,
    shell: Option<String>,
    check: Option<String>,
    expect: Option<String>,
    plugin: Option<String>,
    parallel: Option<Vec<RawStep>>,
    when: Option<String>,
    timeout: Option<String>,
    compensate: Option<RawAction>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAction {
    call: Option<String>,
    params: Option<toml::Table>,
    shell: Option<String>,
}

/// The names of the runbooks of a workspace, sorted.
pub fn names(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.join(RUNBOOK_DIR))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let path = e.path();
            (path.extension()? == "toml").then(|| path.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    names.sort();
    names
}

/// Reads and checks `runbooks/NAME.toml`. `known_call` says whether a method is a naap call
/// a runbook may make (the caller knows the catalog; the core does not).
pub fn load(
    root: &Path,
    name: &str,
    known_call: &dyn Fn(&str) -> bool,
) -> Result<Runbook, RunbookProblem> {
    let file = root.join(RUNBOOK_DIR).join(format!("{name}.toml"));
    let problem = |line: usize, field: &str, message: String, hint: &str| RunbookProblem {
        file: file.clone(),
        line,
        field: field.to_string(),
        message,
        hint: hint.to_string(),
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(problem(
            0,
            "name",
            format!("`{name}` is not a runbook name"),
            "use letters, digits, - and _ (the file runbooks/NAME.toml)",
        ));
    }
    let text = std::fs::read_to_string(&file).map_err(|e| {
        let known = names(root);
        problem(
            0,
            "",
            format!("cannot read it: {e}"),
            &if known.is_empty() {
                format!("create {RUNBOOK_DIR}/{name}.toml beside naap.toml")
            } else {
                format!("the runbooks here: {}", known.join(", "))
            },
        )
    })?;
    let raw: RawRunbook = toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map(|s| line_of(&text, s.start))
            .unwrap_or_default();
        problem(
            line,
            "",
            e.message().to_string(),
            "a runbook is `description = \"…\"` and [[steps]] tables with name and one of call, shell, check, expect, parallel",
        )
    })?;
    let mut names_seen = std::collections::BTreeSet::new();
    let steps = raw
        .steps
        .into_iter()
        .map(|s| step(s, &text, &problem, known_call, &mut names_seen))
        .collect::<Result<Vec<_>, _>>()?;
    if steps.is_empty() {
        return Err(problem(
            1,
            "steps",
            "the runbook has no steps".into(),
            "add a [[steps]] table",
        ));
    }
    Ok(Runbook {
        name: name.to_string(),
        file,
        description: raw.description,
        steps,
    })
}

type ProblemAt<'a> = dyn Fn(usize, &str, String, &str) -> RunbookProblem + 'a;

fn step(
    raw: RawStep,
    text: &str,
    problem: &ProblemAt<'_>,
    known_call: &dyn Fn(&str) -> bool,
    seen: &mut std::collections::BTreeSet<String>,
) -> Result<Step, RunbookProblem> {
    let line = line_of(text, raw.name.span().start);
    let name = raw.name.into_inner();
    if !seen.insert(name.clone()) {
        return Err(problem(
            line,
            "steps.name",
            format!("a second step is named `{name}`"),
            "give each step its own name: the history and compensations name them",
        ));
    }
    let field = |f: &str| format!("steps.{name}.{f}");
    let timeout = match &raw.timeout {
        Some(t) => humantime::parse_duration(t).map_err(|e| {
            problem(
                line,
                &field("timeout"),
                format!("`{t}`: {e}"),
                "e.g. timeout = \"30s\"",
            )
        })?,
        None => DEFAULT_STEP_TIMEOUT,
    };
    let given: Vec<&str> = [
        ("call", raw.call.is_some()),
        ("shell", raw.shell.is_some()),
        ("check", raw.check.is_some()),
        ("expect", raw.expect.is_some()),
        ("parallel", raw.parallel.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, set)| set.then_some(k))
    .collect();
    if given.len() != 1 {
        return Err(problem(
            line,
            &format!("steps.{name}"),
            format!(
                "a step does one thing; this one has {}",
                if given.is_empty() {
                    "none".to_string()
                } else {
                    given.join(" and ")
                }
            ),
            "give it exactly one of call, shell, check = \"wait_healthy\", expect, parallel",
        ));
    }
    let needs_plugin = raw.check.is_some() || raw.expect.is_some() || raw.when.is_some();
    if needs_plugin && raw.plugin.is_none() {
        return Err(problem(
            line,
            &field("plugin"),
            "a check or a `when` needs the plugin it looks at".into(),
            "add plugin = \"NAME\"",
        ));
    }
    let action = if let Some(method) = raw.call {
        call(
            method,
            raw.params,
            line,
            &field("call"),
            problem,
            known_call,
        )?
    } else if let Some(command) = raw.shell {
        Action::Shell { command }
    } else if let Some(check) = raw.check {
        if check != "wait_healthy" {
            return Err(problem(
                line,
                &field("check"),
                format!("unknown check `{check}`"),
                "the checks: check = \"wait_healthy\", or expect = \"error_rate < 1% for 30s\"",
            ));
        }
        Action::WaitHealthy
    } else if let Some(condition) = raw.expect {
        if let Err(e) = crate::core::alerts::parse(&condition) {
            return Err(problem(
                line,
                &field("expect"),
                e.to_string(),
                "e.g. expect = \"error_rate < 1% for 30s\"",
            ));
        }
        Action::Expect { condition }
    } else {
        let steps = raw
            .parallel
            .unwrap_or_default()
            .into_iter()
            .map(|s| step(s, text, problem, known_call, seen))
            .collect::<Result<Vec<_>, _>>()?;
        Action::Parallel { steps }
    };
    if let Some(when) = &raw.when
        && let Err(e) = crate::core::alerts::parse(when)
    {
        return Err(problem(
            line,
            &field("when"),
            e.to_string(),
            "e.g. when = \"error_rate > 5%\"",
        ));
    }
    let compensate = match raw.compensate {
        None => None,
        Some(RawAction {
            call: Some(method),
            params,
            shell: None,
        }) => Some(call(
            method,
            params,
            line,
            &field("compensate.call"),
            problem,
            known_call,
        )?),
        Some(RawAction {
            call: None,
            params: None,
            shell: Some(command),
        }) => Some(Action::Shell { command }),
        Some(_) => {
            return Err(problem(
                line,
                &field("compensate"),
                "a compensation is one call (with its params) or one shell command".into(),
                "e.g. compensate = { call = \"traffic\", params = { plugin = \"web\", weights = { blue = 100 } } }",
            ));
        }
    };
    Ok(Step {
        name,
        action,
        when: raw.when,
        plugin: raw.plugin,
        timeout,
        compensate,
    })
}

fn call(
    method: String,
    params: Option<toml::Table>,
    line: usize,
    field: &str,
    problem: &ProblemAt<'_>,
    known_call: &dyn Fn(&str) -> bool,
) -> Result<Action, RunbookProblem> {
    if !known_call(&method) {
        return Err(problem(
            line,
            field,
            format!("`{method}` is not a naap call a runbook can make"),
            "use a call the CLI makes (deploy, rollback, traffic, promote, abort, plugin_disable…); e.g. call = \"rollback\" with params = { plugin = \"web\" }",
        ));
    }
    let params = serde_json::to_value(params.unwrap_or_default()).unwrap_or_default();
    Ok(Action::Call { method, params })
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(1, |t| t.matches('\n').count() + 1)
}
