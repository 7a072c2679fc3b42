//! Ollama's native `/api/chat`, streamed as NDJSON: one object per line, text in
//! `message.content`, tool calls whole in `message.tool_calls[].function.{name, arguments}`
//! (arguments an object, no call id), and a last line with `done: true` and the token
//! counts (`prompt_eval_count`, `eval_count`). Errors come as `{"error": "…"}`, as the body of
//! an HTTP error or as a line of the stream.

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::http::{self, Events, HttpSettings, MAX_LINE};
use super::ndjson::NdjsonParser;
use super::{
    ChatRequest, Message, Provider, ProviderError, ProviderInfo, StopReason, StreamEvent,
    StreamFuture, ToolCall, Usage,
};

const NAME: &str = "ollama";

pub struct Ollama {
    settings: HttpSettings,
    client: reqwest::Client,
}

impl Ollama {
    pub fn new(settings: HttpSettings) -> Result<Self, ProviderError> {
        let client = http::client(NAME, &settings)?;
        Ok(Ollama { settings, client })
    }

    async fn run(&self, request: &ChatRequest, events: Events) -> Result<(), ProviderError> {
        let url = http::join(&self.settings.base_url, "api/chat");
        let mut headers = Vec::new();
        // A bare Ollama needs no key; one behind an authenticating proxy may.
        if let Some(key) = self.settings.api_key.as_deref().filter(|k| !k.is_empty()) {
            headers.push(("authorization", format!("Bearer {key}")));
        }
        let body = request_body(&self.settings.model, request);
        let timeout = self.settings.timeout;
        let mut response =
            http::post_json(&self.client, NAME, &url, &headers, &body, timeout).await?;
        let mut lines = NdjsonParser::new();
        let mut decoder = Decoder::new(request);
        while let Some(chunk) = http::next_chunk(&mut response, NAME, timeout).await? {
            for line in lines.push(&chunk) {
                for out in decoder.line(&line)? {
                    if !events.send(out).await {
                        return Ok(());
                    }
                }
                if decoder.done {
                    return Ok(());
                }
            }
            if lines.buffered() > MAX_LINE {
                return Err(http::protocol(NAME, "a line longer than 8 MiB"));
            }
        }
        if let Some(line) = lines.finish() {
            for out in decoder.line(&line)? {
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

impl Provider for Ollama {
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

/// The JSON body of a streamed `/api/chat` request.
pub fn request_body(model: &str, request: &ChatRequest) -> Value {
    let mut messages = Vec::with_capacity(request.messages.len() + 1);
    if !request.system.is_empty() {
        messages.push(json!({"role": "system", "content": request.system}));
    }
    for message in &request.messages {
        messages.push(match message {
            Message::User { text } => json!({"role": "user", "content": text}),
            Message::Assistant { text, tool_calls } => {
                let mut m = json!({"role": "assistant", "content": text});
                if !tool_calls.is_empty() {
                    m["tool_calls"] = tool_calls
                        .iter()
                        .map(|call| {
                            json!({"function": {"name": call.name, "arguments": call.arguments}})
                        })
                        .collect();
                }
                m
            }
            Message::Tool { name, content, .. } => {
                json!({"role": "tool", "tool_name": name, "content": content})
            }
        });
    }
    let mut body = json!({
        "model": model,
        "stream": true,
        "messages": messages,
        "options": {"num_predict": request.max_tokens},
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

struct Decoder {
    /// Ids are made up as `ollama-call-N`, numbered after the calls already in the
    /// conversation so they stay unique within it.
    next_id: usize,
    tool_calls: usize,
    done: bool,
}

impl Decoder {
    fn new(request: &ChatRequest) -> Self {
        let earlier = request
            .messages
            .iter()
            .map(|m| match m {
                Message::Assistant { tool_calls, .. } => tool_calls.len(),
                _ => 0,
            })
            .sum();
        Decoder {
            next_id: earlier,
            tool_calls: 0,
            done: false,
        }
    }

    fn line(&mut self, line: &str) -> Result<Vec<StreamEvent>, ProviderError> {
        let mut out = Vec::new();
        if self.done {
            return Ok(out);
        }
        let object: Value = serde_json::from_str(line)
            .map_err(|e| http::protocol(NAME, format!("a line is not JSON ({e}): {line:.200}")))?;
        if let Some(error) = object.get("error") {
            let message = error
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| error.to_string());
            return Err(ProviderError::Status {
                provider: NAME.to_string(),
                status: 200,
                message,
            });
        }
        let message = object.get("message").unwrap_or(&Value::Null);
        if let Some(text) = message.get("content").and_then(Value::as_str)
            && !text.is_empty()
        {
            out.push(StreamEvent::Text(text.to_string()));
        }
        for call in message
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let function = call.get("function").unwrap_or(&Value::Null);
            let Some(name) = function.get("name").and_then(Value::as_str) else {
                return Err(http::protocol(NAME, "a tool call without a name"));
            };
            let arguments = match function.get("arguments") {
                None | Some(Value::Null) => json!({}),
                // Some models put the arguments in a string; it must still be JSON.
                Some(Value::String(text)) => http::parse_arguments(NAME, name, text)?,
                Some(other) => other.clone(),
            };
            let index = self.tool_calls;
            self.tool_calls += 1;
            let id = format!("ollama-call-{}", self.next_id);
            self.next_id += 1;
            out.push(StreamEvent::ToolCallStart {
                index,
                id: id.clone(),
                name: name.to_string(),
            });
            out.push(StreamEvent::ToolCallDelta {
                index,
                fragment: arguments.to_string(),
            });
            out.push(StreamEvent::ToolCallEnd {
                index,
                call: ToolCall {
                    id,
                    name: name.to_string(),
                    arguments,
                },
            });
        }
        if object.get("done").and_then(Value::as_bool) == Some(true) {
            self.done = true;
            let count = |key: &str| object.get(key).and_then(Value::as_u64).unwrap_or(0);
            out.push(StreamEvent::Usage(Usage {
                input_tokens: count("prompt_eval_count"),
                output_tokens: count("eval_count"),
            }));
            let reason = match object.get("done_reason").and_then(Value::as_str) {
                _ if self.tool_calls > 0 => StopReason::ToolCalls,
                None | Some("stop") => StopReason::EndTurn,
                Some("length") => StopReason::Length,
                Some(other) => StopReason::Other(other.to_string()),
            };
            out.push(StreamEvent::Stop(reason));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty_request() -> ChatRequest {
        ChatRequest {
            system: String::new(),
            messages: vec![],
            tools: vec![],
            max_tokens: 10,
        }
    }

    #[test]
    fn tool_calls_get_ids_and_done_gives_usage() {
        let mut decoder = Decoder::new(&empty_request());
        let mut events = decoder
            .line(r#"{"message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"status","arguments":{"plugin":"shop"}}}]},"done":false}"#)
            .unwrap();
        events.extend(
            decoder
                .line(r#"{"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":20,"eval_count":5}"#)
                .unwrap(),
        );
        assert_eq!(
            events[0],
            StreamEvent::ToolCallStart {
                index: 0,
                id: "ollama-call-0".into(),
                name: "status".into()
            }
        );
        assert!(events.contains(&StreamEvent::Usage(Usage {
            input_tokens: 20,
            output_tokens: 5
        })));
        assert_eq!(
            events.last(),
            Some(&StreamEvent::Stop(StopReason::ToolCalls))
        );
    }

    #[test]
    fn ids_continue_after_earlier_calls() {
        let mut request = empty_request();
        request.messages.push(Message::Assistant {
            text: String::new(),
            tool_calls: vec![ToolCall {
                id: "ollama-call-0".into(),
                name: "a".into(),
                arguments: json!({}),
            }],
        });
        let mut decoder = Decoder::new(&request);
        let events = decoder
            .line(r#"{"message":{"tool_calls":[{"function":{"name":"b","arguments":{}}}]}}"#)
            .unwrap();
        assert!(
            matches!(&events[0], StreamEvent::ToolCallStart { id, .. } if id == "ollama-call-1")
        );
    }

    #[test]
    fn an_error_line_fails() {
        let mut decoder = Decoder::new(&empty_request());
        let result = decoder.line(r#"{"error":"model runner crashed"}"#);
        assert!(
            matches!(result, Err(ProviderError::Status { message, .. }) if message == "model runner crashed")
        );
    }
}
