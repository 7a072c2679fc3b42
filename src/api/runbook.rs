//! Runs a runbook (`core::runbook`) through the engine's own calls, as a saga: each step
//! in order (a `parallel` group's together), each bounded by its timeout, and when one
//! fails the compensations of the steps already done run in reverse order. Every step and
//! compensation is recorded with its outcome; the run is one audited change, so in a
//! production workspace the person confirms the run, not each step.

use super::catalog::{Effect, call_from_tool, find};
use super::protocol::{Call, Reply};
use crate::core::engine::{Engine, EngineError};
use crate::core::runbook::{Action, Runbook, RunbookProblem, Step};
use crate::core::types::Face;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;

/// `runbook_show` / `runbook_run`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunbookRequest {
    /// The runbook: `runbooks/NAME.toml` beside naap.toml.
    pub name: String,
    /// Say what would run, in order, with each compensation; run nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// A runbook and its last runs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunbookView {
    pub runbook: Runbook,
    pub runs: Vec<crate::core::store::RunbookRunRecord>,
}

/// How a run went.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunbookOutcome {
    pub runbook: String,
    /// The stored run; none for a dry run.
    pub run: Option<i64>,
    /// `succeeded`, `failed` or `dry_run`.
    pub outcome: String,
    pub summary: String,
    pub steps: Vec<StepOutcome>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepOutcome {
    pub step: String,
    /// `run` or `compensate` (`plan` in a dry run).
    pub phase: String,
    /// `ok`, `failed`, `skipped` (`would_run` in a dry run).
    pub outcome: String,
    pub detail: String,
}

/// Whether a runbook may make this call: the catalog's reads and changes, not plumbing,
/// and not another runbook (a runbook that runs runbooks is a loop waiting to happen).
pub fn runbook_may_call(method: &str) -> bool {
    find(method).is_some_and(|c| c.effect != Effect::Admin) && method != "runbook_run"
}

/// Loads a runbook, with the catalog's calls as the ones it may make.
pub fn load(root: &std::path::Path, name: &str) -> Result<Runbook, RunbookProblem> {
    crate::core::runbook::load(root, name, &runbook_may_call)
}

fn problem(e: RunbookProblem) -> EngineError {
    EngineError::BadRequest(e.to_string())
}

/// Every runbook of the workspace, checked (a broken one is listed with its problem).
pub fn list(engine: &Engine) -> Vec<Result<Runbook, String>> {
    let root = engine.root();
    crate::core::runbook::names(&root)
        .into_iter()
        .map(|name| load(&root, &name).map_err(|e| e.to_string()))
        .collect()
}

pub fn show(engine: &Engine, name: &str) -> Result<RunbookView, EngineError> {
    let runbook = load(&engine.root(), name).map_err(problem)?;
    let runs = engine.runbook_runs(Some(name))?;
    Ok(RunbookView { runbook, runs })
}

/// Runs `name` (or, with `dry_run`, says what would run).
pub async fn run(
    engine: &Engine,
    req: &RunbookRequest,
    face: Face,
) -> Result<RunbookOutcome, EngineError> {
    let runbook = load(&engine.root(), &req.name).map_err(problem)?;
    if req.dry_run {
        return Ok(plan(&runbook));
    }
    let args = serde_json::to_value(req).unwrap_or_default();
    let result = saga(engine, &runbook, face).await;
    engine.audit(face, "runbook_run", None, args, &result, |o| {
        o.summary.clone()
    });
    result
}

fn plan(runbook: &Runbook) -> RunbookOutcome {
    let mut steps = Vec::new();
    fn add(steps: &mut Vec<StepOutcome>, step: &Step) {
        let when = step
            .when
            .as_ref()
            .map(|w| format!(" (only when {w})"))
            .unwrap_or_default();
        let undo = step
            .compensate
            .as_ref()
            .map(|c| format!("; undone by {}", c.describe()))
            .unwrap_or_default();
        steps.push(StepOutcome {
            step: step.name.clone(),
            phase: "plan".into(),
            outcome: "would_run".into(),
            detail: format!("{}{when}{undo}", step.action.describe()),
        });
        if let Action::Parallel { steps: group } = &step.action {
            for member in group {
                add(steps, member);
            }
        }
    }
    for step in &runbook.steps {
        add(&mut steps, step);
    }
    RunbookOutcome {
        runbook: runbook.name.clone(),
        run: None,
        outcome: "dry_run".into(),
        summary: format!("{} steps would run; nothing ran", steps.len()),
        steps,
    }
}

async fn saga(
    engine: &Engine,
    runbook: &Runbook,
    face: Face,
) -> Result<RunbookOutcome, EngineError> {
    let run = engine.runbook_started(&runbook.name, face)?;
    let mut outcomes = Vec::new();
    // Steps that ran to success, in order: what a failure undoes, newest first.
    let mut done: Vec<Step> = Vec::new();
    let mut failure = None;
    for step in &runbook.steps {
        let results = run_step(engine, step, face).await;
        for (member, result) in results {
            let (outcome, detail) = match &result {
                StepResult::Ok(d) => ("ok", d.clone()),
                StepResult::Skipped(d) => ("skipped", d.clone()),
                StepResult::Failed(d) => ("failed", d.clone()),
            };
            engine.runbook_step(run, &member.name, "run", outcome, &detail);
            outcomes.push(StepOutcome {
                step: member.name.clone(),
                phase: "run".into(),
                outcome: outcome.into(),
                detail: detail.clone(),
            });
            match result {
                StepResult::Ok(_) => done.push(member),
                StepResult::Failed(d) if failure.is_none() => {
                    failure = Some((member.name.clone(), d))
                }
                _ => {}
            }
        }
        if failure.is_some() {
            break;
        }
    }
    let Some((failed, why)) = failure else {
        let summary = format!("{} steps ran", outcomes.len());
        engine.runbook_finished(run, &runbook.name, "succeeded", &summary);
        return Ok(RunbookOutcome {
            runbook: runbook.name.clone(),
            run: Some(run),
            outcome: "succeeded".into(),
            summary,
            steps: outcomes,
        });
    };
    let mut undone = Vec::new();
    for step in done.iter().rev() {
        let Some(compensate) = &step.compensate else {
            continue;
        };
        let result = act(engine, compensate, step, face).await;
        let (outcome, detail) = match &result {
            Ok(d) => ("ok", d.clone()),
            Err(d) => ("failed", d.clone()),
        };
        engine.runbook_step(run, &step.name, "compensate", outcome, &detail);
        outcomes.push(StepOutcome {
            step: step.name.clone(),
            phase: "compensate".into(),
            outcome: outcome.into(),
            detail,
        });
        undone.push(if result.is_ok() {
            step.name.clone()
        } else {
            format!("{} (its compensation failed)", step.name)
        });
    }
    let summary = format!(
        "step {failed} failed: {why}; undone: {}",
        if undone.is_empty() {
            "nothing".to_string()
        } else {
            undone.join(", ")
        }
    );
    engine.runbook_finished(run, &runbook.name, "failed", &summary);
    Ok(RunbookOutcome {
        runbook: runbook.name.clone(),
        run: Some(run),
        outcome: "failed".into(),
        summary,
        steps: outcomes,
    })
}

/// A boxed future: the step runner calls itself for a group's members, and a call step
/// goes back through the server's dispatch, which can reach the runner.
type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

enum StepResult {
    Ok(String),
    Skipped(String),
    Failed(String),
}

/// Runs one step (a group's members together); each with its result.
fn run_step<'a>(
    engine: &'a Engine,
    step: &'a Step,
    face: Face,
) -> Boxed<'a, Vec<(Step, StepResult)>> {
    Box::pin(async move {
        if let (Some(when), Some(plugin)) = (&step.when, &step.plugin) {
            match engine.condition_holds(plugin, when) {
                Ok((true, _)) => {}
                Ok((false, seen)) => {
                    return vec![(
                        step.clone(),
                        StepResult::Skipped(format!("`{when}` does not hold: {seen}")),
                    )];
                }
                Err(e) => return vec![(step.clone(), StepResult::Failed(e))],
            }
        }
        if let Action::Parallel { steps } = &step.action {
            let mut set = tokio::task::JoinSet::new();
            for (i, member) in steps.iter().enumerate() {
                let (engine, member) = (engine.clone(), member.clone());
                set.spawn(async move {
                    let results = run_step(&engine, &member, face).await;
                    (i, results)
                });
            }
            let mut all = Vec::new();
            while let Some(joined) = set.join_next().await {
                match joined {
                    Ok(results) => all.push(results),
                    Err(e) => tracing::error!("a parallel runbook step panicked: {e}"),
                }
            }
            all.sort_by_key(|(i, _)| *i);
            return all.into_iter().flat_map(|(_, r)| r).collect();
        }
        let result =
            match tokio::time::timeout(step.timeout, act(engine, &step.action, step, face)).await {
                Ok(Ok(detail)) => StepResult::Ok(detail),
                Ok(Err(e)) => StepResult::Failed(e),
                Err(_) => StepResult::Failed(format!(
                    "timed out after {}",
                    humantime::format_duration(step.timeout)
                )),
            };
        vec![(step.clone(), result)]
    })
}

/// Does one action (a step's, or its compensation).
async fn act(engine: &Engine, action: &Action, step: &Step, face: Face) -> Result<String, String> {
    match action {
        Action::Call { method, params } => {
            let call = call_from_tool(method, params)?;
            let reply = call_engine(engine, call, face).await;
            match (reply.ok, reply.result, reply.error) {
                (true, Some(result), _) => Ok(result
                    .get("summary")
                    .and_then(|s| s.as_str())
                    .map_or_else(|| format!("{method}: done"), str::to_string)),
                (true, None, _) => Ok(format!("{method}: done")),
                (false, _, Some(e)) => Err(e.message),
                (false, _, None) => Err(format!("{method} failed")),
            }
        }
        Action::Shell { command } => shell(engine, command).await,
        Action::WaitHealthy => {
            let plugin = step.plugin.as_deref().unwrap_or_default();
            engine.wait_healthy(plugin, step.timeout).await
        }
        Action::Expect { condition } => {
            let plugin = step.plugin.as_deref().unwrap_or_default();
            engine.expect(plugin, condition, step.timeout).await
        }
        Action::Parallel { .. } => Err("a compensation cannot be a parallel group".to_string()),
    }
}

/// A step's call, made as the face that runs the runbook. The run itself passed the
/// production guard; its steps are that run.
fn call_engine(
    engine: &Engine,
    call: Call,
    face: Face,
) -> Pin<Box<dyn Future<Output = Reply> + Send + '_>> {
    Box::pin(async move { super::server::run_call(engine, call, face).await })
}

/// `sh -c COMMAND` in the workspace root; its output's last lines are the detail.
async fn shell(engine: &Engine, command: &str) -> Result<String, String> {
    let output = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(engine.root())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("`{command}` did not start: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = text.lines().rev().take(3).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    if output.status.success() {
        Ok(format!(
            "`{command}` exited 0{}",
            if tail.is_empty() {
                String::new()
            } else {
                format!(": {}", tail.join(" / "))
            }
        ))
    } else {
        Err(format!(
            "`{command}` {}{}",
            output.status,
            if tail.is_empty() {
                String::new()
            } else {
                format!(": {}", tail.join(" / "))
            }
        ))
    }
}
