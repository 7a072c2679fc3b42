//! The SQLite store: the engine's source of truth across restarts.
//!
//! One file per workspace, in WAL mode so clients can read while the engine writes. Every
//! write method returns only after its transaction committed, which lets the engine persist a
//! change before acknowledging it. Timestamps are kept to the millisecond (see `codec`).

mod alerts;
mod codec;
mod error;
mod gate_cache;
mod journal;
mod plugins;
mod previews;
mod records;
mod rollout_steps;
mod rollouts;
mod schema;
mod slots;

pub use alerts::{AckRecord, AlertTransitionRecord, NewAlertTransition, NewSilence, SilenceRecord};
pub use codec::now;
pub use error::StoreError;
pub use gate_cache::GatePass;
pub use records::{
    AuditRecord, AuditResult, EventRecord, NewAudit, NewEvent, NewRollout, PluginRecord,
    RolloutRecord, RolloutState, SlotRecord, VersionRecord,
};
pub use rollout_steps::StepJudgementRecord;
pub use schema::SCHEMA_VERSION;

use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};

/// An open naap database. Not `Sync`: the engine owns it from one task.
pub struct Store {
    conn: Connection,
    /// Kept for error messages.
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path` and upgrades its schema.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        schema::configure(&conn, path)?;
        schema::migrate(&conn, path)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// The database file this store writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, op: &'static str, e: rusqlite::Error) -> StoreError {
        error::classify(&self.path, op, e)
    }

    /// Maps a foreign-key failure to "plugin not registered", anything else as usual.
    fn write_err(
        &self,
        op: &'static str,
        plugin: &str,
        what: &'static str,
        e: rusqlite::Error,
    ) -> StoreError {
        if error::is_foreign_key_violation(&e) {
            StoreError::UnknownPlugin {
                path: self.path.clone(),
                plugin: plugin.to_owned(),
                what,
            }
        } else {
            self.err(op, e)
        }
    }

    /// Begins a write transaction. IMMEDIATE takes the write lock at once, so the busy
    /// timeout applies; a deferred one could fail mid-way when upgrading its read lock.
    fn write_tx(&self, op: &'static str) -> Result<Transaction<'_>, StoreError> {
        Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(|e| self.err(op, e))
    }

    fn invalid(&self, what: &'static str, detail: impl Into<String>) -> StoreError {
        StoreError::InvalidInput {
            path: self.path.clone(),
            what,
            detail: detail.into(),
        }
    }

    #[cfg(test)]
    fn raw(&self) -> &Connection {
        &self.conn
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::*;

    /// A store in a fresh temporary directory; keep the directory alive with the store.
    pub(crate) fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("naap.db")).unwrap();
        (dir, store)
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::temp_store;
    use super::*;
    use crate::core::types::{Face, Health, ProcessState, SlotName};
    use rusqlite::OpenFlags;
    use std::time::Duration;

    fn reader(path: &Path) -> Connection {
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
    }

    #[test]
    fn open_sets_wal_pragmas_and_schema_version() {
        let (_dir, store) = temp_store();
        let c = store.raw();
        let mode: String = c
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = c.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
        assert_eq!(sync, 1, "synchronous=NORMAL");
        let fk: i64 = c
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        // WAL is a property of the file, so an independent connection sees it too.
        let mode: String = reader(store.path())
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn reopen_after_drop_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let t = now();
        let slot = SlotRecord {
            plugin: "shop".into(),
            slot: SlotName::Green,
            version: Some("2.0.0".into()),
            process_state: ProcessState::Running,
            health: Health::Healthy,
            health_detail: "GET /health → 200".into(),
            pid: Some(4242),
            pid_start_time: Some(987_654),
            port: Some(40123),
            weight: 100,
            started_at: Some(t),
            restarts: 2,
            updated_at: t,
        };
        let rollout_id;
        {
            let store = Store::open(&path).unwrap();
            store
                .upsert_plugin("shop", Path::new("/ws/shop/plugin.toml"))
                .unwrap();
            store.put_version("shop", "2.0.0", r#"{"port":1}"#).unwrap();
            store.mark_deployed("shop", "2.0.0").unwrap();
            store.save_slot(&slot).unwrap();
            rollout_id = store
                .start_rollout(&NewRollout {
                    plugin: "shop".into(),
                    strategy: crate::core::types::StrategyKind::Canary,
                    from_slot: Some(SlotName::Blue),
                    to_slot: Some(SlotName::Green),
                    from_version: Some("1.0.0".into()),
                    to_version: "2.0.0".into(),
                    detail: "steps 5,50,100".into(),
                })
                .unwrap();
            store
                .append_event(&NewEvent {
                    plugin: Some("shop".into()),
                    slot: Some(SlotName::Green),
                    kind: "deploy".into(),
                    message: "deploying 2.0.0".into(),
                    data: serde_json::json!({"to": "green"}),
                })
                .unwrap();
            store
                .append_audit(&NewAudit {
                    face: Face::Cli,
                    action: "deploy".into(),
                    plugin: Some("shop".into()),
                    args: serde_json::json!({"version": "2.0.0"}),
                    result: AuditResult::Ok,
                    detail: String::new(),
                })
                .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.plugins().unwrap().len(), 1);
        let v = store.version("shop", "2.0.0").unwrap().unwrap();
        assert!(v.last_deployed_at.is_some());
        assert_eq!(store.slots().unwrap(), vec![slot]);
        let unfinished = store.unfinished_rollouts().unwrap();
        assert_eq!(unfinished.len(), 1);
        assert_eq!(unfinished[0].id, rollout_id);
        assert_eq!(store.events(None, None, 10).unwrap().len(), 1);
        assert_eq!(store.audit(None, 10).unwrap().len(), 1);
    }

    #[test]
    fn garbage_file_is_reported_as_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("naap.db");
        std::fs::write(
            &path,
            b"this is not a database, just some text. ".repeat(200),
        )
        .unwrap();
        let err = Store::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("move it aside"), "{msg}");
    }

    #[test]
    fn newer_schema_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("naap.db");
        drop(Store::open(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let err = Store::open(&path).unwrap_err();
        match &err {
            StoreError::TooNew {
                found, supported, ..
            } => {
                assert_eq!((*found, *supported), (99, SCHEMA_VERSION));
            }
            other => panic!("expected TooNew, got {other:?}"),
        }
        assert!(err.to_string().contains("newer naap"), "{err}");
    }

    #[test]
    fn foreign_database_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE customers (id INTEGER PRIMARY KEY);")
            .unwrap();
        let err = Store::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::NotNaap { .. }), "{err:?}");
        let v: i64 = reader(&path)
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, 0);
    }

    #[test]
    fn missing_directory_is_an_open_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = Store::open(&dir.path().join("nope/naap.db")).unwrap_err();
        assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
        assert!(err.to_string().contains("state directory exists"), "{err}");
    }

    #[test]
    fn concurrent_reader_sees_committed_data_only() {
        let (_dir, store) = temp_store();
        store
            .upsert_plugin("a", Path::new("a/plugin.toml"))
            .unwrap();
        let r = reader(store.path());
        let count = |c: &Connection| -> i64 {
            c.query_row("SELECT count(*) FROM plugins", [], |row| row.get(0))
                .unwrap()
        };
        assert_eq!(count(&r), 1);

        // An open write transaction neither blocks the reader nor shows it uncommitted rows.
        store.raw().execute_batch("BEGIN IMMEDIATE").unwrap();
        store
            .raw()
            .execute(
                "INSERT INTO plugins (name, manifest_path, created_at) VALUES ('b', 'b', 'x')",
                [],
            )
            .unwrap();
        assert_eq!(count(&r), 1);
        store.raw().execute_batch("ROLLBACK").unwrap();

        store
            .upsert_plugin("c", Path::new("c/plugin.toml"))
            .unwrap();
        assert_eq!(count(&r), 2);
    }

    #[test]
    fn write_lock_held_elsewhere_reports_locked() {
        let (_dir, store) = temp_store();
        store.raw().busy_timeout(Duration::from_millis(20)).unwrap();
        let other = Connection::open(store.path()).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let err = store
            .upsert_plugin("a", Path::new("a/plugin.toml"))
            .unwrap_err();
        assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
        assert!(err.to_string().contains("another naap engine"), "{err}");
        other.execute_batch("ROLLBACK").unwrap();
        store
            .upsert_plugin("a", Path::new("a/plugin.toml"))
            .unwrap();
    }
}
