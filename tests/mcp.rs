//! `naap mcp` driven by a real MCP client (rmcp's, over the child's stdio) against a real
//! engine: tools and their hints, a read, a change that waits until `naap approve`, a
//! rejection, `--allow-changes`, `--read-only`, resources, and the HTTP listener's token
//! and Host checks.

mod common;
use common::*;
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult, ReadResourceRequestParams};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::{Value, json};
use std::time::Duration;

type Client = RunningService<RoleClient, ()>;

async fn mcp(ws: &TestWorkspace, flags: &[&str]) -> Client {
    let command = tokio::process::Command::new(NAAP).configure(|c| {
        c.arg("--workspace")
            .arg(ws.path())
            .arg("--no-start")
            .arg("mcp")
            .args(flags);
    });
    ().serve(TokioChildProcess::new(command).expect("spawn naap mcp"))
        .await
        .expect("MCP handshake with naap mcp")
}

async fn call(client: &Client, tool: &str, arguments: Value) -> CallToolResult {
    let Value::Object(arguments) = arguments else {
        panic!("arguments must be an object")
    };
    client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments))
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"))
}

fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn weights(ws: &TestWorkspace) -> (Value, Value) {
    (
        ws.slot("shop", "blue")["weight"].clone(),
        ws.slot("shop", "green")["weight"].clone(),
    )
}

fn audited_as_mcp(ws: &TestWorkspace, action: &str) -> usize {
    ws.json(&["history", "shop"])["audit"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| e["face"] == "mcp" && e["action"] == action && e["result"] == "ok")
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mcp_client_reads_at_once_and_its_changes_wait_for_a_person() {
    let mut ws = TestWorkspace::new(&[("shop", sample_plugin("shop", "1.0.0", ""))]);
    ws.start_engine();
    ws.wait_serving("shop");
    ws.json(&["deploy", "shop", "--version", "2.0.0"]);
    assert_eq!(weights(&ws), (json!(0), json!(100)));

    let client = mcp(&ws, &[]).await;
    let info = client.peer_info().expect("server info");
    assert_eq!(
        info.server_info.as_ref().map(|i| i.name.as_str()),
        Some("naap")
    );

    // Tools: the catalog without admin calls, plus the workspace tools, with hints.
    let tools = client.list_all_tools().await.expect("tools/list");
    let tool = |name: &str| {
        tools
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("no tool {name}"))
            .clone()
    };
    for admin in ["shutdown", "subscribe", "ping"] {
        assert!(tools.iter().all(|t| t.name != admin), "{admin} is offered");
    }
    let status = tool("status").annotations.expect("status hints");
    assert_eq!(status.read_only_hint, Some(true));
    let rollback = tool("rollback").annotations.expect("rollback hints");
    assert_eq!(rollback.read_only_hint, Some(false));
    assert_eq!(rollback.destructive_hint, Some(true));
    let silence = tool("silence").annotations.expect("silence hints");
    assert_eq!(silence.read_only_hint, Some(false));
    assert_eq!(silence.destructive_hint, Some(false));
    assert_eq!(
        tool("read_file").annotations.and_then(|a| a.read_only_hint),
        Some(true)
    );
    assert_eq!(
        tool("rollback").input_schema.get("type"),
        Some(&json!("object"))
    );

    // A read runs and answers with the engine's real state.
    let result = call(&client, "status", json!({"plugin": "shop"})).await;
    assert_ne!(result.is_error, Some(true), "{}", text(&result));
    let report = result
        .structured_content
        .clone()
        .expect("structured status");
    let slots = report["plugins"][0]["slots"]
        .as_array()
        .expect("slots")
        .clone();
    let green = slots.iter().find(|s| s["slot"] == "green").expect("green");
    assert_eq!(green["weight"], 100);
    assert_eq!(green["version"], "2.0.0");

    // Resources: status, and the plugin's history.
    let resources = client.list_all_resources().await.expect("resources/list");
    let uris: Vec<&str> = resources.iter().map(|r| r.uri.as_str()).collect();
    for uri in [
        "naap://status",
        "naap://alerts",
        "naap://plugins/shop/history",
        "naap://plugins/shop/logs",
    ] {
        assert!(uris.contains(&uri), "{uri} missing from {uris:?}");
    }
    let read = client
        .read_resource(ReadResourceRequestParams::new(
            "naap://plugins/shop/history",
        ))
        .await
        .expect("resources/read");
    let body = serde_json::to_value(&read.contents[0]).expect("contents");
    let history: Value = serde_json::from_str(body["text"].as_str().expect("text")).expect("JSON");
    assert!(history["audit"].is_array(), "{history:#}");

    // A change does not run: it is a pending proposal with the engine's preview.
    let result = call(&client, "rollback", json!({"plugin": "shop"})).await;
    assert_ne!(result.is_error, Some(true), "{}", text(&result));
    let pending = result
        .structured_content
        .clone()
        .expect("structured proposal");
    assert_eq!(pending["status"], "pending", "{pending:#}");
    let id = pending["id"].as_str().expect("id").to_string();
    assert!(
        text(&result).contains(&format!("naap approve {id}")),
        "{}",
        text(&result)
    );
    let preview = pending["preview"].to_string();
    assert!(
        preview.contains("1.0.0") || preview.contains("warm"),
        "{preview}"
    );
    assert_eq!(
        weights(&ws),
        (json!(0), json!(100)),
        "the rollback ran unasked"
    );
    assert_eq!(audited_as_mcp(&ws, "rollback"), 0);

    // It is listed as waiting; a person approves it; it runs, audited as mcp.
    let waiting = ws.json(&["approvals"]);
    assert!(
        waiting
            .as_array()
            .is_some_and(|w| w.iter().any(|p| p["id"] == id.as_str())),
        "{waiting:#}"
    );
    let approved = ws.json(&["approve", &id]);
    assert_eq!(approved["status"], "ran", "{approved:#}");
    assert_eq!(weights(&ws), (json!(100), json!(0)));
    assert_eq!(audited_as_mcp(&ws, "rollback"), 1);
    // It ran once: a second yes is refused (exit 2), as is an unknown id.
    assert_eq!(ws.naap(&["approve", &id]).status.code(), Some(2));
    assert_eq!(ws.naap(&["approve", "p-nosuchid"]).status.code(), Some(2));

    // A rejected proposal never runs.
    let result = call(
        &client,
        "traffic",
        json!({"plugin": "shop", "weights": {"blue": 50, "green": 50}}),
    )
    .await;
    let pending = result
        .structured_content
        .clone()
        .expect("structured proposal");
    let id = pending["id"].as_str().expect("id").to_string();
    let rejected = ws.json(&["reject", &id]);
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(ws.naap(&["approve", &id]).status.code(), Some(2));
    assert_eq!(weights(&ws), (json!(100), json!(0)));
    assert!(
        ws.json(&["approvals"])
            .as_array()
            .is_some_and(|w| w.is_empty()),
        "nothing is left waiting"
    );
    client.cancel().await.expect("close");

    // --allow-changes: the client's own confirmation is the yes; still audited as mcp.
    let client = mcp(&ws, &["--allow-changes"]).await;
    let result = call(
        &client,
        "traffic",
        json!({"plugin": "shop", "weights": {"blue": 70, "green": 30}}),
    )
    .await;
    assert_ne!(result.is_error, Some(true), "{}", text(&result));
    assert_eq!(weights(&ws), (json!(70), json!(30)));
    assert_eq!(audited_as_mcp(&ws, "traffic"), 1);
    client.cancel().await.expect("close");

    // --read-only: no change tools at all, and a change call is refused.
    let client = mcp(&ws, &["--read-only"]).await;
    let tools = client.list_all_tools().await.expect("tools/list");
    assert!(tools.iter().any(|t| t.name == "status"));
    assert!(
        tools
            .iter()
            .all(|t| t.annotations.as_ref().and_then(|a| a.read_only_hint) == Some(true)),
        "a change tool is offered read-only: {:?}",
        tools.iter().map(|t| t.name.to_string()).collect::<Vec<_>>()
    );
    let refused = client
        .call_tool(
            CallToolRequestParams::new("rollback").with_arguments(
                json!({"plugin": "shop"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
        )
        .await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(weights(&ws), (json!(70), json!(30)));
    client.cancel().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_listener_wants_the_token_and_a_loopback_host() {
    let mut ws = TestWorkspace::new(&[("shop", sample_plugin("shop", "1.0.0", ""))]);
    ws.start_engine();

    // Only loopback addresses are served.
    let out = ws.naap(&["mcp", "--listen", "0.0.0.0:0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    let log = ws.path().join("mcp.out");
    let file = std::fs::File::create(&log).expect("log");
    let mut server = std::process::Command::new(NAAP)
        .arg("--workspace")
        .arg(ws.path())
        .args(["--no-start", "mcp", "--listen", "127.0.0.1:0"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(file)
        .spawn()
        .expect("spawn naap mcp --listen");
    let mut url = String::new();
    let up = wait_for(Duration::from_secs(30), || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        match text
            .split("listening on ")
            .nth(1)
            .and_then(|r| r.split(';').next())
        {
            Some(u) => {
                url = u.to_string();
                true
            }
            None => false,
        }
    });
    assert!(
        up,
        "no listening line: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let token_file = ws.state_dir().join("mcp.token");
    let token = std::fs::read_to_string(&token_file)
        .expect("token")
        .trim()
        .to_string();
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let printed = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!printed.contains(&token), "the token is printed: {printed}");

    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "test", "version": "1"}}
    });
    let http = client();
    let post = |auth: Option<&str>, host: Option<&str>| {
        let mut req = http
            .post(&url)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(initialize.to_string());
        if let Some(auth) = auth {
            req = req.header("authorization", format!("Bearer {auth}"));
        }
        if let Some(host) = host {
            req = req.header("host", host);
        }
        req.send()
    };
    let no_token = post(None, None).await.expect("request");
    assert_eq!(no_token.status(), 401);
    let bad_token = post(Some("0000"), None).await.expect("request");
    assert_eq!(bad_token.status(), 401);
    let bad_host = post(Some(&token), Some("evil.example"))
        .await
        .expect("request");
    assert_eq!(bad_host.status(), 403);
    let ok = post(Some(&token), None).await.expect("request");
    assert_eq!(ok.status(), 200);
    let body = ok.text().await.unwrap_or_default();
    assert!(body.contains("\"naap\""), "{body}");

    let _ = server.kill();
    let _ = server.wait();
}

/// Iterate's steps over MCP, under the same policy as every face: a client (itself a
/// model) starts a candidate, edits it, runs its gates and reads its diff without asking
/// (drafts touch only the staged copy); the preview and the accept wait for a person; a
/// read-only server edits nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mcp_client_iterates_on_a_candidate_and_shipping_waits_for_a_person() {
    let manifest = sample_plugin("shop", "1.4.0", "").replace(
        "stop_grace = \"2s\"",
        "stop_grace = \"2s\"\ntest = \"test -s ORDER.md\"",
    );
    let mut ws = TestWorkspace::new(&[("shop", manifest)]);
    ws.write("plugins/shop/ORDER.md", "oldest first\n");
    ws.start_engine();
    ws.wait_serving("shop");
    let client = mcp(&ws, &[]).await;

    let created = call(
        &client,
        "candidate_create",
        json!({"plugin": "shop", "instruction": "list the newest first"}),
    )
    .await;
    assert_ne!(created.is_error, Some(true), "{}", text(&created));
    let id = created.structured_content.clone().expect("structured")["id"]
        .as_str()
        .expect("an id")
        .to_string();

    // An edit that does not match is refused with the nearest lines; nothing is written.
    let missed = call(
        &client,
        "candidate_edit",
        json!({"id": id, "edits": [{"kind": "search_replace", "path": "ORDER.md",
            "search": "oldest at the top", "replace": "newest first"}]}),
    )
    .await;
    assert_eq!(missed.is_error, Some(true), "{}", text(&missed));
    assert!(text(&missed).contains("oldest first"), "{}", text(&missed));
    let edited = call(
        &client,
        "candidate_edit",
        json!({"id": id, "edits": [{"kind": "search_replace", "path": "ORDER.md",
            "search": "oldest first", "replace": "newest first"}]}),
    )
    .await;
    assert_ne!(edited.is_error, Some(true), "{}", text(&edited));
    let gates = call(&client, "candidate_gates", json!({"id": id})).await;
    assert_ne!(gates.is_error, Some(true), "{}", text(&gates));
    let run = gates.structured_content.clone().expect("structured");
    assert!(run["failed"].is_null(), "{run:#}");
    let diff = call(&client, "candidate_diff", json!({"id": id})).await;
    assert!(text(&diff).contains("+newest first"), "{}", text(&diff));
    let live = ws.path().join("plugins/shop/ORDER.md");
    assert_eq!(
        std::fs::read_to_string(&live).expect("live"),
        "oldest first\n"
    );

    // Shipping is a change: the preview and the accept wait for a person's yes.
    let preview = call(
        &client,
        "deploy",
        json!({"plugin": "shop", "preview": true, "candidate": id}),
    )
    .await;
    let waiting = preview.structured_content.clone().expect("structured");
    assert_eq!(waiting["status"], "pending", "{waiting:#}");
    assert!(
        waiting["preview"].to_string().contains("staged tree"),
        "the engine's dry run says it runs the candidate: {waiting:#}"
    );
    let accept = call(&client, "candidate_accept", json!({"id": id})).await;
    let accept = accept.structured_content.clone().expect("structured");
    assert_eq!(accept["status"], "pending", "{accept:#}");
    assert_eq!(
        std::fs::read_to_string(&live).expect("live"),
        "oldest first\n"
    );
    let approved = ws.json(&["approve", accept["id"].as_str().expect("id")]);
    assert_eq!(approved["status"], "ran", "{approved:#}");
    assert_eq!(
        std::fs::read_to_string(&live).expect("live"),
        "newest first\n"
    );
    assert_eq!(audited_as_mcp(&ws, "candidate_accept"), 1);
    client.cancel().await.expect("close");

    // Read-only: not even a candidate is started.
    let client = mcp(&ws, &["--read-only"]).await;
    let tools = client.list_all_tools().await.expect("tools/list");
    assert!(tools.iter().any(|t| t.name == "candidate_diff"));
    assert!(tools.iter().all(|t| t.name != "candidate_edit"));
    let refused = client
        .call_tool(
            CallToolRequestParams::new("candidate_create").with_arguments(
                json!({"plugin": "shop", "instruction": "anything"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
        )
        .await;
    assert!(refused.is_err(), "{refused:?}");
    client.cancel().await.expect("close");
}
