//! Candidates and their history: the durable half of `engine::candidate` (the staged tree
//! is the other half, under the state directory).

use super::codec::{get_enum, get_json, get_ts, now, ts_to_text};
use super::{Store, StoreError};
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where a candidate stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CandidateStatus {
    /// Created or edited since its last gate run.
    Open,
    GatesFailed,
    GatesPassed,
    /// Written into the plugin's source as a version.
    Accepted,
    Discarded,
    /// Deployed, then rolled back (by a person or the canary's analysis).
    RolledBack,
}

impl CandidateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CandidateStatus::Open => "open",
            CandidateStatus::GatesFailed => "gates_failed",
            CandidateStatus::GatesPassed => "gates_passed",
            CandidateStatus::Accepted => "accepted",
            CandidateStatus::Discarded => "discarded",
            CandidateStatus::RolledBack => "rolled_back",
        }
    }

    /// Whether edits and gate runs may still change it.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            CandidateStatus::Open | CandidateStatus::GatesFailed | CandidateStatus::GatesPassed
        )
    }
}

impl std::fmt::Display for CandidateStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A candidate to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCandidate {
    pub id: String,
    pub plugin: String,
    pub instruction: String,
    /// The gate-input tree hash of the source it started from.
    pub base_hash: String,
    /// Relative path → content hash of every file of that source.
    pub base_files: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CandidateRecord {
    pub id: String,
    pub plugin: String,
    pub instruction: String,
    pub base_hash: String,
    pub status: CandidateStatus,
    /// The version it became, once accepted.
    pub version: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One step of a candidate's history: `created`, `instruction`, `edit`, `gates`, `note`,
/// `accepted`, `discarded`, `status`… with its data as the engine recorded it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CandidateStepRecord {
    pub id: i64,
    pub candidate: String,
    pub ts: DateTime<Utc>,
    pub kind: String,
    pub summary: String,
    pub data: serde_json::Value,
}

const COLUMNS: &str = "id, plugin, instruction, base_hash, status, version, created_at, updated_at";

fn candidate_from_row(row: &Row<'_>) -> rusqlite::Result<CandidateRecord> {
    Ok(CandidateRecord {
        id: row.get("id")?,
        plugin: row.get("plugin")?,
        instruction: row.get("instruction")?,
        base_hash: row.get("base_hash")?,
        status: get_enum(row, "status")?,
        version: row.get("version")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
    })
}

impl Store {
    /// Stores a new candidate with its `created` step, in one transaction.
    pub fn insert_candidate(&self, new: &NewCandidate) -> Result<CandidateRecord, StoreError> {
        let op = "storing a candidate";
        let ts = now();
        let files = serde_json::to_string(&new.base_files)
            .map_err(|e| self.invalid("candidate base files", e.to_string()))?;
        let tx = self.write_tx(op)?;
        tx.execute(
            "INSERT INTO candidates (id, plugin, instruction, base_hash, base_files_json, status,
                 version, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'open', NULL, ?6, ?6)",
            params![
                new.id,
                new.plugin,
                new.instruction,
                new.base_hash,
                files,
                ts_to_text(&ts)
            ],
        )
        .map_err(|e| self.err(op, e))?;
        tx.execute(
            "INSERT INTO candidate_steps (candidate, ts, kind, summary, data_json)
             VALUES (?1, ?2, 'created', ?3, ?4)",
            params![
                new.id,
                ts_to_text(&ts),
                format!(
                    "created from the source of {} ({})",
                    new.plugin,
                    short(&new.base_hash)
                ),
                serde_json::json!({"instruction": new.instruction, "base": new.base_hash})
                    .to_string()
            ],
        )
        .map_err(|e| self.err(op, e))?;
        tx.commit().map_err(|e| self.err(op, e))?;
        Ok(CandidateRecord {
            id: new.id.clone(),
            plugin: new.plugin.clone(),
            instruction: new.instruction.clone(),
            base_hash: new.base_hash.clone(),
            status: CandidateStatus::Open,
            version: None,
            created_at: ts,
            updated_at: ts,
        })
    }

    pub fn candidate(&self, id: &str) -> Result<Option<CandidateRecord>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM candidates WHERE id = ?1"),
                params![id],
                candidate_from_row,
            )
            .optional()
            .map_err(|e| self.err("reading a candidate", e))
    }

    /// Candidates of one plugin (or all), newest first.
    pub fn candidates(&self, plugin: Option<&str>) -> Result<Vec<CandidateRecord>, StoreError> {
        let op = "listing candidates";
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM candidates WHERE ?1 IS NULL OR plugin = ?1
                 ORDER BY created_at DESC, id"
            ))
            .map_err(|e| self.err(op, e))?;
        let rows = stmt
            .query_map(params![plugin], candidate_from_row)
            .map_err(|e| self.err(op, e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(op, e))
    }

    /// The per-file hashes of the source a candidate started from.
    pub fn candidate_base_files(&self, id: &str) -> Result<BTreeMap<String, String>, StoreError> {
        let op = "reading a candidate's base";
        let value = self
            .conn
            .query_row(
                "SELECT base_files_json FROM candidates WHERE id = ?1",
                params![id],
                |row| get_json(row, "base_files_json"),
            )
            .map_err(|e| self.err(op, e))?;
        serde_json::from_value(value)
            .map_err(|e| self.invalid("candidate base files", e.to_string()))
    }

    /// Appends a step and sets the status (and the version, when given) in one transaction.
    pub fn append_candidate_step(
        &self,
        id: &str,
        kind: &str,
        summary: &str,
        data: &serde_json::Value,
        status: Option<CandidateStatus>,
        version: Option<&str>,
    ) -> Result<CandidateStepRecord, StoreError> {
        let op = "recording a candidate step";
        let ts = now();
        let tx = self.write_tx(op)?;
        tx.execute(
            "INSERT INTO candidate_steps (candidate, ts, kind, summary, data_json)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, ts_to_text(&ts), kind, summary, data.to_string()],
        )
        .map_err(|e| self.err(op, e))?;
        let step = tx.last_insert_rowid();
        tx.execute(
            "UPDATE candidates SET updated_at = ?2,
                 status = coalesce(?3, status), version = coalesce(?4, version)
             WHERE id = ?1",
            params![
                id,
                ts_to_text(&ts),
                status.map(CandidateStatus::as_str),
                version
            ],
        )
        .map_err(|e| self.err(op, e))?;
        tx.commit().map_err(|e| self.err(op, e))?;
        Ok(CandidateStepRecord {
            id: step,
            candidate: id.to_string(),
            ts,
            kind: kind.to_string(),
            summary: summary.to_string(),
            data: data.clone(),
        })
    }

    /// A candidate's history, oldest first.
    pub fn candidate_steps(&self, id: &str) -> Result<Vec<CandidateStepRecord>, StoreError> {
        let op = "reading a candidate's history";
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, candidate, ts, kind, summary, data_json FROM candidate_steps
                 WHERE candidate = ?1 ORDER BY id",
            )
            .map_err(|e| self.err(op, e))?;
        let rows = stmt
            .query_map(params![id], |row| {
                Ok(CandidateStepRecord {
                    id: row.get("id")?,
                    candidate: row.get("candidate")?,
                    ts: get_ts(row, "ts")?,
                    kind: row.get("kind")?,
                    summary: row.get("summary")?,
                    data: get_json(row, "data_json")?,
                })
            })
            .map_err(|e| self.err(op, e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(op, e))
    }
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::store::test_util::temp_store;

    fn new(id: &str, plugin: &str) -> NewCandidate {
        NewCandidate {
            id: id.to_string(),
            plugin: plugin.to_string(),
            instruction: "newest first".to_string(),
            base_hash: "ab".repeat(32),
            base_files: [("app.py".to_string(), "cd".repeat(32))].into(),
        }
    }

    #[test]
    fn a_candidate_keeps_its_base_status_version_and_history_in_order() {
        let (_dir, store) = temp_store();
        let made = store
            .insert_candidate(&new("k3x9q2", "shop"))
            .expect("insert");
        store
            .insert_candidate(&new("m7p2z5", "other"))
            .expect("insert");
        assert_eq!(store.candidate("k3x9q2").expect("read"), Some(made.clone()));
        assert_eq!(store.candidate("nope").expect("read"), None);
        assert!(
            store.insert_candidate(&new("k3x9q2", "shop")).is_err(),
            "ids are unique"
        );
        assert_eq!(
            store.candidate_base_files("k3x9q2").expect("base")["app.py"],
            "cd".repeat(32)
        );

        let data = serde_json::json!({"files": ["app.py"]});
        store
            .append_candidate_step(
                "k3x9q2",
                "edit",
                "1 file changed",
                &data,
                Some(CandidateStatus::Open),
                None,
            )
            .expect("edit");
        store
            .append_candidate_step(
                "k3x9q2",
                "accepted",
                "became 1.4.1-ai.k3x9q2",
                &serde_json::Value::Null,
                Some(CandidateStatus::Accepted),
                Some("1.4.1-ai.k3x9q2"),
            )
            .expect("accept");
        let read = store.candidate("k3x9q2").expect("read").expect("there");
        assert_eq!(read.status, CandidateStatus::Accepted);
        assert_eq!(read.version.as_deref(), Some("1.4.1-ai.k3x9q2"));
        let kinds: Vec<String> = store
            .candidate_steps("k3x9q2")
            .expect("steps")
            .into_iter()
            .map(|s| s.kind)
            .collect();
        assert_eq!(kinds, ["created", "edit", "accepted"]);
        assert_eq!(store.candidates(Some("shop")).expect("list").len(), 1);
        assert_eq!(store.candidates(None).expect("list").len(), 2);
    }
}
