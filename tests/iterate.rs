//! Iterate's pipeline on a real engine with a scripted model (the fake server speaks
//! OpenAI's streaming protocol over a real socket): the model's edits land in a
//! candidate, the gates run on it, a failure goes back to the model and its fix passes,
//! or the same failure comes back and the loop stops as stuck; a candidate that passes
//! becomes proposals (accept, then a canary deploy) that run only when approved.

mod common;
use common::fake_llm::{FakeLlm, openai_text, openai_tool_calls};
use common::*;
use naap::ai::iterate::pipeline::{IterateEnd, IterateRequest, ShipAs, iterate};
use serde_json::json;

const APP: &str = "def items():\n    rows = [1, 2, 3]\n    return sorted(rows)\n";
const TEST_APP: &str = "import unittest\n\nimport app\n\n\nclass AppTest(unittest.TestCase):\n    def test_items(self):\n        self.assertEqual(app.items(), [1, 2, 3])\n\n\nif __name__ == \"__main__\":\n    unittest.main()\n";

fn workspace() -> TestWorkspace {
    let manifest = sample_plugin("shop", "1.4.0", "").replace(
        "stop_grace = \"2s\"",
        "stop_grace = \"2s\"\ntest = \"python3 -m unittest -q\"",
    );
    let mut ws = TestWorkspace::new(&[("shop", manifest)]);
    ws.write("plugins/shop/app.py", APP);
    ws.write("plugins/shop/test_app.py", TEST_APP);
    ws.start_engine();
    ws.wait_serving("shop");
    ws
}

/// One model turn that sends `edits` (the candidate's id is bound, so it sends none).
fn edit_turn(edits: serde_json::Value) -> [common::fake_llm::Reply; 2] {
    let arguments = json!({ "edits": edits }).to_string();
    [
        openai_tool_calls(&[("call_e", "candidate_edit", &arguments)]),
        openai_text(&["Changed it."]),
    ]
}

fn request(heal_attempts: u32) -> IterateRequest {
    IterateRequest {
        plugin: "shop".into(),
        instruction: "make items return the newest first".into(),
        version: None,
        heal_attempts,
        ship: ShipAs::Canary,
        retry_of: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_test_is_healed_and_the_candidate_ships_only_on_yes() {
    let ws = workspace();
    let mut script = Vec::new();
    // The change breaks the plugin's test…
    script.extend(edit_turn(
        json!([{"kind": "search_replace", "path": "app.py",
        "search": "return sorted(rows)", "replace": "return sorted(rows, reverse=True)"}]),
    ));
    // …and the fix updates the test.
    script.extend(edit_turn(
        json!([{"kind": "search_replace", "path": "test_app.py",
        "search": "[1, 2, 3]", "replace": "[3, 2, 1]"}]),
    ));
    let fake = FakeLlm::with(script);
    let operator = operator_on(&ws, &fake);
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let done = iterate(&operator, &request(3), &tx).await.expect("iterate");
    drop(tx);
    assert_eq!(done.end, IterateEnd::Ready, "{done:#?}");
    assert_eq!(done.heal_attempts, 1);
    assert!(
        done.diff.contains("+    return sorted(rows, reverse=True)"),
        "{}",
        done.diff
    );
    assert!(done.diff.contains("[3, 2, 1]"), "{}", done.diff);

    // What the model was told in the fix turn: the failing gate and the problem's place.
    let requests = fake.requests();
    assert_eq!(requests.len(), 4, "two turns of two requests each");
    let heal = &requests[2].raw_body;
    assert!(
        heal.contains("The `test` gate failed") && heal.contains("test_app.py"),
        "{heal}"
    );
    // The model is offered the candidate's tools only, without the bound id.
    let offered: Vec<String> = requests[0].body["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["function"]["name"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        offered,
        ["candidate_diff", "candidate_edit"]
            .map(String::from)
            .to_vec()
    );
    let edit_schema = requests[0].body["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .find(|t| t["function"]["name"] == "candidate_edit")
        .expect("the edit tool")["function"]["parameters"]
        .clone();
    assert!(
        edit_schema["properties"].get("id").is_none(),
        "{edit_schema:#}"
    );

    // The timeline.
    let mut steps = Vec::new();
    while let Ok(event) = rx.try_recv() {
        if let Ok(value) = serde_json::to_value(&event)
            && let Some(step) = value["step"].as_str()
        {
            steps.push(step.to_string());
        }
    }
    steps.dedup();
    assert_eq!(
        steps,
        [
            "created", "edited", "gates", "heal", "edited", "gates", "proposed"
        ],
        "{steps:?}"
    );

    // One proposal: accept as the derived version; the canary deploy of that version is
    // proposed only once it ran. Nothing has run: the live source is as it was.
    let version = format!("1.4.1-ai.{}", done.candidate);
    assert_eq!(done.proposals.len(), 1);
    assert!(
        done.proposals[0]
            .proposal
            .label
            .starts_with("candidate_accept"),
        "{:?}",
        done.proposals[0].proposal.label
    );
    let ship = done.ship.clone().expect("the deploy to propose next");
    let ship_label = naap::ai::proposal::label_of(&ship);
    assert!(
        ship_label.starts_with("deploy shop")
            && ship_label.contains(&version)
            && ship_label.contains("canary"),
        "{ship_label}"
    );
    let accept_lines = done.proposals[0].proposal.lines.join(" ");
    assert!(
        accept_lines.contains(&format!("would write shop's source as {version}")),
        "the accept's dry run says what it writes: {accept_lines}"
    );
    let live = ws.path().join("plugins/shop/app.py");
    assert_eq!(std::fs::read_to_string(&live).expect("live"), APP);

    // A yes to the accept writes the candidate into the source.
    operator
        .approve(&done.proposals[0], None)
        .await
        .expect("accepted");
    assert!(
        std::fs::read_to_string(&live)
            .expect("live")
            .contains("reverse=True")
    );
    let shown = ws.json(&["candidate", "show", &done.candidate]);
    assert_eq!(shown["status"], "accepted", "{shown:#}");
    assert_eq!(shown["version"], version.as_str(), "{shown:#}");
    // Every attempt is in the history: the edit, the failed gates, the fix, the gates
    // passing, the accept.
    let steps: Vec<(String, String)> = shown["history"]
        .as_array()
        .expect("a history")
        .iter()
        .map(|s| {
            (
                s["kind"].as_str().unwrap_or("").to_string(),
                s["summary"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let kinds: Vec<&str> = steps
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| ["edit", "gates", "heal", "accepted"].contains(k))
        .collect();
    assert_eq!(
        kinds,
        ["edit", "gates", "heal", "gates", "accepted"],
        "{steps:#?}"
    );
    assert!(
        steps
            .iter()
            .any(|(k, s)| k == "heal" && s.starts_with("fix 1 after a failed gate run")),
        "{steps:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_failure_twice_stops_as_stuck_before_the_attempt_limit() {
    let ws = workspace();
    let mut script = Vec::new();
    script.extend(edit_turn(
        json!([{"kind": "search_replace", "path": "app.py",
        "search": "return sorted(rows)", "replace": "return sorted(rows, reverse=True)"}]),
    ));
    // A "fix" that changes nothing that matters: the same test fails the same way.
    script.extend(edit_turn(
        json!([{"kind": "search_replace", "path": "app.py",
        "search": "rows = [1, 2, 3]", "replace": "rows = [1, 2, 3]  # the rows"}]),
    ));
    let fake = FakeLlm::with(script);
    let operator = operator_on(&ws, &fake);
    let (tx, _rx) = tokio::sync::mpsc::channel(1024);
    let done = iterate(&operator, &request(3), &tx).await.expect("iterate");
    assert_eq!(done.end, IterateEnd::Stuck, "{done:#?}");
    assert_eq!(done.heal_attempts, 1, "stopped before the limit of 3");
    assert!(
        done.proposals.is_empty() && done.ship.is_none(),
        "nothing to ship"
    );
    let failure = done.failure.expect("the last failure, for the person");
    assert_eq!(failure.gate, "test");
    assert_eq!(fake.requests().len(), 4, "no third turn");
    let shown = ws.json(&["candidate", "show", &done.candidate]);
    assert_eq!(shown["status"], "gates_failed", "{shown:#}");
}

/// `naap iterate` without --yes stops at the first proposal (exit 3), kept in the session
/// store, where `naap approve ID` runs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naap_iterate_stops_at_the_first_proposal_and_approve_runs_it() {
    let ws = workspace();
    let fake = FakeLlm::with(edit_turn(
        json!([{"kind": "search_replace", "path": "app.py",
        "search": "rows = [1, 2, 3]", "replace": "rows = [1, 2, 3]  # newest last"}]),
    ));
    let out = naap_on_fake_model(
        &ws,
        &fake,
        &["iterate", "shop", "note", "the", "order", "--json"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let done: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(done["end"], "ready", "{done:#}");
    let proposal = &done["decided"][0];
    assert_eq!(proposal["status"], "waiting", "{done:#}");
    let live = ws.path().join("plugins/shop/app.py");
    assert_eq!(std::fs::read_to_string(&live).expect("live"), APP);

    let id = proposal["id"].as_str().expect("an id");
    let approved = ws.naap(&["approve", id]);
    assert!(approved.status.success(), "{}", stderr(&approved));
    assert!(
        std::fs::read_to_string(&live)
            .expect("live")
            .contains("# newest last")
    );
    let candidate = done["candidate"].as_str().expect("candidate");
    assert_eq!(
        ws.json(&["candidate", "show", candidate])["status"],
        "accepted"
    );
}

/// A candidate whose code answers 500s passes its (absent) gates, ships as a canary, is
/// rolled back by the canary's analysis, and is marked so with the verdict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_candidate_that_fails_its_canary_is_rolled_back_and_marked_so() {
    // The service reads extra flags from a file of its source: the candidate writes them.
    let manifest = sample_plugin("pay", "1.0.0", "")
        .replace(
            "--version {version} ",
            "--version {version} $(cat fault.args 2>/dev/null) ",
        )
        .replace(
            "kind = \"blue-green\"",
            "kind = \"canary\"\nsteps = [50, 100]\nstep_interval = \"6s\"",
        )
        + "\n[analysis]\nmin_samples = 5\n";
    let mut ws = TestWorkspace::new(&[("pay", manifest)]);
    ws.start_engine();
    ws.wait_serving("pay");
    let fake = FakeLlm::with(edit_turn(
        json!([{"kind": "whole_file", "path": "fault.args",
        "content": "--error-rate 1\n"}]),
    ));
    let operator = operator_on(&ws, &fake);
    let (tx, _rx) = tokio::sync::mpsc::channel(1024);
    let req = IterateRequest {
        plugin: "pay".into(),
        instruction: "answer faster".into(),
        version: None,
        heal_attempts: 3,
        ship: ShipAs::Canary,
        retry_of: None,
    };
    let done = iterate(&operator, &req, &tx).await.expect("iterate");
    assert_eq!(done.end, IterateEnd::Ready, "{done:#?}");
    operator
        .approve(&done.proposals[0], None)
        .await
        .expect("accepted");

    let load = Load::start(format!("http://{}/pay/api/items", ws.router()), 3);
    let deploy = operator
        .propose(done.ship.clone().expect("the deploy"))
        .await;
    let shipped = operator.approve(&deploy, None).await;
    load.finish().await;
    let err = shipped.expect_err("the canary fails its analysis");
    assert!(err.contains("failed its analysis"), "{err}");
    assert_eq!(
        ws.slot("pay", "blue")["weight"],
        100,
        "back on the stable slot"
    );

    let shown = ws.json(&["candidate", "show", &done.candidate]);
    assert_eq!(shown["status"], "rolled_back", "{shown:#}");
    let last = shown["history"]
        .as_array()
        .and_then(|h| h.last())
        .cloned()
        .expect("a history");
    assert_eq!(last["kind"], "rolled_back", "{shown:#}");
    assert!(
        last["summary"]
            .as_str()
            .is_some_and(|s| s.contains("analysis")),
        "the verdict is kept: {last:#}"
    );

    // Asked to try again from there: the model is told the request and the verdict, and
    // fixes forward from the source the accept left.
    let asked_before = fake.requests().len();
    for reply in edit_turn(json!([{"kind": "whole_file", "path": "fault.args", "content": ""}])) {
        fake.push(reply);
    }
    let retry = IterateRequest {
        instruction: String::new(),
        retry_of: Some(done.candidate.clone()),
        ..req.clone()
    };
    let again = iterate(&operator, &retry, &tx)
        .await
        .expect("iterate again");
    assert_eq!(again.end, IterateEnd::Ready, "{again:#?}");
    assert!(
        again.diff.contains("---error-rate 1") || again.diff.contains("--error-rate 1"),
        "{}",
        again.diff
    );
    let told = &fake.requests()[asked_before].raw_body;
    assert!(
        told.contains(&format!("This follows candidate `{}`", done.candidate))
            && told.contains("answer faster")
            && told.contains("analysis"),
        "{told}"
    );
    let shown = ws.json(&["candidate", "show", &again.candidate]);
    assert!(
        shown["instruction"]
            .as_str()
            .is_some_and(|i| i.contains(&done.candidate)),
        "{shown:#}"
    );
}
