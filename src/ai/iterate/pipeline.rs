//! The iterate pipeline: an instruction becomes a candidate, the model edits it, the gates
//! run on it, failures go back to the model for a fix (up to `heal_attempts`, stopping
//! when a failure comes back), and a candidate whose gates pass becomes a proposal to
//! accept it into the plugin's source as a derived version; once that ran, the deploy of
//! that version as a canary (under the plugin's analysis and automatic rollback) is the
//! next proposal ([`Iterated::ship`]). Both are changes: they run only on a person's yes,
//! in every face. The deploy is not proposed before the accept ran: approved out of order
//! it would ship the old source under the new version's name.
//!
//! Every engine call goes through the operator's tools (audited as the face), every prompt
//! through its redactor; the model's turns offer only the candidate's tools, bound to this
//! candidate.

use super::heal::{HealDecision, HealLoop};
use super::prompt;
use crate::ai::operator::{Brief, Operator, OperatorEvent, Pending, Turn};
use crate::ai::provider::{Message, Usage};
use crate::api::Call;
use crate::core::engine::{
    CandidateAcceptRequest, CandidateCreateRequest, CandidateGateRun, CandidateGatesRequest,
    CandidateReport, CandidateRequest, DeployRequest, FailedGate,
};
use crate::core::types::StrategyKind;
use serde::Serialize;
use std::path::Path;
use tokio::sync::mpsc;

/// The tool an editing turn changes the candidate with, and the one it may look with.
const EDIT_TOOL: &str = "candidate_edit";
const DIFF_TOOL: &str = "candidate_diff";

/// Longest answer of an editing turn: room for a whole file or two.
const EDIT_TOKENS: u32 = 8192;

/// Files bigger than this are not put in a prompt (generated data, lock files).
const FILE_BYTES: u64 = 64 * 1024;

/// What to iterate on.
#[derive(Clone, Debug)]
pub struct IterateRequest {
    pub plugin: String,
    pub instruction: String,
    /// The version it becomes; derived (`1.4.0` → `1.4.1-ai.<id>`) when `None`.
    pub version: Option<crate::core::version::Version>,
    /// `[ai] heal_attempts`.
    pub heal_attempts: u32,
    /// How a candidate whose gates pass is proposed for shipping.
    pub ship: ShipAs,
    /// A candidate this one tries again after (its canary rolled back): the model is told
    /// its request and verdict. The instruction may then be empty.
    pub retry_of: Option<String>,
}

/// How a ready candidate ships.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ShipAs {
    /// Accept it as a version, then deploy that version as a canary.
    #[default]
    Canary,
    /// Run its staged tree in a preview slot, unaccepted, for a look first.
    Preview,
    /// Both, in order (the dashboard's cards): the preview, then the accept, then the
    /// canary once the accept ran. Each is its own yes; a no to the preview skips it.
    PreviewThenCanary,
}

/// What happens, as it happens, for a face to show as a timeline.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum IterateEvent {
    Created {
        candidate: String,
        plugin: String,
        tree: String,
    },
    /// Something in one of the model's turns (text, tool calls).
    #[serde(skip)]
    Turn(OperatorEvent),
    Edited {
        summary: String,
        /// The candidate against the live source (for a face's diff view).
        #[serde(skip)]
        diff: String,
    },
    Gates {
        passed: bool,
        summary: String,
    },
    Heal {
        decision: HealDecision,
    },
    Proposed {
        label: String,
        lines: Vec<String>,
    },
    /// A proposal to ship it ran (the face that ran it says so): the preview started, the
    /// accept wrote the version, the canary ended (succeeded, or rolled back: the verdict).
    Shipped {
        label: String,
        ok: bool,
        summary: String,
    },
}

/// How the pipeline ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IterateEnd {
    /// The gates pass; the proposals to ship it wait for a person.
    Ready,
    /// A failure came back after a fix: handed to a person.
    Stuck,
    /// Every fix allowed was tried.
    Exhausted,
    /// The model changed nothing.
    Unchanged,
}

/// The pipeline's result.
#[derive(Clone, Debug, Serialize)]
pub struct Iterated {
    pub candidate: String,
    pub plugin: String,
    pub end: IterateEnd,
    /// The candidate against the live source.
    pub diff: String,
    /// The last failed gate, when it did not end ready.
    pub failure: Option<FailedGate>,
    /// Fixes asked of the model.
    pub heal_attempts: u32,
    /// The accept (or the preview), when the gates passed.
    pub proposals: Vec<Pending>,
    /// What to propose once the accept (the last proposal) ran: the canary deploy of the
    /// version it records.
    pub ship: Option<Call>,
    /// What the model said last.
    pub answer: String,
    pub usage: Usage,
    pub cost_usd: Option<f64>,
}

/// Runs the pipeline for `req` with `operator`'s model and tools. An `Err` is a failure
/// of the pipeline itself (no model, the engine refusing the candidate); a candidate that
/// does not pass its gates is an `Ok` that says so.
pub async fn iterate(
    operator: &Operator,
    req: &IterateRequest,
    events: &mpsc::Sender<IterateEvent>,
) -> Result<Iterated, String> {
    let tools = operator.tools();
    let previous: Option<CandidateReport> = match &req.retry_of {
        Some(prev) => Some(decode(
            tools
                .engine(Call::CandidateShow(CandidateRequest { id: prev.clone() }))
                .await?,
        )?),
        None => None,
    };
    if let Some(p) = &previous
        && p.candidate.plugin != req.plugin
    {
        return Err(format!(
            "candidate {} is a change to {}, not to {}",
            p.candidate.id, p.candidate.plugin, req.plugin
        ));
    }
    let instruction = match (&previous, req.instruction.trim()) {
        (Some(p), "") => format!(
            "try again after candidate {} ({}) rolled back",
            p.candidate.id,
            p.candidate.instruction.trim()
        ),
        _ => req.instruction.clone(),
    };
    let created: CandidateReport = decode(
        tools
            .engine(Call::CandidateCreate(CandidateCreateRequest {
                plugin: req.plugin.clone(),
                instruction: instruction.clone(),
            }))
            .await?,
    )?;
    let id = created.candidate.id.clone();
    let tree = created.tree.clone().unwrap_or_default();
    let _ = events
        .send(IterateEvent::Created {
            candidate: id.clone(),
            plugin: req.plugin.clone(),
            tree: tree.clone(),
        })
        .await;
    let brief = Brief {
        system: prompt::system(EDIT_TOOL),
        only: Some(vec![EDIT_TOOL.to_string(), DIFF_TOOL.to_string()]),
        bound: vec![("id".to_string(), serde_json::json!(id))],
        max_tokens: EDIT_TOKENS,
    };
    let mut progress = Progress::default();
    let mut history: Vec<Message> = Vec::new();
    let files = tree_files(Path::new(&tree));
    let mut first = prompt::instruction(&req.plugin, &id, &instruction, &files);
    if let Some(p) = &previous {
        first.push_str(&prompt::previous(p));
    }
    progress
        .turn(operator, &mut history, &first, &brief, events)
        .await?;

    let mut heal = HealLoop::new(req.heal_attempts);
    let (end, failure) = loop {
        let diff = candidate_diff(operator, &id).await?;
        if diff.trim().is_empty() {
            break (IterateEnd::Unchanged, None);
        }
        let _ = events
            .send(IterateEvent::Edited {
                summary: diff_summary(&diff),
                diff: diff.clone(),
            })
            .await;
        let run: CandidateGateRun = decode(
            tools
                .engine(Call::CandidateGates(CandidateGatesRequest {
                    id: id.clone(),
                    no_cache: false,
                }))
                .await?,
        )?;
        let Some(failed) = run.failed else {
            let _ = events
                .send(IterateEvent::Gates {
                    passed: true,
                    summary: format!("{} gate(s) passed", run.gates.len()),
                })
                .await;
            break (IterateEnd::Ready, None);
        };
        let _ = events
            .send(IterateEvent::Gates {
                passed: false,
                summary: format!(
                    "{} failed ({}), {} problem(s)",
                    failed.gate,
                    failed.status,
                    failed.problems.len()
                ),
            })
            .await;
        let decision = heal.after_failure(&failed);
        let _ = events.send(IterateEvent::Heal { decision }).await;
        match decision {
            HealDecision::Heal { attempt } => {
                let files = tree_files(Path::new(&tree));
                let relevant = relevant_files(&files, &failed);
                let text = prompt::heal(attempt, req.heal_attempts, &failed, &relevant);
                progress
                    .turn(operator, &mut history, &text, &brief, events)
                    .await?;
            }
            HealDecision::Stuck { .. } => break (IterateEnd::Stuck, Some(failed)),
            HealDecision::Exhausted { .. } => break (IterateEnd::Exhausted, Some(failed)),
        }
    };
    let diff = candidate_diff(operator, &id).await?;
    let mut proposals = Vec::new();
    let mut ship = None;
    if end == IterateEnd::Ready {
        if matches!(req.ship, ShipAs::Preview | ShipAs::PreviewThenCanary) {
            let preview = Call::Deploy(DeployRequest {
                plugin: req.plugin.clone(),
                version: req.version.clone(),
                preview: true,
                candidate: Some(id.clone()),
                ..Default::default()
            });
            proposals.push(operator.propose(preview).await);
        }
        if matches!(req.ship, ShipAs::Canary | ShipAs::PreviewThenCanary) {
            let (accept, deploy) =
                ship_calls(operator, &req.plugin, &id, req.version.clone()).await?;
            proposals.push(accept);
            ship = Some(deploy);
        }
        for pending in &proposals {
            let _ = events
                .send(IterateEvent::Proposed {
                    label: pending.proposal.label.clone(),
                    lines: pending.proposal.lines.clone(),
                })
                .await;
        }
    }
    Ok(Iterated {
        candidate: id,
        plugin: req.plugin.clone(),
        end,
        diff,
        failure,
        heal_attempts: heal.attempts(),
        proposals,
        ship,
        answer: progress.answer,
        cost_usd: operator.price().map(|p| p.cost(&progress.usage)),
        usage: progress.usage,
    })
}

/// What the model's turns add up to.
#[derive(Default)]
struct Progress {
    answer: String,
    usage: Usage,
}

impl Progress {
    async fn turn(
        &mut self,
        operator: &Operator,
        history: &mut Vec<Message>,
        text: &str,
        brief: &Brief,
        events: &mpsc::Sender<IterateEvent>,
    ) -> Result<Turn, String> {
        let (tx, mut rx) = mpsc::channel(256);
        let relay = async {
            while let Some(event) = rx.recv().await {
                let _ = events.send(IterateEvent::Turn(event)).await;
            }
        };
        let work = async {
            let turn = operator.work(history, text, brief, &tx).await;
            drop(tx);
            turn
        };
        let (turn, ()) = tokio::join!(work, relay);
        let turn = turn?;
        self.usage.input_tokens += turn.usage.input_tokens;
        self.usage.output_tokens += turn.usage.output_tokens;
        if !turn.answer.trim().is_empty() {
            self.answer = turn.answer.clone();
        }
        Ok(turn)
    }
}

/// The proposal to accept the candidate as a version (with the engine's dry run), and the
/// canary deploy of that version to propose once it ran.
async fn ship_calls(
    operator: &Operator,
    plugin: &str,
    id: &str,
    version: Option<crate::core::version::Version>,
) -> Result<(Pending, Call), String> {
    let accept = Call::CandidateAccept(CandidateAcceptRequest {
        id: id.to_string(),
        version: version.clone(),
        dry_run: false,
    });
    let accept = operator.propose(accept).await;
    // The version the accept will record: the one asked for, else the engine's derived one.
    let version = match version {
        Some(v) => v,
        None => {
            let dry = operator
                .tools()
                .engine(Call::CandidateAccept(CandidateAcceptRequest {
                    id: id.to_string(),
                    version: None,
                    dry_run: true,
                }))
                .await?;
            let text = dry
                .get("version")
                .and_then(|v| v.as_str())
                .ok_or("the engine's accept dry run named no version")?;
            text.parse()
                .map_err(|e| format!("the derived version `{text}`: {e}"))?
        }
    };
    let deploy = Call::Deploy(DeployRequest {
        plugin: plugin.to_string(),
        version: Some(version),
        strategy: Some(StrategyKind::Canary),
        ..Default::default()
    });
    Ok((accept, deploy))
}

async fn candidate_diff(operator: &Operator, id: &str) -> Result<String, String> {
    let diff = operator
        .tools()
        .engine(Call::CandidateDiff(CandidateRequest { id: id.to_string() }))
        .await?;
    Ok(diff
        .get("unified")
        .and_then(|u| u.as_str())
        .unwrap_or_default()
        .to_string())
}

/// `+N -M in K file(s)` of a unified diff.
pub fn diff_summary(unified: &str) -> String {
    let (mut added, mut removed, mut files) = (0, 0, 0);
    for line in unified.lines() {
        if line.starts_with("+++") {
            files += 1;
        } else if line.starts_with('+') {
            added += 1;
        } else if line.starts_with('-') && !line.starts_with("---") {
            removed += 1;
        }
    }
    format!("+{added} -{removed} in {files} file(s)")
}

fn decode<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
    serde_json::from_value(value).map_err(|e| format!("the engine's answer is not understood: {e}"))
}

/// The text files of a candidate's tree, by relative path: what the model is shown.
pub fn tree_files(root: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with('.')
                || matches!(name.as_str(), "__pycache__" | "node_modules" | "target")
            {
                continue;
            }
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                dirs.push(path);
            } else if meta.is_file() && meta.len() <= FILE_BYTES {
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                let relative = path
                    .strip_prefix(root)
                    .map(|p| p.to_string_lossy().to_string())
                    .unwrap_or(name);
                out.push((relative, text));
            }
        }
    }
    out.sort();
    out
}

/// For a fix: the files the problems name first, then the rest (the prompt's budget cuts
/// from the end).
fn relevant_files(files: &[(String, String)], failed: &FailedGate) -> Vec<(String, String)> {
    let named = |path: &str| {
        failed
            .problems
            .iter()
            .any(|p| p.file == path || p.file.ends_with(&format!("/{path}")))
    };
    let mut out: Vec<(String, String)> = files.iter().filter(|(p, _)| named(p)).cloned().collect();
    out.extend(files.iter().filter(|(p, _)| !named(p)).cloned());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diff_is_summed_up_by_lines_and_files() {
        let diff = "--- a/app.py\n+++ b/app.py\n@@ -1,2 +1,2 @@\n-old\n+new\n+more\n context\n";
        assert_eq!(diff_summary(diff), "+2 -1 in 1 file(s)");
    }

    #[test]
    fn the_tree_is_read_without_hidden_caches_or_big_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.py"), "print(1)\n").unwrap();
        std::fs::create_dir(dir.path().join("__pycache__")).unwrap();
        std::fs::write(dir.path().join("__pycache__/app.pyc"), "x").unwrap();
        std::fs::create_dir(dir.path().join("tests")).unwrap();
        std::fs::write(dir.path().join("tests/test_app.py"), "assert True\n").unwrap();
        std::fs::write(
            dir.path().join("big.json"),
            "x".repeat(FILE_BYTES as usize + 1),
        )
        .unwrap();
        let files: Vec<String> = tree_files(dir.path()).into_iter().map(|(p, _)| p).collect();
        assert_eq!(files, ["app.py", "tests/test_app.py"]);
    }
}
