//! Connection settings and schema migrations, keyed by `PRAGMA user_version`.
//!
//! To change the schema, append a migration to `MIGRATIONS`; never edit a released one.
//! Version N of the schema is the result of running the first N migrations in order.

use super::error::{BUSY_TIMEOUT_MS, StoreError, classify};
use super::file_identity::{self, Refusal};
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;
use std::time::Duration;

/// Marks the file as naap's in the SQLite header (`PRAGMA application_id`); ASCII "naap".
pub(crate) const APPLICATION_ID: i64 = 0x6E61_6170;

/// The migrations, oldest first; index 0 takes an empty file to version 1.
const MIGRATIONS: &[&str] = &[
    V1,
    V_ALERTS,
    V_GATE_CACHE,
    V_PREVIEWS,
    V_ROLLOUT_STEPS,
    V_AUDIT_OUTCOMES,
    V_SLOT_DETAIL,
    V_CANDIDATES,
    V_DISABLED,
    V_INCIDENTS,
    V_RUNBOOK_RUNS,
    V_SCALE,
];

/// `naap scale`: the replica count a person set for a plugin, which beats its manifest's
/// `[run] replicas` until scaled again (as `kubectl scale` does a Deployment's).
const V_SCALE: &str = r#"
CREATE TABLE plugin_scale (
    plugin    TEXT PRIMARY KEY NOT NULL,
    replicas  INTEGER NOT NULL,
    scaled_at TEXT NOT NULL,
    face      TEXT NOT NULL
) STRICT;
"#;

/// The newest schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Passed build/test gates by the hash of their inputs (see `engine::gate_inputs`); a
/// deploy whose gate finds its hash here skips the run. Failed gates are never stored.
const V_GATE_CACHE: &str = r#"
CREATE TABLE gate_cache (
    plugin      TEXT NOT NULL,
    gate        TEXT NOT NULL,
    input_hash  TEXT NOT NULL,
    passed_at   TEXT NOT NULL,
    duration_ms INTEGER NOT NULL CHECK (duration_ms >= 0),
    output_tail TEXT NOT NULL,
    PRIMARY KEY (plugin, gate, input_hash)
) STRICT;
"#;

/// Preview slots (`naap deploy --preview`): the columns of `slots` for a slot named
/// `preview-<id>` (the `slots` table only admits blue and green), plus when it expires.
const V_PREVIEWS: &str = r#"
CREATE TABLE previews (
    plugin         TEXT NOT NULL,
    slot           TEXT NOT NULL CHECK (slot LIKE 'preview-%'),
    version        TEXT,
    process_state  TEXT NOT NULL,
    health         TEXT NOT NULL,
    pid            INTEGER,
    pid_start_time INTEGER,
    port           INTEGER,
    weight         INTEGER NOT NULL CHECK (weight = 0),
    started_at     TEXT,
    restarts       INTEGER NOT NULL DEFAULT 0,
    updated_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    PRIMARY KEY (plugin, slot)
) STRICT;
"#;

/// Canary rollouts persist their controller (step, pause, step end) and every step's
/// judgement before acting on them, so a restarted engine resumes or rolls back knowingly.
const V_ROLLOUT_STEPS: &str = r#"
ALTER TABLE rollouts ADD COLUMN controller_json TEXT;

CREATE TABLE rollout_steps (
    rollout_id  INTEGER NOT NULL REFERENCES rollouts(id),
    step_index  INTEGER NOT NULL,
    weight      INTEGER NOT NULL,
    outcome     TEXT NOT NULL
                CHECK (outcome IN ('pass', 'marginal', 'fail', 'inconclusive')),
    summary     TEXT NOT NULL,
    detail_json TEXT NOT NULL,
    judged_at   TEXT NOT NULL
) STRICT;
CREATE INDEX rollout_steps_by_rollout ON rollout_steps (rollout_id, step_index);
"#;

/// Long requests are audited when accepted (result `pending`) and completed with their
/// result in `audit_outcomes`, so an operation an engine crash cuts still has its entry.
/// The audit rows themselves stay unchangeable; an outcome is one more append-only fact,
/// at most one per entry, and only for a pending one. `audit` is rebuilt because a CHECK
/// constraint cannot be altered in place (ids are kept).
const V_AUDIT_OUTCOMES: &str = r#"
DROP TRIGGER audit_no_update;
DROP TRIGGER audit_no_delete;
CREATE TABLE audit_new (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    ts        TEXT NOT NULL,
    face      TEXT NOT NULL,
    action    TEXT NOT NULL,
    plugin    TEXT,
    args_json TEXT NOT NULL DEFAULT 'null',
    result    TEXT NOT NULL CHECK (result IN ('ok', 'error', 'pending')),
    detail    TEXT NOT NULL DEFAULT ''
) STRICT;
INSERT INTO audit_new (id, ts, face, action, plugin, args_json, result, detail)
    SELECT id, ts, face, action, plugin, args_json, result, detail FROM audit;
DROP TABLE audit;
ALTER TABLE audit_new RENAME TO audit;
CREATE INDEX audit_by_plugin ON audit (plugin, id);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: entries cannot be changed');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: entries cannot be deleted');
END;

CREATE TABLE audit_outcomes (
    audit_id INTEGER PRIMARY KEY REFERENCES audit(id),
    ts       TEXT NOT NULL,
    result   TEXT NOT NULL CHECK (result IN ('ok', 'error', 'interrupted')),
    detail   TEXT NOT NULL
) STRICT;
CREATE TRIGGER audit_outcome_of_pending BEFORE INSERT ON audit_outcomes
WHEN (SELECT result FROM audit WHERE id = NEW.audit_id) IS NOT 'pending'
BEGIN
    SELECT RAISE(ABORT, 'only a pending audit entry can be completed');
END;
CREATE TRIGGER audit_outcomes_no_update BEFORE UPDATE ON audit_outcomes
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: outcomes cannot be changed');
END;
CREATE TRIGGER audit_outcomes_no_delete BEFORE DELETE ON audit_outcomes
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: outcomes cannot be deleted');
END;
"#;

/// A slot's health detail (the last check, or why it failed) outlives the engine, so that a
/// failed slot still says why after a restart.
const V_SLOT_DETAIL: &str = r#"
ALTER TABLE slots ADD COLUMN health_detail TEXT NOT NULL DEFAULT '';
ALTER TABLE previews ADD COLUMN health_detail TEXT NOT NULL DEFAULT '';
"#;

/// Runbook runs and each step's outcome, compensations included (`api::runbook`).
const V_RUNBOOK_RUNS: &str = r#"
CREATE TABLE runbook_runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    runbook     TEXT NOT NULL,
    face        TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    outcome     TEXT NOT NULL DEFAULT 'running',
    summary     TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE TABLE runbook_steps (
    run_id  INTEGER NOT NULL REFERENCES runbook_runs(id),
    ts      TEXT NOT NULL,
    step    TEXT NOT NULL,
    phase   TEXT NOT NULL CHECK (phase IN ('run', 'compensate')),
    outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'failed', 'skipped')),
    detail  TEXT NOT NULL
) STRICT;
CREATE INDEX runbook_steps_by_run ON runbook_steps (run_id, ts);
"#;

/// Incidents: opened by the engine on an automatic rollback, a critical alert firing, a
/// crash loop or a failed deploy (or joined, when one of that plugin is open), resolved by a
/// person with a note. `signals` are what opened or joined it, a line each; `fingerprint`
/// is the normalised error lines of the plugin's logs when it opened, for "looks like".
const V_INCIDENTS: &str = r#"
CREATE TABLE incidents (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    plugin      TEXT NOT NULL,
    title       TEXT NOT NULL,
    opened_at   TEXT NOT NULL,
    resolved_at TEXT,
    resolved_by TEXT,
    note        TEXT NOT NULL DEFAULT '',
    fingerprint TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX incidents_by_plugin ON incidents (plugin, resolved_at);
CREATE TABLE incident_signals (
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    ts          TEXT NOT NULL,
    signal      TEXT NOT NULL,
    detail      TEXT NOT NULL
) STRICT;
CREATE INDEX incident_signals_by_incident ON incident_signals (incident_id, ts);
"#;

/// Plugins a person disabled (`naap plugin disable`): their slots are stopped and the
/// router answers 503 until `enable` starts `version` again. A row per disabled plugin; an
/// enabled plugin has none. No foreign key: the history of a removed plugin is kept, and
/// so is the fact that it was off.
const V_DISABLED: &str = r#"
CREATE TABLE disabled_plugins (
    plugin      TEXT PRIMARY KEY NOT NULL,
    disabled_at TEXT NOT NULL,
    face        TEXT NOT NULL,
    version     TEXT,
    reason      TEXT NOT NULL DEFAULT ''
) STRICT;
"#;

/// Candidates: proposed changes to one plugin, staged apart from its live source (see
/// `engine::candidate`), and every step of their history. `status` is checked in Rust, not
/// by a CHECK constraint, so the iterate pipeline can grow statuses without rebuilding the
/// table. `base_files_json` holds the per-file hashes of the source the candidate started
/// from, so an accept can name the files that changed since. No foreign key to `plugins`:
/// like events, a candidate outlives a plugin's removal and may precede its first deploy.
const V_CANDIDATES: &str = r#"
CREATE TABLE candidates (
    id              TEXT PRIMARY KEY NOT NULL,
    plugin          TEXT NOT NULL,
    instruction     TEXT NOT NULL,
    base_hash       TEXT NOT NULL,
    base_files_json TEXT NOT NULL,
    status          TEXT NOT NULL,
    version         TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
) STRICT;
CREATE INDEX candidates_by_plugin ON candidates (plugin, created_at);

CREATE TABLE candidate_steps (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    candidate TEXT NOT NULL REFERENCES candidates(id),
    ts        TEXT NOT NULL,
    kind      TEXT NOT NULL,
    summary   TEXT NOT NULL,
    data_json TEXT NOT NULL DEFAULT 'null'
) STRICT;
CREATE INDEX candidate_steps_by_candidate ON candidate_steps (candidate, id);
"#;

const V1: &str = r#"
CREATE TABLE plugins (
    name          TEXT PRIMARY KEY NOT NULL,
    manifest_path TEXT NOT NULL,
    created_at    TEXT NOT NULL
) STRICT;

CREATE TABLE versions (
    plugin           TEXT NOT NULL REFERENCES plugins(name),
    version          TEXT NOT NULL,
    spec_json        TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    last_deployed_at TEXT,
    PRIMARY KEY (plugin, version)
) STRICT;

CREATE TABLE slots (
    plugin         TEXT NOT NULL REFERENCES plugins(name),
    slot           TEXT NOT NULL CHECK (slot IN ('blue', 'green')),
    version        TEXT,
    process_state  TEXT NOT NULL,
    health         TEXT NOT NULL,
    pid            INTEGER,
    pid_start_time INTEGER,
    port           INTEGER,
    weight         INTEGER NOT NULL CHECK (weight >= 0),
    started_at     TEXT,
    restarts       INTEGER NOT NULL DEFAULT 0,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (plugin, slot)
) STRICT;

CREATE TABLE rollouts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    plugin       TEXT NOT NULL REFERENCES plugins(name),
    strategy     TEXT NOT NULL,
    from_slot    TEXT,
    to_slot      TEXT,
    from_version TEXT,
    to_version   TEXT NOT NULL,
    state        TEXT NOT NULL
                 CHECK (state IN ('running', 'succeeded', 'failed', 'rolled_back', 'aborted')),
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    detail       TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX rollouts_by_plugin ON rollouts (plugin, id);
CREATE INDEX rollouts_unfinished ON rollouts (id) WHERE finished_at IS NULL;

-- Events and audit entries keep no foreign key: they must outlive the plugins they mention
-- and record actions on names that were never registered.
CREATE TABLE events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    ts        TEXT NOT NULL,
    plugin    TEXT,
    slot      TEXT,
    kind      TEXT NOT NULL,
    message   TEXT NOT NULL,
    data_json TEXT NOT NULL DEFAULT 'null'
) STRICT;
CREATE INDEX events_by_plugin ON events (plugin, id);

CREATE TABLE audit (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    ts        TEXT NOT NULL,
    face      TEXT NOT NULL,
    action    TEXT NOT NULL,
    plugin    TEXT,
    args_json TEXT NOT NULL DEFAULT 'null',
    result    TEXT NOT NULL CHECK (result IN ('ok', 'error')),
    detail    TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX audit_by_plugin ON audit (plugin, id);

-- Who did what must not be rewritable after the fact.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: entries cannot be changed');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: entries cannot be deleted');
END;
"#;

/// Alert silences and acknowledgements (both outlive an engine restart) and every alert
/// state transition. No foreign keys: like events, they outlive the plugins they name.
const V_ALERTS: &str = r#"
CREATE TABLE alert_silences (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    plugin     TEXT,
    rule       TEXT NOT NULL,
    until      TEXT NOT NULL,
    author     TEXT NOT NULL,
    comment    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    -- Set when someone ends the silence early.
    expired_at TEXT
) STRICT;
CREATE INDEX alert_silences_active ON alert_silences (until) WHERE expired_at IS NULL;

CREATE TABLE alert_acks (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    plugin     TEXT NOT NULL,
    rule       TEXT NOT NULL,
    author     TEXT NOT NULL,
    at         TEXT NOT NULL,
    -- Set when the alert resolves: an ack lasts one firing.
    cleared_at TEXT
) STRICT;
CREATE INDEX alert_acks_open ON alert_acks (plugin, rule) WHERE cleared_at IS NULL;

CREATE TABLE alert_transitions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ts          TEXT NOT NULL,
    plugin      TEXT NOT NULL,
    rule        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    severity    TEXT NOT NULL,
    summary     TEXT NOT NULL,
    silenced    INTEGER NOT NULL CHECK (silenced IN (0, 1)),
    labels_json TEXT NOT NULL DEFAULT '{}'
) STRICT;
CREATE INDEX alert_transitions_by_alert ON alert_transitions (plugin, rule, id);
"#;

/// Sets the per-connection pragmas. The first statement is also the first read of the file,
/// so a file that is not a database fails here.
pub(crate) fn configure(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    conn.busy_timeout(Duration::from_millis(BUSY_TIMEOUT_MS))
        .map_err(|e| classify(path, "setting the busy timeout", e))?;
    // One engine owns the database (it holds the workspace's engine lock), so it takes the
    // file exclusively. Set before the first WAL access, this also keeps the WAL index in
    // the engine's heap instead of an mmap'd `-shm` file: a shared-memory page that cannot be
    // backed (disk full, file truncated by someone) is a SIGBUS that kills the engine with
    // no word, where a failed write is an error the engine reports and survives.
    conn.query_row("PRAGMA locking_mode = EXCLUSIVE", [], |r| {
        r.get::<_, String>(0)
    })
    .map_err(|e| classify(path, "taking the database exclusively", e))?;
    // WAL: a commit appends to the log instead of rewriting pages, and a crash mid-write
    // leaves the file consistent.
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(|e| classify(path, "enabling write-ahead logging", e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::NoWal {
            path: path.to_path_buf(),
            mode,
        });
    }
    // In WAL mode NORMAL syncs only at checkpoints: every committed transaction survives a
    // crash or kill of the naap process (the WAL is in the OS page cache), while a power cut
    // or kernel panic may lose the last few commits but never corrupts the file. Process
    // crashes are what the engine must survive; fsync per event would cost far more.
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(|e| classify(path, "setting synchronous=NORMAL", e))?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(|e| classify(path, "enabling foreign keys", e))?;
    Ok(())
}

/// Brings the schema to `SCHEMA_VERSION` in one transaction, or explains why it cannot.
pub(crate) fn migrate(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let op = "checking the schema version";
    // IMMEDIATE takes the write lock up front, so two engines opening a fresh file at once
    // cannot both run the same migration.
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
        .map_err(|e| classify(path, op, e))?;
    let version = match file_identity::schema_version(&tx, APPLICATION_ID, SCHEMA_VERSION, "naap")
        .map_err(|e| classify(path, op, e))?
    {
        Ok(version) => version,
        Err(Refusal::Foreign(detail)) => {
            return Err(StoreError::NotNaap {
                path: path.to_path_buf(),
                detail,
            });
        }
        Err(Refusal::TooNew(found)) => {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
    };
    if version == SCHEMA_VERSION {
        // Nothing to change; dropping `tx` rolls back the empty transaction.
        return Ok(());
    }

    for (target, sql) in (1..).zip(MIGRATIONS).skip(version as usize) {
        let fail = |source| StoreError::Migration {
            path: path.to_path_buf(),
            version: target,
            source,
        };
        tx.execute_batch(sql).map_err(fail)?;
        tx.pragma_update(None, "user_version", target)
            .map_err(fail)?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)
        .map_err(|e| classify(path, "marking the file as naap's", e))?;
    tx.commit()
        .map_err(|e| classify(path, "committing the schema upgrade", e))
}
