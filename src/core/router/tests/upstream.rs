//! A tiny real upstream for the proxy tests: echoes its name and path, and has a few
//! endpoints for bodies, statuses and held-back responses.

use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::{Body, Bytes, Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

type UpBody = BoxBody<Bytes, hyper::Error>;

/// A running upstream; stops when dropped.
pub(super) struct Upstream {
    pub(super) addr: SocketAddr,
    /// Releases responses held by `/hold` and the second chunk of `/slow-stream`.
    pub(super) gate: Arc<Notify>,
    /// Requests that reached `/hold`.
    pub(super) held: Arc<AtomicUsize>,
    /// TCP connections accepted so far.
    pub(super) accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(super) async fn start(name: &'static str) -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind upstream");
    let addr = listener.local_addr().expect("upstream address");
    let gate = Arc::new(Notify::new());
    let held = Arc::new(AtomicUsize::new(0));
    let task_gate = Arc::clone(&gate);
    let task_held = Arc::clone(&held);
    let accepted = Arc::new(AtomicUsize::new(0));
    let task_accepted = Arc::clone(&accepted);
    let task = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            task_accepted.fetch_add(1, Ordering::SeqCst);
            let gate = Arc::clone(&task_gate);
            let held = Arc::clone(&task_held);
            conns.spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let gate = Arc::clone(&gate);
                    let held = Arc::clone(&held);
                    async move { Ok::<_, Infallible>(handle(name, req, gate, held).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Upstream {
        addr,
        gate,
        held,
        accepted,
        task,
    }
}

fn full(text: String) -> UpBody {
    Full::new(Bytes::from(text))
        .map_err(|never| match never {})
        .boxed()
}

async fn handle(
    name: &'static str,
    req: Request<Incoming>,
    gate: Arc<Notify>,
    held: Arc<AtomicUsize>,
) -> Response<UpBody> {
    let path = req.uri().path().to_owned();
    let target = req
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_default();
    let mut response = match path.as_str() {
        "/echo-body" => Response::new(req.into_body().boxed()),
        "/headers" => {
            let mut text = String::new();
            for (k, v) in req.headers() {
                text.push_str(&format!("{k}: {}\n", v.to_str().unwrap_or("?")));
            }
            Response::new(full(text))
        }
        "/hold" => {
            held.fetch_add(1, Ordering::SeqCst);
            gate.notified().await;
            Response::new(full(format!("{name} held")))
        }
        "/slow-stream" => {
            let (tx, rx) = mpsc::channel(2);
            tokio::spawn(async move {
                let _ = tx.send(Bytes::from_static(b"first\n")).await;
                gate.notified().await;
                let _ = tx.send(Bytes::from_static(b"second\n")).await;
            });
            Response::new(ChannelBody(rx).boxed())
        }
        p if p.starts_with("/status/") => {
            let code = p["/status/".len()..].parse().unwrap_or(500);
            let mut r = Response::new(full(format!("{name} status {code}")));
            *r.status_mut() =
                StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            r
        }
        _ => Response::new(full(format!("{name} {target}"))),
    };
    response
        .headers_mut()
        .insert("x-upstream", hyper::header::HeaderValue::from_static(name));
    response
}

/// A response body fed chunk by chunk from a channel.
struct ChannelBody(mpsc::Receiver<Bytes>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|b| Ok(Frame::data(b))))
    }
}
