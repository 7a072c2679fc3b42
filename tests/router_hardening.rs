//! The router against a hostile or unlucky client: internals kept out of error answers,
//! WebSocket tunnelled end to end, malformed requests refused as nginx refuses them, and a
//! killed slot that costs no request.

mod common;
use common::router::*;
use common::*;
use std::io::Write;
use std::time::Duration;

/// Blue on 1.0.0, green on 2.0.0, each with half of the traffic.
fn half_and_half(ws: &TestWorkspace, plugin: &str) {
    ws.json(&["deploy", plugin, "--version", "2.0.0"]);
    ws.json(&["traffic", plugin, "blue=50", "green=50"]);
    let both = wait_for(Duration::from_secs(30), || {
        ["blue", "green"].iter().all(|slot| {
            let s = ws.slot(plugin, slot);
            s["weight"] == 50 && s["health"] == "healthy"
        })
    });
    assert!(both, "both slots never served: {:#}", ws.status());
}

fn slot_metric(ws: &TestWorkspace, plugin: &str, slot: &str, name: &str) -> u64 {
    ws.slot(plugin, slot)["metrics"][name]
        .as_u64()
        .unwrap_or_default()
}

/// A slot that answers garbage: the client gets a short reason and a request id, never the
/// slot's address or the error chain; the operator finds the detail under that request id in
/// the plugin's logs. An unknown preview is not answered with the list of live ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_answers_carry_a_reason_and_request_id_and_the_detail_goes_to_the_logs() {
    let mut ws = TestWorkspace::new(&[(
        "echo",
        echo_plugin("echo", "1.0.0", "route = \"/echo\"", false),
    )]);
    write_echo(&ws, "echo");
    ws.start_engine();
    ws.wait_serving("echo");
    let router = ws.router();
    let port = ws.slot("echo", "blue")["port"].as_u64().expect("port");
    let http = client();

    let resp = http
        .get(format!("http://{router}/echo/garbage"))
        .header("x-request-id", "client-chosen-7")
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status(), 502);
    assert_eq!(resp.headers()["x-request-id"], "client-chosen-7");
    let body = resp.text().await.expect("body");
    assert_eq!(
        body,
        "naap: bad gateway: the service sent an invalid response\nrequest id: client-chosen-7\n"
    );
    for internal in [
        "127.0.0.1",
        &port.to_string(),
        "client error",
        "HTTP version",
    ] {
        assert!(!body.contains(internal), "{internal:?} leaked: {body}");
    }
    let logged = wait_for(Duration::from_secs(10), || {
        ws.json_lines(&["logs", "echo", "--grep", "client-chosen-7"])
            .iter()
            .any(|l| {
                let m = l["message"].as_str().unwrap_or("");
                l["source"] == "engine"
                    && l["slot"] == "blue"
                    && m.contains("invalid HTTP version")
                    && m.contains(&format!("127.0.0.1:{port}"))
            })
    });
    assert!(
        logged,
        "no detailed engine line in the plugin's logs: {:#?}",
        ws.json_lines(&["logs", "echo"])
    );

    // Without a client id, one is made, forwarded to the slot and shown on errors.
    let seen: serde_json::Value = http
        .get(format!("http://{router}/echo/who"))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    let made = seen["request_id"].as_str().unwrap_or("");
    assert_eq!(made.len(), 32, "{seen}");
    let resp = http
        .get(format!("http://{router}/echo/garbage"))
        .send()
        .await
        .expect("answer");
    let id = resp.headers()["x-request-id"]
        .to_str()
        .expect("text")
        .to_string();
    assert_eq!(id.len(), 32);
    assert!(resp.text().await.expect("body").contains(&id));

    let resp = http
        .get(format!("http://{router}/echo/"))
        .header("x-naap-slot", "preview-000000")
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status(), 404);
    let body = resp.text().await.expect("body");
    assert!(
        body.starts_with("naap: plugin echo has no slot preview-000000\n"),
        "{body}"
    );
    assert!(!body.contains("previews"), "{body}");
}

/// A WebSocket echo through the router: the 101 keeps Upgrade, messages go both ways on the
/// one slot chosen at the handshake, and the tunnel is counted while it is open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_echo_is_tunnelled_on_one_slot_and_counted() {
    let mut ws = TestWorkspace::new(&[(
        "echo",
        echo_plugin("echo", "1.0.0", "route = \"/echo\"", false),
    )]);
    write_echo(&ws, "echo");
    ws.start_engine();
    ws.wait_serving("echo");
    half_and_half(&ws, "echo");
    let router = ws.router();

    let mut stream = std::net::TcpStream::connect(&router).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
        .write_all(
            b"GET /echo/chat HTTP/1.1\r\nHost: chat.example\r\nUpgrade: websocket\r\n\
              Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
              Sec-WebSocket-Version: 13\r\n\r\n",
        )
        .expect("handshake");
    let head = read_head(&mut stream).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("\r\nupgrade: websocket\r\n"), "{head}");
    assert!(head.contains("\r\nconnection: upgrade\r\n"), "{head}");
    // RFC 6455's own example key and answer: the slot's handshake arrived intact.
    assert!(
        head.contains("\r\nsec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=\r\n"),
        "{head}"
    );
    let slot = head
        .lines()
        .find_map(|l| l.strip_prefix("x-naap-slot: "))
        .expect("x-naap-slot on the 101")
        .to_string();

    for n in 0..20 {
        let text = format!("message {n}");
        stream
            .write_all(&ws_frame(1, text.as_bytes()))
            .expect("send");
        let (opcode, payload) = ws_read(&mut stream);
        assert_eq!(opcode, 1);
        assert_eq!(String::from_utf8_lossy(&payload), format!("{slot}:{text}"));
    }
    let big = vec![b'x'; 40_000];
    stream.write_all(&ws_frame(2, &big)).expect("send");
    let (opcode, payload) = ws_read(&mut stream);
    assert_eq!((opcode, payload.len()), (2, slot.len() + 1 + big.len()));

    let counted = wait_for(Duration::from_secs(10), || {
        slot_metric(&ws, "echo", &slot, "tunnels_open") == 1
            && slot_metric(&ws, "echo", &slot, "upgrades_total") == 1
    });
    assert!(counted, "tunnel not counted: {:#}", ws.slot("echo", &slot));

    stream
        .write_all(&ws_frame(8, &[0x03, 0xe8]))
        .expect("close");
    assert_eq!(ws_read(&mut stream).0, 8);
    drop(stream);
    let closed = wait_for(Duration::from_secs(10), || {
        slot_metric(&ws, "echo", &slot, "tunnels_open") == 0
    });
    assert!(
        closed,
        "tunnel still counted open: {:#}",
        ws.slot("echo", &slot)
    );
    let prometheus = client()
        .get(format!("http://{}/metrics", ws.admin()))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        prometheus.contains(&format!(
            "naap_upgrades_total{{plugin=\"echo\",slot=\"{slot}\""
        )),
        "{prometheus}"
    );
}

/// What the slot must have seen: plugin, path, host ("" for any).
type Seen = (&'static str, &'static str, &'static str);
/// What a row tests, the raw request, the status the router answers, what the slot saw.
type Row = (&'static str, &'static str, u16, Option<Seen>);

/// Each malformed or unusual request over a raw socket, and what the router answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_hygiene_table() {
    let mut ws = TestWorkspace::new(&[
        (
            "echo",
            echo_plugin("echo", "1.0.0", "route = \"/echo\"", false),
        ),
        (
            "hosted",
            echo_plugin("hosted", "1.0.0", "host = \"a.localhost\"", false),
        ),
    ]);
    write_echo(&ws, "echo");
    write_echo(&ws, "hosted");
    ws.start_engine();
    ws.wait_serving("echo");
    ws.wait_serving("hosted");
    let router = ws.router();

    let table: [Row; 9] = [
        (
            "two Host headers",
            "GET /echo/x HTTP/1.1\r\nHost: a.localhost\r\nHost: b\r\n\r\n",
            400,
            None,
        ),
        (
            "HTTP/1.1 without Host",
            "GET /echo/x HTTP/1.1\r\n\r\n",
            400,
            None,
        ),
        (
            "HTTP/1.0 without Host",
            "GET /echo/x HTTP/1.0\r\n\r\n",
            200,
            Some(("echo", "/x", "")),
        ),
        (
            "absolute-form",
            "GET http://a.localhost/x HTTP/1.1\r\nHost: elsewhere\r\nConnection: close\r\n\r\n",
            200,
            Some(("hosted", "/x", "a.localhost")),
        ),
        (
            "dot segments",
            "GET /nothing/../echo/./y HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
            200,
            Some(("echo", "/y", "h")),
        ),
        (
            "encoded dot segments",
            "GET /echo/%2e%2e/echo/z HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
            200,
            Some(("echo", "/z", "h")),
        ),
        (
            "above the root",
            "GET /echo/../../etc/passwd HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
            400,
            None,
        ),
        (
            "TE: trailers",
            "GET /echo/t HTTP/1.1\r\nHost: h\r\nTE: trailers\r\nConnection: TE, close\r\n\r\n",
            200,
            Some(("echo", "/t", "h")),
        ),
        (
            "HEAD",
            "HEAD /echo/h HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
            200,
            None,
        ),
    ];
    for (what, request, want, seen) in table {
        let (status, body) = status_and_body(&raw_exchange(&router, request.as_bytes()));
        assert_eq!(status, want, "{what}: {body}");
        if let Some((plugin, path, host)) = seen {
            let got: serde_json::Value =
                serde_json::from_str(&body).unwrap_or_else(|e| panic!("{what}: {e}: {body}"));
            assert_eq!(got["plugin"], plugin, "{what}: {got}");
            assert_eq!(got["path"], path, "{what}: {got}");
            if !host.is_empty() {
                assert_eq!(got["host"], host, "{what}: {got}");
            }
        }
    }

    // HTTP/2 with prior knowledge: answered with the server's SETTINGS frame, not dropped.
    let mut preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    preface.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    preface.extend_from_slice(&[0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let answer = raw_exchange(&router, &preface);
    assert!(
        answer.len() >= 9 && answer[3] == 4,
        "no HTTP/2 SETTINGS frame: {answer:?}"
    );
    // And a real HTTP/2 request through it.
    let tcp = tokio::net::TcpStream::connect(&router)
        .await
        .expect("connect");
    let (mut send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .expect("h2c handshake");
    tokio::spawn(conn);
    let req = hyper::Request::get("http://a.localhost/h2?x=1")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .expect("request");
    let resp = send.send_request(req).await.expect("h2 answer");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-naap-slot"], "blue");
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .expect("body")
        .to_bytes();
    let got: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(
        (&got["plugin"], &got["path"], &got["host"]),
        (&"hosted".into(), &"/h2?x=1".into(), &"a.localhost".into()),
        "{got}"
    );
}

/// Both slots at 50 %, one slot's server killed with SIGKILL under load: its requests fail
/// to connect until health checks take it out, and every one of them is retried on the
/// other slot; no request fails, and the retries are counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_slot_costs_no_request_its_requests_are_retried_on_the_other() {
    let mut ws = TestWorkspace::new(&[(
        "echo",
        echo_plugin("echo", "1.0.0", "route = \"/echo\"", true),
    )]);
    write_echo(&ws, "echo");
    ws.start_engine();
    ws.wait_serving("echo");
    half_and_half(&ws, "echo");
    let router = ws.router();

    let load = Load::start(format!("http://{router}/echo/items"), 4);
    let warm = wait_for(Duration::from_secs(10), || {
        slot_metric(&ws, "echo", "green", "requests_total") > 20
    });
    assert!(warm, "no load reached green: {:#}", ws.status());
    let pid: i32 = std::fs::read_to_string(ws.path().join("plugins/echo/pid-green"))
        .expect("green's pid file")
        .trim()
        .parse()
        .expect("a pid");
    // SAFETY: sending a signal to the test's own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);

    let retried = wait_for(Duration::from_secs(20), || {
        slot_metric(&ws, "echo", "green", "retries_total") > 0
    });
    // Keep the load on while the engine reacts (health checks take green out, or the
    // wrapper's server comes back): whichever happens first, no request may fail. Which
    // one wins is timing, so it is not asserted.
    let _ = wait_for(Duration::from_secs(10), || {
        ws.slot("echo", "green")["health"] != "healthy"
    });
    let (sent, failed) = load.finish().await;
    assert!(retried, "no retry counted: {:#}", ws.slot("echo", "green"));
    assert!(sent > 50, "too little load: {sent}");
    assert_eq!(failed, 0, "{failed} of {sent} requests failed");

    let lines = ws.json_lines(&["logs", "echo", "--grep", "retried on slot blue"]);
    assert!(!lines.is_empty(), "{:#?}", ws.json_lines(&["logs", "echo"]));
    let status = ws.status();
    let green = &plugin_of(&status, "echo")["slots"];
    assert!(green.to_string().contains("retries_total"), "{status:#}");
}

/// The case: the live slot (green, 100 %) killed with SIGKILL under load while the
/// previous version stays warm at 0 %. Requests that hit the dead slot before the engine
/// notices are retried on the warm slot; once the engine has taken green out, the warm slot
/// serves until the weights move (no 503 in between). No request fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_live_slot_fails_no_request_while_the_previous_one_is_warm() {
    let mut ws = TestWorkspace::new(&[(
        "echo",
        echo_plugin("echo", "1.0.0", "route = \"/echo\"", false),
    )]);
    write_echo(&ws, "echo");
    ws.start_engine();
    ws.wait_serving("echo");
    ws.json(&["deploy", "echo", "--version", "2.0.0"]);
    let switched = wait_for(Duration::from_secs(30), || {
        ws.slot("echo", "green")["weight"] == 100 && ws.slot("echo", "blue")["health"] == "healthy"
    });
    assert!(switched, "{:#}", ws.status());
    let router = ws.router();

    let load = Load::start(format!("http://{router}/echo/items"), 4);
    let warm = wait_for(Duration::from_secs(10), || {
        slot_metric(&ws, "echo", "green", "requests_total") > 20
    });
    assert!(warm, "no load reached green: {:#}", ws.status());
    let pid = ws.slot("echo", "green")["pid"]
        .as_i64()
        .expect("green's pid");
    // SAFETY: sending a signal to the test's own slot process group.
    assert_eq!(unsafe { libc::kill(-(pid as i32), libc::SIGKILL) }, 0);

    let before = slot_metric(&ws, "echo", "blue", "requests_total");
    let blue_serves = wait_for(Duration::from_secs(20), || {
        slot_metric(&ws, "echo", "blue", "requests_total") > before + 50
    });
    let (sent, failed) = load.finish().await;
    assert!(blue_serves, "{:#}", ws.status());
    assert!(sent > 50, "too little load: {sent}");
    assert_eq!(failed, 0, "{failed} of {sent} requests failed");
}
