//! Errors of the store. Every message names the database file and says what to do.

use rusqlite::ErrorCode;
use std::path::{Path, PathBuf};

/// Why the store could not open, read or write its database.
#[derive(thiserror::Error, Debug)]
pub enum StoreError {
    /// SQLite could not open or create the file at all.
    #[error("cannot open database {}: {source}{hint}", path.display())]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
        /// What is wrong with the path, when it can be told (starts with "; ").
        hint: String,
    },

    /// Something other than a file sits where the database belongs.
    #[error(
        "database {} is {what}, not a database file; move it aside (naap creates a fresh \
         database there) or set [state] dir in naap.toml to another directory",
        path.display()
    )]
    NotAFile { path: PathBuf, what: &'static str },

    /// Another connection held the write lock for longer than the busy timeout.
    #[error(
        "database {} is locked by another naap engine (gave up after waiting {waited_ms} ms while {op}); \
         stop the other engine for this workspace, or wait for it to finish, then retry",
        path.display()
    )]
    Locked {
        path: PathBuf,
        op: &'static str,
        waited_ms: u64,
    },

    /// The file is not an SQLite database, or its pages are damaged.
    #[error(
        "database {} is corrupt or not an SQLite database ({detail}); move it aside to start \
         with empty state, or restore it from a backup",
        path.display()
    )]
    Corrupt { path: PathBuf, detail: String },

    /// The file is a healthy SQLite database that some other program owns.
    #[error(
        "database {} is not a naap database ({detail}); point naap at its own state directory \
         or move the file aside",
        path.display()
    )]
    NotNaap { path: PathBuf, detail: String },

    /// The file was written by a newer naap whose schema this build does not know.
    #[error(
        "database {} has schema version {found}, but this naap only understands versions up to \
         {supported}; run the newer naap that wrote it, or move the file aside to start with \
         empty state",
        path.display()
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    /// Upgrading the schema failed; the transaction was rolled back and the file is unchanged.
    #[error(
        "database {} could not be upgraded to schema version {version}: {source}; the file was \
         left unchanged, please report this as a naap bug",
        path.display()
    )]
    Migration {
        path: PathBuf,
        version: i64,
        source: rusqlite::Error,
    },

    /// The file system refused write-ahead logging, which concurrent readers rely on.
    #[error(
        "database {} cannot use write-ahead logging (journal mode stayed `{mode}`); keep the \
         naap state directory on a local file system",
        path.display()
    )]
    NoWal { path: PathBuf, mode: String },

    /// The file or its directory is not writable.
    #[error(
        "database {} is read-only ({op}): {source}; make the file and its directory writable \
         by the user running naap",
        path.display()
    )]
    ReadOnly {
        path: PathBuf,
        op: &'static str,
        source: rusqlite::Error,
    },

    /// The disk holding the database is full.
    #[error(
        "database {}: the disk is full ({op}); free some space, nothing was recorded",
        path.display()
    )]
    DiskFull { path: PathBuf, op: &'static str },

    /// A record refers to a plugin that was never registered with `upsert_plugin`.
    #[error(
        "database {}: plugin `{plugin}` is not registered, so its {what} cannot be recorded; \
         register the plugin first",
        path.display()
    )]
    UnknownPlugin {
        path: PathBuf,
        plugin: String,
        what: &'static str,
    },

    /// The row an update targets does not exist.
    #[error("database {} has no {what}; check the name or id", path.display())]
    NotFound { path: PathBuf, what: String },

    /// A rollout can only be finished once.
    #[error(
        "database {}: rollout {id} already finished as `{state}`; start a new rollout instead",
        path.display()
    )]
    RolloutFinished {
        path: PathBuf,
        id: i64,
        state: String,
    },

    /// The caller passed a value the store cannot record faithfully.
    #[error("database {}: cannot record {what}: {detail}", path.display())]
    InvalidInput {
        path: PathBuf,
        what: &'static str,
        detail: String,
    },

    /// A stored value does not parse; the file was edited outside naap or by a newer naap.
    #[error(
        "database {} holds a value naap cannot read ({op}): {detail}; the file was changed \
         outside naap or by a newer version",
        path.display()
    )]
    BadRow {
        path: PathBuf,
        op: &'static str,
        detail: String,
    },

    /// Any other SQLite failure.
    #[error("database {}: {op} failed: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        op: &'static str,
        source: rusqlite::Error,
    },
}

/// How long a connection waits for another writer before reporting `Locked`.
pub(crate) const BUSY_TIMEOUT_MS: u64 = 5_000;

/// Turns a rusqlite error into the most specific `StoreError`; `op` says what the store was doing.
pub(crate) fn classify(path: &Path, op: &'static str, e: rusqlite::Error) -> StoreError {
    let path = path.to_path_buf();
    match &e {
        rusqlite::Error::FromSqlConversionFailure(_, _, inner) => StoreError::BadRow {
            path,
            op,
            detail: inner.to_string(),
        },
        rusqlite::Error::IntegralValueOutOfRange(col, value) => StoreError::BadRow {
            path,
            op,
            detail: format!("column {col} holds {value}, which is out of range"),
        },
        rusqlite::Error::InvalidColumnType(_, name, ty) => StoreError::BadRow {
            path,
            op,
            detail: format!("column `{name}` holds a value of type {ty}"),
        },
        rusqlite::Error::Utf8Error(col, err) => StoreError::BadRow {
            path,
            op,
            detail: format!("column {col} is not valid UTF-8: {err}"),
        },
        _ => match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Locked {
                path,
                op,
                waited_ms: BUSY_TIMEOUT_MS,
            },
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
                path,
                detail: e.to_string(),
            },
            Some(ErrorCode::ReadOnly) => StoreError::ReadOnly {
                path,
                op,
                source: e,
            },
            Some(ErrorCode::DiskFull) => StoreError::DiskFull { path, op },
            _ => StoreError::Sqlite {
                path,
                op,
                source: e,
            },
        },
    }
}

/// Names the real cause when opening failed because of the path itself: a directory where
/// the file belongs, a missing or unwritable state directory. SQLite only says "unable to
/// open database file" for all of these.
pub(crate) fn explain_open_failure(path: &Path, error: StoreError) -> StoreError {
    let cannot_open = match &error {
        StoreError::Open { .. } | StoreError::ReadOnly { .. } => true,
        StoreError::Sqlite { source, .. } => matches!(
            source.sqlite_error_code(),
            Some(ErrorCode::CannotOpen | ErrorCode::PermissionDenied | ErrorCode::SystemIoFailure)
        ),
        _ => false,
    };
    if !cannot_open {
        return error;
    }
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.is_dir() {
            return StoreError::NotAFile {
                path: path.to_path_buf(),
                what: "a directory",
            };
        }
        if !meta.is_file() {
            return StoreError::NotAFile {
                path: path.to_path_buf(),
                what: "a special file (socket, fifo or device)",
            };
        }
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let hint = if !dir.is_dir() {
        format!("; the state directory {} does not exist", dir.display())
    } else {
        format!(
            "; check that {} and the state directory {} are writable by the user running naap",
            path.display(),
            dir.display()
        )
    };
    match error {
        StoreError::Open { path, source, .. } => StoreError::Open { path, source, hint },
        StoreError::Sqlite { path, source, .. } => StoreError::Open { path, source, hint },
        other => other,
    }
}

/// True when `e` is a violated foreign key, i.e. the referenced plugin is missing.
pub(crate) fn is_foreign_key_violation(e: &rusqlite::Error) -> bool {
    e.sqlite_error()
        .is_some_and(|f| f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
}
