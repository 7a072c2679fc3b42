//! Helpers for the `naap logs` tests: a plugin whose output the test chooses, a CLI
//! process read line by line while it runs, and a stdout pipe closed after one line.

use super::NAAP;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A plugin that runs `prelude` (shell) and then Python's HTTP server, whose request log
/// (one line per request, on stderr) reaches naap's logs.
pub fn python_plugin(name: &str, prelude: &str) -> String {
    format!(
        r#"[plugin]
name = "{name}"
version = "1.0.0"
route = "/{name}"

[run]
command = '''{prelude} exec python3 -m http.server $PORT --bind 127.0.0.1'''
stop_grace = "2s"

[health]
path = "/"
interval = "200ms"
timeout = "150ms"
"#
    )
}

/// A running CLI command whose stdout lines (and stderr) are collected as they come.
pub struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
    pub seen: Vec<String>,
    pub errors: Vec<String>,
}

impl Running {
    pub fn spawn(workspace: &Path, args: &[&str]) -> Running {
        let mut child = Command::new(NAAP)
            .arg("--workspace")
            .arg(workspace)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn naap");
        Running {
            lines: forward_lines(child.stdout.take().expect("stdout")),
            stderr: forward_lines(child.stderr.take().expect("stderr")),
            child,
            seen: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Waits until a stdout line contains `text`; false at the deadline.
    pub fn wait_line(&mut self, text: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.seen.iter().any(|l| l.contains(text)) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            match self
                .lines
                .recv_timeout(left.min(Duration::from_millis(200)))
            {
                Ok(line) => self.seen.push(line),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return false,
            }
        }
    }

    /// Everything written to stderr so far.
    pub fn stderr_so_far(&mut self) -> String {
        while let Ok(line) = self.stderr.try_recv() {
            self.errors.push(line);
        }
        self.errors.join("\n")
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn forward_lines(stream: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Runs the CLI with stdout into a one-page pipe, reads its first line, closes the pipe and
/// waits for the command to end: its exit status, first line and stderr.
pub fn first_line_then_close(workspace: &Path, args: &[&str]) -> (ExitStatus, String, String) {
    let mut fds = [0; 2];
    // Close-on-exec, so that the child holds only its stdout, not our read end.
    // SAFETY: pipe2() fills two fresh descriptors that are ours alone.
    assert_eq!(
        unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) },
        0,
        "pipe"
    );
    // SAFETY: both descriptors were just created and are owned only here.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // A small pipe, so the command is still writing when the reader goes away.
    // SAFETY: fcntl on a descriptor we own.
    unsafe { libc::fcntl(fds[1], libc::F_SETPIPE_SZ, 4096) };
    let mut child = Command::new(NAAP)
        .arg("--workspace")
        .arg(workspace)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(write))
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn naap");
    let mut reader = std::fs::File::from(read);
    let mut first = Vec::new();
    let mut byte = [0u8; 1];
    // Byte by byte: only the first line leaves the pipe.
    while reader.read(&mut byte).unwrap_or(0) == 1 && byte[0] != b'\n' {
        first.push(byte[0]);
    }
    drop(reader);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("naap {args:?} did not end after its reader went away");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut err);
    }
    (status, String::from_utf8_lossy(&first).into_owned(), err)
}

/// One plain HTTP/1.0 GET through the router (from a synchronous test), ignoring the
/// answer: the request itself is what the plugin logs.
pub fn poke(router: &str, path: &str) {
    use std::io::Write;
    let Ok(mut stream) = std::net::TcpStream::connect(router) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = write!(stream, "GET {path} HTTP/1.0\r\nHost: {router}\r\n\r\n");
    let _ = stream.read_to_end(&mut Vec::new());
}
