//! Throughput of the engine's event bus: `Engine::record` (persist to SQLite, then broadcast)
//! and delivery to a subscriber over the engine's real unix socket, as the dashboard and
//! `naap status --watch` receive it.
//!
//! `cargo bench --bench event_bus` starts a real engine in-process on a temporary workspace
//! (one plugin: Python's `http.server`), serves its socket, subscribes a real API client,
//! then records N events as fast as it can, and again paced at 5,000 events/s. It reports
//! events per second recorded, events delivered to the subscriber and how many it missed
//! (a subscriber that falls behind is told how many it missed, never silently).
//!
//! Environment: `BUS_EVENTS` (default 50000). Under `cargo test` (no `--bench`) it is a
//! smoke test with 2,000 events.

use naap::api::Client;
use naap::api::protocol::Call;
use naap::core::engine::{Engine, EngineEvent};
use naap::core::event_kind::EventKind;
use naap::core::types::Face;
use std::process::ExitCode;
use std::time::{Duration, Instant};

struct Run {
    recorded_per_s: f64,
    delivered: u64,
    missed: u64,
    delivered_per_s: f64,
}

async fn run(engine: &Engine, socket: &std::path::Path, events: u64, pace: Option<u64>) -> Run {
    let mut client = Client::connect(socket, Face::Cli)
        .await
        .expect("connect to the engine's socket");
    client
        .call(Call::Subscribe(naap::api::protocol::SubscribeRequest {
            logs: false,
            plugin: None,
        }))
        .await
        .expect("subscribe");
    let tag = EventKind::Other(format!("bench-{}", pace.unwrap_or(0)));
    let counter = {
        let tag = tag.clone();
        tokio::spawn(async move {
            let (mut delivered, mut missed) = (0u64, 0u64);
            let mut last_at = Instant::now();
            while delivered + missed < events {
                let push = tokio::time::timeout(Duration::from_secs(5), client.next_push()).await;
                match push {
                    Ok(Ok(EngineEvent::Event(e))) if e.kind == tag => {
                        delivered += 1;
                        last_at = Instant::now();
                    }
                    Ok(Ok(EngineEvent::Lagged { missed: n })) => missed += n,
                    Ok(Ok(_)) => {}
                    _ => break,
                }
            }
            (delivered, missed, last_at)
        })
    };
    let began = Instant::now();
    for i in 0..events {
        if let Some(rate) = pace {
            let due = began + Duration::from_secs_f64(i as f64 / rate as f64);
            tokio::time::sleep_until(due.into()).await;
        }
        engine.record(
            Some("bench"),
            None,
            tag.clone(),
            format!("bench event {i}"),
            serde_json::json!({ "i": i }),
        );
        // Let the socket writer run now and then, as it would between engine actions.
        if i % 256 == 0 {
            tokio::task::yield_now().await;
        }
    }
    let recorded_s = began.elapsed().as_secs_f64();
    let (delivered, missed, last_at) = counter.await.expect("the subscriber task panicked");
    Run {
        recorded_per_s: events as f64 / recorded_s,
        delivered,
        missed,
        delivered_per_s: delivered as f64 / last_at.duration_since(began).as_secs_f64(),
    }
}

fn main() -> ExitCode {
    let bench = std::env::args().skip(1).any(|a| a == "--bench");
    let events: u64 = if bench {
        std::env::var("BUS_EVENTS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|n| *n > 0)
            .unwrap_or(50_000)
    } else {
        2_000
    };
    let dir = tempfile::Builder::new()
        .prefix("naap-bus-bench")
        .tempdir()
        .expect("create a temporary workspace");
    let plugin = dir.path().join("plugins").join("bench");
    std::fs::create_dir_all(&plugin).expect("create the plugin directory");
    std::fs::write(
        dir.path().join("naap.toml"),
        "[router]\nlisten = \"127.0.0.1:0\"\n\n[[plugins]]\npath = \"plugins/bench\"\n",
    )
    .expect("write naap.toml");
    std::fs::write(
        plugin.join("plugin.toml"),
        "[plugin]\nname = \"bench\"\nversion = \"1.0.0\"\nroute = \"/bench\"\n\n\
         [run]\ncommand = \"exec python3 -m http.server {port} --bind 127.0.0.1\"\n\n\
         [health]\nkind = \"tcp\"\n",
    )
    .expect("write plugin.toml");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("build a tokio runtime");
    let ok = runtime.block_on(async {
        let engine = Engine::start(dir.path()).await.expect("start the engine");
        let socket = naap::core::engine::socket_path(&engine.state_dir());
        tokio::spawn(naap::api::server::serve(engine.clone(), socket.clone()));
        // The server binds the socket in its task; wait for it.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Client::connect(&socket, Face::Cli).await.is_err() {
            assert!(Instant::now() < deadline, "the socket never came up");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        println!(
            "\nevent bus — {events} events per run, one socket subscriber, {}\n",
            if bench { "bench" } else { "smoke test" }
        );
        println!("| run | recorded events/s | delivered | missed | delivered events/s |");
        println!("| --- | ---: | ---: | ---: | ---: |");
        let mut ok = true;
        for (name, pace) in [("burst", None), ("paced 5,000/s", Some(5_000))] {
            let r = run(&engine, &socket, events, pace).await;
            println!(
                "| {name} | {:.0} | {} | {} | {:.0} |",
                r.recorded_per_s, r.delivered, r.missed, r.delivered_per_s
            );
            // Every event is either delivered or reported missed, never silently lost.
            ok &= r.delivered + r.missed == events;
        }
        engine.shutdown(true).await;
        ok
    });
    if ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("event_bus: events were lost without a Lagged notice");
        ExitCode::FAILURE
    }
}
