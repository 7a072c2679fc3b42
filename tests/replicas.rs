//! Replicas against a real engine, real processes and the real router: three replicas
//! share the load, `scale` up and down and a killed replica lose no request, the router
//! ejects a replica answering 500s, a rolling restart loses no request, and a process
//! allocating past its memory limit is reported as out of memory.

mod common;
use common::*;
use std::time::Duration;

fn replicated(name: &str, replicas: u32, extra: &str) -> String {
    sample_plugin(name, "1.0.0", extra).replace(
        "startup_timeout = \"20s\"",
        &format!("startup_timeout = \"20s\"\nreplicas = {replicas}"),
    )
}

fn replicas_of(ws: &TestWorkspace, plugin: &str) -> Vec<serde_json::Value> {
    let status = ws.status();
    let slot = plugin_of(&status, plugin)["slots"]
        .as_array()
        .expect("slots")
        .iter()
        .find(|s| s["weight"].as_u64() == Some(100))
        .cloned()
        .expect("a live slot");
    slot["replicas"].as_array().cloned().unwrap_or_default()
}

fn serving(replicas: &[serde_json::Value]) -> usize {
    replicas
        .iter()
        .filter(|r| r["health"] == "healthy" && r["process_state"] == "running")
        .count()
}

/// Waits until `n` replicas of `plugin`'s live slot serve; fails saying `what` with the
/// status when they never do.
fn wait_replicas(ws: &TestWorkspace, plugin: &str, n: usize, what: &str) {
    assert!(
        wait_for(Duration::from_secs(20), || serving(&replicas_of(
            ws, plugin
        )) == n),
        "{what}: {:#}",
        ws.status()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_share_the_load_and_scale_and_a_kill_lose_nothing() {
    let mut ws = TestWorkspace::new(&[("shop", replicated("shop", 3, ""))]);
    ws.start_engine();
    ws.wait_serving("shop");
    wait_replicas(&ws, "shop", 3, "three replicas never served");
    let text = stdout(&ws.naap(&["status"]));
    assert!(text.contains(" replicas: 0 healthy :"), "{text}");
    let url = format!("http://{}/shop/api/items", ws.router());

    // Least outstanding with a random start: each replica gets a fair share.
    let load = Load::start(url.clone(), 6);
    assert!(wait_for(Duration::from_secs(20), || {
        replicas_of(&ws, "shop")
            .iter()
            .all(|r| r["stats"]["requests_total"].as_u64().unwrap_or(0) >= 50)
    }));
    let replicas = replicas_of(&ws, "shop");
    let counts: Vec<u64> = replicas
        .iter()
        .map(|r| r["stats"]["requests_total"].as_u64().unwrap_or(0))
        .collect();
    let total: u64 = counts.iter().sum();
    for c in &counts {
        assert!(
            *c * 6 >= total,
            "a replica got less than a sixth: {counts:?}"
        );
    }
    let ports: std::collections::BTreeSet<u64> =
        replicas.iter().filter_map(|r| r["port"].as_u64()).collect();
    assert_eq!(ports.len(), 3, "each replica has its own port");

    // Scale up and down under load.
    let out = ws.json(&["scale", "shop", "5"]);
    assert_eq!(out["kind"], "scale", "{out:#}");
    assert_eq!(serving(&replicas_of(&ws, "shop")), 5);
    let out = ws.json(&["scale", "shop", "2"]);
    assert_eq!(out["kind"], "scale", "{out:#}");
    assert_eq!(replicas_of(&ws, "shop").len(), 2);

    // One replica killed outright: the router retries on its sibling, health takes it out.
    let victim = replicas_of(&ws, "shop")[1]["pid"].as_u64().expect("a pid") as i32;
    // SAFETY: kill has no memory-safety preconditions; the pid is a replica we started.
    unsafe { libc::kill(-victim, libc::SIGKILL) };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (sent, failed) = load.finish().await;
    assert!(sent > 300, "the load ran: {sent}");
    assert_eq!(failed, 0, "{failed} of {sent} requests failed");

    // The scale lasts: the history says who scaled, and the next deploy keeps two.
    let history = ws.naap(&["history", "shop"]);
    assert!(
        stdout(&history).contains("replica(s) per slot"),
        "{}",
        stdout(&history)
    );
    ws.json(&["deploy", "shop", "--version", "1.1.0"]);
    assert_eq!(replicas_of(&ws, "shop").len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_replaces_every_process_and_loses_nothing() {
    let mut ws = TestWorkspace::new(&[("shop", replicated("shop", 2, ""))]);
    ws.start_engine();
    ws.wait_serving("shop");
    wait_replicas(&ws, "shop", 2, "two replicas never served");
    let before: Vec<u64> = replicas_of(&ws, "shop")
        .iter()
        .filter_map(|r| r["pid"].as_u64())
        .collect();
    let url = format!("http://{}/shop/api/items", ws.router());
    let load = Load::start(url, 4);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let out = ws.json(&["restart", "shop"]);
    assert_eq!(out["kind"], "restart", "{out:#}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (sent, failed) = load.finish().await;
    assert_eq!(failed, 0, "{failed} of {sent} requests failed");
    let after: Vec<u64> = replicas_of(&ws, "shop")
        .iter()
        .filter_map(|r| r["pid"].as_u64())
        .collect();
    assert_eq!(after.len(), 2);
    assert!(
        after.iter().all(|p| !before.contains(p)),
        "{before:?} → {after:?}"
    );

    // A single-replica slot restarts too: a second process covers for it meanwhile.
    ws.json(&["scale", "shop", "1"]);
    let pid = ws.slot("shop", "blue")["pid"].as_u64();
    let load = Load::start(format!("http://{}/shop/api/items", ws.router()), 4);
    let out = ws.json(&["restart", "shop", "--slot", "blue"]);
    assert_eq!(out["kind"], "restart", "{out:#}");
    let (sent, failed) = load.finish().await;
    assert_eq!(failed, 0, "{failed} of {sent} requests failed");
    assert_ne!(ws.slot("shop", "blue")["pid"].as_u64(), pid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_ejects_a_replica_answering_500s_and_probes_it_back() {
    // Replica 1 answers every API request with a 500; its health checks still pass.
    let manifest = replicated(
        "shop",
        3,
        "$([ \\\"$NAAP_REPLICA\\\" = 1 ] && echo --error-rate 1.0)",
    ) + "\n[outlier_detection]\nconsecutive_errors = 3\nbase_ejection = \"1s\"\n";
    let mut ws = TestWorkspace::new(&[("shop", manifest)]);
    ws.start_engine();
    ws.wait_serving("shop");
    wait_replicas(&ws, "shop", 3, "three replicas never served");
    let url = format!("http://{}/shop/api/items", ws.router());
    let load = Load::start(url, 4);
    assert!(
        wait_for(Duration::from_secs(20), || {
            let events = ws.naap(&["history", "shop"]);
            stdout(&events).contains("ejected blue replica 1")
        }),
        "no ejection: {}",
        stdout(&ws.naap(&["history", "shop"]))
    );
    // Ejected, probed, ejected again: its share of requests stays small.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (sent, failed) = load.finish().await;
    let bad = &replicas_of(&ws, "shop")[1];
    assert!(
        bad["stats"]["ejections_total"].as_u64().unwrap_or(0) >= 2,
        "{bad:#}"
    );
    assert!(
        failed * 10 < sent,
        "{failed} of {sent} failed: the ejected replica still got its share"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_past_its_memory_limit_is_reported_out_of_memory() {
    // A Python server that allocates 400 MiB when asked, under a 256Mi limit. No cgroup is
    // delegated to naap here, so the limit is an rlimit: the allocation fails, Python
    // raises MemoryError, and the server exits with its traceback on stderr.
    let manifest = r#"[plugin]
name = "hog"
version = "1.0.0"
route = "/hog"

[run]
command = "exec python3 hog.py"
stop_grace = "2s"

[resources]
memory = "256Mi"
open_files = 256

[health]
path = "/"
interval = "200ms"
timeout = "150ms"
"#;
    let mut ws = TestWorkspace::new(&[("hog", manifest.to_string())]);
    ws.write(
        "plugins/hog/hog.py",
        r#"import http.server, os, sys, traceback
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/eat":
            try:
                block = bytearray(400 * 1024 * 1024)
            except MemoryError:
                traceback.print_exc()
                sys.stderr.flush()
                os._exit(1)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"#,
    );
    ws.start_engine();
    ws.wait_serving("hog");
    let status = ws.status();
    let limits = &plugin_of(&status, "hog")["slots"][0]["limits"];
    assert_eq!(limits["mechanism"], "rlimit", "{limits:#}");
    assert!(
        limits["lines"][0]
            .as_str()
            .unwrap_or("")
            .contains("memory 256Mi"),
        "{limits:#}"
    );
    let text = stdout(&ws.naap(&["status"]));
    assert!(text.contains("limits (rlimit): memory 256Mi"), "{text}");
    let _ = get(&client(), &format!("http://{}/hog/eat", ws.router())).await;
    assert!(
        wait_for(Duration::from_secs(15), || {
            stdout(&ws.naap(&["history", "hog"]))
                .contains("blue killed: out of memory, limit 256Mi")
        }),
        "{}",
        stdout(&ws.naap(&["history", "hog"]))
    );
}

/// Whether process `pid` is gone (or a zombie waiting for its parent).
fn gone(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s[s.rfind(')').unwrap_or(0) + 2..].starts_with('Z'))
        .unwrap_or(true)
}

/// The extra replicas keep no pid in the store, so an engine that crashed leaves them to
/// the next one: it kills them by their markers and starts the slot's replicas again, and
/// a stop with plugins leaves none of them running.
#[test]
fn the_next_engine_replaces_the_replicas_a_killed_engine_left() {
    let mut ws = TestWorkspace::new(&[("shop", replicated("shop", 3, ""))]);
    ws.start_engine();
    ws.wait_serving("shop");
    wait_replicas(&ws, "shop", 3, "three replicas never served");
    let pids = |ws: &TestWorkspace| -> Vec<u64> {
        replicas_of(ws, "shop")
            .iter()
            .filter_map(|r| r["pid"].as_u64())
            .collect()
    };
    let before = pids(&ws);
    ws.kill_engine();
    ws.start_engine();
    ws.wait_serving("shop");
    wait_replicas(&ws, "shop", 3, "three replicas never served again");
    for old in &before[1..] {
        assert!(
            wait_for(Duration::from_secs(10), || gone(*old)),
            "replica pid {old} of the killed engine still runs"
        );
    }
    let after = pids(&ws);
    assert_eq!(after[0], before[0], "replica 0 is adopted: {after:?}");
    common::containment::stop_engine_with_plugins(&mut ws);
    for pid in &after {
        assert!(
            wait_for(Duration::from_secs(10), || gone(*pid)),
            "replica pid {pid} outlived the stop with plugins"
        );
    }
}
