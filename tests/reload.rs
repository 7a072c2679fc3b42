//! `naap reload` on a running engine (real `naap serve`, real slot processes): plugins
//! added, removed and changed; a broken manifest refused whole and kept from blocking the
//! other plugins; and a deploy sent while the engine's first start of a plugin runs.

mod common;
use common::*;
use serde_json::Value;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(60);

/// Rewrites naap.toml to list exactly these plugin directories.
fn list_plugins(ws: &TestWorkspace, names: &[&str]) {
    let mut toml = String::from("[router]\nlisten = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\n");
    for name in names {
        toml.push_str(&format!("\n[[plugins]]\npath = \"plugins/{name}\"\n"));
    }
    ws.write("naap.toml", &toml);
}

fn pid(ws: &TestWorkspace, plugin: &str, slot: &str) -> Option<u64> {
    ws.slot(plugin, slot)["pid"].as_u64()
}

fn alive(pid: u64) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid as i32, 0) == 0 }
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["name"].as_str().or(x.as_str()).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_adds_a_plugin_that_can_then_be_deployed() {
    let mut ws = TestWorkspace::new(&[("api", sample_plugin("api", "1.0.0", ""))]);
    ws.start_engine();
    ws.wait_serving("api");
    let api_pid = pid(&ws, "api", "blue");

    ws.write(
        "plugins/cond/plugin.toml",
        &sample_plugin("cond", "1.0.0", ""),
    );
    list_plugins(&ws, &["api", "cond"]);
    // Listed on disk but not loaded: the refusal says what to do.
    let out = ws.naap(&["--no-start", "deploy", "cond"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("naap reload"), "{}", stderr(&out));

    let report = ws.json(&["--no-start", "reload"]);
    assert_eq!(names(&report["added"]), ["cond"], "{report:#}");
    assert_eq!(report["added"][0]["first_deploy"], "1.0.0", "{report:#}");
    assert_eq!(names(&report["unchanged"]), ["api"], "{report:#}");
    ws.wait_serving("cond");
    // A deploy right after the reload waits behind the first start if it still runs.
    ws.json(&["--no-start", "deploy", "cond", "--version", "2.0.0"]);
    let http = client();
    let seen = versions_answering(&http, &format!("http://{}/cond/", ws.router()), 10).await;
    assert_eq!(seen, [("2.0.0".to_string(), 10)].into());
    assert_eq!(pid(&ws, "api", "blue"), api_pid, "api was not touched");
    // Reloading an unchanged workspace changes nothing, and says so.
    let out = ws.naap(&["--no-start", "reload"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.contains("unchanged api, cond") && text.contains("nothing changed"),
        "{text}"
    );
    assert_eq!(pid(&ws, "api", "blue"), api_pid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_stops_a_removed_plugin_and_applies_a_changed_one() {
    let mut ws = TestWorkspace::new(&[
        ("api", sample_plugin("api", "1.0.0", "")),
        ("web", sample_plugin("web", "1.0.0", "")),
        ("old", sample_plugin("old", "1.0.0", "")),
    ]);
    ws.start_engine();
    for p in ["api", "web", "old"] {
        ws.wait_serving(p);
    }
    let (api_pid, web_pid, old_pid) = (
        pid(&ws, "api", "blue"),
        pid(&ws, "web", "blue"),
        pid(&ws, "old", "blue").expect("old pid"),
    );
    // web: a new route (applies now) and a new version (applies on its next deploy).
    ws.write(
        "plugins/web/plugin.toml",
        &sample_plugin("web", "1.1.0", "").replace("route = \"/web\"", "route = \"/site\""),
    );
    list_plugins(&ws, &["api", "web"]);

    let report = ws.json(&["--no-start", "reload"]);
    assert_eq!(names(&report["removed"]), ["old"], "{report:#}");
    assert_eq!(
        report["removed"][0]["stopped"][0], "blue 1.0.0",
        "{report:#}"
    );
    assert_eq!(names(&report["changed"]), ["web"], "{report:#}");
    assert_eq!(
        report["changed"][0]["applied_now"][0], "route",
        "{report:#}"
    );
    assert_eq!(
        report["changed"][0]["next_deploy"][0], "version",
        "{report:#}"
    );
    assert_eq!(names(&report["unchanged"]), ["api"], "{report:#}");

    assert!(
        wait_for(DEADLINE, || !alive(old_pid)),
        "old's slot still runs"
    );
    assert!(plugin_of(&ws.status(), "old").is_null());
    // The unchanged plugin and the changed one's running slot kept their processes; the
    // new route serves the version that runs.
    assert_eq!(pid(&ws, "api", "blue"), api_pid);
    assert_eq!(pid(&ws, "web", "blue"), web_pid);
    let http = client();
    let router = ws.router();
    let seen = versions_answering(&http, &format!("http://{router}/site/"), 5).await;
    assert_eq!(seen, [("1.0.0".to_string(), 5)].into());
    let (status, _, _) = get(&http, &format!("http://{router}/old/"))
        .await
        .expect("get");
    assert_eq!(status, 404, "the removed plugin's route is gone");
    let history = ws.json(&["--no-start", "history", "web"]);
    assert!(
        history["events"]
            .to_string()
            .contains("manifest reloaded: applied now: route"),
        "{history:#}"
    );
    // The changed manifest applies on web's next deploy.
    ws.json(&["--no-start", "deploy", "web"]);
    let seen = versions_answering(&http, &format!("http://{router}/site/"), 5).await;
    assert_eq!(seen, [("1.1.0".to_string(), 5)].into());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_manifest_is_refused_whole_and_blocks_no_other_plugin() {
    let mut ws = TestWorkspace::new(&[
        ("api", sample_plugin("api", "1.0.0", "")),
        ("web", sample_plugin("web", "1.0.0", "")),
    ]);
    ws.start_engine();
    ws.wait_serving("api");
    ws.wait_serving("web");
    // Two edits at once: a plugin added, and web broken. Neither may apply.
    ws.write(
        "plugins/cond/plugin.toml",
        &sample_plugin("cond", "1.0.0", ""),
    );
    list_plugins(&ws, &["api", "web", "cond"]);
    let broken =
        sample_plugin("web", "1.1.0", "").replace("interval = \"200ms\"", "interval = \"fast\"");
    ws.write("plugins/web/plugin.toml", &broken);

    let out = ws.naap(&["--no-start", "reload"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    let line = broken
        .lines()
        .position(|l| l.starts_with("interval"))
        .expect("interval line")
        + 1;
    assert!(err.contains(&format!("web/plugin.toml:{line}:")), "{err}");
    assert!(err.contains("health.interval"), "{err}");
    assert!(
        plugin_of(&ws.status(), "cond").is_null(),
        "nothing half-applied"
    );

    // The broken plugin's deploy answers with its problem; the others still deploy.
    let out = ws.naap(&["--no-start", "deploy", "web"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("health.interval"), "{err}");
    let rollouts = ws.json(&["--no-start", "history", "web"])["rollouts"].clone();
    assert!(
        !rollouts.to_string().contains("1.1.0"),
        "refused before a rollout started: {rollouts:#}"
    );
    ws.json(&["--no-start", "deploy", "api", "--version", "2.0.0"]);
    assert_eq!(ws.slot("api", "green")["version"], "2.0.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_starts_with_a_broken_plugin_and_says_which_and_why() {
    let broken =
        sample_plugin("web", "1.0.0", "").replace("kind = \"blue-green\"", "kind = \"sideways\"");
    let mut ws = TestWorkspace::new(&[("api", sample_plugin("api", "1.0.0", "")), ("web", broken)]);
    ws.start_engine();
    ws.wait_serving("api");
    let status = ws.status();
    let web = &status["broken"][0];
    assert_eq!(web["name"], "web", "{status:#}");
    let problems = web["problems"].to_string();
    assert!(problems.contains("strategy.kind"), "{problems}");
    assert!(problems.contains("plugin.toml:"), "{problems}");
    let text = stdout(&ws.naap(&["--no-start", "status"]));
    assert!(text.contains("web  NOT LOADED"), "{text}");

    // Fixed on disk, a reload loads it.
    ws.write(
        "plugins/web/plugin.toml",
        &sample_plugin("web", "1.0.0", ""),
    );
    let report = ws.json(&["--no-start", "reload"]);
    assert_eq!(names(&report["added"]), ["web"], "{report:#}");
    ws.wait_serving("web");
    assert!(
        ws.status()["broken"]
            .as_array()
            .is_some_and(|b| b.is_empty())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_sent_right_after_serve_starts_waits_for_the_first_start() {
    // The build gate keeps the engine's first start of api busy for a while.
    let manifest = sample_plugin("api", "1.0.0", "").replace(
        "stop_grace = \"2s\"",
        "stop_grace = \"2s\"\nbuild = \"sleep 3\"",
    );
    let mut ws = TestWorkspace::new(&[("api", manifest)]);
    ws.start_engine();
    let out = ws.naap(&["--no-start", "deploy", "api", "--version", "2.0.0"]);
    assert!(
        out.status.success(),
        "refused instead of waiting: {}\n{}",
        stderr(&out),
        ws.serve_output()
    );
    assert!(
        stderr(&out).contains("waits for the engine's first start"),
        "{}",
        stderr(&out)
    );
    let http = client();
    let seen = versions_answering(&http, &format!("http://{}/api/", ws.router()), 5).await;
    assert_eq!(seen, [("2.0.0".to_string(), 5)].into());
}
