//! Under continuous load from several clients, 20 deploys, weight changes and rollbacks in a
//! row lose no request: 0 non-2xx, 0 connection errors.

mod common;
use common::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_changes_under_load_lose_no_request() {
    let mut ws = TestWorkspace::new(&[("load", sample_plugin("load", "1.0.0", ""))]);
    ws.start_engine();
    ws.wait_serving("load");
    let url = format!("http://{}/load/api/items", ws.router());

    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut clients = Vec::new();
    for _ in 0..6 {
        let (stop, ok, failures, url) = (stop.clone(), ok.clone(), failures.clone(), url.clone());
        clients.push(tokio::spawn(async move {
            let http = client();
            while !stop.load(Ordering::Relaxed) {
                match get(&http, &url).await {
                    Ok((200, _, _)) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok((status, slot, version)) => failures
                        .lock()
                        .expect("lock")
                        .push(format!("{status} from {slot} {version}")),
                    Err(e) => failures.lock().expect("lock").push(e),
                }
            }
        }));
    }

    let ops: Vec<Vec<String>> = (0..20)
        .map(|i| match i % 5 {
            0 => vec![
                "deploy".into(),
                "load".into(),
                "--version".into(),
                format!("1.{}.0", i + 1),
            ],
            1 => vec![
                "traffic".into(),
                "load".into(),
                "blue=50".into(),
                "green=50".into(),
            ],
            2 => vec![
                "traffic".into(),
                "load".into(),
                "blue=100".into(),
                "green=0".into(),
            ],
            3 => vec![
                "traffic".into(),
                "load".into(),
                "blue=0".into(),
                "green=100".into(),
            ],
            _ => vec!["rollback".into(), "load".into(), "--yes".into()],
        })
        .collect();
    let ops_ws = ws.path().to_path_buf();
    let op_results = tokio::task::spawn_blocking(move || {
        let mut results = Vec::new();
        for op in ops {
            let out = std::process::Command::new(NAAP)
                .arg("--workspace")
                .arg(&ops_ws)
                .args(&op)
                .output()
                .expect("naap");
            results.push((op, out.status.success(), stderr(&out)));
        }
        results
    })
    .await
    .expect("ops");
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        let _ = c.await;
    }

    // Both slots stay serving throughout (the previous one is kept warm), so every
    // operation must succeed.
    for (op, success, err) in &op_results {
        assert!(*success, "{op:?} failed: {err}");
    }
    let failures = failures.lock().expect("lock");
    let served = ok.load(Ordering::Relaxed);
    assert!(
        served > 200,
        "the load generator barely ran ({served} requests)"
    );
    assert!(
        failures.is_empty(),
        "{} of {} requests failed, first: {:?}",
        failures.len(),
        served + failures.len() as u64,
        failures.iter().take(5).collect::<Vec<_>>()
    );
}
