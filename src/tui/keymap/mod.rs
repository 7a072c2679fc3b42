//! Key bindings as data. Every action has built-in keys per context; a user's `keymap.toml`
//! (in the config directory) rebinds any of them:
//!
//! ```toml
//! [global]
//! quit = ["q", "ctrl+c"]
//! [plugins]
//! rollback = "ctrl+r"
//! promote = []          # unbound
//! ```
//!
//! A user's keys replace that action's built-in keys in that context. A key bound to two
//! actions of one context, an unknown context or action, or an unreadable key is reported
//! with the file, line, column and key, and nothing of the file is applied. A context's
//! binding shadows a global one for the same key while that context has focus.

mod key;

pub use key::{Code, Key, Named};

use crate::core::workspace::{Problem, Problems, Report, Source, TableRef, syntax_problems};
use serde_spanned::Spanned;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use toml::de::DeTable;

/// Where the focus is; decides which bindings apply (then the global ones).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Context {
    Global,
    Plugins,
    Traffic,
    Logs,
    Alerts,
    /// The operator pane, where printable keys type into the input.
    Operator,
}

impl Context {
    pub const ALL: [Context; 6] = [
        Context::Global,
        Context::Plugins,
        Context::Traffic,
        Context::Logs,
        Context::Alerts,
        Context::Operator,
    ];

    /// The table name in keymap.toml.
    pub fn name(self) -> &'static str {
        match self {
            Context::Global => "global",
            Context::Plugins => "plugins",
            Context::Traffic => "traffic",
            Context::Logs => "logs",
            Context::Alerts => "alerts",
            Context::Operator => "operator",
        }
    }
}

/// Declares the actions: variant, context, name in keymap.toml, built-in keys, help text.
macro_rules! actions {
    ($($variant:ident @ $context:ident = $name:literal [$($key:literal),*] $help:literal;)+) => {
        /// Something a key can ask the dashboard to do.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action { $($variant),+ }

        impl Action {
            pub const ALL: &'static [Action] = &[$(Action::$variant),+];

            /// The context whose table binds it.
            pub fn context(self) -> Context {
                match self { $(Action::$variant => Context::$context),+ }
            }

            /// Its name in keymap.toml.
            pub fn name(self) -> &'static str {
                match self { $(Action::$variant => $name),+ }
            }

            /// One line for the help overlay.
            pub fn help(self) -> &'static str {
                match self { $(Action::$variant => $help),+ }
            }

            fn default_keys(self) -> &'static [&'static str] {
                match self { $(Action::$variant => &[$($key),*]),+ }
            }
        }
    };
}

actions! {
    Quit @ Global = "quit" ["q", "ctrl+c"] "quit the dashboard (the engine keeps running)";
    Help @ Global = "help" ["?", "f1"] "show every live binding";
    CommandLine @ Global = "command_line" [":"] "run a CLI command, e.g. :rollback checkout";
    Filter @ Global = "filter" ["/"] "filter the focused list or the logs";
    FocusNext @ Global = "focus_next" ["tab"] "focus the next pane";
    FocusPrev @ Global = "focus_prev" ["backtab"] "focus the previous pane";
    Zoom @ Global = "zoom" ["z"] "zoom the focused pane to full screen and back";
    FocusOperator @ Global = "operator" ["o"] "talk to the operator (esc leaves, or first stops its answer)";
    Approvals @ Global = "approvals" ["A"] "proposals waiting for a yes (from MCP, naap chat, earlier sessions)";
    CandidateDiff @ Global = "candidate_diff" ["D"] "the diff of the operator's candidate (after it changed code)";
    Up @ Plugins = "up" ["up", "k"] "select the previous plugin";
    Down @ Plugins = "down" ["down", "j"] "select the next plugin";
    Traffic @ Plugins = "traffic" ["t"] "adjust the traffic sliders";
    Deploy @ Plugins = "deploy" ["d"] "deploy a version (choose version and strategy)";
    Promote @ Plugins = "promote" ["p"] "promote the running canary: on to its next step";
    Abort @ Plugins = "abort" ["x"] "abort the running rollout; traffic back to stable";
    PauseResume @ Plugins = "pause_resume" ["space"] "pause or resume the running rollout";
    Rollback @ Plugins = "rollback" ["r"] "roll back (asks for confirmation)";
    IncidentRollback @ Plugins = "incident_rollback" ["R"] "incident rollback: all traffic to stable now, skip steps and analysis";
    Stories @ Plugins = "stories" ["S"] "its user stories with their tests' last results (from a plugin.md)";
    SliderUp @ Traffic = "slider_up" ["up", "k"] "previous slot";
    SliderDown @ Traffic = "slider_down" ["down", "j"] "next slot";
    Less @ Traffic = "less" ["left", "h"] "less traffic to this slot (10 % steps)";
    More @ Traffic = "more" ["right", "l"] "more traffic to this slot (10 % steps)";
    LessFine @ Traffic = "less_fine" ["shift+left", "H"] "less traffic, 1 % steps";
    MoreFine @ Traffic = "more_fine" ["shift+right", "L"] "more traffic, 1 % steps";
    Apply @ Traffic = "apply" ["enter"] "apply the pending weights through the engine";
    Discard @ Traffic = "discard" ["esc"] "discard the pending weights";
    ScrollUp @ Logs = "scroll_up" ["up", "k"] "scroll up";
    ScrollDown @ Logs = "scroll_down" ["down", "j"] "scroll down";
    PageUp @ Logs = "page_up" ["pageup", "ctrl+b"] "one page up";
    PageDown @ Logs = "page_down" ["pagedown", "ctrl+f"] "one page down";
    Follow @ Logs = "follow" ["f", "end"] "pause or resume following new lines";
    NextError @ Logs = "next_error" ["n"] "jump to the next error";
    PrevError @ Logs = "prev_error" ["N"] "jump to the previous error";
    Wrap @ Logs = "wrap" ["w"] "wrap long lines or not";
    Timestamps @ Logs = "timestamps" ["T"] "show or hide timestamps";
    Level @ Logs = "level" ["v"] "cycle the lowest level shown";
    Slot @ Logs = "slot" ["s"] "cycle the slot shown (all, blue, green)";
    AlertUp @ Alerts = "up" ["up", "k"] "previous alert";
    AlertDown @ Alerts = "down" ["down", "j"] "next alert";
    Silence @ Alerts = "silence" ["s"] "silence the alert (asks for a duration and a comment)";
    Ack @ Alerts = "ack" ["a"] "acknowledge the alert";
    Send @ Operator = "send" ["enter"] "send what is typed (one turn at a time)";
    Cancel @ Operator = "cancel" ["esc"] "cancel the answer being written; with none, back to the panes";
    Yes @ Operator = "yes" ["y", "Y"] "run the waiting card (with nothing typed)";
    No @ Operator = "no" ["n", "N"] "reject the waiting card (with nothing typed)";
}

/// The bindings in effect.
#[derive(Clone, Debug)]
pub struct Keymap {
    keys: BTreeMap<(Context, Key), Action>,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.context().name(), self.name())
    }
}

impl Keymap {
    /// The built-in bindings.
    pub fn defaults() -> Keymap {
        let mut keys = BTreeMap::new();
        for action in Action::ALL {
            for text in action.default_keys() {
                // The table above is ours; a test proves every key in it parses.
                if let Ok(key) = text.parse::<Key>() {
                    keys.insert((action.context(), key), *action);
                }
            }
        }
        Keymap { keys }
    }

    /// The defaults with `file` layered over them, when it exists.
    pub fn load(file: &Path) -> Result<Keymap, Problems> {
        if !file.is_file() {
            return Ok(Keymap::defaults());
        }
        let text = std::fs::read_to_string(file).map_err(|e| {
            Problems(vec![Problem::unplaced(
                file,
                "",
                format!("cannot read the keymap: {e}"),
                "check the file's permissions and that it is UTF-8 text",
            )])
        })?;
        Keymap::parse(file, &text)
    }

    /// The defaults with the keymap text layered over them.
    pub fn parse(file: &Path, text: &str) -> Result<Keymap, Problems> {
        let src = Source::new(file.to_path_buf(), text.to_string());
        let (doc, errors) = DeTable::parse_recoverable(&src.text);
        if !errors.is_empty() {
            return Err(Problems(syntax_problems(&src, &errors)));
        }
        let mut report = Report::new(&src);
        let root = TableRef::root(&doc);
        let contexts: Vec<&str> = Context::ALL.iter().map(|c| c.name()).collect();
        root.deny_unknown(&mut report, &contexts);

        let mut keymap = Keymap::defaults();
        // Where the user bound each key, to point at it when two actions collide.
        let mut user_spans: BTreeMap<(Context, Key), (Action, std::ops::Range<usize>, String)> =
            BTreeMap::new();
        for context in Context::ALL {
            let Some(table) = root.table(&mut report, context.name()).value().cloned() else {
                continue;
            };
            let names: Vec<&str> = Action::ALL
                .iter()
                .filter(|a| a.context() == context)
                .map(|a| a.name())
                .collect();
            table.deny_unknown(&mut report, &names);
            for action in Action::ALL.iter().filter(|a| a.context() == context) {
                let Some(keys) = key_list(&table, &mut report, action.name()) else {
                    continue;
                };
                keymap
                    .keys
                    .retain(|(c, _), a| !(*c == context && a == action));
                for spanned in keys {
                    let text = spanned.get_ref().as_str();
                    let field = table.field(action.name());
                    let key = match text.parse::<Key>() {
                        Ok(key) => key,
                        Err(why) => {
                            report.at(&spanned.span(), field, why, key::KEY_HINT);
                            continue;
                        }
                    };
                    if let Some((other, other_span, other_field)) = user_spans.get(&(context, key))
                        && other != action
                    {
                        // Point at whichever of the two comes later in the file.
                        let (at, at_field) = if other_span.start > spanned.span().start {
                            (other_span.clone(), other_field.clone())
                        } else {
                            (spanned.span(), field)
                        };
                        let (first, second) = if other_span.start > spanned.span().start {
                            (action.name(), other.name())
                        } else {
                            (other.name(), action.name())
                        };
                        report.at(
                            &at,
                            at_field,
                            format!(
                                "`{key}` is bound to both `{first}` and `{second}` in [{}]",
                                context.name()
                            ),
                            "give one of them another key",
                        );
                        continue;
                    }
                    user_spans.insert((context, key), (*action, spanned.span(), field));
                    keymap.keys.insert((context, key), *action);
                }
            }
        }
        // A user's key that a built-in binding of another action still holds.
        for ((context, key), (action, span, field)) in &user_spans {
            for other in Action::ALL
                .iter()
                .filter(|a| a.context() == *context && *a != action)
            {
                let user_rebound = user_spans.values().any(|(a, _, _)| a == other);
                let default_holds = other
                    .default_keys()
                    .iter()
                    .any(|k| k.parse::<Key>().ok() == Some(*key));
                if default_holds && !user_rebound {
                    report.at(
                        span,
                        field.clone(),
                        format!(
                            "`{key}` is already bound to `{}` in [{}]",
                            other.name(),
                            context.name()
                        ),
                        format!(
                            "also rebind it in [{}], e.g. {} = \"…\", or unbind it with {} = []",
                            context.name(),
                            other.name(),
                            other.name()
                        ),
                    );
                }
            }
        }
        if report.problems.is_empty() {
            Ok(keymap)
        } else {
            Err(Problems(report.problems))
        }
    }

    /// What `key` does in `context`: the context's own binding first, then the global one.
    /// In the operator pane a printable key types, so a global binding of one (`q`, `:`,
    /// `?`) does not apply there; its own bindings (`y`, `n`) decide for themselves.
    pub fn action(&self, context: Context, key: Key) -> Option<Action> {
        if context == Context::Operator && key.is_printable() {
            return self.keys.get(&(context, key)).copied();
        }
        self.keys
            .get(&(context, key))
            .or_else(|| self.keys.get(&(Context::Global, key)))
            .copied()
    }

    /// The keys bound to `action`, for the help overlay and hints in the status line.
    /// Plain keys come first (lower case before upper), then the shortest, so hints show
    /// the easiest one.
    pub fn keys_of(&self, action: Action) -> Vec<Key> {
        let mut keys: Vec<Key> = self
            .keys
            .iter()
            .filter(|(_, a)| **a == action)
            .map(|((_, k), _)| *k)
            .collect();
        keys.sort_by_key(|k| {
            let upper = matches!(k.code, Code::Char(c) if c.is_uppercase());
            (k.ctrl || k.alt || k.shift, upper, k.to_string().len())
        });
        keys
    }
}

/// A string or a list of strings; anything else is reported.
fn key_list(table: &TableRef, report: &mut Report, name: &str) -> Option<Vec<Spanned<String>>> {
    if table
        .table
        .get(name)
        .is_some_and(|v| matches!(v.get_ref(), toml::de::DeValue::String(_)))
    {
        return table.string(report, name).value().cloned().map(|s| vec![s]);
    }
    table
        .string_list(report, name)
        .value()
        .map(|list| list.get_ref().clone())
}

#[cfg(test)]
mod tests;
