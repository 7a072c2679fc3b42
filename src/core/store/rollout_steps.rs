//! A canary rollout's progress: its controller state and the judgement of each step.

use super::codec::{get_json, get_ts, now, ts_to_text};
use super::{Store, StoreError};
use crate::core::rollout::StepJudgement;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

/// One judged step, as `naap status --json` and `naap history` show it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StepJudgementRecord {
    pub rollout_id: i64,
    pub step_index: usize,
    pub weight: u32,
    pub outcome: String,
    pub summary: String,
    pub detail: serde_json::Value,
    pub judged_at: DateTime<Utc>,
}

impl Store {
    /// Stores where a canary rollout stands (the serialised controller).
    pub fn save_rollout_controller(&self, rollout_id: i64, json: &str) -> Result<(), StoreError> {
        let changed = self
            .conn
            .execute(
                "UPDATE rollouts SET controller_json = ?2 WHERE id = ?1",
                params![rollout_id, json],
            )
            .map_err(|e| self.err("saving a rollout's progress", e))?;
        if changed == 0 {
            return Err(StoreError::NotFound {
                path: self.path.clone(),
                what: format!("rollout {rollout_id}"),
            });
        }
        Ok(())
    }

    /// The stored controller of a rollout, if it has one.
    pub fn rollout_controller(&self, rollout_id: i64) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT controller_json FROM rollouts WHERE id = ?1",
                params![rollout_id],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(|e| self.err("reading a rollout's progress", e))
    }

    /// Appends the judgement of one step.
    pub fn append_step_judgement(
        &self,
        rollout_id: i64,
        step_index: usize,
        weight: u32,
        judgement: &StepJudgement,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO rollout_steps (rollout_id, step_index, weight, outcome, summary,
                                            detail_json, judged_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    rollout_id,
                    i64::try_from(step_index).unwrap_or(i64::MAX),
                    weight,
                    judgement.outcome.as_str(),
                    judgement.summary,
                    judgement.detail.to_string(),
                    ts_to_text(&now()),
                ],
            )
            .map_err(|e| self.err("recording a step judgement", e))?;
        Ok(())
    }

    /// The judgements of a rollout's steps, in order.
    pub fn step_judgements(&self, rollout_id: i64) -> Result<Vec<StepJudgementRecord>, StoreError> {
        let op = "listing step judgements";
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT rollout_id, step_index, weight, outcome, summary, detail_json, judged_at
                 FROM rollout_steps WHERE rollout_id = ?1 ORDER BY rowid",
            )
            .map_err(|e| self.err(op, e))?;
        let rows = stmt
            .query_map(params![rollout_id], |row| {
                Ok(StepJudgementRecord {
                    rollout_id: row.get("rollout_id")?,
                    step_index: usize::try_from(row.get::<_, i64>("step_index")?).unwrap_or(0),
                    weight: row.get("weight")?,
                    outcome: row.get("outcome")?,
                    summary: row.get("summary")?,
                    detail: get_json(row, "detail_json")?,
                    judged_at: get_ts(row, "judged_at")?,
                })
            })
            .map_err(|e| self.err(op, e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(op, e))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::temp_store;
    use super::*;
    use crate::core::rollout::JudgementOutcome;
    use crate::core::store::NewRollout;
    use crate::core::types::{SlotName, StrategyKind};
    use std::path::Path;

    #[test]
    fn controller_and_judgements_round_trip() {
        let (_dir, store) = temp_store();
        store.upsert_plugin("shop", Path::new("p.toml")).unwrap();
        let id = store
            .start_rollout(&NewRollout {
                plugin: "shop".into(),
                strategy: StrategyKind::Canary,
                from_slot: Some(SlotName::Blue),
                to_slot: Some(SlotName::Green),
                from_version: Some("1".into()),
                to_version: "2".into(),
                detail: String::new(),
            })
            .unwrap();
        assert_eq!(store.rollout_controller(id).unwrap(), None);
        store.save_rollout_controller(id, "{\"x\":1}").unwrap();
        assert_eq!(
            store.rollout_controller(id).unwrap().as_deref(),
            Some("{\"x\":1}")
        );
        assert!(store.save_rollout_controller(id + 9, "{}").is_err());

        let mut j = StepJudgement::new(JudgementOutcome::Inconclusive, "12 of 50 samples");
        j.detail = serde_json::json!({"samples": 12});
        store.append_step_judgement(id, 0, 5, &j).unwrap();
        store
            .append_step_judgement(id, 1, 25, &StepJudgement::new(JudgementOutcome::Pass, "ok"))
            .unwrap();
        let all = store.step_judgements(id).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(
            (all[0].step_index, all[0].weight, all[0].outcome.as_str()),
            (0, 5, "inconclusive")
        );
        assert_eq!(all[0].detail["samples"], 12);
        assert_eq!(all[1].outcome, "pass");
        assert!(store.step_judgements(id + 1).unwrap().is_empty());
    }
}
