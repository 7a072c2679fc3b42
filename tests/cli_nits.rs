//! The small things a user trips over (issue 8, item 23): status --watch into a pipe, the
//! demo's ports and its traffic line, silence authors without $USER, exit 2 for a bad
//! --workspace, multi-line audit details in history, sample-service --help, RSS right after
//! a deploy. Real binary, real engine, real pipes.

mod common;

use common::{NAAP, TestWorkspace, sample_plugin, stderr, stdout, wait_for};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(30);

#[test]
fn a_workspace_that_is_not_one_is_a_bad_argument() {
    let missing = tempfile::tempdir().expect("temp dir").path().join("nope");
    let out = Command::new(NAAP)
        .arg("--workspace")
        .arg(&missing)
        .arg("status")
        .output()
        .expect("run naap");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no such directory"),
        "{}",
        stderr(&out)
    );

    let empty = tempfile::tempdir().expect("temp dir");
    let out = Command::new(NAAP)
        .env("NAAP_WORKSPACE", empty.path())
        .arg("status")
        .output()
        .expect("run naap");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("has no naap.toml"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("naap init"), "{}", stderr(&out));
}

#[test]
fn sample_service_help_lists_its_own_flags_only() {
    let out = Command::new(NAAP)
        .args(["sample-service", "--help"])
        .output()
        .expect("run naap");
    assert!(out.status.success(), "{}", stderr(&out));
    let help = stdout(&out);
    assert!(help.contains("--port"), "{help}");
    assert!(help.contains("--error-rate"), "{help}");
    for global in ["--workspace", "--no-start", "--json"] {
        assert!(!help.contains(global), "{global} listed:\n{help}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_watch_into_a_pipe_prints_reports_without_screen_codes() {
    let mut ws = TestWorkspace::new(&[("web", sample_plugin("web", "1.0.0", ""))]);
    ws.start_engine();
    let mut watch = Command::new(NAAP)
        .arg("--workspace")
        .arg(ws.path())
        .args(["--no-start", "status", "--watch"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn status --watch");
    let reader = BufReader::new(watch.stdout.take().expect("stdout"));
    // Two reports (the first, then at least one snapshot a second later).
    let mut text = String::new();
    let mut reports = 0;
    for line in reader.lines() {
        let line = line.expect("read");
        if line.starts_with("engine pid") {
            reports += 1;
        }
        text.push_str(&line);
        text.push('\n');
        if reports == 2 {
            break;
        }
    }
    let _ = watch.kill();
    let _ = watch.wait();
    assert_eq!(reports, 2, "{text}");
    assert!(!text.contains('\x1b'), "screen codes in a pipe: {text:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_shows_where_traffic_ends_and_a_slot_its_memory_right_after_a_deploy() {
    let mut ws = TestWorkspace::new(&[("web", sample_plugin("web", "1.0.0", ""))]);
    ws.start_engine();
    ws.wait_serving("web");
    // A dry run says where traffic would end: all on the idle slot.
    let dry = ws.json(&["deploy", "web", "--version", "1.1.0", "--dry-run"]);
    assert_eq!(
        dry["weights"],
        serde_json::json!([["blue", 0], ["green", 100]]),
        "{dry}"
    );
    ws.json(&["deploy", "web", "--version", "1.1.0"]);
    let green = ws.slot("web", "green");
    assert_eq!(green["weight"], 100, "{green}");
    assert!(green["rss_bytes"].as_u64() > Some(0), "{green}");
    let out = ws.naap(&["--no-start", "status", "web"]);
    let row = stdout(&out)
        .lines()
        .find(|l| l.trim_start().starts_with("green"))
        .unwrap_or_default()
        .to_string();
    assert!(!row.trim_end().ends_with('-'), "RSS missing: {row}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silence_without_user_is_authored_by_the_login_name() {
    let mut ws = TestWorkspace::new(&[("web", sample_plugin("web", "1.0.0", ""))]);
    ws.start_engine();
    let out = Command::new(NAAP)
        .arg("--workspace")
        .arg(ws.path())
        .env_remove("USER")
        .env_remove("LOGNAME")
        .args([
            "--json",
            "alerts",
            "silence",
            "web",
            "--for",
            "1h",
            "--comment",
        ])
        // A comment on two lines: the history table must keep its columns.
        .arg("deploying\nsee the ticket")
        .output()
        .expect("run naap");
    assert!(out.status.success(), "{}", stderr(&out));
    let silence: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let author = silence["author"].as_str().unwrap_or_default().to_string();
    assert!(!author.is_empty() && author != "unknown", "{silence}");
    // SAFETY: geteuid cannot fail.
    let uid = unsafe { libc::geteuid() };
    if uid == 0 {
        assert_eq!(author, "root", "{silence}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_line_audit_details_keep_the_history_table_aligned() {
    let mut ws = TestWorkspace::new(&[("web", sample_plugin("web", "1.0.0", ""))]);
    ws.start_engine();
    // A manifest broken after the engine started: the deploy's error lists every problem,
    // one per line, and the audit keeps that text.
    let broken =
        sample_plugin("web", "1.0.0", "").replace("interval = \"200ms\"", "interval = \"often\"");
    ws.write("plugins/web/plugin.toml", &broken);
    let out = ws.naap(&["deploy", "web", "--version", "1.0.1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let out = ws.naap(&["--no-start", "history", "web"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let audit = text.split("\naudit:\n").nth(1).unwrap_or_default();
    let mut lines = audit.lines();
    let header = lines.next().unwrap_or_default();
    let detail_col = header.find("DETAIL").expect("DETAIL column");
    let mut continued = 0;
    for line in lines {
        // Every line either starts a row (a timestamp) or continues the DETAIL column.
        let starts_row = line.chars().next().is_some_and(|c| c.is_ascii_digit());
        let continues = line.len() > detail_col && line[..detail_col].trim().is_empty();
        assert!(starts_row || continues, "broken row {line:?} in:\n{audit}");
        continued += usize::from(continues);
    }
    assert!(continued > 0, "no multi-line detail to check:\n{audit}");
}

#[test]
fn the_demo_picks_free_ports_and_says_when_there_is_no_traffic() {
    // Hold 8080 and 8081 when free, so the demo must pick others; when something else holds
    // them, it must as well.
    let held: Vec<_> = [8080u16, 8081]
        .iter()
        .filter_map(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).ok())
        .collect();
    let mut demo = Command::new(NAAP)
        .args(["demo", "--no-traffic"])
        .env("NAAP_CONFIG_DIR", tempfile::tempdir().expect("dir").path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn naap demo");
    let reader = BufReader::new(demo.stdout.take().expect("stdout"));
    let mut text = String::new();
    for line in reader.lines() {
        let line = line.expect("read");
        text.push_str(&line);
        text.push('\n');
        if line.starts_with("Ctrl-C") {
            break;
        }
    }
    // SAFETY: a signal to the child we started.
    unsafe { libc::kill(demo.id() as i32, libc::SIGTERM) };
    let stopped = wait_for(DEADLINE, || matches!(demo.try_wait(), Ok(Some(_))));
    if !stopped {
        let _ = demo.kill();
    }
    drop(held);
    assert!(stopped, "the demo did not stop on SIGTERM:\n{text}");
    let router = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("router   http://"))
        .unwrap_or_else(|| panic!("no router line:\n{text}"));
    assert!(!router.ends_with(":8080"), "{text}");
    assert!(!text.contains(":8081/metrics"), "{text}");
    assert!(text.contains("no background traffic"), "{text}");
    assert!(!text.contains("requests/s"), "{text}");
}
