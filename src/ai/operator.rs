//! The operator: one turn of a conversation. A language model (or, when none answers, the
//! offline intent router) reads with the engine's read calls, and every change it wants
//! becomes a [`Pending`] proposal that runs only on a person's yes. The policy is applied
//! here, in code, on every tool call; everything bound for a provider passes the redactor
//! in [`Operator::send`], the one boundary.

use super::config::Price;
use super::offline::{self, World};
use super::policy::{Decision, Policy};
use super::proposal::Proposal;
use super::provider::{
    ChatRequest, Message, Provider, ProviderInfo, StopReason, StreamEvent, ToolCall, Usage,
};
use super::redact::Redactor;
use super::tools::{Tools, workspace};
use crate::api::Call;
use crate::api::catalog::{self, Effect};
use crate::api::protocol::{HistoryRequest, LogsRequest, StatusRequest};
use crate::core::engine::{HistoryReport, StatusReport};
use crate::core::logs::LogLine;
use crate::core::store::EventRecord;
use crate::core::workspace::Environment;
use serde::Serialize;
use std::sync::Arc;
use tokio::sync::mpsc;

/// What the model is told about its job. The policy is not in here: it is enforced on
/// every call whatever the model believes.
const SYSTEM_PROMPT: &str = "You are the operator of naap, a console that deploys and operates plugins (small web services) in blue/green slots with canary rollouts, automatic rollback and alerts. Answer the SRE briefly and concretely, with the numbers the tools give (error rate, p99, weights, versions). Use the read tools to look before you answer; never guess a state. Calls that change something (deploy, rollback, traffic, promote, abort, pause, resume, silence, ack, reload) do not run when you call them: each becomes a proposal that a person approves or rejects, so say what it will do and that it waits for their yes. Never claim a change happened unless a tool result says so. Only propose a change the person asked for; a question, a negation or a hypothetical is answered, not acted on.";

/// Upper bound on one answer's tokens.
const MAX_ANSWER_TOKENS: u32 = 1024;

/// What a turn is for: the system prompt, which tools it offers, how long an answer may
/// be. The operator's own turns use [`Brief::operator`]; iterate brings its own (an
/// editing prompt, the candidate's tools, room for whole files).
#[derive(Clone, Debug)]
pub struct Brief {
    pub system: String,
    /// The only tools offered (and accepted when called); `None`: every tool the policy
    /// allows.
    pub only: Option<Vec<String>>,
    /// Parameters fixed for every call of this turn (iterate's candidate id): not offered
    /// to the model, and set on each call whatever it sends, so it can only act on them.
    pub bound: Vec<(String, serde_json::Value)>,
    pub max_tokens: u32,
}

impl Brief {
    pub fn operator() -> Brief {
        Brief {
            system: SYSTEM_PROMPT.to_string(),
            only: None,
            bound: Vec::new(),
            max_tokens: MAX_ANSWER_TOKENS,
        }
    }

    /// `arguments` with the bound parameters set.
    fn bind(&self, arguments: &serde_json::Value) -> serde_json::Value {
        let mut arguments = arguments.clone();
        if self.bound.is_empty() {
            return arguments;
        }
        if !arguments.is_object() {
            arguments = serde_json::json!({});
        }
        if let Some(object) = arguments.as_object_mut() {
            for (key, value) in &self.bound {
                object.insert(key.clone(), value.clone());
            }
        }
        arguments
    }

    /// A tool's schema without the bound parameters.
    fn unbind(&self, mut parameters: serde_json::Value) -> serde_json::Value {
        for (key, _) in &self.bound {
            if let Some(props) = parameters
                .get_mut("properties")
                .and_then(|p| p.as_object_mut())
            {
                props.remove(key);
            }
            if let Some(required) = parameters
                .get_mut("required")
                .and_then(|r| r.as_array_mut())
            {
                required.retain(|r| r.as_str() != Some(key.as_str()));
            }
        }
        parameters
    }

    fn offers(&self, tool: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|t| t == tool))
    }
}

/// Who answered when no model did.
pub fn offline_info() -> ProviderInfo {
    ProviderInfo {
        kind: "offline".to_string(),
        model: "intent router".to_string(),
        base_url: String::new(),
    }
}

/// A change waiting for a person: the exact call, what the engine says it will do, and
/// the hash of the call as shown, so what runs is what was shown.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Pending {
    pub id: String,
    pub hash: String,
    pub proposal: Proposal,
}

impl Pending {
    pub fn new(proposal: Proposal) -> Pending {
        Pending {
            id: super::session::ProposalId::generate().to_string(),
            hash: proposal.hash(),
            proposal,
        }
    }
}

/// What happened during a turn, as it happens (the dashboard streams these).
#[derive(Clone, Debug, PartialEq)]
pub enum OperatorEvent {
    /// Who answers this turn: a model, or the offline router.
    Answering(ProviderInfo),
    Text(String),
    ToolCall {
        id: String,
        name: String,
        arguments: serde_json::Value,
    },
    ToolResult {
        id: String,
        name: String,
        ok: bool,
        truncated: bool,
    },
    Proposal(Pending),
    /// Something the person should know: a fallback, a cap reached, a cut stream.
    Notice(String),
    Usage(Usage),
}

/// One tool call of a turn, as run (or refused).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ToolRecord {
    pub id: String,
    pub name: String,
    pub arguments: serde_json::Value,
    /// `read`, `change`, `admin`, or `workspace`.
    pub effect: String,
    pub ok: bool,
    pub truncated: bool,
    /// What the model got back (before redaction at the boundary).
    pub result: String,
}

/// A finished turn.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Turn {
    pub answer: String,
    pub answered_by: ProviderInfo,
    pub tool_calls: Vec<ToolRecord>,
    pub proposals: Vec<Pending>,
    pub usage: Usage,
    /// What the turn cost, when the model's price is configured.
    pub cost_usd: Option<f64>,
    pub notices: Vec<String>,
    /// Set when the answer is incomplete (the provider failed mid-way).
    pub error: Option<String>,
}

impl Turn {
    pub fn new(by: ProviderInfo) -> Turn {
        Turn {
            answer: String::new(),
            answered_by: by,
            tool_calls: Vec::new(),
            proposals: Vec::new(),
            usage: Usage::default(),
            cost_usd: None,
            notices: Vec::new(),
            error: None,
        }
    }
}

pub struct Operator {
    provider: Option<Arc<dyn Provider>>,
    tools: Tools,
    policy: Policy,
    redactor: Redactor,
    price: Option<Price>,
    /// `[ai] heal_attempts`: fixes iterate asks for before handing a candidate back.
    heal_attempts: u32,
}

impl Operator {
    pub fn new(
        provider: Option<Arc<dyn Provider>>,
        tools: Tools,
        policy: Policy,
        redactor: Redactor,
    ) -> Operator {
        Operator {
            provider,
            tools,
            policy,
            redactor,
            price: None,
            heal_attempts: super::config::DEFAULT_HEAL_ATTEMPTS,
        }
    }

    /// The model's price, for the cost of each turn.
    pub fn with_price(self, price: Option<Price>) -> Operator {
        Operator { price, ..self }
    }

    pub fn price(&self) -> Option<Price> {
        self.price
    }

    pub fn with_heal_attempts(self, heal_attempts: u32) -> Operator {
        Operator {
            heal_attempts,
            ..self
        }
    }

    /// How many fixes iterate asks for (`[ai] heal_attempts`).
    pub fn heal_attempts(&self) -> u32 {
        self.heal_attempts
    }

    /// Whether a language model answers (the offline router cannot write code).
    pub fn has_model(&self) -> bool {
        self.provider.is_some()
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn tools(&self) -> &Tools {
        &self.tools
    }

    /// Who answers when it works: the model, or the offline router when none is set.
    pub fn answerer(&self) -> ProviderInfo {
        self.provider
            .as_ref()
            .map_or_else(offline_info, |p| p.info())
    }

    /// Exactly what would be sent to the provider for `text` after `history`, redacted:
    /// what `naap chat --show-prompt` prints.
    pub fn prompt(&self, history: &[Message], text: &str) -> ChatRequest {
        let mut messages = history.to_vec();
        messages.push(Message::User {
            text: text.to_string(),
        });
        let mut request = ChatRequest {
            system: SYSTEM_PROMPT.to_string(),
            messages,
            tools: self.specs(&Brief::operator()),
            max_tokens: MAX_ANSWER_TOKENS,
        };
        self.redact(&mut request);
        request
    }

    /// Answers `text`, continuing `history` (which grows by this turn's messages).
    /// `selected` is the plugin in view, for "it". Events stream to `events` as they
    /// happen; dropping the future cancels the turn.
    pub async fn ask(
        &self,
        history: &mut Vec<Message>,
        text: &str,
        selected: Option<&str>,
        events: &mpsc::Sender<OperatorEvent>,
    ) -> Turn {
        let Some(provider) = self.provider.clone() else {
            return self.offline_turn(text, selected, events, None).await;
        };
        let mark = history.len();
        history.push(Message::User {
            text: text.to_string(),
        });
        match self
            .model_turn(provider.as_ref(), history, &Brief::operator(), events)
            .await
        {
            Ok(turn) => turn,
            Err(e) => {
                // Nothing came from the model: the offline router answers, and says so.
                history.truncate(mark);
                let info = provider.info();
                let notice = format!(
                    "{} ({}) is not answering: {e}. The offline operator answers instead.",
                    info.kind, info.model
                );
                self.offline_turn(text, selected, events, Some(notice))
                    .await
            }
        }
    }

    /// A turn for `brief` (iterate's edits and fixes): like [`Operator::ask`], but with
    /// no offline fallback, since the offline router cannot write code. An error says the
    /// model could not be reached (or none is configured); `history` is then unchanged.
    pub async fn work(
        &self,
        history: &mut Vec<Message>,
        text: &str,
        brief: &Brief,
        events: &mpsc::Sender<OperatorEvent>,
    ) -> Result<Turn, String> {
        let Some(provider) = self.provider.clone() else {
            return Err(
                "no language model is configured ([ai] in naap.toml, ~/.config/naap/ai.toml or NAAP_AI_*); the offline operator cannot write code".to_string(),
            );
        };
        let mark = history.len();
        history.push(Message::User {
            text: text.to_string(),
        });
        match self
            .model_turn(provider.as_ref(), history, brief, events)
            .await
        {
            Ok(turn) => Ok(turn),
            Err(e) => {
                history.truncate(mark);
                let info = provider.info();
                Err(format!(
                    "{} ({}) is not answering: {e}",
                    info.kind, info.model
                ))
            }
        }
    }

    /// The tools `brief` offers under the policy.
    fn specs(&self, brief: &Brief) -> Vec<super::provider::ToolSpec> {
        self.tools
            .specs(&self.policy)
            .into_iter()
            .filter(|spec| brief.offers(&spec.name))
            .map(|spec| super::provider::ToolSpec {
                parameters: brief.unbind(spec.parameters),
                ..spec
            })
            .collect()
    }

    /// Runs an approved proposal, as this face (the operator), after checking it is the
    /// call that was shown.
    /// `confirmed`: the environment the person confirmed it in, when their face asked.
    pub async fn approve(
        &self,
        pending: &Pending,
        confirmed: Option<Environment>,
    ) -> Result<serde_json::Value, String> {
        if !self.policy.proposals_runnable() {
            return Err(
                "this face only suggests: run the call yourself (it is shown with the proposal)"
                    .to_string(),
            );
        }
        if pending.proposal.hash() != pending.hash {
            return Err(
                "the proposal is not the one that was shown (its hash differs); nothing ran"
                    .to_string(),
            );
        }
        self.tools
            .engine_for_proposal(pending.proposal.call.clone(), &pending.id, confirmed)
            .await
    }

    /// The one boundary: every string of the request passes the redactor.
    fn redact(&self, request: &mut ChatRequest) {
        for message in &mut request.messages {
            match message {
                Message::User { text } => *text = self.redactor.redact(text).into_owned(),
                Message::Assistant { text, tool_calls } => {
                    *text = self.redactor.redact(text).into_owned();
                    for call in tool_calls {
                        self.redactor.redact_json(&mut call.arguments);
                    }
                }
                Message::Tool { content, .. } => {
                    *content = self.redactor.redact(content).into_owned();
                }
            }
        }
    }

    /// Sends one request through the redactor and collects the stream, forwarding text.
    async fn send(
        &self,
        provider: &dyn Provider,
        history: &[Message],
        brief: &Brief,
        offer_tools: bool,
        separator: &str,
        events: &mpsc::Sender<OperatorEvent>,
    ) -> (
        Result<(), super::provider::ProviderError>,
        String,
        Vec<ToolCall>,
        Usage,
        Option<StopReason>,
    ) {
        let mut request = ChatRequest {
            system: brief.system.clone(),
            messages: history.to_vec(),
            tools: if offer_tools {
                self.specs(brief)
            } else {
                Vec::new()
            },
            max_tokens: brief.max_tokens,
        };
        self.redact(&mut request);
        let (tx, mut rx) = mpsc::channel(256);
        let mut text = String::new();
        let mut calls = Vec::new();
        let mut usage = Usage::default();
        let mut stop = None;
        let stream = provider.stream(&request, tx);
        let consume = async {
            while let Some(event) = rx.recv().await {
                match event {
                    StreamEvent::Text(t) => {
                        // Text after a tool round starts on its own line.
                        let t = if text.is_empty() && !t.is_empty() {
                            format!("{separator}{t}")
                        } else {
                            t
                        };
                        text.push_str(&t);
                        let _ = events.send(OperatorEvent::Text(t)).await;
                    }
                    StreamEvent::ToolCallEnd { call, .. } => calls.push(call),
                    StreamEvent::Usage(u) => usage = u,
                    StreamEvent::Stop(reason) => stop = Some(reason),
                    StreamEvent::ToolCallStart { .. } | StreamEvent::ToolCallDelta { .. } => {}
                }
            }
        };
        let (result, ()) = tokio::join!(stream, consume);
        (result, text, calls, usage, stop)
    }

    async fn model_turn(
        &self,
        provider: &dyn Provider,
        history: &mut Vec<Message>,
        brief: &Brief,
        events: &mpsc::Sender<OperatorEvent>,
    ) -> Result<Turn, super::provider::ProviderError> {
        let mut turn = Turn::new(provider.info());
        let _ = events.send(OperatorEvent::Answering(provider.info())).await;
        let mut calls_made = 0usize;
        for round in 0..self.policy.max_rounds {
            // Past the cap (or in the last round) the model must answer with what it has.
            let offer_tools =
                calls_made < self.policy.max_tool_calls && round + 1 < self.policy.max_rounds;
            let separator = if turn.answer.is_empty() || turn.answer.ends_with('\n') {
                ""
            } else {
                "\n"
            };
            let (result, text, calls, usage, stop) = self
                .send(provider, history, brief, offer_tools, separator, events)
                .await;
            turn.usage.input_tokens += usage.input_tokens;
            turn.usage.output_tokens += usage.output_tokens;
            if let Err(e) = result {
                if round == 0 && text.is_empty() && calls.is_empty() {
                    return Err(e);
                }
                turn.answer.push_str(&text);
                turn.error = Some(e.to_string());
                let notice = format!("the answer is incomplete: {e}");
                let _ = events.send(OperatorEvent::Notice(notice.clone())).await;
                turn.notices.push(notice);
                history.push(Message::Assistant {
                    text,
                    tool_calls: Vec::new(),
                });
                break;
            }
            turn.answer.push_str(&text);
            history.push(Message::Assistant {
                text: text.trim_start_matches('\n').to_string(),
                tool_calls: calls.clone(),
            });
            if stop == Some(StopReason::Length) {
                let notice = "the answer hit the token limit and stops there".to_string();
                let _ = events.send(OperatorEvent::Notice(notice.clone())).await;
                turn.notices.push(notice);
            }
            if calls.is_empty() {
                break;
            }
            for call in calls {
                calls_made += 1;
                let content = self
                    .tool(call.clone(), calls_made, brief, &mut turn, events)
                    .await;
                history.push(Message::Tool {
                    call_id: call.id,
                    name: call.name,
                    content,
                });
            }
        }
        turn.cost_usd = self.price.map(|p| p.cost(&turn.usage));
        let _ = events.send(OperatorEvent::Usage(turn.usage)).await;
        Ok(turn)
    }

    /// One tool call under the policy; returns what the model gets back.
    async fn tool(
        &self,
        call: ToolCall,
        number: usize,
        brief: &Brief,
        turn: &mut Turn,
        events: &mpsc::Sender<OperatorEvent>,
    ) -> String {
        let _ = events
            .send(OperatorEvent::ToolCall {
                id: call.id.clone(),
                name: call.name.clone(),
                arguments: call.arguments.clone(),
            })
            .await;
        let (effect, outcome) = if number > self.policy.max_tool_calls {
            let notice = format!(
                "the turn reached its cap of {} tool calls; the model answers with what it has",
                self.policy.max_tool_calls
            );
            if !turn.notices.contains(&notice) {
                let _ = events.send(OperatorEvent::Notice(notice.clone())).await;
                turn.notices.push(notice);
            }
            (
                "refused".to_string(),
                Err(format!(
                    "refused: this turn already made {} tool calls, the cap; answer with what you have",
                    self.policy.max_tool_calls
                )),
            )
        } else if !brief.offers(&call.name) {
            (
                "refused".to_string(),
                Err(format!(
                    "refused: `{}` is not one of this turn's tools",
                    call.name
                )),
            )
        } else if workspace::is_workspace_tool(&call.name) {
            (
                "workspace".to_string(),
                self.tools.workspace(&call.name, &call.arguments).await,
            )
        } else {
            match catalog::call_from_tool(&call.name, &brief.bind(&call.arguments)) {
                Err(e) => ("unknown".to_string(), Err(format!("error: {e}"))),
                Ok(engine_call) => {
                    let effect = catalog::effect_of(&engine_call);
                    let name = effect_name(effect);
                    let outcome = match self.policy.decide(effect) {
                        Decision::Run => self
                            .tools
                            .engine(engine_call)
                            .await
                            .map(|v| serde_json::to_string(&v).unwrap_or_default())
                            .map_err(|e| format!("error: {e}")),
                        Decision::Refuse(why) => Err(why),
                        Decision::Propose => {
                            let pending = self.propose(engine_call).await;
                            let text = format!(
                                "proposal {} is waiting for a person's yes; it has NOT run. It would: {}. The engine's dry run: {}",
                                pending.id,
                                pending.proposal.label,
                                pending.proposal.lines.join("; ")
                            );
                            let _ = events.send(OperatorEvent::Proposal(pending.clone())).await;
                            turn.proposals.push(pending);
                            Ok(text)
                        }
                    };
                    (name.to_string(), outcome)
                }
            }
        };
        let ok = outcome.is_ok();
        let (result, truncated) = self.policy.cap_result(outcome.unwrap_or_else(|e| e));
        let _ = events
            .send(OperatorEvent::ToolResult {
                id: call.id.clone(),
                name: call.name.clone(),
                ok,
                truncated,
            })
            .await;
        turn.tool_calls.push(ToolRecord {
            id: call.id,
            name: call.name,
            arguments: call.arguments,
            effect,
            ok,
            truncated,
            result: result.clone(),
        });
        result
    }

    /// A proposal for `call`, with the engine's own dry run of it where there is one.
    pub async fn propose(&self, call: Call) -> Pending {
        let lines = match self.dry_run(&call).await {
            Ok(lines) => lines,
            Err(e) => vec![format!("the engine refuses it as things stand: {e}")],
        };
        Pending::new(Proposal::for_call(call, lines))
    }

    /// What the engine says `call` would do (nothing to say when it has no dry run), or
    /// why it would refuse it now.
    async fn dry_run(&self, call: &Call) -> Result<Vec<String>, String> {
        let Some(dry) = catalog::dry_run_of(call) else {
            return Ok(Vec::new());
        };
        let outcome = self.tools.engine_for_person(dry).await?;
        Ok(vec![
            outcome
                .get("summary")
                .and_then(|s| s.as_str())
                .unwrap_or("the engine accepted the dry run")
                .to_string(),
        ])
    }

    /// The offline router's `card` with the engine's own dry run in place of what the
    /// router guessed from the status: the engine knows whether a previous version exists
    /// or a rollback already happened. A call without a dry run keeps the router's lines;
    /// one the engine would refuse is no card at all, only the reason.
    async fn with_dry_run(&self, card: Proposal) -> Result<Pending, String> {
        match self.dry_run(&card.call).await? {
            lines if lines.is_empty() => Ok(Pending::new(card)),
            lines => Ok(Pending::new(Proposal { lines, ..card })),
        }
    }

    /// The offline router's answer, from the engine's status, events and logs.
    async fn offline_turn(
        &self,
        text: &str,
        selected: Option<&str>,
        events: &mpsc::Sender<OperatorEvent>,
        notice: Option<String>,
    ) -> Turn {
        let mut turn = Turn::new(offline_info());
        let _ = events.send(OperatorEvent::Answering(offline_info())).await;
        if let Some(notice) = notice {
            let _ = events.send(OperatorEvent::Notice(notice.clone())).await;
            turn.notices.push(notice);
        }
        let report: Option<StatusReport> = self
            .tools
            .engine(Call::Status(StatusRequest::default()))
            .await
            .ok()
            .and_then(|v| serde_json::from_value(v).ok());
        let mut recent: Vec<EventRecord> = Vec::new();
        let mut lines: Vec<LogLine> = Vec::new();
        for plugin in report.iter().flat_map(|r| r.plugins.iter()) {
            let history = self
                .tools
                .engine(Call::History(HistoryRequest {
                    plugin: plugin.name.clone(),
                    limit: 50,
                }))
                .await
                .ok()
                .and_then(|v| serde_json::from_value::<HistoryReport>(v).ok());
            recent.extend(history.into_iter().flat_map(|h| h.events));
            let logs = self
                .tools
                .engine(Call::Logs(LogsRequest::new(&plugin.name)))
                .await
                .ok()
                .and_then(|v| serde_json::from_value::<Vec<LogLine>>(v).ok());
            lines.extend(logs.into_iter().flatten());
        }
        let line_refs: Vec<&LogLine> = lines.iter().collect();
        let world = World {
            report: report.as_ref(),
            selected,
            events: &recent,
            logs: &line_refs,
        };
        let reply = offline::respond(text, &world);
        let mut answer = match &reply.explained {
            // What the engine's dry run says, not the router's guess from the status.
            Some(explained) => match self.dry_run(&explained.card.call).await {
                Ok(lines) if lines.is_empty() => reply.text.clone(),
                Ok(lines) => explained.answer(Ok(&lines)),
                Err(why) => explained.answer(Err(&why)),
            },
            None => reply.text.clone(),
        };
        let mut proposal = None;
        if let Some(card) = reply.card {
            match self.policy.decide(Effect::Change) {
                Decision::Refuse(_) => answer.push_str(&format!(
                    "\n(read-only: I would propose `{}`, but this face does not take proposals)",
                    card.label
                )),
                _ => match self.with_dry_run(card).await {
                    Ok(pending) => proposal = Some(pending),
                    Err(e) => {
                        answer = format!(
                            "I changed nothing: the engine would refuse that as things stand.\n{e}"
                        )
                    }
                },
            }
        }
        // The words first, then the card they introduce ("This is what a rollback does:").
        let _ = events.send(OperatorEvent::Text(answer.clone())).await;
        if let Some(pending) = proposal {
            let _ = events.send(OperatorEvent::Proposal(pending.clone())).await;
            turn.proposals.push(pending);
        }
        turn.answer = answer;
        turn
    }
}

fn effect_name(effect: Effect) -> &'static str {
    match effect {
        Effect::Read => "read",
        Effect::Change => "change",
        Effect::Draft => "draft",
        Effect::Admin => "admin",
    }
}
