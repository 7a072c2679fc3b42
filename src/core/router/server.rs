//! The accept loop shared by the proxy and the admin endpoint: HTTP/1.1 with keep-alive and
//! upgrades, HTTP/2 with prior knowledge (h2c), TCP_NODELAY, and a graceful stop.

use hyper::body::{Body, Incoming};
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
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
/// What an HTTP/2 client with prior knowledge sends first (RFC 9113 §3.4).
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Between two looks at a connection that sent only part of the HTTP/2 preface.
const PREFACE_POLL: Duration = Duration::from_millis(5);

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
    let builder = Builders::new();
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

/// The connection settings of both protocols, built once per serving loop.
#[derive(Clone)]
struct Builders {
    http1: hyper::server::conn::http1::Builder,
    http2: hyper::server::conn::http2::Builder<TokioExecutor>,
}

impl Builders {
    fn new() -> Builders {
        let mut http1 = hyper::server::conn::http1::Builder::new();
        http1
            .keep_alive(true)
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT);
        let mut http2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        http2.timer(TokioTimer::new());
        Builders { http1, http2 }
    }
}

enum Protocol {
    Http1,
    Http2,
}

/// Which protocol the client speaks, from its first bytes (peeked, not consumed): HTTP/2
/// when they are the HTTP/2 preface, else HTTP/1. `None` when the client closes or sends
/// nothing within the header timeout, like a silent HTTP/1 client.
async fn sniff(stream: &TcpStream) -> Option<Protocol> {
    let look = async {
        let mut first = [0u8; H2_PREFACE.len()];
        loop {
            let n = stream.peek(&mut first).await.ok()?;
            if n == 0 {
                return None;
            }
            if first[..n] != H2_PREFACE[..n] {
                return Some(Protocol::Http1);
            }
            if n == H2_PREFACE.len() {
                return Some(Protocol::Http2);
            }
            // Part of the preface so far (a client writing in small pieces): peek returns
            // at once while those bytes sit unread, so wait a little before looking again.
            tokio::time::sleep(PREFACE_POLL).await;
        }
    };
    tokio::time::timeout(HEADER_READ_TIMEOUT, look)
        .await
        .ok()
        .flatten()
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
    builders: Builders,
    stream: TcpStream,
    service: S,
    mut shutdown: watch::Receiver<bool>,
) where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // Small responses must not wait for Nagle's algorithm.
    if let Err(err) = stream.set_nodelay(true) {
        tracing::debug!(error = %err, "could not set TCP_NODELAY on a client connection");
    }
    let protocol = tokio::select! {
        protocol = sniff(&stream) => protocol,
        () = shutdown_requested(&mut shutdown) => None,
    };
    let io = TokioIo::new(stream);
    match protocol {
        None => {}
        Some(Protocol::Http1) => {
            let conn = builders.http1.serve_connection(io, service).with_upgrades();
            drive(conn, shutdown, |conn| conn.graceful_shutdown()).await;
        }
        Some(Protocol::Http2) => {
            let conn = builders.http2.serve_connection(io, service);
            drive(conn, shutdown, |conn| conn.graceful_shutdown()).await;
        }
    }
}

/// Runs a connection until it ends; on shutdown, lets the request in flight (if any)
/// finish, then closes instead of keeping alive.
async fn drive<C>(conn: C, mut shutdown: watch::Receiver<bool>, graceful: impl FnOnce(Pin<&mut C>))
where
    C: Future<Output = Result<(), hyper::Error>>,
{
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
    graceful(conn.as_mut());
    if let Err(err) = conn.await {
        tracing::debug!(error = %err, "client connection ended with an error during shutdown");
    }
}
