//! OpenAI-compatible Chat Completions with `stream: true` (OpenAI, vLLM, llama.cpp's server,
//! LM Studio, Ollama's `/v1`, OpenRouter).
//!
//! The stream is SSE `data: {json}` chunks ending with `data: [DONE]`. Text arrives in
//! `choices[0].delta.content`; tool calls in `delta.tool_calls[]`, keyed by `index`, the id
//! and name only in a call's first fragment and its arguments as string fragments that are
//! JSON only once `finish_reason` arrives. With `stream_options.include_usage` a last chunk
//! with empty `choices` carries the token counts.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::http::{self, Events, HttpSettings, MAX_LINE};
use super::sse::SseParser;
use super::{
    ChatRequest, Message, Provider, ProviderError, ProviderInfo, StopReason, StreamEvent,
    StreamFuture, ToolCall, Usage,
};

const NAME: &str = "openai";

pub struct OpenAi {
    settings: HttpSettings,
    client: reqwest::Client,
}

impl OpenAi {
    pub fn new(settings: HttpSettings) -> Result<Self, ProviderError> {
        let client = http::client(NAME, &settings)?;
        Ok(OpenAi { settings, client })
    }

    async fn run(&self, request: &ChatRequest, events: Events) -> Result<(), ProviderError> {
        let url = http::join(&self.settings.base_url, "chat/completions");
        let mut headers = Vec::new();
        if let Some(key) = self.settings.api_key.as_deref().filter(|k| !k.is_empty()) {
            headers.push(("authorization", format!("Bearer {key}")));
        }
        let body = request_body(&self.settings.model, request);
        let timeout = self.settings.timeout;
        let mut response =
            http::post_json(&self.client, NAME, &url, &headers, &body, timeout).await?;
        let mut sse = SseParser::new();
        let mut decoder = Decoder::default();
        while let Some(chunk) = http::next_chunk(&mut response, NAME, timeout).await? {
            for event in sse.push(&chunk) {
                for out in decoder.data(&event.data)? {
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
        let mut tail = Vec::new();
        if let Some(event) = sse.finish() {
            tail = decoder.data(&event.data)?;
        }
        if !decoder.done {
            tail.extend(decoder.end_of_body()?);
        }
        for out in tail {
            if !events.send(out).await {
                break;
            }
        }
        Ok(())
    }
}

impl Provider for OpenAi {
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

/// The JSON body of a streamed Chat Completions request.
pub fn request_body(model: &str, request: &ChatRequest) -> Value {
    let mut messages = Vec::with_capacity(request.messages.len() + 1);
    if !request.system.is_empty() {
        messages.push(json!({"role": "system", "content": request.system}));
    }
    for message in &request.messages {
        messages.push(match message {
            Message::User { text } => json!({"role": "user", "content": text}),
            Message::Assistant { text, tool_calls } => {
                let mut m = json!({"role": "assistant"});
                // OpenAI wants `null`, not "", beside tool calls that have no text.
                m["content"] = if text.is_empty() && !tool_calls.is_empty() {
                    Value::Null
                } else {
                    json!(text)
                };
                if !tool_calls.is_empty() {
                    m["tool_calls"] = tool_calls
                        .iter()
                        .map(|call| {
                            json!({
                                "id": call.id,
                                "type": "function",
                                "function": {
                                    "name": call.name,
                                    "arguments": call.arguments.to_string(),
                                },
                            })
                        })
                        .collect();
                }
                m
            }
            Message::Tool {
                call_id, content, ..
            } => json!({"role": "tool", "tool_call_id": call_id, "content": content}),
        });
    }
    let mut body = json!({
        "model": model,
        "stream": true,
        "stream_options": {"include_usage": true},
        "max_tokens": request.max_tokens,
        "messages": messages,
    });
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.parameters,
                    },
                })
            })
            .collect();
    }
    body
}

/// A tool call being assembled from its fragments.
#[derive(Default)]
struct PartialCall {
    id: Option<String>,
    name: Option<String>,
    arguments: String,
    started: bool,
}

/// Turns the `data:` payloads of one stream into normalised events.
#[derive(Default)]
struct Decoder {
    calls: BTreeMap<usize, PartialCall>,
    calls_ended: bool,
    finish_reason: Option<String>,
    done: bool,
}

impl Decoder {
    fn data(&mut self, data: &str) -> Result<Vec<StreamEvent>, ProviderError> {
        let mut out = Vec::new();
        if self.done {
            return Ok(out);
        }
        if data.trim() == "[DONE]" {
            self.stop(&mut out)?;
            return Ok(out);
        }
        let chunk: Value = serde_json::from_str(data).map_err(|e| {
            http::protocol(
                NAME,
                format!("a stream chunk is not JSON ({e}): {data:.200}"),
            )
        })?;
        if let Some(error) = chunk.get("error") {
            let (_, message) = http::error_message(&json!({"error": error}).to_string());
            return Err(http::protocol(
                NAME,
                format!("error in the stream: {message}"),
            ));
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            out.push(StreamEvent::Usage(Usage {
                input_tokens: count(usage, "prompt_tokens"),
                output_tokens: count(usage, "completion_tokens"),
            }));
        }
        let Some(choice) = chunk.get("choices").and_then(|c| c.get(0)) else {
            return Ok(out);
        };
        let delta = choice.get("delta").unwrap_or(&Value::Null);
        if let Some(text) = delta.get("content").and_then(Value::as_str)
            && !text.is_empty()
        {
            out.push(StreamEvent::Text(text.to_string()));
        }
        if let Some(fragments) = delta.get("tool_calls").and_then(Value::as_array) {
            for (position, fragment) in fragments.iter().enumerate() {
                self.tool_fragment(position, fragment, &mut out);
            }
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish_reason = Some(reason.to_string());
            self.end_calls(&mut out)?;
        }
        Ok(out)
    }

    fn tool_fragment(&mut self, position: usize, fragment: &Value, out: &mut Vec<StreamEvent>) {
        let index = fragment
            .get("index")
            .and_then(Value::as_u64)
            .map_or(position, |i| i as usize);
        let call = self.calls.entry(index).or_default();
        let non_empty = |v: Option<&Value>| {
            v.and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        if call.id.is_none() {
            call.id = non_empty(fragment.get("id"));
        }
        let function = fragment.get("function").unwrap_or(&Value::Null);
        if call.name.is_none() {
            call.name = non_empty(function.get("name"));
        }
        let piece = function
            .get("arguments")
            .and_then(Value::as_str)
            .unwrap_or("");
        call.arguments.push_str(piece);
        if call.started {
            if !piece.is_empty() {
                out.push(StreamEvent::ToolCallDelta {
                    index,
                    fragment: piece.to_string(),
                });
            }
        } else if let Some(name) = call.name.clone() {
            call.started = true;
            let id = call.id.clone().unwrap_or_else(|| format!("call_{index}"));
            call.id = Some(id.clone());
            out.push(StreamEvent::ToolCallStart { index, id, name });
            if !call.arguments.is_empty() {
                out.push(StreamEvent::ToolCallDelta {
                    index,
                    fragment: call.arguments.clone(),
                });
            }
        }
    }

    fn end_calls(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), ProviderError> {
        if self.calls_ended {
            return Ok(());
        }
        self.calls_ended = true;
        for (&index, call) in &self.calls {
            let Some(name) = call.name.clone() else {
                return Err(http::protocol(
                    NAME,
                    format!("tool call {index} never got a name"),
                ));
            };
            let arguments = http::parse_arguments(NAME, &name, &call.arguments)?;
            let id = call.id.clone().unwrap_or_else(|| format!("call_{index}"));
            out.push(StreamEvent::ToolCallEnd {
                index,
                call: ToolCall {
                    id,
                    name,
                    arguments,
                },
            });
        }
        Ok(())
    }

    fn stop(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), ProviderError> {
        self.end_calls(out)?;
        self.done = true;
        let reason = match self.finish_reason.as_deref() {
            // Some servers say "stop" after tool calls; what the caller must do is the same.
            _ if !self.calls.is_empty() => StopReason::ToolCalls,
            None | Some("stop") => StopReason::EndTurn,
            Some("tool_calls") | Some("function_call") => StopReason::ToolCalls,
            Some("length") => StopReason::Length,
            Some(other) => StopReason::Other(other.to_string()),
        };
        out.push(StreamEvent::Stop(reason));
        Ok(())
    }

    /// The body ended without `[DONE]`: complete if the answer had finished, else cut.
    fn end_of_body(&mut self) -> Result<Vec<StreamEvent>, ProviderError> {
        if self.finish_reason.is_none() {
            return Err(ProviderError::Cut {
                provider: NAME.to_string(),
            });
        }
        let mut out = Vec::new();
        self.stop(&mut out)?;
        Ok(out)
    }
}

fn count(usage: &Value, key: &str) -> u64 {
    usage.get(key).and_then(Value::as_u64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ai::provider::ToolSpec;

    fn decode(chunks: &[&str]) -> Result<Vec<StreamEvent>, ProviderError> {
        let mut decoder = Decoder::default();
        let mut out = Vec::new();
        for chunk in chunks {
            out.extend(decoder.data(chunk)?);
        }
        if !decoder.done {
            out.extend(decoder.end_of_body()?);
        }
        Ok(out)
    }

    #[test]
    fn text_usage_and_done() {
        let events = decode(&[
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"Hel"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2}}"#,
            "[DONE]",
        ])
        .unwrap();
        assert_eq!(
            events,
            vec![
                StreamEvent::Text("Hel".into()),
                StreamEvent::Text("lo".into()),
                StreamEvent::Usage(Usage {
                    input_tokens: 9,
                    output_tokens: 2
                }),
                StreamEvent::Stop(StopReason::EndTurn),
            ]
        );
    }

    #[test]
    fn parallel_tool_calls_assemble_by_index() {
        let events = decode(&[
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"status","arguments":""}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"plu"}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":1,"id":"call_b","function":{"name":"logs","arguments":"{}"}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"gin\":\"x\"}"}}]}}]}"#,
            r#"{"choices":[{"delta":{},"finish_reason":"tool_calls"}]}"#,
        ])
        .unwrap();
        let ends: Vec<&ToolCall> = events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::ToolCallEnd { call, .. } => Some(call),
                _ => None,
            })
            .collect();
        assert_eq!(ends[0].arguments, json!({"plugin": "x"}));
        assert_eq!(ends[0].id, "call_a");
        assert_eq!(ends[1].name, "logs");
        assert_eq!(
            events.last(),
            Some(&StreamEvent::Stop(StopReason::ToolCalls))
        );
    }

    #[test]
    fn a_body_that_stops_before_finishing_is_cut() {
        let result = decode(&[r#"{"choices":[{"delta":{"content":"Hel"}}]}"#]);
        assert!(matches!(result, Err(ProviderError::Cut { .. })));
    }

    #[test]
    fn bad_arguments_are_a_protocol_error() {
        let result = decode(&[
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"n","arguments":"{oops"}}]}}]}"#,
            r#"{"choices":[{"delta":{},"finish_reason":"tool_calls"}]}"#,
        ]);
        assert!(matches!(result, Err(ProviderError::Protocol { .. })));
    }

    #[test]
    fn body_has_system_tools_calls_and_results() {
        let request = ChatRequest {
            system: "be brief".into(),
            messages: vec![
                Message::User { text: "hi".into() },
                Message::Assistant {
                    text: String::new(),
                    tool_calls: vec![ToolCall {
                        id: "call_1".into(),
                        name: "status".into(),
                        arguments: json!({"plugin": "shop"}),
                    }],
                },
                Message::Tool {
                    call_id: "call_1".into(),
                    name: "status".into(),
                    content: "ok".into(),
                },
            ],
            tools: vec![ToolSpec {
                name: "status".into(),
                description: "shows status".into(),
                parameters: json!({"type": "object"}),
            }],
            max_tokens: 100,
        };
        let body = request_body("m", &request);
        assert_eq!(
            body["messages"][0],
            json!({"role":"system","content":"be brief"})
        );
        assert_eq!(body["messages"][2]["content"], Value::Null);
        assert_eq!(
            body["messages"][2]["tool_calls"][0]["function"]["arguments"],
            json!("{\"plugin\":\"shop\"}")
        );
        assert_eq!(
            body["messages"][3],
            json!({"role":"tool","tool_call_id":"call_1","content":"ok"})
        );
        assert_eq!(body["tools"][0]["type"], "function");
        assert_eq!(body["tools"][0]["function"]["name"], "status");
        assert_eq!(body["stream_options"]["include_usage"], true);
    }
}
