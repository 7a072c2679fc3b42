//! Turning one raw line of process output into a level, a message and structured fields.
//!
//! Level detection is deliberately conservative about plain words: `Error rate is low` is not
//! an error, `error: cannot compile` and `[warn] slow` are. A line with no recognisable level
//! is `info` whatever stream it came from: modern services (12-factor apps, Go's `log`,
//! Python's `logging`, werkzeug) write their ordinary output to stderr, so treating stderr as
//! a warning would bury real warnings under request logs. Crash output is still caught by its
//! shape (`Traceback`, `panicked at`, `panic:`, `ValueError:`, `sh: 1: x: not found`), and
//! [`StreamParser`] lets indented stack frames inherit the level of the line they continue.

use crate::core::types::Level;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// Structured fields of a JSON log line (everything but its level and message).
pub type Fields = Map<String, Value>;

/// JSON keys that carry the level, most common first.
const LEVEL_KEYS: [&str; 6] = [
    "level",
    "lvl",
    "severity",
    "levelname",
    "log.level",
    "loglevel",
];
/// JSON keys that carry the message.
const MESSAGE_KEYS: [&str; 2] = ["msg", "message"];
/// logfmt keys that carry the level.
const LOGFMT_KEYS: [&str; 3] = ["level=", "lvl=", "severity="];
/// How many leading whitespace-separated tokens may hold a level word.
const LEVEL_TOKEN_WINDOW: usize = 6;

/// Parses one line: returns its level (`info` when none is recognisable), its message with
/// ANSI colour codes removed, and for JSON lines the remaining fields.
pub fn parse_line(raw: &str) -> (Level, String, Option<Fields>) {
    let parsed = parse_detailed(raw);
    (
        parsed.level.unwrap_or(Level::Info),
        parsed.message,
        parsed.fields,
    )
}

/// Parses the lines of one stream in order, so that continuation lines (indented stack
/// frames, `Caused by:`) of a warning or error keep that level instead of dropping to info.
#[derive(Debug)]
pub struct StreamParser {
    last: Option<Level>,
    /// The level of a line that names none and continues nothing.
    unmarked: Level,
}

impl Default for StreamParser {
    fn default() -> Self {
        StreamParser {
            last: None,
            unmarked: Level::Info,
        }
    }
}

impl StreamParser {
    /// Creates a parser with no previous line; unmarked lines are `info`.
    pub fn new() -> Self {
        Self::default()
    }

    /// A parser whose lines without a recognisable level get `unmarked` instead of `info`
    /// (a build or test gate's stderr, which is its diagnostics channel).
    pub fn with_unmarked_level(unmarked: Level) -> Self {
        StreamParser {
            last: None,
            unmarked,
        }
    }

    /// Parses the next line of the stream.
    pub fn parse(&mut self, raw: &str) -> (Level, String, Option<Fields>) {
        let parsed = parse_detailed(raw);
        let level = match parsed.level {
            Some(level) => level,
            None => match self.last {
                Some(last) if last >= Level::Warn && is_continuation(&parsed.message) => last,
                _ => self.unmarked,
            },
        };
        self.last = Some(level);
        (level, parsed.message, parsed.fields)
    }
}

/// A parsed line whose level is `None` when nothing in the line names one.
struct Parsed {
    level: Option<Level>,
    message: String,
    fields: Option<Fields>,
}

fn parse_detailed(raw: &str) -> Parsed {
    let clean = strip_ansi(raw);
    let text = clean.trim_end_matches(['\r', '\n']);
    if let Some(parsed) = parse_json(text) {
        return parsed;
    }
    Parsed {
        level: detect_level(text),
        message: text.to_owned(),
        fields: None,
    }
}

fn is_continuation(message: &str) -> bool {
    message.starts_with([' ', '\t']) || message.starts_with("Caused by")
}

/// Removes ANSI escape sequences (colours, cursor movement, OSC titles and links).
pub fn strip_ansi(s: &str) -> Cow<'_, str> {
    if !s.contains('\x1b') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        match chars.next() {
            // CSI: parameter and intermediate bytes, then one final byte in 0x40..=0x7e.
            Some('[') => {
                for n in chars.by_ref() {
                    if ('\x40'..='\x7e').contains(&n) {
                        break;
                    }
                }
            }
            // OSC: ends with BEL or with ESC \ (string terminator).
            Some(']') => {
                while let Some(n) = chars.next() {
                    if n == '\x07' {
                        break;
                    }
                    if n == '\x1b' {
                        if chars.peek() == Some(&'\\') {
                            chars.next();
                        }
                        break;
                    }
                }
            }
            // Any other escape is two characters long; a trailing lone ESC is dropped.
            Some(_) | None => {}
        }
    }
    Cow::Owned(out)
}

fn parse_json(text: &str) -> Option<Parsed> {
    let trimmed = text.trim();
    if !(trimmed.starts_with('{') && trimmed.ends_with('}')) {
        return None;
    }
    let mut fields: Fields = serde_json::from_str(trimmed).ok()?;
    let level = LEVEL_KEYS
        .iter()
        .find_map(|key| fields.remove(*key))
        .and_then(|value| json_level(&value));
    let message = MESSAGE_KEYS
        .iter()
        .find_map(|key| fields.remove(*key))
        .map(|value| match value {
            Value::String(s) => s,
            other => other.to_string(),
        })
        .unwrap_or_else(|| trimmed.to_owned());
    Some(Parsed {
        level,
        message,
        fields: (!fields.is_empty()).then_some(fields),
    })
}

fn json_level(value: &Value) -> Option<Level> {
    match value {
        Value::String(s) => level_word(s).or_else(|| s.trim().parse().ok().map(numeric_level)),
        Value::Number(n) => n.as_u64().map(numeric_level),
        _ => None,
    }
}

/// bunyan/pino levels: 10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal.
fn numeric_level(n: u64) -> Level {
    match n {
        0..20 => Level::Trace,
        20..30 => Level::Debug,
        30..40 => Level::Info,
        40..50 => Level::Warn,
        _ => Level::Error,
    }
}

/// Maps the level names and abbreviations of common loggers (logrus, zap, log4j, syslog,
/// Python, glog-style words) to a level, ignoring case.
fn level_word(word: &str) -> Option<Level> {
    const WORDS: [(&str, Level); 27] = [
        ("trace", Level::Trace),
        ("trc", Level::Trace),
        ("debug", Level::Debug),
        ("dbg", Level::Debug),
        ("debu", Level::Debug),
        ("info", Level::Info),
        ("inf", Level::Info),
        ("information", Level::Info),
        ("informational", Level::Info),
        ("notice", Level::Info),
        ("warn", Level::Warn),
        ("warning", Level::Warn),
        ("wrn", Level::Warn),
        ("warni", Level::Warn),
        ("err", Level::Error),
        ("error", Level::Error),
        ("erro", Level::Error),
        ("eror", Level::Error),
        ("fatal", Level::Error),
        ("fata", Level::Error),
        ("crit", Level::Error),
        ("critical", Level::Error),
        ("panic", Level::Error),
        ("dpanic", Level::Error),
        ("alert", Level::Error),
        ("emerg", Level::Error),
        ("severe", Level::Error),
    ];
    let word = word.trim();
    if word.len() < 3 || word.len() > 13 {
        return None;
    }
    WORDS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(word))
        .map(|(_, level)| *level)
}

fn detect_level(text: &str) -> Option<Level> {
    let t = text.trim_start();
    if t.starts_with("Traceback (most recent call last)")
        || t.contains("panicked at")
        || t.starts_with("sh: ")
        || t.starts_with("bash: ")
        || t.starts_with("/bin/sh: ")
        || t.starts_with("Exception in thread ")
    {
        return Some(Level::Error);
    }
    if let Some(level) = logfmt_level(t) {
        return Some(level);
    }
    let tokens = t.split_whitespace().take(LEVEL_TOKEN_WINDOW).enumerate();
    let mut only_stamps_so_far = true;
    for (i, token) in tokens {
        if i == 0 {
            if let Some(level) = glog_level(token) {
                return Some(level);
            }
            if is_exception_name(token) {
                return Some(Level::Error);
            }
        }
        let (core, decorated) = token_core(token);
        if let Some(level) = level_word(core) {
            let shouting = core.chars().all(|c| c.is_ascii_uppercase());
            if decorated || shouting || (i > 0 && only_stamps_so_far) {
                return Some(level);
            }
        }
        only_stamps_so_far &= is_stamp_like(token);
    }
    None
}

/// `level=warn`, `lvl="error"`, `severity=INFO` anywhere in the line, as a whole key.
fn logfmt_level(text: &str) -> Option<Level> {
    for key in LOGFMT_KEYS {
        for (at, _) in text.match_indices(key) {
            let starts_token = text[..at]
                .chars()
                .next_back()
                .is_none_or(char::is_whitespace);
            if !starts_token {
                continue;
            }
            let value = text[at + key.len()..]
                .split_whitespace()
                .next()
                .unwrap_or("")
                .trim_matches(['"', '\'']);
            if let Some(level) = level_word(value) {
                return Some(level);
            }
        }
    }
    None
}

/// glog prefixes: `I1122`, `W0102`, `E1231`, `F0101` (severity letter, then month and day).
fn glog_level(token: &str) -> Option<Level> {
    let bytes = token.as_bytes();
    if bytes.len() != 5 || !bytes[1..].iter().all(u8::is_ascii_digit) {
        return None;
    }
    match bytes[0] {
        b'I' => Some(Level::Info),
        b'W' => Some(Level::Warn),
        b'E' | b'F' => Some(Level::Error),
        _ => None,
    }
}

/// `ValueError:`, `java.lang.IllegalStateException:`, `TypeError:` at the start of a line.
fn is_exception_name(token: &str) -> bool {
    token
        .strip_suffix(':')
        .is_some_and(|name| name.ends_with("Error") || name.ends_with("Exception"))
        && token
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
}

/// Strips brackets and separators around a token and says whether there were any: `[warn]`,
/// `<ERROR>`, `error:`, `WARNING:root:msg` are decorated; `error` is bare.
fn token_core(token: &str) -> (&str, bool) {
    let opened = token.trim_start_matches(['[', '(', '<', '{']);
    let (head, split) = match opened.split_once(':') {
        Some((head, _)) => (head, true),
        None => (opened, false),
    };
    let core = head.trim_end_matches([']', ')', '>', '}', ',', '|']);
    let decorated = split || opened.len() != token.len() || core.len() != head.len();
    (core, decorated)
}

/// Timestamps, dates, pids and separators that often come before the level word.
fn is_stamp_like(token: &str) -> bool {
    let t = token.trim_start_matches(['[', '(']);
    t.starts_with(|c: char| c.is_ascii_digit()) || t.chars().all(|c| c.is_ascii_punctuation())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_levels() {
        let cases: &[(&str, Level)] = &[
            ("ERROR connection refused", Level::Error),
            ("[warn] slow query", Level::Warn),
            ("[WARN] slow query", Level::Warn),
            ("<error> boom", Level::Error),
            ("level=info msg=started", Level::Info),
            (
                "ts=2026-01-01 msg=\"disk almost full\" level=warn",
                Level::Warn,
            ),
            ("lvl=\"error\" msg=x", Level::Error),
            ("2026-01-01T00:00:00Z WARN cache miss storm", Level::Warn),
            (
                "2026-01-01T00:00:00.123456Z  INFO my_crate: listening",
                Level::Info,
            ),
            ("[2026-01-01T00:00:00Z DEBUG my_crate] detail", Level::Debug),
            (
                "2026-01-01T00:00:00.000Z\tinfo\tserver started",
                Level::Info,
            ),
            ("2026-01-01 12:00:00,123 - warning - retrying", Level::Warn),
            (
                "12:00:00.123 [main] ERROR com.example.App - failed",
                Level::Error,
            ),
            ("WARNING:root:deprecated call", Level::Warn),
            (
                "INFO:     Uvicorn running on http://127.0.0.1:8000",
                Level::Info,
            ),
            (
                "E1122 10:00:00.000000 1234 main.go:10] cannot bind",
                Level::Error,
            ),
            ("W0102 10:00:00.000000 1234 main.go:10] retry", Level::Warn),
            ("I0102 10:00:00.000000 1234 main.go:10] ok", Level::Info),
            ("Traceback (most recent call last):", Level::Error),
            ("thread 'main' panicked at src/main.rs:2:5:", Level::Error),
            ("panic: runtime error: index out of range", Level::Error),
            ("error: could not compile `x`", Level::Error),
            ("warning: unused variable", Level::Warn),
            ("ValueError: invalid literal", Level::Error),
            ("java.lang.IllegalStateException: bad", Level::Error),
            ("sh: 1: nosuchcmd: not found", Level::Error),
            ("time=\"2026\" level=debug msg=tick", Level::Debug),
            ("DBG verbose detail", Level::Debug),
            ("FATAL cannot continue", Level::Error),
        ];
        for (line, want) in cases {
            let (level, message, fields) = parse_line(line);
            assert_eq!(level, *want, "line: {line}");
            assert_eq!(message, *line, "plain lines keep their text");
            assert!(fields.is_none());
        }
    }

    #[test]
    fn plain_words_are_not_levels() {
        for line in [
            "Error rate is 0.1%",
            "information is power",
            "listening on 127.0.0.1:8080",
            "GET /errors 200",
            "",
            "served request for user warn",
        ] {
            assert_eq!(parse_line(line).0, Level::Info, "line: {line}");
        }
    }

    #[test]
    fn json_lines() {
        let (level, message, fields) =
            parse_line(r#"{"level":"warn","msg":"disk full","disk":"/var","pct":97}"#);
        assert_eq!(level, Level::Warn);
        assert_eq!(message, "disk full");
        let fields = fields.expect("remaining fields are kept");
        assert_eq!(fields.get("disk"), Some(&Value::from("/var")));
        assert_eq!(fields.get("pct"), Some(&Value::from(97)));
        assert!(!fields.contains_key("level") && !fields.contains_key("msg"));

        let cases: &[(&str, Level, &str)] = &[
            (
                r#"{"severity":"ERROR","message":"boom"}"#,
                Level::Error,
                "boom",
            ),
            (r#"{"lvl":"Debug","msg":"x"}"#, Level::Debug, "x"),
            (r#"{"level":"WARNING","msg":"y"}"#, Level::Warn, "y"),
            (
                r#"{"levelname":"CRITICAL","message":"z"}"#,
                Level::Error,
                "z",
            ),
            (r#"{"level":10,"msg":"t"}"#, Level::Trace, "t"),
            (r#"{"level":20,"msg":"d"}"#, Level::Debug, "d"),
            (r#"{"level":30,"msg":"i"}"#, Level::Info, "i"),
            (r#"{"level":40,"msg":"w"}"#, Level::Warn, "w"),
            (r#"{"level":50,"msg":"e"}"#, Level::Error, "e"),
            (r#"{"level":60,"msg":"f"}"#, Level::Error, "f"),
            (r#"{"level":"50","msg":"s"}"#, Level::Error, "s"),
            (r#"  {"msg":"no level"}  "#, Level::Info, "no level"),
            (
                r#"{"level":"warn","msg":{"nested":1}}"#,
                Level::Warn,
                r#"{"nested":1}"#,
            ),
        ];
        for (line, want_level, want_message) in cases {
            let (level, message, _) = parse_line(line);
            assert_eq!(level, *want_level, "line: {line}");
            assert_eq!(message, *want_message, "line: {line}");
        }
    }

    #[test]
    fn json_without_message_keeps_the_line() {
        let line = r#"{"level":"info","event":"tick"}"#;
        let (level, message, fields) = parse_line(line);
        assert_eq!(level, Level::Info);
        assert_eq!(message, line);
        assert_eq!(
            fields.and_then(|f| f.get("event").cloned()),
            Some(Value::from("tick"))
        );
    }

    #[test]
    fn broken_json_is_plain_text() {
        let line = r#"{"level":"error","msg": oops}"#;
        let (level, message, fields) = parse_line(line);
        assert_eq!(level, Level::Info);
        assert_eq!(message, line);
        assert!(fields.is_none());
    }

    #[test]
    fn ansi_codes_are_stripped() {
        let (level, message, _) = parse_line("\x1b[31mERROR\x1b[0m \x1b[1;33mboom\x1b[0m\r\n");
        assert_eq!(level, Level::Error);
        assert_eq!(message, "ERROR boom");

        let (level, message, _) = parse_line(
            "2026-01-01T00:00:00Z \x1b[33m WARN\x1b[0m app: \x1b]8;;http://x\x1b\\link\x1b]8;;\x07 done",
        );
        assert_eq!(level, Level::Warn);
        assert_eq!(message, "2026-01-01T00:00:00Z  WARN app: link done");

        assert_eq!(strip_ansi("no escapes"), Cow::Borrowed("no escapes"));
        assert_eq!(strip_ansi("trailing\x1b"), "trailing");
    }

    #[test]
    fn unmarked_lines_can_default_to_another_level() {
        let mut parser = StreamParser::with_unmarked_level(Level::Warn);
        assert_eq!(parser.parse("FAIL: 1 of 12 tests failed").0, Level::Warn);
        assert_eq!(parser.parse("ERROR cannot compile").0, Level::Error);
        assert_eq!(
            parser.parse("  at line 3").0,
            Level::Error,
            "continues the error"
        );
        assert_eq!(parser.parse("DEBUG cache hit").0, Level::Debug);
    }

    #[test]
    fn continuation_lines_inherit_error_level() {
        let mut parser = StreamParser::new();
        let lines = [
            ("Traceback (most recent call last):", Level::Error),
            ("  File \"app.py\", line 3, in <module>", Level::Error),
            ("    main()", Level::Error),
            ("ZeroDivisionError: division by zero", Level::Error),
            ("listening again", Level::Info),
            ("  indented but after info", Level::Info),
            ("WARN slow", Level::Warn),
            ("Caused by: timeout", Level::Warn),
            ("DEBUG x", Level::Debug),
        ];
        for (line, want) in lines {
            assert_eq!(parser.parse(line).0, want, "line: {line}");
        }
    }
}
