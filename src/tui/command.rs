//! The `:` command line: the CLI's own commands, parsed by the CLI's own parser, so what
//! works in a shell works here (`:rollback checkout`, `:traffic checkout blue=90 green=10`).

use crate::api::protocol::Call;
use crate::cli::{Cli, Command};
use clap::Parser;

/// Commands the command line runs.
const RUNS: &str = "deploy, traffic, rollback";

/// The engine call for a command line, with a label for notices; `None` for an empty line.
pub fn parse(text: &str) -> Result<Option<(String, Call)>, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() {
        return Ok(None);
    }
    let cli =
        Cli::try_parse_from(std::iter::once("naap").chain(words.iter().copied())).map_err(|e| {
            // clap's first line says what is wrong; the usage that follows is for shells.
            let message = e.to_string();
            let first = message
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ");
            format!(":{text}: {first}")
        })?;
    let label = words.join(" ");
    let call = match cli.command {
        Some(Command::Deploy {
            plugin,
            version,
            strategy,
            dry_run,
        }) => Call::Deploy {
            plugin,
            version,
            strategy,
            dry_run,
        },
        Some(Command::Traffic { plugin, weights }) => Call::Traffic {
            plugin,
            weights: weights.into_iter().collect(),
        },
        // Typing the command out is the confirmation.
        Some(Command::Rollback { plugin, to, .. }) => Call::Rollback { plugin, to },
        _ => {
            return Err(format!(
                ":{} is not something the dashboard runs; it runs {RUNS} (the rest is in the panes, or in a shell)",
                words[0]
            ));
        }
    };
    Ok(Some((label, call)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::types::SlotName;

    #[test]
    fn cli_commands_become_engine_calls() {
        let (label, call) = parse("rollback checkout").unwrap().unwrap();
        assert_eq!(label, "rollback checkout");
        assert_eq!(
            call,
            Call::Rollback {
                plugin: "checkout".into(),
                to: None
            }
        );
        let (_, call) = parse("traffic shop blue=90 green=10").unwrap().unwrap();
        let Call::Traffic { weights, .. } = call else {
            panic!("not a traffic call: {call:?}");
        };
        assert_eq!(weights.get(&SlotName::Blue), Some(&90));
        assert!(parse("   ").unwrap().is_none());
    }

    #[test]
    fn bad_command_lines_say_why() {
        let e = parse("traffic shop blue=900").unwrap_err();
        assert!(e.contains("over 100"), "{e}");
        let e = parse("serve").unwrap_err();
        assert!(e.contains("deploy, traffic, rollback"), "{e}");
        let e = parse("rollbak x").unwrap_err();
        assert!(e.contains("rollbak"), "{e}");
    }
}
