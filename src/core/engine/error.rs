//! Errors the engine returns to its faces. Each names what went wrong; what to do is in
//! its [`hints`](EngineError::hints), which each face renders in its own terms, so the
//! message names no face's flags or keys.

use crate::core::hint::Hint;
use crate::core::logs::LogOrigin;
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
        "{plugin}: its plugin.toml has problems, so naap cannot use it (nothing changed); fix them, then reload:\n{problems}"
    )]
    BrokenPlugin { plugin: String, problems: Problems },

    #[error("{0}")]
    Store(StoreError),

    #[error("{plugin}: {message}")]
    Rejected {
        plugin: String,
        message: String,
        hints: Vec<Hint>,
    },

    /// Its output is in the plugin's gate logs; the hint says so.
    #[error("{plugin}: gate `{gate}` failed ({status}); traffic is unchanged")]
    GateFailed {
        plugin: String,
        gate: String,
        status: String,
    },

    #[error("{plugin}: {message}; traffic is unchanged")]
    DeployFailed {
        plugin: String,
        message: String,
        hints: Vec<Hint>,
    },

    #[error("{plugin}: the operation was cancelled by {by}")]
    Cancelled { plugin: String, by: String },

    /// A bad alert command: unknown rule, bad duration, missing comment, nothing firing.
    #[error("{message}")]
    Alert { message: String, hints: Vec<Hint> },
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
            EngineError::Alert { .. } => "alert",
            EngineError::RolledBack { .. } => "rolled_back",
            EngineError::Start(_) => "start",
            EngineError::BadRequest(_) => "bad_request",
        }
    }

    /// What would help, in no face's words; empty when nothing in particular would.
    pub fn hints(&self) -> Vec<Hint> {
        match self {
            EngineError::Rejected { hints, .. }
            | EngineError::DeployFailed { hints, .. }
            | EngineError::Alert { hints, .. } => hints.clone(),
            EngineError::GateFailed { plugin, .. } => vec![Hint::ReadLogs {
                plugin: plugin.clone(),
                slot: LogOrigin::Gate,
            }],
            EngineError::BrokenPlugin { .. } => vec![Hint::Reload],
            EngineError::UnknownPlugin { .. }
            | EngineError::Workspace(_)
            | EngineError::Store(_)
            | EngineError::Cancelled { .. }
            | EngineError::RolledBack { .. }
            | EngineError::Start(_)
            | EngineError::BadRequest(_) => Vec::new(),
        }
    }

    /// The same error with `hint` added, for the errors that carry their own hints; the
    /// others derive theirs (see [`hints`](EngineError::hints)) and are returned unchanged.
    pub(crate) fn hint(mut self, hint: Hint) -> Self {
        if let EngineError::Rejected { hints, .. }
        | EngineError::DeployFailed { hints, .. }
        | EngineError::Alert { hints, .. } = &mut self
        {
            hints.push(hint);
        }
        self
    }

    pub(crate) fn rejected(plugin: &str, message: impl Into<String>) -> Self {
        EngineError::Rejected {
            plugin: plugin.to_string(),
            message: message.into(),
            hints: Vec::new(),
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
