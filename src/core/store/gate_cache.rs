//! Passed gates by input hash: a deploy whose build or test inputs are unchanged reuses the
//! earlier pass instead of running the command again.

use super::codec::{get_ts, now, ts_to_text};
use super::{Store, StoreError};
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

/// How many passes per plugin and gate are kept; older ones are pruned on insert so the
/// table stays small however often a plugin changes.
const KEPT_PER_GATE: i64 = 20;

/// One passed gate run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatePass {
    pub plugin: String,
    pub gate: String,
    pub input_hash: String,
    pub passed_at: DateTime<Utc>,
    pub duration_ms: u64,
    /// The last lines the gate printed, for `cached` log lines and debugging.
    pub output_tail: String,
}

impl Store {
    /// The pass recorded for exactly these inputs, if any.
    pub fn gate_pass(
        &self,
        plugin: &str,
        gate: &str,
        input_hash: &str,
    ) -> Result<Option<GatePass>, StoreError> {
        self.conn
            .query_row(
                "SELECT plugin, gate, input_hash, passed_at, duration_ms, output_tail
                 FROM gate_cache WHERE plugin = ?1 AND gate = ?2 AND input_hash = ?3",
                params![plugin, gate, input_hash],
                |row| {
                    Ok(GatePass {
                        plugin: row.get("plugin")?,
                        gate: row.get("gate")?,
                        input_hash: row.get("input_hash")?,
                        passed_at: get_ts(row, "passed_at")?,
                        duration_ms: row.get::<_, i64>("duration_ms")?.max(0) as u64,
                        output_tail: row.get("output_tail")?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err("reading the gate cache", e))
    }

    /// Records a passed gate now; returns the stored pass.
    pub fn record_gate_pass(
        &self,
        plugin: &str,
        gate: &str,
        input_hash: &str,
        duration_ms: u64,
        output_tail: &str,
    ) -> Result<GatePass, StoreError> {
        let op = "recording a passed gate";
        let passed_at = now();
        let tx = self.write_tx(op)?;
        tx.execute(
            "INSERT OR REPLACE INTO gate_cache
                 (plugin, gate, input_hash, passed_at, duration_ms, output_tail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                plugin,
                gate,
                input_hash,
                ts_to_text(&passed_at),
                i64::try_from(duration_ms).unwrap_or(i64::MAX),
                output_tail
            ],
        )
        .map_err(|e| self.err(op, e))?;
        tx.execute(
            "DELETE FROM gate_cache WHERE plugin = ?1 AND gate = ?2 AND input_hash NOT IN (
                 SELECT input_hash FROM gate_cache WHERE plugin = ?1 AND gate = ?2
                 ORDER BY passed_at DESC LIMIT ?3)",
            params![plugin, gate, KEPT_PER_GATE],
        )
        .map_err(|e| self.err(op, e))?;
        tx.commit().map_err(|e| self.err(op, e))?;
        Ok(GatePass {
            plugin: plugin.to_string(),
            gate: gate.to_string(),
            input_hash: input_hash.to_string(),
            passed_at,
            duration_ms,
            output_tail: output_tail.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::core::store::Store;

    #[test]
    fn a_pass_is_found_by_its_exact_inputs_and_old_passes_are_pruned() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("naap.db")).expect("open");
        assert_eq!(store.gate_pass("p", "build", "h1").expect("read"), None);
        let pass = store
            .record_gate_pass("p", "build", "h1", 1200, "ok\n")
            .expect("write");
        assert_eq!(
            store.gate_pass("p", "build", "h1").expect("read"),
            Some(pass)
        );
        assert_eq!(store.gate_pass("p", "test", "h1").expect("read"), None);
        assert_eq!(store.gate_pass("q", "build", "h1").expect("read"), None);

        for i in 0..super::KEPT_PER_GATE + 5 {
            store
                .record_gate_pass("p", "build", &format!("n{i}"), 1, "")
                .expect("write");
        }
        let kept: i64 = store
            .conn
            .query_row(
                "SELECT count(*) FROM gate_cache WHERE plugin = 'p' AND gate = 'build'",
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(kept, super::KEPT_PER_GATE);
    }
}
