//! Canary verdicts: one row per judged step of a rollout, with the numbers behind it.

use super::codec::{get_json, get_ts, limit_param, now, ts_to_text};
use super::{Store, StoreError};
use chrono::{DateTime, Utc};
use rusqlite::{Row, params};
use serde::{Deserialize, Serialize};

/// A step verdict to store.
#[derive(Clone, Debug, PartialEq)]
pub struct NewVerdict {
    pub rollout_id: i64,
    /// 0-based index of the step in the manifest's `steps`.
    pub step_index: u32,
    /// Canary weight (percent) during the step.
    pub weight: u32,
    /// `pass`, `marginal`, `fail` or `inconclusive`.
    pub outcome: String,
    pub score: f64,
    pub summary: String,
    pub detail: serde_json::Value,
}

/// A stored step verdict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerdictRecord {
    pub rollout_id: i64,
    pub step_index: u32,
    pub weight: u32,
    pub outcome: String,
    pub score: f64,
    pub summary: String,
    pub detail: serde_json::Value,
    pub judged_at: DateTime<Utc>,
}

impl VerdictRecord {
    /// The record of a verdict judged at `judged_at`.
    pub fn stamped(v: NewVerdict, judged_at: DateTime<Utc>) -> Self {
        VerdictRecord {
            rollout_id: v.rollout_id,
            step_index: v.step_index,
            weight: v.weight,
            outcome: v.outcome,
            score: v.score,
            summary: v.summary,
            detail: v.detail,
            judged_at,
        }
    }

    /// A verdict the store could not keep, stamped now, so it can still be shown.
    pub fn unstored(v: NewVerdict) -> Self {
        Self::stamped(v, now())
    }
}

const COLUMNS: &str = "v.rollout_id, v.step_index, v.weight, v.outcome, v.score, v.summary, \
                       v.detail_json, v.judged_at";

fn verdict_from_row(row: &Row<'_>) -> rusqlite::Result<VerdictRecord> {
    Ok(VerdictRecord {
        rollout_id: row.get(0)?,
        step_index: row.get(1)?,
        weight: row.get(2)?,
        outcome: row.get(3)?,
        score: row.get(4)?,
        summary: row.get(5)?,
        detail: get_json(row, "detail_json")?,
        judged_at: get_ts(row, "judged_at")?,
    })
}

impl Store {
    /// Stores the verdict of one step; returns it as stored once it is committed.
    pub fn add_verdict(&self, v: &NewVerdict) -> Result<VerdictRecord, StoreError> {
        let detail = self.json_text("a verdict's detail", &v.detail)?;
        let judged_at = now();
        self.conn
            .execute(
                "INSERT INTO rollout_verdicts (rollout_id, step_index, weight, outcome, score,
                                               summary, detail_json, judged_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    v.rollout_id,
                    v.step_index,
                    v.weight,
                    v.outcome,
                    v.score,
                    v.summary,
                    detail,
                    ts_to_text(&judged_at),
                ],
            )
            .map_err(|e| self.err("storing a canary verdict", e))?;
        Ok(VerdictRecord::stamped(v.clone(), judged_at))
    }

    /// The latest `limit` verdicts of a plugin's rollouts, oldest first.
    pub fn verdicts(&self, plugin: &str, limit: usize) -> Result<Vec<VerdictRecord>, StoreError> {
        let op = "listing canary verdicts";
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM rollout_verdicts v JOIN rollouts r ON r.id = v.rollout_id
                 WHERE r.plugin = ?1 ORDER BY v.id DESC LIMIT ?2"
            ))
            .map_err(|e| self.err(op, e))?;
        let rows = stmt
            .query_map(params![plugin, limit_param(limit)], verdict_from_row)
            .map_err(|e| self.err(op, e))?;
        let mut out: Vec<VerdictRecord> = rows
            .collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(op, e))?;
        out.reverse();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::NewRollout;
    use super::super::test_util::temp_store;
    use super::*;
    use crate::core::types::{SlotName, StrategyKind};
    use std::path::Path;

    #[test]
    fn verdicts_round_trip_per_plugin_oldest_first() {
        let (_dir, store) = temp_store();
        for plugin in ["shop", "cart"] {
            store.upsert_plugin(plugin, Path::new("p.toml")).unwrap();
        }
        let rollout = |plugin: &str| {
            store
                .start_rollout(&NewRollout {
                    plugin: plugin.into(),
                    strategy: StrategyKind::Canary,
                    from_slot: Some(SlotName::Blue),
                    to_slot: Some(SlotName::Green),
                    from_version: Some("1".into()),
                    to_version: "2".into(),
                    detail: String::new(),
                })
                .unwrap()
        };
        let (shop, cart) = (rollout("shop"), rollout("cart"));
        let verdict = |rollout_id, step_index, outcome: &str| NewVerdict {
            rollout_id,
            step_index,
            weight: 10 * (step_index + 1),
            outcome: outcome.into(),
            score: 100.0,
            summary: format!("{outcome}: step {step_index}"),
            detail: serde_json::json!({"samples": {"canary": 12}}),
        };
        store.add_verdict(&verdict(shop, 0, "pass")).unwrap();
        store.add_verdict(&verdict(cart, 0, "fail")).unwrap();
        store
            .add_verdict(&verdict(shop, 1, "inconclusive"))
            .unwrap();

        let got = store.verdicts("shop", 10).unwrap();
        let steps: Vec<(u32, &str)> = got
            .iter()
            .map(|v| (v.step_index, v.outcome.as_str()))
            .collect();
        assert_eq!(steps, [(0, "pass"), (1, "inconclusive")]);
        assert_eq!(got[1].weight, 20);
        assert_eq!(got[0].detail["samples"]["canary"], 12);
        assert_eq!(store.verdicts("shop", 1).unwrap()[0].step_index, 1);

        let err = store
            .add_verdict(&verdict(shop + 100, 0, "pass"))
            .unwrap_err();
        assert!(format!("{err}").contains("verdict"), "{err}");
    }
}
