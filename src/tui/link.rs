//! The dashboard's connection to the engine: one long-lived subscription that reconnects by
//! itself, and one short connection per action, each reporting back as a [`Msg`].

use super::app::Msg;
use crate::api::protocol::Call;
use crate::api::{Client, ClientError};
use crate::core::engine::{EngineEvent, StatusReport};
use crate::core::hint::Hint;
use crate::core::logs::LogLine;
use crate::core::types::Face;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// Log lines of each plugin fetched when (re)connecting, so the pane is not empty.
const BACKFILL_LINES: usize = 500;
/// Engine events fetched when (re)connecting.
const BACKFILL_EVENTS: usize = 30;

/// Subscribes to the engine at `socket` and forwards everything to `tx` until `tx` closes;
/// when the connection drops it says so and retries with a growing pause (up to 2 s).
pub async fn subscribe(socket: PathBuf, tx: UnboundedSender<Msg>) {
    let mut pause = Duration::from_millis(200);
    loop {
        let result = follow(&socket, &tx).await;
        if tx.is_closed() {
            return;
        }
        let why = match result {
            Ok(()) => "the engine closed the connection".to_string(),
            Err(ClientError::NoEngine(_)) => "no engine is running for this workspace".to_string(),
            Err(e) => e.to_string(),
        };
        if tx.send(Msg::Disconnected(why)).is_err() {
            return;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// One connection's life: subscribe, backfill, then forward pushes.
async fn follow(socket: &Path, tx: &UnboundedSender<Msg>) -> Result<(), ClientError> {
    // Through the state directory, so a deleted socket of a running engine is told apart
    // from no engine at all.
    let mut client = match socket.parent() {
        Some(state_dir) => Client::connect_running(state_dir, Face::Dashboard).await?,
        None => Client::connect(socket, Face::Dashboard).await?,
    };
    // Subscribe before reading the backlog so nothing falls between the two; lines seen
    // twice are dropped by their sequence number.
    client
        .call(Call::Subscribe(crate::api::protocol::SubscribeRequest {
            logs: true,
            plugin: None,
        }))
        .await?;
    let report: StatusReport = client
        .call_as(Call::Status(crate::api::protocol::StatusRequest {
            plugin: None,
        }))
        .await?;
    let mut backlog: Vec<LogLine> = Vec::new();
    let mut events = Vec::new();
    for plugin in &report.plugins {
        let lines: Vec<LogLine> = client
            .call_as(Call::Logs(crate::api::protocol::LogsRequest {
                plugin: plugin.name.clone(),
                slot: None,
                level: None,
                since: None,
                grep: None,
                limit: BACKFILL_LINES,
                after_seq: None,
            }))
            .await?;
        backlog.extend(lines);
        let history: crate::core::engine::HistoryReport = client
            .call_as(Call::History(crate::api::protocol::HistoryRequest {
                plugin: plugin.name.clone(),
                limit: BACKFILL_EVENTS,
            }))
            .await?;
        events.extend(history.events);
    }
    backlog.sort_by_key(|l| l.seq);
    events.sort_by_key(|e| e.id);
    let send = |msg| {
        tx.send(msg)
            .map_err(|_| ClientError::Protocol("the dashboard quit".into()))
    };
    send(Msg::Connected)?;
    send(Msg::Engine(EngineEvent::Snapshot(report)))?;
    for event in events {
        send(Msg::Engine(EngineEvent::Event(event)))?;
    }
    for line in backlog {
        send(Msg::Engine(EngineEvent::Log(line)))?;
    }
    loop {
        let event = client.next_push().await?;
        send(Msg::Engine(event))?;
    }
}

/// Makes one engine call for the dashboard and describes how it went.
pub async fn perform(
    socket: &Path,
    label: String,
    call: Call,
    confirmed: Option<crate::core::workspace::Environment>,
) -> Msg {
    let result = async {
        let mut client = Client::connect(socket, Face::Dashboard).await?;
        let confirm = confirmed.map(|env| crate::api::production::confirmation_for(env, &call));
        client.call_confirmed(call, confirm).await
    }
    .await;
    let (result, hints) = match result {
        Ok(value) => {
            let hints: Vec<Hint> = value
                .get("hints")
                .and_then(|h| serde_json::from_value(h.clone()).ok())
                .unwrap_or_default();
            let summary = value
                .get("summary")
                .and_then(|s| s.as_str())
                .map_or_else(|| format!("{label}: done"), str::to_string);
            (Ok(summary), hints)
        }
        Err(ClientError::Api { message, hints, .. }) => (Err(message), hints),
        Err(e) => (Err(e.to_string()), Vec::new()),
    };
    Msg::Done {
        label,
        result,
        hints,
    }
}
