//! What `naap logs --slot` (and the socket's `slot` filter) selects: one slot's lines, or
//! the lines of the build and test gates, which run before the version has a slot.

use super::LogLine;
use crate::core::types::{LogSource, PreviewId, SlotName};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A `--slot` filter value. On the wire it is the same string as before (`blue`, `green`,
/// `preview-3fa91c`), with `gate` added, so older requests keep their meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum LogOrigin {
    Slot(SlotName),
    /// The output of the build and test gates and the engine's lines about them.
    Gate,
}

impl LogOrigin {
    /// Whether the line comes from here.
    pub fn matches(self, line: &LogLine) -> bool {
        match self {
            LogOrigin::Slot(slot) => line.slot == Some(slot),
            LogOrigin::Gate => line.source == LogSource::Gate,
        }
    }
}

impl From<SlotName> for LogOrigin {
    fn from(slot: SlotName) -> Self {
        LogOrigin::Slot(slot)
    }
}

impl fmt::Display for LogOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogOrigin::Slot(slot) => slot.fmt(f),
            LogOrigin::Gate => f.write_str("gate"),
        }
    }
}

impl FromStr for LogOrigin {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let word = s.trim().to_ascii_lowercase();
        if word == "gate" || word == "gates" {
            return Ok(LogOrigin::Gate);
        }
        if let Ok(slot) = word.parse::<SlotName>() {
            return Ok(LogOrigin::Slot(slot));
        }
        // A bare preview id, as `naap preview stop` takes it.
        if let Ok(id) = word.parse::<PreviewId>() {
            return Ok(LogOrigin::Slot(SlotName::Preview(id)));
        }
        Err(format!(
            "unknown slot `{}`: logs come from `blue`, `green`, a preview (`preview-<id>`) or the build and test gates (`gate`)",
            s.trim()
        ))
    }
}

impl From<LogOrigin> for String {
    fn from(origin: LogOrigin) -> String {
        origin.to_string()
    }
}

impl TryFrom<String> for LogOrigin {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_slots_previews_and_gate() {
        assert_eq!("blue".parse(), Ok(LogOrigin::Slot(SlotName::Blue)));
        assert_eq!(" Gate ".parse(), Ok(LogOrigin::Gate));
        let preview = LogOrigin::Slot(SlotName::Preview(PreviewId(0x3fa91c)));
        assert_eq!("preview-3fa91c".parse(), Ok(preview));
        assert_eq!("3fa91c".parse(), Ok(preview));
        let err = "red".parse::<LogOrigin>().unwrap_err();
        assert!(err.contains("`gate`") && err.contains("`red`"), "{err}");
    }

    #[test]
    fn the_wire_form_is_the_slot_string() {
        let json = serde_json::to_string(&LogOrigin::Slot(SlotName::Green)).unwrap();
        assert_eq!(json, r#""green""#);
        assert_eq!(
            serde_json::to_string(&LogOrigin::Gate).unwrap(),
            r#""gate""#
        );
        let back: LogOrigin = serde_json::from_str(r#""gate""#).unwrap();
        assert_eq!(back, LogOrigin::Gate);
        assert!(serde_json::from_str::<LogOrigin>(r#""red""#).is_err());
    }
}
