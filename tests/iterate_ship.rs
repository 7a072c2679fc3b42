//! Iterate end to end on a real Python HTTP plugin: a scripted model (the fake server
//! speaks OpenAI's streaming protocol over a real socket) changes what `/api/items`
//! answers; the candidate runs first as a preview (only requests with its header see the
//! change), then is accepted and ships as a canary; requests through the router answer
//! the new behaviour; the candidate's history links the instruction to the version.

mod common;
use common::fake_llm::{FakeLlm, openai_text, openai_tool_calls};
use common::*;
use naap::ai::iterate::pipeline::{IterateEnd, IterateRequest, ShipAs, iterate};
use serde_json::json;
use std::time::Duration;

const APP: &str = "def items():\n    return sorted([\"a\", \"b\", \"c\"])\n";
const TEST_APP: &str = "import unittest\n\nimport app\n\n\nclass AppTest(unittest.TestCase):\n    def test_items(self):\n        self.assertEqual(len(app.items()), 3)\n\n\nif __name__ == \"__main__\":\n    unittest.main()\n";
const SERVER: &str = r#"import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import app


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            body = b"ok"
        elif self.path.endswith("/api/items"):
            body = json.dumps(app.items()).encode()
        else:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"#;

fn manifest() -> String {
    r#"[plugin]
name = "items"
version = "1.4.0"
route = "/items"

[run]
command = "python3 server.py {port}"
test = "python3 -m unittest -q"
stop_grace = "2s"
startup_timeout = "20s"

[health]
path = "/health"
interval = "200ms"
timeout = "150ms"
unhealthy_threshold = 2

[strategy]
kind = "canary"
steps = [50, 100]
step_interval = "1s"

[rollback]
keep_previous_warm = "30m"
"#
    .to_string()
}

/// The body of GET `url`, with `x-naap-slot: slot` when given.
async fn body(url: &str, slot: Option<&str>) -> (u16, String) {
    let mut request = client().get(url);
    if let Some(slot) = slot {
        request = request.header("x-naap-slot", slot);
    }
    match request.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            (status, resp.text().await.unwrap_or_default())
        }
        Err(e) => (0, format!("{e:?}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_answer_is_previewed_then_ships_as_a_canary_and_its_history_links_the_version() {
    let mut ws = TestWorkspace::new(&[("items", manifest())]);
    ws.write("plugins/items/app.py", APP);
    ws.write("plugins/items/test_app.py", TEST_APP);
    ws.write("plugins/items/server.py", SERVER);
    ws.start_engine();
    let deployed = ws.naap(&["deploy", "items", "--strategy", "immediate"]);
    assert!(deployed.status.success(), "{}", stderr(&deployed));
    ws.wait_serving("items");
    let url = format!("http://{}/items/api/items", ws.router());
    assert_eq!(body(&url, None).await, (200, r#"["a", "b", "c"]"#.into()));

    let arguments = json!({"edits": [{"kind": "search_replace", "path": "app.py",
        "search": "sorted([\"a\", \"b\", \"c\"])",
        "replace": "sorted([\"a\", \"b\", \"c\"], reverse=True)"}]})
    .to_string();
    let fake = FakeLlm::with([
        openai_tool_calls(&[("call_e", "candidate_edit", &arguments)]),
        openai_text(&["Items now come newest first."]),
    ]);
    let operator = operator_on(&ws, &fake);
    let (tx, _rx) = tokio::sync::mpsc::channel(1024);
    let instruction = "make /api/items return the newest first";
    let req = IterateRequest {
        plugin: "items".into(),
        instruction: instruction.into(),
        version: None,
        heal_attempts: 3,
        ship: ShipAs::Preview,
        retry_of: None,
    };
    let done = iterate(&operator, &req, &tx).await.expect("iterate");
    assert_eq!(done.end, IterateEnd::Ready, "{done:#?}");
    assert!(
        done.diff
            .contains("-    return sorted([\"a\", \"b\", \"c\"])")
            && done
                .diff
                .contains("+    return sorted([\"a\", \"b\", \"c\"], reverse=True)"),
        "the diff shows the change:\n{}",
        done.diff
    );
    let version = format!("1.4.1-ai.{}", done.candidate);

    // The preview: proposed, run on a yes, the candidate's tree in its own slot.
    assert_eq!(done.proposals.len(), 1);
    let preview = &done.proposals[0];
    assert!(
        preview
            .proposal
            .lines
            .join(" ")
            .contains(&format!("candidate {}'s staged tree", done.candidate)),
        "the dry run says it runs the candidate: {:?}",
        preview.proposal.lines
    );
    let started = operator
        .approve(preview, None)
        .await
        .expect("the preview starts");
    let slot = started["slot"]
        .as_str()
        .expect("a preview slot")
        .to_string();
    assert_eq!(started["version"], version.as_str(), "{started:#}");
    assert_eq!(
        body(&url, Some(&slot)).await,
        (200, r#"["c", "b", "a"]"#.into()),
        "the preview answers the new behaviour"
    );
    assert_eq!(
        body(&url, None).await,
        (200, r#"["a", "b", "c"]"#.into()),
        "everyone else still gets the live version"
    );
    let live = ws.path().join("plugins/items/app.py");
    assert_eq!(std::fs::read_to_string(&live).expect("live"), APP);

    // Discarding it now would pull the files from under the preview: refused.
    let discard = ws.naap(&["candidate", "discard", &done.candidate]);
    assert!(!discard.status.success());
    assert!(
        stderr(&discard).contains("stop the preview first"),
        "{}",
        stderr(&discard)
    );

    // Unaccepted, a candidate never reaches blue/green: the engine refuses, the CLI too.
    let refused = operator
        .tools()
        .engine(naap::api::Call::Deploy(naap::core::engine::DeployRequest {
            plugin: "items".into(),
            candidate: Some(done.candidate.clone()),
            dry_run: true,
            ..Default::default()
        }))
        .await
        .expect_err("a candidate deploys as a preview only");
    assert!(refused.contains("accept it first"), "{refused}");
    let flags = ws.naap(&["deploy", "items", "--candidate", &done.candidate]);
    assert_eq!(flags.status.code(), Some(2), "{}", stderr(&flags));
    assert!(stderr(&flags).contains("--preview"), "{}", stderr(&flags));

    // Accepted, then shipped as a canary (each on a yes).
    let accepted = ws.naap(&["candidate", "accept", &done.candidate]);
    assert!(accepted.status.success(), "{}", stderr(&accepted));
    assert!(
        std::fs::read_to_string(&live)
            .expect("live")
            .contains("reverse=True")
    );
    let canary = ws.naap(&["deploy", "items", "--version", &version]);
    assert!(canary.status.success(), "{}", stderr(&canary));
    assert!(
        wait_for(Duration::from_secs(20), || {
            ws.status()["plugins"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["name"] == "items" && p["live_version"] == version.as_str())
                || plugin_of(&ws.status(), "items")["slots"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|s| s["version"] == version.as_str() && s["weight"] == 100)
        }),
        "the canary reaches 100%: {:#}",
        ws.status()
    );
    for _ in 0..10 {
        assert_eq!(
            body(&url, None).await,
            (200, r#"["c", "b", "a"]"#.into()),
            "the router answers the new behaviour"
        );
    }

    // The history: instruction → edit → gates → preview → accepted as the version →
    // deployed.
    let shown = ws.json(&["candidate", "show", &done.candidate]);
    assert_eq!(shown["instruction"], instruction, "{shown:#}");
    assert_eq!(shown["version"], version.as_str(), "{shown:#}");
    let kinds: Vec<&str> = shown["history"]
        .as_array()
        .expect("a history")
        .iter()
        .filter_map(|s| s["kind"].as_str())
        .collect();
    for kind in ["edit", "gates", "preview", "accepted", "deployed"] {
        assert!(kinds.contains(&kind), "{kind} is in the history: {kinds:?}");
    }
    let position = |kind: &str| kinds.iter().position(|k| *k == kind);
    assert!(position("preview") < position("accepted"));
    assert!(position("accepted") < position("deployed"));
}
