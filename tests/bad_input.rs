//! Broken manifests and workspaces get exit 1 and a message naming file, line and field;
//! malformed socket requests get an error reply and the engine goes on.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Write};

const GOOD: &str = r#"[plugin]
name = "p"
version = "1.0.0"
route = "/p"

[run]
command = "{naap} sample-service --port {port}"
"#;

/// (what is broken, plugin.toml text, line, field fragment, message fragment)
const BROKEN_MANIFESTS: &[(&str, &str, usize, &str, &str)] = &[
    ("toml syntax", "[plugin\nname = \"p\"\n", 1, "", ""),
    (
        "missing command",
        "[plugin]\nname = \"p\"\nversion = \"1\"\nroute = \"/p\"\n\n[run]\nbuild = \"make\"\n",
        6,
        "run.command",
        "",
    ),
    (
        "unknown key with a typo",
        "[plugin]\nname = \"p\"\nversion = \"1\"\nroute = \"/p\"\n\n[run]\ncomand = \"x\"\ncommand = \"x\"\n",
        7,
        "comand",
        "command",
    ),
    (
        "bad duration",
        "[plugin]\nname = \"p\"\nversion = \"1\"\nroute = \"/p\"\n\n[run]\ncommand = \"x\"\n\n[health]\ninterval = \"often\"\n",
        10,
        "health.interval",
        "",
    ),
    (
        "route without slash",
        "[plugin]\nname = \"p\"\nversion = \"1\"\nroute = \"p\"\n\n[run]\ncommand = \"x\"\n",
        4,
        "plugin.route",
        "",
    ),
    (
        "bad name",
        "[plugin]\nname = \"My Plugin\"\nversion = \"1\"\nroute = \"/p\"\n\n[run]\ncommand = \"x\"\n",
        2,
        "plugin.name",
        "",
    ),
    (
        "unknown placeholder",
        "[plugin]\nname = \"p\"\nversion = \"1\"\nroute = \"/p\"\n\n[run]\ncommand = \"serve --port {prot}\"\n",
        7,
        "run.command",
        "prot",
    ),
    (
        "wrong type",
        "[plugin]\nname = \"p\"\nversion = \"1\"\nroute = \"/p\"\n\n[run]\ncommand = \"x\"\n\n[health]\nunhealthy_threshold = \"three\"\n",
        10,
        "health.unhealthy_threshold",
        "",
    ),
    (
        "error rate out of range",
        "[plugin]\nname = \"p\"\nversion = \"1\"\nroute = \"/p\"\n\n[run]\ncommand = \"x\"\n\n[rollback]\non_error_rate = 5.0\n",
        10,
        "rollback.on_error_rate",
        "",
    ),
    (
        "unknown strategy",
        "[plugin]\nname = \"p\"\nversion = \"1\"\nroute = \"/p\"\n\n[run]\ncommand = \"x\"\n\n[strategy]\nkind = \"yolo\"\n",
        10,
        "strategy.kind",
        "",
    ),
    (
        "canary pause as the first step",
        "[plugin]\nname = \"p\"\nversion = \"1\"\nroute = \"/p\"\n\n[run]\ncommand = \"x\"\n\n[strategy]\nkind = \"canary\"\nsteps = [\"pause\", 100]\n",
        11,
        "strategy.steps[0]",
        "before it",
    ),
    (
        "canary steps and step_weight together",
        "[plugin]\nname = \"p\"\nversion = \"1\"\nroute = \"/p\"\n\n[run]\ncommand = \"x\"\n\n[strategy]\nkind = \"canary\"\nsteps = [5, 100]\nstep_weight = 10\n",
        12,
        "strategy.step_weight",
        "keep one",
    ),
    (
        "canary with neither steps nor step_weight",
        "[plugin]\nname = \"p\"\nversion = \"1\"\nroute = \"/p\"\n\n[run]\ncommand = \"x\"\n\n[strategy]\nkind = \"canary\"\n",
        10,
        "strategy.steps",
        "step_weight = 10",
    ),
    (
        "canary max_weight above 100",
        "[plugin]\nname = \"p\"\nversion = \"1\"\nroute = \"/p\"\n\n[run]\ncommand = \"x\"\n\n[strategy]\nkind = \"canary\"\nstep_weight = 10\nmax_weight = 150\n",
        12,
        "strategy.max_weight",
        "then 100",
    ),
    (
        "alert condition with a typo",
        "[plugin]\nname = \"p\"\nversion = \"1\"\nroute = \"/p\"\n\n[run]\ncommand = \"x\"\n\n[[alerts]]\nname = \"errors\"\ncondition = \"errror_rate > 0.05 for 30s\"\n",
        11,
        "alerts[0].condition",
        "error_rate",
    ),
    (
        "analysis metric with a typo",
        "[plugin]\nname = \"p\"\nversion = \"1\"\nroute = \"/p\"\n\n[run]\ncommand = \"x\"\n\n[analysis]\nmetrics = [\"p95_ms\"]\n",
        10,
        "analysis.metrics[0]",
        "p99_ms",
    ),
    (
        "analysis marginal score above pass score",
        "[plugin]\nname = \"p\"\nversion = \"1\"\nroute = \"/p\"\n\n[run]\ncommand = \"x\"\n\n[analysis]\npass_score = 80\nmarginal_score = 90\n",
        11,
        "analysis.marginal_score",
        "above pass_score 80",
    ),
    (
        "analysis min_samples beyond the step",
        "[plugin]\nname = \"p\"\nversion = \"1\"\nroute = \"/p\"\n\n[run]\ncommand = \"x\"\n\n[strategy]\nkind = \"canary\"\nsteps = [50, 100]\nstep_interval = \"5s\"\n\n[analysis]\nmin_samples = 10\n",
        15,
        "analysis.min_samples",
        "cannot be reached in a step of 5s",
    ),
    (
        "analysis warmup load without a unit",
        "[plugin]\nname = \"p\"\nversion = \"1\"\nroute = \"/p\"\n\n[run]\ncommand = \"x\"\n\n[analysis]\nwarmup_load = \"20\"\n",
        10,
        "analysis.warmup_load",
        "20rps",
    ),
    (
        "analysis success rate as a percentage",
        "[plugin]\nname = \"p\"\nversion = \"1\"\nroute = \"/p\"\n\n[run]\ncommand = \"x\"\n\n[analysis]\nsuccess_rate = 99\n",
        10,
        "analysis.success_rate",
        "0.99",
    ),
    (
        "webhook URL without a host",
        "[plugin]\nname = \"p\"\nversion = \"1\"\nroute = \"/p\"\n\n[run]\ncommand = \"x\"\n\n[[alerts]]\nname = \"errors\"\ncondition = \"rps < 1\"\nchannels = [\"webhook:http://\"]\n",
        12,
        "alerts[0].channels[0]",
        "bad webhook URL",
    ),
    (
        "alert label with a bad name",
        "[plugin]\nname = \"p\"\nversion = \"1\"\nroute = \"/p\"\n\n[run]\ncommand = \"x\"\n\n[[alerts]]\nname = \"errors\"\ncondition = \"rps < 1\"\nlabels = { \"my-team\" = \"payments\" }\n",
        12,
        "alerts[0].labels.my-team",
        "not a label name",
    ),
    (
        "alert repeat interval too short",
        "[plugin]\nname = \"p\"\nversion = \"1\"\nroute = \"/p\"\n\n[run]\ncommand = \"x\"\n\n[[alerts]]\nname = \"errors\"\ncondition = \"rps < 1\"\nrepeat_interval = \"500ms\"\n",
        12,
        "alerts[0].repeat_interval",
        "page every tick",
    ),
    (
        "alert rollback not a bool",
        "[plugin]\nname = \"p\"\nversion = \"1\"\nroute = \"/p\"\n\n[run]\ncommand = \"x\"\n\n[[alerts]]\nname = \"errors\"\ncondition = \"rps < 1\"\nrollback = \"yes\"\n",
        12,
        "alerts[0].rollback",
        "",
    ),
    (
        "timeout not below interval",
        "[plugin]\nname = \"p\"\nversion = \"1\"\nroute = \"/p\"\n\n[run]\ncommand = \"x\"\n\n[health]\ninterval = \"1s\"\ntimeout = \"2s\"\n",
        11,
        "health.timeout",
        "",
    ),
    // Issue 8, item 21: contradictions between fields, defaults and ranges.
    (
        "min_samples hint within reach of a short step",
        "[plugin]\nname = \"p\"\nversion = \"1\"\nroute = \"/p\"\n\n[run]\ncommand = \"x\"\n\n[strategy]\nkind = \"canary\"\nsteps = [50, 100]\nstep_interval = \"3s\"\n\n[analysis]\nmin_samples = 10\n",
        15,
        "analysis.min_samples",
        "raise strategy.step_interval to \"10s\" (min_samples cannot go below 5)",
    ),
    (
        "min_samples out of range with a short step",
        "[plugin]\nname = \"p\"\nversion = \"1\"\nroute = \"/p\"\n\n[run]\ncommand = \"x\"\n\n[strategy]\nkind = \"canary\"\nsteps = [50, 100]\nstep_interval = \"7s\"\n\n[analysis]\nmin_samples = 2\n",
        15,
        "analysis.min_samples",
        "e.g. min_samples = 7",
    ),
    (
        "analysis under blue-green",
        "[plugin]\nname = \"p\"\nversion = \"1\"\nroute = \"/p\"\n\n[run]\ncommand = \"x\"\n\n[strategy]\nkind = \"blue-green\"\n\n[analysis]\nmin_samples = 10\n",
        12,
        "analysis",
        "set kind = \"canary\"",
    ),
    (
        "alert named like the built-in one",
        "[plugin]\nname = \"p\"\nversion = \"1\"\nroute = \"/p\"\n\n[run]\ncommand = \"x\"\n\n[[alerts]]\nname = \"auto-rollback\"\ncondition = \"rps < 1\"\n",
        10,
        "alerts[0].name",
        "built-in alert",
    ),
    (
        "env sets PORT",
        "[plugin]\nname = \"p\"\nversion = \"1\"\nroute = \"/p\"\n\n[run]\ncommand = \"x\"\nenv = { PORT = \"1\" }\n",
        8,
        "run.env.PORT",
        "naap sets PORT itself",
    ),
    (
        "env_from sets NAAP_VERSION",
        "[plugin]\nname = \"p\"\nversion = \"1\"\nroute = \"/p\"\n\n[run]\ncommand = \"x\"\nenv_from = { NAAP_VERSION = \"env:V\" }\n",
        8,
        "run.env_from.NAAP_VERSION",
        "use {version}",
    ),
    (
        "env_from reference of an unknown kind",
        "[plugin]\nname = \"p\"\nversion = \"1\"\nroute = \"/p\"\n\n[run]\ncommand = \"x\"\nenv_from = { TOKEN = \"vault:x\" }\n",
        8,
        "run.env_from.TOKEN",
        "file:/run/secrets/token",
    ),
    (
        "variable in both env and env_from",
        "[plugin]\nname = \"p\"\nversion = \"1\"\nroute = \"/p\"\n\n[run]\ncommand = \"x\"\nenv = { TOKEN = \"a\" }\nenv_from = { TOKEN = \"env:TOKEN\" }\n",
        9,
        "run.env_from.TOKEN",
        "keep one",
    ),
    (
        "non-ASCII version",
        "[plugin]\nname = \"p\"\nversion = \"1.0-\u{e9}t\u{e9}\"\nroute = \"/p\"\n\n[run]\ncommand = \"x\"\n",
        3,
        "plugin.version",
        "1 to 64 of the characters",
    ),
    (
        "300-character version",
        concat!(
            "[plugin]\nname = \"p\"\nversion = \"",
            "1111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111",
            "1111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111",
            "1111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111",
            "\"\nroute = \"/p\"\n\n[run]\ncommand = \"x\"\n"
        ),
        3,
        "plugin.version",
        "300 characters long",
    ),
    (
        "version with shell syntax",
        "[plugin]\nname = \"p\"\nversion = \"1$(reboot)\"\nroute = \"/p\"\n\n[run]\ncommand = \"x\"\n",
        3,
        "plugin.version",
        "contains `$`",
    ),
];

#[test]
fn broken_manifests_name_file_line_and_field() {
    for (what, manifest, line, field, fragment) in BROKEN_MANIFESTS {
        let ws = TestWorkspace::new(&[("p", manifest.to_string())]);
        let out = ws.naap(&["validate"]);
        let err = stderr(&out);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{what}: expected exit 1, got {:?}\n{err}",
            out.status
        );
        let location = format!("plugin.toml:{line}:");
        assert!(
            err.contains(&location),
            "{what}: expected `{location}` in:\n{err}"
        );
        assert!(
            err.contains(field),
            "{what}: expected field `{field}` in:\n{err}"
        );
        assert!(
            err.contains(fragment),
            "{what}: expected `{fragment}` in:\n{err}"
        );
        assert!(
            err.contains("hint:"),
            "{what}: every problem carries a hint:\n{err}"
        );

        // The JSON form carries the same facts for scripts.
        let out = ws.naap(&["validate", "--json"]);
        assert_eq!(out.status.code(), Some(1));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("validate --json");
        assert_eq!(json["ok"], false);
        assert!(
            json["problems"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["line"] == *line)),
            "{what}: {json:#}"
        );
    }
}

#[test]
fn broken_workspaces_name_file_line_and_field() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "[router]\nlisten = \"not-an-address\"\n",
            "naap.toml:2:",
            "router.listen",
        ),
        (
            "[[plugins]]\npath = \"plugins/missing\"\n",
            "naap.toml:2:",
            "path",
        ),
        (
            "[router]\nlisten = \"127.0.0.1:0\"\nlisten = \"127.0.0.1:1\"\n",
            "naap.toml:3:",
            "",
        ),
        (
            "[routr]\nlisten = \"127.0.0.1:0\"\n",
            "naap.toml:1:",
            "routr",
        ),
        (
            "[state]\ndir = \"naap.toml\"\n",
            "naap.toml:2:",
            "state.dir",
        ),
        (
            "[state]\ndir = \"naap.toml/state\"\n",
            "naap.toml:2:",
            "is a file",
        ),
    ];
    for (toml, location, field) in cases {
        let ws = TestWorkspace::new(&[]);
        ws.write("naap.toml", toml);
        let out = ws.naap(&["validate"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{toml}: {err}");
        assert!(
            err.contains(location) && err.contains(field),
            "{toml}: expected {location} {field} in:\n{err}"
        );
    }

    // Two plugins with one name: the second is named, with the first's file.
    let ws = TestWorkspace::new(&[
        ("a", GOOD.to_string()),
        ("b", GOOD.replace("route = \"/p\"", "route = \"/q\"")),
    ]);
    let out = ws.naap(&["validate"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("plugin.name"), "{}", stderr(&out));
}

#[test]
fn a_valid_workspace_validates_and_init_writes_one() {
    let ws = TestWorkspace::new(&[("p", GOOD.to_string())]);
    let out = ws.naap(&["validate"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let dir = tempfile::tempdir().expect("dir");
    let out = std::process::Command::new(NAAP)
        .arg("init")
        .arg(dir.path())
        .output()
        .expect("init");
    assert!(out.status.success(), "{}", stderr(&out));
    let out = std::process::Command::new(NAAP)
        .arg("--workspace")
        .arg(dir.path())
        .arg("validate")
        .output()
        .expect("validate");
    assert!(
        out.status.success(),
        "init wrote a workspace that does not validate: {}",
        stderr(&out)
    );
    let again = std::process::Command::new(NAAP)
        .arg("init")
        .arg(dir.path())
        .output()
        .expect("init again");
    assert_eq!(
        again.status.code(),
        Some(1),
        "init must not overwrite without --force"
    );
}

#[test]
fn bad_cli_arguments_are_refused_clearly() {
    let ws = TestWorkspace::new(&[("p", GOOD.to_string())]);
    for (args, fragment) in [
        (vec!["traffic", "p", "blue"], "SLOT=PERCENT"),
        (vec!["traffic", "p", "red=10"], "unknown slot"),
        (
            vec!["deploy", "p", "--strategy", "yolo"],
            "unknown strategy",
        ),
        (vec!["logs", "p", "--level", "loud"], "unknown level"),
        (vec!["logs", "p", "--since", "whenever"], "duration"),
    ] {
        let out = ws.naap(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(fragment),
            "{args:?}: expected `{fragment}` in {}",
            stderr(&out)
        );
    }
    let out = ws.naap(&["--no-start", "status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no naap engine runs"),
        "{}",
        stderr(&out)
    );
    // The CLI says what to run; the engine's message itself names no command.
    assert!(
        stderr(&out).contains("hint: start one with `naap serve`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn malformed_socket_requests_get_error_replies_and_the_engine_goes_on() {
    let mut ws = TestWorkspace::new(&[("p", GOOD.to_string())]);
    ws.start_engine();
    let socket = ws.state_dir().join("engine.sock");
    let stream = std::os::unix::net::UnixStream::connect(&socket).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    let mut ask = |line: &str| -> serde_json::Value {
        writer.write_all(line.as_bytes()).expect("write");
        writer.write_all(b"\n").expect("write");
        let mut reply = String::new();
        reader.read_line(&mut reply).expect("reply");
        serde_json::from_str(&reply).unwrap_or_else(|e| panic!("reply is not JSON ({e}): {reply}"))
    };
    for bad in [
        "this is not json",
        "{\"id\": 7, \"method\": \"explode\"}",
        "{\"id\": 8, \"method\": \"deploy\", \"params\": {}}",
        "[1,2,3]",
        "{\"id\": 9, \"method\": \"traffic\", \"params\": {\"plugin\": \"p\", \"weights\": {\"red\": 5}}}",
    ] {
        let reply = ask(bad);
        assert_eq!(reply["ok"], false, "{bad}: {reply}");
        assert_eq!(reply["error"]["code"], "bad_request", "{bad}: {reply}");
    }
    let reply = ask("{\"id\": 10, \"method\": \"deploy\", \"params\": {\"plugin\": \"nope\"}}");
    assert_eq!(reply["error"]["code"], "unknown_plugin", "{reply}");
    assert_eq!(reply["id"], 10);
    let reply = ask("{\"id\": 11, \"method\": \"ping\"}");
    assert_eq!(reply["ok"], true, "the connection still works: {reply}");

    // A huge line is refused without taking the engine down.
    let huge = format!(
        "{{\"id\": 12, \"method\": \"ping\", \"pad\": \"{}\"}}",
        "x".repeat(2 << 20)
    );
    let reply = ask(&huge);
    assert_eq!(reply["error"]["code"], "bad_request", "{reply}");
    let reply = ask("{\"id\": 13, \"method\": \"status\"}");
    assert_eq!(reply["ok"], true);
}

/// Defaults that used to contradict a valid value: `interval = "1s"` (or shorter) without a
/// timeout, and a timeout equal to the interval (Kubernetes allows timeout = period).
#[test]
fn a_short_health_interval_validates_on_the_default_timeout() {
    for health in [
        "interval = \"1s\"",
        "interval = \"200ms\"",
        "interval = \"2s\"\ntimeout = \"2s\"",
    ] {
        let manifest = format!("{GOOD}\n[health]\n{health}\n");
        let ws = TestWorkspace::new(&[("p", manifest)]);
        let out = ws.naap(&["validate"]);
        assert!(out.status.success(), "{health}: {}", stderr(&out));
    }
}
