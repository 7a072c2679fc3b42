//! Delivering notifications without ever blocking the engine: `log` lines are written at
//! once by the evaluation (a memory push); webhooks and commands go through a bounded queue
//! (a full queue drops the notification and records the drop) to one notifier task, which
//! runs each delivery as its own task, at most [`MAX_IN_FLIGHT`] at a time, so a dead
//! receiver delays nothing but its own retries.

use super::payload::Notification;
use crate::core::engine::Engine;
use crate::core::event_kind::EventKind;
use crate::core::logs::LogLine;
use crate::core::types::{Level, LogSource};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::{Semaphore, mpsc};

/// Notifications waiting for the notifier task.
pub(crate) const QUEUE_CAPACITY: usize = 256;
/// Webhooks and commands delivering at once.
pub(crate) const MAX_IN_FLIGHT: usize = 32;
/// A `command:` channel is killed after this long.
pub(crate) const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// How a webhook is retried: `attempts` tries, each with `timeout`; the wait before try
/// n+1 doubles from `first_delay` up to `max_delay`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    pub attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
    pub timeout: Duration,
}

/// Five tries within about 7 s of waiting: long enough to ride out a receiver's restart,
/// short enough that a resolved notification does not overtake its firing one by much.
pub(crate) const WEBHOOK_RETRY: RetryPolicy = RetryPolicy {
    attempts: 5,
    first_delay: Duration::from_millis(400),
    max_delay: Duration::from_secs(4),
    timeout: Duration::from_secs(5),
};

impl RetryPolicy {
    /// The wait before try `attempt` (1-based): none before the first.
    pub fn delay_before(&self, attempt: u32) -> Option<Duration> {
        if attempt <= 1 {
            return None;
        }
        let doubled = self
            .first_delay
            .checked_mul(1u32.checked_shl(attempt - 2).unwrap_or(u32::MAX))
            .unwrap_or(self.max_delay);
        Some(doubled.min(self.max_delay))
    }
}

/// Where a channel delivers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Channel {
    Log,
    Webhook(String),
    Command(String),
}

impl Channel {
    /// Reads a channel as validated by the manifest checks; None for anything else.
    pub fn parse(text: &str) -> Option<Channel> {
        if text == "log" {
            return Some(Channel::Log);
        }
        if let Some(url) = text.strip_prefix("webhook:") {
            return Some(Channel::Webhook(url.to_string()));
        }
        text.strip_prefix("command:")
            .filter(|c| !c.trim().is_empty())
            .map(|c| Channel::Command(c.to_string()))
    }
}

/// The engine's end of the queue.
pub(crate) type NotifySender = mpsc::Sender<Notification>;

pub(crate) fn queue() -> (NotifySender, mpsc::Receiver<Notification>) {
    mpsc::channel(QUEUE_CAPACITY)
}

/// The notifier task: runs until the engine drops its sender.
pub(crate) async fn run(engine: Engine, mut rx: mpsc::Receiver<Notification>, cwd: PathBuf) {
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    while let Some(n) = rx.recv().await {
        let body = Arc::new(n.payload());
        for text in &n.channels {
            let channel = match Channel::parse(text) {
                Some(c) => c,
                None => {
                    tracing::error!("alert {}: unknown channel `{text}`", n.id());
                    continue;
                }
            };
            if channel == Channel::Log {
                continue; // written by the evaluation already
            }
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            let (engine, n, body, cwd) = (engine.clone(), n.clone(), body.clone(), cwd.clone());
            tokio::spawn(async move {
                let result = match &channel {
                    Channel::Webhook(url) => {
                        post_webhook(&engine.inner.http, url, &body, &WEBHOOK_RETRY)
                            .await
                            .map(|_| ())
                    }
                    Channel::Command(cmd) => run_command(cmd, &n, &body, &cwd).await,
                    Channel::Log => Ok(()),
                };
                drop(permit);
                if let Err(why) = result {
                    engine.record(
                        Some(&n.plugin),
                        None,
                        EventKind::AlertNotifyFailed,
                        format!("alert {} ({}) not delivered to {text_of}: {why}", n.id(), n.kind, text_of = describe(&channel)),
                        serde_json::json!({"alert": n.rule, "kind": n.kind, "channel": describe(&channel), "error": why}),
                    );
                }
            });
        }
    }
}

fn describe(channel: &Channel) -> String {
    match channel {
        Channel::Log => "log".to_string(),
        Channel::Webhook(url) => format!("webhook:{url}"),
        Channel::Command(cmd) => format!("command:{cmd}"),
    }
}

/// Whether `n` needs the notifier task (any channel but `log`).
pub(crate) fn needs_notifier(n: &Notification) -> bool {
    n.channels.iter().any(|c| c != "log")
}

/// The `log` channel: the engine log and the plugin's log stream (source `alert`).
pub(crate) fn deliver_log(engine: &Engine, n: &Notification) {
    let line = n.log_line();
    match n.status {
        "resolved" => tracing::info!(plugin = %n.plugin, "{line}"),
        _ => tracing::warn!(plugin = %n.plugin, "{line}"),
    }
    let level = if n.status == "resolved" {
        Level::Info
    } else {
        Level::Warn
    };
    engine.inner.logs.push_line(LogLine {
        seq: 0,
        ts: chrono::Utc::now(),
        plugin: n.plugin.clone(),
        // The culprit slot when there is exactly one.
        slot: match n.slots.as_slice() {
            [one] => Some(*one),
            _ => None,
        },
        source: LogSource::Alert,
        level,
        message: line,
        fields: None,
    });
}

/// POSTs `body` to `url`, retrying server errors and network failures per `policy`.
/// Returns the try that succeeded.
pub(crate) async fn post_webhook(
    http: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
    policy: &RetryPolicy,
) -> Result<u32, String> {
    let mut last = String::new();
    for attempt in 1..=policy.attempts {
        if let Some(wait) = policy.delay_before(attempt) {
            tokio::time::sleep(wait).await;
        }
        match http
            .post(url)
            .timeout(policy.timeout)
            .json(body)
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => return Ok(attempt),
            // A client error will not change by asking again (except rate limiting).
            Ok(r) if r.status().is_client_error() && r.status().as_u16() != 429 => {
                return Err(format!("HTTP {} (not retried)", r.status()));
            }
            Ok(r) => last = format!("HTTP {}", r.status()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(format!(
        "{} tries failed; the last: {last}",
        policy.attempts
    ))
}

/// Runs `sh -c CMD` with the payload on stdin and `NAAP_ALERT_*` in the environment.
async fn run_command(
    cmd: &str,
    n: &Notification,
    body: &serde_json::Value,
    cwd: &PathBuf,
) -> Result<(), String> {
    let mut command = tokio::process::Command::new("sh");
    command
        .arg("-c")
        .arg(cmd)
        .current_dir(cwd)
        .envs(n.env())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    crate::core::private_files::child_gets_inherited_umask(&mut command);
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start `sh -c {cmd}`: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        // A command that does not read its stdin is fine.
        let _ = stdin.write_all(&bytes).await;
    }
    match tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output()).await {
        Ok(Ok(out)) if out.status.success() => Ok(()),
        Ok(Ok(out)) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let tail = stderr.lines().last().unwrap_or("").trim();
            Err(format!("exited with {}: {tail}", out.status))
        }
        Ok(Err(e)) => Err(e.to_string()),
        // Dropping the child on timeout kills it (kill_on_drop).
        Err(_) => Err(format!("killed after {}s", COMMAND_TIMEOUT.as_secs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let waits: Vec<Option<Duration>> = (1..=7).map(|a| WEBHOOK_RETRY.delay_before(a)).collect();
        let ms = |m| Some(Duration::from_millis(m));
        assert_eq!(
            waits,
            [
                None,
                ms(400),
                ms(800),
                ms(1600),
                ms(3200),
                ms(4000),
                ms(4000)
            ]
        );
        // No overflow on absurd attempt numbers.
        assert_eq!(WEBHOOK_RETRY.delay_before(200), ms(4000));
        let total: Duration = (1..=WEBHOOK_RETRY.attempts)
            .filter_map(|a| WEBHOOK_RETRY.delay_before(a))
            .sum();
        assert!(total < Duration::from_secs(10), "bounded: {total:?}");
    }

    /// A receiver answering each connection with the next status of `statuses`.
    fn receiver(statuses: Vec<u16>) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = seen.clone();
        std::thread::spawn(move || {
            for (i, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { continue };
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                read_whole_request(&mut stream);
                let status = statuses.get(i).copied().unwrap_or(200);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        });
        (url, seen)
    }

    /// Reads headers and the `Content-Length` body, so closing never resets the client.
    fn read_whole_request(stream: &mut std::net::TcpStream) {
        use std::io::{BufRead, BufReader, Read};
        let mut reader = BufReader::new(stream);
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim_end().is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        let _ = reader.read_exact(&mut body);
    }

    const FAST: RetryPolicy = RetryPolicy {
        attempts: 4,
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        timeout: Duration::from_secs(5),
    };

    #[tokio::test]
    async fn webhooks_retry_server_errors_but_not_client_errors() {
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        let body = serde_json::json!({"status": "firing"});
        let (url, seen) = receiver(vec![500, 503]);
        assert_eq!(post_webhook(&http, &url, &body, &FAST).await, Ok(3));
        let (url, seen_400) = receiver(vec![400]);
        let err = post_webhook(&http, &url, &body, &FAST)
            .await
            .expect_err("400");
        assert!(err.contains("not retried"), "{err}");
        assert_eq!(seen_400.load(std::sync::atomic::Ordering::SeqCst), 1);
        let (url, _) = receiver(vec![500; 10]);
        let err = post_webhook(&http, &url, &body, &FAST)
            .await
            .expect_err("500s");
        assert!(
            err.contains("4 tries failed") && err.contains("500"),
            "{err}"
        );
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[test]
    fn channels_parse() {
        assert_eq!(Channel::parse("log"), Some(Channel::Log));
        assert_eq!(
            Channel::parse("webhook:http://h/x"),
            Some(Channel::Webhook("http://h/x".into()))
        );
        assert_eq!(
            Channel::parse("command:notify-send hi"),
            Some(Channel::Command("notify-send hi".into()))
        );
        assert_eq!(Channel::parse("command: "), None);
        assert_eq!(Channel::parse("email:x"), None);
    }
}
