//! Rollback latency under load, end to end through the real binary.
//!
//! `cargo bench --bench rollback_latency` starts an engine on a throw-away workspace with one
//! plugin (the built-in sample service), deploys 2.0.0 into green (blue 1.0.0 stays warm),
//! runs keep-alive clients against the router, and then, N times: runs
//! `naap rollback bench --yes --json`, measures
//!
//! * the command's wall time (spawn to exit),
//! * the engine-side `elapsed_ms` from its JSON,
//! * the time from just before launching the command to the first response served by the
//!   old slot (blue) for a request that *started* after the launch,
//!
//! and flips traffic forward again with `naap traffic bench green=100 blue=0`. Every response
//! is recorded (start, end, `x-naap-slot`, status); a non-2xx answer or a connection error is
//! a failed request, and the run fails unless there are none.
//!
//! Environment: `ROLLBACK_ITERATIONS` (default 20), `ROLLBACK_CLIENTS` (default 8).
//!
//! `cargo test --all-targets` runs this target too, without `--bench`: then it is a smoke
//! test (one iteration, short load) that still fails on any failed request.

mod support;

use std::process::ExitCode;
use std::time::{Duration, Instant};
use support::{Clients, Engine, Sample, Slot, bench_mode, env_usize, naap_bin, parse_json};

/// The slot the engine rolls back to (the warm previous one).
const OLD: Slot = Slot::Blue;
/// The slot the deploy moved traffic to.
const NEW: Slot = Slot::Green;

struct Config {
    /// Full benchmark (`cargo bench`) or smoke test (`cargo test`).
    bench: bool,
    iterations: usize,
    clients: usize,
    /// Load before the first and after the last rollback.
    settle: Duration,
}

impl Config {
    fn from_env() -> Config {
        let bench = bench_mode();
        Config {
            bench,
            iterations: if bench {
                env_usize("ROLLBACK_ITERATIONS", 20)
            } else {
                1
            },
            clients: env_usize("ROLLBACK_CLIENTS", 8),
            settle: if bench {
                Duration::from_millis(500)
            } else {
                Duration::from_millis(100)
            },
        }
    }
}

/// The timings of one rollback, nanoseconds since `Load::base` unless said otherwise.
struct Iteration {
    launched: u64,
    returned: u64,
    /// When the forward flip (`naap traffic`) was launched: the end of this iteration.
    forward: u64,
    engine_ms: f64,
}

struct Summary {
    rows: Vec<(&'static str, Vec<f64>)>,
    requests: usize,
    failed: usize,
    unknown_slot: usize,
    stray: usize,
    seconds: f64,
}

fn run(config: &Config) -> Summary {
    let mut engine = Engine::start("naap-rollback-bench", |dir| {
        support::write_workspace(
            dir,
            "",
            "[strategy]\nkind = \"blue-green\"\n\n[rollback]\nkeep_previous_warm = \"30m\"\n",
        )
    });
    let router = engine.wait_ready(Duration::from_secs(30));
    let url = format!("http://{router}/bench/api/items");

    let clients = Clients::start(&url, config.clients);
    let load = clients.load.clone();

    // The deploy runs under load as well: its traffic move counts towards failures too.
    let deployed = engine.json(&["deploy", "bench", "--version", "2.0.0"]);
    assert_eq!(
        deployed["slot"], "green",
        "deploy went elsewhere: {deployed}"
    );
    let since = load.now();
    assert!(
        load.wait_for_slot(NEW, since, Duration::from_secs(5)),
        "no answer from green after the deploy"
    );
    std::thread::sleep(config.settle);

    let mut iterations = Vec::with_capacity(config.iterations);
    let mut wall_ms = Vec::with_capacity(config.iterations);
    for i in 0..config.iterations {
        let args = ["rollback", "bench", "--yes", "--json"];
        let launched = load.now();
        let started = Instant::now();
        let output = engine.command(&args).output().expect("run naap rollback");
        let wall = started.elapsed();
        let returned = load.now();
        let outcome = parse_json(&args, &output);
        assert_eq!(
            outcome["kind"], "flip",
            "rollback {i} was not a weight flip: {outcome}"
        );
        assert_eq!(outcome["slot"], "blue", "rollback {i} went elsewhere");
        let engine_ms = outcome["elapsed_ms"]
            .as_f64()
            .expect("rollback JSON has elapsed_ms");
        assert!(
            load.wait_for_slot(OLD, launched, Duration::from_secs(5)),
            "rollback {i}: no answer from the old slot within 5 s"
        );
        // Some traffic on the old slot before flipping forward again.
        std::thread::sleep(Duration::from_millis(20));

        let forward = load.now();
        engine.json(&["traffic", "bench", "green=100", "blue=0"]);
        assert!(
            load.wait_for_slot(NEW, forward, Duration::from_secs(5)),
            "flip forward {i}: no answer from green within 5 s"
        );
        std::thread::sleep(Duration::from_millis(20));
        wall_ms.push(wall.as_secs_f64() * 1000.0);
        iterations.push(Iteration {
            launched,
            returned,
            forward,
            engine_ms,
        });
    }
    std::thread::sleep(config.settle);

    let (samples, seconds) = clients.finish();
    drop(engine);

    let mut first_answer_ms = Vec::with_capacity(iterations.len());
    let mut stray = 0;
    for (i, it) in iterations.iter().enumerate() {
        let in_window = |s: &&Sample| s.ok() && s.start >= it.launched && s.start < it.forward;
        let first_old = samples
            .iter()
            .filter(in_window)
            .filter(|s| s.slot == OLD)
            .map(|s| s.end)
            .min()
            .unwrap_or_else(|| panic!("rollback {i}: no answer from the old slot recorded"));
        first_answer_ms.push((first_old - it.launched) as f64 / 1e6);
        // After the command returned, every new request must go to the old slot.
        stray += samples
            .iter()
            .filter(in_window)
            .filter(|s| s.start >= it.returned && s.slot == NEW)
            .count();
    }

    Summary {
        rows: vec![
            ("command wall time (spawn → exit)", wall_ms),
            (
                "engine-side elapsed_ms",
                iterations.iter().map(|it| it.engine_ms).collect(),
            ),
            (
                "command launch → first answer from old slot",
                first_answer_ms,
            ),
        ],
        requests: samples.len(),
        failed: samples.iter().filter(|s| !s.ok()).count(),
        unknown_slot: samples
            .iter()
            .filter(|s| s.ok() && s.slot == Slot::Unknown)
            .count(),
        stray,
        seconds,
    }
}

fn main() -> ExitCode {
    let config = Config::from_env();
    let started = Instant::now();
    let summary = run(&config);

    println!(
        "\nrollback latency — {} rollback(s) under load of {} keep-alive clients, {} ({})\n",
        config.iterations,
        config.clients,
        if config.bench { "bench" } else { "smoke test" },
        naap_bin().display()
    );
    support::print_table(&summary.rows);
    println!(
        "\nrequests: {} in {:.1} s ({:.0} req/s), failed (non-2xx or connection error): {}, \
         without x-naap-slot: {}, sent to the new slot after the rollback returned: {}",
        summary.requests,
        summary.seconds,
        summary.requests as f64 / summary.seconds,
        summary.failed,
        summary.unknown_slot,
        summary.stray
    );

    let mut ok = true;
    if summary.failed > 0 {
        eprintln!("rollback_latency: {} failed requests", summary.failed);
        ok = false;
    }
    if summary.unknown_slot > 0 || summary.stray > 0 {
        eprintln!("rollback_latency: responses without a slot header or from the wrong slot");
        ok = false;
    }
    if !config.bench {
        println!(
            "smoke test done in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
