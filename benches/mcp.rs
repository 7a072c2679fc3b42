//! An MCP tool call round trip (`naap mcp` over stdio, driven by rmcp's client) against the
//! same call from the CLI (`naap status PLUGIN --json`, a process per call, as a script
//! runs it) and on the engine's socket alone, in the same run against the same engine.
//!
//! `cargo bench --bench mcp` (ROUNDS, default 200). Under `cargo test` it is a smoke test
//! with 5 rounds.

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

mod support;

fn row(name: &str, samples: &mut [f64]) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    let (p50, p99) = (
        support::percentile(samples, 50.0),
        support::percentile(samples, 99.0),
    );
    println!("| {name} | {} | {p50:.3} | {p99:.3} |", samples.len());
    p50
}

fn main() -> ExitCode {
    let bench = support::bench_mode();
    let rounds = if bench {
        support::env_usize("ROUNDS", 200)
    } else {
        5
    };
    let mut engine = support::Engine::start("naap-mcp-bench", |dir| {
        support::write_workspace(dir, "", "")
    });
    engine.wait_ready(Duration::from_secs(60));
    let workspace = engine.path().to_path_buf();
    let naap = |args: &[&str]| {
        engine
            .command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run naap")
    };

    println!(
        "\nMCP against the CLI — {rounds} `status bench` calls each, one engine, {}\n",
        if bench { "bench" } else { "smoke test" }
    );
    println!("| path | n | p50 ms | p99 ms |");
    println!("| --- | ---: | ---: | ---: |");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("build a tokio runtime");
    let (mcp50, socket50) = runtime.block_on(async {
        let command = tokio::process::Command::new(support::naap_bin()).configure(|c| {
            c.arg("--workspace")
                .arg(&workspace)
                .args(["--no-start", "mcp"]);
        });
        let client =
            ().serve(TokioChildProcess::new(command).expect("spawn naap mcp"))
                .await
                .expect("MCP handshake");
        let mut arguments = serde_json::Map::new();
        arguments.insert("plugin".into(), "bench".into());
        let mut mcp = Vec::new();
        for _ in 0..rounds {
            let began = Instant::now();
            let result = client
                .call_tool(CallToolRequestParams::new("status").with_arguments(arguments.clone()))
                .await
                .expect("status over MCP");
            mcp.push(began.elapsed().as_secs_f64() * 1000.0);
            assert_ne!(result.is_error, Some(true));
        }
        let mcp50 = row("MCP tool call (`naap mcp`, stdio, rmcp client)", &mut mcp);
        let _ = client.cancel().await;
        let state = workspace.join(".naap");
        let mut socket = naap::api::Client::connect(
            &naap::core::engine::socket_path(&state),
            naap::core::types::Face::Cli,
        )
        .await
        .expect("socket");
        let mut raw = Vec::new();
        for _ in 0..rounds {
            let began = Instant::now();
            socket
                .call(naap::api::Call::Status(
                    naap::api::protocol::StatusRequest {
                        plugin: Some("bench".to_string()),
                    },
                ))
                .await
                .expect("status on the socket");
            raw.push(began.elapsed().as_secs_f64() * 1000.0);
        }
        (
            mcp50,
            row("the engine's socket alone (one connection)", &mut raw),
        )
    });
    let mut cli = Vec::new();
    for _ in 0..rounds {
        let began = Instant::now();
        assert!(naap(&["status", "bench", "--json"]).success());
        cli.push(began.elapsed().as_secs_f64() * 1000.0);
    }
    let cli50 = row(
        "CLI (`naap status bench --json`, a process per call)",
        &mut cli,
    );
    println!(
        "\nMCP p50 is {:.2}× the socket's and {:.2}× the CLI's\n",
        mcp50 / socket50,
        mcp50 / cli50
    );
    ExitCode::SUCCESS
}
