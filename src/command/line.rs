//! A command line typed inside a face — the dashboard's `:` line, the operator's slash
//! commands — parsed by the CLI's own grammar, so what works in a shell works there
//! (`:rollback checkout`, `:traffic checkout blue=90 green=10`).

use super::grammar::Cli;
use super::to_call::to_call;
use crate::api::protocol::Call;
use clap::Parser;

/// The engine call for a command line, with a label for notices; `None` for an empty line.
/// Commands that are not one engine call (serve, logs --follow…) are refused, saying what
/// the line runs instead.
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
    let call = cli
        .command
        .as_ref()
        .map(to_call)
        .transpose()
        .map_err(|e| format!(":{text}: {e}"))?
        .flatten();
    match call {
        // A typed deploy answers once the rollout started; the panes follow it.
        Some(Call::Deploy(mut req)) => {
            req.detach = true;
            Ok(Some((label, Call::Deploy(req))))
        }
        Some(call) => Ok(Some((label, call))),
        None => Err(format!(
            ":{} is not one engine call; the line runs deploy, traffic, rollback, promote, abort, pause, resume, reload, alerts, status, history and logs (the rest is in the panes, or in a shell)",
            words[0]
        )),
    }
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
            Call::Rollback(crate::api::protocol::RollbackRequest {
                plugin: "checkout".into(),
                ..Default::default()
            })
        );
        let (_, call) = parse("traffic shop blue=90 green=10").unwrap().unwrap();
        let Call::Traffic(req) = call else {
            panic!("not a traffic call: {call:?}");
        };
        assert_eq!(req.weights.get(&SlotName::Blue), Some(&90));
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
            Call::Silence(crate::api::protocol::SilenceRequest {
                plugin: "shop".into(),
                rule: Some("errors".into()),
                duration: "1h".into(),
                comment: "deploy in progress".into(),
                author: "ana".into()
            })
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
