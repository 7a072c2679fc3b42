//! DEPLOYED.md: `naap export deployed` on demand, and `[export] deployed_md` kept current
//! by the engine after a deploy and a rollback (real engine, slots and files).

mod common;
use common::*;
use std::time::Duration;

/// Waits until the page holds every one of `wanted`; returns it.
fn page_with(ws: &TestWorkspace, wanted: &[&str]) -> String {
    let file = ws.path().join("DEPLOYED.md");
    let mut text = String::new();
    let ok = wait_for(Duration::from_secs(15), || {
        text = std::fs::read_to_string(&file).unwrap_or_default();
        wanted.iter().all(|w| text.contains(w))
    });
    assert!(ok, "DEPLOYED.md never showed {wanted:?}:\n{text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployed_md_follows_a_deploy_and_a_rollback() {
    let mut ws = TestWorkspace::new(&[("shop", sample_plugin("shop", "1.0.0", ""))]);
    ws.prepend_to_naap_toml("environment = \"staging\"\n[export]\ndeployed_md = \"DEPLOYED.md\"");
    ws.start_engine();
    ws.wait_serving("shop");
    let first = page_with(
        &ws,
        &[
            "# Deployed (STAGING)",
            "| shop | 1.0.0 |",
            "**Live:** 1.0.0 on blue (100 %)",
        ],
    );
    assert!(
        first.contains(&format!("http://{}/shop", ws.router())),
        "{first}"
    );

    ws.json(&["deploy", "shop", "--version", "2.0.0"]);
    let deployed = page_with(
        &ws,
        &[
            "**Live:** 2.0.0 on green (100 %)",
            "**Warm:** 1.0.0 on blue",
            "by cli (deploy)",
            "1.0.0 → 2.0.0",
        ],
    );
    assert!(deployed.contains("| shop | 2.0.0 | 1.0.0 |"), "{deployed}");

    ws.json(&["rollback", "shop", "--yes"]);
    let back = page_with(
        &ws,
        &[
            "**Live:** 1.0.0 on blue (100 %)",
            "Rollbacks:",
            "by cli (rollback)",
        ],
    );
    assert!(back.contains("rolled back"), "{back}");

    // On demand, to a file of one's choosing, the same page.
    let out = ws.path().join("elsewhere.md");
    let written = ws.naap(&["export", "deployed", "--out", out.to_str().expect("utf-8")]);
    assert!(written.status.success(), "{}", stderr(&written));
    let exported = std::fs::read_to_string(&out).expect("the export");
    assert!(exported.contains("**Live:** 1.0.0 on blue"), "{exported}");

    // A directory that does not exist is a clear error naming the flag.
    let bad = ws.naap(&["export", "deployed", "--out", "/nonexistent-dir/D.md"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(
        stderr(&bad).contains("--out /nonexistent-dir/D.md"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn a_deployed_md_that_is_a_directory_is_refused_at_its_line() {
    let ws = TestWorkspace::new(&[("shop", sample_plugin("shop", "1.0.0", ""))]);
    std::fs::create_dir_all(ws.path().join("docs")).expect("dir");
    ws.prepend_to_naap_toml("[export]\ndeployed_md = \"docs\"");
    let out = ws.naap(&["validate"]);
    assert_eq!(out.status.code(), Some(1));
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        text.contains("naap.toml:2:") && text.contains("export.deployed_md"),
        "{text}"
    );
}
