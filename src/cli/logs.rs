//! `naap logs`: the last lines of a plugin, filtered, optionally followed.

use super::args::LogsArgs;
use super::{Cli, context};
use crate::api::Call;
use crate::core::engine::EngineEvent;
use crate::core::logs::LogLine;

pub async fn logs(cli: &Cli, args: LogsArgs) -> anyhow::Result<()> {
    let grep = args
        .grep
        .as_deref()
        .map(regex::Regex::new)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--grep: {e}"))?;
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
    let mut last_seq = 0;
    for line in &lines {
        print_line(cli, line)?;
        last_seq = last_seq.max(line.seq);
    }
    if !args.follow {
        return Ok(());
    }
    loop {
        if let EngineEvent::Log(line) = client.next_push().await? {
            let wanted = line.seq > last_seq
                && args.slot.is_none_or(|s| line.slot == Some(s))
                && args.level.is_none_or(|l| line.level >= l)
                && grep.as_ref().is_none_or(|re| re.is_match(&line.message));
            if wanted {
                last_seq = line.seq;
                print_line(cli, &line)?;
            }
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
