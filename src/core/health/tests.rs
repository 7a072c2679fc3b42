//! Health checks against a real server whose `/health` status the test toggles.

use super::*;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use tokio::net::TcpListener;

const DEADLINE: Duration = Duration::from_secs(20);

/// A server answering `/health` with whatever status `status` holds.
async fn health_server(status: Arc<AtomicU16>) -> (u16, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    (port, tokio::spawn(serve_health_on(listener, status)))
}

/// Serves `/health` on a listener the test bound. Connections live in this task's set, so
/// aborting the task kills them all.
async fn serve_health_on(listener: TcpListener, status: Arc<AtomicU16>) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let status = Arc::clone(&status);
        conns.spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let code = if req.uri().path() == "/health" {
                    status.load(Ordering::SeqCst)
                } else {
                    404
                };
                async move {
                    let mut r = Response::new(Full::new(Bytes::from_static(b"health")));
                    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
                    Ok::<_, Infallible>(r)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn config(probe: Probe) -> HealthConfig {
    HealthConfig {
        startup_grace: Duration::ZERO,
        probe,
        interval: Duration::from_millis(20),
        timeout: Duration::from_secs(2),
        unhealthy_threshold: 2,
        healthy_threshold: 2,
    }
}

fn http_probe() -> Probe {
    Probe::Http {
        url_path: "/health".into(),
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("build test client")
}

async fn next_change(rx: &mut mpsc::UnboundedReceiver<HealthChange>) -> HealthChange {
    tokio::time::timeout(DEADLINE, rx.recv())
        .await
        .expect("a health change within the deadline")
        .expect("checker still running")
}

async fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    l.local_addr().expect("address").port()
}

#[tokio::test]
async fn the_checker_reports_every_transition() {
    let status = Arc::new(AtomicU16::new(200));
    let (port, server) = health_server(Arc::clone(&status)).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let checker = spawn_checker(
        "app".into(),
        SlotName::Green,
        0,
        port,
        config(http_probe()),
        client(),
        tx,
    );

    let c = next_change(&mut rx).await;
    assert_eq!(
        (c.plugin.as_str(), c.slot, c.health),
        ("app", SlotName::Green, Health::Healthy)
    );
    assert_eq!(c.detail, "GET /health → 200");

    status.store(503, Ordering::SeqCst);
    let c = next_change(&mut rx).await;
    assert_eq!(c.health, Health::Unhealthy);
    assert_eq!(c.detail, "GET /health → 503");

    status.store(204, Ordering::SeqCst);
    let c = next_change(&mut rx).await;
    assert_eq!(c.health, Health::Healthy);
    assert_eq!(c.detail, "GET /health → 204");

    // A dead process is a failure too.
    server.abort();
    let c = next_change(&mut rx).await;
    assert_eq!(c.health, Health::Unhealthy);
    assert!(c.detail.starts_with("GET /health: "), "{}", c.detail);

    checker.stop();
    // Stopping drops the checker's sender, which closes the channel.
    let end = tokio::time::timeout(DEADLINE, async { while rx.recv().await.is_some() {} }).await;
    assert!(end.is_ok(), "checker kept running after stop");
}

#[tokio::test]
async fn a_tcp_probe_sees_a_closed_port_as_unhealthy() {
    let port = closed_port().await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _checker = spawn_checker(
        "app".into(),
        SlotName::Blue,
        0,
        port,
        config(Probe::Tcp),
        client(),
        tx,
    );
    let c = next_change(&mut rx).await;
    assert_eq!(c.health, Health::Unhealthy);
    assert_eq!(
        c.detail,
        format!("TCP connect to port {port}: connection refused")
    );
}

#[tokio::test]
async fn probe_once_describes_each_kind_of_failure() {
    let client = client();
    let timeout = Duration::from_millis(200);

    let status = Arc::new(AtomicU16::new(200));
    let (port, _server) = health_server(Arc::clone(&status)).await;
    assert_eq!(
        probe_once(port, &http_probe(), timeout, &client).await,
        Ok(())
    );
    assert_eq!(
        probe_once(port, &Probe::Tcp, timeout, &client).await,
        Ok(())
    );
    // A path without its slash still works.
    let bare = Probe::Http {
        url_path: "health".into(),
    };
    assert_eq!(probe_once(port, &bare, timeout, &client).await, Ok(()));
    status.store(302, Ordering::SeqCst);
    assert_eq!(
        probe_once(port, &Probe::Tcp, timeout, &client).await,
        Ok(())
    );
    status.store(500, Ordering::SeqCst);
    assert_eq!(
        probe_once(port, &http_probe(), timeout, &client).await,
        Err("GET /health → 500".to_owned())
    );

    let closed = closed_port().await;
    assert_eq!(
        probe_once(closed, &http_probe(), timeout, &client).await,
        Err("GET /health: connection refused".to_owned())
    );

    // Accepts connections but never answers.
    let silent = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let silent_port = silent.local_addr().expect("address").port();
    let err = probe_once(silent_port, &http_probe(), timeout, &client)
        .await
        .expect_err("a silent server fails the check");
    assert_eq!(err, "GET /health: no answer within 200ms");
}

#[tokio::test]
async fn a_starting_slot_is_not_reported_unhealthy_before_it_binds() {
    // The port is known but nothing listens yet, as with a process still starting.
    let port = closed_port().await;
    let cfg = HealthConfig {
        startup_grace: DEADLINE,
        ..config(http_probe())
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _checker = spawn_checker("p".into(), SlotName::Blue, 0, port, cfg, client(), tx);
    // Several startup probes fail meanwhile (refused): reported once, as news about a
    // slot still starting (health stays unknown), never as unhealthy, and not repeated.
    let first = next_change(&mut rx).await;
    assert_eq!(first.health, Health::Unknown, "{first:?}");
    assert_eq!(first.detail, "GET /health: connection refused");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        rx.try_recv().is_err(),
        "the same refused check was reported again"
    );

    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("rebind the port");
    let status = Arc::new(AtomicU16::new(200));
    let server = tokio::spawn(serve_health_on(listener, status));
    let change = next_change(&mut rx).await;
    assert_eq!(change.health, Health::Healthy, "{change:?}");
    server.abort();
}

#[tokio::test]
async fn a_slot_that_never_comes_up_is_reported_after_the_grace() {
    let port = closed_port().await;
    let cfg = HealthConfig {
        startup_grace: Duration::from_millis(100),
        ..config(http_probe())
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _checker = spawn_checker("p".into(), SlotName::Blue, 0, port, cfg, client(), tx);
    let starting = next_change(&mut rx).await;
    assert_eq!(starting.health, Health::Unknown, "{starting:?}");
    let change = next_change(&mut rx).await;
    assert_eq!(change.health, Health::Unhealthy, "{change:?}");
}
