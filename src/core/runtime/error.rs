//! What can go wrong when starting or adopting a slot's process.

use crate::core::types::SlotName;
use std::path::PathBuf;

/// A slot's process could not be started or adopted.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The directory for the slot's log files could not be created.
    #[error(
        "cannot create the log directory {path}: {source}; check that the state directory \
         exists and is writable"
    )]
    LogDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A log file of the slot could not be opened.
    #[error(
        "cannot open the log file {path}: {source}; check its permissions and the free disk space"
    )]
    LogFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `sh -c COMMAND` could not be spawned.
    #[error(
        "cannot start `{command}` for {plugin} ({slot}) in {cwd}: {source}; check that the \
         directory exists and that `sh` is installed"
    )]
    Spawn {
        plugin: String,
        slot: SlotName,
        command: String,
        cwd: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The process to adopt has exited, or its pid now belongs to another process.
    #[error(
        "process {pid} of {plugin} ({slot}) is no longer running (or its pid was reused); \
         start the slot again instead of adopting it"
    )]
    NotAlive {
        plugin: String,
        slot: SlotName,
        pid: u32,
    },
    /// The process to adopt does not lead its own process group, so signalling its group
    /// could hit unrelated processes.
    #[error(
        "process {pid} of {plugin} ({slot}) is not the leader of its process group (group \
         {pgid}); only processes started by naap can be adopted, stop it by hand and start \
         the slot again"
    )]
    NotGroupLeader {
        plugin: String,
        slot: SlotName,
        pid: u32,
        pgid: u32,
    },
}
