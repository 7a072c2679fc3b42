//! The SQLite store: the engine's source of truth across restarts.
//!
//! One file per workspace, owned by one engine: WAL mode with exclusive locking (see
//! `schema::configure`), so no other process opens it while the engine runs. Every write
//! method returns only after its transaction committed, which lets the engine persist a
//! change before acknowledging it. Timestamps are kept to the millisecond (see `codec`).

mod alerts;
mod candidates;
mod codec;
mod disabled;
mod error;
pub mod file_identity;
mod gate_cache;
mod health;
mod incidents;
mod journal;
mod plugins;
mod previews;
mod records;
mod rollout_steps;
mod rollouts;
mod runbooks;
mod scale;
mod schema;
mod slots;

pub use alerts::{AckRecord, AlertTransitionRecord, NewAlertTransition, NewSilence, SilenceRecord};
pub use candidates::{CandidateRecord, CandidateStatus, CandidateStepRecord, NewCandidate};
pub use codec::now;
pub use disabled::DisabledRecord;
pub use error::StoreError;
pub use gate_cache::GatePass;
pub use health::{HealthCell, StoreHealth};
pub use incidents::{IncidentRecord, SignalRecord};
pub use records::{
    AuditRecord, AuditResult, EventKind, EventRecord, NewAudit, NewEvent, NewRollout, PluginRecord,
    RolloutRecord, RolloutState, SlotRecord, VersionRecord,
};
pub use rollout_steps::StepJudgementRecord;
pub use runbooks::{RunbookRunRecord, RunbookStepRecord};
pub use schema::SCHEMA_VERSION;

use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};

/// An open naap database. Not `Sync`: the engine owns it from one task.
pub struct Store {
    conn: Connection,
    /// Kept for error messages.
    path: PathBuf,
    /// Whether writes currently fail; shared with whoever reports it.
    health: HealthCell,
}

/// Creates the database file 0600 (or narrows an older one to it) before SQLite opens it:
/// SQLite gives its `-wal` and `-shm` files the database file's mode, so they follow.
fn create_owner_only(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    for file in [
        path.to_path_buf(),
        wal_file(path, "-wal"),
        wal_file(path, "-shm"),
    ] {
        crate::core::private_files::make_owner_only(&file)?;
    }
    Ok(())
}

fn wal_file(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path` and upgrades its schema.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_unexplained(path).map_err(|e| error::explain_open_failure(path, e))
    }

    fn open_unexplained(path: &Path) -> Result<Store, StoreError> {
        // Best effort: if this fails, opening fails below with SQLite's own message.
        let _ = create_owner_only(path);
        let mut conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
            hint: String::new(),
        })?;
        schema::configure(&conn, path)?;
        schema::migrate(&conn, path)?;
        let health = HealthCell::default();
        let on_commit = health.clone();
        conn.commit_hook(Some(move || {
            on_commit.note_commit();
            false // let the commit proceed
        }))
        .map_err(|e| error::classify(path, "watching commits", e))?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            health,
        })
    }

    /// Whether the store currently writes; cheap to clone and read from any thread.
    pub fn health(&self) -> HealthCell {
        self.health.clone()
    }

    /// Tries one small write (the schema version, rewritten unchanged), so a store that
    /// failed notices when it writes again even if nothing else is written meanwhile.
    pub fn probe_write(&self) -> Result<(), StoreError> {
        let op = "checking that the database is writable again";
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(op, e))?;
        self.conn
            .pragma_update(None, "user_version", version)
            .map_err(|e| self.err(op, e))
    }

    /// The database file this store writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, op: &'static str, e: rusqlite::Error) -> StoreError {
        let error = error::classify(&self.path, op, e);
        self.health.note_error(&error);
        error
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
        let locking: String = c
            .query_row("PRAGMA locking_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(locking, "exclusive");
        let path = store.path().to_path_buf();
        drop(store);
        let mode: String = reader(&path)
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
                    kind: EventKind::DeployStarted,
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
        assert!(err.to_string().contains("does not exist"), "{err}");
    }

    #[test]
    fn the_open_store_keeps_other_connections_out_and_has_no_shared_memory_file() {
        let (_dir, store) = temp_store();
        store
            .upsert_plugin("a", Path::new("a/plugin.toml"))
            .unwrap();
        // The WAL index lives in the engine's heap: nothing is mmap'd from the disk.
        let shm = store.path().with_extension("db-shm");
        assert!(!shm.exists(), "{} exists", shm.display());
        let other = Connection::open(store.path()).unwrap();
        other.busy_timeout(Duration::from_millis(20)).unwrap();
        let err = other
            .query_row("SELECT count(*) FROM plugins", [], |r| r.get::<_, i64>(0))
            .unwrap_err();
        assert_eq!(
            err.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy),
            "{err}"
        );
        drop(store);
        let count: i64 = other
            .query_row("SELECT count(*) FROM plugins", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 1);
    }

    #[test]
    fn a_second_store_on_the_same_file_reports_locked() {
        let (_dir, store) = temp_store();
        let other = Connection::open(store.path()).unwrap();
        other.busy_timeout(Duration::from_millis(20)).unwrap();
        let err = schema::migrate(&other, store.path()).unwrap_err();
        assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
        assert!(err.to_string().contains("another naap engine"), "{err}");
    }

    #[test]
    fn a_failed_write_marks_the_store_failing_until_a_commit_goes_through() {
        let (_dir, store) = temp_store();
        assert!(store.health().is_ok());
        // A value the store refuses is not a storage failure.
        let refused = store.put_version("nobody", "1.0.0", "{}").unwrap_err();
        assert!(
            matches!(refused, StoreError::UnknownPlugin { .. }),
            "{refused:?}"
        );
        assert!(store.health().is_ok());
        // The file system refuses writes: as if the disk were remounted read-only.
        store.raw().execute_batch("PRAGMA query_only = ON").unwrap();
        let err = store
            .upsert_plugin("a", Path::new("a/plugin.toml"))
            .unwrap_err();
        let health = store.health().get();
        assert!(!health.ok, "{err}");
        assert!(health.since.is_some());
        assert!(
            health
                .error
                .as_deref()
                .is_some_and(|e| e.contains("naap.db"))
        );
        store
            .raw()
            .execute_batch("PRAGMA query_only = OFF")
            .unwrap();
        store.probe_write().unwrap();
        assert_eq!(store.health().get(), StoreHealth::default());
    }
}
