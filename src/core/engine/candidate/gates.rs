//! The manifest's gates on a candidate's staged tree, with the gate cache, and the
//! problems a failure's output names.

use super::super::gates::GateSite;
use super::super::state::DeploySpec;
use super::super::{Engine, EngineError};
use crate::core::gate_problems::{self, GateProblem};
use crate::core::store::CandidateStatus;
use crate::core::types::{Face, SlotName};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Lines of a failed gate's output kept for its problems and the history.
const KEPT_OUTPUT_LINES: usize = 400;

/// Run the plugin's gates (build, lint, test) on a candidate's staged tree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CandidateGatesRequest {
    pub id: String,
    /// Run every gate even when a pass with the same inputs is cached.
    #[serde(default)]
    pub no_cache: bool,
}

/// One gate run on a candidate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CandidateGateRun {
    pub id: String,
    pub passed: bool,
    /// The gates that passed: `ran` or `cached`.
    pub gates: Vec<super::super::GateReport>,
    /// The gate that failed, if one did.
    pub failed: Option<FailedGate>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailedGate {
    pub gate: String,
    pub status: String,
    pub duration_ms: u64,
    /// Read from the output where its format is known; empty otherwise.
    pub problems: Vec<GateProblem>,
    /// The last lines of its output, always kept.
    pub output: String,
}

impl Engine {
    /// Runs the manifest's gates on the candidate's tree (the manifest's commands as the
    /// live plugin.toml gives them, in the same place inside the tree) and records the
    /// run in its history. A failed gate is a result, not an error.
    pub async fn candidate_gates(
        &self,
        req: CandidateGatesRequest,
        face: Face,
    ) -> Result<CandidateGateRun, EngineError> {
        let args = serde_json::to_value(&req).unwrap_or_default();
        let plugin = self.candidate_record(&req.id).ok().map(|c| c.plugin);
        let result = self.candidate_gates_inner(&req).await;
        self.audit(
            face,
            "candidate_gates",
            plugin.as_deref(),
            args,
            &result,
            |r| {
                if r.passed {
                    "gates passed".to_string()
                } else {
                    "gates failed".to_string()
                }
            },
        );
        result
    }

    async fn candidate_gates_inner(
        &self,
        req: &CandidateGatesRequest,
    ) -> Result<CandidateGateRun, EngineError> {
        let candidate = self.open_candidate(&req.id)?;
        let plugin = candidate.plugin.as_str();
        let manifest = self.workspace().plugin(plugin).cloned().ok_or_else(|| {
            EngineError::rejected(plugin, "the plugin was removed from the workspace")
        })?;
        let tree = self.candidate_tree(&req.id);
        let Ok(inner) = manifest.run.cwd.strip_prefix(&manifest.dir) else {
            return Err(EngineError::rejected(
                plugin,
                format!(
                    "run.cwd ({}) is outside the plugin directory, so its gates cannot run on a candidate's copy",
                    manifest.run.cwd.display()
                ),
            ));
        };
        let mut run = manifest.run.clone();
        run.cwd = tree.join(inner);
        let spec = DeploySpec {
            run,
            health: manifest.health.clone(),
        };
        // The version an accept derives: a deploy of the accepted tree finds these passes.
        let version = crate::core::version::candidate_version(&manifest.version, &req.id)
            .map(String::from)
            .unwrap_or_else(|_| manifest.version.clone());
        let site = GateSite {
            tree: &tree,
            slot: SlotName::Blue,
            version: &version,
            no_cache: req.no_cache,
            keep_lines: KEPT_OUTPUT_LINES,
        };
        // Nothing cancels a candidate's gates: the sender lives as long as the run.
        let (_keep, mut cancel) = tokio::sync::watch::channel(false);
        let done = self
            .run_gate_list(plugin, &spec, &site, &mut cancel)
            .await?;
        let failed = done.failure.map(|f| FailedGate {
            problems: gate_problems::parse(&f.output, Some(&tree)),
            gate: f.gate,
            status: f.status,
            duration_ms: f.duration_ms,
            output: f.output,
        });
        let report = CandidateGateRun {
            id: req.id.clone(),
            passed: failed.is_none(),
            gates: done.passed,
            failed,
        };
        let (summary, status) = match &report.failed {
            None => ("gates passed".to_string(), CandidateStatus::GatesPassed),
            Some(f) => (
                format!(
                    "gate `{}` failed ({}): {} problem(s)",
                    f.gate,
                    f.status,
                    f.problems.len()
                ),
                CandidateStatus::GatesFailed,
            ),
        };
        let data = serde_json::to_value(&report).unwrap_or_default();
        self.store().append_candidate_step(
            &req.id,
            "gates",
            &summary,
            &data,
            Some(status),
            None,
        )?;
        Ok(report)
    }

    /// The problems of the candidate's last gate run (empty when it passed or never ran).
    pub fn candidate_problems(&self, id: &str) -> Result<Vec<GateProblem>, EngineError> {
        let history = self.candidate_history(id)?;
        let last = history.iter().rev().find(|s| s.kind == "gates");
        Ok(last
            .and_then(|s| serde_json::from_value::<CandidateGateRun>(s.data.clone()).ok())
            .and_then(|run| run.failed)
            .map(|f| f.problems)
            .unwrap_or_default())
    }
}
