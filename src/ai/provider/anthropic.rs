//! Anthropic Messages with `stream: true`.
//!
//! The stream is SSE: `message_start` (input usage), then per content block
//! `content_block_start` (text, or tool_use with id and name), `content_block_delta`
//! (`text_delta`, or `input_json_delta.partial_json` fragments of a call's arguments) and
//! `content_block_stop`; then `message_delta` (stop reason, output usage) and
//! `message_stop`. `ping`s come any time; an `error` event (e.g. `overloaded_error`) can
//! arrive after a 200.

use std::collections::HashMap;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::http::{self, Events, HttpSettings, MAX_LINE};
use super::sse::SseParser;
use super::{
    ChatRequest, Message, Provider, ProviderError, ProviderInfo, StopReason, StreamEvent,
    StreamFuture, ToolCall, Usage,
};

const NAME: &str = "anthropic";
pub const API_VERSION: &str = "2023-06-01";

pub struct Anthropic {
    settings: HttpSettings,
    client: reqwest::Client,
}

impl Anthropic {
    pub fn new(settings: HttpSettings) -> Result<Self, ProviderError> {
        let client = http::client(NAME, &settings)?;
        Ok(Anthropic { settings, client })
    }

    /// `{base}/v1/messages`, whether or not the base URL already ends in `/v1`.
    fn url(&self) -> String {
        let base = self.settings.base_url.trim_end_matches('/');
        let base = base.strip_suffix("/v1").unwrap_or(base);
        http::join(base, "v1/messages")
    }

    async fn run(&self, request: &ChatRequest, events: Events) -> Result<(), ProviderError> {
        let mut headers = vec![("anthropic-version", API_VERSION.to_string())];
        if let Some(key) = self.settings.api_key.as_deref().filter(|k| !k.is_empty()) {
            headers.push(("x-api-key", key.to_string()));
        }
        let body = request_body(&self.settings.model, request);
        let timeout = self.settings.timeout;
        let mut response =
            http::post_json(&self.client, NAME, &self.url(), &headers, &body, timeout).await?;
        let mut sse = SseParser::new();
        let mut decoder = Decoder::default();
        while let Some(chunk) = http::next_chunk(&mut response, NAME, timeout).await? {
            for event in sse.push(&chunk) {
                for out in decoder.event(&event.data)? {
                    if !events.send(out).await {
                        return Ok(());
                    }
                }
                if decoder.done {
                    return Ok(());
                }
            }
            if sse.buffered() > MAX_LINE {
                return Err(http::protocol(NAME, "an event longer than 8 MiB"));
            }
        }
        if let Some(event) = sse.finish() {
            for out in decoder.event(&event.data)? {
                if !events.send(out).await {
                    return Ok(());
                }
            }
        }
        if decoder.done {
            Ok(())
        } else {
            Err(ProviderError::Cut {
                provider: NAME.to_string(),
            })
        }
    }
}

impl Provider for Anthropic {
    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            kind: NAME.to_string(),
            model: self.settings.model.clone(),
            base_url: self.settings.base_url.clone(),
        }
    }

    fn stream<'a>(
        &'a self,
        request: &'a ChatRequest,
        events: mpsc::Sender<StreamEvent>,
    ) -> StreamFuture<'a> {
        Box::pin(self.run(request, Events::new(events)))
    }
}

/// The JSON body of a streamed Messages request. Consecutive messages of one role (the
/// results of parallel tool calls, a question after them) merge into one message, as the
/// API wants roles to alternate.
pub fn request_body(model: &str, request: &ChatRequest) -> Value {
    let mut messages: Vec<(&str, Vec<Value>)> = Vec::new();
    for message in &request.messages {
        let (role, blocks) = match message {
            Message::User { text } => ("user", text_block(text)),
            Message::Assistant { text, tool_calls } => {
                let mut blocks = text_block(text);
                blocks.extend(tool_calls.iter().map(|call| {
                    json!({
                        "type": "tool_use",
                        "id": call.id,
                        "name": call.name,
                        "input": call.arguments,
                    })
                }));
                ("assistant", blocks)
            }
            Message::Tool {
                call_id, content, ..
            } => (
                "user",
                vec![json!({"type": "tool_result", "tool_use_id": call_id, "content": content})],
            ),
        };
        if blocks.is_empty() {
            continue;
        }
        match messages.last_mut() {
            Some((last_role, last_blocks)) if *last_role == role => last_blocks.extend(blocks),
            _ => messages.push((role, blocks)),
        }
    }
    let messages: Vec<Value> = messages
        .into_iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect();
    let mut body = json!({
        "model": model,
        "max_tokens": request.max_tokens,
        "stream": true,
        "messages": messages,
    });
    if !request.system.is_empty() {
        body["system"] = json!(request.system);
    }
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "name": tool.name,
                    "description": tool.description,
                    "input_schema": tool.parameters,
                })
            })
            .collect();
    }
    body
}

/// The API refuses empty text blocks.
fn text_block(text: &str) -> Vec<Value> {
    if text.is_empty() {
        Vec::new()
    } else {
        vec![json!({"type": "text", "text": text})]
    }
}

struct PartialCall {
    /// The call's place among this message's tool calls (block indexes count text too).
    index: usize,
    id: String,
    name: String,
    arguments: String,
    /// `input` given whole in `content_block_start`, used when no deltas follow.
    initial: Value,
}

#[derive(Default)]
struct Decoder {
    /// Tool-use blocks by their block index.
    calls: HashMap<u64, PartialCall>,
    tool_calls: usize,
    usage: Usage,
    stop_reason: Option<StopReason>,
    done: bool,
}

impl Decoder {
    fn event(&mut self, data: &str) -> Result<Vec<StreamEvent>, ProviderError> {
        let mut out = Vec::new();
        if self.done {
            return Ok(out);
        }
        let event: Value = serde_json::from_str(data).map_err(|e| {
            http::protocol(NAME, format!("an event is not JSON ({e}): {data:.200}"))
        })?;
        let kind = event.get("type").and_then(Value::as_str).unwrap_or("");
        match kind {
            "message_start" => {
                let usage = &event["message"]["usage"];
                self.usage.input_tokens = count(usage, "input_tokens");
                self.usage.output_tokens = count(usage, "output_tokens");
                out.push(StreamEvent::Usage(self.usage));
            }
            "content_block_start" => {
                let block = &event["content_block"];
                let block_index = event.get("index").and_then(Value::as_u64).unwrap_or(0);
                match block.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        if let Some(text) = block.get("text").and_then(Value::as_str)
                            && !text.is_empty()
                        {
                            out.push(StreamEvent::Text(text.to_string()));
                        }
                    }
                    Some("tool_use") => {
                        let call = PartialCall {
                            index: self.tool_calls,
                            id: string(block, "id"),
                            name: string(block, "name"),
                            arguments: String::new(),
                            initial: block.get("input").cloned().unwrap_or(json!({})),
                        };
                        self.tool_calls += 1;
                        out.push(StreamEvent::ToolCallStart {
                            index: call.index,
                            id: call.id.clone(),
                            name: call.name.clone(),
                        });
                        self.calls.insert(block_index, call);
                    }
                    // Thinking blocks and future kinds carry nothing the operator shows.
                    _ => {}
                }
            }
            "content_block_delta" => {
                let delta = &event["delta"];
                let block_index = event.get("index").and_then(Value::as_u64).unwrap_or(0);
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        let text = string(delta, "text");
                        if !text.is_empty() {
                            out.push(StreamEvent::Text(text));
                        }
                    }
                    Some("input_json_delta") => {
                        let fragment = string(delta, "partial_json");
                        let Some(call) = self.calls.get_mut(&block_index) else {
                            return Err(http::protocol(
                                NAME,
                                format!("arguments for block {block_index}, which is no tool call"),
                            ));
                        };
                        if !fragment.is_empty() {
                            call.arguments.push_str(&fragment);
                            out.push(StreamEvent::ToolCallDelta {
                                index: call.index,
                                fragment,
                            });
                        }
                    }
                    _ => {}
                }
            }
            "content_block_stop" => {
                let block_index = event.get("index").and_then(Value::as_u64).unwrap_or(0);
                if let Some(call) = self.calls.remove(&block_index) {
                    let arguments = if call.arguments.trim().is_empty() {
                        call.initial
                    } else {
                        http::parse_arguments(NAME, &call.name, &call.arguments)?
                    };
                    out.push(StreamEvent::ToolCallEnd {
                        index: call.index,
                        call: ToolCall {
                            id: call.id,
                            name: call.name,
                            arguments,
                        },
                    });
                }
            }
            "message_delta" => {
                if let Some(reason) = event["delta"].get("stop_reason").and_then(Value::as_str) {
                    self.stop_reason = Some(match reason {
                        "end_turn" | "stop_sequence" => StopReason::EndTurn,
                        "tool_use" => StopReason::ToolCalls,
                        "max_tokens" => StopReason::Length,
                        other => StopReason::Other(other.to_string()),
                    });
                }
                if let Some(usage) = event.get("usage").filter(|u| u.is_object()) {
                    if usage.get("input_tokens").is_some() {
                        self.usage.input_tokens = count(usage, "input_tokens");
                    }
                    self.usage.output_tokens = count(usage, "output_tokens");
                    out.push(StreamEvent::Usage(self.usage));
                }
            }
            "message_stop" => {
                self.done = true;
                let reason = self.stop_reason.take().unwrap_or(if self.tool_calls > 0 {
                    StopReason::ToolCalls
                } else {
                    StopReason::EndTurn
                });
                out.push(StreamEvent::Stop(reason));
            }
            "error" => return Err(stream_error(&event)),
            // `ping`, and event types added after this was written.
            _ => {}
        }
        Ok(out)
    }
}

/// An `error` event sent after the 200: `{"type":"error","error":{"type","message"}}`.
fn stream_error(event: &Value) -> ProviderError {
    let error = &event["error"];
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("no details given")
        .to_string();
    let provider = NAME.to_string();
    match error.get("type").and_then(Value::as_str) {
        Some("overloaded_error") => ProviderError::Overloaded { provider, message },
        Some("rate_limit_error") => ProviderError::RateLimited {
            provider,
            message,
            retry_after_secs: None,
        },
        Some("api_error") => ProviderError::Status {
            provider,
            status: 500,
            message,
        },
        Some(other) => http::protocol(NAME, format!("{other}: {message}")),
        None => http::protocol(NAME, message),
    }
}

fn count(usage: &Value, key: &str) -> u64 {
    usage.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn string(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(events: &[Value]) -> Result<Vec<StreamEvent>, ProviderError> {
        let mut decoder = Decoder::default();
        let mut out = Vec::new();
        for event in events {
            out.extend(decoder.event(&event.to_string())?);
        }
        Ok(out)
    }

    #[test]
    fn text_then_tool_use_with_json_deltas() {
        let events = decode(&[
            json!({"type":"message_start","message":{"usage":{"input_tokens":12,"output_tokens":1}}}),
            json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
            json!({"type":"ping"}),
            json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Checking"}}),
            json!({"type":"content_block_stop","index":0}),
            json!({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"status","input":{}}}),
            json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"plug"}}),
            json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"in\": \"shop\"}"}}),
            json!({"type":"content_block_stop","index":1}),
            json!({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":30}}),
            json!({"type":"message_stop"}),
        ])
        .unwrap();
        assert!(events.contains(&StreamEvent::ToolCallEnd {
            index: 0,
            call: ToolCall {
                id: "toolu_1".into(),
                name: "status".into(),
                arguments: json!({"plugin": "shop"}),
            },
        }));
        assert!(events.contains(&StreamEvent::Usage(Usage {
            input_tokens: 12,
            output_tokens: 30
        })));
        assert_eq!(
            events.last(),
            Some(&StreamEvent::Stop(StopReason::ToolCalls))
        );
    }

    #[test]
    fn overloaded_error_event() {
        let result = decode(&[
            json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}),
        ]);
        assert!(matches!(result, Err(ProviderError::Overloaded { .. })));
    }

    #[test]
    fn body_merges_tool_results_into_one_user_message() {
        let request = ChatRequest {
            system: "sys".into(),
            messages: vec![
                Message::User { text: "q".into() },
                Message::Assistant {
                    text: String::new(),
                    tool_calls: vec![
                        ToolCall {
                            id: "t1".into(),
                            name: "a".into(),
                            arguments: json!({}),
                        },
                        ToolCall {
                            id: "t2".into(),
                            name: "b".into(),
                            arguments: json!({"x": 1}),
                        },
                    ],
                },
                Message::Tool {
                    call_id: "t1".into(),
                    name: "a".into(),
                    content: "r1".into(),
                },
                Message::Tool {
                    call_id: "t2".into(),
                    name: "b".into(),
                    content: "r2".into(),
                },
            ],
            tools: vec![],
            max_tokens: 50,
        };
        let body = request_body("claude", &request);
        assert_eq!(body["system"], "sys");
        let messages = body["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 3);
        assert_eq!(messages[1]["content"][1]["type"], "tool_use");
        assert_eq!(messages[1]["content"][1]["input"], json!({"x": 1}));
        assert_eq!(messages[2]["role"], "user");
        assert_eq!(
            messages[2]["content"][1],
            json!({"type":"tool_result","tool_use_id":"t2","content":"r2"})
        );
        assert!(body.get("tools").is_none());
    }
}
