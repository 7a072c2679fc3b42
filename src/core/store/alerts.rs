//! Alert silences, acknowledgements and state transitions: what must survive an engine
//! restart so a silenced alert stays quiet and a history of alerts can be read back.

use super::codec::{get_opt_ts, get_ts, limit_param, now, ts_to_text};
use super::{Store, StoreError};
use chrono::{DateTime, Utc};
use rusqlite::{Row, params};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A silence as stored: mutes matching alerts until `until` unless expired earlier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SilenceRecord {
    pub id: i64,
    /// None matches every plugin.
    pub plugin: Option<String>,
    /// A rule name, or `*` for every rule of the plugin.
    pub rule: String,
    pub until: DateTime<Utc>,
    pub author: String,
    pub comment: String,
    pub created_at: DateTime<Utc>,
    pub expired_at: Option<DateTime<Utc>>,
}

/// A new silence to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSilence {
    pub plugin: Option<String>,
    pub rule: String,
    pub until: DateTime<Utc>,
    pub author: String,
    pub comment: String,
}

/// An acknowledgement that has not been cleared by the alert resolving.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckRecord {
    pub plugin: String,
    pub rule: String,
    pub author: String,
    pub at: DateTime<Utc>,
}

/// One recorded alert transition (`pending`, `firing`, `resolved`, `repeat`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertTransitionRecord {
    pub id: i64,
    pub ts: DateTime<Utc>,
    pub plugin: String,
    pub rule: String,
    pub kind: String,
    pub severity: String,
    pub summary: String,
    pub silenced: bool,
    pub labels: BTreeMap<String, String>,
}

/// A transition to record.
#[derive(Clone, Debug, PartialEq)]
pub struct NewAlertTransition {
    pub ts: DateTime<Utc>,
    pub plugin: String,
    pub rule: String,
    pub kind: String,
    pub severity: String,
    pub summary: String,
    pub silenced: bool,
    pub labels: BTreeMap<String, String>,
}

fn silence_from_row(row: &Row<'_>) -> rusqlite::Result<SilenceRecord> {
    Ok(SilenceRecord {
        id: row.get("id")?,
        plugin: row.get("plugin")?,
        rule: row.get("rule")?,
        until: get_ts(row, "until")?,
        author: row.get("author")?,
        comment: row.get("comment")?,
        created_at: get_ts(row, "created_at")?,
        expired_at: get_opt_ts(row, "expired_at")?,
    })
}

fn transition_from_row(row: &Row<'_>) -> rusqlite::Result<AlertTransitionRecord> {
    let labels: String = row.get("labels_json")?;
    Ok(AlertTransitionRecord {
        id: row.get("id")?,
        ts: get_ts(row, "ts")?,
        plugin: row.get("plugin")?,
        rule: row.get("rule")?,
        kind: row.get("kind")?,
        severity: row.get("severity")?,
        summary: row.get("summary")?,
        silenced: row.get::<_, i64>("silenced")? != 0,
        // Written by this module from a map; an unreadable value only loses the labels.
        labels: serde_json::from_str(&labels).unwrap_or_default(),
    })
}

impl Store {
    /// Stores a silence; returns its id.
    pub fn add_silence(&self, s: &NewSilence) -> Result<i64, StoreError> {
        self.conn
            .execute(
                "INSERT INTO alert_silences (plugin, rule, until, author, comment, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    s.plugin,
                    s.rule,
                    ts_to_text(&s.until),
                    s.author,
                    s.comment,
                    ts_to_text(&now())
                ],
            )
            .map_err(|e| self.err("adding a silence", e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Ends a silence now. False when no such silence is still active at `at`.
    pub fn expire_silence(&self, id: i64, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let changed = self
            .conn
            .execute(
                "UPDATE alert_silences SET expired_at = ?2
                 WHERE id = ?1 AND expired_at IS NULL AND until > ?2",
                params![id, ts_to_text(&at)],
            )
            .map_err(|e| self.err("expiring a silence", e))?;
        Ok(changed > 0)
    }

    /// Silences neither expired by hand nor past their `until` at `at`, oldest first.
    pub fn active_silences(&self, at: DateTime<Utc>) -> Result<Vec<SilenceRecord>, StoreError> {
        let op = "reading silences";
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT * FROM alert_silences WHERE expired_at IS NULL AND until > ?1 ORDER BY id",
            )
            .map_err(|e| self.err(op, e))?;
        let rows = stmt
            .query_map(params![ts_to_text(&at)], silence_from_row)
            .map_err(|e| self.err(op, e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(op, e))
    }

    /// Records an acknowledgement of `plugin/rule`.
    pub fn add_ack(&self, ack: &AckRecord) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO alert_acks (plugin, rule, author, at) VALUES (?1, ?2, ?3, ?4)",
                params![ack.plugin, ack.rule, ack.author, ts_to_text(&ack.at)],
            )
            .map_err(|e| self.err("recording an acknowledgement", e))?;
        Ok(())
    }

    /// Clears the acknowledgements of `plugin/rule` (the alert resolved).
    pub fn clear_acks(
        &self,
        plugin: &str,
        rule: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE alert_acks SET cleared_at = ?3
                 WHERE plugin = ?1 AND rule = ?2 AND cleared_at IS NULL",
                params![plugin, rule, ts_to_text(&at)],
            )
            .map_err(|e| self.err("clearing acknowledgements", e))?;
        Ok(())
    }

    /// Acknowledgements not yet cleared, the newest per alert.
    pub fn open_acks(&self) -> Result<Vec<AckRecord>, StoreError> {
        let op = "reading acknowledgements";
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT plugin, rule, author, at FROM alert_acks
                 WHERE cleared_at IS NULL ORDER BY id",
            )
            .map_err(|e| self.err(op, e))?;
        let rows = stmt
            .query_map([], |row| {
                Ok(AckRecord {
                    plugin: row.get("plugin")?,
                    rule: row.get("rule")?,
                    author: row.get("author")?,
                    at: get_ts(row, "at")?,
                })
            })
            .map_err(|e| self.err(op, e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(op, e))
    }

    /// Records a transition; returns its id.
    pub fn append_alert_transition(&self, t: &NewAlertTransition) -> Result<i64, StoreError> {
        let labels = serde_json::to_string(&t.labels)
            .map_err(|e| self.invalid("an alert's labels", e.to_string()))?;
        self.conn
            .execute(
                "INSERT INTO alert_transitions
                 (ts, plugin, rule, kind, severity, summary, silenced, labels_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    ts_to_text(&t.ts),
                    t.plugin,
                    t.rule,
                    t.kind,
                    t.severity,
                    t.summary,
                    i64::from(t.silenced),
                    labels
                ],
            )
            .map_err(|e| self.err("recording an alert transition", e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The last `limit` transitions (optionally of one plugin), oldest first.
    pub fn alert_transitions(
        &self,
        plugin: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AlertTransitionRecord>, StoreError> {
        let op = "reading alert transitions";
        let inner = match plugin {
            Some(_) => {
                "SELECT * FROM alert_transitions WHERE plugin = ?1 ORDER BY id DESC LIMIT ?2"
            }
            None => "SELECT * FROM alert_transitions WHERE ?1 IS NULL ORDER BY id DESC LIMIT ?2",
        };
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT * FROM ({inner}) ORDER BY id"))
            .map_err(|e| self.err(op, e))?;
        let rows = stmt
            .query_map(params![plugin, limit_param(limit)], transition_from_row)
            .map_err(|e| self.err(op, e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(op, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("naap.db")).expect("open");
        (dir, store)
    }

    #[test]
    fn silences_survive_reopening_and_expire_by_time_or_by_hand() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("naap.db");
        let t0 = now();
        let (a, b) = {
            let store = Store::open(&path).expect("open");
            let new = |rule: &str, mins| NewSilence {
                plugin: Some("web".into()),
                rule: rule.into(),
                until: t0 + Duration::minutes(mins),
                author: "ana".into(),
                comment: "deploying a fix".into(),
            };
            (
                store.add_silence(&new("errors", 10)).expect("add"),
                store.add_silence(&new("*", 60)).expect("add"),
            )
        };
        let store = Store::open(&path).expect("reopen");
        let active = store.active_silences(t0).expect("read");
        assert_eq!(active.iter().map(|s| s.id).collect::<Vec<_>>(), [a, b]);
        assert_eq!(active[0].comment, "deploying a fix");
        // Past its `until`, a silence is no longer active.
        let later = store
            .active_silences(t0 + Duration::minutes(11))
            .expect("read");
        assert_eq!(later.iter().map(|s| s.id).collect::<Vec<_>>(), [b]);
        // Expired by hand: once only.
        assert!(store.expire_silence(b, t0).expect("expire"));
        assert!(!store.expire_silence(b, t0).expect("expire again"));
        assert_eq!(store.active_silences(t0).expect("read").len(), 1);
    }

    #[test]
    fn acks_stay_open_until_cleared() {
        let (_dir, store) = store();
        let at = now();
        let ack = |rule: &str| AckRecord {
            plugin: "web".into(),
            rule: rule.into(),
            author: "ana".into(),
            at,
        };
        store.add_ack(&ack("errors")).expect("ack");
        store.add_ack(&ack("slow")).expect("ack");
        store.clear_acks("web", "errors", at).expect("clear");
        assert_eq!(store.open_acks().expect("read"), [ack("slow")]);
    }

    #[test]
    fn transitions_read_back_per_plugin_in_order() {
        let (_dir, store) = store();
        for (plugin, kind) in [("web", "pending"), ("api", "pending"), ("web", "firing")] {
            store
                .append_alert_transition(&NewAlertTransition {
                    ts: now(),
                    plugin: plugin.into(),
                    rule: "errors".into(),
                    kind: kind.into(),
                    severity: "critical".into(),
                    summary: "error_rate 0.5 > 0.05".into(),
                    silenced: kind == "firing",
                    labels: [("team".to_string(), "payments".to_string())].into(),
                })
                .expect("append");
        }
        let web = store.alert_transitions(Some("web"), 10).expect("read");
        assert_eq!(
            web.iter().map(|t| t.kind.as_str()).collect::<Vec<_>>(),
            ["pending", "firing"]
        );
        assert!(web[1].silenced);
        assert_eq!(web[0].labels["team"], "payments");
        assert_eq!(store.alert_transitions(None, 2).expect("read").len(), 2);
    }
}
