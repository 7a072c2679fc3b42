//! A fake language-model server for tests and benches: real TCP on 127.0.0.1, real HTTP/1.1
//! with chunked bodies, speaking the three wire protocols naap's providers use
//! (`/v1/chat/completions` OpenAI SSE, `/v1/messages` Anthropic SSE, `/api/chat` Ollama
//! NDJSON).
//!
//! Each test scripts it: a queue of [`Reply`]s, one per model request, in order. A reply is
//! an HTTP error (status, body, headers such as `Retry-After`) or a streamed body given as
//! raw chunks, each written and flushed on its own (with an optional delay between them) so
//! the test decides where the stream is split; a stream can also be cut (the connection
//! closed mid-body). Every request is recorded (method, path, headers, JSON body).
//!
//! It runs on its own thread and runtime, so synchronous tests that launch the `naap` binary
//! (pointing `NAAP_AI_BASE_URL` / `--base-url` at [`FakeLlm::url`]) and benches (include it
//! with `#[path = "../tests/common/fake_llm.rs"] mod fake_llm;`) use it the same way as
//! async tests. It needs only std, tokio and serde_json.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const OPENAI_PATH: &str = "/v1/chat/completions";
pub const ANTHROPIC_PATH: &str = "/v1/messages";
pub const OLLAMA_PATH: &str = "/api/chat";

/// What the fake answers to one model request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A whole, non-streamed error answer.
    Error {
        status: u16,
        body: String,
        headers: Vec<(String, String)>,
    },
    /// A 200 whose body is written chunk by chunk.
    Stream {
        content_type: String,
        chunks: Vec<Vec<u8>>,
        /// Pause after each chunk but the last.
        delay: Duration,
        /// Pause before the first chunk (after the headers).
        stall: Duration,
        /// Close the connection after this many chunks, without ending the body.
        cut_after: Option<usize>,
    },
}

impl Reply {
    /// An error with an OpenAI-shaped body, `{"error":{"message","type"}}`.
    pub fn error(status: u16, message: &str) -> Reply {
        Reply::Error {
            status,
            body: json!({"error": {"message": message, "type": "fake_error"}}).to_string(),
            headers: Vec::new(),
        }
    }

    /// An error with the given raw body.
    pub fn error_body(status: u16, body: &str) -> Reply {
        Reply::Error {
            status,
            body: body.to_string(),
            headers: Vec::new(),
        }
    }

    /// An SSE body, one chunk per element.
    pub fn sse(chunks: Vec<String>) -> Reply {
        Self::stream("text/event-stream", chunks)
    }

    /// An NDJSON body, one chunk per element.
    pub fn ndjson(chunks: Vec<String>) -> Reply {
        Self::stream("application/x-ndjson", chunks)
    }

    fn stream(content_type: &str, chunks: Vec<String>) -> Reply {
        Reply::Stream {
            content_type: content_type.to_string(),
            chunks: chunks.into_iter().map(String::into_bytes).collect(),
            delay: Duration::ZERO,
            stall: Duration::ZERO,
            cut_after: None,
        }
    }

    /// Adds a header to an error reply (e.g. `Retry-After`).
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        if let Reply::Error { headers, .. } = &mut self {
            headers.push((name.to_string(), value.to_string()));
        }
        self
    }

    /// The same body re-split into chunks of `size` bytes, wherever that falls (inside an
    /// SSE line, between `\r` and `\n`, inside a UTF-8 sequence).
    pub fn rechunk(mut self, size: usize) -> Reply {
        if let Reply::Stream { chunks, .. } = &mut self {
            let all: Vec<u8> = chunks.concat();
            *chunks = all.chunks(size.max(1)).map(<[u8]>::to_vec).collect();
        }
        self
    }

    pub fn delay(mut self, pause: Duration) -> Reply {
        if let Reply::Stream { delay, .. } = &mut self {
            *delay = pause;
        }
        self
    }

    pub fn stall(mut self, pause: Duration) -> Reply {
        if let Reply::Stream { stall, .. } = &mut self {
            *stall = pause;
        }
        self
    }

    /// Closes the connection after `n` chunks of the body.
    pub fn cut_after(mut self, n: usize) -> Reply {
        if let Reply::Stream { cut_after, .. } = &mut self {
            *cut_after = Some(n);
        }
        self
    }

    pub fn chunk_count(&self) -> usize {
        match self {
            Reply::Stream { chunks, .. } => chunks.len(),
            Reply::Error { .. } => 0,
        }
    }
}

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON (`Null` when it is not JSON).
    pub body: Value,
    pub raw_body: String,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<Recorded>>,
}

/// The running server; stopped when dropped.
pub struct FakeLlm {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeLlm {
    /// Starts listening on an ephemeral port of 127.0.0.1 with an empty script (every
    /// request then gets a 500 saying so).
    pub fn start() -> FakeLlm {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind fake LLM");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr = std_listener.local_addr().expect("fake LLM address");
        let shared = Arc::new(Shared::default());
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let serving = shared.clone();
        let thread = std::thread::Builder::new()
            .name("fake-llm".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("fake LLM runtime");
                runtime.block_on(async move {
                    let listener = TcpListener::from_std(std_listener).expect("fake LLM listener");
                    tokio::select! {
                        _ = stop => {}
                        _ = accept_loop(listener, serving) => {}
                    }
                });
            })
            .expect("fake LLM thread");
        FakeLlm {
            addr,
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// Starts with `replies` queued.
    pub fn with(replies: impl IntoIterator<Item = Reply>) -> FakeLlm {
        let fake = Self::start();
        for reply in replies {
            fake.push(reply);
        }
        fake
    }

    /// Queues the reply to a later request.
    pub fn push(&self, reply: Reply) {
        self.shared
            .script
            .lock()
            .expect("script lock")
            .push_back(reply);
    }

    /// `http://127.0.0.1:PORT`, the server's root.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The base URL an OpenAI-compatible client is given (`…/v1`).
    pub fn openai_base(&self) -> String {
        format!("{}/v1", self.url())
    }

    /// The base URL an Anthropic client is given (the root, as `api.anthropic.com` is).
    pub fn anthropic_base(&self) -> String {
        self.url()
    }

    /// The base URL an Ollama client is given (the root, as `127.0.0.1:11434` is).
    pub fn ollama_base(&self) -> String {
        self.url()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().expect("requests lock").clone()
    }

    /// Replies not yet used.
    pub fn remaining(&self) -> usize {
        self.shared.script.lock().expect("script lock").len()
    }
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        let _ = socket.set_nodelay(true);
        tokio::spawn(serve_connection(socket, shared.clone()));
    }
}

/// Serves requests on one keep-alive connection until the client closes it or a reply cuts.
async fn serve_connection(mut socket: TcpStream, shared: Arc<Shared>) {
    let mut buffer = Vec::new();
    loop {
        let Some(request) = read_request(&mut socket, &mut buffer).await else {
            return;
        };
        let close = request
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let known = [OPENAI_PATH, ANTHROPIC_PATH, OLLAMA_PATH].contains(&request.path.as_str());
        let post = request.method == "POST";
        shared.requests.lock().expect("requests lock").push(request);
        let reply = if !known || !post {
            Reply::error(404, "fake LLM: no such endpoint")
        } else {
            shared
                .script
                .lock()
                .expect("script lock")
                .pop_front()
                .unwrap_or_else(|| Reply::error(500, "fake LLM: no scripted reply left"))
        };
        if write_reply(&mut socket, reply).await.is_err() || close {
            return;
        }
    }
}

/// Reads one request (head and `Content-Length` body); `None` when the connection ends.
async fn read_request(socket: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Recorded> {
    let head_end = loop {
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buffer.len() > 1 << 20 {
            return None;
        }
        let mut chunk = [0u8; 8192];
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split_whitespace();
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let body_start = head_end + 4;
    while buffer.len() < body_start + length {
        let mut chunk = [0u8; 8192];
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let raw_body = String::from_utf8_lossy(&buffer[body_start..body_start + length]).into_owned();
    buffer.drain(..body_start + length);
    Some(Recorded {
        method,
        path,
        headers,
        body: serde_json::from_str(&raw_body).unwrap_or(Value::Null),
        raw_body,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        529 => "Overloaded",
        _ => "Status",
    }
}

async fn write_reply(socket: &mut TcpStream, reply: Reply) -> std::io::Result<()> {
    match reply {
        Reply::Error {
            status,
            body,
            headers,
        } => {
            let mut head = format!(
                "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
                reason(status),
                body.len()
            );
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str("\r\n");
            socket.write_all(head.as_bytes()).await?;
            socket.write_all(body.as_bytes()).await?;
            socket.flush().await
        }
        Reply::Stream {
            content_type,
            chunks,
            delay,
            stall,
            cut_after,
        } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
            );
            socket.write_all(head.as_bytes()).await?;
            socket.flush().await?;
            if !stall.is_zero() {
                tokio::time::sleep(stall).await;
            }
            let count = chunks.len();
            for (i, chunk) in chunks.into_iter().enumerate() {
                if cut_after == Some(i) {
                    let _ = socket.shutdown().await;
                    return Err(std::io::Error::other("cut by the script"));
                }
                let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
                frame.extend_from_slice(&chunk);
                frame.extend_from_slice(b"\r\n");
                socket.write_all(&frame).await?;
                socket.flush().await?;
                if !delay.is_zero() && i + 1 < count {
                    tokio::time::sleep(delay).await;
                }
            }
            if cut_after.is_some() {
                let _ = socket.shutdown().await;
                return Err(std::io::Error::other("cut by the script"));
            }
            socket.write_all(b"0\r\n\r\n").await?;
            socket.flush().await
        }
    }
}

// ---- realistic scripts ----

/// `text` split into `n` pieces of about equal length (by characters, so never inside one).
pub fn pieces(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let size = chars.len().div_ceil(n.max(1)).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

fn sse_data(value: &Value) -> String {
    format!("data: {value}\n\n")
}

fn sse_event(name: &str, value: &Value) -> String {
    format!("event: {name}\ndata: {value}\n\n")
}

fn openai_chunk(delta: Value, finish: Option<&str>) -> String {
    sse_data(&json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "fake-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }))
}

fn openai_usage(input: u64, output: u64) -> String {
    sse_data(&json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "fake-model",
        "choices": [],
        "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output},
    }))
}

/// An OpenAI stream answering `parts` as text deltas, with usage (input 11, output = number
/// of parts) and `[DONE]`.
pub fn openai_text(parts: &[&str]) -> Reply {
    let mut chunks = vec![openai_chunk(
        json!({"role": "assistant", "content": ""}),
        None,
    )];
    chunks.extend(
        parts
            .iter()
            .map(|p| openai_chunk(json!({"content": p}), None)),
    );
    chunks.push(openai_chunk(json!({}), Some("stop")));
    chunks.push(openai_usage(11, parts.len() as u64));
    chunks.push("data: [DONE]\n\n".to_string());
    Reply::sse(chunks)
}

/// An OpenAI stream making the tool calls `(id, name, arguments JSON)` in parallel: each
/// call's id and name only in its first fragment, its arguments split into three string
/// fragments, `finish_reason: "tool_calls"`, usage and `[DONE]`.
pub fn openai_tool_calls(calls: &[(&str, &str, &str)]) -> Reply {
    let mut chunks = vec![openai_chunk(
        json!({"role": "assistant", "content": null}),
        None,
    )];
    for (index, (id, name, arguments)) in calls.iter().enumerate() {
        chunks.push(openai_chunk(
            json!({"tool_calls": [{"index": index, "id": id, "type": "function",
                "function": {"name": name, "arguments": ""}}]}),
            None,
        ));
        for piece in pieces(arguments, 3) {
            chunks.push(openai_chunk(
                json!({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}),
                None,
            ));
        }
    }
    chunks.push(openai_chunk(json!({}), Some("tool_calls")));
    chunks.push(openai_usage(40, 25));
    chunks.push("data: [DONE]\n\n".to_string());
    Reply::sse(chunks)
}

fn anthropic_start(input: u64) -> String {
    sse_event(
        "message_start",
        &json!({"type": "message_start", "message": {
            "id": "msg_fake", "type": "message", "role": "assistant", "content": [],
            "model": "fake-claude", "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": input, "output_tokens": 1}}}),
    )
}

fn anthropic_end(stop_reason: &str, output: u64) -> Vec<String> {
    vec![
        sse_event(
            "message_delta",
            &json!({"type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": null},
                "usage": {"output_tokens": output}}),
        ),
        sse_event("message_stop", &json!({"type": "message_stop"})),
    ]
}

fn anthropic_ping() -> String {
    sse_event("ping", &json!({"type": "ping"}))
}

fn anthropic_text_block(index: usize, parts: &[&str]) -> Vec<String> {
    let mut chunks = vec![sse_event(
        "content_block_start",
        &json!({"type": "content_block_start", "index": index,
            "content_block": {"type": "text", "text": ""}}),
    )];
    for part in parts {
        chunks.push(sse_event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": index,
                "delta": {"type": "text_delta", "text": part}}),
        ));
    }
    chunks.push(sse_event(
        "content_block_stop",
        &json!({"type": "content_block_stop", "index": index}),
    ));
    chunks
}

/// An Anthropic stream answering `parts` as text deltas (input 13 tokens, output = number of
/// parts), with a ping after `message_start`.
pub fn anthropic_text(parts: &[&str]) -> Reply {
    let mut chunks = vec![anthropic_start(13), anthropic_ping()];
    chunks.extend(anthropic_text_block(0, parts));
    chunks.extend(anthropic_end("end_turn", parts.len() as u64));
    Reply::sse(chunks)
}

/// An Anthropic stream with some text, then `tool_use` blocks `(id, name, arguments JSON)`
/// whose arguments come as three `input_json_delta` fragments each, pings between blocks,
/// and `stop_reason: "tool_use"`.
pub fn anthropic_tool_use(text: &str, calls: &[(&str, &str, &str)]) -> Reply {
    let mut chunks = vec![anthropic_start(50), anthropic_ping()];
    chunks.extend(anthropic_text_block(0, &[text]));
    for (i, (id, name, arguments)) in calls.iter().enumerate() {
        let index = i + 1;
        chunks.push(anthropic_ping());
        chunks.push(sse_event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index,
                "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}}),
        ));
        for piece in pieces(arguments, 3) {
            chunks.push(sse_event(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": piece}}),
            ));
        }
        chunks.push(sse_event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        ));
    }
    chunks.extend(anthropic_end("tool_use", 30));
    Reply::sse(chunks)
}

/// A 200 whose stream reports `overloaded_error`, as Anthropic does when it is busy
/// mid-request.
pub fn anthropic_overloaded() -> Reply {
    Reply::sse(vec![
        anthropic_ping(),
        sse_event(
            "error",
            &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ),
    ])
}

/// An Anthropic-shaped HTTP error: `{"type":"error","error":{"type","message"}}`.
pub fn anthropic_error(status: u16, kind: &str, message: &str) -> Reply {
    Reply::error_body(
        status,
        &json!({"type": "error", "error": {"type": kind, "message": message}}).to_string(),
    )
}

fn ollama_line(message: Value, done: bool) -> String {
    let mut line = json!({
        "model": "fake-llama",
        "created_at": "2026-01-01T00:00:00Z",
        "message": message,
        "done": done,
    });
    if done {
        line["done_reason"] = json!("stop");
        line["prompt_eval_count"] = json!(17);
        line["eval_count"] = json!(5);
        line["total_duration"] = json!(123_456);
    }
    format!("{line}\n")
}

/// An Ollama NDJSON stream answering `parts`, ending with `done: true` (prompt_eval_count
/// 17, eval_count 5).
pub fn ollama_text(parts: &[&str]) -> Reply {
    let mut chunks: Vec<String> = parts
        .iter()
        .map(|p| ollama_line(json!({"role": "assistant", "content": p}), false))
        .collect();
    chunks.push(ollama_line(
        json!({"role": "assistant", "content": ""}),
        true,
    ));
    Reply::ndjson(chunks)
}

/// An Ollama NDJSON stream making the tool calls `(name, arguments JSON)`, whole, in one
/// line, then `done: true`.
pub fn ollama_tool_calls(calls: &[(&str, &str)]) -> Reply {
    let tool_calls: Vec<Value> = calls
        .iter()
        .map(|(name, arguments)| {
            let arguments: Value = serde_json::from_str(arguments).expect("arguments JSON");
            json!({"function": {"name": name, "arguments": arguments}})
        })
        .collect();
    Reply::ndjson(vec![
        ollama_line(
            json!({"role": "assistant", "content": "", "tool_calls": tool_calls}),
            false,
        ),
        ollama_line(json!({"role": "assistant", "content": ""}), true),
    ])
}

/// An Ollama `{"error": …}` HTTP answer, as for a model that is not pulled.
pub fn ollama_error(status: u16, message: &str) -> Reply {
    Reply::error_body(status, &json!({"error": message}).to_string())
}
