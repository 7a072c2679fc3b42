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

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The slot the engine rolls back to (the warm previous one).
const OLD: Slot = Slot::Blue;
/// The slot the deploy moved traffic to.
const NEW: Slot = Slot::Green;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Blue,
    Green,
    Unknown,
}

impl Slot {
    fn from_header(value: Option<&reqwest::header::HeaderValue>) -> Slot {
        match value.map(|v| v.as_bytes()) {
            Some(b"blue") => Slot::Blue,
            Some(b"green") => Slot::Green,
            _ => Slot::Unknown,
        }
    }
}

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
        let bench = std::env::args().skip(1).any(|a| a == "--bench");
        let env_usize = |name: &str, default: usize| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .filter(|n| *n > 0)
                .unwrap_or(default)
        };
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

/// The naap binary cargo built for this target (release under `cargo bench`).
fn naap_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_naap"))
}

/// An engine on a temporary workspace; stops the engine and its plugins when dropped, also
/// when the benchmark panics.
struct Engine {
    bin: PathBuf,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Engine {
    fn start(bin: PathBuf) -> Engine {
        let dir = tempfile::Builder::new()
            .prefix("naap-rollback-bench")
            .tempdir()
            .expect("create a temporary workspace");
        write_workspace(dir.path());
        let log = std::fs::File::create(dir.path().join("engine.log")).expect("create engine.log");
        let child = Command::new(&bin)
            .arg("serve")
            .arg("--workspace")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log file handle"))
            .stderr(log)
            .spawn()
            .expect("start `naap serve`");
        Engine {
            bin,
            dir,
            child: Some(child),
        }
    }

    /// Runs a client command against this engine (never starting another one).
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--workspace")
            .arg(self.dir.path())
            .arg("--no-start")
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs a `--json` command; panics with its output unless it succeeds.
    fn json(&self, args: &[&str]) -> serde_json::Value {
        let output = self.command(args).arg("--json").output().expect("run naap");
        parse_json(args, &output)
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("engine.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Waits until the engine answers and `slot` of plugin bench is healthy with all the
    /// traffic; returns the router's address.
    fn wait_ready(&mut self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!(
                    "the engine exited ({status}) before it was ready:\n{}",
                    self.log_tail()
                );
            }
            if let Ok(output) = self.command(&["status", "--json"]).output()
                && output.status.success()
                && let Ok(status) = serde_json::from_slice::<serde_json::Value>(&output.stdout)
            {
                let router = status["engine"]["router"].as_str().map(str::to_owned);
                let ready = status["plugins"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| p["name"] == "bench")
                    .flat_map(|p| p["slots"].as_array().into_iter().flatten())
                    .any(|s| s["slot"] == "blue" && s["health"] == "healthy" && s["weight"] == 100);
                if let (Some(router), true) = (router, ready) {
                    return router;
                }
                last = String::from_utf8_lossy(&output.stdout).into_owned();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "engine not ready after {timeout:?}; last status: {last}\n{}",
            self.log_tail()
        );
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self
            .command(&["stop", "--plugins"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let Some(mut child) = self.child.take() else {
            return;
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("rollback_latency: the engine did not stop in 10 s; killing it");
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn write_workspace(dir: &Path) {
    let plugin = dir.join("plugins").join("bench");
    std::fs::create_dir_all(&plugin).expect("create the plugin directory");
    std::fs::write(
        dir.join("naap.toml"),
        "[router]\nlisten = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\n\n\
         [[plugins]]\npath = \"plugins/bench\"\n",
    )
    .expect("write naap.toml");
    std::fs::write(
        plugin.join("plugin.toml"),
        "[plugin]\nname = \"bench\"\nversion = \"1.0.0\"\nroute = \"/bench\"\n\n\
         [run]\ncommand = \"{naap} sample-service --port {port} --version {version}\"\n\n\
         [health]\ninterval = \"1s\"\ntimeout = \"500ms\"\n\n\
         [strategy]\nkind = \"blue-green\"\n\n\
         [rollback]\nkeep_previous_warm = \"30m\"\n",
    )
    .expect("write plugin.toml");
}

fn parse_json(args: &[&str], output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "`naap {}` failed ({}):\n{}{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "`naap {}` printed no JSON ({e}): {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// One request of the load, times in nanoseconds since `Load::base`.
#[derive(Clone, Copy)]
struct Sample {
    start: u64,
    end: u64,
    slot: Slot,
    ok: bool,
}

/// State the load's clients share with the benchmark's main thread.
struct Load {
    base: Instant,
    stop: AtomicBool,
    /// Start time of the latest successful request each slot answered (0: none yet); lets
    /// the main thread wait until a slot answered a request started after some instant.
    latest_start: [AtomicU64; 2],
}

impl Load {
    fn now(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn latest_start(&self, slot: Slot) -> u64 {
        match slot {
            Slot::Blue => self.latest_start[0].load(Ordering::Acquire),
            Slot::Green => self.latest_start[1].load(Ordering::Acquire),
            Slot::Unknown => 0,
        }
    }

    /// Waits until `slot` answered a request that started at or after `since` (> 0).
    fn wait_for_slot(&self, slot: Slot, since: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.latest_start(slot) >= since {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

async fn client_loop(url: String, load: Arc<Load>) -> Vec<Sample> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(5))
        .build()
        .expect("build an HTTP client");
    let mut samples = Vec::with_capacity(64 * 1024);
    while !load.stop.load(Ordering::Relaxed) {
        let start = load.now();
        let (slot, ok) = match client.get(&url).send().await {
            Ok(response) => {
                let slot = Slot::from_header(response.headers().get("x-naap-slot"));
                let success = response.status().is_success();
                // A body cut short is a failed request too.
                let body = response.bytes().await;
                (slot, success && body.is_ok())
            }
            Err(_) => (Slot::Unknown, false),
        };
        let end = load.now();
        if ok {
            match slot {
                Slot::Blue => load.latest_start[0].fetch_max(start, Ordering::AcqRel),
                Slot::Green => load.latest_start[1].fetch_max(start, Ordering::AcqRel),
                Slot::Unknown => 0,
            };
        }
        samples.push(Sample {
            start,
            end,
            slot,
            ok,
        });
    }
    samples
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
    let mut engine = Engine::start(naap_bin());
    let router = engine.wait_ready(Duration::from_secs(30));
    let url = format!("http://{router}/bench/api/items");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("build the load's tokio runtime");
    let load = Arc::new(Load {
        base: Instant::now(),
        stop: AtomicBool::new(false),
        latest_start: [AtomicU64::new(0), AtomicU64::new(0)],
    });
    let clients: Vec<_> = (0..config.clients)
        .map(|_| runtime.spawn(client_loop(url.clone(), Arc::clone(&load))))
        .collect();

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

    load.stop.store(true, Ordering::Relaxed);
    let mut samples = Vec::new();
    for client in clients {
        samples.extend(runtime.block_on(client).expect("a load client panicked"));
    }
    let seconds = load.base.elapsed().as_secs_f64();
    drop(runtime);
    drop(engine);

    let mut first_answer_ms = Vec::with_capacity(iterations.len());
    let mut stray = 0;
    for (i, it) in iterations.iter().enumerate() {
        let in_window = |s: &&Sample| s.ok && s.start >= it.launched && s.start < it.forward;
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
        failed: samples.iter().filter(|s| !s.ok).count(),
        unknown_slot: samples
            .iter()
            .filter(|s| s.ok && s.slot == Slot::Unknown)
            .count(),
        stray,
        seconds,
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
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
    println!("| figure | p50 ms | p95 ms | max ms |");
    println!("| --- | ---: | ---: | ---: |");
    for (name, values) in &summary.rows {
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        println!(
            "| {name} | {:.2} | {:.2} | {:.2} |",
            percentile(&sorted, 50.0),
            percentile(&sorted, 95.0),
            percentile(&sorted, 100.0)
        );
    }
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
