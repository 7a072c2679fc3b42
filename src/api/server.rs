//! Serves an engine on its unix socket. Each request runs in its own task, so a long deploy
//! does not hold up a status query on the same connection.

use super::protocol::{Call, MAX_LINE_BYTES, Push, Reply, Request};
use crate::core::engine::{
    AckRequest, DeployRequest, Engine, EngineEvent, RollbackRequest, RolloutCommand,
    SilenceRequest, StopPreviewRequest, TrafficRequest,
};
use crate::core::logs::LogQuery;
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;

/// Binds the socket (owner-only) and serves until the engine shuts down.
pub async fn serve(engine: Engine, socket: std::path::PathBuf) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    // The engine lock is held, so a socket file left here is a dead engine's.
    let _ = std::fs::remove_file(&socket);
    let listener = UnixListener::bind(&socket)?;
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))?;
    let mut shutdown = engine.shutdown_requested();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => { tokio::spawn(connection(engine.clone(), stream)); }
                Err(e) => tracing::warn!("socket accept failed: {e}"),
            },
            _ = shutdown.changed() => break,
        }
    }
    let _ = std::fs::remove_file(&socket);
    Ok(())
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
                        "malformed request: {e}; methods: ping, status, deploy, promote, abort, pause, resume, traffic, rollback, logs, history, alerts, silence, unsilence, ack, preview_stop, subscribe, shutdown"
                    ),
                ),
            );
            return;
        }
    };
    let engine = engine.clone();
    let out = out.clone();
    tokio::spawn(async move {
        let reply = dispatch(&engine, request, &out).await;
        send(&out, &reply);
    });
}

async fn dispatch(engine: &Engine, request: Request, out: &mpsc::UnboundedSender<String>) -> Reply {
    let Request { id, call, face } = request;
    fn to_reply<T: Serialize>(id: u64, r: Result<T, crate::core::engine::EngineError>) -> Reply {
        match r {
            Ok(v) => Reply::ok(id, serde_json::to_value(v).unwrap_or_default()),
            Err(e) => Reply::from_engine(id, &e),
        }
    }
    match call {
        Call::Ping {} => Reply::ok(
            id,
            serde_json::json!({"pong": true, "pid": std::process::id()}),
        ),
        Call::Status { plugin } => to_reply(id, engine.status(plugin.as_deref())),
        Call::Deploy {
            plugin,
            version,
            strategy,
            dry_run,
            no_cache,
            preview,
            ttl,
            detach,
            force,
        } => to_reply(
            id,
            engine
                .deploy(
                    DeployRequest {
                        plugin,
                        version,
                        strategy,
                        dry_run,
                        no_cache,
                        preview,
                        ttl,
                        detach,
                        force,
                    },
                    face,
                )
                .await,
        ),
        Call::PreviewStop {
            plugin,
            id: preview,
        } => to_reply(
            id,
            engine
                .stop_preview(
                    StopPreviewRequest {
                        plugin,
                        id: preview,
                    },
                    face,
                )
                .await,
        ),
        Call::Traffic { plugin, weights } => to_reply(
            id,
            engine
                .set_traffic(TrafficRequest { plugin, weights }, face)
                .await,
        ),
        Call::Promote { plugin, full } => to_reply(
            id,
            engine
                .control_rollout(&plugin, RolloutCommand::Promote { full }, face)
                .await,
        ),
        Call::Abort { plugin } => to_reply(
            id,
            engine
                .control_rollout(&plugin, RolloutCommand::Abort, face)
                .await,
        ),
        Call::Pause { plugin } => to_reply(
            id,
            engine
                .control_rollout(&plugin, RolloutCommand::Pause, face)
                .await,
        ),
        Call::Resume { plugin } => to_reply(
            id,
            engine
                .control_rollout(&plugin, RolloutCommand::Resume, face)
                .await,
        ),
        Call::Rollback { plugin, to } => to_reply(
            id,
            engine
                .rollback(
                    RollbackRequest {
                        plugin,
                        to,
                        reason: None,
                    },
                    face,
                )
                .await,
        ),
        Call::Logs {
            plugin,
            slot,
            level,
            since,
            grep,
            limit,
            after_seq,
        } => {
            let grep = match grep.as_deref().map(regex::Regex::new).transpose() {
                Ok(g) => g,
                Err(e) => {
                    return Reply::error(Some(id), "bad_request", format!("grep pattern: {e}"));
                }
            };
            let query = LogQuery {
                plugin,
                slot,
                min_level: level,
                since,
                grep,
                after_seq,
                limit,
            };
            to_reply(id, engine.logs(&query))
        }
        Call::History { plugin, limit } => to_reply(id, engine.history(&plugin, limit)),
        Call::Alerts { plugin, limit } => to_reply(id, engine.alerts(plugin.as_deref(), limit)),
        Call::Silence {
            plugin,
            rule,
            duration,
            comment,
            author,
        } => to_reply(
            id,
            engine
                .silence(
                    SilenceRequest {
                        plugin,
                        rule,
                        duration,
                        comment,
                        author,
                    },
                    face,
                )
                .await,
        ),
        Call::Unsilence { id: silence } => to_reply(id, engine.unsilence(silence, face).await),
        Call::Ack {
            plugin,
            rule,
            author,
        } => to_reply(
            id,
            engine
                .ack(
                    AckRequest {
                        plugin,
                        rule,
                        author,
                    },
                    face,
                )
                .await,
        ),
        Call::Subscribe { logs, plugin } => {
            if let Some(Err(e)) = plugin.as_ref().map(|p| engine.require_plugin(p)) {
                return Reply::from_engine(id, &e);
            }
            spawn_pushes(engine, logs, plugin, out.clone());
            Reply::ok(id, serde_json::json!({"subscribed": true}))
        }
        Call::Shutdown { stop_plugins } => {
            engine.request_stop(stop_plugins);
            Reply::ok(
                id,
                serde_json::json!({"stopping": true, "stop_plugins": stop_plugins}),
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
