//! `environment = "production"` in naap.toml: what kind of workspace this is, which decides
//! how careful every face must be before it changes something.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_spanned::Spanned;

use super::problem::Report;
use super::reader::Field;

/// The workspace's environment. Only `production` changes behaviour: every change there
/// needs a confirmation that names it (see `api::production`); the others are labels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    /// No `environment` key: a developer's own workspace.
    #[default]
    Development,
    Test,
    Staging,
    Production,
}

impl Environment {
    /// The names naap.toml accepts.
    pub const NAMES: [&'static str; 4] = ["development", "test", "staging", "production"];

    pub fn name(self) -> &'static str {
        match self {
            Environment::Development => "development",
            Environment::Test => "test",
            Environment::Staging => "staging",
            Environment::Production => "production",
        }
    }

    pub fn from_name(name: &str) -> Option<Environment> {
        match name {
            "development" => Some(Environment::Development),
            "test" => Some(Environment::Test),
            "staging" => Some(Environment::Staging),
            "production" => Some(Environment::Production),
            _ => None,
        }
    }

    pub fn is_production(self) -> bool {
        self == Environment::Production
    }

    /// How a line that changes something is labelled (`[production] `); nothing for a
    /// development workspace, which is the default and needs no reminder.
    pub fn line_prefix(self) -> String {
        match self {
            Environment::Development => String::new(),
            other => format!("[{}] ", other.name()),
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Checks the `environment` key.
pub(super) fn environment(value: &Field<Spanned<String>>, r: &mut Report) -> Environment {
    match value {
        Field::Present(s) => match Environment::from_name(s.get_ref().trim()) {
            Some(env) => env,
            None => {
                r.at(
                    &s.span(),
                    "environment",
                    format!("unknown environment `{}`", s.get_ref()),
                    suggestion(s.get_ref().trim()),
                );
                Environment::Development
            }
        },
        _ => Environment::Development,
    }
}

/// "Did you mean": the name a short form begins (`prod`, `dev`, `stag`), else the closest.
fn suggestion(word: &str) -> String {
    let lower = word.to_ascii_lowercase();
    match Environment::NAMES
        .iter()
        .find(|name| lower.len() >= 3 && name.starts_with(lower.as_str()))
    {
        Some(name) => format!("did you mean `{name}`? e.g. environment = \"{name}\""),
        None => format!(
            "{}; e.g. environment = \"production\"",
            super::suggest::hint(word, &Environment::NAMES)
        ),
    }
}
