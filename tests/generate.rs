//! `naap generate` on the sample spec (offline): the plugin it writes validates, passes its
//! gates, deploys and answers its CRUD routes through naap's router; a broken spec exits 2
//! with every problem positioned and nothing written.

mod common;
use common::*;
use serde_json::{Value, json};

const SAMPLE: &str = include_str!("../assets/expense-tracker.plugin.md");

/// A workspace with no plugins and the sample spec beside naap.toml.
fn workspace_with_spec() -> TestWorkspace {
    let ws = TestWorkspace::new(&[]);
    ws.write("expense-tracker.plugin.md", SAMPLE);
    ws
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = http.request(method.clone(), url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {url}: not JSON ({e}): {text}"))
    };
    (status, value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_spec_becomes_a_plugin_that_validates_passes_its_gates_and_serves_crud() {
    let mut ws = workspace_with_spec();
    let naap_toml_before = std::fs::read_to_string(ws.path().join("naap.toml")).expect("naap.toml");
    let spec = ws.path().join("expense-tracker.plugin.md");
    let out = ws.json(&["generate", spec.to_str().expect("utf-8 path")]);
    assert_eq!(out["written"]["plugin"], "expense-tracker", "{out:#}");
    assert_eq!(out["written"]["entry_path"], "plugins/expense-tracker");
    let checked = out["written"]["checked"].as_u64().expect("checked");
    let to_implement = out["written"]["to_implement"]
        .as_u64()
        .expect("to_implement");
    assert!(checked >= 5 && to_implement >= 4, "{out:#}");

    // naap.toml keeps what it had and gains the entry.
    let naap_toml = std::fs::read_to_string(ws.path().join("naap.toml")).expect("naap.toml");
    assert!(naap_toml.starts_with(&naap_toml_before), "{naap_toml}");
    assert!(
        naap_toml.ends_with("[[plugins]]\npath = \"plugins/expense-tracker\"\n"),
        "{naap_toml}"
    );

    // The stories list maps every criterion to a test in the test file.
    let dir = ws.path().join("plugins/expense-tracker");
    let stories: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("stories.json")).expect("stories.json"),
    )
    .expect("stories.json is JSON");
    let tests_py = std::fs::read_to_string(dir.join("tests/test_stories.py")).expect("tests");
    let criteria: Vec<&Value> = stories["stories"]
        .as_array()
        .expect("stories")
        .iter()
        .flat_map(|s| s["criteria"].as_array().expect("criteria"))
        .collect();
    assert_eq!(criteria.len(), 11);
    for criterion in &criteria {
        let test = criterion["test"].as_str().expect("test id");
        let method = test.rsplit('.').next().expect("method");
        assert!(
            tests_py.contains(&format!("def {method}(self)")),
            "{method}"
        );
    }

    let validate = ws.naap(&["validate"]);
    assert!(validate.status.success(), "{}", stderr(&validate));

    // The engine's first deploy runs the build and test gates; the tests report the
    // criteria still to implement as skipped.
    ws.start_engine();
    ws.wait_serving("expense-tracker");
    let gate_lines: Vec<String> = ws
        .json_lines(&["logs", "expense-tracker", "--slot", "gate", "-n", "400"])
        .iter()
        .filter_map(|l| l["message"].as_str().map(str::to_string))
        .collect();
    let joined = gate_lines.join("\n");
    assert!(joined.contains("gate `test` passed"), "{joined}");
    assert!(
        joined.contains(&format!("OK (skipped={to_implement})")),
        "{joined}"
    );
    assert!(joined.contains("still to implement: US-2"), "{joined}");

    // `naap deploy` runs the gates again (no cache) and serves the new version.
    let deployed = ws.json(&[
        "deploy",
        "expense-tracker",
        "--version",
        "0.1.1",
        "--no-cache",
    ]);
    let gates: Vec<(String, String)> = deployed["gates"]
        .as_array()
        .expect("gates")
        .iter()
        .map(|g| {
            (
                g["gate"].as_str().unwrap_or("").to_string(),
                g["outcome"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        gates,
        [
            ("build".to_string(), "ran".to_string()),
            ("test".to_string(), "ran".to_string())
        ],
        "{deployed:#}"
    );

    // The stories with their tests' results, as the test gate last ran them.
    let stories = ws.json(&["stories", "expense-tracker"]);
    let results: Vec<&str> = stories["stories"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["criteria"].as_array().into_iter().flatten())
        .filter_map(|c| c["result"].as_str())
        .collect();
    let count = |r: &str| results.iter().filter(|x| **x == r).count() as u64;
    assert_eq!(count("passed"), checked, "{stories:#}");
    assert_eq!(count("skipped"), to_implement, "{stories:#}");
    assert!(stories["last_run"].is_string(), "{stories:#}");
    let text = stdout(&ws.naap(&["stories", "expense-tracker"]));
    assert!(
        text.contains(&format!(
            "{checked} passed, 0 failed, {to_implement} to implement"
        )),
        "{text}"
    );

    // CRUD through naap's router.
    let http = client();
    let base = format!("http://{}/expense-tracker", ws.router());
    let (status, health) = call(&http, reqwest::Method::GET, &format!("{base}/health"), None).await;
    assert_eq!((status, health), (200, json!({"status": "ok"})));
    let (status, category) = call(
        &http,
        reqwest::Method::POST,
        &format!("{base}/categories"),
        Some(json!({"name": "Travel"})),
    )
    .await;
    assert_eq!(status, 201, "{category}");
    let expense = json!({
        "amount": "42.10", "currency": "EUR", "description": "Train to Lyon",
        "category": category["id"], "submitted_by": "u-17", "spent_on": "2026-11-30T08:15:00Z",
    });
    let (status, created) = call(
        &http,
        reqwest::Method::POST,
        &format!("{base}/expenses"),
        Some(expense),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "submitted", "the default applies");
    assert_eq!(created["amount"], "42.10");
    let id = created["id"].as_str().expect("id").to_string();
    let one = format!("{base}/expenses/{id}");

    let (status, listed) = call(
        &http,
        reqwest::Method::GET,
        &format!("{base}/expenses"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(listed, json!([created.clone()]));
    assert_eq!(
        call(&http, reqwest::Method::GET, &one, None).await,
        (200, created.clone())
    );

    let (status, updated) = call(
        &http,
        reqwest::Method::PUT,
        &one,
        Some(json!({"status": "approved", "decided_by": "m-3"})),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["status"], "approved");
    assert_eq!(
        updated["description"], "Train to Lyon",
        "PUT changes only what it sends"
    );

    let (status, error) = call(
        &http,
        reqwest::Method::PUT,
        &one,
        Some(json!({"status": "paid"})),
    )
    .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["field"], "status");
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|e| e.contains("submitted, approved, rejected")),
        "{error}"
    );
    let (status, error) = call(
        &http,
        reqwest::Method::POST,
        &format!("{base}/expenses"),
        Some(json!({"currency": "EUR"})),
    )
    .await;
    assert_eq!(
        (status, error["field"].clone()),
        (400, json!("amount")),
        "{error}"
    );

    assert_eq!(
        call(&http, reqwest::Method::DELETE, &one, None).await,
        (204, Value::Null)
    );
    assert_eq!(call(&http, reqwest::Method::GET, &one, None).await.0, 404);
}

#[test]
fn a_broken_spec_exits_2_with_every_problem_positioned_and_writes_nothing() {
    let ws = workspace_with_spec();
    let spec = SAMPLE
        .replacen("  category: Category", "  category: Categroy", 1)
        .replacen(
            "As a manager, I want to approve or reject submitted expenses, so that only valid spend is paid.",
            "Managers approve.",
            1,
        );
    ws.write("broken.plugin.md", &spec);
    let path = ws.path().join("broken.plugin.md");
    let path = path.to_str().expect("utf-8 path");
    let naap_toml = std::fs::read_to_string(ws.path().join("naap.toml")).expect("naap.toml");
    let out = ws.naap(&["generate", path]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    let line = |needle: &str| {
        spec.lines()
            .position(|l| l.contains(needle))
            .map(|i| i + 1)
            .expect("line")
    };
    assert!(
        err.contains(&format!(
            "broken.plugin.md:{}: in ### User Stories, US-2 has no \"As a …, I want …, so that ….\" sentence; write one under its #### heading",
            line("#### US-2")
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "broken.plugin.md:{}: in ### Data Model, Expense.category: unknown type `Categroy`",
            line("category: Categroy")
        )),
        "{err}"
    );
    assert!(
        err.contains("2 problems in the spec; nothing was written"),
        "{err}"
    );
    assert!(!ws.path().join("plugins/expense-tracker").exists());
    assert_eq!(
        std::fs::read_to_string(ws.path().join("naap.toml")).expect("naap.toml"),
        naap_toml
    );

    // --json: the same problems as data.
    let out = ws.naap(&["generate", path, "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["ok"], false);
    assert_eq!(report["problems"].as_array().map(Vec::len), Some(2));
    assert_eq!(report["problems"][1]["section"], "### Data Model");
}

#[test]
fn a_taken_name_or_another_language_offline_is_refused_and_nothing_is_written() {
    let ws = workspace_with_spec();
    let spec = ws.path().join("expense-tracker.plugin.md");
    let spec = spec.to_str().expect("utf-8 path");
    let first = ws.naap(&["generate", spec]);
    assert!(first.status.success(), "{}", stderr(&first));
    let naap_toml = std::fs::read_to_string(ws.path().join("naap.toml")).expect("naap.toml");

    let other = ws.path().join("plugins/other").display().to_string();
    let again = ws.naap(&["generate", spec, "--out", &other]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("already has a plugin named `expense-tracker`")
            && stderr(&again).contains("--name"),
        "{}",
        stderr(&again)
    );
    assert!(!ws.path().join("plugins/other").exists());

    let rust = ws.naap(&["generate", spec, "--lang", "rust", "--name", "claims"]);
    assert_eq!(rust.status.code(), Some(2));
    assert!(
        stderr(&rust)
            .contains("only the python scaffold exists; --lang rust has no scaffold to start from"),
        "{}",
        stderr(&rust)
    );
    assert!(!ws.path().join("plugins/claims").exists());
    assert_eq!(
        std::fs::read_to_string(ws.path().join("naap.toml")).expect("naap.toml"),
        naap_toml
    );

    // Under another name it is a second plugin, and the workspace still validates.
    let second = ws.naap(&["generate", spec, "--name", "claims"]);
    assert!(second.status.success(), "{}", stderr(&second));
    let validate = ws.naap(&["validate", "--json"]);
    let report: Value = serde_json::from_slice(&validate.stdout).expect("JSON");
    assert_eq!(
        report["plugins"],
        json!(["expense-tracker", "claims"]),
        "{report:#}"
    );
}

/// With a model, `--implement`: the scaffold is written and loaded (its first deploy runs),
/// then the model implements the stories through a candidate, whose gates run; without
/// --yes it stops at the accept proposal (exit 3) and nothing of the model's is live yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generate_implement_hands_the_stories_to_the_model_through_a_candidate() {
    use common::fake_llm::{FakeLlm, openai_text, openai_tool_calls};
    let mut ws = workspace_with_spec();
    ws.start_engine();
    let edit = json!({"edits": [{"kind": "whole_file", "path": "IMPLEMENTED.md",
        "content": "US-1 receipts are kept.\n"}]})
    .to_string();
    let fake = FakeLlm::with([
        openai_tool_calls(&[("call_e", "candidate_edit", &edit)]),
        openai_text(&["Implemented US-1."]),
    ]);
    let spec = ws.path().join("expense-tracker.plugin.md");
    let spec = spec.to_str().expect("utf-8 path");
    let out = naap_on_fake_model(&ws, &fake, &["--json", "generate", spec, "--implement"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let done: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(done["end"], "ready", "{done:#}");
    assert_eq!(done["plugin"], "expense-tracker", "{done:#}");
    assert_eq!(done["decided"][0]["status"], "waiting", "{done:#}");
    let asked = &fake.requests()[0].raw_body;
    assert!(
        asked.contains("US-1") && asked.contains("Implement the plugin"),
        "the stories are the instruction: {asked}"
    );
    // The scaffold serves (loaded and deployed by the reload); the model's file is only in
    // the candidate.
    ws.wait_serving("expense-tracker");
    assert!(
        !ws.path()
            .join("plugins/expense-tracker/IMPLEMENTED.md")
            .exists()
    );
}
