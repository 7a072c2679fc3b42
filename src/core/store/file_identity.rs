//! Whose a SQLite file is and which schema version it holds, read from its header
//! (`application_id`, `user_version`) before any migration touches it. The engine's
//! naap.db and the operator's operator.db both check this way, so neither upgrades a file
//! that belongs to another program or to a newer naap.

use rusqlite::Connection;

/// Why a file is not one this build may migrate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Another program's file (or a damaged header); the text says what was found.
    Foreign(String),
    /// A newer naap's schema version.
    TooNew(i64),
}

/// The file's schema version when it is `application_id`'s at a version up to
/// `supported` (0: a fresh, empty file), else why not. `what` names the schema in the
/// refusal ("naap", "sessions").
pub fn schema_version(
    conn: &Connection,
    application_id: i64,
    supported: i64,
    what: &str,
) -> rusqlite::Result<Result<i64, Refusal>> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let app_id: i64 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    if version == 0 {
        if app_id != 0 {
            return Ok(Err(Refusal::Foreign(format!(
                "its application id is {app_id:#x}"
            ))));
        }
        let tables: i64 = conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'",
            [],
            |r| r.get(0),
        )?;
        if tables > 0 {
            return Ok(Err(Refusal::Foreign(format!(
                "it already holds {tables} tables or indexes but no {what} schema"
            ))));
        }
    } else if app_id != application_id {
        return Ok(Err(Refusal::Foreign(format!(
            "schema version {version} with application id {app_id:#x}"
        ))));
    }
    if version < 0 {
        return Ok(Err(Refusal::Foreign(format!("schema version {version}"))));
    }
    if version > supported {
        return Ok(Err(Refusal::TooNew(version)));
    }
    Ok(Ok(version))
}
