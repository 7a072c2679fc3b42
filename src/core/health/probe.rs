//! One health check of a local port.

use super::Probe;
use std::error::Error as StdError;
use std::time::Duration;
use tokio::net::TcpStream;

/// Runs one check; `Err` says why it failed ("GET /health → 503", "connection refused").
pub async fn probe_once(
    port: u16,
    probe: &Probe,
    timeout: Duration,
    client: &reqwest::Client,
) -> Result<(), String> {
    check(port, probe, timeout, client).await.map(|_| ())
}

/// Runs one check; both outcomes carry a one-line description of what was seen.
pub(super) async fn check(
    port: u16,
    probe: &Probe,
    timeout: Duration,
    client: &reqwest::Client,
) -> Result<String, String> {
    match probe {
        Probe::Http { url_path } => http(port, url_path, timeout, client).await,
        Probe::Tcp => tcp(port, timeout).await,
    }
}

async fn http(
    port: u16,
    url_path: &str,
    timeout: Duration,
    client: &reqwest::Client,
) -> Result<String, String> {
    let path = if url_path.starts_with('/') {
        url_path.to_owned()
    } else {
        format!("/{url_path}")
    };
    let url = format!("http://127.0.0.1:{port}{path}");
    match client.get(&url).timeout(timeout).send().await {
        Ok(response) => {
            let status = response.status();
            let detail = format!("GET {path} → {}", status.as_u16());
            if status.is_success() || status.is_redirection() {
                Ok(detail)
            } else {
                Err(detail)
            }
        }
        Err(err) if err.is_timeout() => Err(format!(
            "GET {path}: no answer within {}",
            humantime::format_duration(timeout)
        )),
        Err(err) => Err(format!("GET {path}: {}", describe(&err))),
    }
}

async fn tcp(port: u16, timeout: Duration) -> Result<String, String> {
    match tokio::time::timeout(timeout, TcpStream::connect(("127.0.0.1", port))).await {
        Ok(Ok(_stream)) => Ok(format!("TCP connect to port {port} ok")),
        Ok(Err(err)) => Err(format!("TCP connect to port {port}: {}", describe(&err))),
        Err(_) => Err(format!(
            "TCP connect to port {port}: no answer within {}",
            humantime::format_duration(timeout)
        )),
    }
}

/// The most telling part of an error: "connection refused" when that is what happened,
/// else the innermost cause.
fn describe(err: &(dyn StdError + 'static)) -> String {
    let mut current: &(dyn StdError + 'static) = err;
    loop {
        if let Some(io) = current.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return "connection refused".to_owned();
        }
        match current.source() {
            Some(next) => current = next,
            None => return current.to_string(),
        }
    }
}
