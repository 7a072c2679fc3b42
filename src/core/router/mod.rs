//! The reverse proxy in front of every plugin: picks a plugin by host or path prefix, then a
//! slot by header override, sticky key or weight, and streams the exchange both ways
//! (tunnelling upgraded connections, retrying a slot that failed before answering).

mod admin;
mod compiled;
mod exchange;
mod forward;
mod hygiene;
mod in_flight;
mod report;
mod request_id;
mod respond;
mod retry;
mod server;
mod tunnel;

#[cfg(test)]
mod tests;

use crate::core::metrics::{ReplicaStats, SlotMetrics};
use crate::core::types::SlotName;
use crate::core::workspace::OutlierSpec;
use arc_swap::ArcSwap;
use compiled::Compiled;
use http_body_util::{Either, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use admin::serve_admin;
pub use report::{FailureSink, OutlierEvent, OutlierSink, UpstreamFailure};

/// Slots are local processes: a connect that takes longer than this means the slot is wedged.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle upstream connections are kept this long for reuse.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Everything the router needs to route: one entry per plugin.
#[derive(Clone, Debug, Default)]
pub struct RouteTable {
    /// The routed plugins; the first one wins when two claim the same host or prefix.
    pub plugins: Vec<PluginRoute>,
}

/// How requests reach one plugin and its slots.
#[derive(Clone, Debug)]
pub struct PluginRoute {
    /// The plugin's name, used in metrics and error bodies.
    pub name: String,
    /// Which requests belong to the plugin.
    pub matcher: RouteMatch,
    /// Keeps a user on one slot while weights stay the same.
    pub sticky: Option<StickyBy>,
    /// The slots with a running process.
    pub slots: Vec<SlotTarget>,
    /// Set while the plugin is disabled: every request gets a 503 with this body.
    pub closed: Option<String>,
    /// When a failing replica is taken out of rotation.
    pub outlier: OutlierSpec,
}

/// Which requests belong to a plugin.
#[derive(Clone, Debug)]
pub enum RouteMatch {
    /// Paths equal to the prefix or below it; `strip` removes the prefix before forwarding.
    Prefix { prefix: String, strip: bool },
    /// Requests whose Host header (port ignored, any case) is this name; beats any prefix.
    Host(String),
}

/// Where the sticky key of a request comes from.
#[derive(Clone, Debug)]
pub enum StickyBy {
    /// The value of this request header.
    Header(String),
    /// The value of this cookie.
    Cookie(String),
}

/// One slot as the router sees it: a version, a weight and its replicas.
#[derive(Clone, Debug)]
pub struct SlotTarget {
    /// Which slot this is.
    pub slot: SlotName,
    /// The plugin version running in the slot (sent back as `x-naap-version`).
    pub version: String,
    /// Share of traffic, in percent (0..=100).
    pub weight: u32,
    /// Whether some replica passes its health checks; an unhealthy slot gets no weighted
    /// or sticky traffic.
    pub healthy: bool,
    /// Where the router records this slot's requests.
    pub metrics: Arc<SlotMetrics>,
    /// The slot's processes, replica 0 first; requests go to the healthy one with the
    /// fewest outstanding.
    pub replicas: Vec<ReplicaTarget>,
}

/// One process of a slot.
#[derive(Clone, Debug)]
pub struct ReplicaTarget {
    /// 0 for the slot's first process.
    pub index: u32,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its health checks pass and it is not being drained.
    pub healthy: bool,
    /// Outstanding requests and outlier state, kept across route tables.
    pub stats: Arc<ReplicaStats>,
}

impl SlotTarget {
    /// A slot with one process (tests and the simplest deploys).
    pub fn single(
        slot: SlotName,
        addr: SocketAddr,
        version: String,
        weight: u32,
        healthy: bool,
        metrics: Arc<SlotMetrics>,
    ) -> SlotTarget {
        SlotTarget {
            slot,
            version,
            weight,
            healthy,
            metrics,
            replicas: vec![ReplicaTarget {
                index: 0,
                addr,
                healthy,
                stats: Arc::new(ReplicaStats::new()),
            }],
        }
    }
}

/// The body of every response the proxy sends: the slot's own streamed body, or a short
/// text body of the proxy's own.
pub(crate) type ProxyBody = Either<in_flight::TrackedBody, Full<Bytes>>;

/// The reverse proxy; share it as `Arc<Router>`.
pub struct Router {
    table: ArcSwap<Compiled>,
    /// Where failed exchanges are reported besides the engine log (the plugin's logs).
    failures: Option<FailureSink>,
    /// Where ejections and returns of replicas are reported (the engine's events).
    outliers: Option<OutlierSink>,
}

/// The body sent to a slot: the client's, streamed, or an empty one for a request that may
/// be retried (its body is known to be empty, and an empty body can be made again).
pub(crate) type UpstreamBody = Either<Incoming, Empty<Bytes>>;

/// The pooled upstream client. Each serving thread has its own, so a request never waits
/// on a pool lock or a connection task living on another thread.
type Upstream = Client<HttpConnector, UpstreamBody>;

fn upstream_client() -> Upstream {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .pool_timer(TokioTimer::new())
        .build(connector)
}

/// Serving threads: one per core unless `NAAP_ROUTER_THREADS` says otherwise.
fn serving_threads() -> usize {
    std::env::var("NAAP_ROUTER_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("table", &self.table.load().source)
            .finish_non_exhaustive()
    }
}

impl Router {
    /// A router with an empty route table; failed exchanges go to the engine log only.
    pub fn new() -> Arc<Router> {
        Arc::new(Router {
            table: ArcSwap::from_pointee(Compiled::new(RouteTable::default())),
            failures: None,
            outliers: None,
        })
    }

    /// A router that also hands every failed exchange with a slot to `failures` (the
    /// engine puts them in the plugin's logs).
    pub fn with_failure_sink(failures: FailureSink) -> Arc<Router> {
        Router::with_sinks(failures, None)
    }

    /// A router that reports failed exchanges to `failures` and outlier ejections to
    /// `outliers`.
    pub fn with_sinks(failures: FailureSink, outliers: Option<OutlierSink>) -> Arc<Router> {
        Arc::new(Router {
            table: ArcSwap::from_pointee(Compiled::new(RouteTable::default())),
            failures: Some(failures),
            outliers,
        })
    }

    /// Replaces the route table. New requests see the new table at once; requests in
    /// flight finish on the slot they already picked.
    pub fn set_table(&self, table: RouteTable) {
        self.table.store(Arc::new(Compiled::new(table)));
    }

    /// The current route table.
    pub fn table(&self) -> Arc<RouteTable> {
        Arc::clone(&self.table.load().source)
    }

    /// Serves proxied traffic on `listener` until `shutdown` turns true (or its sender is
    /// dropped), then stops accepting and lets requests in flight finish.
    pub async fn serve(self: Arc<Self>, listener: TcpListener, shutdown: watch::Receiver<bool>) {
        // One acceptor hands connections round-robin to one single-threaded runtime per
        // core, each with its own upstream pool: a request is served start to end on one
        // thread, without the cross-thread wake-ups of a shared work-stealing runtime.
        // (SO_REUSEPORT would do the same without the hand-over, but would also let a
        // second engine of the same user bind the port and silently take half the traffic.)
        let threads = serving_threads();
        let mut hand_over = Vec::with_capacity(threads);
        let mut workers = Vec::with_capacity(threads);
        for n in 0..threads {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let router = Arc::clone(&self);
            let shutdown = shutdown.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("naap-router-{n}"))
                .spawn(move || router.serve_thread(rx, shutdown));
            match spawned {
                Ok(worker) => {
                    hand_over.push(tx);
                    workers.push(worker);
                }
                Err(err) => tracing::error!(error = %err, "cannot start router thread {n}"),
            }
        }
        if hand_over.is_empty() {
            // No thread could start: serve on the caller's runtime rather than not at all.
            return self.serve_here(listener, shutdown).await;
        }
        let mut next = 0usize;
        server::accept(listener, shutdown, |stream, remote| {
            // `into_std` keeps the socket non-blocking, as `from_std` on the worker expects.
            let Ok(stream) = stream.into_std() else {
                return;
            };
            let mut handed = (stream, remote);
            // A worker whose runtime is gone hands the connection back; try the next.
            for _ in 0..hand_over.len() {
                next = (next + 1) % hand_over.len();
                match hand_over[next].send(handed) {
                    Ok(()) => return,
                    Err(tokio::sync::mpsc::error::SendError(back)) => handed = back,
                }
            }
            tracing::error!("no router thread is left to serve a connection; closing it");
        })
        .await;
        drop(hand_over);
        let _ = tokio::task::spawn_blocking(move || {
            for worker in workers {
                let _ = worker.join();
            }
        })
        .await;
    }

    /// One serving thread: a current-thread runtime with its own upstream client.
    fn serve_thread(
        self: Arc<Self>,
        incoming: tokio::sync::mpsc::UnboundedReceiver<(std::net::TcpStream, SocketAddr)>,
        shutdown: watch::Receiver<bool>,
    ) {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(err) => {
                tracing::error!(error = %err, "cannot build a router runtime");
                return;
            }
        };
        runtime.block_on(async move {
            let client = Arc::new(upstream_client());
            server::serve_handed_over(incoming, shutdown, move |remote| {
                Router::service(Arc::clone(&self), Arc::clone(&client), remote)
            })
            .await;
        });
    }

    /// Serving on the current runtime (the fallback, and the admin-style single loop).
    async fn serve_here(self: Arc<Self>, listener: TcpListener, shutdown: watch::Receiver<bool>) {
        let client = Arc::new(upstream_client());
        server::run(listener, shutdown, move |remote| {
            Router::service(Arc::clone(&self), Arc::clone(&client), remote)
        })
        .await;
    }

    fn service(
        router: Arc<Router>,
        client: Arc<Upstream>,
        remote: SocketAddr,
    ) -> impl hyper::service::Service<
        Request<Incoming>,
        Response = Response<ProxyBody>,
        Error = std::convert::Infallible,
        Future = impl std::future::Future<
            Output = Result<Response<ProxyBody>, std::convert::Infallible>,
        > + Send,
    > + Send
    + 'static {
        let conn = forward::ConnInfo::new(remote);
        hyper::service::service_fn(move |req| {
            let router = Arc::clone(&router);
            let client = Arc::clone(&client);
            let conn = conn.clone();
            async move { Ok::<_, std::convert::Infallible>(router.proxy(&client, req, &conn).await) }
        })
    }
}
