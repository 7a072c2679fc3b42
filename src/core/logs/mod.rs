//! Log capture: the line type, level and JSON parsing, bounded per-plugin buffers and the hub
//! that numbers, stores, searches and broadcasts lines.

mod buffer;
mod display;
mod hub;
mod origin;
mod parse;

pub use buffer::{LogBuffer, LogQuery};
pub use display::escape_controls;
pub use hub::LogHub;
pub use origin::LogOrigin;
pub use parse::{Fields, StreamParser, parse_line, strip_ansi};

use crate::core::types::{Level, LogSource, SlotName};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One line of a plugin's output (or an engine note about the plugin).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LogLine {
    /// Global, strictly increasing number assigned by the hub.
    pub seq: u64,
    /// When the hub received the line.
    pub ts: DateTime<Utc>,
    /// The plugin that produced the line.
    pub plugin: String,
    /// The slot whose process produced it, if any.
    pub slot: Option<SlotName>,
    /// The stream or component it came from.
    pub source: LogSource,
    /// Severity detected from the text or given by the writer.
    pub level: Level,
    /// The text, without ANSI codes; for JSON lines the `msg`/`message` value.
    pub message: String,
    /// The other fields of a JSON line.
    pub fields: Option<Fields>,
}
