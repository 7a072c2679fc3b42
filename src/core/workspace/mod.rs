//! Workspaces: naap.toml and the plugin.toml of each plugin it lists.
//!
//! `load` parses and checks everything and reports every problem with its file, line, column
//! and field; `init` writes a sample workspace; `expand_placeholders` fills in run commands.
//!
//! Reading happens in two steps: `reader`/`raw` turn the TOML document into typed, spanned
//! raw structs (type errors and unknown keys), then `validate`/`cross` check values and apply
//! defaults to build the model.

mod cross;
mod duration;
pub mod edit;
mod environment;
mod init;
mod load;
mod model;
mod placeholders;
mod problem;
mod raw;
mod reader;
mod secrets;
mod shell;
mod suggest;
mod validate;

#[cfg(test)]
mod tests;

pub use environment::Environment;
pub use init::init;
pub use load::{PLUGIN_FILE, WORKSPACE_FILE, find_root, load, load_lenient};
pub use model::{
    AlertSpec, AnalysisSpec, BrokenPlugin, HealthCheck, HealthSpec, OutlierSpec, PluginManifest,
    Resources, RollbackSpec, Route, RouterConfig, RunSpec, Sticky, StrategySpec, Workspace,
};
pub use placeholders::{PLACEHOLDER_NAMES, Placeholders, expand_for_shell, expand_placeholders};
pub use problem::{Problem, Problems};
pub use secrets::SecretRef;
pub use validate::capacity::{MAX_REPLICAS, parse_bytes, show_bytes};

// The positioned TOML reading, shared with the dashboard's theme and keymap files so they
// report problems the same way (file, line, column, field, hint).
pub(crate) use problem::{Report, Source, syntax_problems};
pub(crate) use reader::TableRef;
pub(crate) use suggest::{hint as did_you_mean, quoted_list};
