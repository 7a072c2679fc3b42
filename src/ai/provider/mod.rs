//! Language-model providers behind one trait. Each provider speaks its own wire protocol
//! (OpenAI Chat Completions SSE, Anthropic Messages SSE, Ollama NDJSON) and turns it into
//! one normalised stream of [`StreamEvent`]s, so the operator never knows which one
//! answers.
//!
//! Cancelling a turn is dropping the future returned by [`Provider::stream`]: the HTTP
//! response is dropped with it and nothing more is sent on the channel.
//!
//! [`openai`], [`anthropic`] and [`ollama`] each speak one protocol over the incremental
//! [`sse`] / [`ndjson`] parsers; [`resilient`] wraps any provider in timeouts, retries and a
//! circuit breaker; `ai::config::build` picks and wraps one from the configuration.

pub mod anthropic;
mod http;
pub mod ndjson;
pub mod ollama;
pub mod openai;
pub mod resilient;
pub mod sse;

pub use anthropic::Anthropic;
pub use http::HttpSettings;
pub use ollama::Ollama;
pub use openai::OpenAi;
pub use resilient::{Clock, Resilient, ResilientSettings, SystemClock};

use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use tokio::sync::mpsc;

/// A tool the model may call: a name, what it does, and a JSON schema of its arguments.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// A JSON schema object (`{"type":"object","properties":…}`).
    pub parameters: serde_json::Value,
}

/// A complete tool call, its arguments parsed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's id for the call (OpenAI `call_…`, Anthropic `toolu_…`); providers
    /// that give none (Ollama) get one made up, unique within the conversation.
    pub id: String,
    pub name: String,
    pub arguments: serde_json::Value,
}

/// One message of the conversation sent to a provider. Every text in it has passed the
/// redactor before it gets here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Message {
    User {
        text: String,
    },
    Assistant {
        text: String,
        #[serde(default)]
        tool_calls: Vec<ToolCall>,
    },
    /// The result of one tool call, answering the assistant message that made it.
    Tool {
        call_id: String,
        name: String,
        content: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    pub system: String,
    pub messages: Vec<Message>,
    pub tools: Vec<ToolSpec>,
    /// Upper bound on the answer's tokens (Anthropic requires one).
    pub max_tokens: u32,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model finished its answer.
    EndTurn,
    /// The model wants tool results before it goes on.
    ToolCalls,
    /// The answer hit `max_tokens`.
    Length,
    Other(String),
}

/// The normalised stream every provider yields.
#[derive(Clone, Debug, PartialEq)]
pub enum StreamEvent {
    Text(String),
    /// A tool call begins; `index` orders calls within one assistant message.
    ToolCallStart {
        index: usize,
        id: String,
        name: String,
    },
    /// A fragment of a call's JSON arguments, in order.
    ToolCallDelta {
        index: usize,
        fragment: String,
    },
    /// The call is complete and its arguments parsed.
    ToolCallEnd {
        index: usize,
        call: ToolCall,
    },
    /// Token counts as the provider reports them (cumulative for this request).
    Usage(Usage),
    /// The last event of a successful stream.
    Stop(StopReason),
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ProviderError {
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{provider} answered HTTP {status}: {message}")]
    Status {
        provider: String,
        status: u16,
        message: String,
    },
    /// HTTP 429; `retry_after_secs` is the server's `Retry-After`, when it sent one.
    #[error("{provider} is rate limiting: {message}")]
    RateLimited {
        provider: String,
        message: String,
        retry_after_secs: Option<u64>,
    },
    #[error("{provider} is overloaded: {message}")]
    Overloaded { provider: String, message: String },
    #[error("{provider} refused the key: {message}")]
    Auth { provider: String, message: String },
    #[error("{provider} sent something unexpected: {message}")]
    Protocol { provider: String, message: String },
    #[error("the stream from {provider} ended before the answer did")]
    Cut { provider: String },
    #[error("{provider} did not answer within {seconds}s")]
    Timeout { provider: String, seconds: u64 },
    #[error("{provider} failed {failures} times in a row; not trying again for {retry_in_secs}s")]
    CircuitOpen {
        provider: String,
        failures: u32,
        retry_in_secs: u64,
    },
}

/// Which provider answers, for the pane's header, the session record and the audit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderInfo {
    /// `openai`, `anthropic`, `ollama` or `offline`.
    pub kind: String,
    pub model: String,
    pub base_url: String,
}

pub type StreamFuture<'a> = Pin<Box<dyn Future<Output = Result<(), ProviderError>> + Send + 'a>>;

/// A language model that streams.
pub trait Provider: Send + Sync {
    fn info(&self) -> ProviderInfo;

    /// Sends `request` and forwards the normalised stream to `events`, ending with
    /// `StreamEvent::Stop` on success. Returns when the stream ends; an error after some
    /// events were sent means the answer is incomplete.
    fn stream<'a>(
        &'a self,
        request: &'a ChatRequest,
        events: mpsc::Sender<StreamEvent>,
    ) -> StreamFuture<'a>;
}
