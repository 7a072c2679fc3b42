//! `naap plugin list|disable|enable` against a real engine, real slot processes and the
//! real router: a disabled plugin stops, answers 503 saying why, stays off across an
//! engine restart, refuses changes, and comes back at its last live version.

mod common;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_plugin_answers_503_until_enabled_at_its_last_live_version() {
    let mut ws = TestWorkspace::new(&[("shop", sample_plugin("shop", "1.0.0", ""))]);
    ws.start_engine();
    ws.wait_serving("shop");
    ws.json(&["deploy", "shop", "--version", "2.0.0"]);
    let url = format!("http://{}/shop/api/items", ws.router());
    let http = client();

    // Every version, with how its last rollout ended and which is live.
    let list = ws.json(&["plugin", "list"]);
    let shop = &list[0];
    assert_eq!(shop["plugin"], "shop");
    assert_eq!(shop["live"], "2.0.0");
    let versions: Vec<(&str, &str, bool)> = shop["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| {
            (
                v["version"].as_str().unwrap_or(""),
                v["last_outcome"].as_str().unwrap_or(""),
                v["live"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    assert_eq!(
        versions,
        [("2.0.0", "succeeded", true), ("1.0.0", "succeeded", false)],
        "{list:#}"
    );
    let pids: Vec<u32> = ws.status()["plugins"][0]["slots"]
        .as_array()
        .expect("slots")
        .iter()
        .filter_map(|s| s["pid"].as_u64().map(|p| p as u32))
        .collect();
    assert_eq!(pids.len(), 2, "green live, blue warm");

    // Disable: the slots stop, the router says why.
    let out = ws.json(&["plugin", "disable", "shop", "--reason", "card data leak"]);
    assert_eq!(out["kind"], "disabled", "{out:#}");
    assert_eq!(out["version"], "2.0.0");
    for pid in &pids {
        assert!(
            wait_for(std::time::Duration::from_secs(10), || !process_alive(*pid)),
            "slot process {pid} still runs"
        );
    }
    let resp = http.get(&url).send().await.expect("a response");
    assert_eq!(resp.status(), 503);
    let body = resp.text().await.expect("body");
    assert!(
        body.contains("plugin shop is disabled (card data leak)")
            && body.contains("naap plugin enable shop"),
        "{body}"
    );
    let status = ws.status();
    assert_eq!(plugin_of(&status, "shop")["disabled"]["face"], "cli");

    // Changes are refused while it is off, and say how to bring it back.
    let out = ws.naap(&["deploy", "shop", "--version", "3.0.0"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("it is disabled"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("naap plugin enable shop"),
        "{}",
        stderr(&out)
    );
    let out = ws.naap(&["rollback", "shop", "--yes"]);
    assert!(!out.status.success());

    // An engine restart does not bring it back (no first deploy of a disabled plugin).
    ws.kill_engine();
    ws.start_engine();
    // The router listens on port 0: a new engine has a new port.
    let url = format!("http://{}/shop/api/items", ws.router());
    let resp = http.get(&url).send().await.expect("a response");
    assert_eq!(resp.status(), 503);
    assert!(plugin_of(&ws.status(), "shop")["disabled"].is_object());

    // Enable: the last live version serves again; the history keeps both.
    let out = ws.json(&["plugin", "enable", "shop"]);
    assert_eq!(out["kind"], "enabled", "{out:#}");
    assert_eq!(out["version"], "2.0.0");
    assert_eq!(
        versions_answering(&http, &url, 10).await,
        [("2.0.0".to_string(), 10)].into()
    );
    assert!(plugin_of(&ws.status(), "shop")["disabled"].is_null());
    let history = ws.json(&["history", "shop"]);
    let actions: Vec<&str> = history["audit"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["action"].as_str())
        .filter(|a| *a == "disable" || *a == "enable")
        .collect();
    assert_eq!(actions, ["disable", "enable"], "{history:#}");
    let kinds: Vec<&str> = history["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["kind"].as_str())
        .filter(|k| k.starts_with("plugin_"))
        .collect();
    assert_eq!(kinds, ["plugin_disabled", "plugin_enabled"], "{history:#}");

    // Enabling an enabled plugin changes nothing and says so.
    let again = ws.json(&["plugin", "enable", "shop"]);
    assert_eq!(again["kind"], "unchanged");
}

fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

#[test]
fn the_dashboard_line_and_the_operator_take_the_same_plugin_verbs() {
    let (label, call) = naap::command::line::parse("plugin disable shop --reason \"bad build\"")
        .expect("parses")
        .expect("a call");
    assert!(label.starts_with("plugin disable shop"), "{label}");
    assert_eq!(call.method(), "plugin_disable");
    assert_eq!(
        naap::api::catalog::effect_of(&call),
        naap::api::catalog::Effect::Change,
        "a person's yes is needed when a model asks for it"
    );
    let list = naap::api::catalog::find("plugins").expect("a read tool");
    assert_eq!(list.effect, naap::api::catalog::Effect::Read);
}
