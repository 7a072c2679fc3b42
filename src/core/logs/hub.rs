//! The hub every log line goes through: numbers it, keeps it in its plugin's buffer and
//! broadcasts it to live followers.

use super::LogLine;
use super::buffer::{LogBuffer, LogQuery};
use super::parse::parse_line;
use crate::core::types::{LogSource, SlotName};
use chrono::Utc;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;

/// Lines a follower may fall behind before it sees `RecvError::Lagged`; it can then catch up
/// with a query using `after_seq`.
const BROADCAST_CAPACITY: usize = 8192;

/// Shared, cheaply clonable store of every plugin's recent log lines.
#[derive(Clone)]
pub struct LogHub {
    inner: Arc<HubInner>,
}

struct HubInner {
    buffers: Mutex<HashMap<String, LogBuffer>>,
    tx: broadcast::Sender<LogLine>,
    /// The last sequence number handed out; 0 before the first line.
    seq: AtomicU64,
    capacity_per_plugin: usize,
    /// Secret values per plugin (its `env_from`), shown as `***` in its lines.
    masked: Mutex<HashMap<String, Vec<String>>>,
}

/// Shorter values are not masked: hiding every "1" or "on" would garble the logs.
const SHORTEST_MASKED: usize = 3;

impl LogHub {
    /// Creates a hub that keeps the newest `capacity_per_plugin` lines of each plugin.
    pub fn new(capacity_per_plugin: usize) -> Self {
        let (tx, _) = broadcast::channel(BROADCAST_CAPACITY);
        LogHub {
            inner: Arc::new(HubInner {
                buffers: Mutex::new(HashMap::new()),
                tx,
                seq: AtomicU64::new(0),
                capacity_per_plugin: capacity_per_plugin.max(1),
                masked: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Parses a raw line, stamps it with the current time and a sequence number, stores it
    /// and broadcasts it.
    pub fn push(&self, plugin: &str, slot: Option<SlotName>, source: LogSource, raw: &str) {
        let (level, message, fields) = parse_line(raw);
        self.push_line(LogLine {
            seq: 0,
            ts: Utc::now(),
            plugin: plugin.to_owned(),
            slot,
            source,
            level,
            message,
            fields,
        });
    }

    /// From now on, `values` appear as `***` in the plugin's lines, as CI systems mask
    /// secrets in build logs. Values are added to those masked before (a rotated secret's
    /// old value stays masked).
    pub fn mask_values(&self, plugin: &str, values: impl IntoIterator<Item = String>) {
        let Ok(mut masked) = self.inner.masked.lock() else {
            return;
        };
        let list = masked.entry(plugin.to_string()).or_default();
        for value in values {
            if value.len() >= SHORTEST_MASKED && !list.contains(&value) {
                list.push(value);
            }
        }
        // Longest first, so a secret containing another is masked whole.
        list.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }

    /// `raw` with the plugin's masked values replaced by `***`, for text kept elsewhere
    /// (the tail of a gate's output stored with its cached pass).
    pub fn masked(&self, plugin: &str, raw: &str) -> String {
        self.mask(plugin, raw).unwrap_or_else(|| raw.to_string())
    }

    /// Masks the message and every string among the fields.
    fn mask_line(&self, line: &mut LogLine) {
        fn walk(hub: &LogHub, plugin: &str, value: &mut serde_json::Value) {
            match value {
                serde_json::Value::String(s) => {
                    if let Some(m) = hub.mask(plugin, s) {
                        *s = m;
                    }
                }
                serde_json::Value::Array(items) => {
                    items.iter_mut().for_each(|v| walk(hub, plugin, v))
                }
                serde_json::Value::Object(map) => {
                    map.values_mut().for_each(|v| walk(hub, plugin, v))
                }
                _ => {}
            }
        }
        let has_masks = self
            .inner
            .masked
            .lock()
            .is_ok_and(|m| m.get(&line.plugin).is_some_and(|v| !v.is_empty()));
        if !has_masks {
            return;
        }
        if let Some(m) = self.mask(&line.plugin, &line.message) {
            line.message = m;
        }
        if let Some(fields) = line.fields.as_mut() {
            fields
                .values_mut()
                .for_each(|v| walk(self, &line.plugin, v));
        }
    }

    fn mask(&self, plugin: &str, raw: &str) -> Option<String> {
        let masked = self.inner.masked.lock().ok()?;
        let values = masked.get(plugin)?;
        let mut out: Option<String> = None;
        for value in values {
            let text = out.as_deref().unwrap_or(raw);
            if text.contains(value.as_str()) {
                out = Some(text.replace(value.as_str(), "***"));
            }
        }
        out
    }

    /// Stores and broadcasts an already parsed line, replacing its `seq` with the next one.
    pub fn push_line(&self, mut line: LogLine) {
        self.mask_line(&mut line);
        let mut buffers = self.buffers();
        // Numbered under the lock so that every buffer and the broadcast stay in seq order.
        line.seq = self.inner.seq.fetch_add(1, Ordering::Relaxed) + 1;
        if self.inner.tx.receiver_count() > 0 {
            // An error only means every follower went away meanwhile.
            let _ = self.inner.tx.send(line.clone());
        }
        match buffers.get_mut(&line.plugin) {
            Some(buffer) => buffer.push(line),
            None => {
                let mut buffer = LogBuffer::new(self.inner.capacity_per_plugin);
                let plugin = line.plugin.clone();
                buffer.push(line);
                buffers.insert(plugin, buffer);
            }
        }
    }

    /// The lines that match the query, oldest first (see [`LogBuffer::query`]). An empty
    /// plugin name queries every plugin, merged in sequence order.
    pub fn query(&self, q: &LogQuery) -> Vec<LogLine> {
        let buffers = self.buffers();
        if !q.plugin.is_empty() {
            return buffers
                .get(&q.plugin)
                .map(|buffer| buffer.query(q))
                .unwrap_or_default();
        }
        let mut merged: Vec<LogLine> = buffers.values().flat_map(|b| b.query(q)).collect();
        drop(buffers);
        merged.sort_unstable_by_key(|line| line.seq);
        if q.limit != 0 && merged.len() > q.limit {
            merged.drain(..merged.len() - q.limit);
        }
        merged
    }

    /// A stream of every line pushed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<LogLine> {
        self.inner.tx.subscribe()
    }

    /// The sequence number of the newest line (0 when there is none yet).
    pub fn last_seq(&self) -> u64 {
        self.inner.seq.load(Ordering::Relaxed)
    }

    /// The plugins that have lines, sorted by name.
    pub fn plugins(&self) -> Vec<String> {
        let mut names: Vec<String> = self.buffers().keys().cloned().collect();
        names.sort();
        names
    }

    /// Forgets every line of a plugin (when it is removed from the workspace).
    pub fn remove_plugin(&self, plugin: &str) {
        self.buffers().remove(plugin);
    }

    fn buffers(&self) -> MutexGuard<'_, HashMap<String, LogBuffer>> {
        // A panic while holding the lock cannot leave a buffer half-updated in a way that
        // matters for logs, so keep serving rather than poisoning every later caller.
        self.inner
            .buffers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::types::Level;
    use regex::Regex;

    #[test]
    fn push_parses_numbers_and_stores() {
        let hub = LogHub::new(10);
        hub.push("api", Some(SlotName::Blue), LogSource::Stdout, "INFO up");
        hub.push(
            "api",
            Some(SlotName::Blue),
            LogSource::Stderr,
            r#"{"level":"error","msg":"down","code":7}"#,
        );
        hub.push("web", None, LogSource::Engine, "WARN other plugin");
        let lines = hub.query(&LogQuery::for_plugin("api"));
        assert_eq!(lines.len(), 2);
        assert_eq!((lines[0].seq, lines[0].level), (1, Level::Info));
        assert_eq!(lines[1].seq, 2);
        assert_eq!(lines[1].level, Level::Error);
        assert_eq!(lines[1].source, LogSource::Stderr);
        assert_eq!(lines[1].message, "down");
        assert!(
            lines[1]
                .fields
                .as_ref()
                .is_some_and(|f| f.contains_key("code"))
        );
        assert_eq!(hub.last_seq(), 3);
        assert_eq!(hub.plugins(), vec!["api".to_string(), "web".to_string()]);

        let everything = hub.query(&LogQuery::for_plugin(""));
        assert_eq!(
            everything.iter().map(|l| l.seq).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        let newest = hub.query(&LogQuery {
            limit: 1,
            ..LogQuery::for_plugin("")
        });
        assert_eq!(newest.iter().map(|l| l.seq).collect::<Vec<_>>(), vec![3]);

        hub.remove_plugin("web");
        assert_eq!(hub.plugins(), vec!["api".to_string()]);
        assert!(hub.query(&LogQuery::for_plugin("nope")).is_empty());
    }

    #[test]
    fn buffers_are_bounded_per_plugin() {
        let hub = LogHub::new(5);
        for i in 0..20 {
            hub.push("api", None, LogSource::Stdout, &format!("line {i}"));
            hub.push("web", None, LogSource::Stdout, &format!("line {i}"));
        }
        let api = hub.query(&LogQuery::for_plugin("api"));
        assert_eq!(api.len(), 5);
        assert_eq!(api[0].message, "line 15");
        assert_eq!(hub.query(&LogQuery::for_plugin("web")).len(), 5);
    }

    #[tokio::test]
    async fn subscribers_see_new_lines_in_order() {
        let hub = LogHub::new(10);
        hub.push("api", None, LogSource::Stdout, "before");
        let mut rx = hub.subscribe();
        hub.push("api", None, LogSource::Stdout, "one");
        hub.push("api", None, LogSource::Stdout, "two");
        let a = rx.recv().await.expect("first line");
        let b = rx.recv().await.expect("second line");
        assert_eq!((a.message.as_str(), a.seq), ("one", 2));
        assert_eq!((b.message.as_str(), b.seq), ("two", 3));
    }

    #[test]
    fn query_over_a_full_buffer_returns_only_matches() {
        let hub = LogHub::new(100_000);
        for i in 0..100_000u32 {
            let raw = if i % 1000 == 0 {
                format!("ERROR failure {i}")
            } else {
                format!("INFO ok {i}")
            };
            hub.push("api", Some(SlotName::Green), LogSource::Stdout, &raw);
        }
        let q = LogQuery {
            min_level: Some(Level::Error),
            grep: Some(Regex::new("failure 9").expect("valid regex")),
            limit: 5,
            ..LogQuery::for_plugin("api")
        };
        let lines = hub.query(&q);
        let messages: Vec<&str> = lines.iter().map(|l| l.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "ERROR failure 95000",
                "ERROR failure 96000",
                "ERROR failure 97000",
                "ERROR failure 98000",
                "ERROR failure 99000"
            ]
        );
    }
}
