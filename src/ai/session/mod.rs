//! Operator sessions, stored in `operator.db` in the state directory: the transcript, the
//! tool calls with the (redacted) results the model saw, proposals and how they were
//! decided, the model and the tokens. They survive a restart of the face: the dashboard
//! reopens [`SessionStore::last`], `naap chat --resume ID` continues one, `naap chat
//! --list` shows [`SessionStore::list`], and `naap approve` finds waiting proposals with
//! [`SessionStore::pending_proposals`].
//!
//! Not naap.db: the engine opens that exclusively, and sessions must be writable by
//! several faces at once while an engine runs (or none does). This file uses WAL, a busy
//! timeout and short IMMEDIATE write transactions, so any number of handles in any number
//! of processes may read and write it; every write is committed when the call returns.
//!
//! Layout: `sessions` (one row each, with running token totals), `entries` (ordered by
//! `seq` per session, each entry serde JSON with a payload version), and `proposals`
//! (the mutable status of each proposal; the entry refers to it by id). The schema is
//! versioned by `PRAGMA user_version` from the first release, and a newer or damaged file
//! gives an error that names it and says what to do.

mod error;
mod model;
mod schema;
#[cfg(test)]
mod tests;

pub use error::SessionError;
pub use model::{
    Decided, Decision, ProposalEntry, ProposalId, ProposalRecord, ProposalStatus, Session,
    SessionEntry, SessionId, SessionSummary, StoredEntry, ToolCallEntry, ToolEffect, TurnUsage,
};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use crate::core::types::Face;
use error::classify;

/// The file in the state directory.
pub const SESSIONS_FILE: &str = "operator.db";

/// A title is the first line of the first request, cut to this many characters.
pub const TITLE_CHARS: usize = 60;

/// The payload format of entries this build writes and reads.
const ENTRY_VERSION: i64 = 1;

/// An entry as stored: a proposal keeps only its id here, its status lives in `proposals`.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Payload {
    User { text: String },
    Assistant { text: String },
    ToolCall(ToolCallEntry),
    Proposal { id: ProposalId },
    Usage(TurnUsage),
}

/// An open `operator.db`. `Sync`: share one handle (in an `Arc`) between a face and its
/// background jobs; other processes open their own.
pub struct SessionStore {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl std::fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SessionStore {
    /// Opens (creating if needed, owner-only) `operator.db` in `state_dir` and brings its
    /// schema up to date.
    pub fn open(state_dir: &Path) -> Result<SessionStore, SessionError> {
        SessionStore::open_file(&state_dir.join(SESSIONS_FILE))
    }

    /// Opens a sessions file at another path.
    pub fn open_file(path: &Path) -> Result<SessionStore, SessionError> {
        if let Ok(meta) = std::fs::metadata(path)
            && !meta.is_file()
        {
            return Err(SessionError::Foreign {
                path: path.to_path_buf(),
                detail: "it is a directory or a special file".to_string(),
            });
        }
        schema::create_owner_only(path)?;
        let conn = Connection::open(path).map_err(|e| classify(path, "opening the file", e))?;
        schema::configure(&conn, path)?;
        schema::migrate(&conn, path)?;
        Ok(SessionStore {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (an open
        // transaction rolls back when dropped), so a poisoned lock is still usable.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn err(&self, op: &'static str) -> impl Fn(rusqlite::Error) -> SessionError + '_ {
        move |e| classify(&self.path, op, e)
    }

    /// Starts a session for `face`, answered by `provider`'s `model`.
    pub fn create(
        &self,
        face: Face,
        provider: &str,
        model: &str,
    ) -> Result<SessionId, SessionError> {
        let op = "creating a session";
        let conn = self.conn();
        let now = now_ms();
        conn.execute(
            "INSERT INTO sessions (created_ms, updated_ms, activity, face, provider, model)
             VALUES (?1, ?1, (SELECT COALESCE(MAX(activity), 0) + 1 FROM sessions), ?2, ?3, ?4)",
            params![now, face.to_string(), provider, model],
        )
        .map_err(self.err(op))?;
        Ok(SessionId(conn.last_insert_rowid()))
    }

    /// Appends an entry at the end of session `id` and returns its `seq`. A user entry
    /// gives a session without a title its title; a usage entry adds to its totals; a
    /// proposal's id must be new across all sessions.
    pub fn append(&self, id: SessionId, entry: &SessionEntry) -> Result<u64, SessionError> {
        let op = "appending to a session";
        let (payload, usage) = match entry {
            SessionEntry::User { text } => (Payload::User { text: text.clone() }, None),
            SessionEntry::Assistant { text } => (Payload::Assistant { text: text.clone() }, None),
            SessionEntry::ToolCall(call) => (Payload::ToolCall(call.clone()), None),
            SessionEntry::Proposal(p) => (Payload::Proposal { id: p.id.clone() }, None),
            SessionEntry::Usage(u) => (Payload::Usage(*u), Some(checked_usage(u)?)),
        };
        let json = serde_json::to_string(&payload).map_err(|e| SessionError::Invalid {
            what: "a session entry",
            detail: e.to_string(),
        })?;
        let title = match entry {
            SessionEntry::User { text } => title_of(text),
            _ => None,
        };
        let proposal = match entry {
            SessionEntry::Proposal(p) => Some(proposal_columns(p)?),
            _ => None,
        };

        let conn = self.conn();
        let tx = rusqlite::Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)
            .map_err(self.err(op))?;
        let exists: Option<i64> = tx
            .query_row("SELECT id FROM sessions WHERE id = ?1", [id.0], |r| {
                r.get(0)
            })
            .optional()
            .map_err(self.err(op))?;
        if exists.is_none() {
            return Err(SessionError::NoSession { id });
        }
        let now = now_ms();
        let seq: i64 = tx
            .query_row(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM entries WHERE session_id = ?1",
                [id.0],
                |r| r.get(0),
            )
            .map_err(self.err(op))?;
        tx.execute(
            "INSERT INTO entries (session_id, seq, at_ms, kind, version, payload)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id.0, seq, now, entry.kind(), ENTRY_VERSION, json],
        )
        .map_err(self.err(op))?;
        if let (SessionEntry::Proposal(p), Some(columns)) = (entry, proposal) {
            let inserted = tx.execute(
                "INSERT INTO proposals (id, session_id, seq, created_ms, call, preview,
                     argument_hash, status, outcome, decided_face, decided_by, decided_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    p.id.as_str(),
                    id.0,
                    seq,
                    now,
                    columns.call,
                    columns.preview,
                    p.argument_hash,
                    p.status.as_str(),
                    p.outcome,
                    p.decided.as_ref().map(|d| d.face.to_string()),
                    p.decided.as_ref().map(|d| d.by.clone()),
                    p.decided.as_ref().map(|d| d.at.timestamp_millis()),
                ],
            );
            match inserted {
                Ok(_) => {}
                Err(rusqlite::Error::SqliteFailure(f, _))
                    if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
                {
                    return Err(SessionError::DuplicateProposal { id: p.id.clone() });
                }
                Err(e) => return Err(self.err(op)(e)),
            }
        }
        let (input, output, cost) = usage.unwrap_or((0, 0, None));
        tx.execute(
            "UPDATE sessions SET
                 updated_ms = ?2,
                 activity = (SELECT MAX(activity) + 1 FROM sessions),
                 entry_count = entry_count + 1,
                 title = COALESCE(title, ?3),
                 input_tokens = input_tokens + ?4,
                 output_tokens = output_tokens + ?5,
                 cost_usd = CASE WHEN ?6 IS NULL THEN cost_usd ELSE COALESCE(cost_usd, 0) + ?6 END
             WHERE id = ?1",
            params![id.0, now, title, input, output, cost],
        )
        .map_err(self.err(op))?;
        tx.commit().map_err(self.err(op))?;
        Ok(seq as u64)
    }

    /// Moves proposal `id` to `status` (see [`ProposalStatus`] for the allowed moves),
    /// with its outcome text and, for a yes or no, who decided. Atomic across handles: of
    /// two faces approving the same proposal at once, one succeeds and the other gets
    /// [`SessionError::Transition`], so a change never runs twice.
    pub fn set_proposal_status(
        &self,
        id: &ProposalId,
        status: ProposalStatus,
        outcome: Option<&str>,
        decision: Option<&Decision>,
    ) -> Result<ProposalRecord, SessionError> {
        let op = "updating a proposal";
        let from: Vec<&str> = ProposalStatus::ALL
            .into_iter()
            .filter(|s| s.may_become(status))
            .map(ProposalStatus::as_str)
            .collect();
        let now = now_ms();
        let conn = self.conn();
        let tx = rusqlite::Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)
            .map_err(self.err(op))?;
        let changed = tx
            .execute(
                "UPDATE proposals SET
                     status = ?2,
                     outcome = COALESCE(?3, outcome),
                     decided_face = CASE WHEN ?4 IS NULL THEN decided_face ELSE ?4 END,
                     decided_by = CASE WHEN ?4 IS NULL THEN decided_by ELSE ?5 END,
                     decided_ms = CASE WHEN ?4 IS NULL THEN decided_ms ELSE ?6 END
                 WHERE id = ?1 AND status IN (SELECT value FROM json_each(?7))",
                params![
                    id.as_str(),
                    status.as_str(),
                    outcome,
                    decision.map(|d| d.face.to_string()),
                    decision.map(|d| d.by.clone()),
                    now,
                    serde_json::Value::from(from).to_string(),
                ],
            )
            .map_err(self.err(op))?;
        if changed == 0 {
            let current = proposal_record(&tx, &self.path, id)?;
            return Err(match current {
                None => SessionError::NoProposal { id: id.clone() },
                Some(record) => SessionError::Transition {
                    id: id.clone(),
                    from: record.proposal.status,
                    to: status,
                },
            });
        }
        tx.execute(
            "UPDATE sessions SET updated_ms = ?2,
                 activity = (SELECT MAX(activity) + 1 FROM sessions)
             WHERE id = (SELECT session_id FROM proposals WHERE id = ?1)",
            params![id.as_str(), now],
        )
        .map_err(self.err(op))?;
        let record = proposal_record(&tx, &self.path, id)?
            .ok_or_else(|| SessionError::NoProposal { id: id.clone() })?;
        tx.commit().map_err(self.err(op))?;
        Ok(record)
    }

    /// Proposal `id`, wherever it is.
    pub fn proposal(&self, id: &ProposalId) -> Result<ProposalRecord, SessionError> {
        let conn = self.conn();
        proposal_record(&conn, &self.path, id)?
            .ok_or_else(|| SessionError::NoProposal { id: id.clone() })
    }

    /// Every waiting proposal of every session, oldest first.
    pub fn pending_proposals(&self) -> Result<Vec<ProposalRecord>, SessionError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "{PROPOSAL_SELECT} WHERE status = 'waiting' ORDER BY created_ms, rowid"
            ))
            .map_err(self.err("listing waiting proposals"))?;
        let rows = stmt
            .query_map([], ProposalRow::read)
            .map_err(self.err("listing waiting proposals"))?;
        let mut out = Vec::new();
        for row in rows {
            let row = row.map_err(self.err("listing waiting proposals"))?;
            out.push(row.into_record(&self.path)?);
        }
        Ok(out)
    }

    /// Session `id` with its entries in order.
    pub fn load(&self, id: SessionId) -> Result<Session, SessionError> {
        let op = "loading a session";
        let conn = self.conn();
        // One read transaction: the entries and proposals match the summary even while
        // another face appends.
        let tx = rusqlite::Transaction::new_unchecked(&conn, TransactionBehavior::Deferred)
            .map_err(self.err(op))?;
        let summary = tx
            .query_row(
                &format!("{SUMMARY_SELECT} WHERE id = ?1"),
                [id.0],
                SummaryRow::read,
            )
            .optional()
            .map_err(self.err(op))?
            .ok_or(SessionError::NoSession { id })?
            .into_summary(&self.path)?;

        let mut proposals: HashMap<String, ProposalRecord> = HashMap::new();
        {
            let mut stmt = tx
                .prepare(&format!("{PROPOSAL_SELECT} WHERE session_id = ?1"))
                .map_err(self.err(op))?;
            let rows = stmt
                .query_map([id.0], ProposalRow::read)
                .map_err(self.err(op))?;
            for row in rows {
                let record = row.map_err(self.err(op))?.into_record(&self.path)?;
                proposals.insert(record.proposal.id.as_str().to_string(), record);
            }
        }

        let mut entries = Vec::new();
        let mut stmt = tx
            .prepare(
                "SELECT seq, at_ms, version, payload FROM entries
                 WHERE session_id = ?1 ORDER BY seq",
            )
            .map_err(self.err(op))?;
        let rows = stmt
            .query_map([id.0], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(self.err(op))?;
        for row in rows {
            let (seq, at, version, payload) = row.map_err(self.err(op))?;
            let bad = |detail: String| SessionError::BadEntry {
                path: self.path.clone(),
                session: id,
                seq: seq as u64,
                detail,
            };
            if version > ENTRY_VERSION {
                return Err(bad(format!(
                    "payload version {version}, this naap reads up to {ENTRY_VERSION}"
                )));
            }
            let payload: Payload =
                serde_json::from_str(&payload).map_err(|e| bad(e.to_string()))?;
            let entry = match payload {
                Payload::User { text } => SessionEntry::User { text },
                Payload::Assistant { text } => SessionEntry::Assistant { text },
                Payload::ToolCall(call) => SessionEntry::ToolCall(call),
                Payload::Usage(usage) => SessionEntry::Usage(usage),
                Payload::Proposal { id: pid } => match proposals.remove(pid.as_str()) {
                    Some(record) => SessionEntry::Proposal(record.proposal),
                    None => return Err(bad(format!("proposal {pid} is missing"))),
                },
            };
            entries.push(StoredEntry {
                seq: seq as u64,
                at: time(at),
                entry,
            });
        }
        Ok(Session { summary, entries })
    }

    /// Up to `limit` sessions, the most recently active first.
    pub fn list(&self, limit: usize) -> Result<Vec<SessionSummary>, SessionError> {
        let op = "listing sessions";
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!("{SUMMARY_SELECT} ORDER BY activity DESC LIMIT ?1"))
            .map_err(self.err(op))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map([limit], SummaryRow::read)
            .map_err(self.err(op))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row.map_err(self.err(op))?.into_summary(&self.path)?);
        }
        Ok(out)
    }

    /// The most recently active session of `face`: the dashboard reopens its own last
    /// conversation, not one a script had through `naap chat`.
    pub fn last_of(&self, face: Face) -> Result<Option<SessionId>, SessionError> {
        let conn = self.conn();
        conn.query_row(
            "SELECT id FROM sessions WHERE face = ?1 ORDER BY activity DESC LIMIT 1",
            [face.to_string()],
            |r| r.get(0),
        )
        .optional()
        .map(|id| id.map(SessionId))
        .map_err(self.err("finding the last session"))
    }

    /// The most recently active session, which `naap chat --resume` continues.
    pub fn last(&self) -> Result<Option<SessionId>, SessionError> {
        let conn = self.conn();
        conn.query_row(
            "SELECT id FROM sessions ORDER BY activity DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()
        .map(|id| id.map(SessionId))
        .map_err(self.err("finding the last session"))
    }
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// The first non-empty line of `text`, trimmed and cut to [`TITLE_CHARS`] characters.
fn title_of(text: &str) -> Option<String> {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    if line.chars().count() <= TITLE_CHARS {
        return Some(line.to_string());
    }
    let cut: String = line.chars().take(TITLE_CHARS - 1).collect();
    Some(format!("{}…", cut.trim_end()))
}

fn checked_usage(u: &TurnUsage) -> Result<(i64, i64, Option<f64>), SessionError> {
    let tokens = |n: u64| {
        i64::try_from(n).map_err(|_| SessionError::Invalid {
            what: "token counts",
            detail: format!("{n} is larger than SQLite's integers"),
        })
    };
    if let Some(cost) = u.cost_usd
        && !(cost.is_finite() && cost >= 0.0)
    {
        return Err(SessionError::Invalid {
            what: "a turn's cost",
            detail: format!("{cost} is not a non-negative amount"),
        });
    }
    Ok((
        tokens(u.input_tokens)?,
        tokens(u.output_tokens)?,
        u.cost_usd,
    ))
}

struct ProposalColumns {
    call: String,
    preview: String,
}

fn proposal_columns(p: &ProposalEntry) -> Result<ProposalColumns, SessionError> {
    let invalid = |e: serde_json::Error| SessionError::Invalid {
        what: "a proposal",
        detail: e.to_string(),
    };
    Ok(ProposalColumns {
        call: serde_json::to_string(&p.call).map_err(invalid)?,
        preview: serde_json::to_string(&p.preview).map_err(invalid)?,
    })
}

const SUMMARY_SELECT: &str = "SELECT id, created_ms, updated_ms, face, provider, model, title,
    input_tokens, output_tokens, cost_usd, entry_count FROM sessions";

struct SummaryRow {
    id: i64,
    created: i64,
    updated: i64,
    face: String,
    provider: String,
    model: String,
    title: Option<String>,
    input_tokens: i64,
    output_tokens: i64,
    cost_usd: Option<f64>,
    entries: i64,
}

impl SummaryRow {
    fn read(r: &rusqlite::Row) -> rusqlite::Result<SummaryRow> {
        Ok(SummaryRow {
            id: r.get(0)?,
            created: r.get(1)?,
            updated: r.get(2)?,
            face: r.get(3)?,
            provider: r.get(4)?,
            model: r.get(5)?,
            title: r.get(6)?,
            input_tokens: r.get(7)?,
            output_tokens: r.get(8)?,
            cost_usd: r.get(9)?,
            entries: r.get(10)?,
        })
    }

    fn into_summary(self, path: &Path) -> Result<SessionSummary, SessionError> {
        let id = SessionId(self.id);
        Ok(SessionSummary {
            id,
            created: time(self.created),
            updated: time(self.updated),
            face: parse_face(&self.face).ok_or_else(|| SessionError::BadEntry {
                path: path.to_path_buf(),
                session: id,
                seq: 0,
                detail: format!("the session's face `{}` is unknown", self.face),
            })?,
            provider: self.provider,
            model: self.model,
            title: self.title,
            input_tokens: self.input_tokens.max(0) as u64,
            output_tokens: self.output_tokens.max(0) as u64,
            cost_usd: self.cost_usd,
            entries: self.entries.max(0) as u64,
        })
    }
}

fn parse_face(text: &str) -> Option<Face> {
    [
        Face::Cli,
        Face::Dashboard,
        Face::Ai,
        Face::Mcp,
        Face::Engine,
    ]
    .into_iter()
    .find(|f| f.to_string() == text)
}

const PROPOSAL_SELECT: &str = "SELECT id, session_id, seq, created_ms, call, preview,
    argument_hash, status, outcome, decided_face, decided_by, decided_ms,
    (SELECT face FROM sessions WHERE sessions.id = proposals.session_id) FROM proposals";

struct ProposalRow {
    id: String,
    session: i64,
    seq: i64,
    created: i64,
    call: String,
    preview: String,
    argument_hash: String,
    status: String,
    outcome: Option<String>,
    decided_face: Option<String>,
    decided_by: Option<String>,
    decided_ms: Option<i64>,
    session_face: Option<String>,
}

impl ProposalRow {
    fn read(r: &rusqlite::Row) -> rusqlite::Result<ProposalRow> {
        Ok(ProposalRow {
            id: r.get(0)?,
            session: r.get(1)?,
            seq: r.get(2)?,
            created: r.get(3)?,
            call: r.get(4)?,
            preview: r.get(5)?,
            argument_hash: r.get(6)?,
            status: r.get(7)?,
            outcome: r.get(8)?,
            decided_face: r.get(9)?,
            decided_by: r.get(10)?,
            decided_ms: r.get(11)?,
            session_face: r.get(12)?,
        })
    }

    fn into_record(self, path: &Path) -> Result<ProposalRecord, SessionError> {
        let session = SessionId(self.session);
        let bad = |detail: String| SessionError::BadEntry {
            path: path.to_path_buf(),
            session,
            seq: self.seq.max(0) as u64,
            detail,
        };
        let id: ProposalId = self.id.parse().map_err(&bad)?;
        let call = serde_json::from_str(&self.call)
            .map_err(|e| bad(format!("proposal {id}'s call: {e}")))?;
        let preview = serde_json::from_str(&self.preview)
            .map_err(|e| bad(format!("proposal {id}'s preview: {e}")))?;
        let status = self.status.parse().map_err(&bad)?;
        let decided = match (self.decided_face, self.decided_ms) {
            (Some(face), Some(at)) => Some(Decided {
                face: parse_face(&face)
                    .ok_or_else(|| bad(format!("proposal {id}'s face `{face}` is unknown")))?,
                by: self.decided_by.unwrap_or_default(),
                at: time(at),
            }),
            _ => None,
        };
        let face = self.session_face.as_deref().unwrap_or("cli");
        let face = parse_face(face)
            .ok_or_else(|| bad(format!("session {session}'s face `{face}` is unknown")))?;
        Ok(ProposalRecord {
            session,
            face,
            seq: self.seq.max(0) as u64,
            created: time(self.created),
            proposal: ProposalEntry {
                id,
                call,
                preview,
                argument_hash: self.argument_hash,
                status,
                outcome: self.outcome,
                decided,
            },
        })
    }
}

fn proposal_record(
    conn: &Connection,
    path: &Path,
    id: &ProposalId,
) -> Result<Option<ProposalRecord>, SessionError> {
    let op = "reading a proposal";
    conn.query_row(
        &format!("{PROPOSAL_SELECT} WHERE id = ?1"),
        [id.as_str()],
        ProposalRow::read,
    )
    .optional()
    .map_err(|e| classify(path, op, e))?
    .map(|row| row.into_record(path))
    .transpose()
}
