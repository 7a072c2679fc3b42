//! JSON-lines logging to stdout, the format naap's log capture parses (`level`, `msg`).

use chrono::{SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Where log lines go: the process's stdout, or memory (tests read it back).
#[derive(Clone, Debug)]
enum Sink {
    Stdout,
    Memory(Arc<Mutex<Vec<String>>>),
}

/// Writes one JSON object per line, each stamped with time, level and service version.
#[derive(Clone, Debug)]
pub struct RequestLog {
    sink: Sink,
    version: String,
}

/// The lines a memory log has collected so far.
#[derive(Clone, Debug, Default)]
pub struct LogLines(Arc<Mutex<Vec<String>>>);

impl LogLines {
    /// A copy of every line written so far.
    pub fn lines(&self) -> Vec<String> {
        // A panic while holding the lock cannot leave a half-written Vec<String>.
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl RequestLog {
    /// Logs to stdout; the engine captures it.
    pub fn stdout(version: &str) -> RequestLog {
        RequestLog {
            sink: Sink::Stdout,
            version: version.to_owned(),
        }
    }

    /// Logs to memory, returning the handle to read the lines.
    pub fn memory(version: &str) -> (RequestLog, LogLines) {
        let lines = LogLines::default();
        let log = RequestLog {
            sink: Sink::Memory(lines.0.clone()),
            version: version.to_owned(),
        };
        (log, lines)
    }

    /// Writes one line at `level` with `msg` and any extra fields.
    pub fn line(&self, level: &str, msg: &str, extra: Map<String, Value>) {
        let mut obj = Map::new();
        obj.insert(
            "ts".into(),
            json!(Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)),
        );
        obj.insert("level".into(), json!(level));
        obj.insert("msg".into(), json!(msg));
        obj.extend(extra);
        obj.insert("version".into(), json!(self.version));
        let text = Value::Object(obj).to_string();
        match &self.sink {
            Sink::Stdout => {
                // One locked write per line keeps lines whole across tasks. A closed stdout
                // (the engine went away) must not stop the service, so errors are dropped.
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{text}");
            }
            Sink::Memory(lines) => lines.lock().unwrap_or_else(|p| p.into_inner()).push(text),
        }
    }

    /// Writes a line with no extra fields.
    pub fn msg(&self, level: &str, msg: &str) {
        self.line(level, msg, Map::new());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_json_with_level_msg_and_version() {
        let (log, lines) = RequestLog::memory("1.2.3");
        let mut extra = Map::new();
        extra.insert("latency_ms".into(), json!(0.4));
        log.line("warn", "GET /x 404", extra);
        let got = lines.lines();
        assert_eq!(got.len(), 1);
        let v: Value = serde_json::from_str(&got[0]).unwrap();
        assert_eq!(v["level"], "warn");
        assert_eq!(v["msg"], "GET /x 404");
        assert_eq!(v["latency_ms"], 0.4);
        assert_eq!(v["version"], "1.2.3");
        assert!(v["ts"].as_str().unwrap().ends_with('Z'));
    }
}
