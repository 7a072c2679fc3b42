//! Every line the CLI prints goes through here, so that a closed stdout ends the command
//! quietly instead of panicking with "failed printing to stdout".
//!
//! `naap logs P | head -1`: once `head` has its line it closes the pipe, and the next write
//! fails with EPIPE. The classic Unix route, restoring SIGPIPE's default so the kernel kills
//! the process, is not taken: the same signal would also kill the CLI when the *engine's*
//! socket closes under a write, and `naap logs -f` must survive that and reconnect. Rust
//! ignores SIGPIPE, so the write returns EPIPE; [`write`] turns it into [`StdoutClosed`],
//! which `cli::finish` maps to exit status 0 with nothing on stderr (what ripgrep does:
//! the reader having had enough is not a failure of the writer).

use std::fmt;
use std::io::Write;

/// The reader of stdout went away; the command stops and exits 0 without a message.
#[derive(Debug)]
pub struct StdoutClosed;

impl fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("stdout was closed")
    }
}
impl std::error::Error for StdoutClosed {}

/// Writes to stdout; a closed pipe is [`StdoutClosed`], any other failure an error.
pub fn write(args: fmt::Arguments<'_>) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_fmt(args).map_err(|e| {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            anyhow::Error::new(StdoutClosed)
        } else {
            anyhow::anyhow!("cannot write to stdout: {e}")
        }
    })
}

/// Writes to stdout for a process that must outlive its reader (the engine in `naap
/// serve` and `naap demo`): a failed write is dropped, the engine keeps serving.
pub fn write_best_effort(args: fmt::Arguments<'_>) {
    let _ = std::io::stdout().lock().write_fmt(args);
}

/// A note for the person at the terminal (stderr); a closed stderr drops it.
pub fn note(args: fmt::Arguments<'_>) {
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// Whether an error is (or wraps) [`StdoutClosed`].
pub fn is_closed(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| cause.is::<StdoutClosed>())
}

/// `println!` that returns `anyhow::Result`, failing with [`StdoutClosed`] on a closed pipe.
macro_rules! outln {
    () => {
        $crate::cli::stdout::write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::stdout::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` that returns `anyhow::Result`, failing with [`StdoutClosed`] on a closed pipe.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::stdout::write(format_args!($($arg)*))
    };
}

/// `println!` for the engine's own console: never fails, never panics.
macro_rules! sayln {
    ($($arg:tt)*) => {
        $crate::cli::stdout::write_best_effort(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprintln!` that never panics (a closed stderr drops the note).
macro_rules! noteln {
    ($($arg:tt)*) => {
        $crate::cli::stdout::note(format_args!("{}\n", format_args!($($arg)*)))
    };
}
