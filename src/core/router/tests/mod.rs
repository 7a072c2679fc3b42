//! The proxy against real upstreams on 127.0.0.1.

mod upstream;

use super::*;
use crate::core::metrics::{MetricsRegistry, Outcome};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;
use upstream::Upstream;

const DEADLINE: Duration = Duration::from_secs(20);

struct Proxy {
    addr: SocketAddr,
    router: Arc<Router>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

impl Proxy {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

async fn start_proxy(table: RouteTable) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let addr = listener.local_addr().expect("proxy address");
    let router = Router::new();
    router.set_table(table);
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(Arc::clone(&router).serve(listener, stop_rx));
    Proxy {
        addr,
        router,
        stop,
        task: Some(task),
    }
}

fn target(slot: SlotName, up: &Upstream, weight: u32, healthy: bool) -> SlotTarget {
    target_at(slot, up.addr, weight, healthy)
}

fn target_at(slot: SlotName, addr: SocketAddr, weight: u32, healthy: bool) -> SlotTarget {
    SlotTarget::single(
        slot,
        addr,
        format!("1.0-{slot}"),
        weight,
        healthy,
        Arc::new(SlotMetrics::new()),
    )
}

fn prefix(name: &str, prefix: &str, strip: bool, slots: Vec<SlotTarget>) -> PluginRoute {
    PluginRoute {
        name: name.to_owned(),
        matcher: RouteMatch::Prefix {
            prefix: prefix.to_owned(),
            strip,
        },
        sticky: None,
        slots,
        closed: None,
        outlier: Default::default(),
    }
}

fn blue_green(name: &str, blue: &Upstream, bw: u32, green: &Upstream, gw: u32) -> RouteTable {
    RouteTable {
        plugins: vec![prefix(
            name,
            "/",
            false,
            vec![
                target(SlotName::Blue, blue, bw, true),
                target(SlotName::Green, green, gw, true),
            ],
        )],
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("build test client")
}

struct Answer {
    status: u16,
    slot: String,
    version: String,
    body: String,
}

async fn send(req: reqwest::RequestBuilder) -> Answer {
    let response = req.send().await.expect("request through the proxy");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (slot, version) = (header("x-naap-slot"), header("x-naap-version"));
    let status = response.status().as_u16();
    let body = response.text().await.expect("response body");
    Answer {
        status,
        slot,
        version,
        body,
    }
}

async fn count_slots(proxy: &Proxy, n: usize) -> HashMap<String, usize> {
    let client = client();
    let mut counts = HashMap::new();
    for _ in 0..n {
        let a = send(client.get(proxy.url("/"))).await;
        assert_eq!(a.status, 200, "{}", a.body);
        *counts.entry(a.slot).or_insert(0) += 1;
    }
    counts
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn all_weight_on_one_slot_sends_everything_there() {
    let (blue, green) = (
        upstream::start("blue").await,
        upstream::start("green").await,
    );
    let proxy = start_proxy(blue_green("app", &blue, 100, &green, 0)).await;
    let counts = count_slots(&proxy, 200).await;
    assert_eq!(counts.get("blue"), Some(&200), "{counts:?}");

    proxy
        .router
        .set_table(blue_green("app", &blue, 0, &green, 100));
    let counts = count_slots(&proxy, 200).await;
    assert_eq!(counts.get("green"), Some(&200), "{counts:?}");
}

#[tokio::test]
async fn upstream_connections_are_pooled_and_reused() {
    let blue = upstream::start("blue").await;
    let proxy = start_proxy(RouteTable {
        plugins: vec![prefix(
            "app",
            "/",
            false,
            vec![target(SlotName::Blue, &blue, 100, true)],
        )],
    })
    .await;
    let client = client();
    for i in 0..100 {
        let a = send(client.get(proxy.url(&format!("/r{i}")))).await;
        assert_eq!(a.status, 200);
    }
    // Sequential requests need one upstream connection, whatever the client did.
    assert_eq!(blue.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_30_70_split_sends_about_30_percent_to_blue() {
    let (blue, green) = (
        upstream::start("blue").await,
        upstream::start("green").await,
    );
    let proxy = start_proxy(blue_green("app", &blue, 30, &green, 70)).await;
    let counts = count_slots(&proxy, 2000).await;
    let blue_n = counts.get("blue").copied().unwrap_or(0);
    let green_n = counts.get("green").copied().unwrap_or(0);
    assert_eq!(blue_n + green_n, 2000);
    // Expected 600 with a standard deviation of about 20: the bounds are over 7 sigma wide.
    assert!((450..=750).contains(&blue_n), "{counts:?}");
}

#[tokio::test]
async fn responses_name_the_slot_and_version_and_come_from_that_slot() {
    let (blue, green) = (
        upstream::start("blue").await,
        upstream::start("green").await,
    );
    let proxy = start_proxy(blue_green("app", &blue, 0, &green, 100)).await;
    let a = send(client().get(proxy.url("/hello?x=1"))).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.slot, "green");
    assert_eq!(a.version, "1.0-green");
    assert_eq!(a.body, "green /hello?x=1");
}

#[tokio::test]
async fn the_slot_header_overrides_weight_and_health() {
    let (blue, green) = (
        upstream::start("blue").await,
        upstream::start("green").await,
    );
    let table = RouteTable {
        plugins: vec![prefix(
            "app",
            "/",
            false,
            vec![
                target(SlotName::Blue, &blue, 100, true),
                target(SlotName::Green, &green, 0, false),
            ],
        )],
    };
    let proxy = start_proxy(table).await;
    let client = client();
    for _ in 0..20 {
        let a = send(client.get(proxy.url("/")).header("x-naap-slot", "green")).await;
        assert_eq!((a.status, a.slot.as_str()), (200, "green"), "{}", a.body);
        assert!(a.body.starts_with("green "));
    }

    let a = send(client.get(proxy.url("/")).header("x-naap-slot", "purple")).await;
    assert_eq!(a.status, 400);
    assert!(a.body.contains("x-naap-slot"), "{}", a.body);

    proxy
        .router
        .set_table(blue_green("app", &blue, 100, &green, 0));
    let mut table = (*proxy.router.table()).clone();
    table.plugins[0].slots.retain(|s| s.slot == SlotName::Blue);
    proxy.router.set_table(table);
    let a = send(client.get(proxy.url("/")).header("x-naap-slot", "green")).await;
    assert_eq!(a.status, 503);
    assert!(a.body.contains("slot green of plugin app"), "{}", a.body);
}

/// Sends 10 requests for each of 20 users (the header `name: value-of(user)`) through a
/// 50/50 split with `sticky`; each user must stay on one slot, and the users must spread
/// over both slots (deterministic for these keys).
async fn assert_sticky(sticky: StickyBy, name: &str, value_of: impl Fn(u32) -> String) {
    let (blue, green) = (
        upstream::start("blue").await,
        upstream::start("green").await,
    );
    let mut table = blue_green("app", &blue, 50, &green, 50);
    table.plugins[0].sticky = Some(sticky);
    let proxy = start_proxy(table).await;
    let client = client();
    let mut seen = HashMap::new();
    for user in 0..20 {
        let mut slots = Vec::new();
        for _ in 0..10 {
            let a = send(client.get(proxy.url("/")).header(name, value_of(user))).await;
            slots.push(a.slot);
        }
        slots.dedup();
        assert_eq!(slots.len(), 1, "user {user} moved between slots: {slots:?}");
        *seen.entry(slots[0].clone()).or_insert(0) += 1;
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
}

#[tokio::test]
async fn a_sticky_header_keeps_each_user_on_one_slot() {
    assert_sticky(StickyBy::Header("x-user".into()), "x-user", |u| {
        format!("user-{u}")
    })
    .await;
}

#[tokio::test]
async fn a_sticky_cookie_keeps_each_user_on_one_slot() {
    assert_sticky(StickyBy::Cookie("session".into()), "cookie", |u| {
        format!("theme=dark; session=s{u}")
    })
    .await;
}

#[tokio::test]
async fn strip_removes_the_prefix_and_keeps_the_query() {
    let up = upstream::start("blue").await;
    let table = RouteTable {
        plugins: vec![
            prefix(
                "exp",
                "/expenses",
                true,
                vec![target(SlotName::Blue, &up, 100, true)],
            ),
            prefix(
                "keep",
                "/keep",
                false,
                vec![target(SlotName::Blue, &up, 100, true)],
            ),
        ],
    };
    let proxy = start_proxy(table).await;
    let client = client();
    assert_eq!(
        send(client.get(proxy.url("/expenses/x?q=1"))).await.body,
        "blue /x?q=1"
    );
    assert_eq!(
        send(client.get(proxy.url("/expenses"))).await.body,
        "blue /"
    );
    assert_eq!(
        send(client.get(proxy.url("/expenses?a=b"))).await.body,
        "blue /?a=b"
    );
    assert_eq!(
        send(client.get(proxy.url("/keep/y?z"))).await.body,
        "blue /keep/y?z"
    );
}

#[tokio::test]
async fn the_longest_prefix_wins_on_segment_boundaries() {
    let (a, b, c) = (
        upstream::start("root").await,
        upstream::start("api").await,
        upstream::start("v2").await,
    );
    let table = RouteTable {
        plugins: vec![
            prefix(
                "root",
                "/",
                false,
                vec![target(SlotName::Blue, &a, 100, true)],
            ),
            prefix(
                "v2",
                "/api/v2",
                false,
                vec![target(SlotName::Blue, &c, 100, true)],
            ),
            prefix(
                "api",
                "/api",
                false,
                vec![target(SlotName::Blue, &b, 100, true)],
            ),
        ],
    };
    let proxy = start_proxy(table).await;
    let client = client();
    for (path, expect) in [
        ("/api/v2/x", "v2 /api/v2/x"),
        ("/api/v2", "v2 /api/v2"),
        ("/api/v3", "api /api/v3"),
        ("/api", "api /api"),
        ("/apix", "root /apix"),
        ("/", "root /"),
    ] {
        assert_eq!(
            send(client.get(proxy.url(path))).await.body,
            expect,
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_host_route_beats_any_prefix_whatever_the_case_and_port() {
    let (web, notes) = (upstream::start("web").await, upstream::start("notes").await);
    let table = RouteTable {
        plugins: vec![
            prefix(
                "web",
                "/",
                false,
                vec![target(SlotName::Blue, &web, 100, true)],
            ),
            PluginRoute {
                name: "notes".into(),
                matcher: RouteMatch::Host("notes.localhost".into()),
                sticky: None,
                slots: vec![target(SlotName::Blue, &notes, 100, true)],
                closed: None,
                outlier: Default::default(),
            },
        ],
    };
    let proxy = start_proxy(table).await;
    let client = client();
    let a = send(
        client
            .get(proxy.url("/n/1"))
            .header("host", "Notes.LocalHost:8080"),
    )
    .await;
    assert_eq!(a.body, "notes /n/1");
    let a = send(
        client
            .get(proxy.url("/n/1"))
            .header("host", "other.localhost"),
    )
    .await;
    assert_eq!(a.body, "web /n/1");
    let a = send(client.get(proxy.url("/n/1"))).await;
    assert_eq!(a.body, "web /n/1");
}

#[tokio::test]
async fn unknown_paths_get_404_naming_the_known_routes() {
    let up = upstream::start("blue").await;
    let table = RouteTable {
        plugins: vec![
            prefix(
                "expenses",
                "/expenses",
                true,
                vec![target(SlotName::Blue, &up, 100, true)],
            ),
            PluginRoute {
                name: "notes".into(),
                matcher: RouteMatch::Host("notes.localhost".into()),
                sticky: None,
                slots: vec![],
                closed: None,
                outlier: Default::default(),
            },
        ],
    };
    let proxy = start_proxy(table).await;
    let a = send(client().get(proxy.url("/nope"))).await;
    assert_eq!(a.status, 404);
    assert!(a.body.contains("/nope"), "{}", a.body);
    assert!(a.body.contains("/expenses → expenses"), "{}", a.body);
    assert!(
        a.body.contains("host notes.localhost → notes"),
        "{}",
        a.body
    );

    proxy.router.set_table(RouteTable::default());
    let a = send(client().get(proxy.url("/nope"))).await;
    assert_eq!(a.status, 404);
    assert!(a.body.contains("no plugins are routed"), "{}", a.body);
}

#[tokio::test]
async fn no_eligible_slot_gets_503_explaining_each_slot() {
    let blue = upstream::start("blue").await;
    let table = RouteTable {
        plugins: vec![prefix(
            "expenses",
            "/",
            false,
            vec![target(SlotName::Blue, &blue, 100, false)],
        )],
    };
    let proxy = start_proxy(table).await;
    let a = send(client().get(proxy.url("/x"))).await;
    assert_eq!(a.status, 503);
    assert!(
        a.body.starts_with(
        "naap: no healthy slot for plugin expenses (blue: unhealthy, weight 100; green: stopped)\n"
        ),
        "{}",
        a.body
    );
}

#[tokio::test]
async fn an_unreachable_slot_gets_502_and_counts_as_an_upstream_failure() {
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        l.local_addr().expect("address")
    };
    let t = target_at(SlotName::Green, closed, 100, true);
    let metrics = Arc::clone(&t.metrics);
    let proxy = start_proxy(RouteTable {
        plugins: vec![prefix("app", "/", false, vec![t])],
    })
    .await;
    let a = send(client().get(proxy.url("/x"))).await;
    assert_eq!(a.status, 502);
    assert_eq!(a.slot, "green");
    // A short reason and the request id; the address and error chain stay in the logs.
    assert!(
        a.body
            .starts_with("naap: bad gateway: the service could not be reached\nrequest id: "),
        "{}",
        a.body
    );
    assert!(!a.body.contains(&closed.to_string()), "{}", a.body);
    let snap = metrics.snapshot();
    assert_eq!((snap.requests_total, snap.errors_total), (1, 1));
}

#[tokio::test]
async fn every_request_is_recorded_with_its_outcome() {
    let blue = upstream::start("blue").await;
    let t = target(SlotName::Blue, &blue, 100, true);
    let metrics = Arc::clone(&t.metrics);
    let proxy = start_proxy(RouteTable {
        plugins: vec![prefix("app", "/", false, vec![t])],
    })
    .await;
    let client = client();
    for path in [
        "/ok",
        "/ok",
        "/status/404",
        "/status/500",
        "/status/503",
        "/status/302",
    ] {
        send(client.get(proxy.url(path))).await;
    }
    let snap = metrics.snapshot();
    assert_eq!(snap.requests_total, 6);
    assert_eq!(snap.errors_total, 2);
    assert!(snap.p99_ms > 0.0);
}

#[tokio::test]
async fn forwarded_headers_are_set_and_hop_by_hop_headers_dropped() {
    let blue = upstream::start("blue").await;
    let proxy = start_proxy(RouteTable {
        plugins: vec![prefix(
            "app",
            "/",
            false,
            vec![target(SlotName::Blue, &blue, 100, true)],
        )],
    })
    .await;
    let a = send(
        client()
            .get(proxy.url("/headers"))
            .header("x-forwarded-for", "10.1.2.3")
            .header("connection", "x-private")
            .header("x-private", "secret")
            .header("x-custom", "kept"),
    )
    .await;
    assert!(
        a.body.contains("x-forwarded-for: 10.1.2.3, 127.0.0.1\n"),
        "{}",
        a.body
    );
    assert!(a.body.contains("x-forwarded-proto: http\n"), "{}", a.body);
    assert!(
        a.body
            .contains(&format!("x-forwarded-host: {}\n", proxy.addr)),
        "{}",
        a.body
    );
    assert!(a.body.contains("x-custom: kept\n"), "{}", a.body);
    assert!(!a.body.contains("x-private"), "{}", a.body);
}

#[tokio::test]
async fn a_large_post_streams_through_both_ways() {
    let blue = upstream::start("blue").await;
    let proxy = start_proxy(RouteTable {
        plugins: vec![prefix(
            "app",
            "/",
            false,
            vec![target(SlotName::Blue, &blue, 100, true)],
        )],
    })
    .await;
    let payload: Vec<u8> = (0..24 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let response = client()
        .post(proxy.url("/echo-body"))
        .body(payload.clone())
        .send()
        .await
        .expect("post through the proxy");
    assert_eq!(response.status(), 200);
    let echoed = response.bytes().await.expect("echoed body");
    assert_eq!(echoed.len(), payload.len());
    assert!(echoed == payload, "echoed body differs");
}

#[tokio::test]
async fn a_response_is_streamed_before_the_slot_finishes_it() {
    let blue = upstream::start("blue").await;
    let proxy = start_proxy(RouteTable {
        plugins: vec![prefix(
            "app",
            "/",
            false,
            vec![target(SlotName::Blue, &blue, 100, true)],
        )],
    })
    .await;
    let mut response = client()
        .get(proxy.url("/slow-stream"))
        .send()
        .await
        .expect("request through the proxy");
    // The slot holds its second chunk back until the gate opens, so receiving the first
    // one proves the proxy does not buffer whole bodies.
    let first = tokio::time::timeout(DEADLINE, response.chunk())
        .await
        .expect("first chunk arrives while the slot still holds the rest")
        .expect("read chunk");
    assert_eq!(first.as_deref(), Some(&b"first\n"[..]));
    blue.gate.notify_one();
    let rest = response.text().await.expect("rest of the body");
    assert_eq!(rest, "second\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flipping_weights_under_load_loses_no_request() {
    let (blue, green) = (
        upstream::start("blue").await,
        upstream::start("green").await,
    );
    let proxy = start_proxy(blue_green("app", &blue, 100, &green, 0)).await;
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (stop, ok, url, client) = (
            Arc::clone(&stop),
            Arc::clone(&ok),
            proxy.url("/w"),
            client(),
        );
        workers.push(tokio::spawn(async move {
            let mut seen = HashMap::new();
            while !stop.load(Ordering::Relaxed) {
                let a = send(client.get(&url)).await;
                assert_eq!(a.status, 200, "request failed during a flip: {}", a.body);
                assert!(
                    a.body.starts_with(&a.slot),
                    "{} answered for {}",
                    a.body,
                    a.slot
                );
                *seen.entry(a.slot).or_insert(0usize) += 1;
                ok.fetch_add(1, Ordering::Relaxed);
            }
            seen
        }));
    }
    for flip in 0..50u32 {
        let before = ok.load(Ordering::Relaxed);
        eventually("requests between flips", || {
            ok.load(Ordering::Relaxed) >= before + 4
        })
        .await;
        let (bw, gw) = if flip % 2 == 0 { (0, 100) } else { (100, 0) };
        proxy
            .router
            .set_table(blue_green("app", &blue, bw, &green, gw));
    }
    stop.store(true, Ordering::Relaxed);
    let mut total = HashMap::new();
    for w in workers {
        for (slot, n) in w.await.expect("worker panicked") {
            *total.entry(slot).or_insert(0) += n;
        }
    }
    assert_eq!(total.len(), 2, "both slots served: {total:?}");
}

#[tokio::test]
async fn malformed_requests_get_400_and_the_proxy_keeps_serving() {
    let blue = upstream::start("blue").await;
    let proxy = start_proxy(RouteTable {
        plugins: vec![prefix(
            "app",
            "/",
            false,
            vec![target(SlotName::Blue, &blue, 100, true)],
        )],
    })
    .await;
    for raw in [
        &b"GET /\x01bad HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"GET http://exa mple/ HTTP/1.1\r\nHost: x\r\n\r\n",
        b"NOT A REQUEST\r\n\r\n",
    ] {
        let mut stream = tokio::net::TcpStream::connect(proxy.addr)
            .await
            .expect("connect");
        stream.write_all(raw).await.expect("write");
        let mut reply = Vec::new();
        let _ = tokio::time::timeout(DEADLINE, stream.read_to_end(&mut reply)).await;
        let reply = String::from_utf8_lossy(&reply);
        assert!(reply.starts_with("HTTP/1.1 400"), "{raw:?} → {reply}");
    }
    // A Host header that is not text falls back to prefix routing rather than failing.
    let mut stream = tokio::net::TcpStream::connect(proxy.addr)
        .await
        .expect("connect");
    stream
        .write_all(b"GET /ok HTTP/1.1\r\nHost: \xff\xfe\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(DEADLINE, stream.read_to_end(&mut reply)).await;
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert_eq!(
        send(client().get(proxy.url("/after"))).await.body,
        "blue /after"
    );
}

#[tokio::test]
async fn shutdown_stops_accepting_and_lets_requests_in_flight_finish() {
    let blue = upstream::start("blue").await;
    let mut proxy = start_proxy(RouteTable {
        plugins: vec![prefix(
            "app",
            "/",
            false,
            vec![target(SlotName::Blue, &blue, 100, true)],
        )],
    })
    .await;
    let in_flight = tokio::spawn(send(client().get(proxy.url("/hold"))));
    eventually("request reaches the slot", || {
        blue.held.load(Ordering::SeqCst) == 1
    })
    .await;

    proxy.stop.send_replace(true);
    // Once the accept loop has stopped, new connections are refused.
    let addr = proxy.addr;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "proxy still accepting after shutdown"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    blue.gate.notify_one();
    let a = tokio::time::timeout(DEADLINE, in_flight)
        .await
        .expect("in-flight request finishes")
        .expect("request task");
    assert_eq!((a.status, a.body.as_str()), (200, "blue held"));
    let serve = proxy.task.take().expect("serve task");
    tokio::time::timeout(DEADLINE, serve)
        .await
        .expect("serve returns after draining")
        .expect("serve task");
}

#[tokio::test]
async fn the_admin_endpoint_serves_health_and_prometheus_metrics() {
    let blue = upstream::start("blue").await;
    let registry = MetricsRegistry::default();
    let mut t = target(SlotName::Blue, &blue, 100, true);
    t.metrics = registry.slot("app", SlotName::Blue);
    t.version = "1.2.\"3\"".into();
    let proxy = start_proxy(RouteTable {
        plugins: vec![prefix("app", "/", false, vec![t])],
    })
    .await;
    registry
        .slot("old", SlotName::Green)
        .record(Duration::from_millis(1), Outcome::ServerError);
    let client = client();
    for path in ["/a", "/status/500"] {
        send(client.get(proxy.url(path))).await;
    }

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind admin");
    let admin_addr = listener.local_addr().expect("admin address");
    let (stop, stop_rx) = watch::channel(false);
    let admin = tokio::spawn(serve_admin(
        listener,
        registry,
        Arc::clone(&proxy.router),
        stop_rx,
    ));

    let a = send(client.get(format!("http://{admin_addr}/healthz"))).await;
    assert_eq!((a.status, a.body.as_str()), (200, "ok\n"));
    let a = send(client.get(format!("http://{admin_addr}/nope"))).await;
    assert_eq!(a.status, 404);

    let a = send(client.get(format!("http://{admin_addr}/metrics"))).await;
    assert_eq!(a.status, 200);
    let labels = r#"{plugin="app",slot="blue",version="1.2.\"3\""}"#;
    for line in [
        "# TYPE naap_requests_total counter".to_owned(),
        format!("naap_requests_total{labels} 2"),
        format!("naap_request_errors_total{labels} 1"),
        format!("naap_slot_weight{labels} 100"),
        format!("naap_slot_healthy{labels} 1"),
        r#"naap_requests_total{plugin="old",slot="green",version=""} 1"#.to_owned(),
        "# TYPE naap_request_duration_p99_seconds gauge".to_owned(),
    ] {
        assert!(
            a.body.lines().any(|l| l == line),
            "missing `{line}` in:\n{}",
            a.body
        );
    }
    // Every sample line is `name{labels} number`.
    for line in a.body.lines().filter(|l| !l.starts_with('#')) {
        let (_, value) = line.rsplit_once(' ').expect("sample has a value");
        assert!(value.parse::<f64>().is_ok(), "bad sample value in `{line}`");
    }

    stop.send_replace(true);
    tokio::time::timeout(DEADLINE, admin)
        .await
        .expect("admin stops")
        .expect("admin task");
}
