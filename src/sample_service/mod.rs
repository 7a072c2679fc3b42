//! The built-in sample plugin (`naap sample-service`): a small real HTTP service for demos
//! and tests, with knobs to inject errors, latency and failing health checks.

mod handlers;
mod log;
mod sse;

pub use log::{LogLines, RequestLog};

use handlers::State;
use hyper::Request;
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{Map, json};
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How long in-flight requests may take to finish after a shutdown signal; above
/// `/api/slow`'s cap so a capped sleep still completes.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(12);
/// Clients that do not finish sending headers in this time are disconnected.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// A debug line with the request counter is written every this many requests.
const COUNTER_EVERY: u64 = 50;

static VERSION_HEADER: HeaderName = HeaderName::from_static("x-sample-version");

/// Command-line arguments of `naap sample-service`.
#[derive(clap::Args, Debug, Clone)]
// The service's own `--version` takes the name; naap's version flag must not be added here.
#[command(disable_version_flag = true)]
pub struct SampleArgs {
    /// Port to listen on (the engine sets PORT).
    #[arg(long, env = "PORT")]
    pub port: u16,
    /// Version reported in responses and logs.
    #[arg(long = "version", id = "service_version", default_value = "1.0.0")]
    pub version: String,
    /// Fraction (0 to 1) of /api requests answered with 500.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Milliseconds added to every /api request.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// /health answers 503 once the service has run this long (e.g. `30s`).
    #[arg(long)]
    pub fail_health_after: Option<humantime::Duration>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Name shown by GET /.
    #[arg(long, default_value = "sample")]
    pub name: String,
}

/// Why the sample service could not start.
#[derive(thiserror::Error, Debug)]
pub enum SampleError {
    /// A flag is out of range; the process should exit with code 2.
    #[error("invalid arguments: {0}")]
    InvalidArgs(String),
    /// The port could not be bound.
    #[error("cannot listen on {addr}: {source}; pick a free port or stop what is using it")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// Installing a signal handler failed.
    #[error("cannot install the {signal} handler: {source}")]
    Signal {
        signal: &'static str,
        source: std::io::Error,
    },
}

impl SampleError {
    /// The process exit code for this error: 2 for bad usage, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            SampleError::InvalidArgs(_) => 2,
            _ => 1,
        }
    }
}

impl SampleArgs {
    /// Checks the values clap cannot check by type.
    pub fn validate(&self) -> Result<(), SampleError> {
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(SampleError::InvalidArgs(format!(
                "--error-rate must be between 0 and 1 (a fraction of requests), got {}",
                self.error_rate
            )));
        }
        if self.version.is_empty() || HeaderValue::from_str(&self.version).is_err() {
            return Err(SampleError::InvalidArgs(format!(
                "--version must be non-empty visible text, got {:?}",
                self.version
            )));
        }
        Ok(())
    }
}

/// Everything a request needs, shared by all connections.
struct Ctx {
    state: State,
    /// Tells the handlers (open event streams) that the service shuts down.
    stopping: watch::Sender<bool>,
    log: RequestLog,
    version_header: HeaderValue,
}

impl Ctx {
    async fn respond(&self, req: Request<Incoming>) -> handlers::Reply {
        let start = Instant::now();
        let line = format!("{} {}", req.method(), req.uri().path());
        self.state.in_flight.fetch_add(1, Ordering::Relaxed);
        let mut resp = handlers::handle(req, &self.state).await;
        self.state.in_flight.fetch_sub(1, Ordering::Relaxed);
        resp.headers_mut()
            .insert(VERSION_HEADER.clone(), self.version_header.clone());

        let status = resp.status();
        let level = if status.is_server_error() {
            "error"
        } else if status.is_client_error() {
            "warn"
        } else {
            "info"
        };
        // Microsecond resolution, shown in milliseconds.
        let latency_ms = start.elapsed().as_micros() as f64 / 1000.0;
        let mut extra = Map::new();
        extra.insert("status".into(), json!(status.as_u16()));
        extra.insert("latency_ms".into(), json!(latency_ms));
        self.log
            .line(level, &format!("{line} {}", status.as_u16()), extra);

        let n = self.state.requests.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_multiple_of(COUNTER_EVERY) {
            let mut extra = Map::new();
            extra.insert("requests".into(), json!(n));
            self.log
                .line("debug", &format!("served {n} requests"), extra);
        }
        resp
    }
}

/// A bound sample service, ready to serve.
pub struct SampleServer {
    listener: TcpListener,
    addr: SocketAddr,
    ctx: Arc<Ctx>,
}

impl SampleServer {
    /// Validates `args`, binds the port and logs the `listening on` line (only once bound,
    /// so whoever waits for the line or the port can connect right away).
    pub async fn bind(args: &SampleArgs, log: RequestLog) -> Result<SampleServer, SampleError> {
        args.validate()?;
        let version_header = HeaderValue::from_str(&args.version)
            .map_err(|e| SampleError::InvalidArgs(format!("--version: {e}")))?;
        let wanted = SocketAddr::new(args.bind, args.port);
        let listener = TcpListener::bind(wanted)
            .await
            .map_err(|source| SampleError::Bind {
                addr: wanted,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SampleError::Bind {
            addr: wanted,
            source,
        })?;
        let (stopping, stopping_rx) = watch::channel(false);
        let state = State {
            name: args.name.clone(),
            version: args.version.clone(),
            error_rate: args.error_rate,
            latency: Duration::from_millis(args.latency_ms),
            fail_health_after: args.fail_health_after.map(Into::into),
            started: Instant::now(),
            requests: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            stopping: stopping_rx,
        };
        log.msg(
            "info",
            &format!("listening on {addr} version {}", args.version),
        );
        Ok(SampleServer {
            listener,
            addr,
            ctx: Arc::new(Ctx {
                state,
                stopping,
                log,
                version_header,
            }),
        })
    }

    /// The address actually bound (the real port when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then stops accepting, lets in-flight requests
    /// finish (up to a grace period) and returns.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        let SampleServer { listener, ctx, .. } = self;
        let mut http = http1::Builder::new();
        http.keep_alive(true)
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT);
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut conns = JoinSet::new();
        tokio::pin!(shutdown);

        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _peer)) => {
                        conns.spawn(serve_conn(stream, http.clone(), ctx.clone(), stop_rx.clone()));
                    }
                    Err(e) => {
                        // Usually out of file descriptors: back off instead of spinning.
                        ctx.log.msg("warn", &format!("accept failed: {e}"));
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }

        drop(listener);
        // Receivers only stop existing when every connection ended, so a send error is moot.
        let _ = stop_tx.send(true);
        let _ = ctx.stopping.send(true);
        let open = conns.len();
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while conns.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            ctx.log.msg(
                "warn",
                &format!(
                    "closing {} connections still busy after {}s",
                    conns.len(),
                    SHUTDOWN_GRACE.as_secs()
                ),
            );
            conns.abort_all();
        }
        ctx.log.msg(
            "info",
            &format!("stopped ({open} connections open at shutdown)"),
        );
    }
}

async fn serve_conn(
    stream: TcpStream,
    http: http1::Builder,
    ctx: Arc<Ctx>,
    mut stop: watch::Receiver<bool>,
) {
    // Small JSON replies: do not let Nagle hold them back. Failure only costs latency.
    let _ = stream.set_nodelay(true);
    let svc = service_fn(move |req| {
        let ctx = ctx.clone();
        async move { Ok::<_, Infallible>(ctx.respond(req).await) }
    });
    let conn = http.serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(conn);
    // The watch guard must not live across the await below (it is not Send).
    let stopping = async move {
        let _ = stop.wait_for(|stopping| *stopping).await;
    };
    tokio::select! {
        // Errors here are clients going away mid-request; nothing to report or retry.
        _ = conn.as_mut() => {}
        () = stopping => {
            // Finishes the request in flight (if any), then closes instead of keeping alive.
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Runs the sample service until SIGTERM or SIGINT, then shuts down gracefully.
pub async fn run(args: SampleArgs) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    args.validate()?;
    // Installed before binding: a SIGTERM right after `listening` must shut down cleanly.
    let mut term = signal(SignalKind::terminate()).map_err(|source| SampleError::Signal {
        signal: "SIGTERM",
        source,
    })?;
    let mut int = signal(SignalKind::interrupt()).map_err(|source| SampleError::Signal {
        signal: "SIGINT",
        source,
    })?;
    let server = SampleServer::bind(&args, RequestLog::stdout(&args.version)).await?;
    let log = server.ctx.log.clone();
    server
        .serve(async move {
            let which = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            log.msg("info", &format!("received {which}, shutting down"));
        })
        .await;
    Ok(())
}

#[cfg(test)]
mod tests;
