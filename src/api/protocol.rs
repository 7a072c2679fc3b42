//! The wire types of the socket protocol.

pub use crate::core::engine::{
    AckRequest, AlertsRequest, CandidateAcceptRequest, CandidateCreateRequest,
    CandidateEditRequest, CandidateGatesRequest, CandidateRequest, CandidatesRequest,
    DeployRequest, HistoryRequest, LogsRequest, PluginRequest, PromoteRequest, RollbackRequest,
    SilenceRequest, StatusRequest, StopPreviewRequest, TrafficRequest, UnsilenceRequest,
};
pub use crate::core::engine::{
    DisableRequest, IncidentRequest, IncidentsRequest, PluginsRequest, ResolveRequest,
    RestartRequest, ScaleRequest,
};
use crate::core::engine::{EngineError, EngineEvent};
use crate::core::hint::Hint;
use crate::core::types::Face;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Longest request line accepted; a longer one is answered with an error and dropped.
pub const MAX_LINE_BYTES: usize = 1 << 20;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Request {
    pub id: u64,
    #[serde(flatten)]
    pub call: Call,
    #[serde(default)]
    pub face: Face,
    /// The operator proposal a person approved, when this request runs one; the audit
    /// records it. Checked while decoding: `p-` and up to 62 of `[a-z0-9-]`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "proposal_id"
    )]
    pub proposal: Option<String>,
    /// A person's confirmation of a change in a production workspace; without it the
    /// engine refuses every change there (`api::production`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm: Option<Confirmation>,
}

/// "Yes, change `plugin` in `environment`": what a face sends once its person confirmed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Confirmation {
    pub environment: crate::core::workspace::Environment,
    /// The plugin the person confirmed; must be the call's, when the call has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
}

fn proposal_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let id: Option<String> = Option::deserialize(d)?;
    match id {
        Some(id)
            if id.len() > 64
                || !id.starts_with("p-")
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
        {
            Err(serde::de::Error::custom(
                "proposal: an id is `p-` and up to 62 of a-z 0-9 -",
            ))
        }
        other => Ok(other),
    }
}

/// One engine call: `{"method": "deploy", "params": {...}}` on the wire. Each variant wraps
/// the engine's own request struct, so each field list exists once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "method",
    content = "params",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum Call {
    Ping {},
    Status(StatusRequest),
    Deploy(DeployRequest),
    /// Stops a preview slot before its TTL; `id` is `3fa91c` or `preview-3fa91c`.
    PreviewStop(StopPreviewRequest),
    Promote(PromoteRequest),
    /// Canary: send all traffic back to the stable slot and stop the canary.
    Abort(PluginRequest),
    /// Canary: hold the rollout; the step timer freezes.
    Pause(PluginRequest),
    /// Canary: continue a paused rollout.
    Resume(PluginRequest),
    Traffic(TrafficRequest),
    Rollback(RollbackRequest),
    Logs(LogsRequest),
    History(HistoryRequest),
    Alerts(AlertsRequest),
    Silence(SilenceRequest),
    Unsilence(UnsilenceRequest),
    Ack(AckRequest),
    Subscribe(SubscribeRequest),
    /// Re-read naap.toml and every plugin.toml; apply added, removed and changed plugins.
    Reload {},
    Shutdown(ShutdownRequest),
    /// A staged copy of a plugin's source, for an instruction.
    CandidateCreate(CandidateCreateRequest),
    /// Search/replace or whole-file edits on a candidate: all or none.
    CandidateEdit(CandidateEditRequest),
    /// A candidate against the live source, as a unified diff and as data.
    CandidateDiff(CandidateRequest),
    /// The manifest's gates on a candidate's staged tree; problems parsed from a failure.
    CandidateGates(CandidateGatesRequest),
    CandidateShow(CandidateRequest),
    Candidates(CandidatesRequest),
    CandidateDiscard(CandidateRequest),
    /// Write a candidate into the plugin's source as a version.
    CandidateAccept(CandidateAcceptRequest),
    /// A plugin's user stories (from its plugin.md), each criterion with its test and
    /// that test's last result.
    Stories(PluginRequest),
    /// Every plugin (or one) with every version it has had.
    Plugins(PluginsRequest),
    /// Incidents, newest first: open ones unless `all`.
    Incidents(IncidentsRequest),
    /// One incident: timeline, the past ones it looks like, Markdown.
    IncidentShow(IncidentRequest),
    /// Resolve an open incident with a note.
    IncidentResolve(ResolveRequest),
    /// The workspace's runbooks (`runbooks/*.toml`), each checked.
    Runbooks {},
    /// One runbook's steps and its last runs.
    RunbookShow(super::runbook::RunbookRequest),
    /// Run a runbook as a saga (`dry_run`: say what would run).
    RunbookRun(super::runbook::RunbookRequest),
    /// DEPLOYED.md as of now: what runs where, since when, by whom, the last rollouts.
    Deployed {},
    /// Stop a plugin's slots and close its route (503) until it is enabled.
    PluginDisable(DisableRequest),
    /// Open a disabled plugin's route and start its last live version.
    PluginEnable(PluginRequest),
    /// Run N replicas in each of a plugin's running slots, live.
    Scale(ScaleRequest),
    /// A rolling restart of a plugin's replicas, one at a time.
    Restart(RestartRequest),
}

/// Start receiving pushes: events and snapshots, and log lines when `logs` is set (of one
/// plugin when `plugin` is set).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscribeRequest {
    #[serde(default)]
    pub logs: bool,
    #[serde(default)]
    pub plugin: Option<String>,
}

/// Stop the engine; with `stop_plugins` the slot processes stop too.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShutdownRequest {
    #[serde(default)]
    pub stop_plugins: bool,
}

impl Call {
    /// The wire name of the call (`deploy`, `preview_stop`).
    pub fn method(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.get("method")?.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// The plugin the call is about, if any.
    pub fn plugin(&self) -> Option<&str> {
        match self {
            Call::Ping {}
            | Call::Reload {}
            | Call::Deployed {}
            | Call::Runbooks {}
            | Call::RunbookShow(_)
            | Call::RunbookRun(_)
            | Call::IncidentShow(_)
            | Call::IncidentResolve(_)
            | Call::Unsilence(_)
            | Call::Shutdown(_) => None,
            // Only the id: the engine knows the candidate's plugin.
            Call::CandidateEdit(_)
            | Call::CandidateGates(_)
            | Call::CandidateDiff(_)
            | Call::CandidateShow(_)
            | Call::CandidateDiscard(_)
            | Call::CandidateAccept(_) => None,
            Call::CandidateCreate(r) => Some(&r.plugin),
            Call::Candidates(r) => r.plugin.as_deref(),
            Call::Status(r) => r.plugin.as_deref(),
            Call::Alerts(r) => r.plugin.as_deref(),
            Call::Subscribe(r) => r.plugin.as_deref(),
            Call::Deploy(r) => Some(&r.plugin),
            Call::PreviewStop(r) => Some(&r.plugin),
            Call::Promote(r) => Some(&r.plugin),
            Call::Abort(r)
            | Call::Pause(r)
            | Call::Resume(r)
            | Call::Stories(r)
            | Call::PluginEnable(r) => Some(&r.plugin),
            Call::Plugins(r) => r.plugin.as_deref(),
            Call::Incidents(r) => r.plugin.as_deref(),
            Call::PluginDisable(r) => Some(&r.plugin),
            Call::Scale(r) => Some(&r.plugin),
            Call::Restart(r) => Some(&r.plugin),
            Call::Traffic(r) => Some(&r.plugin),
            Call::Rollback(r) => Some(&r.plugin),
            Call::Logs(r) => Some(&r.plugin),
            Call::History(r) => Some(&r.plugin),
            Call::Silence(r) => Some(&r.plugin),
            Call::Ack(r) => Some(&r.plugin),
        }
    }

    pub fn plugin_only(plugin: impl Into<String>) -> PluginRequest {
        PluginRequest {
            plugin: plugin.into(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Reply {
    pub id: Option<u64>,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ApiError {
    pub code: String,
    pub message: String,
    /// What would help, for each face to say in its own terms; left out when nothing in
    /// particular would, so older clients read the same object.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<Hint>,
}

/// A line the server sends after `subscribe`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Push {
    pub push: EngineEvent,
}

/// Either kind of server line, for clients that read both.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum ServerLine {
    Push(Push),
    Reply(Reply),
}

impl Reply {
    pub fn ok(id: u64, result: serde_json::Value) -> Reply {
        Reply {
            id: Some(id),
            ok: true,
            result: Some(result),
            error: None,
        }
    }

    pub fn error(id: Option<u64>, code: &str, message: impl Into<String>) -> Reply {
        Reply {
            id,
            ok: false,
            result: None,
            error: Some(ApiError {
                code: code.to_string(),
                message: message.into(),
                hints: Vec::new(),
            }),
        }
    }

    pub fn from_engine(id: u64, error: &EngineError) -> Reply {
        let mut reply = Reply::error(Some(id), error.code(), error.to_string());
        if let Some(api) = &mut reply.error {
            api.hints = error.hints();
        }
        reply
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Request, serde_json::Error> {
        serde_json::from_str(line)
    }

    #[test]
    fn alert_calls_have_a_stable_wire_shape() {
        let r = parse(
            r#"{"id":1,"method":"silence","params":{"plugin":"web","rule":"errors","duration":"2h","comment":"fix deploying","author":"ana"}}"#,
        )
        .expect("silence");
        assert!(matches!(r.call, Call::Silence(ref s) if s.rule.as_deref() == Some("errors")));
        let r = parse(r#"{"id":2,"method":"alerts","params":{}}"#).expect("alerts");
        assert_eq!(
            r.call,
            Call::Alerts(AlertsRequest {
                plugin: None,
                limit: 100
            })
        );
        let r = parse(r#"{"id":3,"method":"unsilence","params":{"id":7}}"#).expect("unsilence");
        assert_eq!(r.call, Call::Unsilence(UnsilenceRequest { id: 7 }));
        let r = parse(
            r#"{"id":4,"method":"ack","params":{"plugin":"web","rule":"errors","author":"bo"}}"#,
        )
        .expect("ack");
        assert!(matches!(r.call, Call::Ack(_)));
        // A silence without a comment, or with an unknown key, is refused.
        assert!(parse(r#"{"id":5,"method":"silence","params":{"plugin":"web","duration":"2h","author":"a"}}"#).is_err());
        assert!(parse(r#"{"id":6,"method":"ack","params":{"plugin":"web","rule":"e","author":"a","until":"x"}}"#).is_err());
    }
}
