//! `naap logs`: the last lines of a plugin, filtered, optionally followed across engine
//! restarts.

use super::{Cli, context};
use crate::api::{Call, Client, ClientError};
use crate::command::LogsArgs;
use crate::core::engine::EngineEvent;
use crate::core::engine::report::StatusReport;
use crate::core::logs::{LogLine, LogQuery, escape_controls};
use crate::core::types::Face;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// Waits between reconnection attempts: from the first to the last, doubling.
const RECONNECT_FIRST: Duration = Duration::from_millis(100);
const RECONNECT_MAX: Duration = Duration::from_secs(2);

pub async fn logs(cli: &Cli, args: LogsArgs) -> anyhow::Result<()> {
    // The engine's own filter, applied here to followed lines as the engine applies it to
    // the backlog, so both halves of the output agree.
    let mut follower = Follower {
        filter: LogQuery {
            plugin: args.plugin.clone(),
            slot: args.slot,
            min_level: args.level,
            since: args.since,
            grep: args
                .grep
                .as_deref()
                .map(regex::Regex::new)
                .transpose()
                .map_err(|e| anyhow::anyhow!("--grep: {e}"))?,
            after_seq: None,
            limit: args.lines,
        },
        args,
        last_ts: None,
    };
    let mut client = context::connect(cli).await?;
    if !follower.args.follow {
        // `-n 0` shows no backlog (as `tail -n 0`); on the wire a limit of 0 means all.
        if follower.args.lines > 0 {
            follower.backlog(cli, &mut client, None).await?;
        }
        return Ok(());
    }
    let mut engine = follower.start(cli, &mut client, None).await?;
    loop {
        match client.next_push().await {
            Ok(EngineEvent::Log(line)) if follower.filter.matches(&line) => {
                follower.print(cli, &line)?;
            }
            // Said on stderr so piped output stays lines of the log; `naap logs` without
            // -f shows what was skipped (the engine keeps the lines).
            Ok(EngineEvent::Lagged { missed }) => noteln!(
                "naap: {missed} lines and events were skipped because this terminal fell behind; run `naap logs {}` to see them",
                follower.args.plugin
            ),
            Ok(_) => {}
            Err(ClientError::Io(e)) => {
                noteln!("naap: lost the engine ({e}); reconnecting …");
                (client, engine) = reconnect(cli, &mut follower, engine).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Which engine a connection reached: a restarted engine numbers its lines afresh.
#[derive(Clone, Debug, PartialEq)]
struct EngineIdentity {
    pid: u32,
    started_at: DateTime<Utc>,
}

struct Follower {
    args: LogsArgs,
    filter: LogQuery,
    /// The time of the newest line printed, to resume by on a new engine.
    last_ts: Option<DateTime<Utc>>,
}

impl Follower {
    /// Subscribes, then prints the backlog (so no line falls between the two). `previous`
    /// is the engine of the connection that was lost, if any.
    async fn start(
        &mut self,
        cli: &Cli,
        client: &mut Client,
        previous: Option<EngineIdentity>,
    ) -> anyhow::Result<EngineIdentity> {
        let report: StatusReport = client
            .call_as(Call::Status(crate::api::protocol::StatusRequest {
                plugin: Some(self.args.plugin.clone()),
            }))
            .await?;
        let engine = EngineIdentity {
            pid: report.engine.pid,
            started_at: report.engine.started_at,
        };
        client
            .call(Call::Subscribe(crate::api::protocol::SubscribeRequest {
                logs: true,
                plugin: Some(self.args.plugin.clone()),
            }))
            .await?;
        let resume = match previous {
            None => None,
            Some(previous) if previous == engine => {
                noteln!("naap: reconnected to the engine (pid {})", engine.pid);
                Some(Resume::AfterSeq)
            }
            Some(_) => {
                match self.last_ts {
                    Some(ts) => noteln!(
                        "naap: reconnected to a new engine (pid {}); its line numbers start afresh, so lines are shown from after {} (lines written while no engine ran may be missing)",
                        engine.pid,
                        ts.format("%H:%M:%S%.3f")
                    ),
                    None => noteln!("naap: reconnected to a new engine (pid {})", engine.pid),
                }
                self.filter.after_seq = None;
                Some(Resume::AfterTime)
            }
        };
        // The first backlog honours -n (and -n 0 shows none); a resumed one shows every line
        // that was missed.
        if resume.is_some() || self.args.lines > 0 {
            self.backlog(cli, client, resume).await?;
        }
        Ok(engine)
    }

    async fn backlog(
        &mut self,
        cli: &Cli,
        client: &mut Client,
        resume: Option<Resume>,
    ) -> anyhow::Result<()> {
        let (since, after_seq, limit) = match resume {
            None => (self.args.since, None, self.args.lines),
            Some(Resume::AfterSeq) => (self.args.since, self.filter.after_seq, 0),
            Some(Resume::AfterTime) => {
                let after = self.last_ts.map(|ts| ts + chrono::Duration::nanoseconds(1));
                (after.max(self.args.since), None, 0)
            }
        };
        let lines: Vec<LogLine> = client
            .call_as(Call::Logs(crate::api::protocol::LogsRequest {
                plugin: self.args.plugin.clone(),
                slot: self.args.slot,
                level: self.args.level,
                since,
                grep: self.args.grep.clone(),
                limit,
                after_seq,
            }))
            .await?;
        for line in &lines {
            self.print(cli, line)?;
        }
        Ok(())
    }

    fn print(&mut self, cli: &Cli, line: &LogLine) -> anyhow::Result<()> {
        self.filter.after_seq = self.filter.after_seq.max(Some(line.seq));
        self.last_ts = self.last_ts.max(Some(line.ts));
        if cli.json {
            // One object per line (JSON Lines) so `-f --json` streams; JSON escapes controls.
            return outln!("{}", serde_json::to_string(line)?);
        }
        outln!("{}", format_line(line))
    }
}

/// Where a resumed backlog starts.
#[derive(Clone, Copy)]
enum Resume {
    /// The same engine: after the last line number seen.
    AfterSeq,
    /// A new engine: after the time of the last line seen.
    AfterTime,
}

/// Connects again after the engine went away, waiting (with backoff) for it to come back.
/// Never starts one, even without --no-start: a follower is a reader, and starting an
/// engine that was stopped on purpose (`naap stop`) would undo that.
async fn reconnect(
    cli: &Cli,
    follower: &mut Follower,
    previous: EngineIdentity,
) -> anyhow::Result<(Client, EngineIdentity)> {
    let root = context::workspace_root(cli)?;
    let socket = crate::core::engine::socket_path(&context::state_dir(&root));
    let mut wait = RECONNECT_FIRST;
    let mut told = false;
    loop {
        // A dying engine can still accept a connection and then drop it: only a connection
        // that subscribed and read the backlog counts.
        match Client::connect(&socket, Face::Cli).await {
            Ok(mut client) => match follower
                .start(cli, &mut client, Some(previous.clone()))
                .await
            {
                Ok(engine) => return Ok((client, engine)),
                Err(e) if is_connection_loss(&e) => {}
                Err(e) => return Err(e),
            },
            Err(ClientError::NoEngine(_) | ClientError::Io(_)) => {}
            Err(e) => return Err(e.into()),
        }
        if !told && wait >= RECONNECT_MAX {
            noteln!(
                "naap: waiting for the engine to come back (start it with `naap serve`; Ctrl-C to quit)"
            );
            told = true;
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(RECONNECT_MAX);
    }
}

fn is_connection_loss(error: &anyhow::Error) -> bool {
    matches!(
        error.downcast_ref::<ClientError>(),
        Some(ClientError::Io(_) | ClientError::NoEngine(_))
    )
}

/// `12:00:01.123 blue  WARN  message  key=value …`, with control characters made visible.
pub fn format_line(line: &LogLine) -> String {
    let origin = match (line.slot, line.source) {
        (Some(slot), _) => slot.to_string(),
        (None, source) => format!("{source:?}").to_lowercase(),
    };
    let mut text = format!(
        "{} {:<6} {:<5} {}",
        line.ts.format("%H:%M:%S%.3f"),
        origin,
        line.level.as_str().to_uppercase(),
        escape_controls(&line.message)
    );
    if let Some(fields) = &line.fields {
        // The line's own time is shown first; a service's copy of it is noise.
        for (key, value) in fields
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "ts" | "time" | "timestamp" | "@timestamp"))
        {
            let key = escape_controls(key);
            match value {
                serde_json::Value::String(s) => {
                    text.push_str(&format!("  {key}={}", escape_controls(s)))
                }
                // serde_json escapes the controls inside other values.
                other => text.push_str(&format!("  {key}={other}")),
            }
        }
    }
    text
}
