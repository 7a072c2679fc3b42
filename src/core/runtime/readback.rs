//! After an engine restart, the output a slot wrote before it is only in the slot's log
//! files. The end of each file is read back into the hub (bounded, through the same parser
//! as live lines, so levels are detected) after a notice that says where it came from.

use super::tail::{LineSink, TailTarget};
use crate::core::types::Level;
use chrono::{DateTime, Utc};
use std::io::{Read, Seek, SeekFrom};

/// At most this much of the end of each log file is read back.
pub(super) const READ_BACK_BYTES: u64 = 256 * 1024;
/// At most this many lines of each log file are read back.
pub(super) const READ_BACK_LINES: usize = 2000;

/// What a read-back found.
pub(super) struct ReadBack {
    /// Where reading stopped: after the last complete line (an adopted process may still be
    /// writing the rest), or the file's end when `flush_partial`.
    pub end: u64,
}

/// Reads back the end of `target.path` into the hub. With `flush_partial`, an unterminated
/// last line is pushed too (nobody writes to the file any more); otherwise it is left for the
/// tailer that starts at `end`. A missing or empty file pushes nothing.
pub(super) fn read_back(target: &TailTarget, flush_partial: bool) -> ReadBack {
    let nothing = ReadBack { end: 0 };
    let Ok(mut file) = std::fs::File::open(&target.path) else {
        return nothing;
    };
    let Ok(meta) = file.metadata() else {
        return nothing;
    };
    let len = meta.len();
    if len == 0 {
        return nothing;
    }
    let from = len.saturating_sub(READ_BACK_BYTES);
    let mut data = Vec::new();
    let read = file
        .seek(SeekFrom::Start(from))
        .and_then(|_| file.take(len - from).read_to_end(&mut data));
    if let Err(err) = read {
        LineSink::new(target).note(
            Level::Warn,
            &format!(
                "cannot read back {} after the engine restart: {err}",
                target.path.display()
            ),
        );
        return ReadBack { end: len };
    }
    let end = from + data.len() as u64;
    // Started mid-file: the first piece is the tail of a line cut off; skip it.
    let mut start = 0;
    if from > 0 {
        start = data
            .iter()
            .position(|&b| b == b'\n')
            .map_or(data.len(), |i| i + 1);
    }
    let (complete, partial) = match data.iter().rposition(|&b| b == b'\n') {
        Some(i) if i + 1 >= start => (start..i + 1, i + 1..data.len()),
        _ => (start..start, start..data.len()),
    };
    let partial = if flush_partial {
        partial
    } else {
        partial.end..partial.end
    };
    let body = &data[complete.clone()];
    let mut lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
    lines.pop(); // after the last newline
    let total = lines.len() + usize::from(!partial.is_empty());
    let skip = total.saturating_sub(READ_BACK_LINES);
    let shown = total - skip;
    if shown > 0 {
        let cut = from > 0 || skip > 0;
        LineSink::new(target).note(
            Level::Info,
            &format!(
                "{shown} {} line(s) from before this engine started, read back from {}{}",
                target.source_name(),
                target.path.display(),
                if cut { " (the end of it)" } else { "" }
            ),
        );
    }
    let written: DateTime<Utc> = meta
        .modified()
        .map(Into::into)
        .unwrap_or_else(|_| Utc::now());
    let mut sink = LineSink::written_at(target, written);
    for line in lines.into_iter().skip(skip) {
        sink.feed(line);
        sink.feed(b"\n");
    }
    if !partial.is_empty() {
        sink.feed(&data[partial.clone()]);
        sink.flush();
    }
    let stopped_at = if flush_partial {
        end
    } else {
        from + complete.end as u64
    };
    ReadBack { end: stopped_at }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::logs::{LogHub, LogQuery};
    use crate::core::types::{LogSource, SlotName};

    fn target(hub: &LogHub, path: std::path::PathBuf) -> TailTarget {
        TailTarget {
            hub: hub.clone(),
            plugin: "api".into(),
            slot: SlotName::Blue,
            source: LogSource::Stderr,
            path,
            max_bytes: super::super::tail::MAX_LOG_FILE,
        }
    }

    fn lines(hub: &LogHub) -> Vec<(LogSource, Level, String)> {
        hub.query(&LogQuery::for_plugin("api"))
            .into_iter()
            .map(|l| (l.source, l.level, l.message))
            .collect()
    }

    #[test]
    fn reads_back_with_a_notice_and_detects_levels() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("api.blue.stderr.log");
        std::fs::write(&path, "starting\nERROR config missing\nhalf a li").expect("write");
        let hub = LogHub::new(100);
        let back = read_back(&target(&hub, path.clone()), false);
        assert_eq!(back.end, "starting\nERROR config missing\n".len() as u64);
        let got = lines(&hub);
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0].0, LogSource::Engine);
        assert!(
            got[0].2.starts_with("2 stderr line(s) from before"),
            "{got:?}"
        );
        assert!(got[0].2.contains(&path.display().to_string()), "{got:?}");
        assert_eq!(got[1].2, "starting");
        assert_eq!((got[2].0, got[2].1), (LogSource::Stderr, Level::Error));

        let hub = LogHub::new(100);
        let back = read_back(&target(&hub, path.clone()), true);
        assert_eq!(back.end, std::fs::metadata(&path).expect("meta").len());
        assert_eq!(
            lines(&hub).last().map(|l| l.2.clone()),
            Some("half a li".into())
        );
    }

    #[test]
    fn reads_only_the_end_of_a_long_file_and_nothing_of_an_empty_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big.log");
        let text: String = (0..5000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, text).expect("write");
        let hub = LogHub::new(10_000);
        read_back(&target(&hub, path.clone()), true);
        let got = lines(&hub);
        assert_eq!(got.len(), READ_BACK_LINES + 1);
        assert!(got[0].2.contains("(the end of it)"), "{}", got[0].2);
        assert_eq!(got.last().map(|l| l.2.as_str()), Some("line 4999"));

        let empty = dir.path().join("empty.log");
        std::fs::write(&empty, "").expect("write");
        let hub = LogHub::new(10);
        read_back(&target(&hub, empty), true);
        read_back(&target(&hub, dir.path().join("missing.log")), true);
        assert!(lines(&hub).is_empty());
    }
}
