//! The HTTP plumbing the three wire protocols share: one client per provider with connect and
//! idle-read timeouts, a JSON POST whose failures become [`ProviderError`]s, and chunked
//! reading of the streamed body.

use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::{ProviderError, StreamEvent};

/// Where a provider is and how to reach it.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpSettings {
    /// The API's base URL (OpenAI-style ones end in `/v1`).
    pub base_url: String,
    pub model: String,
    /// The key itself, read from the environment variable the configuration names.
    pub api_key: Option<String>,
    /// Bound on connecting, on the first byte of the answer and on each silence between
    /// chunks of it.
    pub timeout: Duration,
}

/// A streamed body refuses a line longer than this, so a broken server cannot fill memory.
pub(super) const MAX_LINE: usize = 8 * 1024 * 1024;

/// A provider's HTTP client; loopback servers (llama.cpp, Ollama, the test fakes) bypass any
/// configured proxy, which could not reach them.
pub(super) fn client(
    provider: &str,
    settings: &HttpSettings,
) -> Result<reqwest::Client, ProviderError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(settings.timeout)
        .read_timeout(settings.timeout);
    if is_loopback(&settings.base_url) {
        builder = builder.no_proxy();
    }
    builder.build().map_err(|e| ProviderError::Protocol {
        provider: provider.to_string(),
        message: format!("cannot set up an HTTP client: {e}"),
    })
}

fn is_loopback(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else {
        return false;
    };
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

/// `base` and `path` joined with exactly one slash.
pub(super) fn join(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// POSTs `body` and returns the response once its status is a success; any other status
/// becomes the matching error, its message taken from the body.
pub(super) async fn post_json(
    client: &reqwest::Client,
    provider: &str,
    url: &str,
    headers: &[(&str, String)],
    body: &serde_json::Value,
    timeout: Duration,
) -> Result<reqwest::Response, ProviderError> {
    let mut request = client.post(url).json(body);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request
        .send()
        .await
        .map_err(|e| send_error(provider, url, timeout, &e))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let body = response.text().await.unwrap_or_default();
    Err(status_error(provider, status.as_u16(), &body, retry_after))
}

fn send_error(provider: &str, url: &str, timeout: Duration, e: &reqwest::Error) -> ProviderError {
    if e.is_timeout() {
        ProviderError::Timeout {
            provider: provider.to_string(),
            seconds: timeout.as_secs().max(1),
        }
    } else {
        ProviderError::Unreachable {
            url: url.to_string(),
            reason: error_chain(e),
        }
    }
}

/// The error and its causes on one line ("error sending request: … Connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The error for a non-success HTTP status.
pub(super) fn status_error(
    provider: &str,
    status: u16,
    body: &str,
    retry_after_secs: Option<u64>,
) -> ProviderError {
    let (kind, message) = error_message(body);
    let provider = provider.to_string();
    match status {
        401 | 403 => ProviderError::Auth { provider, message },
        429 => ProviderError::RateLimited {
            provider,
            message,
            retry_after_secs,
        },
        529 => ProviderError::Overloaded { provider, message },
        _ if kind.as_deref() == Some("overloaded_error") => {
            ProviderError::Overloaded { provider, message }
        }
        _ => ProviderError::Status {
            provider,
            status,
            message,
        },
    }
}

/// The error's type and message from a body in any of the three shapes: OpenAI and
/// Anthropic `{"error":{"type","message"}}`, Ollama `{"error":"…"}`; else the body itself.
pub(super) fn error_message(body: &str) -> (Option<String>, String) {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    match error {
        Some(serde_json::Value::String(s)) => (None, s.clone()),
        Some(e) => {
            let kind = e.get("type").and_then(|t| t.as_str()).map(str::to_string);
            let message = e
                .get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
                .unwrap_or_else(|| e.to_string());
            (kind, message)
        }
        None => {
            let text = body.trim();
            let short: String = text.chars().take(300).collect();
            if short.is_empty() {
                (None, "no details given".to_string())
            } else {
                (None, short)
            }
        }
    }
}

/// The next chunk of the body; `None` at its end. A timeout is [`ProviderError::Timeout`]; a
/// connection that drops is [`ProviderError::Cut`].
pub(super) async fn next_chunk(
    response: &mut reqwest::Response,
    provider: &str,
    timeout: Duration,
) -> Result<Option<Bytes>, ProviderError> {
    response.chunk().await.map_err(|e| {
        if e.is_timeout() {
            ProviderError::Timeout {
                provider: provider.to_string(),
                seconds: timeout.as_secs().max(1),
            }
        } else {
            ProviderError::Cut {
                provider: provider.to_string(),
            }
        }
    })
}

pub(super) fn protocol(provider: &str, message: impl Into<String>) -> ProviderError {
    ProviderError::Protocol {
        provider: provider.to_string(),
        message: message.into(),
    }
}

/// The caller's end of the stream. Sending fails only when the caller stopped listening,
/// which ends the request quietly: nobody wants the rest.
pub(super) struct Events {
    sender: mpsc::Sender<StreamEvent>,
}

impl Events {
    pub fn new(sender: mpsc::Sender<StreamEvent>) -> Self {
        Events { sender }
    }

    /// False when the caller is gone.
    pub async fn send(&self, event: StreamEvent) -> bool {
        self.sender.send(event).await.is_ok()
    }
}

/// A call's complete arguments; no arguments at all mean an empty object.
pub(super) fn parse_arguments(
    provider: &str,
    name: &str,
    text: &str,
) -> Result<serde_json::Value, ProviderError> {
    if text.trim().is_empty() {
        return Ok(serde_json::json!({}));
    }
    serde_json::from_str(text).map_err(|e| {
        protocol(
            provider,
            format!("the arguments of tool call `{name}` are not JSON ({e}): {text:.200}"),
        )
    })
}
