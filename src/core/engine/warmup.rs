//! The built-in load generator behind `[analysis] warmup_load`: while a canary step runs it
//! sends paced GETs **through the router** to each slot, forced with `x-naap-slot`, so the
//! router measures them exactly like user traffic and a canary without users can be judged.
//! Both slots get the same rate: the judge compares the canary with the baseline, and a
//! baseline without traffic would leave nothing to compare with.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{HOST, USER_AGENT};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::MissedTickBehavior;

use super::Engine;
use crate::core::types::SlotName;
use crate::core::workspace::Route;

/// Identifies warm-up requests in plugin logs and access logs.
pub(crate) const WARMUP_AGENT: &str = "naap-warmup";
/// A warm-up request slower than this is abandoned (and counted by the router as it ends).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Requests in flight per slot never exceed this, so a slow canary is not buried under a
/// growing pile of warm-up requests: pacing skips a tick instead.
const MOST_IN_FLIGHT_PER_SLOT: usize = 32;

/// A running warm-up; dropping it stops the load and abandons requests in flight.
pub(crate) struct Warmup {
    plugin: String,
    task: JoinHandle<()>,
    sent: Arc<AtomicU64>,
}

impl Drop for Warmup {
    fn drop(&mut self) {
        self.task.abort();
        tracing::info!(
            plugin = self.plugin,
            "warm-up load stopped after {} requests",
            self.sent.load(Ordering::Relaxed)
        );
    }
}

/// Where warm-up requests go: the URL on the router and, for host routes, the Host header.
pub(crate) fn warmup_target(
    route: &Route,
    router: &str,
    path: Option<&str>,
) -> (String, Option<String>) {
    match route {
        Route::Prefix { prefix, .. } => {
            let path = match (prefix.as_str(), path) {
                (p, None) => p.to_string(),
                ("/", Some(rest)) => rest.to_string(),
                (p, Some(rest)) => format!("{p}{rest}"),
            };
            (format!("http://{router}{path}"), None)
        }
        Route::Host(host) => (
            format!("http://{router}{}", path.unwrap_or("/")),
            Some(host.clone()),
        ),
    }
}

impl Engine {
    /// Starts `rps` requests per second to each of `slots` on the plugin's route, or does
    /// nothing when the plugin has no warm-up load configured.
    pub(crate) fn start_warmup(&self, plugin: &str, slots: &[SlotName]) -> Option<Warmup> {
        let (route, spec) = {
            let ws = self.workspace();
            let manifest = ws.plugin(plugin)?;
            (manifest.route.clone(), manifest.analysis.clone()?)
        };
        let rps = spec.warmup_load?;
        let (url, host) =
            warmup_target(&route, &self.inner.info.router, spec.warmup_path.as_deref());
        let http = match reqwest::Client::builder()
            .no_proxy()
            .timeout(REQUEST_TIMEOUT)
            .build()
        {
            Ok(http) => http,
            Err(e) => {
                tracing::error!("{plugin}: no warm-up load, the HTTP client failed: {e}");
                return None;
            }
        };
        let sent = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(drive(
            http,
            url,
            host,
            slots.to_vec(),
            rps,
            Arc::clone(&sent),
        ));
        Some(Warmup {
            plugin: plugin.to_string(),
            task,
            sent,
        })
    }
}

/// Sends one round of requests (one per slot) every `1 / rps` seconds until aborted.
async fn drive(
    http: reqwest::Client,
    url: String,
    host: Option<String>,
    slots: Vec<SlotName>,
    rps: u32,
    sent: Arc<AtomicU64>,
) {
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rps.max(1))));
    // A late tick is skipped, not made up in a burst: the rate is a ceiling.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    // Dropping the set (when the task is aborted) aborts every request still in flight.
    let mut in_flight: JoinSet<()> = JoinSet::new();
    let limit = MOST_IN_FLIGHT_PER_SLOT * slots.len();
    loop {
        ticker.tick().await;
        while in_flight.try_join_next().is_some() {}
        for slot in &slots {
            if in_flight.len() >= limit {
                break;
            }
            let mut request = http
                .get(&url)
                .header("x-naap-slot", slot.to_string())
                .header(USER_AGENT, WARMUP_AGENT);
            if let Some(host) = &host {
                request = request.header(HOST, host);
            }
            sent.fetch_add(1, Ordering::Relaxed);
            in_flight.spawn(async move {
                // The router records the outcome; the body is read so the exchange completes.
                if let Ok(response) = request.send().await {
                    let _ = response.bytes().await;
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A local HTTP server that answers 200 and keeps the head of every request it got.
    async fn recording_server() -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&heads);
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let seen = Arc::clone(&seen);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let mut head = Vec::new();
                    loop {
                        let Ok(n) = conn.read(&mut buf).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        head.extend_from_slice(&buf[..n]);
                        if head.windows(4).any(|w| w == b"\r\n\r\n") {
                            seen.lock()
                                .expect("lock")
                                .push(String::from_utf8_lossy(&head).to_lowercase());
                            head.clear();
                            let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                            if conn.write_all(reply).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        (addr, heads)
    }

    #[tokio::test]
    async fn warmup_requests_are_labelled_and_forced_to_each_slot() {
        let (addr, heads) = recording_server().await;
        let sent = Arc::new(AtomicU64::new(0));
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        let task = tokio::spawn(drive(
            http,
            format!("http://{addr}/shop/api"),
            Some("shop.localhost".into()),
            vec![SlotName::Blue, SlotName::Green],
            100,
            Arc::clone(&sent),
        ));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while heads.lock().expect("lock").len() < 20 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        task.abort();
        let heads = heads.lock().expect("lock").clone();
        assert!(heads.len() >= 20, "only {} requests arrived", heads.len());
        assert!(sent.load(Ordering::Relaxed) >= heads.len() as u64);
        for head in &heads {
            assert!(head.starts_with("get /shop/api http/1.1"), "{head}");
            assert!(head.contains("user-agent: naap-warmup"), "{head}");
            assert!(head.contains("host: shop.localhost"), "{head}");
        }
        for slot in ["blue", "green"] {
            let to_slot = heads
                .iter()
                .filter(|h| h.contains(&format!("x-naap-slot: {slot}")))
                .count();
            assert!(to_slot >= 5, "{slot}: {to_slot} of {}", heads.len());
        }
    }

    #[test]
    fn warmup_requests_target_the_route_on_the_router() {
        let prefix = |p: &str| Route::Prefix {
            prefix: p.into(),
            strip: true,
        };
        let router = "127.0.0.1:8080";
        assert_eq!(
            warmup_target(&prefix("/shop"), router, None),
            ("http://127.0.0.1:8080/shop".into(), None)
        );
        assert_eq!(
            warmup_target(&prefix("/shop"), router, Some("/api/items")),
            ("http://127.0.0.1:8080/shop/api/items".into(), None)
        );
        assert_eq!(
            warmup_target(&prefix("/"), router, Some("/ping")).0,
            "http://127.0.0.1:8080/ping"
        );
        assert_eq!(
            warmup_target(&Route::Host("shop.localhost".into()), router, None),
            (
                "http://127.0.0.1:8080/".into(),
                Some("shop.localhost".into())
            )
        );
    }
}
