//! Following a slot's log file and pushing each line into the hub.
//!
//! The child writes to a file rather than a pipe so that it survives the engine; the price is
//! polling at end of file. The tailer also keeps the file bounded: the child opened it with
//! O_APPEND, so truncating it to 0 is safe (its next write lands at the new end).

use crate::core::logs::{LogHub, LogLine, StreamParser};
use crate::core::types::{Level, LogSource, SlotName};
use chrono::{DateTime, Utc};
use std::io::SeekFrom;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Duration;
use tokio::fs::File;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often to look for new output at end of file.
const POLL: Duration = Duration::from_millis(50);
/// Past this size (when caught up) a slot's log file is truncated.
pub(super) const MAX_LOG_FILE: u64 = 32 * 1024 * 1024;
/// A line longer than this is cut into pieces rather than buffered without bound.
const MAX_LINE: usize = 64 * 1024;
/// Read size; also how often, while behind, the file size is checked.
const CHUNK: usize = 64 * 1024;

/// What the tailer should do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TailMode {
    /// Keep following the file.
    Follow,
    /// The writer is gone: read what is left, flush a last unterminated line, end.
    Drain,
    /// End now, leaving unread output in the file.
    Abandon,
}

/// Where a tailer reads and where its lines go.
#[derive(Clone)]
pub(super) struct TailTarget {
    pub hub: LogHub,
    pub plugin: String,
    pub slot: SlotName,
    pub source: LogSource,
    pub path: PathBuf,
    /// Past this size, once read, the file is truncated ([`MAX_LOG_FILE`] for slots).
    pub max_bytes: u64,
}

/// A running tail task.
pub(super) struct Tailer {
    mode: watch::Sender<TailMode>,
    task: JoinHandle<()>,
}

/// Where a tailer starts reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum StartAt {
    Beginning,
    /// The current end (only tests follow a file from now on).
    #[cfg(test)]
    End,
    /// A byte offset: where an earlier read stopped.
    Offset(u64),
}

impl Tailer {
    /// Starts following `target.path` from `start`.
    pub fn spawn_at(target: TailTarget, start: StartAt) -> Tailer {
        let (mode, rx) = watch::channel(TailMode::Follow);
        let task = tokio::spawn(run(target, start, rx));
        Tailer { mode, task }
    }

    /// Tells the tailer to end in `mode` and waits until it has.
    pub async fn finish(self, mode: TailMode) {
        // An error means the task already ended.
        let _ = self.mode.send(mode);
        let _ = self.task.await;
    }
}

/// An open file and our read position in it.
struct Open {
    file: File,
    pos: u64,
}

async fn run(target: TailTarget, start: StartAt, mut mode: watch::Receiver<TailMode>) {
    let mut lines = LineSink::new(&target);
    let mut open: Option<Open> = None;
    // Only the first open starts elsewhere than at 0; a recreated file is read from 0.
    let mut start = start;
    let mut buf = vec![0u8; CHUNK];
    let mut read_since_check = 0usize;
    loop {
        let current = *mode.borrow_and_update();
        if current == TailMode::Abandon {
            return;
        }
        let Some(state) = open.as_mut() else {
            match open_file(&target, start).await {
                Some(opened) => {
                    open = Some(opened);
                    start = StartAt::Beginning;
                }
                None if current == TailMode::Drain => return,
                None => {
                    if !idle(&mut mode).await {
                        return;
                    }
                }
            }
            continue;
        };
        match state.file.read(&mut buf).await {
            Ok(0) => {
                if current == TailMode::Drain {
                    lines.flush();
                    return;
                }
                housekeep(&target, &mut open, &mut lines).await;
                if !idle(&mut mode).await {
                    return;
                }
            }
            Ok(n) => {
                state.pos += n as u64;
                lines.feed(&buf[..n]);
                read_since_check += n;
                if read_since_check >= 16 * CHUNK {
                    read_since_check = 0;
                    skip_if_far_behind(&target, state, &mut lines).await;
                }
            }
            Err(err) => {
                lines.note(
                    Level::Warn,
                    &format!("cannot read {}: {err}; reopening it", target.path.display()),
                );
                lines.flush();
                open = None;
                if !idle(&mut mode).await {
                    return;
                }
            }
        }
    }
}

/// Sleeps one poll interval or until the mode changes. False when the owner is gone.
async fn idle(mode: &mut watch::Receiver<TailMode>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(POLL) => true,
        changed = mode.changed() => changed.is_ok(),
    }
}

async fn open_file(target: &TailTarget, start: StartAt) -> Option<Open> {
    let mut file = File::open(&target.path).await.ok()?;
    let pos = match start {
        StartAt::Beginning => 0,
        #[cfg(test)]
        StartAt::End => file.seek(SeekFrom::End(0)).await.ok()?,
        // Past the end (the file was truncated since): housekeeping rewinds to 0.
        StartAt::Offset(offset) => file.seek(SeekFrom::Start(offset)).await.ok()?,
    };
    Some(Open { file, pos })
}

/// At end of file: notice truncation or replacement by someone else, and truncate the file
/// ourselves when it grew past the limit. Clears `open` when the file must be reopened.
async fn housekeep(target: &TailTarget, open: &mut Option<Open>, lines: &mut LineSink) {
    let Some(state) = open.as_mut() else {
        return;
    };
    let on_disk = tokio::fs::metadata(&target.path).await;
    let ours = state.file.metadata().await;
    let (on_disk, ours) = match (on_disk, ours) {
        (Ok(on_disk), Ok(ours)) => (on_disk, ours),
        // Deleted (or unreadable): wait for it to be created again and read that from 0.
        _ => {
            lines.flush();
            *open = None;
            return;
        }
    };
    if (on_disk.dev(), on_disk.ino()) != (ours.dev(), ours.ino()) {
        lines.flush();
        *open = None;
        return;
    }
    if on_disk.len() < state.pos {
        lines.flush();
        rewind(state).await;
    } else if state.pos >= target.max_bytes {
        truncate(target, state, lines).await;
    }
}

/// While behind a fast writer the file could grow without bound before we reach its end:
/// past twice the limit, skip the backlog, truncate, and say so.
async fn skip_if_far_behind(target: &TailTarget, state: &mut Open, lines: &mut LineSink) {
    let Ok(meta) = state.file.metadata().await else {
        return;
    };
    if meta.len() <= target.max_bytes.saturating_mul(2) {
        return;
    }
    let skipped = meta.len().saturating_sub(state.pos);
    lines.flush();
    lines.note(
        Level::Warn,
        &format!(
            "{} output came faster than naap could read it; skipped {skipped} bytes of {}",
            target.source_name(),
            target.path.display()
        ),
    );
    truncate(target, state, lines).await;
}

async fn truncate(target: &TailTarget, state: &mut Open, lines: &mut LineSink) {
    let result = async {
        let writer = tokio::fs::OpenOptions::new()
            .write(true)
            .open(&target.path)
            .await?;
        writer.set_len(0).await
    }
    .await;
    match result {
        Ok(()) => rewind(state).await,
        Err(err) => lines.note(
            Level::Warn,
            &format!(
                "cannot truncate {} ({err}); it keeps growing, check its permissions",
                target.path.display()
            ),
        ),
    }
}

async fn rewind(state: &mut Open) {
    state.pos = state.file.seek(SeekFrom::Start(0)).await.unwrap_or(0);
}

impl TailTarget {
    pub(super) fn source_name(&self) -> &'static str {
        match self.source {
            LogSource::Stdout => "stdout",
            LogSource::Stderr => "stderr",
            LogSource::Gate => "gate",
            LogSource::Engine => "engine",
            LogSource::Alert => "alert",
        }
    }
}

/// Splits the byte stream into lines, parses them and pushes them into the hub.
pub(super) struct LineSink {
    target: TailTarget,
    parser: StreamParser,
    pending: Vec<u8>,
    /// The time given to every line; `None` for now (live output).
    at: Option<DateTime<Utc>>,
}

impl LineSink {
    pub(super) fn new(target: &TailTarget) -> Self {
        LineSink {
            target: target.clone(),
            parser: StreamParser::new(),
            pending: Vec::new(),
            at: None,
        }
    }

    /// A sink for output written earlier, all stamped `at`.
    pub(super) fn written_at(target: &TailTarget, at: DateTime<Utc>) -> Self {
        LineSink {
            at: Some(at),
            ..LineSink::new(target)
        }
    }

    pub(super) fn feed(&mut self, mut data: &[u8]) {
        while let Some(newline) = data.iter().position(|&b| b == b'\n') {
            let (line, rest) = (&data[..newline], &data[newline + 1..]);
            if self.pending.is_empty() {
                self.emit(line);
            } else {
                self.pending.extend_from_slice(line);
                let whole = std::mem::take(&mut self.pending);
                self.emit(&whole);
            }
            data = rest;
        }
        self.pending.extend_from_slice(data);
        if self.pending.len() >= MAX_LINE {
            self.flush();
        }
    }

    /// Emits an unterminated last line.
    pub(super) fn flush(&mut self) {
        if !self.pending.is_empty() {
            let whole = std::mem::take(&mut self.pending);
            self.emit(&whole);
        }
    }

    fn emit(&mut self, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        let (level, message, fields) = self.parser.parse(&text);
        self.push(self.target.source, level, message, fields);
    }

    /// An engine line about this stream (not part of the child's output).
    pub(super) fn note(&self, level: Level, message: &str) {
        self.push(LogSource::Engine, level, message.to_owned(), None);
    }

    fn push(
        &self,
        source: LogSource,
        level: Level,
        message: String,
        fields: Option<crate::core::logs::Fields>,
    ) {
        self.target.hub.push_line(LogLine {
            seq: 0,
            ts: self.at.unwrap_or_else(Utc::now),
            plugin: self.target.plugin.clone(),
            slot: Some(self.target.slot),
            source,
            level,
            message,
            fields,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::logs::LogQuery;
    use std::io::Write;
    use std::time::Instant;

    fn target(hub: &LogHub, path: PathBuf) -> TailTarget {
        TailTarget {
            hub: hub.clone(),
            plugin: "api".into(),
            slot: SlotName::Blue,
            source: LogSource::Stdout,
            path,
            max_bytes: MAX_LOG_FILE,
        }
    }

    fn messages(hub: &LogHub) -> Vec<String> {
        messages_after(hub, 0)
    }

    fn messages_after(hub: &LogHub, seq: u64) -> Vec<String> {
        let q = LogQuery {
            after_seq: Some(seq),
            ..LogQuery::for_plugin("api")
        };
        hub.query(&q).into_iter().map(|l| l.message).collect()
    }

    async fn wait_for_messages(hub: &LogHub, after: u64, want: &[&str]) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = messages_after(hub, after);
            if got == want {
                return;
            }
            assert!(Instant::now() < deadline, "got {got:?}, want {want:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn append(path: &std::path::Path, data: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("open for append");
        f.write_all(data.as_bytes()).expect("append");
    }

    #[tokio::test]
    async fn follows_appends_partial_lines_and_truncation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out.log");
        append(&path, "old line\n");
        let hub = LogHub::new(100);
        let tailer = Tailer::spawn_at(target(&hub, path.clone()), StartAt::End);
        // Probe until the tailer has opened the file (at its end) and seen a probe.
        let deadline = Instant::now() + Duration::from_secs(10);
        while messages(&hub).is_empty() {
            assert!(Instant::now() < deadline, "the tailer never read a probe");
            append(&path, "probe\n");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            !messages(&hub).iter().any(|m| m == "old line"),
            "started at the end"
        );
        // Lines arrive in file order: once `mark` is in, every probe before it is too.
        append(&path, "mark\n");
        let deadline = Instant::now() + Duration::from_secs(10);
        while messages(&hub).last().map(String::as_str) != Some("mark") {
            assert!(Instant::now() < deadline, "the mark line never arrived");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mark = hub.last_seq();

        append(&path, "first\nsec");
        wait_for_messages(&hub, mark, &["first"]).await;
        append(&path, "ond\n");
        wait_for_messages(&hub, mark, &["first", "second"]).await;

        // Someone else truncates the file. The new content is shorter than our read
        // position, so the tailer notices and starts over from 0 whenever it looks.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_len(0))
            .expect("truncate");
        append(&path, "truncated\n");
        wait_for_messages(&hub, mark, &["first", "second", "truncated"]).await;

        append(&path, "unterminated");
        tailer.finish(TailMode::Drain).await;
        assert_eq!(
            messages_after(&hub, mark),
            vec!["first", "second", "truncated", "unterminated"]
        );
    }

    #[tokio::test]
    async fn waits_for_a_missing_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("later.log");
        let hub = LogHub::new(100);
        let tailer = Tailer::spawn_at(target(&hub, path.clone()), StartAt::Beginning);
        append(&path, "hello\n");
        wait_for_messages(&hub, 0, &["hello"]).await;
        tailer.finish(TailMode::Abandon).await;
    }

    #[tokio::test]
    async fn truncates_the_file_once_read_past_the_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big.log");
        let line = format!("{}\n", "x".repeat(99));
        append(&path, &line.repeat(100));
        let hub = LogHub::new(1000);
        let tailer = Tailer::spawn_at(
            TailTarget {
                max_bytes: 4096,
                ..target(&hub, path.clone())
            },
            StartAt::Beginning,
        );
        wait_until_file_len(&path, 0).await;
        assert_eq!(
            messages(&hub).len(),
            100,
            "every line was read before truncating"
        );
        append(&path, "after\n");
        wait_for_messages(&hub, 100, &["after"]).await;
        tailer.finish(TailMode::Abandon).await;
    }

    async fn wait_until_file_len(path: &std::path::Path, len: u64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = std::fs::metadata(path).expect("file exists").len();
            if now == len {
                return;
            }
            assert!(Instant::now() < deadline, "file is {now} bytes, want {len}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[test]
    fn sink_splits_lines_and_bounds_long_ones() {
        let hub = LogHub::new(100);
        let mut sink = LineSink::new(&target(&hub, PathBuf::from("/nonexistent")));
        sink.feed(b"a\nb");
        sink.feed(b"c\n\nd");
        assert_eq!(messages(&hub), vec!["a", "bc", ""]);
        sink.flush();
        assert_eq!(messages(&hub), vec!["a", "bc", "", "d"]);
        let long = vec![b'x'; MAX_LINE + 10];
        sink.feed(&long);
        let got = messages(&hub);
        assert_eq!(got.len(), 5);
        assert_eq!(got[4].len(), MAX_LINE + 10);
    }
}
