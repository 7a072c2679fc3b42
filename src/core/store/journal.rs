//! The two append-only journals: engine events and the audit log of actions.

use super::codec::{get_enum, get_json, get_opt_enum, get_ts, limit_param, now, ts_to_text};
use super::{
    AuditRecord, AuditResult, EventKind, EventRecord, NewAudit, NewEvent, Store, StoreError,
};
use rusqlite::types::ToSql;
use rusqlite::{Row, params};

fn event_from_row(row: &Row<'_>) -> rusqlite::Result<EventRecord> {
    Ok(EventRecord {
        id: row.get("id")?,
        ts: get_ts(row, "ts")?,
        plugin: row.get("plugin")?,
        slot: get_opt_enum(row, "slot")?,
        kind: EventKind::from_name(&row.get::<_, String>("kind")?),
        message: row.get("message")?,
        data: get_json(row, "data_json")?,
    })
}

fn audit_from_row(row: &Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        id: row.get("id")?,
        ts: get_ts(row, "ts")?,
        face: get_enum(row, "face")?,
        action: row.get("action")?,
        plugin: row.get("plugin")?,
        args: get_json(row, "args_json")?,
        result: get_enum(row, "result")?,
        detail: row.get("detail")?,
        completed_at: match row.get::<_, Option<String>>("completed_at")? {
            Some(_) => Some(get_ts(row, "completed_at")?),
            None => None,
        },
    })
}

/// Audit entries with their outcome, if any: the outcome's result and detail win.
const AUDIT_VIEW: &str = "SELECT a.id, a.ts, a.face, a.action, a.plugin, a.args_json,
        COALESCE(o.result, a.result) AS result,
        COALESCE(o.detail, a.detail) AS detail,
        o.ts AS completed_at
     FROM audit a LEFT JOIN audit_outcomes o ON o.audit_id = a.id";

impl Store {
    pub(super) fn json_text(
        &self,
        what: &'static str,
        v: &serde_json::Value,
    ) -> Result<String, StoreError> {
        serde_json::to_string(v).map_err(|e| self.invalid(what, e.to_string()))
    }

    /// Appends an event stamped now; returns its id (ids only grow, never reused).
    pub fn append_event(&self, e: &NewEvent) -> Result<EventRecord, StoreError> {
        let data = self.json_text("an event's data", &e.data)?;
        // `now()` is already cut to the stored precision, so the returned record is what a
        // later read gives, without reading it back. The statement is cached: events are
        // the engine's most frequent write.
        let ts = now();
        self.conn
            .prepare_cached(
                "INSERT INTO events (ts, plugin, slot, kind, message, data_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut insert| {
                insert.execute(params![
                    ts_to_text(&ts),
                    e.plugin,
                    e.slot.map(|s| s.as_str()),
                    e.kind.as_str(),
                    e.message,
                    data,
                ])
            })
            .map_err(|err| self.err("appending an event", err))?;
        Ok(EventRecord {
            id: self.conn.last_insert_rowid(),
            ts,
            plugin: e.plugin.clone(),
            slot: e.slot,
            kind: e.kind.clone(),
            message: e.message.clone(),
            data: e.data.clone(),
        })
    }

    /// The last `limit` events matching the filters, in ascending id order.
    ///
    /// `plugin` keeps only that plugin's events; `after_id` only events with a larger id.
    /// When more than `limit` events match, the oldest ones are skipped, so a follower that
    /// must not miss events should pass a limit above what can accumulate between its polls.
    pub fn events(
        &self,
        plugin: Option<&str>,
        after_id: Option<i64>,
        limit: usize,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let op = "reading events";
        // Fixed fragments chosen per filter (never user text) so each query can use an index.
        let mut filters = Vec::new();
        let mut args: Vec<&dyn ToSql> = Vec::new();
        if let Some(p) = &plugin {
            filters.push("plugin = ?");
            args.push(p);
        }
        if let Some(id) = &after_id {
            filters.push("id > ?");
            args.push(id);
        }
        let limit = limit_param(limit);
        args.push(&limit);
        let where_clause = if filters.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", filters.join(" AND "))
        };
        let sql = format!(
            "SELECT * FROM (
                SELECT id, ts, plugin, slot, kind, message, data_json FROM events
                {where_clause} ORDER BY id DESC LIMIT ?
             ) ORDER BY id"
        );
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(|e| self.err(op, e))?;
        let rows = stmt
            .query_map(args.as_slice(), event_from_row)
            .map_err(|e| self.err(op, e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(op, e))
    }

    /// The newest event of `plugin` whose kind is one of `kinds`, if any. Pass a kind that
    /// recurs (e.g. `deploy_started`) beside the one wanted to bound the scan: it stops at
    /// the newest of either.
    pub fn latest_event(
        &self,
        plugin: &str,
        kinds: &[EventKind],
    ) -> Result<Option<EventRecord>, StoreError> {
        let op = "reading the latest event";
        if kinds.is_empty() {
            return Ok(None);
        }
        // Placeholders only; the kinds themselves are bound, never spliced in.
        let marks = vec!["?"; kinds.len()].join(", ");
        let sql = format!(
            "SELECT id, ts, plugin, slot, kind, message, data_json FROM events
             WHERE plugin = ? AND kind IN ({marks}) ORDER BY id DESC LIMIT 1"
        );
        let mut args: Vec<&dyn ToSql> = vec![&plugin];
        let names: Vec<&str> = kinds.iter().map(EventKind::as_str).collect();
        args.extend(names.iter().map(|k| k as &dyn ToSql));
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(|e| self.err(op, e))?;
        let mut rows = stmt
            .query_map(args.as_slice(), event_from_row)
            .map_err(|e| self.err(op, e))?;
        rows.next().transpose().map_err(|e| self.err(op, e))
    }

    /// Appends an audit entry stamped now; returns its id. Entries can never change.
    pub fn append_audit(&self, a: &NewAudit) -> Result<i64, StoreError> {
        let args = self.json_text("an audit entry's arguments", &a.args)?;
        self.conn
            .execute(
                "INSERT INTO audit (ts, face, action, plugin, args_json, result, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    ts_to_text(&now()),
                    a.face.to_string(),
                    a.action,
                    a.plugin,
                    args,
                    a.result.to_string(),
                    a.detail,
                ],
            )
            .map_err(|e| self.err("appending to the audit log", e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Completes an entry appended as `pending` with how the request ended. Once only:
    /// a second completion, or one of an entry that was not pending, is refused.
    pub fn complete_audit(
        &self,
        id: i64,
        result: AuditResult,
        detail: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO audit_outcomes (audit_id, ts, result, detail) VALUES (?1, ?2, ?3, ?4)",
                params![id, ts_to_text(&now()), result.to_string(), detail],
            )
            .map_err(|e| self.err("completing an audit entry", e))?;
        Ok(())
    }

    /// Entries still pending, oldest first: at engine start, the requests a crash cut.
    pub fn pending_audit(&self) -> Result<Vec<AuditRecord>, StoreError> {
        let op = "reading pending audit entries";
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT * FROM ({AUDIT_VIEW}) WHERE result = 'pending' ORDER BY id"
            ))
            .map_err(|e| self.err(op, e))?;
        let rows = stmt
            .query_map([], audit_from_row)
            .map_err(|e| self.err(op, e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(op, e))
    }

    /// The last `limit` audit entries (optionally of one plugin), in ascending id order,
    /// each with its outcome when it was completed after acceptance.
    pub fn audit(
        &self,
        plugin: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let op = "reading the audit log";
        let limit = limit_param(limit);
        let inner = match plugin {
            Some(_) => {
                format!("SELECT * FROM ({AUDIT_VIEW}) WHERE plugin = ?1 ORDER BY id DESC LIMIT ?2")
            }
            None => format!("SELECT * FROM ({AUDIT_VIEW}) ORDER BY id DESC LIMIT ?2"),
        };
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT * FROM ({inner}) ORDER BY id"))
            .map_err(|e| self.err(op, e))?;
        let rows = stmt
            .query_map(params![plugin, limit], audit_from_row)
            .map_err(|e| self.err(op, e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(op, e))
    }
}

#[cfg(test)]
mod tests {
    use super::super::AuditResult;
    use super::super::test_util::temp_store;
    use super::*;
    use crate::core::types::{Face, SlotName};
    use serde_json::json;

    fn event(plugin: Option<&str>, n: u32) -> NewEvent {
        NewEvent {
            plugin: plugin.map(str::to_owned),
            slot: plugin.map(|_| SlotName::Blue),
            kind: EventKind::HealthChanged,
            message: format!("event {n}"),
            data: json!({ "n": n, "nested": [1, "two", null] }),
        }
    }

    fn audit(plugin: Option<&str>, action: &str) -> NewAudit {
        NewAudit {
            face: Face::Ai,
            action: action.into(),
            plugin: plugin.map(str::to_owned),
            args: json!({ "strategy": "canary" }),
            result: AuditResult::Error,
            detail: "gate `test` failed".into(),
        }
    }

    #[test]
    fn a_kind_this_build_does_not_know_still_loads_from_the_file() {
        let (_dir, store) = temp_store();
        // As a newer naap (or an older one with a kind since retired) would have stored it.
        store
            .conn
            .execute(
                "INSERT INTO events (ts, plugin, slot, kind, message, data_json)
                 VALUES ('2026-11-22T03:00:00.000Z', 'shop', NULL, 'canary_verdict', 'old', 'null')",
                [],
            )
            .unwrap();
        store.append_event(&event(Some("shop"), 1)).unwrap();
        let all = store.events(Some("shop"), None, 10).unwrap();
        assert_eq!(all[0].kind, EventKind::Other("canary_verdict".into()));
        assert_eq!(all[1].kind, EventKind::HealthChanged);
        let latest = store
            .latest_event("shop", &[EventKind::HealthChanged])
            .unwrap()
            .unwrap();
        assert_eq!(latest.id, all[1].id);
    }

    #[test]
    fn event_round_trip() {
        let (_dir, store) = temp_store();
        let before = super::super::now();
        let appended = store.append_event(&event(Some("shop"), 1)).unwrap();
        let id = appended.id;
        let all = store.events(None, None, 10).unwrap();
        assert_eq!(all.len(), 1);
        // What append returns is exactly what a later read gives.
        assert_eq!(all[0], appended);
        let e = &all[0];
        assert_eq!(e.id, id);
        assert!(e.ts >= before);
        assert_eq!(e.plugin.as_deref(), Some("shop"));
        assert_eq!(e.slot, Some(SlotName::Blue));
        assert_eq!(
            (e.kind.as_str(), e.message.as_str()),
            ("health_changed", "event 1")
        );
        assert_eq!(e.data, json!({ "n": 1, "nested": [1, "two", null] }));

        // Events about unregistered plugins (or none) are recorded too.
        store.append_event(&event(None, 2)).unwrap();
        assert_eq!(store.events(None, None, 10).unwrap()[1].slot, None);
    }

    #[test]
    fn events_filter_and_return_the_last_n_ascending() {
        let (_dir, store) = temp_store();
        let mut ids = Vec::new();
        for n in 0..10 {
            let plugin = if n % 2 == 0 { "a" } else { "b" };
            ids.push(store.append_event(&event(Some(plugin), n)).unwrap().id);
        }
        let got = |p, after, limit| -> Vec<i64> {
            store
                .events(p, after, limit)
                .unwrap()
                .into_iter()
                .map(|e| e.id)
                .collect()
        };
        assert_eq!(got(None, None, 100), ids);
        assert_eq!(got(None, None, 3), ids[7..]);
        assert_eq!(got(Some("a"), None, 2), [ids[6], ids[8]]);
        assert_eq!(got(None, Some(ids[5]), 100), ids[6..]);
        assert_eq!(got(Some("b"), Some(ids[2]), 2), [ids[7], ids[9]]);
        assert_eq!(got(None, Some(ids[9]), 100), Vec::<i64>::new());
        assert_eq!(got(None, None, 0), Vec::<i64>::new());
        assert_eq!(got(Some("none"), None, 5), Vec::<i64>::new());
    }

    #[test]
    fn audit_round_trip_filter_and_limit() {
        let (_dir, store) = temp_store();
        let first = store.append_audit(&audit(Some("shop"), "deploy")).unwrap();
        let second = store.append_audit(&audit(None, "alerts.silence")).unwrap();
        let third = store
            .append_audit(&audit(Some("shop"), "rollback"))
            .unwrap();

        let all = store.audit(None, 10).unwrap();
        assert_eq!(
            all.iter().map(|a| a.id).collect::<Vec<_>>(),
            [first, second, third]
        );
        let a = &all[0];
        assert_eq!(a.face, Face::Ai);
        assert_eq!(a.action, "deploy");
        assert_eq!(a.plugin.as_deref(), Some("shop"));
        assert_eq!(a.args, json!({ "strategy": "canary" }));
        assert_eq!(a.result, AuditResult::Error);
        assert_eq!(a.detail, "gate `test` failed");

        let shop: Vec<i64> = store
            .audit(Some("shop"), 10)
            .unwrap()
            .iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(shop, [first, third]);
        let last: Vec<i64> = store.audit(None, 2).unwrap().iter().map(|a| a.id).collect();
        assert_eq!(last, [second, third]);
    }

    #[test]
    fn a_pending_entry_is_completed_once_and_only_if_pending() {
        let (_dir, store) = temp_store();
        let mut accepted = audit(Some("shop"), "deploy");
        accepted.result = AuditResult::Pending;
        accepted.detail = "accepted".into();
        let pending = store.append_audit(&accepted).unwrap();
        let done = store
            .append_audit(&audit(Some("shop"), "rollback"))
            .unwrap();
        let ids = |v: Vec<AuditRecord>| v.into_iter().map(|a| a.id).collect::<Vec<_>>();
        assert_eq!(ids(store.pending_audit().unwrap()), [pending]);
        assert_eq!(store.audit(None, 10).unwrap()[0].completed_at, None);

        store
            .complete_audit(
                pending,
                AuditResult::Interrupted,
                "interrupted by an engine restart",
            )
            .unwrap();
        let entry = store.audit(Some("shop"), 10).unwrap().remove(0);
        assert_eq!(entry.result, AuditResult::Interrupted);
        assert_eq!(entry.detail, "interrupted by an engine restart");
        assert!(entry.completed_at.is_some_and(|t| t >= entry.ts));
        assert!(store.pending_audit().unwrap().is_empty());

        // Once only, and never an entry written complete.
        let again = store.complete_audit(pending, AuditResult::Ok, "done");
        assert!(again.is_err());
        let err = store
            .complete_audit(done, AuditResult::Ok, "done")
            .unwrap_err();
        assert!(err.to_string().contains("only a pending"), "{err}");
        assert!(
            store
                .raw()
                .execute("DELETE FROM audit_outcomes", [])
                .is_err()
        );
        assert!(
            store
                .raw()
                .execute("UPDATE audit_outcomes SET result = 'ok'", [])
                .is_err()
        );
    }

    #[test]
    fn audit_log_refuses_update_and_delete() {
        let (_dir, store) = temp_store();
        store.append_audit(&audit(Some("shop"), "deploy")).unwrap();
        let c = store.raw();
        for sql in [
            "UPDATE audit SET result = 'ok'",
            "DELETE FROM audit WHERE id = 1",
            "DELETE FROM audit",
        ] {
            let err = c.execute(sql, []).unwrap_err();
            assert!(err.to_string().contains("append-only"), "{sql}: {err}");
        }
        let entries = store.audit(None, 10).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].result, AuditResult::Error);

        // The triggers are part of the file, so any other connection is bound by them too.
        let path = store.path().to_path_buf();
        drop(store);
        let other = rusqlite::Connection::open(&path).unwrap();
        let err = other.execute("DELETE FROM audit", []).unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
        let left: i64 = other
            .query_row("SELECT count(*) FROM audit", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 1);
    }
}
