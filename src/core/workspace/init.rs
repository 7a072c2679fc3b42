//! `naap init`: a workspace with one working sample plugin.

use std::path::{Path, PathBuf};

use super::load::{PLUGIN_FILE, WORKSPACE_FILE};
use super::problem::{Problem, Problems};

const WORKSPACE_TEMPLATE: &str = r#"# naap workspace: the router and the plugins it serves.

[router]
# Where the router listens for traffic to the plugins (port 0 picks a free port).
listen = "127.0.0.1:8080"
# Health and metrics of the router itself (/healthz, /metrics).
# admin = "127.0.0.1:8081"

[state]
# Database, logs and the engine socket, relative to this file.
dir = ".naap"

[[plugins]]
# A directory holding plugin.toml, relative to this file.
path = "plugins/hello"
"#;

const PLUGIN_TEMPLATE: &str = r#"# A plugin: a small web service that naap builds, tests, runs and routes to.

[plugin]
name = "hello"
version = "0.1.0"
route = "/hello"            # or: host = "hello.localhost"
strip_prefix = true         # the plugin sees /x for a request to /hello/x

# [routing]
# sticky_header = "x-user-id"   # keep a user on one slot during a canary

[run]
# {naap} is the naap binary, {port} the port naap picked for the slot; also {version},
# {slot} and {plugin}. Write {{ and }} for literal braces.
command = "{naap} sample-service --port {port} --version {version}"
# build = "cargo build --release"   # gate: must pass before a deploy
# test = "cargo test"               # gate: must pass before a deploy
# A passed gate is cached by its inputs (files under this directory minus .git/, target/,
# node_modules/, __pycache__/ and .naapignore patterns, plus command, env and version);
# `naap deploy --no-cache` runs it anyway.
env = { RUST_LOG = "info" }
stop_grace = "5s"           # SIGTERM, then SIGKILL after this long
startup_timeout = "30s"     # time a new slot gets to become healthy

[health]
kind = "http"               # or "tcp"
path = "/health"
interval = "2s"
timeout = "1s"
unhealthy_threshold = 3
healthy_threshold = 1

[strategy]
kind = "blue-green"         # immediate | blue-green | canary
# steps = [5, 25, "pause", 50, 100]  # canary only: percent of traffic per step; a
#                                    # "pause" waits for `naap promote` (or `naap abort`)
# step_weight = 10          # canary shorthand instead of steps: 10, 20, … up to
# max_weight = 50           # max_weight, then 100
step_interval = "30s"       # canary: how long each step runs before it is judged

[rollback]
on_error_rate = 0.05        # roll back above 5 % errors
on_latency_p99_ms = 2000
on_health_check_fail = true
keep_previous_warm = "30m"  # the old slot stays running for instant rollback

# [analysis]                # canary only: judge every step against the stable slot
# metrics = ["error_rate", "p50_ms", "p99_ms"]  # compared with a Mann-Whitney test
# tolerance = 0.25          # the canary may be 25 % worse than stable before it fails
# pass_score = 95           # percent of metrics that must pass to go on
# marginal_score = 75       # between the two the rollout stops for a human
# min_samples = 10          # seconds with traffic per slot; fewer is "inconclusive"
# success_rate = 0.99       # threshold: at least 99 % of the canary's requests succeed
# p99_ms = 500              # threshold: canary p99 at most 500 ms
# health = true             # threshold: the canary passes its health checks
# warmup_load = "20rps"     # naap sends this to each slot during a step (no users? still judged)
# warmup_path = "/"         # below the route; default: the route itself

[[alerts]]
name = "errors"
condition = "error_rate > 0.05 for 30s"
severity = "critical"       # info | warning | critical
channels = ["log"]          # also "webhook:http://HOST/PATH" or "command:CMD"
# rollback = true           # firing rolls the plugin back
# labels = { team = "payments" }
# repeat_interval = "4h"    # re-notify while firing and not acknowledged ("0s": never)
# summary = "checkout returns errors"
"#;

/// Writes naap.toml and plugins/hello/plugin.toml into `root` and returns the files written.
///
/// Without `force` it refuses, writing nothing, when either file exists.
pub fn init(root: &Path, force: bool) -> Result<Vec<PathBuf>, Problems> {
    let files = [
        (root.join(WORKSPACE_FILE), WORKSPACE_TEMPLATE),
        (
            root.join("plugins").join("hello").join(PLUGIN_FILE),
            PLUGIN_TEMPLATE,
        ),
    ];
    if !force {
        let existing: Vec<Problem> = files
            .iter()
            .filter(|(path, _)| path.exists())
            .map(|(path, _)| {
                Problem::unplaced(
                    path,
                    "",
                    "already exists; naap init does not overwrite files",
                    "run `naap init --force` to replace it with the sample",
                )
            })
            .collect();
        if !existing.is_empty() {
            return Err(Problems(existing));
        }
    }
    let mut written = Vec::with_capacity(files.len());
    for (path, text) in files {
        let failed = |e: std::io::Error| {
            Problem::unplaced(
                &path,
                "",
                format!("cannot write: {e}"),
                "check that the directory is writable",
            )
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(failed)?;
        }
        std::fs::write(&path, text).map_err(failed)?;
        written.push(path);
    }
    Ok(written)
}
