//! Errors the engine returns to its faces. Each names what went wrong and what to do.

use crate::core::store::StoreError;
use crate::core::workspace::Problems;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("unknown plugin `{name}`; the workspace has: {known}")]
    UnknownPlugin { name: String, known: String },

    #[error("the workspace has problems:\n{0}")]
    Workspace(Problems),

    /// A plugin whose own plugin.toml has problems; the other plugins are not affected.
    #[error(
        "{plugin}: its plugin.toml has problems, so naap cannot use it (nothing changed):\n{problems}\n  fix them, then run `naap reload`"
    )]
    BrokenPlugin { plugin: String, problems: Problems },

    #[error("{0}")]
    Store(StoreError),

    #[error("{plugin}: {message}")]
    Rejected { plugin: String, message: String },

    #[error(
        "{plugin}: gate `{gate}` failed ({status}); traffic is unchanged. See `naap logs {plugin} --slot gate`"
    )]
    GateFailed {
        plugin: String,
        gate: String,
        status: String,
    },

    #[error("{plugin}: {message}; traffic is unchanged")]
    DeployFailed { plugin: String, message: String },

    #[error("{plugin}: the operation was cancelled by {by}")]
    Cancelled { plugin: String, by: String },

    /// A bad alert command: unknown rule, bad duration, missing comment, nothing firing.
    #[error("{0}")]
    Alert(String),
    /// A canary rollout ended by sending all traffic back to the stable slot.
    #[error("{plugin}: {reason}; all traffic is back on the stable slot")]
    RolledBack {
        plugin: String,
        /// The rollout's final state: `aborted` or `rolled_back`.
        state: &'static str,
        reason: String,
    },

    #[error("engine start failed: {0}")]
    Start(String),

    /// A request whose parameters are wrong in a way decoding cannot see (a bad pattern).
    #[error("{0}")]
    BadRequest(String),
}

impl EngineError {
    /// A stable machine-readable code for the API and `--json` output.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::UnknownPlugin { .. } => "unknown_plugin",
            EngineError::Workspace(_) => "invalid_workspace",
            EngineError::BrokenPlugin { .. } => "invalid_manifest",
            EngineError::Store(_) => "store",
            EngineError::Rejected { .. } => "rejected",
            EngineError::GateFailed { .. } => "gate_failed",
            EngineError::DeployFailed { .. } => "deploy_failed",
            EngineError::Cancelled { .. } => "cancelled",
            EngineError::Alert(_) => "alert",
            EngineError::RolledBack { .. } => "rolled_back",
            EngineError::Start(_) => "start",
            EngineError::BadRequest(_) => "bad_request",
        }
    }

    pub(crate) fn rejected(plugin: &str, message: impl Into<String>) -> Self {
        EngineError::Rejected {
            plugin: plugin.to_string(),
            message: message.into(),
        }
    }
}

// Written out rather than `#[from]`: a `#[from]` field is also the error's `source`, and the
// message already includes it, so chained output (`{:#}`) would say everything twice.
impl From<Problems> for EngineError {
    fn from(problems: Problems) -> Self {
        EngineError::Workspace(problems)
    }
}

impl From<StoreError> for EngineError {
    fn from(error: StoreError) -> Self {
        EngineError::Store(error)
    }
}
