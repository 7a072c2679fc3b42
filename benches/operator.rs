//! naap's own overhead in an operator turn, against a local fake provider speaking the
//! real OpenAI SSE format over a real socket, with a real engine serving its socket:
//!
//! 1. first text: from the request to the first streamed text reaching the transcript, for
//!    the bare provider (the baseline: HTTP + SSE parsing) and for a whole operator turn
//!    (tools offered, redaction at the boundary, events to the face, `Transcript::stream`).
//!    The difference is what naap adds before the first byte shows.
//! 2. a read tool round trip: a turn where the model calls `status` and then answers,
//!    against a turn that answers at once; the difference is one tool call (engine round
//!    trip, capping, redaction) plus the second model request. The bare socket round trip
//!    of the same `status` call is measured alongside.
//! 3. the offline operator: `offline::respond` alone over a fixture, and a whole offline
//!    turn (which fetches status, history and logs from the engine first).
//! 4. the redactor's throughput over log text, clean and with secrets.
//!
//! `cargo bench --bench operator` (ROUNDS, default 300). Under `cargo test` it is a smoke
//! test with 10 rounds.

#[path = "../tests/common/fake_llm.rs"]
mod fake_llm;
mod support;

use fake_llm::{FakeLlm, openai_text, openai_tool_calls};
use naap::ai::operator::{Operator, OperatorEvent};
use naap::ai::policy::Policy;
use naap::ai::provider::{ChatRequest, Message, Provider, StreamEvent};
use naap::ai::redact::Redactor;
use naap::ai::tools::Tools;
use naap::ai::transcript::Transcript;
use naap::api::Client;
use naap::api::protocol::{Call, StatusRequest};
use naap::core::engine::Engine;
use naap::core::types::Face;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

fn row(name: &str, samples: &mut [f64]) -> (f64, f64) {
    samples.sort_by(|a, b| a.total_cmp(b));
    let (p50, p99) = (
        support::percentile(samples, 50.0),
        support::percentile(samples, 99.0),
    );
    println!("| {name} | {} | {p50:.3} | {p99:.3} |", samples.len());
    (p50, p99)
}

fn provider(base: &str) -> Arc<dyn Provider> {
    let config = naap::ai::config::AiConfig {
        base_url: base.to_string(),
        model: "fake-model".to_string(),
        api_key_env: None,
        ..naap::ai::config::AiConfig::defaults(naap::ai::config::ProviderKind::OpenAi)
    };
    naap::ai::config::build(&config)
        .expect("build the provider")
        .expect("a provider, not offline")
}

/// Milliseconds from the request to the first text the bare provider streams.
async fn bare_first_text(provider: &dyn Provider) -> f64 {
    let request = ChatRequest {
        system: "bench".to_string(),
        messages: vec![Message::User {
            text: "hello".to_string(),
        }],
        tools: Vec::new(),
        max_tokens: 64,
    };
    let (tx, mut rx) = mpsc::channel(64);
    let began = Instant::now();
    let stream = provider.stream(&request, tx);
    let first = async {
        let mut at = None;
        while let Some(event) = rx.recv().await {
            if at.is_none() && matches!(event, StreamEvent::Text(_)) {
                at = Some(began.elapsed());
            }
        }
        at
    };
    let (result, at) = tokio::join!(stream, first);
    result.expect("bare stream");
    at.expect("a text event").as_secs_f64() * 1000.0
}

/// Milliseconds from `ask` to the first text in the transcript, and to the turn's end.
async fn operator_turn(operator: &Operator, text: &str) -> (f64, f64) {
    let (tx, mut rx) = mpsc::channel(256);
    let began = Instant::now();
    let turn = async move {
        let mut history = Vec::new();
        // The channel closes when the turn ends: the face loop below then stops.
        operator.ask(&mut history, text, None, &tx).await
    };
    let face = async {
        let mut transcript = Transcript::default();
        let mut first = None;
        while let Some(event) = rx.recv().await {
            if let OperatorEvent::Text(chunk) = event {
                transcript.stream(&chunk);
                first.get_or_insert(began.elapsed());
            }
        }
        first
    };
    let (turn, first) = tokio::join!(turn, face);
    assert!(turn.error.is_none(), "turn failed: {:?}", turn.error);
    let total = began.elapsed();
    (
        first.unwrap_or(total).as_secs_f64() * 1000.0,
        total.as_secs_f64() * 1000.0,
    )
}

/// The redactor over 10,000 log lines (1.2 MB) with 50 known secrets: clean lines, and one
/// line in ten carrying four secrets of different shapes.
fn redaction_throughput(rounds: usize) {
    use naap::ai::redact::{KnownSecret, Redactions};
    let secrets: Vec<KnownSecret> = (0..50)
        .map(|i| KnownSecret::named(format!("S{i}"), format!("secret-value-{i:04}")))
        .collect();
    let redactor = Redactor::new(secrets);
    let clean = "2026-12-01T18:39:41.123Z INFO naap::router: GET /checkout/api/cart 200 12.3ms slot=green request_id=4f1c2b9e-8d3a-4e5f-9a7b-1c2d3e4f5a6b\n";
    let dirty = "2026-12-01T18:39:41.123Z WARN app: retry with password=hunter2 Authorization: Bearer abcdef0123456789xyz db postgres://a:b@h/x secret-value-0007\n";
    println!("\n| redactor input | MB/s | masked per pass |");
    println!("| --- | ---: | ---: |");
    for (name, line) in [
        ("clean log lines", clean),
        ("one line in ten with 4 secrets", dirty),
    ] {
        let text: String = (0..10_000)
            .map(|i| if i % 10 == 0 { line } else { clean })
            .collect();
        let mut masked = Redactions::default();
        let began = Instant::now();
        for _ in 0..rounds {
            let mut pass = Redactions::default();
            std::hint::black_box(redactor.redact_counted(&text, &mut pass));
            masked = pass;
        }
        let mb = (text.len() * rounds) as f64 / 1e6;
        println!(
            "| {name} | {:.1} | {} |",
            mb / began.elapsed().as_secs_f64(),
            masked.total()
        );
    }
}

fn main() -> ExitCode {
    let bench = std::env::args().skip(1).any(|a| a == "--bench");
    let rounds: usize = if bench {
        std::env::var("ROUNDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|n| *n > 0)
            .unwrap_or(300)
    } else {
        10
    };
    let dir = tempfile::Builder::new()
        .prefix("naap-operator-bench")
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
         [run]\ncommand = \"exec python3 -m http.server {port} --bind 127.0.0.1\"\n\
         env = { API_TOKEN = \"bench-secret-value-123456\" }\n\n\
         [health]\nkind = \"tcp\"\n",
    )
    .expect("write plugin.toml");
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
        while Client::connect(&socket, Face::Cli).await.is_err() {
            assert!(Instant::now() < deadline, "the socket never came up");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let fake = FakeLlm::start();
        let provider = provider(&fake.openai_base());
        let workspace = naap::core::workspace::load(dir.path()).expect("workspace");
        let operator = |provider: Option<Arc<dyn Provider>>| {
            Operator::new(
                provider,
                Tools::new(socket.clone(), dir.path().to_path_buf(), Face::Ai),
                Policy::default(),
                Redactor::for_workspace(&workspace),
            )
        };
        let model = operator(Some(provider.clone()));
        let offline = operator(None);

        println!(
            "\noperator overhead — {rounds} rounds per row, fake OpenAI SSE provider on loopback, {}\n",
            if bench { "bench" } else { "smoke test" }
        );
        println!("| measurement | n | p50 ms | p99 ms |");
        println!("| --- | ---: | ---: | ---: |");

        let (mut bare, mut first, mut plain, mut with_tool) = (vec![], vec![], vec![], vec![]);
        for _ in 0..rounds {
            fake.push(openai_text(&["the answer ", "streams ", "in pieces"]));
            bare.push(bare_first_text(provider.as_ref()).await);
            fake.push(openai_text(&["the answer ", "streams ", "in pieces"]));
            let (f, total) = operator_turn(&model, "how is bench?").await;
            first.push(f);
            plain.push(total);
            fake.push(openai_tool_calls(&[("call_1", "status", r#"{"plugin":"bench"}"#)]));
            fake.push(openai_text(&["bench is healthy"]));
            let (_, total) = operator_turn(&model, "how is bench?").await;
            with_tool.push(total);
        }
        let (bare50, bare99) = row("provider alone: request → first text", &mut bare);
        let (op50, op99) = row("operator turn: ask → first text in the transcript", &mut first);
        println!(
            "| naap's overhead before the first text (difference) | | {:.3} | {:.3} |",
            op50 - bare50,
            op99 - bare99
        );
        let (plain50, plain99) = row("turn answered at once (whole turn)", &mut plain);
        let (tool50, tool99) = row("turn with one status tool call (whole turn)", &mut with_tool);
        println!(
            "| one read tool round trip + the second model request (difference) | | {:.3} | {:.3} |",
            tool50 - plain50,
            tool99 - plain99
        );
        let mut client = Client::connect(&socket, Face::Cli).await.expect("client");
        let mut socket_rtt = Vec::new();
        for _ in 0..rounds {
            let began = Instant::now();
            client
                .call(Call::Status(StatusRequest {
                    plugin: Some("bench".to_string()),
                }))
                .await
                .expect("status");
            socket_rtt.push(began.elapsed().as_secs_f64() * 1000.0);
        }
        row("the same status call on the socket alone", &mut socket_rtt);

        let report: naap::core::engine::StatusReport = client
            .call_as(Call::Status(StatusRequest::default()))
            .await
            .expect("status report");
        let phrasings = [
            "roll back bench",
            "is it safe to roll back bench?",
            "don't roll back bench",
            "what is the p99 of bench",
            "give green 25% of bench",
            "why is bench failing",
        ];
        let mut respond = Vec::new();
        for i in 0..rounds * phrasings.len() {
            let world = naap::ai::offline::World {
                report: Some(&report),
                selected: Some("bench"),
                events: &[],
                logs: &[],
            };
            let began = Instant::now();
            let reply = naap::ai::offline::respond(phrasings[i % phrasings.len()], &world);
            respond.push(began.elapsed().as_secs_f64() * 1000.0);
            std::hint::black_box(reply);
        }
        row("offline operator: respond() per request", &mut respond);
        let mut offline_turns = Vec::new();
        for i in 0..rounds {
            let (_, total) = operator_turn(&offline, phrasings[i % phrasings.len()]).await;
            offline_turns.push(total);
        }
        row("offline operator: whole turn (fetches status, history, logs)", &mut offline_turns);
        redaction_throughput(if bench { 20 } else { 1 });
        println!();
        let _ = (op99, bare99, plain99, tool99);
        engine.shutdown(true).await;
    });
    ExitCode::SUCCESS
}
