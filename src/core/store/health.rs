//! Whether the store can write right now. A full disk or a read-only file makes every write
//! fail until someone fixes it; the engine keeps serving meanwhile and says so in `status`.
//!
//! A failure is noted where a SQLite error is classified (only storage failures count, not a
//! refused value); any commit that goes through clears it.

use super::StoreError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

/// What `status` says about the store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoreHealth {
    /// False while writes fail; what the engine changes meanwhile is not recorded.
    pub ok: bool,
    /// The latest failure, while failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the store started failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
}

/// Healthy: what an engine that does not report its store (an older one) is taken to say.
impl Default for StoreHealth {
    fn default() -> Self {
        StoreHealth {
            ok: true,
            error: None,
            since: None,
        }
    }
}

/// Shared between the store (which updates it) and the engine (which reports it without
/// taking the store's lock).
#[derive(Clone, Debug)]
pub struct HealthCell(Arc<Mutex<StoreHealth>>);

impl Default for HealthCell {
    fn default() -> Self {
        HealthCell(Arc::new(Mutex::new(StoreHealth::default())))
    }
}

impl HealthCell {
    pub fn get(&self) -> StoreHealth {
        self.lock().clone()
    }

    pub fn is_ok(&self) -> bool {
        self.lock().ok
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StoreHealth> {
        // The value is replaced whole, so a poisoned lock still holds a consistent one.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Notes a failed operation when the error says the storage itself fails.
    pub(crate) fn note_error(&self, error: &StoreError) {
        if !is_storage_failure(error) {
            return;
        }
        let mut health = self.lock();
        if health.ok {
            tracing::error!(
                "the store is failing; changes are not recorded until it is fixed: {error}"
            );
        }
        *health = StoreHealth {
            ok: false,
            error: Some(error.to_string()),
            since: health.since.or_else(|| Some(Utc::now())),
        };
    }

    /// Notes a committed transaction: the store writes again.
    pub(crate) fn note_commit(&self) {
        let mut health = self.lock();
        if !health.ok {
            tracing::warn!(
                "the store writes again (it had failed since {})",
                health
                    .since
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_else(|| "?".into())
            );
            *health = StoreHealth::default();
        }
    }
}

/// Failures of the file or disk, as opposed to a value or row the store refused.
fn is_storage_failure(error: &StoreError) -> bool {
    use rusqlite::ErrorCode;
    match error {
        StoreError::ReadOnly { .. }
        | StoreError::DiskFull { .. }
        | StoreError::Corrupt { .. }
        | StoreError::Locked { .. } => true,
        StoreError::Sqlite { source, .. } => matches!(
            source.sqlite_error_code(),
            Some(
                ErrorCode::SystemIoFailure
                    | ErrorCode::CannotOpen
                    | ErrorCode::PermissionDenied
                    | ErrorCode::FileLockingProtocolFailed
                    | ErrorCode::OutOfMemory
            )
        ),
        _ => false,
    }
}
