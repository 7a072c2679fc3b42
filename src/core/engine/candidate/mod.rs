//! Candidates: a proposed change to one plugin, kept apart from its live source until a
//! person accepts it. A candidate is a staged copy of the plugin's directory under the
//! state directory (`.naap/candidates/<id>/tree`: exactly the files a gate sees) plus its
//! record and history in the store. Edits, diffs and (later) gate runs work on the copy;
//! only `accept` writes the live source, and only when that source is still the one the
//! candidate started from.
//!
//! When the plugin lives in a git repository, the candidate is also a branch
//! `naap/candidate-<id>` there with a commit per edit ([`git`]), built without touching
//! the person's checkout; accept still writes the files into the source, and the branch
//! stays for review.

mod gates;
mod git;
mod preview;
mod requests;
mod tree;

pub use gates::{CandidateGateRun, CandidateGatesRequest, FailedGate};
pub use requests::*;

use super::gate_inputs::{ALWAYS_IGNORED_DIRS, hash_tree};
use super::{Engine, EngineError};
use crate::core::store::{CandidateRecord, CandidateStatus, CandidateStepRecord, NewCandidate};
use crate::core::types::Face;
use crate::core::workspace::edit::{self, FileChange};
use std::path::PathBuf;

/// Where candidates live in the state directory.
pub fn candidates_dir(state_dir: &std::path::Path) -> PathBuf {
    state_dir.join("candidates")
}

impl Engine {
    /// The staged tree of a candidate: where gates run and edits land.
    pub fn candidate_tree(&self, id: &str) -> PathBuf {
        candidates_dir(&self.state_dir()).join(id).join("tree")
    }

    /// Creates a candidate from the plugin's current source.
    pub fn create_candidate(
        &self,
        req: CandidateCreateRequest,
        face: Face,
    ) -> Result<CandidateReport, EngineError> {
        let args = serde_json::to_value(&req).unwrap_or_default();
        let result = self.create_candidate_inner(&req);
        self.audit(
            face,
            "candidate_create",
            Some(&req.plugin),
            args,
            &result,
            |r| format!("candidate {} created", r.candidate.id),
        );
        result
    }

    fn create_candidate_inner(
        &self,
        req: &CandidateCreateRequest,
    ) -> Result<CandidateReport, EngineError> {
        self.require_plugin(&req.plugin)?;
        if req.instruction.trim().is_empty() {
            return Err(EngineError::BadRequest(
                "instruction: say what the change is for, e.g. \"make /api/items return the newest first\"".to_string(),
            ));
        }
        let source = self.plugin_source(&req.plugin)?;
        let id = self.new_candidate_id()?;
        let root = candidates_dir(&self.state_dir()).join(&id);
        let staged = tree::stage(&source, &root.join("tree"))
            .and_then(|files| Ok((files, hash_tree(&source)?)));
        let (base_files, base) = match staged {
            Ok(done) => done,
            Err(why) => {
                let _ = std::fs::remove_dir_all(&root);
                return Err(EngineError::rejected(
                    &req.plugin,
                    format!(
                        "cannot stage a copy of {} for a candidate: {why}",
                        source.display()
                    ),
                ));
            }
        };
        let stored = self.store().insert_candidate(&NewCandidate {
            id: id.clone(),
            plugin: req.plugin.clone(),
            instruction: req.instruction.clone(),
            base_hash: base.hex,
            base_files,
        });
        if let Err(e) = stored {
            let _ = std::fs::remove_dir_all(&root);
            return Err(e.into());
        }
        if let Some(repo) = git::repo_of(&source) {
            let summary = match repo.start(&id) {
                Ok(head) => format!(
                    "kept as branch {} in {} too, from {}; a commit per edit",
                    git::branch(&id),
                    repo.root.display(),
                    &head[..head.len().min(12)]
                ),
                Err(why) => format!("not kept as a git branch: {why}"),
            };
            self.note_branch(&id, &summary);
        }
        self.candidate_report(&id)
    }

    /// Applies edits to an open candidate: all of them, or none (nothing written).
    pub fn edit_candidate(
        &self,
        req: CandidateEditRequest,
        face: Face,
    ) -> Result<EditOutcome, EngineError> {
        let args = serde_json::to_value(&req).unwrap_or_default();
        let plugin = self.candidate_record(&req.id).ok().map(|c| c.plugin);
        let result = self.edit_candidate_inner(&req);
        self.audit(
            face,
            "candidate_edit",
            plugin.as_deref(),
            args,
            &result,
            |o| format!("candidate {}: {}", o.id, o.diff.summary()),
        );
        result
    }

    fn edit_candidate_inner(&self, req: &CandidateEditRequest) -> Result<EditOutcome, EngineError> {
        let candidate = self.open_candidate(&req.id)?;
        let tree = self.candidate_tree(&req.id);
        let planned = edit::plan(&tree, &req.edits, ALWAYS_IGNORED_DIRS).map_err(|refusal| {
            EngineError::rejected(
                &candidate.plugin,
                format!("candidate {}: {refusal}; nothing was written", req.id),
            )
        })?;
        tree::write_planned(&tree, &planned).map_err(|why| {
            EngineError::rejected(&candidate.plugin, format!("candidate {}: {why}", req.id))
        })?;
        let before = planned
            .iter()
            .filter_map(|f| Some((f.path.display().to_string(), f.before.clone()?.into_bytes())))
            .collect();
        let after = planned
            .iter()
            .map(|f| (f.path.display().to_string(), f.after.clone().into_bytes()))
            .collect();
        let diff = edit::diff_trees(&before, &after);
        let data = serde_json::json!({
            "edits": req.edits.iter().map(|e| e.path()).collect::<Vec<_>>(),
            "stat": diff.stat,
            "files": diff.files.iter().map(|f| serde_json::json!({"path": f.path, "added": f.added, "removed": f.removed})).collect::<Vec<_>>(),
        });
        // The first edit after a failed gate run is an attempt to fix it (by whoever
        // edits: iterate's heal loop, an MCP client, a person): the history says so.
        let (kind, summary) = if candidate.status == CandidateStatus::GatesFailed {
            let earlier = self
                .store()
                .candidate_steps(&req.id)?
                .iter()
                .filter(|s| s.kind == "heal")
                .count();
            (
                "heal",
                format!(
                    "fix {} after a failed gate run: {}",
                    earlier + 1,
                    diff.summary()
                ),
            )
        } else {
            ("edit", diff.summary())
        };
        self.store().append_candidate_step(
            &req.id,
            kind,
            &summary,
            &data,
            Some(CandidateStatus::Open),
            None,
        )?;
        self.mirror_to_branch(&candidate.plugin, &req.id, &summary);
        Ok(EditOutcome {
            id: req.id.clone(),
            unified: diff.unified(),
            diff,
        })
    }

    /// The candidate against the plugin's live source.
    pub fn candidate_diff(&self, id: &str) -> Result<CandidateDiff, EngineError> {
        let candidate = self.candidate_record(id)?;
        let source = self.plugin_source(&candidate.plugin)?;
        let tree = self.candidate_tree(id);
        if !tree.is_dir() {
            return Err(EngineError::rejected(
                &candidate.plugin,
                format!(
                    "candidate {id} is {}: its staged tree is gone",
                    candidate.status
                ),
            ));
        }
        let (live, staged) = tree::read_both(&source, &tree)
            .map_err(|why| EngineError::rejected(&candidate.plugin, why))?;
        let diff = edit::diff_trees(&live, &staged);
        Ok(CandidateDiff {
            id: id.to_string(),
            plugin: candidate.plugin,
            unified: diff.unified(),
            diff,
        })
    }

    /// A candidate with its history.
    pub fn candidate_report(&self, id: &str) -> Result<CandidateReport, EngineError> {
        let candidate = self.candidate_record(id)?;
        let history = self.candidate_history(id)?;
        let tree = self.candidate_tree(id);
        let stat = self.candidate_diff(id).ok().map(|d| d.diff.stat);
        Ok(CandidateReport {
            tree: tree.is_dir().then(|| tree.display().to_string()),
            stat,
            history,
            candidate,
        })
    }

    /// The plugin candidate `id` belongs to, if there is such a candidate.
    pub fn candidate_plugin(&self, id: &str) -> Option<String> {
        self.candidate_record(id).ok().map(|c| c.plugin)
    }

    /// The candidates of one plugin (or all), newest first.
    pub fn candidates(&self, plugin: Option<&str>) -> Result<Vec<CandidateRecord>, EngineError> {
        if let Some(plugin) = plugin {
            self.require_plugin(plugin)?;
        }
        Ok(self.store().candidates(plugin)?)
    }

    /// A candidate's history, oldest first.
    pub fn candidate_history(&self, id: &str) -> Result<Vec<CandidateStepRecord>, EngineError> {
        self.candidate_record(id)?;
        Ok(self.store().candidate_steps(id)?)
    }

    /// Appends a step to a candidate's history (an instruction, a heal attempt, a deploy,
    /// a verdict), optionally changing its status: for the iterate pipeline.
    pub fn record_candidate_step(
        &self,
        id: &str,
        kind: &str,
        summary: &str,
        data: serde_json::Value,
        status: Option<CandidateStatus>,
    ) -> Result<CandidateStepRecord, EngineError> {
        self.candidate_record(id)?;
        Ok(self
            .store()
            .append_candidate_step(id, kind, summary, &data, status, None)?)
    }

    /// Records on the candidate that became `version` of `plugin` (if one did) how its
    /// rollout ended: deployed, or rolled back with the verdict, so the operator can be
    /// asked to try again from there. A failure to record is logged: the rollout's own
    /// record is what counts.
    pub(crate) fn candidate_rollout_ended(
        &self,
        plugin: &str,
        version: &str,
        state: &str,
        detail: &str,
    ) {
        let made = match self.store().candidates(Some(plugin)) {
            Ok(all) => all
                .into_iter()
                .find(|c| c.version.as_deref() == Some(version)),
            Err(e) => {
                tracing::warn!("cannot look up the candidate of {plugin} {version}: {e}");
                return;
            }
        };
        let Some(candidate) = made else {
            return;
        };
        let (kind, status) = match state {
            "rolled_back" => ("rolled_back", Some(CandidateStatus::RolledBack)),
            "succeeded" => ("deployed", None),
            other => (other, None),
        };
        let summary = format!("{plugin} {version}: rollout {state}: {detail}");
        let data = serde_json::json!({"version": version, "state": state, "detail": detail});
        if let Err(e) =
            self.store()
                .append_candidate_step(&candidate.id, kind, &summary, &data, status, None)
        {
            tracing::warn!("cannot record on candidate {}: {e}", candidate.id);
        }
    }

    /// Records on candidate `id` that a preview of it started (or could not).
    pub(crate) fn candidate_previewed(
        &self,
        id: &str,
        outcome: &Result<super::report::ActionOutcome, EngineError>,
    ) {
        let (summary, data) = match outcome {
            Ok(o) => (
                o.summary.clone(),
                serde_json::json!({"slot": o.slot, "version": o.version}),
            ),
            Err(e) => (
                format!("the preview did not start: {e}"),
                serde_json::json!({"error": e.to_string()}),
            ),
        };
        if let Err(e) = self
            .store()
            .append_candidate_step(id, "preview", &summary, &data, None, None)
        {
            tracing::warn!("cannot record on candidate {id}: {e}");
        }
    }

    /// Removes a candidate's staged tree; its record and history stay.
    pub fn discard_candidate(&self, id: &str, face: Face) -> Result<CandidateRecord, EngineError> {
        let plugin = self.candidate_record(id).ok().map(|c| c.plugin);
        let result = self.discard_candidate_inner(id);
        let args = serde_json::json!({"id": id});
        self.audit(
            face,
            "candidate_discard",
            plugin.as_deref(),
            args,
            &result,
            |c| format!("candidate {} discarded", c.id),
        );
        result
    }

    fn discard_candidate_inner(&self, id: &str) -> Result<CandidateRecord, EngineError> {
        let candidate = self.open_candidate(id)?;
        // A preview runs from the staged tree: removing it would pull the files from
        // under a running process.
        let previews = self.candidate_previews(&candidate.plugin, id);
        if let Some(slot) = previews.first() {
            return Err(EngineError::rejected(
                &candidate.plugin,
                format!(
                    "candidate {id} runs in {slot}; stop the preview first (naap preview stop {} {slot}), then discard it",
                    candidate.plugin
                ),
            ));
        }
        let dir = candidates_dir(&self.state_dir()).join(id);
        if let Err(e) = std::fs::remove_dir_all(&dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            return Err(EngineError::rejected(
                &candidate.plugin,
                format!("cannot remove {}: {e}", dir.display()),
            ));
        }
        self.store().append_candidate_step(
            id,
            "discarded",
            "discarded; its staged tree was removed",
            &serde_json::Value::Null,
            Some(CandidateStatus::Discarded),
            None,
        )?;
        self.candidate_record(id)
    }

    /// Writes a candidate into the plugin's source directory and records the version it
    /// becomes; refused, naming the files, when the source changed since the candidate
    /// started.
    pub fn accept_candidate(
        &self,
        req: CandidateAcceptRequest,
        face: Face,
    ) -> Result<AcceptOutcome, EngineError> {
        let args = serde_json::to_value(&req).unwrap_or_default();
        let plugin = self.candidate_record(&req.id).ok().map(|c| c.plugin);
        let result = self.accept_candidate_inner(&req);
        if !req.dry_run {
            self.audit(
                face,
                "candidate_accept",
                plugin.as_deref(),
                args,
                &result,
                |o| o.summary.clone(),
            );
        }
        result
    }

    fn accept_candidate_inner(
        &self,
        req: &CandidateAcceptRequest,
    ) -> Result<AcceptOutcome, EngineError> {
        let candidate = self.open_candidate(&req.id)?;
        let plugin = candidate.plugin.as_str();
        let manifest_version = self
            .workspace()
            .plugin(plugin)
            .map(|m| m.version.clone())
            .ok_or_else(|| {
                EngineError::rejected(plugin, "the plugin was removed from the workspace")
            })?;
        let version = match &req.version {
            Some(v) => v.to_string(),
            None => crate::core::version::candidate_version(&manifest_version, &req.id)
                .map_err(|e| {
                    EngineError::rejected(
                        plugin,
                        format!("cannot derive a version from {manifest_version}: {e}; give one"),
                    )
                })?
                .to_string(),
        };
        let source = self.plugin_source(plugin)?;
        let base = self.store().candidate_base_files(&req.id)?;
        let changed = tree::changed_since(&source, &base)
            .map_err(|why| EngineError::rejected(plugin, why))?;
        if !changed.is_empty() {
            return Err(EngineError::rejected(
                plugin,
                format!(
                    "candidate {} was made from an older source: {} changed since ({}); nothing was written. Discard it and start a new candidate from the current source",
                    req.id,
                    if changed.len() == 1 {
                        "this file"
                    } else {
                        "these files"
                    },
                    changed.join(", ")
                ),
            ));
        }
        let diff = self.candidate_diff(&req.id)?;
        let (mut written, mut removed) = (Vec::new(), Vec::new());
        for file in &diff.diff.files {
            match file.change {
                FileChange::Removed => removed.push(file.path.clone()),
                FileChange::Added | FileChange::Modified => written.push(file.path.clone()),
            }
        }
        let summary = format!(
            "candidate {} {} {plugin}'s source as {version}: {}",
            req.id,
            if req.dry_run { "would write" } else { "wrote" },
            diff.diff.summary()
        );
        if !req.dry_run {
            // No deploy or rollback may read the source while it is being written.
            let lock = self.op_lock(plugin);
            let Ok(_held) = lock.try_lock() else {
                return Err(EngineError::rejected(
                    plugin,
                    "a deploy or rollback is running; accept the candidate once it has ended",
                ));
            };
            tree::write_into(&self.candidate_tree(&req.id), &source, &written, &removed)
                .map_err(|why| EngineError::rejected(plugin, why))?;
            self.store().append_candidate_step(
                &req.id,
                "accepted",
                &summary,
                &serde_json::json!({"version": version, "written": written, "removed": removed}),
                Some(CandidateStatus::Accepted),
                Some(&version),
            )?;
        }
        Ok(AcceptOutcome {
            id: req.id.clone(),
            plugin: plugin.to_string(),
            version,
            written,
            removed,
            dry_run: req.dry_run,
            summary,
        })
    }

    // ---- helpers ----

    /// Commits the staged tree on the candidate's git branch, when its plugin is in a
    /// repository and the branch was started; a failure is noted on the candidate.
    fn mirror_to_branch(&self, plugin: &str, id: &str, summary: &str) {
        let Ok(source) = self.plugin_source(plugin) else {
            return;
        };
        let Some(repo) = git::repo_of(&source) else {
            return;
        };
        let message = format!("naap candidate {id}: {summary}");
        let scratch = candidates_dir(&self.state_dir()).join(id);
        if let Err(why) = repo.commit(id, &self.candidate_tree(id), &scratch, &message) {
            self.note_branch(
                id,
                &format!("this step is not on branch {}: {why}", git::branch(id)),
            );
        }
    }

    fn note_branch(&self, id: &str, summary: &str) {
        let data = serde_json::json!({"branch": git::branch(id)});
        if let Err(e) = self
            .store()
            .append_candidate_step(id, "branch", summary, &data, None, None)
        {
            tracing::warn!("cannot record on candidate {id}: {e}");
        }
    }

    fn candidate_record(&self, id: &str) -> Result<CandidateRecord, EngineError> {
        self.store().candidate(id)?.ok_or_else(|| {
            EngineError::BadRequest(format!(
                "unknown candidate `{id}`; list them with `candidates`"
            ))
        })
    }

    fn open_candidate(&self, id: &str) -> Result<CandidateRecord, EngineError> {
        let candidate = self.candidate_record(id)?;
        if !candidate.status.is_open() {
            return Err(EngineError::rejected(
                &candidate.plugin,
                format!(
                    "candidate {id} is {}; start a new candidate instead",
                    candidate.status
                ),
            ));
        }
        Ok(candidate)
    }

    fn plugin_source(&self, plugin: &str) -> Result<PathBuf, EngineError> {
        self.require_plugin(plugin)?;
        self.workspace()
            .plugin(plugin)
            .map(|m| m.dir.clone())
            .ok_or_else(|| {
                EngineError::rejected(plugin, "the plugin was removed from the workspace")
            })
    }

    /// Six characters, a letter first (so a derived version's pre-release part is never
    /// a number with a leading zero), unused so far.
    fn new_candidate_id(&self) -> Result<String, EngineError> {
        const LETTERS: &[u8] = b"abcdefghijkmnpqrstuvwxyz";
        const ALNUM: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
        for _ in 0..32 {
            let mut id = String::with_capacity(6);
            id.push(char::from(LETTERS[fastrand::usize(..LETTERS.len())]));
            for _ in 0..5 {
                id.push(char::from(ALNUM[fastrand::usize(..ALNUM.len())]));
            }
            if self.store().candidate(&id)?.is_none() {
                return Ok(id);
            }
        }
        Err(EngineError::BadRequest(
            "could not find an unused candidate id".to_string(),
        ))
    }
}
