//! `naap serve`: the engine in the foreground, until SIGINT/SIGTERM or `naap stop`.

use super::{Cli, context};
use crate::core::engine::{Engine, socket_path};
use std::path::Path;

pub async fn serve(cli: Cli, keep_plugins: bool) -> anyhow::Result<()> {
    let root = context::workspace_root(&cli)?;
    let state = context::state_dir(&root);
    // Before the log appender creates its first file: everything the engine writes is
    // owner-only (see core::private_files).
    crate::core::private_files::restrict_umask();
    let _log_guard = init_tracing(&state);
    let engine = Engine::start(&root).await?;
    let socket = socket_path(&engine.state_dir());
    let info = engine.info().clone();
    sayln!(
        "naap engine {} serving {}",
        info.naap_version,
        info.workspace
    );
    sayln!("  router  http://{}", info.router);
    if let Some(admin) = &info.admin {
        sayln!("  admin   http://{admin}/metrics");
    }
    sayln!("  socket  {}", socket.display());
    sayln!("  log     {}", state.join("logs").display());
    let api = tokio::spawn(crate::api::server::serve(engine.clone(), socket));
    let stop_plugins = wait_for_stop(&engine, !keep_plugins).await;
    engine.shutdown(stop_plugins).await;
    let _ = api.await;
    sayln!(
        "naap engine stopped{}",
        if stop_plugins {
            " with its plugins"
        } else {
            "; plugins keep running"
        }
    );
    Ok(())
}

/// Waits for SIGINT, SIGTERM, SIGHUP (the terminal went away) or a `naap stop`; returns
/// whether to stop the plugins.
pub(crate) async fn wait_for_stop(engine: &Engine, on_signal_stop_plugins: bool) -> bool {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut hangup = signal(SignalKind::hangup()).ok();
    async fn recv(sig: &mut Option<tokio::signal::unix::Signal>) {
        match sig.as_mut() {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending().await,
        }
    }
    tokio::select! {
        _ = tokio::signal::ctrl_c() => on_signal_stop_plugins,
        _ = recv(&mut term) => on_signal_stop_plugins,
        _ = recv(&mut hangup) => on_signal_stop_plugins,
        stop_plugins = engine.stop_requested() => stop_plugins,
    }
}

/// Engine logs go to a daily-rotated file in the state directory, never to a terminal a
/// dashboard might own. `NAAP_LOG` sets the filter (default `info`).
pub(crate) fn init_tracing(
    state_dir: &Path,
) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let dir = state_dir.join("logs");
    std::fs::create_dir_all(&dir).ok()?;
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("engine")
        .filename_suffix("log")
        .max_log_files(7)
        .build(&dir)
        .ok()?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = tracing_subscriber::EnvFilter::try_from_env("NAAP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init();
    Some(guard)
}
