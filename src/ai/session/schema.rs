//! The file, its connection settings and its schema migrations (keyed by `user_version`).

use crate::core::store::file_identity::{self, Refusal};
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use super::error::{BUSY_TIMEOUT_MS, SessionError, classify};

/// Marks the file as naap's operator sessions ("naos"), unlike naap.db's "naap".
const APPLICATION_ID: i64 = 0x6E61_6F73;

/// Schema versions this build can read; migration `i` brings the file to version `i + 1`.
const MIGRATIONS: [&str; 1] = [r#"
CREATE TABLE sessions (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    created_ms     INTEGER NOT NULL,
    updated_ms     INTEGER NOT NULL,
    -- Bumped on every write to the session: a total order of recency that wall-clock
    -- steps and millisecond ties cannot upset.
    activity       INTEGER NOT NULL,
    face           TEXT NOT NULL,
    provider       TEXT NOT NULL,
    model          TEXT NOT NULL,
    title          TEXT,
    input_tokens   INTEGER NOT NULL DEFAULT 0,
    output_tokens  INTEGER NOT NULL DEFAULT 0,
    cost_usd       REAL,
    entry_count    INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX sessions_by_activity ON sessions (activity);

CREATE TABLE entries (
    session_id  INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    at_ms       INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    -- The entry as JSON, in payload format `version`.
    version     INTEGER NOT NULL,
    payload     TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
) STRICT;

-- A proposal's mutable part; its entry holds only its id. Ids are unique across sessions
-- so `naap approve ID` needs nothing else.
CREATE TABLE proposals (
    id            TEXT PRIMARY KEY,
    session_id    INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    created_ms    INTEGER NOT NULL,
    call          TEXT NOT NULL,
    preview       TEXT NOT NULL,
    argument_hash TEXT NOT NULL,
    status        TEXT NOT NULL,
    outcome       TEXT,
    decided_face  TEXT,
    decided_by    TEXT,
    decided_ms    INTEGER
) STRICT;
CREATE INDEX proposals_waiting ON proposals (status, created_ms);
"#];

pub(super) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Creates the file owner-only before SQLite opens it (SQLite gives its `-wal` and `-shm`
/// files the database's mode), and narrows an older wider file.
pub(super) fn create_owner_only(path: &Path) -> Result<(), SessionError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let open_err = |source| SessionError::Open {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent()
        && !dir.exists()
    {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(open_err)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(open_err)?;
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        crate::core::private_files::make_owner_only(Path::new(&name)).map_err(open_err)?;
    }
    Ok(())
}

/// Per-connection settings. Unlike naap.db, which the engine holds exclusively, this file
/// is shared: the dashboard and any number of `naap chat` or `naap mcp` processes open it
/// at once, so it uses normal locking, WAL (readers never wait for a writer) and a busy
/// timeout for writers.
pub(super) fn configure(conn: &Connection, path: &Path) -> Result<(), SessionError> {
    conn.busy_timeout(Duration::from_millis(BUSY_TIMEOUT_MS))
        .map_err(|e| classify(path, "setting the busy timeout", e))?;
    // The first statement that reads the file: a file that is not a database fails here.
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(|e| classify(path, "enabling write-ahead logging", e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(SessionError::Foreign {
            path: path.to_path_buf(),
            detail: format!(
                "write-ahead logging is unavailable, the journal mode stayed `{mode}`; keep \
                 the state directory on a local file system"
            ),
        });
    }
    // Sessions are a convenience record: a power cut may lose the last few writes, a crash
    // of naap loses none (WAL in the page cache), and no write waits for fsync.
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(|e| classify(path, "setting synchronous=NORMAL", e))?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(|e| classify(path, "enabling foreign keys", e))?;
    Ok(())
}

/// Brings the schema to [`SCHEMA_VERSION`] in one transaction, or says why it cannot.
pub(super) fn migrate(conn: &Connection, path: &Path) -> Result<(), SessionError> {
    let op = "checking the schema version";
    // IMMEDIATE takes the write lock first, so two faces opening a new file at once do not
    // both run the same migration; the second sees the version the first wrote.
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
        .map_err(|e| classify(path, op, e))?;
    let version =
        match file_identity::schema_version(&tx, APPLICATION_ID, SCHEMA_VERSION, "sessions")
            .map_err(|e| classify(path, op, e))?
        {
            Ok(version) => version,
            Err(Refusal::Foreign(detail)) => {
                return Err(SessionError::Foreign {
                    path: path.to_path_buf(),
                    detail,
                });
            }
            Err(Refusal::TooNew(found)) => {
                return Err(SessionError::TooNew {
                    path: path.to_path_buf(),
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
        };
    if version == SCHEMA_VERSION {
        return Ok(()); // dropping `tx` ends the empty transaction
    }
    for (target, sql) in (1..).zip(MIGRATIONS).skip(version as usize) {
        tx.execute_batch(sql)
            .map_err(|e| classify(path, "upgrading the schema", e))?;
        tx.pragma_update(None, "user_version", target)
            .map_err(|e| classify(path, "upgrading the schema", e))?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)
        .map_err(|e| classify(path, "marking the file as naap's", e))?;
    tx.commit()
        .map_err(|e| classify(path, "committing the schema upgrade", e))
}
