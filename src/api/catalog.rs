//! The catalog of the engine's calls: for each, what it does, a JSON schema of its
//! parameters (generated from the request struct, so it cannot drift), the type of its
//! result, and its effect. The operator's tools and the MCP server's tools are this list;
//! no face adds a private power.

use super::protocol::{Call, ShutdownRequest, SubscribeRequest};
use crate::core::engine::{
    AckRequest, AlertsRequest, CandidateAcceptRequest, CandidateCreateRequest,
    CandidateEditRequest, CandidateGatesRequest, CandidateRequest, CandidatesRequest,
    DeployRequest, DisableRequest, HistoryRequest, IncidentRequest, IncidentsRequest, LogsRequest,
    PluginRequest, PluginsRequest, PromoteRequest, ResolveRequest, RollbackRequest, SilenceRequest,
    StatusRequest, StopPreviewRequest, TrafficRequest, UnsilenceRequest,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

/// What a call does to the world, which decides who may run it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Changes nothing: runs unasked.
    Read,
    /// Changes something: from a model it becomes a proposal that runs only on a
    /// person's yes.
    Change,
    /// Works on a draft only (a candidate's staged tree in the state directory), never on
    /// live source or traffic: runs unasked for a model in confirm and suggest modes,
    /// refused in read-only mode.
    Draft,
    /// Plumbing for faces (subscribe, shutdown): never offered to a model.
    Admin,
}

/// One call of the catalog.
#[derive(Clone, Debug, Serialize)]
pub struct CallSpec {
    /// The wire name (`rollback`), also the tool's name.
    pub method: &'static str,
    pub description: &'static str,
    /// The effect when run for real; a dry run of a change is a read ([`effect_of`]).
    pub effect: Effect,
    /// Whether `dry_run: true` turns it into a read that says what would happen.
    pub has_dry_run: bool,
    /// The result type's name, as `naap … --json` prints it.
    pub result: &'static str,
    /// JSON schema of `params`: an object, every sub-schema inlined.
    pub params: serde_json::Value,
}

/// Every call, in the order a person would look for them.
pub fn catalog() -> &'static [CallSpec] {
    static CATALOG: LazyLock<Vec<CallSpec>> = LazyLock::new(build);
    &CATALOG
}

/// The spec of `method`, if the catalog has it.
pub fn find(method: &str) -> Option<&'static CallSpec> {
    catalog().iter().find(|c| c.method == method)
}

/// The calls a model may be offered: reads and changes, never admin.
pub fn for_models() -> impl Iterator<Item = &'static CallSpec> {
    catalog().iter().filter(|c| c.effect != Effect::Admin)
}

/// What this exact call does: a dry run is a read whatever the method.
pub fn effect_of(call: &Call) -> Effect {
    match call {
        Call::Status(_)
        | Call::Logs(_)
        | Call::History(_)
        | Call::Alerts(_)
        | Call::CandidateDiff(_)
        | Call::CandidateShow(_)
        | Call::Candidates(_)
        | Call::Stories(_)
        | Call::Plugins(_)
        | Call::Deployed {}
        | Call::Incidents(_)
        | Call::Runbooks {}
        | Call::RunbookShow(_)
        | Call::IncidentShow(_) => Effect::Read,
        Call::RunbookRun(r) if r.dry_run => Effect::Read,
        Call::CandidateAccept(r) if r.dry_run => Effect::Read,
        Call::CandidateCreate(_)
        | Call::CandidateEdit(_)
        | Call::CandidateGates(_)
        | Call::CandidateDiscard(_) => Effect::Draft,
        Call::CandidateAccept(_) => Effect::Change,
        Call::Deploy(r) if r.dry_run => Effect::Read,
        Call::Traffic(r) if r.dry_run => Effect::Read,
        Call::Rollback(r) if r.dry_run => Effect::Read,
        Call::Scale(r) if r.dry_run => Effect::Read,
        Call::Restart(r) if r.dry_run => Effect::Read,
        Call::Deploy(_)
        | Call::PreviewStop(_)
        | Call::Promote(_)
        | Call::Abort(_)
        | Call::Pause(_)
        | Call::Resume(_)
        | Call::Traffic(_)
        | Call::Rollback(_)
        | Call::Silence(_)
        | Call::Unsilence(_)
        | Call::Ack(_)
        | Call::PluginDisable(_)
        | Call::IncidentResolve(_)
        | Call::RunbookRun(_)
        | Call::PluginEnable(_)
        | Call::Scale(_)
        | Call::Restart(_)
        | Call::Reload {} => Effect::Change,
        Call::Ping {} | Call::Subscribe(_) | Call::Shutdown(_) => Effect::Admin,
    }
}

/// Builds the call a tool invocation names, decoded exactly as the socket decodes it:
/// unknown parameters, bad versions and missing fields are refused with serde's message.
pub fn call_from_tool(method: &str, arguments: &serde_json::Value) -> Result<Call, String> {
    if find(method).is_none() {
        return Err(format!("there is no call `{method}`"));
    }
    let params = match arguments {
        serde_json::Value::Null => serde_json::json!({}),
        other => other.clone(),
    };
    serde_json::from_value(serde_json::json!({"method": method, "params": params}))
        .map_err(|e| format!("{method}: {e}"))
}

/// The same call with `dry_run` set, for changes that have one: what a proposal shows.
pub fn dry_run_of(call: &Call) -> Option<Call> {
    let mut call = call.clone();
    match &mut call {
        Call::Deploy(r) => r.dry_run = true,
        Call::Traffic(r) => r.dry_run = true,
        Call::Rollback(r) => r.dry_run = true,
        Call::CandidateAccept(r) => r.dry_run = true,
        Call::RunbookRun(r) => r.dry_run = true,
        Call::Scale(r) => r.dry_run = true,
        Call::Restart(r) => r.dry_run = true,
        _ => return None,
    }
    Some(call)
}

/// A parameter schema an LLM API takes: an object, no `$schema`/`title` noise, every
/// referenced type inlined (some servers do not follow `$ref`).
fn schema<T: JsonSchema>() -> serde_json::Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut value = generator.into_root_schema_for::<T>().to_value();
    if let Some(object) = value.as_object_mut() {
        object.remove("$schema");
        object.remove("title");
        object.remove("description");
    }
    value
}

fn empty() -> serde_json::Value {
    serde_json::json!({"type": "object", "properties": {}, "additionalProperties": false})
}

fn spec(
    method: &'static str,
    effect: Effect,
    result: &'static str,
    description: &'static str,
    params: serde_json::Value,
) -> CallSpec {
    let has_dry_run = params
        .pointer("/properties/dry_run")
        .is_some_and(|p| !p.is_null());
    CallSpec {
        method,
        description,
        effect,
        has_dry_run,
        result,
        params,
    }
}

fn build() -> Vec<CallSpec> {
    use Effect::{Admin, Change, Draft, Read};
    vec![
        spec(
            "stories",
            Read,
            "StoriesReport",
            "A plugin's user stories (for a plugin made from a plugin.md): each acceptance criterion with the test that covers it and that test's last result (passed, failed, skipped = still to implement, not_run).",
            schema::<PluginRequest>(),
        ),
        spec(
            "plugins",
            Read,
            "PluginVersions[]",
            "Every plugin (or one) with every version it has had: when each was first and last deployed, how its last rollout ended, which is live, and whether the plugin is disabled.",
            schema::<PluginsRequest>(),
        ),
        spec(
            "incidents",
            Read,
            "IncidentRecord[]",
            "Incidents, newest first (open ones unless all=true): opened by an automatic rollback, a critical alert firing, a crash loop or a failed deploy; each with its signals and, once resolved, the note saying what fixed it.",
            schema::<IncidentsRequest>(),
        ),
        spec(
            "incident_show",
            Read,
            "IncidentReport",
            "One incident: its signals and the actions taken while it was open (with the face of each), the resolved incidents it looks like (same plugin, same signals, similar error lines) with how each was resolved, and the incident as Markdown. Read the past resolutions before proposing a fix.",
            schema::<IncidentRequest>(),
        ),
        spec(
            "incident_resolve",
            Change,
            "IncidentRecord",
            "Resolve an open incident with a note saying what fixed it (kept for the next incident like it).",
            schema::<ResolveRequest>(),
        ),
        spec(
            "runbooks",
            Read,
            "RunbookList",
            "The workspace's runbooks (runbooks/*.toml): named chains of naap calls, shell commands and checks, each step with its compensation; a broken file is listed with its problem.",
            empty(),
        ),
        spec(
            "runbook_show",
            Read,
            "RunbookView",
            "One runbook: its steps (call, shell, wait_healthy, expect), conditions, timeouts and compensations, and its last runs with each step's outcome.",
            schema::<super::runbook::RunbookRequest>(),
        ),
        spec(
            "runbook_run",
            Change,
            "RunbookOutcome",
            "Run a runbook as a saga: its steps in order (parallel groups together); when one fails, the compensations of the steps already done run in reverse order and the run ends failed, saying what was undone. With dry_run it only lists what would run.",
            schema::<super::runbook::RunbookRequest>(),
        ),
        spec(
            "deployed",
            Read,
            "DeployedPage",
            "DEPLOYED.md as of now, in Markdown: every plugin, its live and warm versions, route and URL, since when and by which face, and its last rollouts and rollbacks.",
            empty(),
        ),
        spec(
            "plugin_disable",
            Change,
            "ActionOutcome",
            "Disable a plugin: its slots stop (drained first) and the router answers its route with 503 and a body that says so, until plugin_enable. Its history is kept. Refused while a rollout runs.",
            schema::<DisableRequest>(),
        ),
        spec(
            "scale",
            Change,
            "ActionOutcome",
            "Run `replicas` processes (1-64) in each of the plugin's running slots, live: new ones get traffic once healthy, removed ones are drained first. Lasts until scaled again.",
            schema::<crate::core::engine::ScaleRequest>(),
        ),
        spec(
            "restart",
            Change,
            "ActionOutcome",
            "Rolling restart of a plugin's replicas (one slot, or every running one): each is drained, stopped, started again and waited for, one at a time; no request fails.",
            schema::<crate::core::engine::RestartRequest>(),
        ),
        spec(
            "plugin_enable",
            Change,
            "ActionOutcome",
            "Enable a disabled plugin: its route opens and the version that served when it was disabled starts again. If that start fails it stays disabled.",
            schema::<PluginRequest>(),
        ),
        spec(
            "candidates",
            Read,
            "CandidateRecord[]",
            "Candidates (proposed changes kept apart from the live source) of one plugin or all, newest first: id, instruction, status, the version an accepted one became.",
            schema::<CandidatesRequest>(),
        ),
        spec(
            "candidate_show",
            Read,
            "CandidateReport",
            "One candidate: its instruction, status, staged tree, change counts and history (each edit, gate run and note).",
            schema::<CandidateRequest>(),
        ),
        spec(
            "candidate_diff",
            Read,
            "CandidateDiff",
            "A candidate against the plugin's live source: a unified diff (`unified`) and the same as files, hunks and lines.",
            schema::<CandidateRequest>(),
        ),
        spec(
            "candidate_create",
            Draft,
            "CandidateReport",
            "Start a candidate: a staged copy of a plugin's current source for an instruction. Nothing live changes.",
            schema::<CandidateCreateRequest>(),
        ),
        spec(
            "candidate_edit",
            Draft,
            "EditOutcome",
            "Edit a candidate's staged copy: search_replace blocks (the search text must occur exactly once; on a miss the reply shows the most similar lines with their numbers) or whole_file contents. Paths are relative to the plugin directory. All edits apply or none.",
            schema::<CandidateEditRequest>(),
        ),
        spec(
            "candidate_gates",
            Draft,
            "CandidateGateRun",
            "Run the plugin's build, lint and test gates on a candidate's staged copy (cached passes are reused). A failed gate comes back with its output and the problems read from it (file, line, message).",
            schema::<CandidateGatesRequest>(),
        ),
        spec(
            "candidate_discard",
            Draft,
            "CandidateRecord",
            "Discard a candidate: its staged copy is removed; its history stays.",
            schema::<CandidateRequest>(),
        ),
        spec(
            "candidate_accept",
            Change,
            "AcceptOutcome",
            "Write a candidate into the plugin's source as a version (default: the next patch with the candidate's id, 1.4.0 → 1.4.1-ai.<id>); refused when the source changed since the candidate started. With dry_run it only says what would be written.",
            schema::<CandidateAcceptRequest>(),
        ),
        spec(
            "status",
            Read,
            "StatusReport",
            "Every plugin (or one): its slots with version, state, health and traffic weight; live metrics per slot (requests per second, error rate, p50/p99 latency); the running rollout and its step; firing alerts.",
            schema::<StatusRequest>(),
        ),
        spec(
            "logs",
            Read,
            "LogLine[]",
            "A plugin's recent log lines, newest last, filtered by slot (or the build/test gates), level, time, a regular expression.",
            schema::<LogsRequest>(),
        ),
        spec(
            "history",
            Read,
            "HistoryReport",
            "A plugin's rollouts (with each canary step's judgement), events and audit records: who changed what, when, from which face.",
            schema::<HistoryRequest>(),
        ),
        spec(
            "alerts",
            Read,
            "AlertsReport",
            "Alert rules and their state (pending, firing, resolved), active silences and recent transitions.",
            schema::<AlertsRequest>(),
        ),
        spec(
            "deploy",
            Change,
            "ActionOutcome",
            "Deploy a version into the idle slot with the plugin's strategy (immediate, blue-green or canary steps with automatic analysis and rollback); build and test gates run first. With dry_run it only says what would happen.",
            schema::<DeployRequest>(),
        ),
        spec(
            "rollback",
            Change,
            "ActionOutcome",
            "Move all traffic back to the previous version: a weight flip when its slot is warm, else a redeploy. During a canary it ends the rollout at once. With dry_run it only says what would happen.",
            schema::<RollbackRequest>(),
        ),
        spec(
            "traffic",
            Change,
            "ActionOutcome",
            "Set the traffic weights of blue and green by hand (percentages summing to 100). With dry_run it only says what the weights would become.",
            schema::<TrafficRequest>(),
        ),
        spec(
            "promote",
            Change,
            "ActionOutcome",
            "Canary: go on to the next step now (releasing a hold); with full, straight to 100 %.",
            schema::<PromoteRequest>(),
        ),
        spec(
            "abort",
            Change,
            "ActionOutcome",
            "Canary: send all traffic back to the stable slot and stop the canary.",
            schema::<PluginRequest>(),
        ),
        spec(
            "pause",
            Change,
            "ActionOutcome",
            "Canary: hold the rollout at its current weight; the step timer freezes.",
            schema::<PluginRequest>(),
        ),
        spec(
            "resume",
            Change,
            "ActionOutcome",
            "Canary: continue a paused rollout.",
            schema::<PluginRequest>(),
        ),
        spec(
            "preview_stop",
            Change,
            "ActionOutcome",
            "Stop a preview slot before its time to live ends.",
            schema::<StopPreviewRequest>(),
        ),
        spec(
            "silence",
            Change,
            "Silence",
            "Mute a plugin's alerts (all, or one rule) for a duration, with a comment saying why.",
            schema::<SilenceRequest>(),
        ),
        spec(
            "unsilence",
            Change,
            "Silence",
            "End a silence now.",
            schema::<UnsilenceRequest>(),
        ),
        spec(
            "ack",
            Change,
            "Ack",
            "Acknowledge a firing alert: no more repeats until it resolves.",
            schema::<AckRequest>(),
        ),
        spec(
            "reload",
            Change,
            "ReloadReport",
            "Re-read naap.toml and every plugin.toml; load added plugins, stop removed ones, apply changed ones.",
            empty(),
        ),
        spec(
            "ping",
            Admin,
            "Pong",
            "Whether the engine answers, and its pid.",
            empty(),
        ),
        spec(
            "subscribe",
            Admin,
            "pushes",
            "Receive events, snapshots and log lines as they happen (a face's plumbing).",
            schema::<SubscribeRequest>(),
        ),
        spec(
            "shutdown",
            Admin,
            "Stopping",
            "Stop the engine (and its plugins' processes with stop_plugins).",
            schema::<ShutdownRequest>(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_is_in_the_catalog_once_with_its_effect() {
        let mut methods: Vec<&str> = catalog().iter().map(|c| c.method).collect();
        let count = methods.len();
        methods.sort_unstable();
        methods.dedup();
        assert_eq!(methods.len(), count, "a method is listed twice");
        // Each spec decodes from an empty-ish call of its own method and agrees on effect.
        for spec in catalog() {
            let sample = match spec.method {
                "ping" | "reload" | "subscribe" | "shutdown" | "status" | "alerts" | "deployed"
                | "plugins" | "incidents" | "runbooks" => {
                    serde_json::json!({})
                }
                "unsilence" | "incident_show" => serde_json::json!({"id": 1}),
                "incident_resolve" => serde_json::json!({"id": 1, "note": "n"}),
                "runbook_show" | "runbook_run" => serde_json::json!({"name": "restart"}),
                "preview_stop" => serde_json::json!({"plugin": "p", "id": "3fa91c"}),
                "traffic" => serde_json::json!({"plugin": "p", "weights": {"blue": 100}}),
                "silence" => {
                    serde_json::json!({"plugin": "p", "duration": "1h", "comment": "c", "author": "a"})
                }
                "ack" => serde_json::json!({"plugin": "p", "rule": "r", "author": "a"}),
                "scale" => serde_json::json!({"plugin": "p", "replicas": 3}),
                "candidates" => serde_json::json!({}),
                "candidate_create" => serde_json::json!({"plugin": "p", "instruction": "i"}),
                "candidate_edit" => serde_json::json!({"id": "k3x9q2", "edits": [
                    {"kind": "whole_file", "path": "a.py", "content": "x"}
                ]}),
                "candidate_show" | "candidate_diff" | "candidate_gates" | "candidate_discard"
                | "candidate_accept" => {
                    serde_json::json!({"id": "k3x9q2"})
                }
                _ => serde_json::json!({"plugin": "p"}),
            };
            let call = call_from_tool(spec.method, &sample)
                .unwrap_or_else(|e| panic!("{}: {e}", spec.method));
            assert_eq!(call.method(), spec.method);
            assert_eq!(effect_of(&call), spec.effect, "{}", spec.method);
            assert_eq!(spec.params["type"], "object", "{}", spec.method);
        }
    }

    #[test]
    fn dry_runs_are_reads_and_admin_is_never_offered() {
        let rollback = call_from_tool("rollback", &serde_json::json!({"plugin": "p"})).unwrap();
        assert_eq!(effect_of(&rollback), Effect::Change);
        let preview = dry_run_of(&rollback).unwrap();
        assert_eq!(effect_of(&preview), Effect::Read);
        assert!(find("rollback").unwrap().has_dry_run);
        assert!(!find("promote").unwrap().has_dry_run);
        assert!(for_models().all(|c| !matches!(c.method, "shutdown" | "subscribe" | "ping")));
    }

    #[test]
    fn schemas_come_from_the_types_and_tools_decode_like_the_socket() {
        let deploy = &find("deploy").unwrap().params;
        assert_eq!(deploy["required"], serde_json::json!(["plugin"]));
        assert!(
            deploy["properties"]["version"]
                .to_string()
                .contains("pattern")
        );
        assert!(!deploy.to_string().contains("$ref"), "{deploy}");
        let bad = call_from_tool(
            "deploy",
            &serde_json::json!({"plugin": "p", "version": "1.0; rm -rf /"}),
        );
        assert!(bad.unwrap_err().contains("version"));
        let unknown = call_from_tool(
            "rollback",
            &serde_json::json!({"plugin": "p", "force": true}),
        );
        assert!(unknown.unwrap_err().contains("unknown field"));
        assert!(call_from_tool("shutdown_everything", &serde_json::json!({})).is_err());
    }
}
