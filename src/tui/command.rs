//! The `:` command line: the CLI's own commands, parsed by the CLI's own parser, so what
//! works in a shell works here (`:rollback checkout`, `:traffic checkout blue=90 green=10`).

use crate::api::protocol::Call;
use crate::cli::alerts::{ack_call, silence_call};
use crate::cli::{AlertsCommand, Cli, Command};
use clap::Parser;

/// Commands the command line runs.
const RUNS: &str = "deploy, traffic, rollback, reload, alerts silence|unsilence|ack";

/// The engine call for a command line, with a label for notices; `None` for an empty line.
pub fn parse(text: &str) -> Result<Option<(String, Call)>, String> {
    let owned = split_words(text)?;
    let words: Vec<&str> = owned.iter().map(String::as_str).collect();
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
            no_cache,
            preview,
            ttl,
            force,
            ..
        }) => Call::Deploy {
            plugin,
            version,
            strategy,
            dry_run,
            no_cache,
            preview,
            ttl,
            // The command line answers once the rollout started; the panes follow it.
            detach: true,
            force,
        },
        Some(Command::Traffic { plugin, weights }) => Call::Traffic {
            plugin,
            weights: weights.into_iter().collect(),
        },
        // Typing the command out is the confirmation.
        Some(Command::Rollback { plugin, to, .. }) => Call::Rollback { plugin, to },
        Some(Command::Reload) => Call::Reload {},
        Some(Command::Alerts {
            command:
                Some(AlertsCommand::Silence {
                    target,
                    duration,
                    comment,
                    author,
                }),
        }) => {
            silence_call(&target, duration, comment, author).map_err(|e| format!(":{text}: {e}"))?
        }
        Some(Command::Alerts {
            command: Some(AlertsCommand::Unsilence { id }),
        }) => Call::Unsilence { id },
        Some(Command::Alerts {
            command: Some(AlertsCommand::Ack { target, author }),
        }) => ack_call(&target, author).map_err(|e| format!(":{text}: {e}"))?,
        _ => {
            return Err(format!(
                ":{} is not something the dashboard runs; it runs {RUNS} (the rest is in the panes, or in a shell)",
                words[0]
            ));
        }
    };
    Ok(Some((label, call)))
}

/// Splits a command line like a shell would for these commands: words separated by spaces,
/// `"…"` and `'…'` keep spaces, a backslash keeps the next character.
pub fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (_, '\\') => {
                if let Some(next) = chars.next() {
                    word.get_or_insert_with(String::new).push(next);
                }
            }
            (None, c) if c.is_whitespace() => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            (_, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    if let Some(q) = quote {
        return Err(format!("the {q} quote is not closed"));
    }
    words.extend(word);
    Ok(words)
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
        let (_, call) = parse("reload").unwrap().unwrap();
        assert_eq!(call, Call::Reload {});
    }

    #[test]
    fn words_split_like_a_shell() {
        assert_eq!(
            split_words(r#"alerts silence web --comment "known issue" --author 'ana b'"#).unwrap(),
            [
                "alerts",
                "silence",
                "web",
                "--comment",
                "known issue",
                "--author",
                "ana b"
            ]
        );
        assert_eq!(split_words(r"a\ b c").unwrap(), ["a b", "c"]);
        assert_eq!(split_words(r#"x """#).unwrap(), ["x", ""]);
        assert!(split_words("x \"open").unwrap_err().contains("not closed"));
    }

    #[test]
    fn alerts_commands_become_engine_calls() {
        let (_, call) = parse(
            r#"alerts silence shop/errors --for 1h --comment "deploy in progress" --author ana"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            call,
            Call::Silence {
                plugin: "shop".into(),
                rule: Some("errors".into()),
                duration: "1h".into(),
                comment: "deploy in progress".into(),
                author: "ana".into()
            }
        );
        let e = parse(r#"alerts silence shop --for 1h --comment " ""#).unwrap_err();
        assert!(e.contains("must say why"), "{e}");
        assert!(
            parse("alerts ack shop")
                .unwrap_err()
                .contains("PLUGIN/RULE")
        );
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
