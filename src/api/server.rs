//! Serves an engine on its unix socket. Each request runs in its own task, so a long deploy
//! does not hold up a status query on the same connection.

use super::protocol::{Call, MAX_LINE_BYTES, Push, Reply, Request};
use crate::core::engine::{Engine, EngineEvent, RolloutCommand};
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;

/// How often the server checks that its socket is still the file at its path.
const SOCKET_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Binds the socket (owner-only) and serves until the engine shuts down. Someone deleting
/// or replacing the socket file would leave an engine no client can reach, so once a second
/// the server checks the path still holds its socket (one `lstat`) and binds a new one when
/// it does not.
pub async fn serve(engine: Engine, socket: std::path::PathBuf) -> std::io::Result<()> {
    // The engine lock is held, so a socket file left here is a dead engine's.
    let _ = std::fs::remove_file(&socket);
    let mut bound = BoundSocket::bind(&socket)?;
    let mut shutdown = engine.shutdown_requested();
    let mut check = tokio::time::interval(SOCKET_CHECK_EVERY);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_failure: Option<String> = None;
    loop {
        tokio::select! {
            accepted = bound.listener.accept() => match accepted {
                Ok((stream, _)) => { tokio::spawn(connection(engine.clone(), stream)); }
                Err(e) => tracing::warn!("socket accept failed: {e}"),
            },
            _ = check.tick() => {
                if let Some(problem) = bound.missing_from(&socket) {
                    match rebind(&socket) {
                        Ok(fresh) => {
                            tracing::warn!("the engine socket {} {problem}; bound a new one", socket.display());
                            bound = fresh;
                            last_failure = None;
                        }
                        Err(e) => {
                            let why = format!("the engine socket {} {problem} and a new one cannot be bound: {e}", socket.display());
                            // Once per distinct failure, not every second.
                            if last_failure.as_deref() != Some(why.as_str()) {
                                tracing::error!("{why}; clients cannot reach this engine, `naap stop` stops it through its pid");
                                last_failure = Some(why);
                            }
                        }
                    }
                }
            }
            _ = shutdown.changed() => break,
        }
    }
    // Only our own socket: a file someone put in its place is not ours to remove.
    if bound.missing_from(&socket).is_none() {
        let _ = std::fs::remove_file(&socket);
    }
    Ok(())
}

/// The listening socket and the inode of the file it created.
struct BoundSocket {
    listener: UnixListener,
    inode: u64,
}

impl BoundSocket {
    fn bind(path: &std::path::Path) -> std::io::Result<BoundSocket> {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        let inode = std::fs::symlink_metadata(path)?.ino();
        Ok(BoundSocket { listener, inode })
    }

    /// What happened to the socket file, when the path no longer holds it.
    fn missing_from(&self, path: &std::path::Path) -> Option<&'static str> {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some("was deleted"),
            Err(_) => Some("cannot be read"),
            Ok(meta) if meta.ino() != self.inode || !meta.file_type().is_socket() => {
                Some("was replaced by another file")
            }
            Ok(_) => None,
        }
    }
}

/// Binds the socket again at `path`, removing a file that took its place (never a directory).
fn rebind(path: &std::path::Path) -> std::io::Result<BoundSocket> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => {
            return Err(std::io::Error::other("a directory is in its place"));
        }
        Ok(_) => std::fs::remove_file(path)?,
        Err(_) => {}
    }
    BoundSocket::bind(path)
}

async fn connection(engine: Engine, stream: UnixStream) {
    let (read, mut write) = stream.into_split();
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        while let Some(mut line) = out_rx.recv().await {
            line.push('\n');
            if write.write_all(line.as_bytes()).await.is_err() {
                break;
            }
        }
    });
    let mut reader = BufReader::new(read);
    loop {
        match read_line(&mut reader).await {
            Ok(Some(Line::Text(line))) => {
                if line.trim().is_empty() {
                    continue;
                }
                handle_line(&engine, &line, &out_tx);
            }
            Ok(Some(Line::TooLong)) => {
                send(
                    &out_tx,
                    &Reply::error(
                        None,
                        "bad_request",
                        format!("request line longer than {MAX_LINE_BYTES} bytes; it was dropped"),
                    ),
                );
            }
            Ok(None) | Err(_) => break,
        }
    }
    drop(out_tx);
    let _ = writer.await;
}

enum Line {
    Text(String),
    TooLong,
}

/// Reads one line of at most `MAX_LINE_BYTES`; a longer one is skipped to its end.
async fn read_line<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
) -> std::io::Result<Option<Line>> {
    let mut buf = Vec::new();
    let n = (&mut *reader)
        .take(MAX_LINE_BYTES as u64 + 1)
        .read_until(b'\n', &mut buf)
        .await?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') && buf.len() > MAX_LINE_BYTES {
        let mut rest = Vec::new();
        loop {
            rest.clear();
            let n = (&mut *reader)
                .take(64 * 1024)
                .read_until(b'\n', &mut rest)
                .await?;
            if n == 0 || rest.last() == Some(&b'\n') {
                break;
            }
        }
        return Ok(Some(Line::TooLong));
    }
    Ok(Some(Line::Text(String::from_utf8_lossy(&buf).into_owned())))
}

fn send<T: Serialize>(out: &mpsc::UnboundedSender<String>, value: &T) {
    if let Ok(line) = serde_json::to_string(value) {
        let _ = out.send(line);
    }
}

fn handle_line(engine: &Engine, line: &str, out: &mpsc::UnboundedSender<String>) {
    let value: serde_json::Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => {
            send(
                out,
                &Reply::error(
                    None,
                    "bad_request",
                    format!(
                        "not JSON: {e}; send one JSON object per line, e.g. {{\"id\":1,\"method\":\"status\"}}"
                    ),
                ),
            );
            return;
        }
    };
    let id = value.get("id").and_then(|v| v.as_u64());
    // `params` may be left out when a method needs none.
    let mut value = value;
    if let Some(object) = value.as_object_mut() {
        object
            .entry("params")
            .or_insert_with(|| serde_json::json!({}));
    }
    let request: Request = match serde_json::from_value(value) {
        Ok(r) => r,
        Err(e) => {
            send(
                out,
                &Reply::error(
                    id,
                    "bad_request",
                    format!(
                        "malformed request: {e}; methods: ping, status, deploy, promote, abort, pause, resume, traffic, rollback, logs, history, alerts, silence, unsilence, ack, preview_stop, reload, subscribe, shutdown"
                    ),
                ),
            );
            return;
        }
    };
    if let Some(refusal) = super::production::refused(engine, &request) {
        send(out, &refusal);
        return;
    }
    let engine = engine.clone();
    let out = out.clone();
    tokio::spawn(async move {
        let proposal = request.proposal.clone();
        let reply =
            crate::core::engine::with_proposal(proposal, dispatch(&engine, request, &out)).await;
        send(&out, &reply);
    });
}

/// One call made inside the engine for a face (a runbook's step): dispatched as a socket
/// request would be, without the socket.
pub(crate) async fn run_call(engine: &Engine, call: Call, face: crate::core::types::Face) -> Reply {
    // A step's call never subscribes; its pushes would have nowhere to go.
    let (out, _) = mpsc::unbounded_channel();
    let request = Request {
        id: 0,
        call,
        face,
        proposal: None,
        confirm: None,
    };
    dispatch(engine, request, &out).await
}

async fn dispatch(engine: &Engine, request: Request, out: &mpsc::UnboundedSender<String>) -> Reply {
    let Request { id, call, face, .. } = request;
    fn to_reply<T: Serialize>(id: u64, r: Result<T, crate::core::engine::EngineError>) -> Reply {
        match r {
            Ok(v) => Reply::ok(id, serde_json::to_value(v).unwrap_or_default()),
            Err(e) => Reply::from_engine(id, &e),
        }
    }
    match call {
        Call::Ping {} => Reply::ok(
            id,
            serde_json::json!({
                "pong": true,
                "pid": std::process::id(),
                "environment": engine.environment(),
            }),
        ),
        Call::Status(r) => to_reply(id, engine.status(r.plugin.as_deref())),
        Call::Deploy(r) => to_reply(id, engine.deploy(r, face).await),
        Call::PreviewStop(r) => to_reply(id, engine.stop_preview(r, face).await),
        Call::Traffic(r) => to_reply(id, engine.set_traffic(r, face).await),
        Call::Promote(r) => to_reply(
            id,
            engine
                .control_rollout(&r.plugin, RolloutCommand::Promote { full: r.full }, face)
                .await,
        ),
        Call::Abort(r) => to_reply(
            id,
            engine
                .control_rollout(&r.plugin, RolloutCommand::Abort, face)
                .await,
        ),
        Call::Pause(r) => to_reply(
            id,
            engine
                .control_rollout(&r.plugin, RolloutCommand::Pause, face)
                .await,
        ),
        Call::Resume(r) => to_reply(
            id,
            engine
                .control_rollout(&r.plugin, RolloutCommand::Resume, face)
                .await,
        ),
        Call::Rollback(r) => to_reply(id, engine.rollback(r, face).await),
        Call::Logs(r) => to_reply(id, r.to_query().and_then(|q| engine.logs(&q))),
        Call::History(r) => to_reply(id, engine.history(&r.plugin, r.limit)),
        Call::Alerts(r) => to_reply(id, engine.alerts(r.plugin.as_deref(), r.limit)),
        Call::Silence(r) => to_reply(id, engine.silence(r, face).await),
        Call::Unsilence(r) => to_reply(id, engine.unsilence(r.id, face).await),
        Call::Ack(r) => to_reply(id, engine.ack(r, face).await),
        Call::Subscribe(r) => {
            if let Some(Err(e)) = r.plugin.as_ref().map(|p| engine.require_plugin(p)) {
                return Reply::from_engine(id, &e);
            }
            spawn_pushes(engine, r.logs, r.plugin, out.clone());
            Reply::ok(id, serde_json::json!({"subscribed": true}))
        }
        Call::Reload {} => to_reply(id, engine.reload(face).await),
        Call::CandidateCreate(r) => to_reply(id, engine.create_candidate(r, face)),
        Call::CandidateEdit(r) => to_reply(id, engine.edit_candidate(r, face)),
        Call::CandidateGates(r) => to_reply(id, engine.candidate_gates(r, face).await),
        Call::CandidateDiff(r) => to_reply(id, engine.candidate_diff(&r.id)),
        Call::CandidateShow(r) => to_reply(id, engine.candidate_report(&r.id)),
        Call::Stories(r) => to_reply(id, engine.stories(&r.plugin)),
        Call::Incidents(r) => to_reply(id, engine.incidents(&r)),
        Call::Runbooks {} => Reply::ok(
            id,
            serde_json::to_value(
                super::runbook::list(engine)
                    .into_iter()
                    .map(|r| match r {
                        Ok(r) => serde_json::json!({"name": r.name, "description": r.description, "steps": r.steps.len()}),
                        Err(problem) => serde_json::json!({"problem": problem}),
                    })
                    .collect::<Vec<_>>(),
            )
            .unwrap_or_default(),
        ),
        Call::RunbookShow(r) => to_reply(id, super::runbook::show(engine, &r.name)),
        Call::RunbookRun(r) => to_reply(id, super::runbook::run(engine, &r, face).await),
        Call::IncidentShow(r) => to_reply(id, engine.incident_report(r.id)),
        Call::IncidentResolve(r) => to_reply(id, engine.resolve_incident(&r, face)),
        Call::Deployed {} => to_reply(
            id,
            engine
                .deployed_markdown()
                .map(|markdown| serde_json::json!({ "markdown": markdown })),
        ),
        Call::Plugins(r) => to_reply(id, engine.plugin_versions(r.plugin.as_deref())),
        Call::PluginDisable(r) => to_reply(id, engine.disable_plugin(r, face).await),
        Call::Scale(r) => to_reply(id, engine.scale(r, face).await),
        Call::Restart(r) => to_reply(id, engine.restart(r, face).await),
        Call::PluginEnable(r) => to_reply(id, engine.enable_plugin(r, face).await),
        Call::Candidates(r) => to_reply(id, engine.candidates(r.plugin.as_deref())),
        Call::CandidateDiscard(r) => to_reply(id, engine.discard_candidate(&r.id, face)),
        Call::CandidateAccept(r) => to_reply(id, engine.accept_candidate(r, face)),
        Call::Shutdown(r) => {
            engine.request_stop(r.stop_plugins);
            Reply::ok(
                id,
                serde_json::json!({"stopping": true, "stop_plugins": r.stop_plugins}),
            )
        }
    }
}

/// Forwards engine events (and log lines, when asked) to one subscriber until it leaves.
fn spawn_pushes(
    engine: &Engine,
    logs: bool,
    plugin: Option<String>,
    out: mpsc::UnboundedSender<String>,
) {
    let mut events = engine.subscribe();
    let mut log_rx = logs.then(|| engine.subscribe_logs());
    tokio::spawn(async move {
        loop {
            let event = tokio::select! {
                e = events.recv() => match e {
                    Ok(e) => e,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => EngineEvent::Lagged { missed },
                    Err(_) => break,
                },
                l = async { match log_rx.as_mut() { Some(rx) => rx.recv().await, None => std::future::pending().await } } => match l {
                    Ok(line) if plugin.as_ref().is_none_or(|p| *p == line.plugin) => EngineEvent::Log(line),
                    Ok(_) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => EngineEvent::Lagged { missed },
                    Err(_) => break,
                },
            };
            let Ok(line) = serde_json::to_string(&Push { push: event }) else {
                continue;
            };
            if out.send(line).is_err() {
                break;
            }
        }
    });
}
