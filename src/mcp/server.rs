//! The MCP server: the catalog's calls and the workspace tools as MCP tools, the engine's
//! state as resources. The policy is applied here, on every call, whatever the client
//! believes or its tool list says: a read runs; a change becomes a waiting proposal in the
//! session store unless `--allow-changes`, and is refused under `--read-only`; admin
//! calls are not tools at all.

use super::hints;
use super::resources;
use crate::ai::approval;
use crate::ai::operator::Operator;
use crate::ai::redact::Redactor;
use crate::ai::session::{SessionEntry, SessionId, SessionStore, ToolCallEntry, ToolEffect};
use crate::ai::tools::workspace;
use crate::api::catalog::{self, Effect};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use std::sync::{Arc, Mutex};

/// How far an MCP client may go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Changes become proposals a person approves (`naap approve ID`, the dashboard).
    Propose,
    /// The client's own confirmation is the yes: changes run at once.
    AllowChanges,
    /// No change tools are offered, and a change call is refused.
    ReadOnly,
}

/// What every connection of one `naap mcp` shares.
pub struct Shared {
    pub operator: Operator,
    pub store: SessionStore,
    pub mode: Mode,
    /// Tool results and resources leave naap for a client that may hand them to a model.
    pub redactor: Redactor,
    /// The store's session for this server, made on the first tool call.
    pub session: Mutex<Option<SessionId>>,
    /// Numbers the tool calls of the session.
    pub calls: Mutex<u64>,
}

/// One connection's handler; cheap to clone (HTTP makes one per MCP session).
#[derive(Clone)]
pub struct NaapMcp {
    shared: Arc<Shared>,
}

const INSTRUCTIONS: &str = "naap deploys and operates plugins in blue/green slots with canary rollouts. Read tools run at once. Change tools (deploy, rollback, traffic, …) do not run when called unless the server was started with --allow-changes: each returns a pending proposal with an id and the engine's preview, which a person approves with `naap approve ID` or in the dashboard. Never claim a change happened unless a tool result says it ran.";

impl NaapMcp {
    pub fn new(shared: Arc<Shared>) -> NaapMcp {
        NaapMcp { shared }
    }

    /// The tools this mode offers.
    pub fn tools(&self) -> Vec<Tool> {
        let mode = self.shared.mode;
        let mut tools: Vec<Tool> = catalog::for_models()
            .filter(|c| c.effect == Effect::Read || mode != Mode::ReadOnly)
            .map(|c| {
                let description = match (c.effect, mode) {
                    (Effect::Change, Mode::Propose) => format!(
                        "{} (A change: calling it makes a pending proposal that a person approves with `naap approve ID`; it does not run by itself.)",
                        c.description
                    ),
                    _ => c.description.to_string(),
                };
                let mut tool = Tool::new(c.method, description, object(&c.params));
                tool.annotations = Some(hints::annotations(c, mode == Mode::Propose));
                tool
            })
            .collect();
        for (name, description, schema) in workspace::specs() {
            let mut tool = Tool::new(name, description, object(&schema));
            tool.annotations = Some(hints::read_only(name));
            tools.push(tool);
        }
        tools
    }

    /// Runs one tool call under the policy.
    pub async fn call(
        &self,
        name: &str,
        arguments: serde_json::Value,
        client: &str,
    ) -> CallToolResult {
        let shared = &self.shared;
        if workspace::is_workspace_tool(name) {
            let result = shared.operator.tools().workspace(name, &arguments).await;
            let (text, ok) = match result {
                Ok(text) => (shared.redactor.redact(&text).into_owned(), true),
                Err(e) => (e, false),
            };
            self.record(client, name, &arguments, ToolEffect::Read, &text);
            return text_result(text, ok);
        }
        let call = match catalog::call_from_tool(name, &arguments) {
            Ok(call) => call,
            Err(e) => return text_result(e, false),
        };
        match catalog::effect_of(&call) {
            Effect::Admin => text_result(format!("`{name}` is not a tool"), false),
            Effect::Read => {
                let result = shared.operator.tools().engine(call).await;
                let result = self.engine_result(result);
                self.record(client, name, &arguments, ToolEffect::Read, &first_text(&result));
                result
            }
            // A draft needs no yes (see `ai::policy`), but read-only writes nothing.
            Effect::Draft => match shared.mode {
                Mode::ReadOnly => text_result(
                    "refused: this MCP server runs read-only (naap mcp --read-only), so not even a candidate is edited".to_string(),
                    false,
                ),
                Mode::AllowChanges | Mode::Propose => {
                    let result = shared.operator.tools().engine(call).await;
                    let result = self.engine_result(result);
                    self.record(client, name, &arguments, ToolEffect::Change, &first_text(&result));
                    result
                }
            },
            Effect::Change => match shared.mode {
                Mode::ReadOnly => text_result(
                    "refused: this MCP server runs read-only (naap mcp --read-only), so changes are not even proposed".to_string(),
                    false,
                ),
                Mode::AllowChanges => {
                    let result = shared.operator.tools().engine(call).await;
                    let result = self.engine_result(result);
                    self.record(client, name, &arguments, ToolEffect::Change, &first_text(&result));
                    result
                }
                Mode::Propose => {
                    let result = self.propose(call, client).await;
                    self.record(client, name, &arguments, ToolEffect::Change, &first_text(&result));
                    result
                }
            },
        }
    }

    /// A change as a waiting proposal: the engine's dry-run preview, stored for a person.
    async fn propose(&self, call: crate::api::Call, client: &str) -> CallToolResult {
        let shared = &self.shared;
        let pending = shared.operator.propose(call).await;
        let stored = self
            .session(client)
            .and_then(|session| approval::store_pending(&shared.store, session, &pending));
        let entry = match stored {
            Ok(entry) => entry,
            Err(e) => {
                return text_result(
                    format!("the proposal could not be stored, so nothing will run: {e}"),
                    false,
                );
            }
        };
        let id = entry.id.to_string();
        let mut text = format!(
            "PENDING: {} has not run. It waits for a person's yes as proposal {id}.\n",
            pending.proposal.label
        );
        for line in &entry.preview {
            text.push_str(&format!("  {line}\n"));
        }
        text.push_str(&format!(
            "To run it: `naap approve {id}` (or approve it in the dashboard); to refuse it: `naap reject {id}`."
        ));
        let mut value = serde_json::json!({
            "status": "pending",
            "id": id,
            "label": pending.proposal.label,
            "preview": entry.preview,
            "call": entry.call,
            "approve": format!("naap approve {id}"),
            "reject": format!("naap reject {id}"),
        });
        shared.redactor.redact_json(&mut value);
        let text = shared.redactor.redact(&text).into_owned();
        let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
        result.structured_content = Some(value);
        result
    }

    fn engine_result(&self, result: Result<serde_json::Value, String>) -> CallToolResult {
        match result {
            Ok(mut value) => {
                self.shared.redactor.redact_json(&mut value);
                let text = serde_json::to_string_pretty(&value).unwrap_or_default();
                let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
                // Structured content must be an object; a list (logs) stays text only.
                if value.is_object() {
                    result.structured_content = Some(value);
                }
                result
            }
            Err(e) => text_result(self.shared.redactor.redact(&e).into_owned(), false),
        }
    }

    /// This server's session in the store, made on first use.
    fn session(&self, client: &str) -> Result<SessionId, crate::ai::session::SessionError> {
        let mut slot = self
            .shared
            .session
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(id) = *slot {
            return Ok(id);
        }
        let id = self
            .shared
            .store
            .create(crate::core::types::Face::Mcp, "mcp", client)?;
        *slot = Some(id);
        Ok(id)
    }

    /// Keeps the tool call in the session, as the transcript of what the client saw. A
    /// store that fails here does not fail the call (the engine's audit has it).
    fn record(
        &self,
        client: &str,
        name: &str,
        arguments: &serde_json::Value,
        effect: ToolEffect,
        result: &str,
    ) {
        let Ok(session) = self.session(client) else {
            return;
        };
        let n = {
            let mut calls = self
                .shared
                .calls
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            *calls += 1;
            *calls
        };
        let (result, truncated) =
            crate::ai::policy::Policy::default().cap_result(result.to_string());
        let mut arguments = arguments.clone();
        self.shared.redactor.redact_json(&mut arguments);
        let entry = SessionEntry::ToolCall(ToolCallEntry {
            id: format!("mcp-{n}"),
            name: name.to_string(),
            arguments,
            effect,
            result,
            truncated,
        });
        if let Err(e) = self.shared.store.append(session, &entry) {
            tracing::warn!("naap mcp: cannot record a tool call: {e}");
        }
    }
}

fn object(schema: &serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match schema {
        serde_json::Value::Object(map) => map.clone(),
        _ => serde_json::Map::new(),
    }
}

fn text_result(text: String, ok: bool) -> CallToolResult {
    let content = vec![ContentBlock::text(text)];
    if ok {
        CallToolResult::success(content)
    } else {
        CallToolResult::error(content)
    }
}

fn first_text(result: &CallToolResult) -> String {
    result
        .content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.clone())
        .unwrap_or_default()
}

fn client_name(context: &RequestContext<RoleServer>) -> String {
    context
        .peer
        .peer_info()
        .map(|info| info.client_info.name.clone())
        .unwrap_or_else(|| "an MCP client".to_string())
}

impl ServerHandler for NaapMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new("naap", env!("CARGO_PKG_VERSION")))
        .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools().into_iter().find(|t| t.name == name)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.to_string();
        // A tool this mode does not offer is unknown, as for any other name.
        if !self.tools().iter().any(|t| t.name == name) {
            return Err(ErrorData::invalid_params(
                format!("there is no tool `{name}` here"),
                None,
            ));
        }
        let arguments = serde_json::Value::Object(request.arguments.unwrap_or_default());
        let client = client_name(&context);
        Ok(self.call(&name, arguments, &client).await.into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(
            resources::list(self.shared.operator.tools()).await,
        ))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(
            resources::templates(),
        ))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let result = resources::read(
            self.shared.operator.tools(),
            &self.shared.redactor,
            &request.uri,
        )
        .await?;
        Ok(result.into())
    }
}
