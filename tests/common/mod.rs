//! Test harness: real workspaces in temp dirs, a real `naap serve` child process, the real
//! CLI, and HTTP through the real router. Waits poll with deadlines; nothing sleeps-and-hopes.
#![allow(dead_code)]

pub mod containment;
pub mod fake_llm;
pub mod lifecycle;
pub mod router;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub mod logs;

pub const NAAP: &str = env!("CARGO_BIN_EXE_naap");

/// `naap --workspace WS ARGS --provider openai --model fake-model --base-url FAKE`, with no
/// user AI configuration or key in the way: a face's provider flags, on the fake server.
pub fn naap_on_fake_model(ws: &TestWorkspace, fake: &fake_llm::FakeLlm, args: &[&str]) -> Output {
    Command::new(NAAP)
        .arg("--workspace")
        .arg(ws.path())
        .args(args)
        .args([
            "--provider",
            "openai",
            "--model",
            "fake-model",
            "--base-url",
        ])
        .arg(fake.openai_base())
        .env("NAAP_AI_CONFIG", ws.path().join("no-user-ai.toml"))
        .env_remove("OPENAI_API_KEY")
        .stdin(Stdio::null())
        .output()
        .expect("run naap")
}

/// The workspace's operator (as the `ai` face) on the fake server's OpenAI endpoint.
pub fn operator_on(ws: &TestWorkspace, fake: &fake_llm::FakeLlm) -> naap::ai::operator::Operator {
    naap::ai::setup::operator_for(
        ws.path(),
        &ws.state_dir(),
        naap::core::types::Face::Ai,
        &naap::ai::setup::FaceSettings {
            overrides: naap::ai::config::AiOverrides {
                provider: Some(naap::ai::config::ProviderKind::OpenAi),
                model: Some("fake-model".into()),
                base_url: Some(fake.openai_base()),
                ..Default::default()
            },
            mode: None,
        },
    )
    .expect("an operator on the fake model")
}

/// A workspace in a temp dir, with an engine started on demand and killed on drop.
pub struct TestWorkspace {
    pub dir: tempfile::TempDir,
    pub engine: Option<Child>,
}

/// A plugin running the built-in sample service with the given extra arguments.
pub fn sample_plugin(name: &str, version: &str, extra: &str) -> String {
    format!(
        r#"[plugin]
name = "{name}"
version = "{version}"
route = "/{name}"

[run]
command = "{{naap}} sample-service --name {name} --port {{port}} --version {{version}} {extra}"
stop_grace = "2s"
startup_timeout = "20s"

[health]
path = "/health"
interval = "200ms"
timeout = "150ms"
unhealthy_threshold = 2

[strategy]
kind = "blue-green"

[rollback]
keep_previous_warm = "30m"
"#
    )
}

impl TestWorkspace {
    /// A workspace whose router and admin listen on ephemeral ports.
    pub fn new(plugins: &[(&str, String)]) -> TestWorkspace {
        let dir = tempfile::Builder::new()
            .prefix("naap-test")
            .tempdir()
            .expect("temp dir");
        let mut toml =
            String::from("[router]\nlisten = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\n");
        for (name, manifest) in plugins {
            toml.push_str(&format!("\n[[plugins]]\npath = \"plugins/{name}\"\n"));
            let pdir = dir.path().join("plugins").join(name);
            std::fs::create_dir_all(&pdir).expect("plugin dir");
            std::fs::write(pdir.join("plugin.toml"), manifest).expect("manifest");
        }
        std::fs::write(dir.path().join("naap.toml"), toml).expect("naap.toml");
        TestWorkspace { dir, engine: None }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, text: &str) {
        let file = self.path().join(rel);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).expect("dir");
        }
        std::fs::write(file, text).expect("write");
    }

    /// Puts `lines` at the top of naap.toml, where top-level keys (`environment`) must go.
    pub fn prepend_to_naap_toml(&self, lines: &str) {
        let toml = std::fs::read_to_string(self.path().join("naap.toml")).expect("naap.toml");
        self.write("naap.toml", &format!("{lines}\n{toml}"));
    }

    /// Starts `naap serve` as a child process and waits for its socket to answer.
    pub fn start_engine(&mut self) {
        let log = std::fs::File::create(self.path().join("serve.out")).expect("serve log");
        let err = log.try_clone().expect("clone");
        let child = Command::new(NAAP)
            .args(["serve", "--workspace"])
            .arg(self.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .expect("spawn naap serve");
        self.engine = Some(child);
        let ok = wait_for(Duration::from_secs(30), || {
            let exited = self
                .engine
                .as_mut()
                .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))));
            assert!(
                !exited,
                "naap serve exited; serve.out:\n{}",
                self.serve_output()
            );
            self.naap(&["--no-start", "status", "--json"])
                .status
                .success()
        });
        assert!(
            ok,
            "engine did not answer; serve.out:\n{}",
            self.serve_output()
        );
    }

    pub fn serve_output(&self) -> String {
        std::fs::read_to_string(self.path().join("serve.out")).unwrap_or_default()
    }

    /// SIGKILL of the engine: no chance to clean up.
    pub fn kill_engine(&mut self) {
        if let Some(mut child) = self.engine.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Runs the CLI against this workspace.
    pub fn naap(&self, args: &[&str]) -> Output {
        Command::new(NAAP)
            .arg("--workspace")
            .arg(self.path())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run naap")
    }

    /// Runs the CLI and parses its `--json` output; panics with stderr when it fails.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut full = args.to_vec();
        full.push("--json");
        let out = self.naap(&full);
        assert!(
            out.status.success(),
            "naap {args:?} failed: {}\n{}",
            stderr(&out),
            stdout(&out)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("naap {args:?}: not JSON ({e}): {}", stdout(&out)))
    }

    /// Runs a command whose `--json` output is JSON Lines (`logs`), one value per line.
    pub fn json_lines(&self, args: &[&str]) -> Vec<Value> {
        let mut full = args.to_vec();
        full.push("--json");
        let out = self.naap(&full);
        assert!(
            out.status.success(),
            "naap {args:?} failed: {}",
            stderr(&out)
        );
        stdout(&out)
            .lines()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("naap {args:?}: line is not JSON ({e}): {l}"))
            })
            .collect()
    }

    pub fn status(&self) -> Value {
        self.json(&["--no-start", "status"])
    }

    pub fn router(&self) -> String {
        self.status()["engine"]["router"]
            .as_str()
            .expect("router address")
            .to_string()
    }

    pub fn admin(&self) -> String {
        self.status()["engine"]["admin"]
            .as_str()
            .expect("admin address")
            .to_string()
    }

    /// The slot object of a plugin in `status --json`.
    pub fn slot(&self, plugin: &str, slot: &str) -> Value {
        let status = self.status();
        let p = plugin_of(&status, plugin);
        p["slots"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["slot"] == slot).cloned())
            .unwrap_or(Value::Null)
    }

    /// Waits until the plugin serves from a healthy slot with weight.
    pub fn wait_serving(&self, plugin: &str) {
        let ok = wait_for(Duration::from_secs(30), || {
            let status = self.status();
            plugin_of(&status, plugin)["slots"]
                .as_array()
                .is_some_and(|slots| {
                    slots
                        .iter()
                        .any(|s| s["weight"].as_u64() > Some(0) && s["health"] == "healthy")
                })
        });
        assert!(
            ok,
            "{plugin} never served: {:#}\nserve.out:\n{}",
            self.status(),
            self.serve_output()
        );
    }

    pub fn state_dir(&self) -> PathBuf {
        self.path().join(".naap")
    }
}

impl Drop for TestWorkspace {
    fn drop(&mut self) {
        if self.engine.is_some() {
            let _ = self.naap(&["--no-start", "stop", "--plugins"]);
            if let Some(mut child) = self.engine.take() {
                let deadline = Instant::now() + Duration::from_secs(10);
                while Instant::now() < deadline {
                    if let Ok(Some(_)) = child.try_wait() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        kill_slot_processes(&self.state_dir());
    }
}

/// Kills every slot process group recorded in the store, so a failed test leaves nothing.
fn kill_slot_processes(state_dir: &Path) {
    let Ok(conn) = rusqlite::Connection::open(state_dir.join("naap.db")) else {
        return;
    };
    let Ok(mut stmt) = conn.prepare("SELECT pid FROM slots WHERE pid IS NOT NULL") else {
        return;
    };
    let pids: Vec<i64> = stmt
        .query_map([], |r| r.get(0))
        .map(|rows| rows.flatten().collect())
        .unwrap_or_default();
    for pid in pids {
        // SAFETY: sending a signal; at worst the group no longer exists.
        unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
    }
}

pub fn plugin_of<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["plugins"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name))
        .unwrap_or(&Value::Null)
}

pub fn wait_for(timeout: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if ok() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client")
}

/// GET through the router: status and the `x-naap-slot`/`x-naap-version` headers.
pub async fn get(client: &reqwest::Client, url: &str) -> Result<(u16, String, String), String> {
    let resp = client.get(url).send().await.map_err(|e| format!("{e:?}"))?;
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (slot, version) = (header("x-naap-slot"), header("x-naap-version"));
    let status = resp.status().as_u16();
    let _ = resp.bytes().await;
    Ok((status, slot, version))
}

/// The versions that answered `n` requests to `url`.
pub async fn versions_answering(
    client: &reqwest::Client,
    url: &str,
    n: usize,
) -> std::collections::BTreeMap<String, usize> {
    let mut seen = std::collections::BTreeMap::new();
    for _ in 0..n {
        let version = match get(client, url).await {
            Ok((200, _, version)) => version,
            Ok((status, _, _)) => format!("status {status}"),
            Err(e) => format!("error {e}"),
        };
        *seen.entry(version).or_insert(0) += 1;
    }
    seen
}

/// A sample plugin whose 2.0.0 answers 30 % errors (1.0.0 runs clean) and whose guard rolls
/// back above 5 %.
pub fn flaky_v2(name: &str) -> String {
    sample_plugin(name, "1.0.0", "")
        .replace(
            "--version {version} ",
            "--version {version} $([ \\\"$NAAP_VERSION\\\" = 2.0.0 ] && echo --error-rate 0.3)",
        )
        .replace(
            "keep_previous_warm = \"30m\"",
            "keep_previous_warm = \"30m\"\non_error_rate = 0.05\non_health_check_fail = false",
        )
}

/// GETs through the router from `loops` concurrent loops until finished; counts what was
/// sent and what failed (anything but a 200, or no answer).
pub struct Load {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    sent: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    failed: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    pub fn start(url: String, loops: usize) -> Load {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let sent = std::sync::Arc::new(AtomicUsize::new(0));
        let failed = std::sync::Arc::new(AtomicUsize::new(0));
        let tasks = (0..loops.max(1))
            .map(|_| {
                let (stop, sent, failed, url) =
                    (stop.clone(), sent.clone(), failed.clone(), url.clone());
                tokio::spawn(async move {
                    let http = client();
                    while !stop.load(Ordering::Relaxed) {
                        let ok = matches!(get(&http, &url).await, Ok((200, _, _)));
                        sent.fetch_add(1, Ordering::Relaxed);
                        if !ok {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                })
            })
            .collect();
        Load {
            stop,
            sent,
            failed,
            tasks,
        }
    }

    /// Stops the loops; returns (requests sent, requests failed).
    pub async fn finish(self) -> (usize, usize) {
        use std::sync::atomic::Ordering;
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            let _ = task.await;
        }
        (
            self.sent.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}
