//! The parameters and results of the candidate calls.

use crate::core::store::{CandidateRecord, CandidateStepRecord};
use crate::core::workspace::edit::{DiffStat, Edit, TreeDiff};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Start a candidate: a staged copy of the plugin's current source, for an instruction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CandidateCreateRequest {
    pub plugin: String,
    /// What the change is for, in a person's words.
    pub instruction: String,
}

/// Apply edits to a candidate's staged tree: all of them, or none.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CandidateEditRequest {
    pub id: String,
    pub edits: Vec<Edit>,
}

/// A call about one candidate (show, diff, discard).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CandidateRequest {
    /// The candidate's id, as `candidates` lists it.
    pub id: String,
}

/// The candidates of one plugin, or of all.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CandidatesRequest {
    #[serde(default)]
    pub plugin: Option<String>,
}

/// Write a candidate into the plugin's source, as a version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CandidateAcceptRequest {
    pub id: String,
    /// The version it becomes (default: the manifest's next patch with the id,
    /// `1.4.0` → `1.4.1-ai.<id>`).
    #[serde(default)]
    pub version: Option<crate::core::version::Version>,
    /// Say which files would be written; write nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// A candidate with its history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CandidateReport {
    #[serde(flatten)]
    pub candidate: CandidateRecord,
    /// The staged tree (absent once discarded).
    pub tree: Option<String>,
    /// Its change against the live source, counted.
    pub stat: Option<DiffStat>,
    pub history: Vec<CandidateStepRecord>,
}

/// What one edit call changed, against the tree before it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EditOutcome {
    pub id: String,
    pub diff: TreeDiff,
    pub unified: String,
}

/// A candidate against the live source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CandidateDiff {
    pub id: String,
    pub plugin: String,
    pub diff: TreeDiff,
    pub unified: String,
}

/// What an accept wrote (or would write).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AcceptOutcome {
    pub id: String,
    pub plugin: String,
    pub version: String,
    pub written: Vec<String>,
    pub removed: Vec<String>,
    pub dry_run: bool,
    pub summary: String,
}
