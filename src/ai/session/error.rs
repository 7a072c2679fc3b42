//! Errors of the session store. Every message names the file and says what to do.

use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;

use super::{ProposalId, ProposalStatus, SessionId};

/// How long a handle waits for another face's write before it gives up.
pub(super) const BUSY_TIMEOUT_MS: u64 = 5_000;

const MOVE_ASIDE: &str = "move it aside (naap starts a fresh one; only operator transcripts are \
                          lost, the engine's state lives in naap.db)";

#[derive(thiserror::Error, Debug)]
pub enum SessionError {
    /// The state directory or the file cannot be created or opened.
    #[error("cannot open operator sessions {}: {source}; check that the state directory exists and is writable by you", path.display())]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("operator sessions {} is corrupt or not an SQLite database ({detail}); {MOVE_ASIDE}", path.display())]
    Corrupt { path: PathBuf, detail: String },

    #[error("{} is not naap's operator sessions file ({detail}); {MOVE_ASIDE}", path.display())]
    Foreign { path: PathBuf, detail: String },

    #[error(
        "operator sessions {} has schema version {found}, but this naap reads versions up to \
         {supported}; run the newer naap that wrote it, or {MOVE_ASIDE}",
        path.display()
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    #[error(
        "operator sessions {} stayed locked by another naap face for {BUSY_TIMEOUT_MS} ms while \
         {op}; retry, or close the other dashboard or `naap chat`",
        path.display()
    )]
    Locked { path: PathBuf, op: &'static str },

    #[error("operator sessions {} is read-only ({op}); make the file and its directory writable by you", path.display())]
    ReadOnly { path: PathBuf, op: &'static str },

    #[error("operator sessions {}: the disk is full ({op}); free some space", path.display())]
    DiskFull { path: PathBuf, op: &'static str },

    #[error("operator sessions {}: {op} failed: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        op: &'static str,
        source: rusqlite::Error,
    },

    #[error("there is no operator session {id}; `naap chat --list` lists them")]
    NoSession { id: SessionId },

    #[error(
        "there is no proposal {id}; `naap chat --list` lists sessions, the dashboard lists waiting proposals"
    )]
    NoProposal { id: ProposalId },

    #[error("proposal {id} already exists; make a new id with ProposalId::generate")]
    DuplicateProposal { id: ProposalId },

    #[error("proposal {id} is {from}, so it cannot become {to}{}", transition_hint(*from))]
    Transition {
        id: ProposalId,
        from: ProposalStatus,
        to: ProposalStatus,
    },

    /// A stored row does not parse: the file was edited by hand or by a newer naap.
    #[error(
        "operator sessions {}: session {session}, entry {seq} cannot be read ({detail}); the \
         file was changed outside naap or by a newer version; run that version, or {MOVE_ASIDE}",
        path.display()
    )]
    BadEntry {
        path: PathBuf,
        session: SessionId,
        seq: u64,
        detail: String,
    },

    /// The caller passed something that cannot be stored as given.
    #[error("cannot store {what}: {detail}")]
    Invalid { what: &'static str, detail: String },
}

fn transition_hint(from: ProposalStatus) -> &'static str {
    match from {
        ProposalStatus::Waiting => "; a waiting proposal is approved, rejected or failed first",
        ProposalStatus::Approved => "; an approved proposal ends as ran or failed",
        ProposalStatus::Rejected | ProposalStatus::Ran | ProposalStatus::Failed => {
            "; it was decided already, ask again for a new proposal"
        }
    }
}

/// Turns SQLite's error into one that says what to do.
pub(super) fn classify(path: &Path, op: &'static str, e: rusqlite::Error) -> SessionError {
    let path = path.to_path_buf();
    if let rusqlite::Error::SqliteFailure(failure, message) = &e {
        match failure.code {
            ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt => {
                return SessionError::Corrupt {
                    path,
                    detail: message.clone().unwrap_or_else(|| failure.to_string()),
                };
            }
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                return SessionError::Locked { path, op };
            }
            ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied => {
                return SessionError::ReadOnly { path, op };
            }
            ErrorCode::DiskFull => return SessionError::DiskFull { path, op },
            _ => {}
        }
    }
    SessionError::Sqlite {
        path,
        op,
        source: e,
    }
}
