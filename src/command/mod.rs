//! The command grammar (clap) and the one mapping from a command to an engine call. Every
//! face parses with it: the shell, the dashboard's `:` line and the operator's slash
//! commands. It sits beside `api`: it knows calls, not terminals or models.

pub mod grammar;
pub mod line;
pub mod manual;
pub mod to_call;

pub use grammar::{
    AlertsCommand, CandidateCommand, ChatArgs, Cli, Command, DeployArgs, ExportCommand,
    IncidentCommand, IterateArgs, LogsArgs, McpArgs, PluginCommand, PreviewCommand, RunbookCommand,
    SampleCli,
};
pub use to_call::{CallError, to_call};
