//! `naap chat` against a fake OpenAI-compatible provider speaking the real SSE wire format
//! over a real socket, with a real engine: reads answered from tools, changes proposed and
//! run only on yes (audited as the operator), redaction of everything sent, fallbacks.

mod common;
use common::fake_llm::{
    FakeLlm, Reply, anthropic_text, anthropic_tool_use, ollama_text, ollama_tool_calls,
    openai_text, openai_tool_calls,
};
use common::*;
use serde_json::Value;
use std::process::{Command, Output, Stdio};

const DB_PASSWORD: &str = "correct-horse-battery-staple";
const LOGGED_KEY: &str = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWx1234567890";

/// A sample plugin whose manifest holds a secret in its environment.
fn shop() -> String {
    sample_plugin("shop", "1.0.0", "").replace(
        "stop_grace = \"2s\"",
        &format!("stop_grace = \"2s\"\nenv = {{ DB_PASSWORD = \"{DB_PASSWORD}\" }}"),
    )
}

/// Runs `naap chat ARGS` with the provider pointed at `base_url` (no user config file).
fn chat(ws: &TestWorkspace, base_url: &str, args: &[&str]) -> Output {
    chat_with(ws, "openai", base_url, args)
}

fn chat_with(ws: &TestWorkspace, provider: &str, base_url: &str, args: &[&str]) -> Output {
    Command::new(NAAP)
        .arg("--workspace")
        .arg(ws.path())
        .arg("chat")
        .args(args)
        .env("NAAP_AI_PROVIDER", provider)
        .env("NAAP_AI_MODEL", "fake-model")
        .env("NAAP_AI_BASE_URL", base_url)
        .env("NAAP_AI_CONFIG", ws.path().join("no-user-ai.toml"))
        .env_remove("OPENAI_API_KEY")
        .stdin(Stdio::null())
        .output()
        .expect("run naap chat")
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\nstderr:\n{}", stdout(out), stderr(out)))
}

fn started() -> TestWorkspace {
    let mut ws = TestWorkspace::new(&[("shop", shop())]);
    ws.start_engine();
    ws.wait_serving("shop");
    ws
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_is_answered_from_read_tools_and_no_secret_reaches_the_model() {
    let ws = started();
    // A log line carrying a key: the sample service logs the path of a 404.
    let http = client();
    let _ = get(
        &http,
        &format!("http://{}/shop/x/{LOGGED_KEY}", ws.router()),
    )
    .await;
    assert!(wait_for(std::time::Duration::from_secs(10), || {
        stdout(&ws.naap(&["logs", "shop", "--json"])).contains(LOGGED_KEY)
    }));

    let fake = FakeLlm::with([
        openai_tool_calls(&[
            ("call_1", "status", r#"{"plugin":"shop"}"#),
            ("call_2", "logs", r#"{"plugin":"shop","limit":50}"#),
        ]),
        openai_text(&["shop serves ", "1.0.0 on blue, ", "no errors."]),
    ]);
    let question = format!("is shop ok? its DB password {DB_PASSWORD} was rotated");
    let out = chat(&ws, &fake.openai_base(), &[&question, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let turn = json_of(&out);
    assert_eq!(turn["answer"], "shop serves 1.0.0 on blue, no errors.");
    assert_eq!(turn["answered_by"]["kind"], "openai");
    let calls = turn["tool_calls"].as_array().expect("tool calls");
    assert_eq!(calls.len(), 2, "{turn:#}");
    assert!(
        calls
            .iter()
            .all(|c| c["ok"] == true && c["effect"] == "read")
    );
    assert!(turn["proposals"].as_array().is_some_and(|p| p.is_empty()));

    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    // The second request carries both tool results: the real status, the real log lines.
    let second = &requests[1].raw_body;
    assert!(second.contains("\"role\":\"tool\""), "{second}");
    assert!(
        second.contains("1.0.0") && second.contains("healthy"),
        "{second}"
    );
    assert!(
        second.contains("GET /x/sk-proj-"),
        "the log lines went back: {second}"
    );
    // Nothing secret left the machine, in any request: masked, shape kept.
    for request in &requests {
        assert!(
            !request.raw_body.contains(DB_PASSWORD),
            "{}",
            request.raw_body
        );
        assert!(
            !request.raw_body.contains(LOGGED_KEY),
            "{}",
            request.raw_body
        );
    }
    assert!(second.contains("[redacted"), "{second}");
    assert!(
        second.contains("sk-proj-"),
        "the key's shape is kept: {second}"
    );
    // The model was offered reads and changes, never admin calls.
    let tools: Vec<&str> = requests[0].body["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["function"]["name"].as_str())
        .collect();
    assert!(
        tools.contains(&"status") && tools.contains(&"rollback"),
        "{tools:?}"
    );
    assert!(!tools.contains(&"shutdown") && !tools.contains(&"subscribe"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_is_proposed_and_runs_only_on_yes_audited_as_the_operator() {
    let ws = started();
    ws.json(&["deploy", "shop", "--version", "2.0.0"]);
    assert_eq!(ws.slot("shop", "green")["weight"], 100);
    let proposing = || {
        [
            openai_tool_calls(&[("call_r", "rollback", r#"{"plugin":"shop"}"#)]),
            openai_text(&["I proposed rolling shop back; it waits for your yes."]),
        ]
    };

    // Without --yes: a proposal, exit 3, nothing changed.
    let fake = FakeLlm::with(proposing());
    let out = chat(&ws, &fake.openai_base(), &["roll back shop", "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let turn = json_of(&out);
    let proposal = &turn["proposals"][0];
    assert_eq!(proposal["status"], "waiting");
    assert_eq!(proposal["call"]["method"], "rollback");
    assert_eq!(proposal["call"]["params"]["plugin"], "shop");
    let preview = proposal["preview"].to_string();
    assert!(
        preview.contains("blue") && preview.contains("warm"),
        "the engine's dry run: {preview}"
    );
    assert_eq!(ws.slot("shop", "green")["weight"], 100, "nothing ran");
    let told = &fake.requests()[1].raw_body;
    assert!(told.contains("has NOT run"), "{told}");

    // With --yes: the same proposal runs, the weights flip, the audit says ai.
    let fake = FakeLlm::with(proposing());
    let out = chat(
        &ws,
        &fake.openai_base(),
        &["roll back shop", "--yes", "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let turn = json_of(&out);
    let proposal = &turn["proposals"][0];
    assert_eq!(proposal["status"], "ran", "{turn:#}");
    assert_eq!(ws.slot("shop", "blue")["weight"], 100);
    let history = ws.json(&["history", "shop"]);
    let audit = history["audit"].as_array().expect("audit");
    let rollback = audit
        .iter()
        .rev()
        .find(|a| a["action"] == "rollback")
        .expect("a rollback in the audit");
    assert_eq!(rollback["face"], "ai", "{rollback:#}");
    assert_eq!(rollback["args"]["proposal"], proposal["id"], "{rollback:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_a_429_reports_a_cut_stream_and_falls_back_to_offline_when_down() {
    let ws = started();
    // A 429, then the answer.
    let fake = FakeLlm::with([
        Reply::error(429, "slow down").header("retry-after", "0"),
        openai_text(&["all good"]),
    ]);
    // The model's price, written down: each turn says what it cost.
    std::fs::write(
        ws.path().join("no-user-ai.toml"),
        "input_price = 1000.0\noutput_price = 0\n",
    )
    .expect("write ai.toml");
    let out = chat(&ws, &fake.openai_base(), &["how is shop?", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let turn = json_of(&out);
    assert_eq!(turn["answer"], "all good");
    assert_eq!(fake.requests().len(), 2);
    // 11 input tokens at $1000 per million.
    let cost = turn["cost_usd"].as_f64().expect("a cost");
    assert!((cost - 0.011).abs() < 1e-9, "{turn:#}");
    std::fs::remove_file(ws.path().join("no-user-ai.toml")).expect("remove ai.toml");

    // A stream cut after some text: the answer is incomplete and says so (exit 1).
    let fake = FakeLlm::with([openai_text(&["shop is ", "fine", " and more"]).cut_after(3)]);
    let out = chat(&ws, &fake.openai_base(), &["how is shop?", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let turn = json_of(&out);
    assert!(
        turn["error"].as_str().is_some_and(|e| e.contains("ended")),
        "{turn:#}"
    );

    // Nothing listens: the offline operator answers, and says it does.
    let out = chat(&ws, "http://127.0.0.1:9/v1", &["status of shop", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let turn = json_of(&out);
    assert_eq!(turn["answered_by"]["kind"], "offline");
    assert!(
        turn["notices"][0]
            .as_str()
            .is_some_and(|n| n.contains("offline operator answers")),
        "{turn:#}"
    );
    assert!(
        turn["answer"].as_str().is_some_and(|a| a.contains("shop")),
        "{turn:#}"
    );

    // The offline operator asks the engine, not a guess from the status: with one version
    // deployed there is nothing to roll back to, so there is no card, only the reason.
    let out = chat(&ws, "http://127.0.0.1:9/v1", &["roll back shop", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let turn = json_of(&out);
    assert_eq!(turn["proposals"], serde_json::json!([]), "{turn:#}");
    assert!(
        turn["answer"]
            .as_str()
            .is_some_and(|a| a.contains("changed nothing") && a.contains("no previous version")),
        "{turn:#}"
    );
    // Asked whether it is safe, the same: the engine's answer, not "the previous version
    // is started again" guessed from the status.
    let out = chat(
        &ws,
        "http://127.0.0.1:9/v1",
        &["is it safe to roll back shop?", "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let turn = json_of(&out);
    let answer = turn["answer"].as_str().unwrap_or_default();
    assert!(
        answer.contains("engine would refuse")
            && answer.contains("no previous version")
            && !answer.contains("starts it again"),
        "{turn:#}"
    );
    // With a warm previous version, the card carries the engine's dry run.
    ws.json(&["deploy", "shop", "--version", "2.0.0"]);
    let out = chat(&ws, "http://127.0.0.1:9/v1", &["roll back shop", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "a proposal waits: {}",
        stderr(&out)
    );
    let turn = json_of(&out);
    let preview = turn["proposals"][0]["preview"].to_string();
    assert!(
        preview.contains("would roll back shop") && preview.contains("warm"),
        "{turn:#}"
    );
    let out = chat(
        &ws,
        "http://127.0.0.1:9/v1",
        &["is it safe to roll back shop?", "--json"],
    );
    let turn = json_of(&out);
    let answer = turn["answer"].as_str().unwrap_or_default();
    assert!(
        answer.contains("I changed nothing") && answer.contains("would roll back shop"),
        "the engine's dry run, explained: {turn:#}"
    );
    assert_eq!(turn["proposals"], serde_json::json!([]), "{turn:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_proposes_nothing_sessions_resume_and_bad_flags_exit_2() {
    let ws = started();
    // Read-only: no change tools offered, and one called anyway is refused.
    let fake = FakeLlm::with([
        openai_tool_calls(&[("call_r", "rollback", r#"{"plugin":"shop"}"#)]),
        openai_text(&["I cannot change anything here."]),
    ]);
    let out = chat(
        &ws,
        &fake.openai_base(),
        &["first question", "--read-only", "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let turn = json_of(&out);
    assert!(turn["proposals"].as_array().is_some_and(|p| p.is_empty()));
    assert_eq!(turn["tool_calls"][0]["ok"], false);
    assert!(
        turn["tool_calls"][0]["result"]
            .as_str()
            .is_some_and(|r| r.contains("read-only"))
    );
    let offered = fake.requests()[0].body["tools"].to_string();
    assert!(
        offered.contains("\"status\"") && !offered.contains("\"rollback\""),
        "{offered}"
    );
    let session = turn["session"].clone();
    assert!(session.is_u64(), "{turn:#}");

    // --resume continues the last session: the model sees the earlier exchange.
    let fake = FakeLlm::with([openai_text(&["yes, as before"])]);
    let out = chat(
        &ws,
        &fake.openai_base(),
        &["--resume", "--json", "second question"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json_of(&out)["session"], session);
    let body = &fake.requests()[0].raw_body;
    assert!(
        body.contains("first question") && body.contains("second question"),
        "{body}"
    );
    let list = json_of(&chat(&ws, &fake.openai_base(), &["--list", "--json"]));
    assert!(
        list.as_array()
            .is_some_and(|l| l.iter().any(|s| s["id"] == session)),
        "{list:#}"
    );

    // --show-prompt prints what would be sent and sends nothing.
    let fake = FakeLlm::start();
    let out = chat(
        &ws,
        &fake.openai_base(),
        &["--show-prompt", &format!("pw {DB_PASSWORD}")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let shown = stdout(&out);
    assert!(
        shown.contains("\"system\"") && !shown.contains(DB_PASSWORD),
        "{shown}"
    );
    assert!(fake.requests().is_empty());

    // Bad arguments are usage errors.
    let out = chat(&ws, &fake.openai_base(), &["--provider", "bogus", "hi"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = chat(&ws, &fake.openai_base(), &["--yes", "--read-only", "hi"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_and_ollama_answer_through_the_same_operator() {
    let ws = started();
    // Anthropic: tool_use with input_json_delta and pings, the result as a tool_result.
    let fake = FakeLlm::with([
        anthropic_tool_use(
            "Let me look.",
            &[("toolu_1", "status", r#"{"plugin":"shop"}"#)],
        ),
        anthropic_text(&["shop is ", "healthy on blue."]),
    ]);
    let out = chat_with(
        &ws,
        "anthropic",
        &fake.anthropic_base(),
        &["how is shop?", "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let turn = json_of(&out);
    assert_eq!(turn["answered_by"]["kind"], "anthropic");
    assert_eq!(turn["answer"], "Let me look.\nshop is healthy on blue.");
    assert_eq!(turn["tool_calls"][0]["name"], "status");
    let requests = fake.requests();
    assert_eq!(requests[0].path, "/v1/messages");
    let second = requests[1].raw_body.as_str();
    assert!(
        second.contains("\"tool_result\"") && second.contains("toolu_1"),
        "{second}"
    );
    assert!(second.contains("healthy"), "{second}");

    // Ollama: NDJSON, a whole tool call with no id, then the answer.
    let fake = FakeLlm::with([
        ollama_tool_calls(&[("status", r#"{"plugin":"shop"}"#)]),
        ollama_text(&["shop ", "is fine"]),
    ]);
    let out = chat_with(
        &ws,
        "ollama",
        &fake.ollama_base(),
        &["how is shop?", "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let turn = json_of(&out);
    assert_eq!(turn["answered_by"]["kind"], "ollama");
    assert_eq!(turn["answer"], "shop is fine");
    assert_eq!(turn["tool_calls"][0]["ok"], true);
    let requests = fake.requests();
    assert_eq!(requests[0].path, "/api/chat");
    assert!(
        requests[1].raw_body.contains("\"role\":\"tool\""),
        "{}",
        requests[1].raw_body
    );
}

/// A turn with a brief (iterate's) offers only its tools, and a tool the model calls
/// outside them is refused, not run and not proposed; without a model it says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_briefed_turn_offers_and_runs_only_its_tools() {
    use naap::ai::operator::Brief;
    let ws = started();
    let fake = FakeLlm::with([
        openai_tool_calls(&[
            ("call_s", "status", r#"{"plugin":"shop"}"#),
            ("call_r", "rollback", r#"{"plugin":"shop"}"#),
        ]),
        openai_text(&["done"]),
    ]);
    let settings = naap::ai::setup::FaceSettings {
        overrides: naap::ai::config::AiOverrides {
            provider: Some(naap::ai::config::ProviderKind::OpenAi),
            model: Some("fake-model".into()),
            base_url: Some(fake.openai_base()),
            ..Default::default()
        },
        mode: None,
    };
    let operator = naap::ai::setup::operator_for(
        ws.path(),
        &ws.state_dir(),
        naap::core::types::Face::Ai,
        &settings,
    )
    .expect("an operator");
    let brief = Brief {
        system: "edit the plugin".into(),
        only: Some(vec!["status".into()]),
        bound: Vec::new(),
        max_tokens: 4096,
    };
    let (tx, _rx) = tokio::sync::mpsc::channel(256);
    let mut history = Vec::new();
    let turn = operator
        .work(&mut history, "look at shop", &brief, &tx)
        .await
        .expect("the model answers");
    assert!(turn.proposals.is_empty(), "{turn:#?}");
    let refused = turn
        .tool_calls
        .iter()
        .find(|c| c.name == "rollback")
        .expect("the rollback call is recorded");
    assert!(
        !refused.ok && refused.result.contains("not one of this turn's tools"),
        "{refused:#?}"
    );
    assert!(turn.tool_calls.iter().any(|c| c.name == "status" && c.ok));
    let first = &fake.requests()[0].body;
    assert_eq!(first["messages"][0]["content"], "edit the plugin");
    let offered: Vec<&str> = first["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["function"]["name"].as_str())
        .collect();
    assert_eq!(offered, ["status"]);
    assert_eq!(ws.slot("shop", "blue")["weight"], 100, "nothing ran");

    // No model: a briefed turn is refused, not answered by the offline router.
    let offline = naap::ai::setup::operator_for(
        ws.path(),
        &ws.state_dir(),
        naap::core::types::Face::Ai,
        &naap::ai::setup::FaceSettings {
            overrides: naap::ai::config::AiOverrides {
                provider: Some(naap::ai::config::ProviderKind::Offline),
                ..Default::default()
            },
            mode: None,
        },
    )
    .expect("the offline operator");
    let err = offline
        .work(&mut Vec::new(), "make it faster", &brief, &tx)
        .await
        .expect_err("no model");
    assert!(err.contains("cannot write code"), "{err}");
}
