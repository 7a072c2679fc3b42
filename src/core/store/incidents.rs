//! Incidents and the signals that opened or joined them.

use super::codec::{get_opt_enum, get_opt_ts, get_ts, now, ts_to_text};
use super::{Store, StoreError};
use crate::core::types::Face;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

/// One incident of one plugin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IncidentRecord {
    pub id: i64,
    pub plugin: String,
    /// The first signal's words.
    pub title: String,
    pub opened_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<Face>,
    /// How it was resolved, in the person's words.
    pub note: String,
    /// The plugin's error lines when it opened, normalised (see `engine::incidents`).
    pub fingerprint: String,
    /// What opened or joined it, oldest first.
    pub signals: Vec<SignalRecord>,
}

/// A signal: `auto_rollback`, `alert:NAME`, `crash_loop`, `deploy_failed`, and its detail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignalRecord {
    pub ts: DateTime<Utc>,
    pub signal: String,
    pub detail: String,
}

fn incident_from_row(row: &Row<'_>) -> rusqlite::Result<IncidentRecord> {
    Ok(IncidentRecord {
        id: row.get("id")?,
        plugin: row.get("plugin")?,
        title: row.get("title")?,
        opened_at: get_ts(row, "opened_at")?,
        resolved_at: get_opt_ts(row, "resolved_at")?,
        resolved_by: get_opt_enum(row, "resolved_by")?,
        note: row.get("note")?,
        fingerprint: row.get("fingerprint")?,
        signals: Vec::new(),
    })
}

impl Store {
    /// The open incident of `plugin`, if any.
    pub fn open_incident(&self, plugin: &str) -> Result<Option<IncidentRecord>, StoreError> {
        let found = self
            .conn
            .prepare_cached(
                "SELECT * FROM incidents WHERE plugin = ?1 AND resolved_at IS NULL
                 ORDER BY id DESC LIMIT 1",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![plugin], incident_from_row)
                    .optional()
            })
            .map_err(|e| self.err("reading the open incident", e))?;
        found.map(|i| self.with_signals(i)).transpose()
    }

    /// Opens an incident with its first signal; returns its id.
    pub fn open_new_incident(
        &self,
        plugin: &str,
        signal: &str,
        detail: &str,
        fingerprint: &str,
    ) -> Result<i64, StoreError> {
        let ts = ts_to_text(&now());
        self.conn
            .execute(
                "INSERT INTO incidents (plugin, title, opened_at, fingerprint) VALUES (?1, ?2, ?3, ?4)",
                params![plugin, detail, ts, fingerprint],
            )
            .map_err(|e| self.err("opening an incident", e))?;
        let id = self.conn.last_insert_rowid();
        self.add_signal(id, signal, detail)?;
        Ok(id)
    }

    /// Adds a signal to incident `id`.
    pub fn add_signal(&self, id: i64, signal: &str, detail: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO incident_signals (incident_id, ts, signal, detail) VALUES (?1, ?2, ?3, ?4)",
                params![id, ts_to_text(&now()), signal, detail],
            )
            .map_err(|e| self.err("adding a signal to an incident", e))?;
        Ok(())
    }

    /// Resolves an open incident; `None` when there is no such open incident.
    pub fn resolve_incident(
        &self,
        id: i64,
        face: Face,
        note: &str,
    ) -> Result<Option<IncidentRecord>, StoreError> {
        let changed = self
            .conn
            .execute(
                "UPDATE incidents SET resolved_at = ?2, resolved_by = ?3, note = ?4
                 WHERE id = ?1 AND resolved_at IS NULL",
                params![id, ts_to_text(&now()), face.to_string(), note],
            )
            .map_err(|e| self.err("resolving an incident", e))?;
        if changed == 0 {
            return Ok(None);
        }
        self.incident(id)
    }

    /// One incident with its signals.
    pub fn incident(&self, id: i64) -> Result<Option<IncidentRecord>, StoreError> {
        let found = self
            .conn
            .prepare_cached("SELECT * FROM incidents WHERE id = ?1")
            .and_then(|mut stmt| stmt.query_row(params![id], incident_from_row).optional())
            .map_err(|e| self.err("reading an incident", e))?;
        found.map(|i| self.with_signals(i)).transpose()
    }

    /// Incidents newest first: of one plugin or all, open ones only or every one.
    pub fn incidents(
        &self,
        plugin: Option<&str>,
        open_only: bool,
        limit: usize,
    ) -> Result<Vec<IncidentRecord>, StoreError> {
        let op = "listing incidents";
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT * FROM incidents
                 WHERE (?1 IS NULL OR plugin = ?1) AND (?2 = 0 OR resolved_at IS NULL)
                 ORDER BY id DESC LIMIT ?3",
            )
            .map_err(|e| self.err(op, e))?;
        let rows = stmt
            .query_map(
                params![
                    plugin,
                    open_only as i64,
                    limit.min(i64::MAX as usize) as i64
                ],
                incident_from_row,
            )
            .map_err(|e| self.err(op, e))?;
        let found: Vec<IncidentRecord> = rows
            .collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(op, e))?;
        found.into_iter().map(|i| self.with_signals(i)).collect()
    }

    fn with_signals(&self, mut incident: IncidentRecord) -> Result<IncidentRecord, StoreError> {
        let op = "reading an incident's signals";
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT ts, signal, detail FROM incident_signals WHERE incident_id = ?1
                 ORDER BY ts, rowid",
            )
            .map_err(|e| self.err(op, e))?;
        let rows = stmt
            .query_map(params![incident.id], |row| {
                Ok(SignalRecord {
                    ts: get_ts(row, "ts")?,
                    signal: row.get("signal")?,
                    detail: row.get("detail")?,
                })
            })
            .map_err(|e| self.err(op, e))?;
        incident.signals = rows
            .collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(op, e))?;
        Ok(incident)
    }
}
