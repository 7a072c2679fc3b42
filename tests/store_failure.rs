//! The store becomes unwritable under a running engine: the engine stays up, the router keeps
//! routing, writes fail with error replies, and `status` says the store is failing until it
//! writes again.

mod common;
use common::lifecycle::Unwritable;
use common::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unwritable_store_keeps_the_engine_serving_and_status_says_so() {
    // Declared first so it is dropped last, even on a panic: the workspace's drop stops the
    // engine through its socket, which lives on the tmpfs of the full-disk fallback.
    let mut broken: Unwritable;
    let mut ws = TestWorkspace::new(&[("web", sample_plugin("web", "1.0.0", ""))]);
    broken = Unwritable::prepare(ws.path(), &ws.state_dir());
    ws.start_engine();
    ws.wait_serving("web");
    let url = format!("http://{}/web/", ws.router());
    let http = client();
    assert_eq!(get(&http, &url).await.map(|r| r.0), Ok(200));

    // Nothing of the database is mmap'd: a shared-memory WAL index that cannot be backed is
    // a SIGBUS, where a failed write is an error.
    let shm = ws.state_dir().join("naap.db-shm");
    assert!(!shm.exists(), "{} exists", shm.display());
    assert_eq!(ws.status()["store"]["ok"], true);

    broken.apply(&ws.state_dir());
    eprintln!("store made unwritable with {}", broken.describe());
    let out = ws.naap(&["--no-start", "deploy", "web", "--version", "1.1.0"]);
    assert!(
        !out.status.success(),
        "deploy succeeded with {}: {}",
        broken.describe(),
        stdout(&out)
    );
    assert!(stderr(&out).contains("naap.db"), "{}", stderr(&out));

    // The engine lives, answers, and says its store fails.
    let status = ws.status();
    assert_eq!(status["store"]["ok"], false, "{status:#}");
    assert!(
        status["store"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("naap.db")),
        "{status:#}"
    );
    assert!(status["store"]["since"].is_string(), "{status:#}");
    let text = stdout(&ws.naap(&["--no-start", "status"]));
    assert!(text.contains("store failing"), "{text}");
    assert!(
        ws.engine
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None))),
        "the engine died; serve.out:\n{}",
        ws.serve_output()
    );
    // The router keeps routing to the live slot.
    for _ in 0..20 {
        assert_eq!(get(&http, &url).await.map(|r| r.0), Ok(200));
    }
    assert_eq!(ws.status()["store"]["ok"], false);

    // Fixed: the engine notices by itself and writes again.
    broken.undo();
    let healed = wait_for(Duration::from_secs(20), || {
        ws.status()["store"]["ok"] == true
    });
    assert!(healed, "the store never recovered: {:#}", ws.status());
    ws.json(&["--no-start", "deploy", "web", "--version", "1.1.0"]);
    let kinds: Vec<String> = ws.json(&["--no-start", "history", "web", "--limit", "200"])["events"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .filter_map(|e| e["kind"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    assert!(kinds.iter().any(|k| k == "deploy_succeeded"), "{kinds:?}");
}
