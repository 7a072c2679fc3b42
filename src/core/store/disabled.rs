//! Plugins a person disabled: stopped, answered 503 by the router, until enabled again.

use super::codec::{get_enum, get_ts, now, ts_to_text};
use super::{Store, StoreError};
use crate::core::types::Face;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

/// A disabled plugin: since when, by which face, and the version `enable` starts again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DisabledRecord {
    pub plugin: String,
    pub since: DateTime<Utc>,
    pub face: Face,
    /// The version that served when it was disabled; `None` when none did.
    pub version: Option<String>,
    pub reason: String,
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<DisabledRecord> {
    Ok(DisabledRecord {
        plugin: row.get("plugin")?,
        since: get_ts(row, "disabled_at")?,
        face: get_enum(row, "face")?,
        version: row.get("version")?,
        reason: row.get("reason")?,
    })
}

impl Store {
    /// Records `plugin` as disabled now (replacing an earlier record of it).
    pub fn set_disabled(
        &self,
        plugin: &str,
        face: Face,
        version: Option<&str>,
        reason: &str,
    ) -> Result<DisabledRecord, StoreError> {
        let record = DisabledRecord {
            plugin: plugin.to_string(),
            since: now(),
            face,
            version: version.map(str::to_string),
            reason: reason.to_string(),
        };
        self.put_disabled(&record)?;
        Ok(record)
    }

    /// Stores `record` as it is (an enable that failed puts back the record it took).
    pub fn put_disabled(&self, record: &DisabledRecord) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO disabled_plugins (plugin, disabled_at, face, version, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    record.plugin,
                    ts_to_text(&record.since),
                    record.face.to_string(),
                    record.version,
                    record.reason
                ],
            )
            .map_err(|e| self.err("disabling a plugin", e))?;
        Ok(())
    }

    /// Forgets that `plugin` was disabled; returns the record it had, if any.
    pub fn clear_disabled(&self, plugin: &str) -> Result<Option<DisabledRecord>, StoreError> {
        let record = self.disabled(plugin)?;
        self.conn
            .execute(
                "DELETE FROM disabled_plugins WHERE plugin = ?1",
                params![plugin],
            )
            .map_err(|e| self.err("enabling a plugin", e))?;
        Ok(record)
    }

    /// The record of a disabled plugin, or `None` when it is enabled.
    pub fn disabled(&self, plugin: &str) -> Result<Option<DisabledRecord>, StoreError> {
        self.conn
            .prepare_cached("SELECT * FROM disabled_plugins WHERE plugin = ?1")
            .and_then(|mut stmt| stmt.query_row(params![plugin], from_row).optional())
            .map_err(|e| self.err("reading a disabled plugin", e))
    }

    /// Every disabled plugin, by name.
    pub fn disabled_plugins(&self) -> Result<Vec<DisabledRecord>, StoreError> {
        let op = "listing disabled plugins";
        let mut stmt = self
            .conn
            .prepare_cached("SELECT * FROM disabled_plugins ORDER BY plugin")
            .map_err(|e| self.err(op, e))?;
        let rows = stmt.query_map([], from_row).map_err(|e| self.err(op, e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(op, e))
    }
}
