//! The engine's hints as a dashboard user acts on them: the key to press (from the live
//! keymap, so a rebinding shows) or the `:` line to type, and a shell command only for what
//! the dashboard cannot do itself.

use super::keymap::{Action, Keymap};
use crate::core::hint::{Hint, Param};
use crate::core::logs::LogOrigin;

/// Hints for the status line: `; …, or …`, appended to the message; empty without hints.
pub fn suffix(hints: &[Hint], keymap: &Keymap) -> String {
    if hints.is_empty() {
        return String::new();
    }
    let phrases: Vec<String> = hints.iter().map(|h| for_dashboard(h, keymap)).collect();
    format!(" — {}", phrases.join(", or "))
}

/// One hint as what to press or type here.
pub fn for_dashboard(hint: &Hint, keymap: &Keymap) -> String {
    let key = |action: Action| {
        keymap.keys_of(action).first().map_or_else(
            || format!("the key of `{}` (unbound in the keymap)", action.name()),
            |k| format!("`{k}`"),
        )
    };
    match hint {
        Hint::ReadLogs { plugin, slot } => {
            let which = match slot {
                LogOrigin::Gate => "gate".to_string(),
                LogOrigin::Slot(slot) if slot.is_preview() => {
                    return format!("run `naap logs {plugin} --slot {slot}` in a shell");
                }
                LogOrigin::Slot(slot) => slot.to_string(),
            };
            format!(
                "select {plugin} and press {} in the logs until it shows {which}",
                key(Action::Slot)
            )
        }
        Hint::Deploy {
            plugin,
            version,
            force,
        } => {
            let mut line = format!(":deploy {plugin}");
            if let Some(version) = version {
                line.push_str(&format!(" --version {version}"));
            }
            if *force {
                line.push_str(" --force");
            }
            format!("type `{line}`")
        }
        Hint::Rollback { plugin } => {
            format!("select {plugin} and press {}", key(Action::Rollback))
        }
        Hint::RollbackToChosen { plugin } => {
            format!("type `:rollback {plugin} --to VERSION`")
        }
        Hint::PromoteOrAbort { plugin } => format!(
            "select {plugin}: {} promotes, {} aborts",
            key(Action::Promote),
            key(Action::Abort)
        ),
        Hint::Pause { plugin } | Hint::Resume { plugin } => {
            format!("select {plugin} and press {}", key(Action::PauseResume))
        }
        Hint::Follow { plugin } => format!("the plugins pane follows {plugin}"),
        Hint::History { plugin } => format!("run `naap history {plugin}` in a shell"),
        Hint::Status {
            plugin: Some(plugin),
        } => format!("select {plugin} in the plugins pane"),
        Hint::Status { plugin: None } => "see the plugins pane".to_string(),
        Hint::Alerts => "see the alerts pane".to_string(),
        Hint::Reload => "type `:reload`".to_string(),
        Hint::Enable { plugin } => format!("type `:plugin enable {plugin}`"),
        Hint::StopPreview { plugin, id } => {
            format!("run `naap preview stop {plugin} {id}` in a shell")
        }
        Hint::Confirm { environment, .. } => {
            format!(
                "answer the {} confirmation with y",
                environment.name().to_uppercase()
            )
        }
        // Parameters the forms do not ask for are set on the `:` line, which takes the
        // CLI's flags.
        Hint::SetParam { param, example } => {
            let flag = match param {
                Param::Preview => "--preview",
                Param::Ttl => "--ttl",
                Param::Comment => "--comment",
                Param::Author => "--author",
            };
            match example {
                Some(example) if example.contains(' ') => {
                    format!("add e.g. `{flag} \"{example}\"` to the `:` line")
                }
                Some(example) => format!("add e.g. `{flag} {example}` to the `:` line"),
                None => format!("add `{flag}` to the `:` line"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::types::SlotName;

    #[test]
    fn hints_name_the_keys_of_the_live_keymap() {
        let keymap = Keymap::defaults();
        let gate = Hint::ReadLogs {
            plugin: "web".into(),
            slot: LogOrigin::Gate,
        };
        assert_eq!(
            for_dashboard(&gate, &keymap),
            "select web and press `s` in the logs until it shows gate"
        );
        assert_eq!(
            for_dashboard(
                &Hint::PromoteOrAbort {
                    plugin: "web".into()
                },
                &keymap
            ),
            "select web: `p` promotes, `x` aborts"
        );
        let rebound = Keymap::parse(
            std::path::Path::new("keys.toml"),
            "[plugins]\npromote = \"P\"\n",
        )
        .unwrap();
        assert!(
            for_dashboard(
                &Hint::PromoteOrAbort {
                    plugin: "web".into()
                },
                &rebound
            )
            .contains("`P` promotes")
        );
    }

    #[test]
    fn what_the_forms_do_not_ask_is_typed_on_the_command_line() {
        let keymap = Keymap::defaults();
        assert_eq!(
            for_dashboard(&Hint::set(Param::Ttl, "2h"), &keymap),
            "add e.g. `--ttl 2h` to the `:` line"
        );
        assert_eq!(
            for_dashboard(
                &Hint::Deploy {
                    plugin: "web".into(),
                    version: Some("1.2.0".into()),
                    force: true
                },
                &keymap
            ),
            "type `:deploy web --version 1.2.0 --force`"
        );
        assert_eq!(
            suffix(
                &[Hint::ReadLogs {
                    plugin: "web".into(),
                    slot: LogOrigin::Slot(SlotName::Blue)
                }],
                &keymap
            ),
            " — select web and press `s` in the logs until it shows blue"
        );
    }
}
