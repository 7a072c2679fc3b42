//! A hostile user's inputs: versions that try to run commands (CLI and raw socket API) are
//! refused before anything runs, and placeholder values are quoted for the shell.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::time::Duration;

/// A plugin whose build gate appends a line to `gate-runs.txt` each time it runs.
fn gated_plugin(name: &str) -> String {
    sample_plugin(name, "1.0.0", "").replace(
        "stop_grace = \"2s\"",
        "build = \"echo ran >> gate-runs.txt\"\nstop_grace = \"2s\"",
    )
}

fn gate_runs(ws: &TestWorkspace, plugin: &str) -> usize {
    std::fs::read_to_string(ws.path().join("plugins").join(plugin).join("gate-runs.txt"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// Rows of the store that a deploy attempt would add: versions, rollouts, deploy audits.
/// The engine holds the store exclusively while it runs, so it is stopped for the read
/// (its plugins keep running) and started again, adopting them.
fn store_footprint(ws: &mut TestWorkspace) -> (Vec<String>, i64, i64) {
    let footprint = with_engine_stopped(ws, |conn| {
        let mut stmt = conn
            .prepare("SELECT version FROM versions ORDER BY version")
            .expect("versions");
        let versions = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .expect("query")
            .map(|r| r.expect("row"))
            .collect();
        let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).expect(sql);
        (
            versions,
            count("SELECT count(*) FROM rollouts"),
            count("SELECT count(*) FROM audit"),
        )
    });
    ws.start_engine();
    footprint
}

/// Stops the engine (not its plugins), then reads the store it held exclusively.
fn with_engine_stopped<T>(
    ws: &mut TestWorkspace,
    read: impl FnOnce(&rusqlite::Connection) -> T,
) -> T {
    let out = ws.naap(&["--no-start", "stop"]);
    assert!(out.status.success(), "stop: {}", stderr(&out));
    if let Some(mut engine) = ws.engine.take() {
        let _ = engine.wait();
    }
    let conn = rusqlite::Connection::open_with_flags(
        ws.state_dir().join("naap.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open the store");
    read(&conn)
}

fn injection(marker: &Path) -> String {
    // No spaces: ${IFS} gets the shell to supply them, as an attacker would.
    format!("x$(touch${{IFS}}{})", marker.display())
}

#[test]
fn an_injected_version_is_refused_by_the_cli_before_anything_runs() {
    let mut ws = TestWorkspace::new(&[("shop", gated_plugin("shop"))]);
    ws.start_engine();
    ws.wait_serving("shop");
    let marker = ws.path().join("INJECTED");
    let runs = gate_runs(&ws, "shop");
    let before = store_footprint(&mut ws);

    let bad = injection(&marker);
    let too_long = "1".repeat(300);
    for (version, fragment) in [
        (bad.as_str(), "contains `$`"),
        ("1.0\u{e9}", "contains `\u{e9}`"),
        (too_long.as_str(), "300 characters"),
        ("_1", "start with a letter or digit"),
    ] {
        for args in [
            vec!["deploy", "shop", "--version", version],
            vec!["rollback", "shop", "--yes", "--to", version],
        ] {
            let out = ws.naap(&args);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            assert!(err.contains(fragment), "{args:?}: {err}");
            assert!(err.contains("1 to 64"), "the rule is given: {err}");
        }
    }
    // The dashboard's `:` line parses with the same clap definition; the engine also
    // refuses on its own, for any caller that skipped the check.
    assert!(!marker.exists(), "the injected command ran");
    assert_eq!(gate_runs(&ws, "shop"), runs, "a gate ran");
    assert_eq!(store_footprint(&mut ws), before, "the store changed");
}

#[test]
fn an_injected_version_is_refused_by_the_socket_api_before_anything_runs() {
    let mut ws = TestWorkspace::new(&[("shop", gated_plugin("shop"))]);
    ws.start_engine();
    ws.wait_serving("shop");
    let marker = ws.path().join("INJECTED");
    let runs = gate_runs(&ws, "shop");
    let before = store_footprint(&mut ws);

    let stream = std::os::unix::net::UnixStream::connect(ws.state_dir().join("engine.sock"))
        .expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    let mut ask = |request: serde_json::Value| -> serde_json::Value {
        writer
            .write_all(format!("{request}\n").as_bytes())
            .expect("write");
        let mut reply = String::new();
        reader.read_line(&mut reply).expect("reply");
        serde_json::from_str(&reply).unwrap_or_else(|e| panic!("not JSON ({e}): {reply}"))
    };
    let bad = injection(&marker);
    for (id, request) in [
        (
            1,
            serde_json::json!({"id": 1, "method": "deploy", "params": {"plugin": "shop", "version": bad}}),
        ),
        (
            2,
            serde_json::json!({"id": 2, "method": "deploy", "params": {"plugin": "shop", "version": bad, "preview": true}}),
        ),
        (
            3,
            serde_json::json!({"id": 3, "method": "rollback", "params": {"plugin": "shop", "to": bad}}),
        ),
    ] {
        let reply = ask(request);
        assert_eq!(reply["ok"], false, "{reply}");
        assert_eq!(reply["id"], id, "{reply}");
        assert_eq!(reply["error"]["code"], "bad_request", "{reply}");
        let message = reply["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("contains `$`"), "{message}");
        assert!(message.contains("1 to 64"), "{message}");
    }
    let reply = ask(serde_json::json!({"id": 4, "method": "ping"}));
    assert_eq!(reply["ok"], true, "the connection goes on: {reply}");

    assert!(!marker.exists(), "the injected command ran");
    assert_eq!(gate_runs(&ws, "shop"), runs, "a gate ran");
    assert_eq!(store_footprint(&mut ws), before, "the store changed");
}

/// The naap binary under a path full of shell syntax: `{naap}` expands to it in the run
/// command and the gates, so it must reach them quoted. (Every other placeholder value is
/// checked to be plain: versions and plugin names by their rules, ports and slots by type.)
#[test]
fn placeholder_values_with_shell_syntax_reach_commands_quoted() {
    let base = tempfile::Builder::new()
        .prefix("naap-quoting")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("dir");
    let marker = base.path().join("INJECTED");
    let hostile = base.path().join(format!(
        "it's a \"bin\" $(touch {m}) `touch {m}`;touch {m}",
        m = marker.display()
    ));
    std::fs::create_dir_all(&hostile).expect("dir");
    let exe = hostile.join("naap");
    // A hard link keeps /proc/self/exe at this path (the target dir is one file system).
    if std::fs::hard_link(NAAP, &exe).is_err() {
        std::fs::copy(NAAP, &exe).expect("copy naap");
    }

    let manifest = sample_plugin("shop", "1.0.0+build.5", "").replace(
        "stop_grace = \"2s\"",
        concat!(
            "build = \"printf '%s' {naap} > built-bare.txt; printf '%s' \\\"{naap}\\\" > built-double.txt; printf '%s' '{naap}' > built-single.txt\"\n",
            "env = { NAAP_BIN = \"{naap}\" }\n",
            "stop_grace = \"2s\"",
        ),
    );
    let mut ws = TestWorkspace::new(&[("shop", manifest)]);
    let log = std::fs::File::create(ws.path().join("serve.out")).expect("log");
    let child = std::process::Command::new(&exe)
        .args(["serve", "--workspace"])
        .arg(ws.path())
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().expect("clone"))
        .stderr(log)
        .spawn()
        .expect("spawn the linked naap");
    ws.engine = Some(child);
    let answers = wait_for(Duration::from_secs(30), || {
        ws.naap(&["--no-start", "status"]).status.success()
    });
    assert!(answers, "the engine did not start: {}", ws.serve_output());
    ws.wait_serving("shop");

    let expected = exe.display().to_string();
    for file in ["built-bare.txt", "built-double.txt", "built-single.txt"] {
        let built = std::fs::read_to_string(ws.path().join("plugins/shop").join(file))
            .expect("the gate wrote its file");
        assert_eq!(built, expected, "{file}");
    }
    assert!(!marker.exists(), "a placeholder value ran a command");
    let status = ws.status();
    let slots = plugin_of(&status, "shop")["slots"].clone();
    assert!(
        slots
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["version"] == "1.0.0+build.5")),
        "{slots:#}"
    );
}

/// Stops an engine the CLI started in the background, even when the test fails.
struct StopOnDrop<'a>(&'a TestWorkspace);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.naap(&["--no-start", "stop", "--plugins"]);
    }
}

fn umask_of_this_process() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("Umask:"))
        .and_then(|m| u32::from_str_radix(m.trim(), 8).ok())
        .expect("Umask line")
}

fn walk(dir: &Path, out: &mut Vec<(std::path::PathBuf, std::fs::Metadata)>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let meta = entry.metadata().expect("metadata");
        if meta.is_dir() {
            walk(&entry.path(), out);
        }
        out.push((entry.path(), meta));
    }
}

#[test]
fn every_file_naap_writes_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let ws = TestWorkspace::new(&[("shop", gated_plugin("shop"))]);
    // The CLI starts the engine (and creates engine.out) itself.
    let out = ws.naap(&["status"]);
    let _stop = StopOnDrop(&ws);
    assert!(out.status.success(), "{}", stderr(&out));
    ws.wait_serving("shop");
    let out = ws.naap(&["deploy", "shop", "--version", "1.1.0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = ws.naap(&["deploy", "shop", "--version", "1.2.0", "--preview"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let mut entries = Vec::new();
    walk(&ws.state_dir(), &mut entries);
    let names: Vec<String> = entries
        .iter()
        .map(|(p, _)| {
            p.strip_prefix(ws.state_dir())
                .unwrap_or(p)
                .display()
                .to_string()
        })
        .collect();
    for expected in ["naap.db", "engine.out", "engine.sock", "engine.lock"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    assert!(
        names.iter().any(|n| n.starts_with("slots/shop.blue.")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.starts_with("slots/shop.preview-")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.starts_with("logs/engine.")),
        "{names:?}"
    );
    let open: Vec<String> = entries
        .iter()
        .filter(|(_, meta)| meta.permissions().mode() & 0o077 != 0)
        .map(|(path, meta)| format!("{} {:o}", path.display(), meta.permissions().mode()))
        .collect();
    assert!(open.is_empty(), "readable by others: {open:#?}");
    let db = std::fs::read(ws.state_dir().join("naap.db")).expect("db");
    assert!(!db.is_empty());

    // What the plugin's gate creates keeps the umask naap was started with.
    let gate_file = ws.path().join("plugins/shop/gate-runs.txt");
    let mode = std::fs::metadata(&gate_file)
        .expect("gate file")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(
        mode,
        0o666 & !umask_of_this_process(),
        "{}",
        gate_file.display()
    );
}

/// Starts `naap serve` with extra environment and waits until it answers.
fn start_engine_with_env(ws: &mut TestWorkspace, env: &[(&str, &str)]) {
    let log = std::fs::File::create(ws.path().join("serve.out")).expect("log");
    let child = std::process::Command::new(NAAP)
        .args(["serve", "--workspace"])
        .arg(ws.path())
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().expect("clone"))
        .stderr(log)
        .spawn()
        .expect("spawn naap serve");
    ws.engine = Some(child);
    let answers = wait_for(Duration::from_secs(30), || {
        ws.naap(&["--no-start", "status"]).status.success()
    });
    assert!(answers, "the engine did not start: {}", ws.serve_output());
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn env_from_secrets_reach_the_plugin_and_never_the_store() {
    const FILE_SECRET: &str = "file-secret-7f3a9c";
    const ENV_SECRET: &str = "env-secret-5d21b8";
    let secrets = tempfile::tempdir().expect("dir");
    let token = secrets.path().join("token");
    std::fs::write(&token, format!("{FILE_SECRET}\n")).expect("token");
    let manifest = sample_plugin("shop", "1.0.0", "")
        .replace(
            "command = \"",
            "command = \"printf '%s %s' \\\"$API_TOKEN\\\" \\\"$DB_PASSWORD\\\" > seen-{slot}.txt; echo token=$API_TOKEN password=$DB_PASSWORD; exec ",
        )
        .replace(
            "stop_grace = \"2s\"",
            &format!(
                "build = \"printf '%s' \\\"$API_TOKEN\\\" > seen-by-gate.txt; echo gate saw $API_TOKEN\"\nenv_from = {{ API_TOKEN = \"file:{}\", DB_PASSWORD = \"env:NAAP_TEST_DB_PASSWORD\" }}\nstop_grace = \"2s\"",
                token.display()
            ),
        );
    let mut ws = TestWorkspace::new(&[("shop", manifest)]);
    start_engine_with_env(&mut ws, &[("NAAP_TEST_DB_PASSWORD", ENV_SECRET)]);
    ws.wait_serving("shop");
    let plugin_dir = ws.path().join("plugins/shop");
    let seen = std::fs::read_to_string(plugin_dir.join("seen-blue.txt")).expect("seen");
    assert_eq!(seen, format!("{FILE_SECRET} {ENV_SECRET}"));
    let gate = std::fs::read_to_string(plugin_dir.join("seen-by-gate.txt")).expect("gate");
    assert_eq!(gate, FILE_SECRET);

    let status = ws.naap(&["status", "--json"]);
    let history = ws.naap(&["history", "shop", "--json"]);
    for out in [&status, &history] {
        assert!(!contains(&out.stdout, FILE_SECRET) && !contains(&out.stdout, ENV_SECRET));
    }
    // What the plugin and its gate print of them is masked in `naap logs`.
    let printed = wait_for(Duration::from_secs(10), || {
        let out = ws.naap(&["logs", "shop", "-n", "1000"]);
        let text = stdout(&out);
        text.contains("token=*** password=***") && text.contains("gate saw ***")
    });
    let logs = ws.naap(&["logs", "shop", "-n", "1000", "--json"]);
    assert!(printed, "{}", stdout(&logs));
    assert!(!contains(&logs.stdout, FILE_SECRET) && !contains(&logs.stdout, ENV_SECRET));

    // A missing secret file fails the deploy before anything starts, and says where.
    std::fs::remove_file(&token).expect("rm");
    let out = ws.naap(&["deploy", "shop", "--version", "2.0.0"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for fragment in [
        "shop",
        "run.env_from.API_TOKEN",
        &format!("file:{}", token.display()),
    ] {
        assert!(err.contains(fragment), "`{fragment}` in {err}");
    }
    assert!(
        !plugin_dir.join("seen-green.txt").exists(),
        "a slot started"
    );
    let status = ws.status();
    let versions: Vec<&str> = plugin_of(&status, "shop")["slots"]
        .as_array()
        .map(|s| s.iter().filter_map(|s| s["version"].as_str()).collect())
        .unwrap_or_default();
    assert!(!versions.contains(&"2.0.0"), "{versions:?}");

    // The stored run spec holds the references, and no file of the store the values.
    let spec: String = with_engine_stopped(&mut ws, |conn| {
        conn.query_row("SELECT spec_json FROM versions", [], |r| r.get(0))
            .expect("spec")
    });
    assert!(
        spec.contains(&format!("file:{}", token.display())),
        "{spec}"
    );
    assert!(spec.contains("env:NAAP_TEST_DB_PASSWORD"), "{spec}");
    for file in ["naap.db", "naap.db-wal", "naap.db-shm"] {
        let bytes = std::fs::read(ws.state_dir().join(file)).unwrap_or_default();
        for secret in [FILE_SECRET, ENV_SECRET] {
            assert!(!contains(&bytes, secret), "{secret} is in {file}");
        }
    }
}

#[test]
fn an_unset_env_from_variable_is_named_at_deploy() {
    let manifest = sample_plugin("shop", "1.0.0", "").replace(
        "stop_grace = \"2s\"",
        "env_from = { DB_PASSWORD = \"env:NAAP_TEST_SURELY_UNSET\" }\nstop_grace = \"2s\"",
    );
    let mut ws = TestWorkspace::new(&[("shop", manifest)]);
    ws.start_engine();
    let out = ws.naap(&["deploy", "shop"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for fragment in [
        "shop",
        "run.env_from.DB_PASSWORD",
        "env:NAAP_TEST_SURELY_UNSET",
        "not set",
    ] {
        assert!(err.contains(fragment), "`{fragment}` in {err}");
    }
    let status = ws.status();
    let started = plugin_of(&status, "shop")["slots"]
        .as_array()
        .is_some_and(|s| s.iter().any(|s| s["pid"].is_number()));
    assert!(!started, "{status:#}");
}
