//! The engine's hints as a shell user acts on them: the `naap` command line to run, or the
//! flag to add (`see `naap logs web --slot gate``, `pass `--ttl 2h``).

use crate::core::hint::{Hint, Param};

/// The line printed under a message with hints: `  hint: …, or …`; `None` without hints.
pub fn hint_line(hints: &[Hint]) -> Option<String> {
    if hints.is_empty() {
        return None;
    }
    let phrases: Vec<String> = hints.iter().map(for_cli).collect();
    Some(format!("  hint: {}", phrases.join(", or ")))
}

/// What the CLI says under a client error: the engine's hints, or what to run when there
/// is no engine to talk to.
pub fn client_hint(error: &crate::api::ClientError) -> Option<String> {
    use crate::api::ClientError;
    match error {
        ClientError::Api { hints, .. } => hint_line(hints),
        ClientError::NoEngine(_) => Some(
            "  hint: start one with `naap serve`, or run the command without --no-start"
                .to_string(),
        ),
        ClientError::SocketGone { .. } => {
            Some("  hint: if it does not, `naap stop` stops the engine through its pid".to_string())
        }
        _ => None,
    }
}

/// One hint as a phrase naming the command line or the flag.
pub fn for_cli(hint: &Hint) -> String {
    match hint {
        Hint::ReadLogs { plugin, slot } => format!("see `naap logs {plugin} --slot {slot}`"),
        Hint::Deploy {
            plugin,
            version,
            force,
        } => {
            let mut line = format!("naap deploy {plugin}");
            if let Some(version) = version {
                line.push_str(&format!(" --version {version}"));
            }
            if *force {
                line.push_str(" --force");
            }
            format!("run `{line}`")
        }
        Hint::Rollback { plugin } => format!("run `naap rollback {plugin}`"),
        Hint::RollbackToChosen { plugin } => {
            format!(
                "run `naap rollback {plugin} --to VERSION` (`naap history {plugin}` lists them)"
            )
        }
        Hint::PromoteOrAbort { plugin } => {
            format!("`naap promote {plugin}` goes on, `naap abort {plugin}` goes back")
        }
        Hint::Pause { plugin } => format!("run `naap pause {plugin}`"),
        Hint::Resume { plugin } => format!("run `naap resume {plugin}`"),
        Hint::Follow { plugin } => format!("follow it with `naap status {plugin} --watch`"),
        Hint::History { plugin } => format!("see `naap history {plugin}`"),
        Hint::Status { plugin: None } => "see `naap status`".to_string(),
        Hint::Status {
            plugin: Some(plugin),
        } => format!("see `naap status {plugin}`"),
        Hint::Alerts => "see `naap alerts list`".to_string(),
        Hint::Reload => "run `naap reload`".to_string(),
        Hint::Enable { plugin } => format!("run `naap plugin enable {plugin}`"),
        Hint::StopPreview { plugin, id } => {
            format!("stop it early with `naap preview stop {plugin} {id}`")
        }
        Hint::Confirm { environment, .. } => format!(
            "run it at a terminal and confirm, or add `--yes --env {environment}` in a script"
        ),
        Hint::SetParam { param, example } => match example {
            Some(example) => format!("pass e.g. `{} {}`", flag(*param), quoted(example)),
            None => format!("add `{}`", flag(*param)),
        },
    }
}

/// The flag that sets a request parameter.
fn flag(param: Param) -> &'static str {
    match param {
        Param::Preview => "--preview",
        Param::Ttl => "--ttl",
        Param::Comment => "--comment",
        Param::Author => "--author",
    }
}

/// A value as a shell word: quoted when it has spaces or quotes.
fn quoted(value: &str) -> String {
    if value.is_empty() || value.contains([' ', '"', '\'', '\\', '$', '`']) {
        let mut word = String::from('"');
        for c in value.chars() {
            if matches!(c, '"' | '\\' | '$' | '`') {
                word.push('\\');
            }
            word.push(c);
        }
        word.push('"');
        word
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::logs::LogOrigin;

    #[test]
    fn hints_read_as_the_command_lines_that_do_them() {
        let logs = Hint::ReadLogs {
            plugin: "web".into(),
            slot: LogOrigin::Gate,
        };
        assert_eq!(for_cli(&logs), "see `naap logs web --slot gate`");
        let force = Hint::Deploy {
            plugin: "web".into(),
            version: Some("1.2.0".into()),
            force: true,
        };
        assert_eq!(
            for_cli(&force),
            "run `naap deploy web --version 1.2.0 --force`"
        );
        assert_eq!(
            for_cli(&Hint::set(Param::Ttl, "2h")),
            "pass e.g. `--ttl 2h`"
        );
        assert_eq!(
            for_cli(&Hint::set(Param::Comment, "known issue, fix deploying")),
            "pass e.g. `--comment \"known issue, fix deploying\"`"
        );
        assert_eq!(for_cli(&Hint::switch_on(Param::Preview)), "add `--preview`");
    }

    #[test]
    fn several_hints_share_one_line() {
        let line = hint_line(&[
            Hint::ReadLogs {
                plugin: "web".into(),
                slot: LogOrigin::Slot(crate::core::types::SlotName::Blue),
            },
            Hint::Deploy {
                plugin: "web".into(),
                version: None,
                force: false,
            },
        ]);
        assert_eq!(
            line.as_deref(),
            Some("  hint: see `naap logs web --slot blue`, or run `naap deploy web`")
        );
        assert_eq!(hint_line(&[]), None);
    }
}
