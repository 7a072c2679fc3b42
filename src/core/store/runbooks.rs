//! Runbook runs and their steps.

use super::codec::{get_enum, get_opt_ts, get_ts, now, ts_to_text};
use super::{Store, StoreError};
use crate::core::types::Face;
use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::{Deserialize, Serialize};

/// One run of a runbook.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunbookRunRecord {
    pub id: i64,
    pub runbook: String,
    pub face: Face,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// `running`, `succeeded`, `failed` (compensated), `dry_run`.
    pub outcome: String,
    pub summary: String,
    pub steps: Vec<RunbookStepRecord>,
}

/// One step's outcome, or one compensation's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunbookStepRecord {
    pub ts: DateTime<Utc>,
    pub step: String,
    /// `run` or `compensate`.
    pub phase: String,
    /// `ok`, `failed` or `skipped`.
    pub outcome: String,
    pub detail: String,
}

impl Store {
    pub fn start_runbook_run(&self, runbook: &str, face: Face) -> Result<i64, StoreError> {
        self.conn
            .execute(
                "INSERT INTO runbook_runs (runbook, face, started_at) VALUES (?1, ?2, ?3)",
                params![runbook, face.to_string(), ts_to_text(&now())],
            )
            .map_err(|e| self.err("recording a runbook run", e))?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn add_runbook_step(
        &self,
        run: i64,
        step: &str,
        phase: &str,
        outcome: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO runbook_steps (run_id, ts, step, phase, outcome, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![run, ts_to_text(&now()), step, phase, outcome, detail],
            )
            .map_err(|e| self.err("recording a runbook step", e))?;
        Ok(())
    }

    pub fn finish_runbook_run(
        &self,
        run: i64,
        outcome: &str,
        summary: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE runbook_runs SET finished_at = ?2, outcome = ?3, summary = ?4 WHERE id = ?1",
                params![run, ts_to_text(&now()), outcome, summary],
            )
            .map_err(|e| self.err("finishing a runbook run", e))?;
        Ok(())
    }

    /// Runs newest first (of one runbook, or all), with their steps in order.
    pub fn runbook_runs(
        &self,
        runbook: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RunbookRunRecord>, StoreError> {
        let op = "listing runbook runs";
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT * FROM runbook_runs WHERE (?1 IS NULL OR runbook = ?1) ORDER BY id DESC LIMIT ?2",
            )
            .map_err(|e| self.err(op, e))?;
        let rows = stmt
            .query_map(
                params![runbook, limit.min(i64::MAX as usize) as i64],
                |row| {
                    Ok(RunbookRunRecord {
                        id: row.get("id")?,
                        runbook: row.get("runbook")?,
                        face: get_enum(row, "face")?,
                        started_at: get_ts(row, "started_at")?,
                        finished_at: get_opt_ts(row, "finished_at")?,
                        outcome: row.get("outcome")?,
                        summary: row.get("summary")?,
                        steps: Vec::new(),
                    })
                },
            )
            .map_err(|e| self.err(op, e))?;
        let mut runs: Vec<RunbookRunRecord> = rows
            .collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(op, e))?;
        let mut steps = self
            .conn
            .prepare_cached(
                "SELECT ts, step, phase, outcome, detail FROM runbook_steps WHERE run_id = ?1 ORDER BY rowid",
            )
            .map_err(|e| self.err(op, e))?;
        for run in &mut runs {
            let rows = steps
                .query_map(params![run.id], |row| {
                    Ok(RunbookStepRecord {
                        ts: get_ts(row, "ts")?,
                        step: row.get("step")?,
                        phase: row.get("phase")?,
                        outcome: row.get("outcome")?,
                        detail: row.get("detail")?,
                    })
                })
                .map_err(|e| self.err(op, e))?;
            run.steps = rows
                .collect::<rusqlite::Result<_>>()
                .map_err(|e| self.err(op, e))?;
        }
        Ok(runs)
    }
}
