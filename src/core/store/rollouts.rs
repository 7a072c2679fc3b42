//! Rollouts: one row per deploy or rollback, from start to its final state.

use super::codec::{get_enum, get_opt_enum, get_opt_ts, get_ts, limit_param, now, ts_to_text};
use super::{NewRollout, RolloutRecord, RolloutState, Store, StoreError};
use rusqlite::{OptionalExtension, Row, params};

const COLUMNS: &str = "id, plugin, strategy, from_slot, to_slot, from_version, to_version, \
                       state, started_at, finished_at, detail";

fn rollout_from_row(row: &Row<'_>) -> rusqlite::Result<RolloutRecord> {
    Ok(RolloutRecord {
        id: row.get("id")?,
        plugin: row.get("plugin")?,
        strategy: get_enum(row, "strategy")?,
        from_slot: get_opt_enum(row, "from_slot")?,
        to_slot: get_opt_enum(row, "to_slot")?,
        from_version: row.get("from_version")?,
        to_version: row.get("to_version")?,
        state: row.get("state")?,
        started_at: get_ts(row, "started_at")?,
        finished_at: get_opt_ts(row, "finished_at")?,
        detail: row.get("detail")?,
    })
}

impl Store {
    /// Records a rollout as `running` from now; returns its id.
    pub fn start_rollout(&self, r: &NewRollout) -> Result<i64, StoreError> {
        self.conn
            .execute(
                "INSERT INTO rollouts (plugin, strategy, from_slot, to_slot, from_version,
                                       to_version, state, started_at, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    r.plugin,
                    r.strategy.to_string(),
                    r.from_slot.map(|s| s.as_str()),
                    r.to_slot.map(|s| s.as_str()),
                    r.from_version,
                    r.to_version,
                    RolloutState::Running.as_str(),
                    ts_to_text(&now()),
                    r.detail,
                ],
            )
            .map_err(|e| self.write_err("starting a rollout", &r.plugin, "rollout", e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Finishes a running rollout with a final state (`succeeded`, `failed`, `rolled_back` or
    /// `aborted`) and a detail that replaces the running one.
    pub fn finish_rollout(&self, id: i64, state: &str, detail: &str) -> Result<(), StoreError> {
        let parsed: RolloutState = state
            .parse()
            .map_err(|e: String| self.invalid("a rollout's final state", e))?;
        if parsed == RolloutState::Running {
            return Err(self.invalid(
                "a rollout's final state",
                "`running` is not final: use succeeded, failed, rolled_back or aborted",
            ));
        }
        let op = "finishing a rollout";
        let tx = self.write_tx(op)?;
        let current: Option<(String, Option<String>)> = tx
            .query_row(
                "SELECT state, finished_at FROM rollouts WHERE id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(op, e))?;
        match current {
            None => {
                return Err(StoreError::NotFound {
                    path: self.path.clone(),
                    what: format!("rollout {id}"),
                });
            }
            Some((state, Some(_))) => {
                return Err(StoreError::RolloutFinished {
                    path: self.path.clone(),
                    id,
                    state,
                });
            }
            Some((_, None)) => {}
        }
        tx.execute(
            "UPDATE rollouts SET state = ?2, finished_at = ?3, detail = ?4 WHERE id = ?1",
            params![id, parsed.as_str(), ts_to_text(&now()), detail],
        )
        .map_err(|e| self.err(op, e))?;
        tx.commit().map_err(|e| self.err(op, e))
    }

    /// A plugin's latest `limit` rollouts, newest first.
    pub fn rollouts(&self, plugin: &str, limit: usize) -> Result<Vec<RolloutRecord>, StoreError> {
        let op = "listing rollouts";
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM rollouts WHERE plugin = ?1 ORDER BY id DESC LIMIT ?2"
            ))
            .map_err(|e| self.err(op, e))?;
        let rows = stmt
            .query_map(params![plugin, limit_param(limit)], rollout_from_row)
            .map_err(|e| self.err(op, e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(op, e))
    }

    /// Rollouts that never finished (the engine stopped mid-way), oldest first, for every
    /// plugin: after a restart the engine resolves each one.
    pub fn unfinished_rollouts(&self) -> Result<Vec<RolloutRecord>, StoreError> {
        let op = "listing unfinished rollouts";
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM rollouts WHERE finished_at IS NULL ORDER BY id"
            ))
            .map_err(|e| self.err(op, e))?;
        let rows = stmt
            .query_map([], rollout_from_row)
            .map_err(|e| self.err(op, e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(op, e))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::temp_store;
    use super::*;
    use crate::core::types::{SlotName, StrategyKind};
    use std::path::Path;

    fn new_rollout(plugin: &str, to: &str) -> NewRollout {
        NewRollout {
            plugin: plugin.into(),
            strategy: StrategyKind::BlueGreen,
            from_slot: Some(SlotName::Blue),
            to_slot: Some(SlotName::Green),
            from_version: Some("1.0.0".into()),
            to_version: to.into(),
            detail: "waiting for health".into(),
        }
    }

    #[test]
    fn rollout_round_trip_and_finish() {
        let (_dir, store) = temp_store();
        store.upsert_plugin("shop", Path::new("p.toml")).unwrap();
        let id = store.start_rollout(&new_rollout("shop", "2.0.0")).unwrap();
        let r = &store.rollouts("shop", 10).unwrap()[0];
        assert_eq!(r.id, id);
        assert_eq!(r.strategy, StrategyKind::BlueGreen);
        assert_eq!(
            (r.from_slot, r.to_slot),
            (Some(SlotName::Blue), Some(SlotName::Green))
        );
        assert_eq!(r.from_version.as_deref(), Some("1.0.0"));
        assert_eq!(r.to_version, "2.0.0");
        assert_eq!(r.state, "running");
        assert_eq!(r.finished_at, None);
        assert_eq!(r.detail, "waiting for health");

        store
            .finish_rollout(id, "rolled_back", "p99 over 2000 ms")
            .unwrap();
        let r = &store.rollouts("shop", 10).unwrap()[0];
        assert_eq!(r.state, "rolled_back");
        assert_eq!(r.detail, "p99 over 2000 ms");
        assert!(r.finished_at.is_some_and(|f| f >= r.started_at));

        let err = store.finish_rollout(id, "succeeded", "").unwrap_err();
        assert!(matches!(err, StoreError::RolloutFinished { .. }), "{err:?}");
        assert_eq!(store.rollouts("shop", 1).unwrap()[0].state, "rolled_back");
    }

    #[test]
    fn finish_rejects_bad_states_and_unknown_ids() {
        let (_dir, store) = temp_store();
        store.upsert_plugin("shop", Path::new("p.toml")).unwrap();
        let id = store.start_rollout(&new_rollout("shop", "2.0.0")).unwrap();
        for bad in ["running", "done", ""] {
            let err = store.finish_rollout(id, bad, "").unwrap_err();
            assert!(
                matches!(err, StoreError::InvalidInput { .. }),
                "{bad}: {err:?}"
            );
        }
        let err = store.finish_rollout(id + 100, "failed", "").unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
        for state in RolloutState::ALL.iter().skip(1) {
            let id = store.start_rollout(&new_rollout("shop", "x")).unwrap();
            store.finish_rollout(id, state.as_str(), "").unwrap();
        }
    }

    #[test]
    fn rollouts_newest_first_with_limit_and_unfinished_across_plugins() {
        let (_dir, store) = temp_store();
        store.upsert_plugin("a", Path::new("a.toml")).unwrap();
        store.upsert_plugin("b", Path::new("b.toml")).unwrap();
        let a1 = store.start_rollout(&new_rollout("a", "1")).unwrap();
        let b1 = store.start_rollout(&new_rollout("b", "1")).unwrap();
        let a2 = store.start_rollout(&new_rollout("a", "2")).unwrap();
        let a3 = store.start_rollout(&new_rollout("a", "3")).unwrap();
        store.finish_rollout(a2, "succeeded", "").unwrap();

        let ids = |v: Vec<RolloutRecord>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(ids(store.rollouts("a", 10).unwrap()), [a3, a2, a1]);
        assert_eq!(ids(store.rollouts("a", 2).unwrap()), [a3, a2]);
        assert!(store.rollouts("a", 0).unwrap().is_empty());
        assert_eq!(ids(store.unfinished_rollouts().unwrap()), [a1, b1, a3]);

        let err = store.start_rollout(&new_rollout("ghost", "1")).unwrap_err();
        assert!(matches!(err, StoreError::UnknownPlugin { .. }), "{err:?}");
    }
}
