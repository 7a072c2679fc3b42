//! A bounded ring of log lines for one plugin, and the query that filters it.

use super::{LogLine, LogOrigin};
use crate::core::types::Level;
use chrono::{DateTime, Utc};
use regex::Regex;
use std::collections::VecDeque;

/// Lines reserved up front; the ring grows to its capacity only as lines arrive.
const INITIAL_RESERVE: usize = 1024;

/// Which lines to return from the buffers, newest `limit` of those that match.
#[derive(Clone, Debug, Default)]
pub struct LogQuery {
    /// The plugin whose lines to return; empty means every plugin.
    pub plugin: String,
    /// Only lines of this slot (or of the gates).
    pub slot: Option<LogOrigin>,
    /// Only lines at this level or above.
    pub min_level: Option<Level>,
    /// Only lines received at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only lines whose message, or one of whose string fields, matches.
    pub grep: Option<Regex>,
    /// Only lines with a larger sequence number (for following a stream).
    pub after_seq: Option<u64>,
    /// The last `limit` matching lines; 0 means all of them.
    pub limit: usize,
}

impl LogQuery {
    /// A query for every line of one plugin.
    pub fn for_plugin(plugin: impl Into<String>) -> Self {
        LogQuery {
            plugin: plugin.into(),
            ..LogQuery::default()
        }
    }

    /// Whether the line passes every filter of the query (the limit aside).
    pub fn matches(&self, line: &LogLine) -> bool {
        (self.plugin.is_empty() || line.plugin == self.plugin)
            && self.after_seq.is_none_or(|after| line.seq > after)
            && self.matches_content(line)
    }

    /// Every filter but the plugin and the sequence number, which the buffer scan handles.
    fn matches_content(&self, line: &LogLine) -> bool {
        if self.slot.is_some_and(|origin| !origin.matches(line)) {
            return false;
        }
        if self.min_level.is_some_and(|min| line.level < min) {
            return false;
        }
        if self.since.is_some_and(|since| line.ts < since) {
            return false;
        }
        match &self.grep {
            None => true,
            Some(re) => {
                re.is_match(&line.message)
                    || line.fields.as_ref().is_some_and(|fields| {
                        fields
                            .values()
                            .any(|value| value.as_str().is_some_and(|s| re.is_match(s)))
                    })
            }
        }
    }
}

/// The most recent lines of one plugin, oldest first, at most `capacity` of them.
#[derive(Debug)]
pub struct LogBuffer {
    lines: VecDeque<LogLine>,
    capacity: usize,
}

impl LogBuffer {
    /// Creates an empty buffer holding at most `capacity` lines (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        LogBuffer {
            lines: VecDeque::with_capacity(capacity.min(INITIAL_RESERVE)),
            capacity,
        }
    }

    /// Appends a line, dropping the oldest one when full.
    pub fn push(&mut self, line: LogLine) {
        if self.lines.len() >= self.capacity {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    /// How many lines the buffer holds now.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether the buffer holds no line.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The most lines the buffer keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The lines, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &LogLine> + ExactSizeIterator {
        self.lines.iter()
    }

    /// The newest `q.limit` lines that match, oldest first. Scans from the newest line and
    /// clones only the lines it returns; stops at `after_seq` because sequence numbers only
    /// grow along the buffer.
    pub fn query(&self, q: &LogQuery) -> Vec<LogLine> {
        let mut out = Vec::new();
        for line in self.lines.iter().rev() {
            if q.after_seq.is_some_and(|after| line.seq <= after) {
                break;
            }
            if q.matches_content(line) {
                out.push(line.clone());
                if q.limit != 0 && out.len() >= q.limit {
                    break;
                }
            }
        }
        out.reverse();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::types::{LogSource, SlotName};
    use chrono::TimeDelta;
    use serde_json::{Map, Value};

    fn line(seq: u64, slot: SlotName, level: Level, message: &str) -> LogLine {
        LogLine {
            seq,
            ts: DateTime::<Utc>::from_timestamp(1_800_000_000 + seq as i64, 0)
                .expect("a fixed timestamp in range"),
            plugin: "api".into(),
            slot: Some(slot),
            source: LogSource::Stdout,
            level,
            message: message.into(),
            fields: None,
        }
    }

    fn seqs(lines: &[LogLine]) -> Vec<u64> {
        lines.iter().map(|l| l.seq).collect()
    }

    #[test]
    fn keeps_only_the_newest_lines() {
        let mut buf = LogBuffer::new(3);
        for seq in 1..=5 {
            buf.push(line(seq, SlotName::Blue, Level::Info, "x"));
        }
        assert_eq!(buf.len(), 3);
        assert_eq!(buf.capacity(), 3);
        assert_eq!(buf.iter().map(|l| l.seq).collect::<Vec<_>>(), vec![3, 4, 5]);
        assert_eq!(LogBuffer::new(0).capacity(), 1);
    }

    #[test]
    fn query_filters() {
        let mut buf = LogBuffer::new(100);
        buf.push(line(1, SlotName::Blue, Level::Debug, "cache warm"));
        buf.push(line(2, SlotName::Green, Level::Info, "listening"));
        buf.push(line(3, SlotName::Blue, Level::Warn, "slow request id=42"));
        buf.push(line(
            4,
            SlotName::Green,
            Level::Error,
            "request id=43 failed",
        ));
        let mut with_fields = line(5, SlotName::Blue, Level::Info, "done");
        let mut fields = Map::new();
        fields.insert("request_id".into(), Value::from("req-77"));
        with_fields.fields = Some(fields);
        buf.push(with_fields);

        let all = LogQuery::for_plugin("api");
        assert_eq!(seqs(&buf.query(&all)), vec![1, 2, 3, 4, 5]);

        let q = LogQuery {
            slot: Some(SlotName::Green.into()),
            ..all.clone()
        };
        assert_eq!(seqs(&buf.query(&q)), vec![2, 4]);

        let q = LogQuery {
            min_level: Some(Level::Warn),
            ..all.clone()
        };
        assert_eq!(seqs(&buf.query(&q)), vec![3, 4]);

        let since = DateTime::<Utc>::from_timestamp(1_800_000_003, 0).expect("in range");
        let q = LogQuery {
            since: Some(since),
            ..all.clone()
        };
        assert_eq!(seqs(&buf.query(&q)), vec![3, 4, 5]);
        let q = LogQuery {
            since: Some(since + TimeDelta::days(1)),
            ..all.clone()
        };
        assert!(buf.query(&q).is_empty());

        let q = LogQuery {
            grep: Some(Regex::new(r"id=4\d").expect("valid regex")),
            ..all.clone()
        };
        assert_eq!(seqs(&buf.query(&q)), vec![3, 4]);
        let q = LogQuery {
            grep: Some(Regex::new("req-77").expect("valid regex")),
            ..all.clone()
        };
        assert_eq!(
            seqs(&buf.query(&q)),
            vec![5],
            "grep looks into string fields too"
        );

        let q = LogQuery {
            after_seq: Some(3),
            ..all.clone()
        };
        assert_eq!(seqs(&buf.query(&q)), vec![4, 5]);

        let q = LogQuery {
            limit: 2,
            ..all.clone()
        };
        assert_eq!(seqs(&buf.query(&q)), vec![4, 5], "limit keeps the newest");

        let q = LogQuery {
            limit: 1,
            min_level: Some(Level::Warn),
            slot: Some(SlotName::Blue.into()),
            ..all
        };
        assert_eq!(seqs(&buf.query(&q)), vec![3]);
    }

    #[test]
    fn matches_checks_plugin_and_seq() {
        let l = line(7, SlotName::Blue, Level::Info, "x");
        assert!(LogQuery::for_plugin("api").matches(&l));
        assert!(LogQuery::for_plugin("").matches(&l));
        assert!(!LogQuery::for_plugin("web").matches(&l));
        let q = LogQuery {
            after_seq: Some(7),
            ..LogQuery::for_plugin("api")
        };
        assert!(!q.matches(&l));
    }
}
