//! The replica count a person set with `naap scale`, per plugin.

use super::codec::{now, ts_to_text};
use super::{Store, StoreError};
use crate::core::types::Face;
use rusqlite::{OptionalExtension, params};

impl Store {
    /// Records `replicas` as the plugin's count from now on.
    pub fn set_scale(&self, plugin: &str, replicas: u32, face: Face) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO plugin_scale (plugin, replicas, scaled_at, face)
                 VALUES (?1, ?2, ?3, ?4)",
                params![plugin, replicas, ts_to_text(&now()), face.to_string()],
            )
            .map_err(|e| self.err("scaling a plugin", e))?;
        Ok(())
    }

    /// The count set for the plugin, if one was.
    pub fn scale_of(&self, plugin: &str) -> Result<Option<u32>, StoreError> {
        self.conn
            .prepare_cached("SELECT replicas FROM plugin_scale WHERE plugin = ?1")
            .and_then(|mut stmt| {
                stmt.query_row(params![plugin], |row| row.get::<_, u32>(0))
                    .optional()
            })
            .map_err(|e| self.err("reading a plugin's scale", e))
    }
}
