//! Time from the first bad request of a canary to the automatic rollback, under load, end to
//! end through the real binary.
//!
//! `cargo bench --bench bad_request_rollback` starts an engine on a throw-away workspace whose
//! plugin `bench` is the built-in sample service. Versions `2.*` answer 20 % of requests with
//! an injected 500 (`--error-rate 0.2`); `[rollback] on_error_rate = 0.05` guards it. With
//! keep-alive clients loading the router, N times: `naap deploy bench --version 2.0.i` starts
//! a canary at 10 % (the next step is 10 minutes away, so only the guard can end it), and the
//! benchmark waits until the engine has rolled it back. From the recorded responses it takes
//!
//! * the start of the first request the canary answered with a 500 (the first bad request),
//! * the start of the last request the router sent to the canary (the flip back),
//!
//! and reports the difference. Every other response must be a 2xx: a failure that is not the
//! canary's own injected error fails the run.
//!
//! Environment: `BAD_ROLLBACK_ITERATIONS` (default 20), `BAD_ROLLBACK_CLIENTS` (default 8).
//! Under `cargo test` (no `--bench`) it is a smoke test: one iteration.

mod support;

use std::process::ExitCode;
use std::time::{Duration, Instant};
use support::{Clients, Engine, Sample, Slot, bench_mode, env_usize, naap_bin};

const MANIFEST_TAIL: &str = "[strategy]\nkind = \"canary\"\nsteps = [10, 100]\n\
     step_interval = \"10m\"\n\n[rollback]\non_error_rate = 0.05\nkeep_previous_warm = \"30m\"\n";

/// Versions 2.* inject errors; the shell picks the flag by version.
const RUN_ARGS: &str = " $(case {version} in 2.*) echo --error-rate 0.2;; esac)";

struct Iteration {
    launched: u64,
    settled: u64,
}

fn main() -> ExitCode {
    let bench = bench_mode();
    let iterations = if bench {
        env_usize("BAD_ROLLBACK_ITERATIONS", 20)
    } else {
        1
    };
    let clients = env_usize("BAD_ROLLBACK_CLIENTS", 8);
    let started = Instant::now();

    let mut engine = Engine::start("naap-bad-rollback-bench", |dir| {
        support::write_workspace(dir, RUN_ARGS, MANIFEST_TAIL)
    });
    let router = engine.wait_ready(Duration::from_secs(30));
    let url = format!("http://{router}/bench/api/items");
    let load_clients = Clients::start(&url, clients);
    let load = load_clients.load.clone();
    std::thread::sleep(Duration::from_millis(300));

    let mut done = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let version = format!("2.0.{i}");
        let launched = load.now();
        // The deploy call lasts as long as the rollout does; the rollback ends it.
        let mut deploy = engine
            .command(&["deploy", "bench", "--version", &version, "--json"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("run naap deploy");
        wait_rolled_back(&engine, i, Duration::from_secs(30));
        let _ = deploy.wait();
        done.push(Iteration {
            launched,
            settled: load.now(),
        });
        // Some clean traffic between iterations, so each canary starts from a quiet window.
        std::thread::sleep(Duration::from_millis(200));
    }

    let (samples, seconds) = load_clients.finish();
    let history = engine.json(&["history", "bench", "-n", "1000"]);
    drop(engine);

    let mut to_rollback_ms = Vec::new();
    let mut canary_requests = Vec::new();
    for (i, it) in done.iter().enumerate() {
        let window: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.start >= it.launched && s.start < it.settled)
            .collect();
        let first_bad = window
            .iter()
            .filter(|s| s.slot == Slot::Green && s.status == 500)
            .map(|s| s.start)
            .min();
        let last_to_canary = window
            .iter()
            .filter(|s| s.slot == Slot::Green)
            .map(|s| s.start)
            .max();
        let (Some(first_bad), Some(last)) = (first_bad, last_to_canary) else {
            eprintln!("iteration {i}: the canary answered no bad request; nothing to measure");
            return ExitCode::FAILURE;
        };
        to_rollback_ms.push((last - first_bad) as f64 / 1e6);
        canary_requests.push(window.iter().filter(|s| s.slot == Slot::Green).count() as f64);
    }
    let is_injected = |s: &&Sample| s.slot == Slot::Green && s.status == 500;
    let injected = samples.iter().filter(is_injected).count();
    let other_failures = samples
        .iter()
        .filter(|s| !s.ok() && !is_injected(s))
        .count();
    let auto_rollbacks = history["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["kind"] == "auto_rollback")
        .count();

    println!(
        "\nfirst bad request → automatic rollback — {iterations} canary deploy(s) at 10 % with \
         20 % injected errors, {clients} keep-alive clients, {} ({})\n",
        if bench { "bench" } else { "smoke test" },
        naap_bin().display()
    );
    support::print_table(&[(
        "first bad request → last request sent to the canary",
        to_rollback_ms,
    )]);
    let mut sorted = canary_requests.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "\nrequests: {} in {seconds:.1} s ({:.0} req/s); canary requests per iteration: median {:.0}; \
         injected 500s answered by the canary: {injected}; other failures: {other_failures}; \
         auto_rollback events: {auto_rollbacks}",
        samples.len(),
        samples.len() as f64 / seconds,
        support::percentile(&sorted, 50.0),
    );
    if !bench {
        println!(
            "smoke test done in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    if other_failures > 0 || auto_rollbacks < iterations {
        eprintln!(
            "bad_request_rollback: {other_failures} failures outside the canary's injected errors, \
             {auto_rollbacks} automatic rollbacks for {iterations} canaries"
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Waits until the engine has rolled back the canary of iteration `i` automatically (its
/// `i + 1`-th `auto_rollback` event) and the rollout has ended.
fn wait_rolled_back(engine: &Engine, i: usize, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let mut last = serde_json::Value::Null;
    while Instant::now() < deadline {
        let auto_rollbacks = engine
            .command(&["history", "bench", "-n", "1000", "--json"])
            .output()
            .ok()
            .and_then(|o| serde_json::from_slice::<serde_json::Value>(&o.stdout).ok())
            .map(|h| {
                h["events"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|e| e["kind"] == "auto_rollback")
                    .count()
            })
            .unwrap_or(0);
        if auto_rollbacks > i
            && let Ok(output) = engine.command(&["status", "bench", "--json"]).output()
            && let Ok(status) = serde_json::from_slice::<serde_json::Value>(&output.stdout)
        {
            if status["plugins"][0]["rollout"].is_null() {
                return;
            }
            last = status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "iteration {i}: the canary was not rolled back within {timeout:?}; last status: {last}\n{}",
        engine.log_tail()
    );
}
