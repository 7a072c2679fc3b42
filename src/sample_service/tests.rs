//! End-to-end tests: the real server on a real socket, driven with reqwest.

use super::*;
use clap::Parser;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

fn args() -> SampleArgs {
    SampleArgs {
        port: 0,
        version: "2.5.0".into(),
        error_rate: 0.0,
        latency_ms: 0,
        fail_health_after: None,
        bind: IpAddr::from([127, 0, 0, 1]),
        name: "demo".into(),
    }
}

struct Running {
    base: String,
    addr: SocketAddr,
    logs: LogLines,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Running {
    async fn start(args: SampleArgs) -> Running {
        let (log, logs) = RequestLog::memory(&args.version);
        let server = SampleServer::bind(&args, log).await.unwrap();
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(server.serve(async {
            let _ = stopped.await;
        }));
        Running {
            base: format!("http://{addr}"),
            addr,
            logs,
            stop: Some(stop),
            task,
        }
    }

    async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.unwrap();
    }

    fn log_json(&self) -> Vec<Value> {
        self.logs
            .lines()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn client() -> reqwest::Client {
    // No proxy: the environment's HTTP_PROXY must not reroute 127.0.0.1.
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Status, body as JSON (Null if not JSON) and the version header of a GET.
async fn get(c: &reqwest::Client, url: &str) -> (StatusCode, Value, String) {
    let resp = c.get(url).send().await.unwrap();
    let status = resp.status();
    let version = resp
        .headers()
        .get("x-sample-version")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = resp.json::<Value>().await.unwrap_or(Value::Null);
    (status, body, version)
}

#[tokio::test]
async fn every_endpoint_answers_with_version() {
    let srv = Running::start(args()).await;
    let c = client();
    let b = &srv.base;

    let (s, body, v) = get(&c, &format!("{b}/health")).await;
    assert_eq!((s, v.as_str()), (StatusCode::OK, "2.5.0"));
    assert_eq!(body, json!({ "status": "ok", "version": "2.5.0" }));

    let (s, body, _) = get(&c, &format!("{b}/")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["name"], "demo");
    assert_eq!(body["version"], "2.5.0");
    assert!(body["endpoints"].as_array().is_some_and(|e| !e.is_empty()));

    let (s, body, v) = get(&c, &format!("{b}/api/items")).await;
    assert_eq!((s, v.as_str()), (StatusCode::OK, "2.5.0"));
    assert_eq!(body.as_array().map(Vec::len), Some(5));

    let (s, body, _) = get(&c, &format!("{b}/api/items/2")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (body["id"].as_u64(), body["version"].as_str()),
        (Some(2), Some("2.5.0"))
    );

    for missing in ["99", "abc"] {
        let (s, body, v) = get(&c, &format!("{b}/api/items/{missing}")).await;
        assert_eq!((s, v.as_str()), (StatusCode::NOT_FOUND, "2.5.0"));
        assert!(body["error"].as_str().unwrap().contains(missing), "{body}");
        assert_eq!(body["version"], "2.5.0");
    }

    let (s, body, _) = get(&c, &format!("{b}/api/slow?ms=5")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["slept_ms"], 5);
    let (s, _, _) = get(&c, &format!("{b}/api/slow")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    for path in ["/nope", "/api/nope", "/healthz"] {
        let (s, body, v) = get(&c, &format!("{b}{path}")).await;
        assert_eq!((s, v.as_str()), (StatusCode::NOT_FOUND, "2.5.0"), "{path}");
        assert_eq!(body["version"], "2.5.0");
    }

    let resp = c.delete(format!("{b}/health")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(resp.headers()["allow"], "GET");

    srv.shutdown().await;
}

#[tokio::test]
async fn echo_returns_the_body_and_refuses_more_than_a_mebibyte() {
    let srv = Running::start(args()).await;
    let c = client();
    let url = format!("{}/api/echo", srv.base);

    let resp = c
        .post(&url)
        .header("content-type", "text/plain")
        .body("hello, naap")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/plain");
    assert_eq!(resp.headers()["x-sample-version"], "2.5.0");
    assert_eq!(resp.text().await.unwrap(), "hello, naap");

    let exactly = vec![b'x'; ECHO_LIMIT_FOR_TESTS];
    let resp = c.post(&url).body(exactly.clone()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap().len(), exactly.len());

    let too_big = vec![b'x'; ECHO_LIMIT_FOR_TESTS + 1];
    let resp = c.post(&url).body(too_big).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["version"], "2.5.0");

    // A chunked body with no length announced is capped the same way.
    let chunked = Chunks {
        left: 3,
        chunk: bytes::Bytes::from(vec![b'y'; 512 * 1024]),
    };
    let resp = c
        .post(&url)
        .body(reqwest::Body::wrap(chunked))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);

    srv.shutdown().await;
}

const ECHO_LIMIT_FOR_TESTS: usize = handlers::ECHO_LIMIT;

/// A request body of `left` copies of `chunk` with no announced length (sent chunked).
struct Chunks {
    left: usize,
    chunk: bytes::Bytes,
}

impl hyper::body::Body for Chunks {
    type Data = bytes::Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, Infallible>>> {
        if self.left == 0 {
            return std::task::Poll::Ready(None);
        }
        self.left -= 1;
        std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(self.chunk.clone()))))
    }
}

#[tokio::test]
async fn error_rate_one_fails_every_api_request_but_never_health() {
    let srv = Running::start(SampleArgs {
        error_rate: 1.0,
        ..args()
    })
    .await;
    let c = client();
    for _ in 0..10 {
        let (s, body, v) = get(&c, &format!("{}/api/items", srv.base)).await;
        assert_eq!(
            (s, v.as_str()),
            (StatusCode::INTERNAL_SERVER_ERROR, "2.5.0")
        );
        assert!(
            body["error"].as_str().unwrap().contains("injected"),
            "{body}"
        );
        let (s, _, _) = get(&c, &format!("{}/health", srv.base)).await;
        assert_eq!(s, StatusCode::OK);
    }
    let logs = srv.log_json();
    assert!(
        logs.iter()
            .any(|l| l["level"] == "error" && l["msg"] == "GET /api/items 500"),
        "{logs:?}"
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn health_fails_after_the_configured_time() {
    let after = Duration::from_millis(300);
    let t0 = Instant::now();
    let srv = Running::start(SampleArgs {
        fail_health_after: Some(after.into()),
        ..args()
    })
    .await;
    let c = client();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (s, body, _) = get(&c, &format!("{}/health", srv.base)).await;
        if s == StatusCode::SERVICE_UNAVAILABLE {
            assert!(
                t0.elapsed() >= after,
                "503 before --fail-health-after elapsed"
            );
            assert_eq!(body["version"], "2.5.0");
            break;
        }
        assert_eq!(s, StatusCode::OK);
        assert!(Instant::now() < deadline, "/health never turned 503");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // /api is unaffected by failing health.
    let (s, _, _) = get(&c, &format!("{}/api/items", srv.base)).await;
    assert_eq!(s, StatusCode::OK);
    srv.shutdown().await;
}

#[tokio::test]
async fn logs_start_line_levels_and_counter() {
    let srv = Running::start(args()).await;
    let c = client();
    get(&c, &format!("{}/missing", srv.base)).await;
    for _ in 0..49 {
        get(&c, &format!("{}/api/items", srv.base)).await;
    }
    let logs = srv.log_json();
    assert_eq!(logs[0]["level"], "info");
    assert_eq!(
        logs[0]["msg"],
        format!("listening on {} version 2.5.0", srv.addr)
    );
    let miss = logs
        .iter()
        .find(|l| l["msg"] == "GET /missing 404")
        .unwrap();
    assert_eq!(miss["level"], "warn");
    assert_eq!(miss["version"], "2.5.0");
    assert!(miss["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0));
    assert!(miss["ts"].is_string());
    let ok = logs
        .iter()
        .find(|l| l["msg"] == "GET /api/items 200")
        .unwrap();
    assert_eq!(ok["level"], "info");
    let counters: Vec<&Value> = logs.iter().filter(|l| l["level"] == "debug").collect();
    assert_eq!(counters.len(), 1, "{logs:?}");
    assert_eq!(counters[0]["requests"], 50);
    srv.shutdown().await;
}

#[tokio::test]
async fn shutdown_finishes_in_flight_requests_then_stops_listening() {
    let srv = Running::start(args()).await;
    let c = client();
    let slow = tokio::spawn({
        let c = c.clone();
        let url = format!("{}/api/slow?ms=300", srv.base);
        async move { c.get(url).send().await.map(|r| r.status()) }
    });
    // GET / counts itself, so 2 in flight means the slow request is inside its handler.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, body, _) = get(&c, &format!("{}/", srv.base)).await;
        if body["in_flight"].as_u64() >= Some(2) {
            break;
        }
        assert!(Instant::now() < deadline, "slow request never arrived");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let addr = srv.addr;
    srv.shutdown().await;
    assert_eq!(slow.await.unwrap().unwrap(), StatusCode::OK);
    assert!(TcpStream::connect(addr).await.is_err(), "still listening");
}

#[tokio::test]
async fn out_of_range_error_rate_is_a_usage_error() {
    for bad in [1.5, -0.1, f64::NAN] {
        let err = SampleServer::bind(
            &SampleArgs {
                error_rate: bad,
                ..args()
            },
            RequestLog::memory("x").0,
        )
        .await
        .err()
        .unwrap();
        assert_eq!(err.exit_code(), 2, "{err}");
        assert!(err.to_string().contains("--error-rate"), "{err}");
    }
    let run_err = run(SampleArgs {
        error_rate: 2.0,
        ..args()
    })
    .await
    .unwrap_err();
    assert_eq!(
        run_err
            .downcast_ref::<SampleError>()
            .map(SampleError::exit_code),
        Some(2)
    );
}

#[tokio::test]
async fn busy_port_is_a_bind_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let err = SampleServer::bind(&SampleArgs { port, ..args() }, RequestLog::memory("x").0)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, SampleError::Bind { .. }), "{err}");
    assert_eq!(err.exit_code(), 1);
}

#[derive(clap::Parser, Debug)]
#[command(version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Subcommand, Debug)]
enum Cmd {
    SampleService(SampleArgs),
}

#[test]
fn version_flag_belongs_to_the_service() {
    let cli = Cli::try_parse_from([
        "naap",
        "sample-service",
        "--port",
        "8081",
        "--version",
        "3.1.4",
        "--error-rate",
        "0.25",
        "--fail-health-after",
        "1m 30s",
    ])
    .unwrap();
    let Cmd::SampleService(a) = cli.cmd;
    assert_eq!(a.port, 8081);
    assert_eq!(a.version, "3.1.4");
    assert_eq!(a.error_rate, 0.25);
    assert_eq!(
        a.fail_health_after.map(Duration::from),
        Some(Duration::from_secs(90))
    );
    assert_eq!(a.bind, IpAddr::from([127, 0, 0, 1]));

    let defaults = Cli::try_parse_from(["naap", "sample-service", "--port", "1"]).unwrap();
    let Cmd::SampleService(a) = defaults.cmd;
    assert_eq!((a.version.as_str(), a.name.as_str()), ("1.0.0", "sample"));
}

const CHILD_ENV: &str = "NAAP_SAMPLE_SIGTERM_CHILD";

/// Child half of `run_exits_cleanly_on_sigterm`: the service in a process of its own, so the
/// signal cannot reach other tests of this binary.
#[tokio::test]
#[ignore = "started as a child process by run_exits_cleanly_on_sigterm"]
async fn sigterm_child() {
    if std::env::var_os(CHILD_ENV).is_some() {
        run(args()).await.unwrap();
    }
}

#[test]
fn run_exits_cleanly_on_sigterm() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    use std::sync::mpsc;

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sample_service::tests::sigterm_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let wait = Duration::from_secs(30);
    let mut seen = Vec::new();
    while !seen
        .iter()
        .any(|l: &String| l.contains("listening on 127.0.0.1:"))
    {
        match rx.recv_timeout(wait) {
            Ok(line) => seen.push(line),
            Err(_) => {
                let _ = child.kill();
                panic!("child never logged `listening`: {seen:?}");
            }
        }
    }
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);

    let deadline = Instant::now() + wait;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("child did not exit after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    seen.extend(rx.iter());
    assert!(status.success(), "{status}: {seen:?}");
    assert!(
        seen.iter().any(|l| l.contains("received SIGTERM")),
        "{seen:?}"
    );
}
