//! What the end-to-end benchmarks share: an engine on a throw-away workspace run through the
//! real binary, and keep-alive load clients that record every response.
//!
//! Each bench target includes this with `mod support;` and uses only part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    Blue,
    Green,
    Unknown,
}

impl Slot {
    pub fn from_header(value: Option<&reqwest::header::HeaderValue>) -> Slot {
        match value.map(|v| v.as_bytes()) {
            Some(b"blue") => Slot::Blue,
            Some(b"green") => Slot::Green,
            _ => Slot::Unknown,
        }
    }
}

/// Full benchmark (`cargo bench` passes `--bench`) or smoke test (`cargo test`).
pub fn bench_mode() -> bool {
    std::env::args().skip(1).any(|a| a == "--bench")
}

/// A positive number from the environment, or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

/// The naap binary cargo built for this target (release under `cargo bench`).
pub fn naap_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_naap"))
}

/// A workspace with one plugin `bench` (the built-in sample service on route `/bench`);
/// `plugin_tail` is appended to its plugin.toml after `[run]`/`[health]` (strategy,
/// rollback, …). `run_args` is appended to the sample service's command line.
pub fn write_workspace(dir: &Path, run_args: &str, plugin_tail: &str) {
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
        format!(
            "[plugin]\nname = \"bench\"\nversion = \"1.0.0\"\nroute = \"/bench\"\n\n\
             [run]\ncommand = \"{{naap}} sample-service --port {{port}} --version {{version}}{run_args}\"\n\n\
             [health]\ninterval = \"1s\"\ntimeout = \"500ms\"\n\n{plugin_tail}"
        ),
    )
    .expect("write plugin.toml");
}

/// An engine on a temporary workspace; stops the engine and its plugins when dropped, also
/// when the benchmark panics.
pub struct Engine {
    bin: PathBuf,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Engine {
    /// Starts `naap serve` on a fresh workspace that `write` fills in.
    pub fn start(prefix: &str, write: impl FnOnce(&Path)) -> Engine {
        let bin = naap_bin();
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir()
            .expect("create a temporary workspace");
        write(dir.path());
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

    /// The workspace directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs a client command against this engine (never starting another one).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--workspace")
            .arg(self.dir.path())
            .arg("--no-start")
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs a `--json` command; panics with its output unless it succeeds.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let output = self.command(args).arg("--json").output().expect("run naap");
        parse_json(args, &output)
    }

    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("engine.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Waits until the engine answers and blue of plugin bench is healthy with all the
    /// traffic; returns the router's address.
    pub fn wait_ready(&mut self, timeout: Duration) -> String {
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
        eprintln!("bench: the engine did not stop in 10 s; killing it");
        let _ = child.kill();
        let _ = child.wait();
    }
}

pub fn parse_json(args: &[&str], output: &Output) -> serde_json::Value {
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
pub struct Sample {
    pub start: u64,
    pub end: u64,
    pub slot: Slot,
    /// HTTP status; 0 for a connection error or a body cut short.
    pub status: u16,
}

impl Sample {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// State the load's clients share with the benchmark's main thread.
pub struct Load {
    pub base: Instant,
    pub stop: AtomicBool,
    /// Start time of the latest successful request each slot answered (0: none yet); lets
    /// the main thread wait until a slot answered a request started after some instant.
    latest_start: [AtomicU64; 2],
}

impl Load {
    pub fn new() -> Arc<Load> {
        Arc::new(Load {
            base: Instant::now(),
            stop: AtomicBool::new(false),
            latest_start: [AtomicU64::new(0), AtomicU64::new(0)],
        })
    }

    pub fn now(&self) -> u64 {
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
    pub fn wait_for_slot(&self, slot: Slot, since: u64, timeout: Duration) -> bool {
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

/// One keep-alive client sending GETs to `url` until `load.stop`; returns every response.
pub async fn client_loop(url: String, load: Arc<Load>) -> Vec<Sample> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(5))
        .build()
        .expect("build an HTTP client");
    let mut samples = Vec::with_capacity(64 * 1024);
    while !load.stop.load(Ordering::Relaxed) {
        let start = load.now();
        let (slot, status) = match client.get(&url).send().await {
            Ok(response) => {
                let slot = Slot::from_header(response.headers().get("x-naap-slot"));
                let status = response.status().as_u16();
                // A body cut short is a failed request too.
                match response.bytes().await {
                    Ok(_) => (slot, status),
                    Err(_) => (slot, 0),
                }
            }
            Err(_) => (Slot::Unknown, 0),
        };
        let end = load.now();
        if (200..300).contains(&status) {
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
            status,
        });
    }
    samples
}

/// `n` keep-alive clients on a runtime of their own, loading `url` until `finish`.
pub struct Clients {
    runtime: tokio::runtime::Runtime,
    pub load: Arc<Load>,
    tasks: Vec<tokio::task::JoinHandle<Vec<Sample>>>,
}

impl Clients {
    pub fn start(url: &str, n: usize) -> Clients {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("build the load's tokio runtime");
        let load = Load::new();
        let tasks = (0..n)
            .map(|_| runtime.spawn(client_loop(url.to_string(), load.clone())))
            .collect();
        Clients {
            runtime,
            load,
            tasks,
        }
    }

    /// Stops the clients; every response they recorded, and the seconds the load ran.
    pub fn finish(self) -> (Vec<Sample>, f64) {
        self.load.stop.store(true, Ordering::Relaxed);
        let mut samples = Vec::new();
        for task in self.tasks {
            samples.extend(self.runtime.block_on(task).expect("a load client panicked"));
        }
        (samples, self.load.base.elapsed().as_secs_f64())
    }
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Prints a Markdown table row per figure: p50, p95 and max.
pub fn print_table(rows: &[(&str, Vec<f64>)]) {
    println!("| figure | p50 ms | p95 ms | max ms |");
    println!("| --- | ---: | ---: | ---: |");
    for (name, values) in rows {
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        println!(
            "| {name} | {:.2} | {:.2} | {:.2} |",
            percentile(&sorted, 50.0),
            percentile(&sorted, 95.0),
            percentile(&sorted, 100.0)
        );
    }
}
