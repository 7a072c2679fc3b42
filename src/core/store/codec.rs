//! How Rust values map to SQLite columns.
//!
//! Timestamps are RFC 3339 text in UTC with exactly three fractional digits and a `Z`
//! (`2025-01-31T08:15:02.123Z`): readable with the `sqlite3` shell, and because the format is
//! fixed-width, text order is time order. Enums are stored as their lowercase serde names,
//! which are also their `Display` text.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use rusqlite::Row;
use rusqlite::types::Type;
use serde::de::DeserializeOwned;

/// The current time at the precision the store keeps (milliseconds), so a value read back
/// compares equal to the value written.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

/// The stored text of a timestamp. Sub-millisecond digits are dropped.
pub(crate) fn ts_to_text(ts: &DateTime<Utc>) -> String {
    ts.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn bad_value(col: &str, value: &str, why: impl std::fmt::Display) -> rusqlite::Error {
    // The message travels inside the rusqlite error and becomes `StoreError::BadRow`.
    rusqlite::Error::FromSqlConversionFailure(
        0,
        Type::Text,
        format!("column `{col}` holds `{value}`: {why}").into(),
    )
}

fn parse_ts(col: &str, text: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| bad_value(col, text, e))
}

/// Reads a non-null timestamp column.
pub(crate) fn get_ts(row: &Row<'_>, col: &str) -> rusqlite::Result<DateTime<Utc>> {
    let text: String = row.get(col)?;
    parse_ts(col, &text)
}

/// Reads a nullable timestamp column.
pub(crate) fn get_opt_ts(row: &Row<'_>, col: &str) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let text: Option<String> = row.get(col)?;
    text.map(|t| parse_ts(col, &t)).transpose()
}

fn parse_enum<T: DeserializeOwned>(col: &str, text: &str) -> rusqlite::Result<T> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|e| bad_value(col, text, e))
}

/// Reads a non-null enum column stored as its serde name.
pub(crate) fn get_enum<T: DeserializeOwned>(row: &Row<'_>, col: &str) -> rusqlite::Result<T> {
    let text: String = row.get(col)?;
    parse_enum(col, &text)
}

/// Reads a nullable enum column stored as its serde name.
pub(crate) fn get_opt_enum<T: DeserializeOwned>(
    row: &Row<'_>,
    col: &str,
) -> rusqlite::Result<Option<T>> {
    let text: Option<String> = row.get(col)?;
    text.map(|t| parse_enum(col, &t)).transpose()
}

/// Reads a nullable non-negative integer column into a `u64`.
pub(crate) fn get_opt_u64(row: &Row<'_>, col: &str) -> rusqlite::Result<Option<u64>> {
    let v: Option<i64> = row.get(col)?;
    v.map(|n| u64::try_from(n).map_err(|e| bad_value(col, &n.to_string(), e)))
        .transpose()
}

/// Reads a JSON document column.
pub(crate) fn get_json(row: &Row<'_>, col: &str) -> rusqlite::Result<serde_json::Value> {
    let text: String = row.get(col)?;
    serde_json::from_str(&text).map_err(|e| bad_value(col, &text, e))
}

/// Converts a caller's row limit to SQLite's integer type; absurdly large limits mean "all".
pub(crate) fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::types::{Face, Health, ProcessState, SlotName, StrategyKind};
    use serde::Serialize;
    use std::fmt::Display;

    /// Writes go through `Display`, reads through serde; they must agree for every variant.
    fn roundtrip<T>(values: &[T])
    where
        T: Display + Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        for v in values {
            let back: T = parse_enum("c", &v.to_string()).unwrap();
            assert_eq!(&back, v);
        }
    }

    #[test]
    fn enums_display_matches_serde_names() {
        roundtrip(&SlotName::ALL);
        roundtrip(&[
            ProcessState::Stopped,
            ProcessState::Starting,
            ProcessState::Running,
            ProcessState::Restarting,
            ProcessState::Failed,
            ProcessState::Stopping,
        ]);
        roundtrip(&[Health::Unknown, Health::Healthy, Health::Unhealthy]);
        roundtrip(&[
            Face::Cli,
            Face::Dashboard,
            Face::Ai,
            Face::Mcp,
            Face::Engine,
        ]);
        roundtrip(&[
            StrategyKind::Immediate,
            StrategyKind::BlueGreen,
            StrategyKind::Canary,
        ]);
    }

    #[test]
    fn timestamps_are_fixed_width_and_round_trip() {
        let t = now();
        let text = ts_to_text(&t);
        assert_eq!(text.len(), "2025-01-31T08:15:02.123Z".len());
        assert!(text.ends_with('Z'));
        assert_eq!(parse_ts("c", &text).unwrap(), t);
        assert!(parse_ts("c", "yesterday").is_err());
    }
}
