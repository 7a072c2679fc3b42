//! `naap logs`: the last lines of a plugin, filtered, optionally followed.

use super::args::LogsArgs;
use super::{Cli, context};
use crate::api::Call;
use crate::core::engine::EngineEvent;
use crate::core::logs::{LogLine, LogQuery};

pub async fn logs(cli: &Cli, args: LogsArgs) -> anyhow::Result<()> {
    // The engine's own filter, applied here to followed lines as the engine applies it to
    // the backlog, so both halves of the output agree.
    let mut filter = LogQuery {
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
    };
    let mut client = context::connect(cli).await?;
    // Subscribe before reading the backlog, so no line falls between the two.
    if args.follow {
        client
            .call(Call::Subscribe {
                logs: true,
                plugin: Some(args.plugin.clone()),
            })
            .await?;
    }
    let lines: Vec<LogLine> = client
        .call_as(Call::Logs {
            plugin: args.plugin.clone(),
            slot: args.slot,
            level: args.level,
            since: args.since,
            grep: args.grep.clone(),
            limit: args.lines,
            after_seq: None,
        })
        .await?;
    for line in &lines {
        print_line(cli, line)?;
        filter.after_seq = filter.after_seq.max(Some(line.seq));
    }
    if !args.follow {
        return Ok(());
    }
    loop {
        match client.next_push().await? {
            EngineEvent::Log(line) if filter.matches(&line) => {
                filter.after_seq = Some(line.seq);
                print_line(cli, &line)?;
            }
            // Said on stderr so piped output stays lines of the log; `naap logs` without
            // -f shows what was skipped (the engine keeps the lines).
            EngineEvent::Lagged { missed } => eprintln!(
                "naap: {missed} lines and events were skipped because this terminal fell behind; run `naap logs {}` to see them",
                args.plugin
            ),
            _ => {}
        }
    }
}

fn print_line(cli: &Cli, line: &LogLine) -> anyhow::Result<()> {
    if cli.json {
        // One object per line (JSON Lines) so `-f --json` streams.
        println!("{}", serde_json::to_string(line)?);
        return Ok(());
    }
    println!("{}", format_line(line));
    Ok(())
}

/// `12:00:01.123 blue  WARN  message  key=value …`
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
        line.message
    );
    if let Some(fields) = &line.fields {
        // The line's own time is shown first; a service's copy of it is noise.
        for (key, value) in fields
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "ts" | "time" | "timestamp" | "@timestamp"))
        {
            match value {
                serde_json::Value::String(s) => text.push_str(&format!("  {key}={s}")),
                other => text.push_str(&format!("  {key}={other}")),
            }
        }
    }
    text
}
