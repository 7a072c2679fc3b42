//! The accept loop shared by the proxy and the admin endpoint: HTTP/1.1 with keep-alive,
//! TCP_NODELAY, and a graceful stop.

use hyper::body::{Body, Incoming};
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

/// A client has this long to send a request's headers; stops idle or slowloris connections
/// from pinning memory forever.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// After shutdown, requests in flight get this long to finish before they are cut.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause after a failed accept (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Resolves once shutdown is asked for. A dropped sender also means shutdown: nobody could
/// ever stop the server otherwise.
pub(super) async fn shutdown_requested(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Accepts connections until shutdown, serving each with the service `make_service` builds
/// for it on this runtime; then waits for connections to finish their requests.
pub(super) async fn run<F, S, B>(
    listener: TcpListener,
    shutdown: watch::Receiver<bool>,
    make_service: F,
) where
    F: Fn(SocketAddr) -> S,
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // The same hand-over as the router's per-core threads, to a consumer on this runtime.
    let (hand_over, incoming) = mpsc::unbounded_channel();
    let acceptor =
        tokio::spawn(accept(
            listener,
            shutdown.clone(),
            move |stream, remote| match stream.into_std() {
                Ok(stream) => {
                    let _ = hand_over.send((stream, remote));
                }
                Err(err) => tracing::warn!(error = %err, "could not hand over a connection"),
            },
        ));
    serve_handed_over(incoming, shutdown, make_service).await;
    let _ = acceptor.await;
}

/// Accepts connections until shutdown and gives each to `hand_over`.
pub(super) async fn accept(
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
    mut hand_over: impl FnMut(TcpStream, SocketAddr) + Send,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, remote)) => hand_over(stream, remote),
                Err(err) => {
                    tracing::warn!(error = %err, "accepting a connection failed; retrying");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            () = shutdown_requested(&mut shutdown) => break,
        }
    }
}

/// Serves connections handed over by an acceptor (see `Router::serve`) until shutdown;
/// then waits for them to finish their requests.
pub(super) async fn serve_handed_over<F, S, B>(
    mut incoming: mpsc::UnboundedReceiver<(std::net::TcpStream, SocketAddr)>,
    mut shutdown: watch::Receiver<bool>,
    make_service: F,
) where
    F: Fn(SocketAddr) -> S,
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let builder = http1_builder();
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            handed = incoming.recv() => match handed {
                Some((stream, remote)) => match TcpStream::from_std(stream) {
                    Ok(stream) => {
                        let service = make_service(remote);
                        let conn = serve_connection(builder.clone(), stream, service, shutdown.clone());
                        connections.spawn(conn);
                    }
                    Err(err) => tracing::warn!(error = %err, "could not adopt a connection"),
                },
                None => break,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = shutdown_requested(&mut shutdown) => break,
        }
    }
    drain(connections).await;
}

fn http1_builder() -> hyper::server::conn::http1::Builder {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .keep_alive(true)
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    builder
}

async fn drain(mut connections: JoinSet<()>) {
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "connections still busy {DRAIN_TIMEOUT:?} after shutdown; closing them"
        );
        connections.shutdown().await;
    }
}

async fn serve_connection<S, B>(
    builder: hyper::server::conn::http1::Builder,
    stream: TcpStream,
    service: S,
    mut shutdown: watch::Receiver<bool>,
) where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>,
    B: Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // Small responses must not wait for Nagle's algorithm.
    if let Err(err) = stream.set_nodelay(true) {
        tracing::debug!(error = %err, "could not set TCP_NODELAY on a client connection");
    }
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(err) = result {
                tracing::debug!(error = %err, "client connection ended with an error");
            }
            return;
        }
        () = shutdown_requested(&mut shutdown) => {}
    }
    // Finish the request in flight (if any), then close instead of keeping alive.
    conn.as_mut().graceful_shutdown();
    if let Err(err) = conn.await {
        tracing::debug!(error = %err, "client connection ended with an error during shutdown");
    }
}
