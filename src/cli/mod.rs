//! The headless face: every subcommand is a client of the engine's socket, except `init`,
//! `validate` and `serve`, which work on files or run the engine. `launch` picks the face;
//! the grammar is in `command`.

// Printing goes through `stdout` (outln!, out!, noteln!), which never panics on a closed
// pipe; the std macros do, so they are refused here.
#![deny(clippy::print_stdout, clippy::print_stderr)]

#[macro_use]
pub(crate) mod stdout;
pub(crate) mod actions;
pub(crate) mod alerts;
pub(crate) mod approve;
pub(crate) mod candidates;
pub(crate) mod chat;
pub(crate) mod confirm;
pub(crate) mod context;
pub(crate) mod generate;
pub(crate) mod hint;
pub(crate) mod incidents;
pub(crate) mod iterate;
pub(crate) mod logs;
pub(crate) mod output;
pub(crate) mod plugins;
pub(crate) mod reload;
pub(crate) mod runbooks;
pub(crate) mod serve;
pub(crate) mod status;
pub(crate) mod stop;
pub(crate) mod workspace_cmds;

pub use crate::command::{AlertsCommand, Cli, Command};
