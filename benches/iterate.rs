//! naap's overhead in iterate, from an instruction to the canary taking traffic, against a
//! local scripted provider (the fake OpenAI SSE server over a real socket) and a real
//! engine running a real Python plugin with a real test gate. Each round:
//!
//! 1. the pipeline: candidate created → the model's turn (a `candidate_edit` tool call,
//!    then its answer) → the diff → the gates on the candidate → the accept proposed with
//!    the engine's dry run;
//! 2. the accept on a yes (hash checked, the source written);
//! 3. the canary deploy on a yes, until the canary slot takes traffic (weight > 0); then
//!    the rollout is aborted so the next round starts from the same place.
//!
//! Measured in the same run for comparison: the same two model replies from the bare
//! provider (HTTP + SSE, no naap), the same test gate run directly in a shell on the same
//! tree, and the same service started directly until it accepts a connection. The heal
//! round adds an edit that breaks the test and the fix the model sends back.
//!
//! `cargo bench --bench iterate` (ROUNDS, default 20). Under `cargo test`: 2 rounds.

#[path = "../tests/common/fake_llm.rs"]
mod fake_llm;
mod support;

use fake_llm::{FakeLlm, Reply, openai_text, openai_tool_calls};
use naap::ai::iterate::pipeline::{IterateEnd, IterateEvent, IterateRequest, ShipAs, iterate};
use naap::ai::operator::Operator;
use naap::ai::policy::Policy;
use naap::ai::provider::{ChatRequest, Message, Provider};
use naap::ai::redact::Redactor;
use naap::ai::tools::Tools;
use naap::api::Client;
use naap::api::protocol::{Call, DeployRequest, PluginRequest, StatusRequest};
use naap::core::engine::{Engine, StatusReport};
use naap::core::types::{Face, StrategyKind};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const SERVER: &str = "import sys\nfrom http.server import BaseHTTPRequestHandler, ThreadingHTTPServer\n\nimport app\n\n\nclass H(BaseHTTPRequestHandler):\n    def do_GET(self):\n        body = app.ORDER.encode()\n        self.send_response(200)\n        self.send_header('content-length', str(len(body)))\n        self.end_headers()\n        self.wfile.write(body)\n\n    def log_message(self, *a):\n        pass\n\n\nThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n";
const TEST: &str = "import unittest\n\nimport app\n\n\nclass T(unittest.TestCase):\n    def test_order(self):\n        self.assertIn(app.ORDER.split()[0], ('oldest', 'newest'))\n";
const GATE: &str = "python3 -m unittest -q";

fn row(name: &str, samples: &mut [f64]) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    let (p50, p99) = (
        support::percentile(samples, 50.0),
        support::percentile(samples, 99.0),
    );
    println!("| {name} | {} | {p50:.1} | {p99:.1} |", samples.len());
    p50
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// An edit turn: the tool call with `app.py`'s new contents, then the model's answer.
fn edit_turn(content: &str) -> [Reply; 2] {
    let edit = serde_json::json!({"edits": [
        {"kind": "whole_file", "path": "app.py", "content": content}
    ]})
    .to_string();
    [
        openai_tool_calls(&[("call_e", "candidate_edit", &edit)]),
        openai_text(&["Changed it."]),
    ]
}

/// The phases of one pipeline run, from its events' arrival times (ms since the start).
#[derive(Default)]
struct Phases {
    created: f64,
    /// Each `Edited` and `Gates` in order.
    edited: Vec<f64>,
    gated: Vec<f64>,
    done: f64,
}

async fn run_pipeline(operator: &Operator, req: &IterateRequest) -> (Phases, String, IterateEnd) {
    let (tx, mut rx) = mpsc::channel(1024);
    let began = Instant::now();
    let work = async {
        let done = iterate(operator, req, &tx).await;
        drop(tx);
        done
    };
    let watch = async {
        let mut phases = Phases::default();
        while let Some(event) = rx.recv().await {
            match event {
                IterateEvent::Created { .. } => phases.created = ms(began),
                IterateEvent::Edited { .. } => phases.edited.push(ms(began)),
                IterateEvent::Gates { .. } => phases.gated.push(ms(began)),
                _ => {}
            }
        }
        phases
    };
    let (done, mut phases) = tokio::join!(work, watch);
    phases.done = ms(began);
    let done = done.expect("iterate");
    let ship = done
        .proposals
        .first()
        .cloned()
        .expect("the accept proposal");
    operator
        .approve(&ship, None)
        .await
        .expect("the accept runs");
    (phases, done.candidate, done.end)
}

/// The canary deploy of `version` on a yes, until its slot takes traffic; then aborted.
async fn canary_takes_traffic(operator: &Operator, client: &mut Client, version: &str) -> f64 {
    let call = Call::Deploy(DeployRequest {
        plugin: "bench".to_string(),
        version: Some(version.parse().expect("a version")),
        strategy: Some(StrategyKind::Canary),
        detach: true,
        ..Default::default()
    });
    let pending = operator.propose(call).await;
    let began = Instant::now();
    operator
        .approve(&pending, None)
        .await
        .expect("the deploy starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    let took = loop {
        let report: StatusReport = client
            .call_as(Call::Status(StatusRequest {
                plugin: Some("bench".to_string()),
            }))
            .await
            .expect("status");
        let serving = report.plugins[0]
            .slots
            .iter()
            .any(|s| s.version.as_deref() == Some(version) && s.weight > 0);
        if serving {
            break ms(began);
        }
        assert!(Instant::now() < deadline, "the canary never took traffic");
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    client
        .call(Call::Abort(PluginRequest {
            plugin: "bench".to_string(),
        }))
        .await
        .expect("abort the canary");
    // The next round deploys into the slot this one leaves idle: wait for the rollout to end.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let report: StatusReport = client
            .call_as(Call::Status(StatusRequest {
                plugin: Some("bench".to_string()),
            }))
            .await
            .expect("status");
        if report.plugins[0].rollout.is_none() {
            break;
        }
        assert!(Instant::now() < deadline, "the aborted rollout never ended");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    took
}

/// The two replies of an edit turn from the bare provider, no naap around it.
async fn bare_model(provider: &dyn Provider, fake: &FakeLlm, content: &str) -> f64 {
    let began = Instant::now();
    for reply in edit_turn(content) {
        fake.push(reply);
        let request = ChatRequest {
            system: "bench".to_string(),
            messages: vec![Message::User {
                text: "change it".to_string(),
            }],
            tools: Vec::new(),
            max_tokens: 256,
        };
        let (tx, mut rx) = mpsc::channel(256);
        let drain = async { while rx.recv().await.is_some() {} };
        let (result, ()) = tokio::join!(provider.stream(&request, tx), drain);
        result.expect("bare stream");
    }
    ms(began)
}

/// The test gate run directly in `dir`.
fn bare_gate(dir: &Path) -> f64 {
    let began = Instant::now();
    let status = std::process::Command::new("sh")
        .args(["-c", GATE])
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run the gate");
    assert!(status.success(), "the gate fails directly");
    ms(began)
}

/// The service started directly, until it accepts a connection.
fn bare_start(dir: &Path) -> f64 {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let began = Instant::now();
    let mut child = std::process::Command::new("python3")
        .args(["server.py", &port.to_string()])
        .current_dir(dir)
        .spawn()
        .expect("start the service");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the service never listened");
        std::thread::sleep(Duration::from_millis(2));
    }
    let took = ms(began);
    let _ = child.kill();
    let _ = child.wait();
    took
}

fn write_workspace(dir: &Path) {
    let plugin = dir.join("plugins").join("bench");
    std::fs::create_dir_all(&plugin).expect("create the plugin directory");
    std::fs::write(
        dir.join("naap.toml"),
        "[router]\nlisten = \"127.0.0.1:0\"\n\n[[plugins]]\npath = \"plugins/bench\"\n",
    )
    .expect("write naap.toml");
    std::fs::write(
        plugin.join("plugin.toml"),
        format!(
            "[plugin]\nname = \"bench\"\nversion = \"1.0.0\"\nroute = \"/bench\"\n\n\
             [run]\ncommand = \"exec python3 server.py {{port}}\"\ntest = \"{GATE}\"\n\n\
             [health]\nkind = \"tcp\"\ninterval = \"100ms\"\n\n\
             [strategy]\nkind = \"canary\"\nsteps = [50, 100]\nstep_interval = \"1h\"\n"
        ),
    )
    .expect("write plugin.toml");
    std::fs::write(plugin.join("app.py"), "ORDER = 'oldest first'\n").expect("write app.py");
    std::fs::write(plugin.join("test_app.py"), TEST).expect("write the test");
    std::fs::write(plugin.join("server.py"), SERVER).expect("write server.py");
}

fn main() -> ExitCode {
    let bench = support::bench_mode();
    let rounds = if bench {
        support::env_usize("ROUNDS", 20)
    } else {
        2
    };
    let dir = tempfile::Builder::new()
        .prefix("naap-iterate-bench")
        .tempdir()
        .expect("create a temporary workspace");
    write_workspace(dir.path());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("build a tokio runtime");
    runtime.block_on(async {
        let engine = Engine::start(dir.path()).await.expect("start the engine");
        let socket = naap::core::engine::socket_path(&engine.state_dir());
        tokio::spawn(naap::api::server::serve(engine.clone(), socket.clone()));
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut client = loop {
            match Client::connect(&socket, Face::Cli).await {
                Ok(client) => break client,
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(10)).await
                }
                Err(e) => panic!("the socket never came up: {e}"),
            }
        };
        // The first version serves before any round.
        client
            .call(Call::Deploy(DeployRequest {
                plugin: "bench".to_string(),
                strategy: Some(StrategyKind::Immediate),
                ..Default::default()
            }))
            .await
            .expect("the first deploy");

        let fake = FakeLlm::start();
        let config = naap::ai::config::AiConfig {
            base_url: fake.openai_base(),
            model: "fake-model".to_string(),
            api_key_env: None,
            ..naap::ai::config::AiConfig::defaults(naap::ai::config::ProviderKind::OpenAi)
        };
        let provider: Arc<dyn Provider> = naap::ai::config::build(&config)
            .expect("build the provider")
            .expect("a provider");
        let workspace = naap::core::workspace::load(dir.path()).expect("workspace");
        let operator = Operator::new(
            Some(provider.clone()),
            Tools::new(socket.clone(), dir.path().to_path_buf(), Face::Ai),
            Policy::default(),
            Redactor::for_workspace(&workspace),
        );
        let live = dir.path().join("plugins").join("bench");
        let req = IterateRequest {
            plugin: "bench".to_string(),
            instruction: "list the newest first".to_string(),
            version: None,
            heal_attempts: 3,
            ship: ShipAs::Canary,
        retry_of: None,
        };

        println!(
            "\niterate overhead — {rounds} rounds, scripted OpenAI SSE provider on loopback, a Python plugin with a unittest gate, {}\n",
            if bench { "bench" } else { "smoke test" }
        );
        let mut s = Samples::default();
        for round in 0..rounds {
            // A straight round: one edit, the gates pass.
            for reply in edit_turn(&format!("ORDER = 'newest first {round}'\n")) {
                fake.push(reply);
            }
            let began = Instant::now();
            let (p, id, end) = run_pipeline(&operator, &req).await;
            assert_eq!(end, IterateEnd::Ready);
            s.create.push(p.created);
            s.model_edit_diff.push(p.edited[0] - p.created);
            s.gates.push(p.gated[0] - p.edited[0]);
            s.propose.push(p.done - p.gated[0]);
            let accepted = ms(began) - p.done;
            s.accept.push(accepted);
            let version = format!("1.0.1-ai.{id}");
            let deploy = canary_takes_traffic(&operator, &mut client, &version).await;
            s.deploy.push(deploy);
            s.total.push(p.done + accepted + deploy);
            s.bare_model
                .push(bare_model(provider.as_ref(), &fake, "ORDER = 'x'\n").await);
            s.bare_gate.push(bare_gate(&live));
            s.bare_start.push(bare_start(&live));

            // A heal round: the edit breaks the test, the fix passes.
            for reply in edit_turn(&format!("ORDER = 'broken {round}'\n")) {
                fake.push(reply);
            }
            for reply in edit_turn(&format!("ORDER = 'newest first again {round}'\n")) {
                fake.push(reply);
            }
            let (p, _, end) = run_pipeline(&operator, &req).await;
            assert_eq!(end, IterateEnd::Ready);
            assert_eq!((p.edited.len(), p.gated.len()), (2, 2), "one heal round");
            s.heal_round.push(p.gated[1] - p.gated[0]);
            s.heal_model.push(p.edited[1] - p.gated[0]);
            s.heal_gates.push(p.gated[1] - p.edited[1]);
        }
        println!("| phase | n | p50 ms | p99 ms |");
        println!("| --- | ---: | ---: | ---: |");
        row("candidate created (staged copy, store row)", &mut s.create);
        let model = row("model turn + edit applied + diff (2 provider requests)", &mut s.model_edit_diff);
        let bare_model = row("  same 2 replies from the bare provider (no naap)", &mut s.bare_model);
        let gates = row("gates on the candidate (unittest)", &mut s.gates);
        let bare_gate = row("  the same gate run directly in a shell", &mut s.bare_gate);
        row("accept proposed (engine dry runs)", &mut s.propose);
        row("accept on a yes (hash check, source written)", &mut s.accept);
        let deploy = row("canary deploy on a yes → the canary takes traffic", &mut s.deploy);
        let bare_start = row("  the same service started directly → it listens", &mut s.bare_start);
        let total = row("instruction → the canary takes traffic (whole)", &mut s.total);
        row("heal round: failed gates → fix → gates pass", &mut s.heal_round);
        row("  of which the model's fix turn + edit + diff", &mut s.heal_model);
        row("  of which the gates again", &mut s.heal_gates);
        println!(
            "\nnaap's share (p50): the model turn {:.1} ms over the bare provider; the gates {:.1} ms over the bare gate; the deploy {:.1} ms over a bare start (health checks every 100 ms, the canary's first step). Of {total:.1} ms from the instruction to the canary taking traffic, the plugin's own gate and start, run directly, take {:.1} ms.\n",
            model - bare_model,
            gates - bare_gate,
            deploy - bare_start,
            bare_gate + bare_start,
        );
        engine.shutdown(true).await;
    });
    ExitCode::SUCCESS
}

#[derive(Default)]
struct Samples {
    create: Vec<f64>,
    model_edit_diff: Vec<f64>,
    gates: Vec<f64>,
    propose: Vec<f64>,
    accept: Vec<f64>,
    deploy: Vec<f64>,
    total: Vec<f64>,
    bare_model: Vec<f64>,
    bare_gate: Vec<f64>,
    bare_start: Vec<f64>,
    heal_round: Vec<f64>,
    heal_model: Vec<f64>,
    heal_gates: Vec<f64>,
}
