//! The socket client every face uses. It can start an engine in the background when none
//! runs (the tmux model): the engine outlives the terminal that started it.

use super::protocol::{Call, Confirmation, Request, ServerLine};
use crate::core::engine::{EngineEvent, lock, socket_path};
use crate::core::hint::Hint;
use crate::core::types::Face;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

/// How long a started engine has to open its socket.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a client waits for a running engine to bind its socket again (it checks once
/// a second) before saying the socket is gone.
const SOCKET_RETURN_WAIT: Duration = Duration::from_secs(3);

/// Lines of a failed start's output shown with the error.
const START_OUTPUT_LINES: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    // What to do about these is said by each face (the CLI: `naap serve`, `naap stop`).
    #[error("no naap engine runs for this workspace (no socket at {0})")]
    NoEngine(PathBuf),
    #[error(
        "engine pid {pid} runs but its socket {} is gone; it binds a new one within a second or two",
        socket.display()
    )]
    SocketGone { pid: u32, socket: PathBuf },
    #[error("could not start the engine: {0}")]
    StartFailed(String),
    #[error("lost the connection to the engine: {0}")]
    Io(std::io::Error),
    #[error("the engine sent something this naap does not understand: {0}")]
    Protocol(String),
    /// The engine refused or failed; `hints` say what would help, for the face to render.
    #[error("{message}")]
    Api {
        code: String,
        message: String,
        hints: Vec<Hint>,
    },
}

// Not `#[from]`: that would also make the io error the `source`, printed twice.
impl From<std::io::Error> for ClientError {
    fn from(error: std::io::Error) -> Self {
        ClientError::Io(error)
    }
}

pub struct Client {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    next_id: u64,
    face: Face,
    /// Pushes that arrived while waiting for a reply, in order.
    pending: std::collections::VecDeque<EngineEvent>,
}

impl Client {
    pub async fn connect(socket: &Path, face: Face) -> Result<Client, ClientError> {
        let stream = UnixStream::connect(socket)
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                    ClientError::NoEngine(socket.to_path_buf())
                }
                _ => ClientError::Io(e),
            })?;
        let (read, writer) = stream.into_split();
        Ok(Client {
            reader: BufReader::new(read),
            writer,
            next_id: 1,
            face,
            pending: Default::default(),
        })
    }

    /// Connects to a running engine, without starting one. When the socket is missing but
    /// an engine holds the workspace lock, says so instead of "no engine runs".
    pub async fn connect_running(state_dir: &Path, face: Face) -> Result<Client, ClientError> {
        let socket = socket_path(state_dir);
        match Client::connect(&socket, face).await {
            Err(ClientError::NoEngine(_)) => Err(no_engine_or_socket_gone(state_dir, socket)),
            other => other,
        }
    }

    /// Connects to the workspace's engine, starting one in the background when none runs.
    /// Returns the client and, when it started one, the engine's log file.
    pub async fn connect_or_start(
        workspace_root: &Path,
        state_dir: &Path,
        face: Face,
    ) -> Result<(Client, Option<PathBuf>), ClientError> {
        let socket = socket_path(state_dir);
        match Client::connect(&socket, face).await {
            Ok(client) => return Ok((client, None)),
            Err(ClientError::NoEngine(_)) => {}
            Err(e) => return Err(e),
        }
        if lock::holder(state_dir).is_some() {
            // An engine runs (or is starting): starting another would only fail on the lock.
            return Ok((wait_for_socket(state_dir, face).await?, None));
        }
        let started = start_engine(workspace_root, state_dir)?;
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        let mut child = started.child;
        loop {
            match Client::connect(&socket, face).await {
                Ok(client) => return Ok((client, Some(started.log))),
                Err(ClientError::NoEngine(_)) => {}
                Err(e) => return Err(e),
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(ClientError::StartFailed(explain_exit(
                    &started.log,
                    started.offset,
                    status,
                )));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ClientError::StartFailed(format!(
                    "the engine did not open {} within {}s; see {}",
                    socket.display(),
                    START_TIMEOUT.as_secs(),
                    started.log.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends one request and waits for its reply; pushes that arrive meanwhile are kept.
    pub async fn call(&mut self, call: Call) -> Result<serde_json::Value, ClientError> {
        self.call_with(call, None, None).await
    }

    /// [`Client::call`] with a person's confirmation, which a production workspace needs
    /// for every change (`api::production`).
    pub async fn call_confirmed(
        &mut self,
        call: Call,
        confirm: Option<Confirmation>,
    ) -> Result<serde_json::Value, ClientError> {
        self.call_with(call, None, confirm).await
    }

    /// Runs the call a person approved as operator proposal `proposal` (the audit names it).
    pub async fn call_for_proposal(
        &mut self,
        call: Call,
        proposal: &str,
        confirm: Option<Confirmation>,
    ) -> Result<serde_json::Value, ClientError> {
        self.call_with(call, Some(proposal.to_string()), confirm)
            .await
    }

    async fn call_with(
        &mut self,
        call: Call,
        proposal: Option<String>,
        confirm: Option<Confirmation>,
    ) -> Result<serde_json::Value, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut line = serde_json::to_string(&Request {
            id,
            call,
            face: self.face,
            proposal,
            confirm,
        })
        .map_err(|e| ClientError::Protocol(e.to_string()))?;
        line.push('\n');
        self.writer.write_all(line.as_bytes()).await?;
        loop {
            match self.read_server_line().await? {
                ServerLine::Push(push) => self.pending.push_back(push.push),
                ServerLine::Reply(reply) if reply.id == Some(id) => {
                    return match (reply.ok, reply.result, reply.error) {
                        (true, Some(result), _) => Ok(result),
                        (true, None, _) => Ok(serde_json::Value::Null),
                        (false, _, Some(err)) => Err(ClientError::Api {
                            code: err.code,
                            message: err.message,
                            hints: err.hints,
                        }),
                        (false, _, None) => Err(ClientError::Protocol(
                            "error reply without an error".to_string(),
                        )),
                    };
                }
                ServerLine::Reply(_) => {} // a reply to an earlier, abandoned request
            }
        }
    }

    pub async fn call_as<T: DeserializeOwned>(&mut self, call: Call) -> Result<T, ClientError> {
        let value = self.call(call).await?;
        serde_json::from_value(value).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// The next pushed event (after `subscribe`).
    pub async fn next_push(&mut self) -> Result<EngineEvent, ClientError> {
        if let Some(event) = self.pending.pop_front() {
            return Ok(event);
        }
        loop {
            if let ServerLine::Push(push) = self.read_server_line().await? {
                return Ok(push.push);
            }
        }
    }

    async fn read_server_line(&mut self) -> Result<ServerLine, ClientError> {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).await?;
        if n == 0 {
            return Err(ClientError::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the engine closed the connection",
            )));
        }
        serde_json::from_str(&line)
            .map_err(|e| ClientError::Protocol(format!("{e} in {}", line.trim())))
    }
}

/// Waits a little for an engine that holds the lock to (re)bind its socket.
async fn wait_for_socket(state_dir: &Path, face: Face) -> Result<Client, ClientError> {
    let socket = socket_path(state_dir);
    let deadline = tokio::time::Instant::now() + SOCKET_RETURN_WAIT;
    loop {
        match Client::connect(&socket, face).await {
            Err(ClientError::NoEngine(_)) => {}
            other => return other,
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(no_engine_or_socket_gone(state_dir, socket));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// "No engine runs", unless one holds the lock: then its socket is what is missing.
fn no_engine_or_socket_gone(state_dir: &Path, socket: PathBuf) -> ClientError {
    match lock::holder(state_dir) {
        Some(holder) => ClientError::SocketGone {
            pid: holder.pid,
            socket,
        },
        None => ClientError::NoEngine(socket),
    }
}

/// A `naap serve` started in the background: its output file, where this attempt's output
/// begins in it (the file keeps earlier engines' output), and the process.
struct Started {
    log: PathBuf,
    offset: u64,
    child: std::process::Child,
}

/// Why a started engine exited: the error it printed first, then the rest of this
/// attempt's output (never an earlier engine's).
fn explain_exit(log: &Path, offset: u64, status: std::process::ExitStatus) -> String {
    let output = read_from(log, offset);
    let lines: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).collect();
    // `naap serve` prints its failure as `naap: <cause>` (first line of a multi-line error).
    let cause = lines
        .iter()
        .rposition(|l| l.starts_with("naap: "))
        .map(|i| lines[i].trim_start_matches("naap: ").to_string());
    // The rest, without repeating the cause.
    let rest: Vec<&str> = lines
        .iter()
        .filter(|l| cause.as_deref() != Some(l.trim_start_matches("naap: ")))
        .copied()
        .collect();
    let shown = &rest[rest.len().saturating_sub(START_OUTPUT_LINES)..];
    let mut message = match &cause {
        Some(cause) => format!("{cause}\n  `naap serve` exited ({status})"),
        None => format!("`naap serve` exited ({status})"),
    };
    if !shown.is_empty() {
        message.push_str(&format!(
            "; its output (from {}):\n{}",
            log.display(),
            shown
                .iter()
                .map(|l| format!("    {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
    message
}

fn read_from(path: &Path, offset: u64) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let mut text = Vec::new();
    if let Ok(mut file) = std::fs::File::open(path)
        && file.seek(SeekFrom::Start(offset)).is_ok()
    {
        let _ = file.read_to_end(&mut text);
    }
    String::from_utf8_lossy(&text).into_owned()
}

/// Starts `naap serve` detached from this terminal: its own session, output to a file.
fn start_engine(workspace_root: &Path, state_dir: &Path) -> Result<Started, ClientError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    use std::os::unix::process::CommandExt;
    // Owner-only like everything the engine writes; the engine is not running yet to
    // set its umask.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(state_dir)
        .map_err(|e| {
            ClientError::StartFailed(format!("cannot create {}: {e}", state_dir.display()))
        })?;
    let log = state_dir.join("engine.out");
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&log)
        .and_then(|file| {
            crate::core::private_files::make_owner_only(&log)?;
            Ok(file)
        })
        .map_err(|e| ClientError::StartFailed(format!("cannot open {}: {e}", log.display())))?;
    // Appending: this attempt's output starts at the current end.
    let offset = out.metadata().map(|m| m.len()).unwrap_or(0);
    let err = out
        .try_clone()
        .map_err(|e| ClientError::StartFailed(e.to_string()))?;
    let exe = std::env::current_exe()
        .map_err(|e| ClientError::StartFailed(format!("cannot find the naap binary: {e}")))?;
    let mut command = std::process::Command::new(exe);
    command
        .arg("serve")
        .arg("--workspace")
        .arg(workspace_root)
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err);
    // SAFETY: setsid() is async-signal-safe; it detaches the engine from the terminal so a
    // hangup (closed SSH session) does not reach it.
    unsafe {
        command.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let child = command
        .spawn()
        .map_err(|e| ClientError::StartFailed(e.to_string()))?;
    Ok(Started { log, offset, child })
}
