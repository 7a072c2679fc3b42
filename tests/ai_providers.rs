//! The language-model providers against a fake server that speaks each real wire protocol
//! over a real socket: streaming text, tool calls split across chunks, errors, retries, cuts,
//! timeouts and the circuit breaker, and what each request carries.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::fake_llm::{self, FakeLlm, Reply};
use naap::ai::config::{self, AiConfig, ProviderKind};
use naap::ai::provider::{
    Anthropic, ChatRequest, HttpSettings, Message, Ollama, OpenAi, Provider, ProviderError,
    Resilient, ResilientSettings, StopReason, StreamEvent, ToolCall, ToolSpec, Usage,
};
use serde_json::json;
use tokio::sync::mpsc;

fn settings(base_url: String, key: Option<&str>) -> HttpSettings {
    HttpSettings {
        base_url,
        model: "fake-model".into(),
        api_key: key.map(str::to_string),
        timeout: Duration::from_secs(10),
    }
}

/// Fast retries so tests do not wait; nothing asserts on how long anything took.
fn fast() -> ResilientSettings {
    ResilientSettings {
        timeout: Duration::from_secs(10),
        max_retries: 2,
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(5),
        max_retry_after: Duration::from_secs(2),
        breaker_failures: 3,
        breaker_cooldown: Duration::from_secs(60),
    }
}

fn status_tool() -> ToolSpec {
    ToolSpec {
        name: "status".into(),
        description: "The status of every plugin".into(),
        parameters: json!({"type": "object", "properties": {"plugin": {"type": "string"}}}),
    }
}

fn question() -> ChatRequest {
    ChatRequest {
        system: "You are naap's operator.".into(),
        messages: vec![Message::User {
            text: "how is shop doing?".into(),
        }],
        tools: vec![status_tool()],
        max_tokens: 256,
    }
}

/// A conversation that already made a tool call and has its result.
fn after_tool_call(call_id: &str) -> ChatRequest {
    let mut request = question();
    request.messages.push(Message::Assistant {
        text: "Let me look.".into(),
        tool_calls: vec![ToolCall {
            id: call_id.into(),
            name: "status".into(),
            arguments: json!({"plugin": "shop"}),
        }],
    });
    request.messages.push(Message::Tool {
        call_id: call_id.into(),
        name: "status".into(),
        content: "shop: healthy, 100% on v2".into(),
    });
    request
}

async fn run(
    provider: &dyn Provider,
    request: &ChatRequest,
) -> (Result<(), ProviderError>, Vec<StreamEvent>) {
    let (tx, mut rx) = mpsc::channel(4096);
    let result = provider.stream(request, tx).await;
    let mut events = Vec::new();
    while let Ok(event) = rx.try_recv() {
        events.push(event);
    }
    (result, events)
}

fn text_of(events: &[StreamEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

fn calls_of(events: &[StreamEvent]) -> Vec<ToolCall> {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCallEnd { call, .. } => Some(call.clone()),
            _ => None,
        })
        .collect()
}

/// Each call's argument fragments, joined, by index.
fn fragments_of(events: &[StreamEvent], index: usize) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCallDelta { index: i, fragment } if *i == index => {
                Some(fragment.as_str())
            }
            _ => None,
        })
        .collect()
}

fn refused_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

// ---- OpenAI-compatible ----

#[tokio::test]
async fn openai_streams_text_usage_and_stop() {
    let fake = FakeLlm::with([fake_llm::openai_text(&["Shop ", "is ", "héalthy 🚀"]).rechunk(5)]);
    let provider = OpenAi::new(settings(fake.openai_base(), Some("sk-test"))).unwrap();
    let (result, events) = run(&provider, &question()).await;
    result.unwrap();
    assert_eq!(text_of(&events), "Shop is héalthy 🚀");
    assert!(events.contains(&StreamEvent::Usage(Usage {
        input_tokens: 11,
        output_tokens: 3
    })));
    assert_eq!(events.last(), Some(&StreamEvent::Stop(StopReason::EndTurn)));

    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, fake_llm::OPENAI_PATH);
    assert_eq!(request.header("authorization"), Some("Bearer sk-test"));
    assert_eq!(request.body["model"], "fake-model");
    assert_eq!(request.body["stream"], true);
    assert_eq!(request.body["stream_options"]["include_usage"], true);
    assert_eq!(
        request.body["messages"][0],
        json!({"role": "system", "content": "You are naap's operator."})
    );
    assert_eq!(
        request.body["messages"][1],
        json!({"role": "user", "content": "how is shop doing?"})
    );
    assert_eq!(
        request.body["tools"][0],
        json!({"type": "function", "function": {
            "name": "status",
            "description": "The status of every plugin",
            "parameters": {"type": "object", "properties": {"plugin": {"type": "string"}}},
        }})
    );
}

#[tokio::test]
async fn openai_assembles_two_parallel_tool_calls_split_across_chunks() {
    let calls = [
        ("call_a1", "status", r#"{"plugin":"shop"}"#),
        (
            "call_b2",
            "logs",
            r#"{"plugin":"shop","lines":20,"grep":"é"}"#,
        ),
    ];
    // 7-byte chunks split SSE lines, JSON strings and the UTF-8 of "é".
    let fake = FakeLlm::with([fake_llm::openai_tool_calls(&calls).rechunk(7)]);
    let provider = OpenAi::new(settings(fake.openai_base(), None)).unwrap();
    let (result, events) = run(&provider, &question()).await;
    result.unwrap();

    assert!(events.contains(&StreamEvent::ToolCallStart {
        index: 0,
        id: "call_a1".into(),
        name: "status".into()
    }));
    assert!(events.contains(&StreamEvent::ToolCallStart {
        index: 1,
        id: "call_b2".into(),
        name: "logs".into()
    }));
    assert_eq!(fragments_of(&events, 0), calls[0].2);
    assert_eq!(fragments_of(&events, 1), calls[1].2);
    assert_eq!(
        calls_of(&events),
        vec![
            ToolCall {
                id: "call_a1".into(),
                name: "status".into(),
                arguments: json!({"plugin": "shop"}),
            },
            ToolCall {
                id: "call_b2".into(),
                name: "logs".into(),
                arguments: json!({"plugin": "shop", "lines": 20, "grep": "é"}),
            },
        ]
    );
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Stop(StopReason::ToolCalls))
    );
    // No key configured (a local llama.cpp or Ollama /v1): no Authorization header.
    assert_eq!(fake.requests()[0].header("authorization"), None);
}

#[tokio::test]
async fn openai_sends_tool_calls_and_results_back() {
    let fake = FakeLlm::with([fake_llm::openai_text(&["All good."])]);
    let provider = OpenAi::new(settings(fake.openai_base(), None)).unwrap();
    run(&provider, &after_tool_call("call_a1")).await.0.unwrap();
    let body = &fake.requests()[0].body;
    assert_eq!(
        body["messages"][2],
        json!({"role": "assistant", "content": "Let me look.", "tool_calls": [{
            "id": "call_a1", "type": "function",
            "function": {"name": "status", "arguments": "{\"plugin\":\"shop\"}"},
        }]})
    );
    assert_eq!(
        body["messages"][3],
        json!({"role": "tool", "tool_call_id": "call_a1", "content": "shop: healthy, 100% on v2"})
    );
}

#[tokio::test]
async fn openai_http_errors_become_typed_errors() {
    let fake = FakeLlm::with([
        Reply::error(401, "Incorrect API key provided"),
        Reply::error(400, "max_tokens is too large"),
    ]);
    let provider = OpenAi::new(settings(fake.openai_base(), Some("sk-bad"))).unwrap();
    let (result, _) = run(&provider, &question()).await;
    assert_eq!(
        result,
        Err(ProviderError::Auth {
            provider: "openai".into(),
            message: "Incorrect API key provided".into()
        })
    );
    let (result, _) = run(&provider, &question()).await;
    assert!(
        matches!(&result, Err(ProviderError::Status { status: 400, message, .. }) if message == "max_tokens is too large"),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_429_is_retried_after_retry_after_then_succeeds() {
    let fake = FakeLlm::with([
        Reply::error(429, "Rate limit reached").header("Retry-After", "0"),
        fake_llm::openai_text(&["after ", "the limit"]),
    ]);
    let inner = Arc::new(OpenAi::new(settings(fake.openai_base(), None)).unwrap());
    let provider = Resilient::new(inner, fast());
    let (result, events) = run(&provider, &question()).await;
    result.unwrap();
    assert_eq!(text_of(&events), "after the limit");
    assert_eq!(fake.requests().len(), 2);
    assert_eq!(provider.consecutive_failures(), 0);
}

#[tokio::test]
async fn a_429_alone_reports_the_rate_limit_and_its_retry_after() {
    let fake = FakeLlm::with([Reply::error(429, "Rate limit reached").header("retry-after", "7")]);
    let provider = OpenAi::new(settings(fake.openai_base(), None)).unwrap();
    let (result, _) = run(&provider, &question()).await;
    assert_eq!(
        result,
        Err(ProviderError::RateLimited {
            provider: "openai".into(),
            message: "Rate limit reached".into(),
            retry_after_secs: Some(7)
        })
    );
}

#[tokio::test]
async fn a_stream_cut_midway_is_a_cut_and_is_not_retried_after_text() {
    let script = || fake_llm::openai_text(&["one ", "two ", "three"]).cut_after(3);
    let fake = FakeLlm::with([script()]);
    let provider = OpenAi::new(settings(fake.openai_base(), None)).unwrap();
    let (result, events) = run(&provider, &question()).await;
    assert_eq!(
        result,
        Err(ProviderError::Cut {
            provider: "openai".into()
        })
    );
    assert_eq!(text_of(&events), "one two ");
    assert!(!events.iter().any(|e| matches!(e, StreamEvent::Stop(_))));

    // Through the resilient layer: text already reached the caller, so no second request
    // that would repeat it.
    fake.push(script());
    fake.push(fake_llm::openai_text(&["never sent"]));
    let inner = Arc::new(OpenAi::new(settings(fake.openai_base(), None)).unwrap());
    let resilient = Resilient::new(inner, fast());
    let (result, events) = run(&resilient, &question()).await;
    assert!(matches!(result, Err(ProviderError::Cut { .. })));
    assert_eq!(text_of(&events), "one two ");
    assert_eq!(fake.requests().len(), 2);
    assert_eq!(fake.remaining(), 1);
}

#[tokio::test]
async fn a_cut_before_anything_arrived_is_retried() {
    let fake = FakeLlm::with([
        fake_llm::openai_text(&["lost"]).cut_after(0),
        fake_llm::openai_text(&["second try"]),
    ]);
    let inner = Arc::new(OpenAi::new(settings(fake.openai_base(), None)).unwrap());
    let provider = Resilient::new(inner, fast());
    let (result, events) = run(&provider, &question()).await;
    result.unwrap();
    assert_eq!(text_of(&events), "second try");
}

#[tokio::test]
async fn a_provider_that_stalls_times_out() {
    let fake = FakeLlm::with([fake_llm::openai_text(&["late"]).stall(Duration::from_secs(5))]);
    let mut s = settings(fake.openai_base(), None);
    s.timeout = Duration::from_millis(300);
    let provider = OpenAi::new(s).unwrap();
    let (result, events) = run(&provider, &question()).await;
    assert!(
        matches!(result, Err(ProviderError::Timeout { .. })),
        "{result:?}"
    );
    assert!(events.is_empty());
}

#[tokio::test]
async fn nothing_listening_fails_then_the_circuit_opens_and_fails_fast() {
    let config = AiConfig {
        base_url: format!("{}/v1", refused_port_url()),
        max_retries: 1,
        breaker_failures: 2,
        ..AiConfig::defaults(ProviderKind::OpenAi)
    };
    let provider = config::build_with_env(&config, &|_| None)
        .unwrap()
        .expect("a provider");
    for _ in 0..2 {
        let (result, _) = run(provider.as_ref(), &question()).await;
        assert!(
            matches!(&result, Err(ProviderError::Unreachable { url, .. }) if url.ends_with("/v1/chat/completions")),
            "{result:?}"
        );
    }
    let (result, events) = run(provider.as_ref(), &question()).await;
    assert!(
        matches!(result, Err(ProviderError::CircuitOpen { failures: 2, .. })),
        "{result:?}"
    );
    assert!(events.is_empty());
    let message = result.unwrap_err().to_string();
    assert!(
        message.contains("openai failed 2 times in a row"),
        "{message}"
    );
}

// ---- Anthropic ----

#[tokio::test]
async fn anthropic_streams_text_with_pings() {
    let fake = FakeLlm::with([fake_llm::anthropic_text(&["Shop ", "is fine."]).rechunk(9)]);
    let provider = Anthropic::new(settings(fake.anthropic_base(), Some("sk-ant-test"))).unwrap();
    let (result, events) = run(&provider, &question()).await;
    result.unwrap();
    assert_eq!(text_of(&events), "Shop is fine.");
    assert!(events.contains(&StreamEvent::Usage(Usage {
        input_tokens: 13,
        output_tokens: 2
    })));
    assert_eq!(events.last(), Some(&StreamEvent::Stop(StopReason::EndTurn)));

    let request = &fake.requests()[0];
    assert_eq!(request.path, fake_llm::ANTHROPIC_PATH);
    assert_eq!(request.header("x-api-key"), Some("sk-ant-test"));
    assert_eq!(request.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(request.header("authorization"), None);
    assert_eq!(request.body["system"], "You are naap's operator.");
    assert_eq!(request.body["stream"], true);
    assert_eq!(request.body["max_tokens"], 256);
    assert_eq!(
        request.body["tools"][0],
        json!({"name": "status", "description": "The status of every plugin",
            "input_schema": {"type": "object", "properties": {"plugin": {"type": "string"}}}})
    );
}

#[tokio::test]
async fn anthropic_overloaded_is_retried_then_tool_use_arrives() {
    let calls = [
        ("toolu_01", "status", r#"{"plugin":"shop"}"#),
        ("toolu_02", "logs", r#"{"plugin":"shop","lines":5}"#),
    ];
    let fake = FakeLlm::with([
        fake_llm::anthropic_overloaded(),
        fake_llm::anthropic_error(529, "overloaded_error", "Overloaded"),
        fake_llm::anthropic_tool_use("Checking.", &calls).rechunk(11),
    ]);
    let inner = Arc::new(Anthropic::new(settings(fake.anthropic_base(), Some("k"))).unwrap());
    let provider = Resilient::new(inner, fast());
    let (result, events) = run(&provider, &question()).await;
    result.unwrap();
    assert_eq!(fake.requests().len(), 3);
    // The failed attempts forwarded nothing, so the text is there once.
    assert_eq!(text_of(&events), "Checking.");
    assert_eq!(fragments_of(&events, 1), calls[1].2);
    assert_eq!(
        calls_of(&events),
        vec![
            ToolCall {
                id: "toolu_01".into(),
                name: "status".into(),
                arguments: json!({"plugin": "shop"}),
            },
            ToolCall {
                id: "toolu_02".into(),
                name: "logs".into(),
                arguments: json!({"plugin": "shop", "lines": 5}),
            },
        ]
    );
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Stop(StopReason::ToolCalls))
    );
}

#[tokio::test]
async fn anthropic_overloaded_without_retries_is_overloaded() {
    let fake = FakeLlm::with([fake_llm::anthropic_overloaded()]);
    let provider = Anthropic::new(settings(fake.anthropic_base(), Some("k"))).unwrap();
    let (result, _) = run(&provider, &question()).await;
    assert_eq!(
        result,
        Err(ProviderError::Overloaded {
            provider: "anthropic".into(),
            message: "Overloaded".into()
        })
    );
}

#[tokio::test]
async fn anthropic_sends_tool_use_and_tool_result_blocks() {
    let fake = FakeLlm::with([fake_llm::anthropic_text(&["ok"])]);
    // A base URL ending in /v1 works too.
    let provider =
        Anthropic::new(settings(format!("{}/v1", fake.anthropic_base()), Some("k"))).unwrap();
    run(&provider, &after_tool_call("toolu_01"))
        .await
        .0
        .unwrap();
    let request = &fake.requests()[0];
    assert_eq!(request.path, fake_llm::ANTHROPIC_PATH);
    let messages = request.body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3);
    assert_eq!(
        messages[1],
        json!({"role": "assistant", "content": [
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "toolu_01", "name": "status", "input": {"plugin": "shop"}},
        ]})
    );
    assert_eq!(
        messages[2],
        json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01",
            "content": "shop: healthy, 100% on v2"}]})
    );
}

#[tokio::test]
async fn anthropic_cut_midway_is_a_cut() {
    let fake = FakeLlm::with([fake_llm::anthropic_text(&["a", "b", "c"]).cut_after(4)]);
    let provider = Anthropic::new(settings(fake.anthropic_base(), Some("k"))).unwrap();
    let (result, _) = run(&provider, &question()).await;
    assert!(
        matches!(result, Err(ProviderError::Cut { .. })),
        "{result:?}"
    );
}

// ---- Ollama ----

#[tokio::test]
async fn ollama_streams_ndjson_text() {
    let fake = FakeLlm::with([fake_llm::ollama_text(&["Shop ", "is ", "fine ✓"]).rechunk(4)]);
    let provider = Ollama::new(settings(fake.ollama_base(), None)).unwrap();
    let (result, events) = run(&provider, &question()).await;
    result.unwrap();
    assert_eq!(text_of(&events), "Shop is fine ✓");
    assert!(events.contains(&StreamEvent::Usage(Usage {
        input_tokens: 17,
        output_tokens: 5
    })));
    assert_eq!(events.last(), Some(&StreamEvent::Stop(StopReason::EndTurn)));
    let request = &fake.requests()[0];
    assert_eq!(request.path, fake_llm::OLLAMA_PATH);
    assert_eq!(request.header("authorization"), None);
    assert_eq!(request.body["stream"], true);
    assert_eq!(request.body["options"]["num_predict"], 256);
    assert_eq!(request.body["tools"][0]["type"], "function");
    assert_eq!(request.body["tools"][0]["function"]["name"], "status");
}

#[tokio::test]
async fn ollama_tool_calls_come_whole_and_get_made_up_ids() {
    let fake = FakeLlm::with([fake_llm::ollama_tool_calls(&[
        ("status", r#"{"plugin":"shop"}"#),
        ("logs", r#"{"plugin":"shop","lines":3}"#),
    ])
    .rechunk(6)]);
    let provider = Ollama::new(settings(fake.ollama_base(), None)).unwrap();
    // One call is already in the conversation, so the new ids continue after it.
    let (result, events) = run(&provider, &after_tool_call("ollama-call-0")).await;
    result.unwrap();
    assert_eq!(
        calls_of(&events),
        vec![
            ToolCall {
                id: "ollama-call-1".into(),
                name: "status".into(),
                arguments: json!({"plugin": "shop"}),
            },
            ToolCall {
                id: "ollama-call-2".into(),
                name: "logs".into(),
                arguments: json!({"plugin": "shop", "lines": 3}),
            },
        ]
    );
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Stop(StopReason::ToolCalls))
    );
    let messages = fake.requests()[0].body["messages"].clone();
    assert_eq!(
        messages[2]["tool_calls"][0],
        json!({"function": {"name": "status", "arguments": {"plugin": "shop"}}})
    );
    assert_eq!(
        messages[3],
        json!({"role": "tool", "tool_name": "status", "content": "shop: healthy, 100% on v2"})
    );
}

#[tokio::test]
async fn ollama_errors_carry_their_message() {
    let fake = FakeLlm::with([
        fake_llm::ollama_error(404, "model 'nope' not found, try pulling it first"),
        Reply::ndjson(vec![
            "{\"message\":{\"role\":\"assistant\",\"content\":\"hi\"},\"done\":false}\n".into(),
            "{\"error\":\"model runner has unexpectedly stopped\"}\n".into(),
        ]),
    ]);
    let provider = Ollama::new(settings(fake.ollama_base(), None)).unwrap();
    let (result, _) = run(&provider, &question()).await;
    assert!(
        matches!(&result, Err(ProviderError::Status { status: 404, message, .. }) if message.contains("not found")),
        "{result:?}"
    );
    let (result, events) = run(&provider, &question()).await;
    assert_eq!(text_of(&events), "hi");
    assert!(
        matches!(&result, Err(ProviderError::Status { message, .. }) if message.contains("unexpectedly stopped")),
        "{result:?}"
    );
}

// ---- configuration to provider ----

#[tokio::test]
async fn build_wires_the_configured_provider_to_its_base_url_and_key() {
    let fake = FakeLlm::with([fake_llm::anthropic_text(&["hello"])]);
    let config = AiConfig {
        base_url: fake.anthropic_base(),
        model: "claude-test".into(),
        api_key_env: Some("NAAP_TEST_ANTHROPIC_KEY".into()),
        ..AiConfig::defaults(ProviderKind::Anthropic)
    };
    let key = |name: &str| (name == "NAAP_TEST_ANTHROPIC_KEY").then(|| "sk-ant-from-env".into());
    let provider = config::build_with_env(&config, &key).unwrap().unwrap();
    assert_eq!(provider.info().kind, "anthropic");
    assert_eq!(provider.info().model, "claude-test");
    let (result, events) = run(provider.as_ref(), &question()).await;
    result.unwrap();
    assert_eq!(text_of(&events), "hello");
    let request = &fake.requests()[0];
    assert_eq!(request.header("x-api-key"), Some("sk-ant-from-env"));
    assert_eq!(request.body["model"], "claude-test");
}

#[tokio::test]
async fn dropping_the_stream_cancels_the_turn() {
    let fake =
        FakeLlm::with([fake_llm::openai_text(&["first ", "second ", "third"])
            .delay(Duration::from_millis(500))]);
    let inner = Arc::new(OpenAi::new(settings(fake.openai_base(), None)).unwrap());
    let provider: Arc<dyn Provider> = Arc::new(Resilient::new(inner, fast()));
    let (tx, mut rx) = mpsc::channel(64);
    let turn = tokio::spawn({
        let provider = provider.clone();
        async move { provider.stream(&question(), tx).await }
    });
    let first = loop {
        match rx.recv().await {
            Some(StreamEvent::Text(text)) => break text,
            Some(_) => continue,
            None => panic!("the stream ended before any text"),
        }
    };
    assert_eq!(first, "first ");
    turn.abort();
    // With the turn's future dropped the channel closes; nothing after "first" is needed.
    let mut rest = Vec::new();
    while let Some(event) = rx.recv().await {
        rest.push(event);
    }
    assert!(
        !rest.iter().any(|e| matches!(e, StreamEvent::Stop(_))),
        "{rest:?}"
    );
}
