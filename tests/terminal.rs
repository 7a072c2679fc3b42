//! The dashboard in a real terminal: tmux runs `naap demo`, keys are sent as a person would
//! type them, the screen is read back with capture-pane, and requests through the demo's
//! router show that what the screen says is what the engine did.

mod common;
use common::fake_llm;
use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    session: String,
    // Each test has its own tmux server (`-L`): on the shared default server, the server
    // exiting after one test's last session raced the next test's new-session
    // ("server exited unexpectedly").
    socket: String,
    // Demos pick the router port 8080 when it is free: two starting at once could both
    // pick it, so the tests of this file take turns.
    _turn: std::sync::MutexGuard<'static, ()>,
}

static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Tmux {
    fn start(command: &str, width: u16, height: u16) -> Tmux {
        let found = Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            found,
            "tmux is needed for this test: apt-get install -y tmux (.ci/run does)"
        );
        let turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
        // Tests of this file run in parallel in one process: one session each.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let session = format!("naap-e2e-{}-{n}", std::process::id());
        let socket = session.clone();
        let status = tmux(&socket)
            .args([
                "new-session",
                "-d",
                "-s",
                &session,
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
                command,
            ])
            .status()
            .expect("run tmux");
        assert!(status.success(), "tmux new-session failed");
        Tmux {
            session,
            socket,
            _turn: turn,
        }
    }

    fn screen(&self) -> String {
        let out = tmux(&self.socket)
            .args(["capture-pane", "-p", "-t", &self.session])
            .output()
            .expect("run tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Sends tmux key names (`Enter`, `Left`, `y`) one by one.
    fn keys(&self, keys: &[&str]) {
        for key in keys {
            let status = tmux(&self.socket)
                .args(["send-keys", "-t", &self.session, key])
                .status()
                .expect("run tmux send-keys");
            assert!(status.success());
        }
    }

    /// Types text literally.
    fn type_text(&self, text: &str) {
        let status = tmux(&self.socket)
            .args(["send-keys", "-t", &self.session, "-l", text])
            .status()
            .expect("run tmux send-keys");
        assert!(status.success());
    }

    /// Waits until the screen satisfies `ok`; panics with the last screen after 20 s.
    fn wait(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "the screen never showed {what}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn alive(&self) -> bool {
        tmux(&self.socket)
            .args(["has-session", "-t", &self.session])
            .status()
            .is_ok_and(|s| s.success())
    }
}

/// A tmux command on the test's own server.
fn tmux(socket: &str) -> Command {
    let mut command = Command::new("tmux");
    command.args(["-L", socket]);
    // "no server running" after the demo quit is expected, not news.
    command.stderr(std::process::Stdio::null());
    command
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = tmux(&self.socket)
            .args(["kill-session", "-t", &self.session])
            .status();
        let _ = tmux(&self.socket).arg("kill-server").status();
    }
}

/// The line of the plugin pane that shows `slot` of the selected plugin.
fn slot_line<'a>(screen: &'a str, slot: &str) -> &'a str {
    screen
        .lines()
        .find(|l| {
            l.trim_start_matches(['┃', '│', ' ', '▶'])
                .starts_with(&format!("{slot} "))
        })
        .unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_in_a_real_terminal_moves_traffic_rolls_back_and_filters_logs() {
    let config = tempfile::tempdir().expect("a config dir");
    let command = format!(
        "NAAP_CONFIG_DIR={} {} demo",
        config.path().display(),
        env!("CARGO_BIN_EXE_naap")
    );
    let tmux = Tmux::start(&command, 100, 30);
    let screen = tmux.wait("both demo plugins serving", |s| {
        s.contains("expense-tracker")
            && s.contains("checkout")
            && slot_line(s, "blue").contains("100%")
    });
    let router = screen
        .split_whitespace()
        .skip_while(|w| *w != "router")
        .nth(1)
        .expect("the header names the router")
        .to_string();
    let url = format!("http://{router}/expenses/api/items");
    let http = client();

    // A second version through the `:` command line, so both slots serve.
    tmux.keys(&[":"]);
    tmux.type_text("deploy expense-tracker --version 1.1.0");
    tmux.keys(&["Enter"]);
    tmux.wait("1.1.0 live on green", |s| {
        let green = slot_line(s, "green");
        green.contains("1.1.0") && green.contains("100%")
    });

    // Slider: focus is on green; three steps left, apply.
    tmux.keys(&["t", "Left", "Left", "Left"]);
    tmux.wait("the pending weight beside the live one", |s| {
        slot_line(s, "green").contains("70% ← 100%")
    });
    tmux.keys(&["Enter"]);
    tmux.wait("the new split applied", |s| {
        slot_line(s, "green").contains("70%")
            && slot_line(s, "blue").contains("30%")
            && !s.contains("←")
    });
    let seen = versions_answering(&http, &url, 300).await;
    let (old, new) = (
        seen.get("1.0.0").copied().unwrap_or(0),
        seen.get("1.1.0").copied().unwrap_or(0),
    );
    assert!(
        old > 40 && new > 150,
        "the router does not split 30/70: {seen:?}"
    );

    // Rollback: one key, a confirmation saying what happens (the engine's own dry run
    // replaces the dashboard's estimate), then y.
    tmux.keys(&["r"]);
    tmux.wait("the rollback confirmation with the engine's dry run", |s| {
        s.contains("Roll back expense-tracker?")
            && s.contains("would roll back expense-tracker: all traffic moves to blue 1.0.0")
    });
    tmux.keys(&["y"]);
    tmux.wait("blue back at 100 %", |s| {
        slot_line(s, "blue").contains("100%")
    });
    assert_eq!(
        versions_answering(&http, &url, 30).await,
        [("1.0.0".to_string(), 30)].into()
    );

    // Filter the logs with a regular expression (`/` filters the focused pane's list: focus
    // the logs first, past the metrics).
    tmux.keys(&["Tab", "Tab", "/"]);
    tmux.type_text("items/2");
    tmux.keys(&["Enter"]);
    // A capture can land mid-frame (the top of the pane redrawn, the bottom not yet), so
    // the check is part of the wait: a filter that lets an unmatched line through never
    // satisfies it and the wait fails with the screen it last saw.
    tmux.wait("only matching log lines", |s| {
        s.contains("/items/2/")
            && s.lines().any(|l| l.contains("GET /api/items/2"))
            && !s.lines().any(|l| l.contains("GET /api/items 200"))
    });

    // Quit, and let the demo stop itself (the default answer).
    tmux.keys(&["q"]);
    tmux.wait("the question about stopping the demo", |s| {
        s.contains("Stop the demo engine")
    });
    tmux.keys(&["Enter"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while tmux.alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!tmux.alive(), "the demo did not stop:\n{}", tmux.screen());
}

/// A dropped SSH session hangs up the terminal: the demo's engine runs in that process, so
/// it must stop its plugins and remove its workspace rather than leave them behind.
#[test]
fn a_hung_up_demo_stops_its_plugins_and_removes_its_workspace() {
    let config = tempfile::tempdir().expect("a config dir");
    let command = format!(
        "NAAP_CONFIG_DIR={} {} demo --no-traffic",
        config.path().display(),
        env!("CARGO_BIN_EXE_naap")
    );
    let tmux = Tmux::start(&command, 100, 30);
    let screen = tmux.wait("the demo serving", |s| {
        s.contains("checkout") && slot_line(s, "blue").contains("100%")
    });
    let workspace = std::path::PathBuf::from(
        screen
            .split_whitespace()
            .find(|w| w.contains("naap-demo-"))
            .expect("the header names the workspace"),
    );
    assert!(workspace.is_dir());
    drop(tmux); // kill-session: the terminal hangs up
    let gone = wait_for(Duration::from_secs(20), || !workspace.exists());
    assert!(
        gone,
        "the demo workspace {} was left behind",
        workspace.display()
    );
}

/// The operator pane in a real terminal, on a model: the fake LLM server speaks OpenAI's
/// streaming protocol, `NAAP_AI_*` points the demo at it, and the screen shows who answers,
/// the answer arriving piece by piece while the turn runs, then the turn's tokens.
#[test]
fn the_operator_pane_streams_a_models_answer_in_a_real_terminal() {
    let fake = fake_llm::FakeLlm::with([fake_llm::openai_text(&[
        "Both plugins serve on blue. ",
        "Nothing is failing. ",
        "Stream complete.",
    ])
    .delay(Duration::from_millis(700))]);
    let config = tempfile::tempdir().expect("a config dir");
    let command = format!(
        "NAAP_CONFIG_DIR={dir} NAAP_AI_CONFIG={dir}/ai.toml NAAP_AI_PROVIDER=openai NAAP_AI_MODEL=fake-model NAAP_AI_BASE_URL={base} {bin} demo --no-traffic",
        dir = config.path().display(),
        base = fake.openai_base(),
        bin = env!("CARGO_BIN_EXE_naap")
    );
    let tmux = Tmux::start(&command, 100, 30);
    tmux.wait("the demo serving", |s| {
        s.contains("checkout") && slot_line(s, "blue").contains("100%")
    });
    tmux.keys(&["o"]);
    tmux.wait("the pane naming the model", |s| {
        s.contains("operator · openai fake-model")
    });
    tmux.type_text("is anything failing?");
    tmux.keys(&["Enter"]);
    // Mid-stream: the first piece is there, the turn is still under way.
    tmux.wait("the first piece while the turn runs", |s| {
        s.contains("Both plugins serve on blue.") && s.contains("answering…")
    });
    let screen = tmux.wait("the whole answer and its tokens", |s| {
        s.contains("Stream complete.") && s.contains("11 in / 3 out tokens")
    });
    assert!(!screen.contains("answering…"), "{screen}");
    let request = &fake.requests()[0];
    assert_eq!(request.path, fake_llm::OPENAI_PATH);
    assert_eq!(request.body["model"], "fake-model");
    assert_eq!(request.body["stream"], true);
}

/// Iterate in a real terminal: a change asked in the operator pane shows its timeline, `D`
/// shows the candidate's diff, and y accepts it (the timeline says so).
#[test]
fn a_change_asked_in_the_pane_shows_its_timeline_and_diff_in_a_real_terminal() {
    let edit = serde_json::json!({"edits": [{"kind": "whole_file", "path": "ORDER.md",
        "content": "Items are listed newest first.\n"}]})
    .to_string();
    let fake = fake_llm::FakeLlm::with([
        fake_llm::openai_tool_calls(&[("call_e", "candidate_edit", &edit)]),
        fake_llm::openai_text(&["Noted the order."]),
    ]);
    let config = tempfile::tempdir().expect("a config dir");
    let command = format!(
        "NAAP_CONFIG_DIR={dir} NAAP_AI_CONFIG={dir}/ai.toml NAAP_AI_PROVIDER=openai NAAP_AI_MODEL=fake-model NAAP_AI_BASE_URL={base} {bin} demo --no-traffic",
        dir = config.path().display(),
        base = fake.openai_base(),
        bin = env!("CARGO_BIN_EXE_naap")
    );
    let tmux = Tmux::start(&command, 100, 45);
    tmux.wait("the demo serving", |s| {
        s.contains("checkout") && slot_line(s, "blue").contains("100%")
    });
    tmux.keys(&["o"]);
    tmux.type_text("make the /api/items of checkout return the newest first");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait("the timeline up to the accept card", |s| {
        s.contains("▸ candidate ") && s.contains("gates passed") && s.contains("y do it")
    });
    assert!(screen.contains("edited: +1 -0 in 1 file(s)"), "{screen}");
    assert!(screen.contains("· candidate_edit ORDER.md"), "{screen}");
    tmux.keys(&["D"]);
    tmux.wait("the diff", |s| {
        s.contains("+Items are listed newest first.") && s.contains("checkout candidate")
    });
    tmux.keys(&["Escape"]);
    tmux.wait("the diff closed", |s| {
        !s.contains("+Items are listed newest first.")
    });
    // The first card is the preview; n skips it and the accept's card is next.
    tmux.keys(&["n"]);
    tmux.keys(&["y"]);
    tmux.wait("the accept done in the timeline", |s| {
        s.contains("candidate_accept") && s.contains("done")
    });
}
