//! Preview slots: stored apart from blue and green (whose table admits only those two),
//! with their expiry, so a restarted engine adopts them and keeps their deadline.

use super::codec::{get_ts, ts_to_text};
use super::slots::slot_from_row;
use super::{SlotRecord, Store, StoreError};
use chrono::{DateTime, Utc};
use rusqlite::params;

impl Store {
    /// Inserts or replaces a preview's state and expiry.
    pub fn save_preview(
        &self,
        slot: &SlotRecord,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let pid_start_time = slot.pid_start_time.and_then(|t| i64::try_from(t).ok());
        self.conn
            .execute(
                "INSERT OR REPLACE INTO previews (plugin, slot, version, process_state, health,
                     pid, pid_start_time, port, weight, started_at, restarts, updated_at,
                     expires_at, health_detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9, ?10, ?11, ?12, ?13)",
                params![
                    slot.plugin,
                    slot.slot.as_str(),
                    slot.version,
                    slot.process_state.to_string(),
                    slot.health.to_string(),
                    slot.pid,
                    pid_start_time,
                    slot.port,
                    slot.started_at.as_ref().map(ts_to_text),
                    slot.restarts,
                    ts_to_text(&slot.updated_at),
                    ts_to_text(&expires_at),
                    slot.health_detail,
                ],
            )
            .map_err(|e| self.err("saving a preview", e))?;
        Ok(())
    }

    /// Forgets a preview (stopped or expired).
    pub fn delete_preview(&self, plugin: &str, slot: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "DELETE FROM previews WHERE plugin = ?1 AND slot = ?2",
                params![plugin, slot],
            )
            .map_err(|e| self.err("deleting a preview", e))?;
        Ok(())
    }

    /// Every stored preview with its expiry, by plugin then slot.
    pub fn previews(&self) -> Result<Vec<(SlotRecord, DateTime<Utc>)>, StoreError> {
        let op = "listing previews";
        let mut stmt = self
            .conn
            .prepare(
                "SELECT plugin, slot, version, process_state, health, pid, pid_start_time, port,
                        weight, started_at, restarts, updated_at, expires_at, health_detail
                 FROM previews ORDER BY plugin, slot",
            )
            .map_err(|e| self.err(op, e))?;
        let rows = stmt
            .query_map([], |row| {
                Ok((slot_from_row(row)?, get_ts(row, "expires_at")?))
            })
            .map_err(|e| self.err(op, e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(op, e))
    }
}
