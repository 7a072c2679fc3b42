//! The blue and green slots of every plugin.

use super::codec::{get_enum, get_opt_ts, get_opt_u64, get_ts, ts_to_text};
use super::{SlotRecord, Store, StoreError};
use rusqlite::{Connection, Row, params};

pub(super) fn slot_from_row(row: &Row<'_>) -> rusqlite::Result<SlotRecord> {
    Ok(SlotRecord {
        plugin: row.get("plugin")?,
        slot: get_enum(row, "slot")?,
        version: row.get("version")?,
        process_state: get_enum(row, "process_state")?,
        health: get_enum(row, "health")?,
        health_detail: row.get("health_detail")?,
        pid: row.get("pid")?,
        pid_start_time: get_opt_u64(row, "pid_start_time")?,
        port: row.get("port")?,
        weight: row.get("weight")?,
        started_at: get_opt_ts(row, "started_at")?,
        restarts: row.get("restarts")?,
        updated_at: get_ts(row, "updated_at")?,
    })
}

fn write_slot(conn: &Connection, s: &SlotRecord) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO slots (plugin, slot, version, process_state, health, pid, pid_start_time,
                            port, weight, started_at, restarts, updated_at, health_detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (plugin, slot) DO UPDATE SET
            version = excluded.version,
            process_state = excluded.process_state,
            health = excluded.health,
            pid = excluded.pid,
            pid_start_time = excluded.pid_start_time,
            port = excluded.port,
            weight = excluded.weight,
            started_at = excluded.started_at,
            restarts = excluded.restarts,
            updated_at = excluded.updated_at,
            health_detail = excluded.health_detail",
    )?;
    // SQLite integers are signed; a start time beyond i64 is refused rather than wrapped.
    let pid_start_time = s
        .pid_start_time
        .map(i64::try_from)
        .transpose()
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    stmt.execute(params![
        s.plugin,
        s.slot.as_str(),
        s.version,
        s.process_state.to_string(),
        s.health.to_string(),
        s.pid,
        pid_start_time,
        s.port,
        s.weight,
        s.started_at.as_ref().map(ts_to_text),
        s.restarts,
        ts_to_text(&s.updated_at),
        s.health_detail,
    ])?;
    Ok(())
}

impl Store {
    /// Inserts or replaces one slot's state.
    pub fn save_slot(&self, slot: &SlotRecord) -> Result<(), StoreError> {
        write_slot(&self.conn, slot)
            .map_err(|e| self.write_err("saving a slot", &slot.plugin, "slot", e))
    }

    /// Saves several slots in one transaction: all of them or none (a weight flip must never
    /// leave both slots at 100 % or both at 0 %).
    pub fn save_slots(&self, slots: &[SlotRecord]) -> Result<(), StoreError> {
        let op = "saving slots";
        let tx = self.write_tx(op)?;
        for slot in slots {
            write_slot(&tx, slot).map_err(|e| self.write_err(op, &slot.plugin, "slot", e))?;
        }
        tx.commit().map_err(|e| self.err(op, e))
    }

    /// Forgets the slots of a plugin that left the workspace (their processes stopped), so
    /// the next engine does not report them orphaned; versions and history stay.
    pub fn delete_slots(&self, plugin: &str) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM slots WHERE plugin = ?1", [plugin])
            .map_err(|e| self.err("forgetting the slots of a removed plugin", e))?;
        Ok(())
    }

    /// Every slot of every plugin, by plugin then slot (blue before green).
    pub fn slots(&self) -> Result<Vec<SlotRecord>, StoreError> {
        let op = "listing slots";
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT plugin, slot, version, process_state, health, pid, pid_start_time, port,
                        weight, started_at, restarts, updated_at, health_detail
                 FROM slots ORDER BY plugin, slot",
            )
            .map_err(|e| self.err(op, e))?;
        let rows = stmt
            .query_map([], slot_from_row)
            .map_err(|e| self.err(op, e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(op, e))
    }
}

#[cfg(test)]
mod tests {
    use super::super::codec::now;
    use super::super::test_util::temp_store;
    use super::*;
    use crate::core::types::{Health, ProcessState, SlotName};
    use std::path::Path;

    fn slot(plugin: &str, name: SlotName, weight: u32) -> SlotRecord {
        SlotRecord {
            plugin: plugin.into(),
            slot: name,
            version: None,
            process_state: ProcessState::Stopped,
            health: Health::Unknown,
            health_detail: String::new(),
            pid: None,
            pid_start_time: None,
            port: None,
            weight,
            started_at: None,
            restarts: 0,
            updated_at: now(),
        }
    }

    #[test]
    fn slot_round_trip_and_upsert() {
        let (_dir, store) = temp_store();
        store.upsert_plugin("shop", Path::new("p.toml")).unwrap();
        let empty = slot("shop", SlotName::Blue, 0);
        store.save_slot(&empty).unwrap();
        assert_eq!(store.slots().unwrap(), vec![empty]);

        let full = SlotRecord {
            version: Some("1.2.3".into()),
            process_state: ProcessState::Running,
            health: Health::Healthy,
            health_detail: "crash loop: 3 exits within 1m".into(),
            pid: Some(u32::MAX),
            pid_start_time: Some(i64::MAX as u64),
            port: Some(u16::MAX),
            weight: 100,
            started_at: Some(now()),
            restarts: 7,
            ..slot("shop", SlotName::Blue, 100)
        };
        store.save_slot(&full).unwrap();
        assert_eq!(store.slots().unwrap(), vec![full]);
    }

    #[test]
    fn slots_are_ordered_by_plugin_then_slot() {
        let (_dir, store) = temp_store();
        for p in ["b", "a"] {
            store.upsert_plugin(p, Path::new("p.toml")).unwrap();
            store.save_slot(&slot(p, SlotName::Green, 0)).unwrap();
            store.save_slot(&slot(p, SlotName::Blue, 100)).unwrap();
        }
        let order: Vec<(String, SlotName)> = store
            .slots()
            .unwrap()
            .into_iter()
            .map(|s| (s.plugin, s.slot))
            .collect();
        assert_eq!(
            order,
            [
                ("a".into(), SlotName::Blue),
                ("a".into(), SlotName::Green),
                ("b".into(), SlotName::Blue),
                ("b".into(), SlotName::Green),
            ]
        );
    }

    #[test]
    fn save_slots_flips_weights_atomically() {
        let (_dir, store) = temp_store();
        store.upsert_plugin("shop", Path::new("p.toml")).unwrap();
        store
            .save_slots(&[
                slot("shop", SlotName::Blue, 100),
                slot("shop", SlotName::Green, 0),
            ])
            .unwrap();

        // The second record names an unregistered plugin, so the whole flip must roll back.
        let err = store
            .save_slots(&[
                slot("shop", SlotName::Blue, 0),
                slot("ghost", SlotName::Green, 100),
            ])
            .unwrap_err();
        assert!(matches!(err, StoreError::UnknownPlugin { ref plugin, .. } if plugin == "ghost"));
        let weights: Vec<u32> = store.slots().unwrap().iter().map(|s| s.weight).collect();
        assert_eq!(weights, [100, 0]);

        store
            .save_slots(&[
                slot("shop", SlotName::Blue, 0),
                slot("shop", SlotName::Green, 100),
            ])
            .unwrap();
        let weights: Vec<u32> = store.slots().unwrap().iter().map(|s| s.weight).collect();
        assert_eq!(weights, [0, 100]);
    }

    #[test]
    fn unreadable_enum_text_is_a_bad_row() {
        let (_dir, store) = temp_store();
        store.upsert_plugin("shop", Path::new("p.toml")).unwrap();
        store.save_slot(&slot("shop", SlotName::Blue, 0)).unwrap();
        store
            .raw()
            .execute("UPDATE slots SET process_state = 'zombie'", [])
            .unwrap();
        let err = store.slots().unwrap_err();
        assert!(matches!(err, StoreError::BadRow { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("process_state") && msg.contains("zombie"),
            "{msg}"
        );
    }
}
