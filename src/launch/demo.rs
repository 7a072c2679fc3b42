//! `naap demo`: a self-contained workspace in a temporary directory, two plugins on the
//! built-in sample service, background traffic, and the engine in this process.

use crate::cli::serve::{init_tracing, wait_for_stop};
use crate::command::Cli;
use crate::core::engine::{Engine, StatusReport, socket_path};
use std::path::Path;
use std::time::Duration;

const DEMO_FILES: [(&str, &str); 7] = [
    ("naap.toml", include_str!("../../assets/demo/naap.toml")),
    (
        "plugins/expense-tracker/plugin.toml",
        include_str!("../../assets/demo/plugins/expense-tracker/plugin.toml"),
    ),
    (
        "plugins/checkout/plugin.toml",
        include_str!("../../assets/demo/plugins/checkout/plugin.toml"),
    ),
    // The three example runbooks: `naap runbook list` in the demo.
    (
        "runbooks/verified-restart.toml",
        include_str!("../../assets/demo/runbooks/verified-restart.toml"),
    ),
    (
        "runbooks/checked-canary.toml",
        include_str!("../../assets/demo/runbooks/checked-canary.toml"),
    ),
    (
        "runbooks/drain-and-rollback.toml",
        include_str!("../../assets/demo/runbooks/drain-and-rollback.toml"),
    ),
    // A plugin.md to try `naap generate` on (the demo's own expense-tracker keeps its name,
    // so the welcome suggests another).
    (
        "expense-tracker.plugin.md",
        include_str!("../../assets/expense-tracker.plugin.md"),
    ),
];

pub async fn demo(_cli: Cli, no_traffic: bool) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("naap-demo-{}", std::process::id()));
    write_demo_workspace(&dir)?;
    let result = run_demo(&dir, no_traffic).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Writes the demo workspace, on 8080/8081 when free so the printed commands are short.
pub fn write_demo_workspace(dir: &Path) -> anyhow::Result<()> {
    let router_port = port_or_free(8080)?;
    let admin_port = port_or_free(8081)?;
    for (path, text) in DEMO_FILES {
        let file = dir.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let text = text
            .replace("{router_port}", &router_port.to_string())
            .replace("{admin_port}", &admin_port.to_string());
        std::fs::write(&file, text)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", file.display()))?;
    }
    Ok(())
}

fn port_or_free(preferred: u16) -> anyhow::Result<u16> {
    if std::net::TcpListener::bind(("127.0.0.1", preferred)).is_ok() {
        return Ok(preferred);
    }
    Ok(crate::core::runtime::free_port()?)
}

async fn run_demo(dir: &Path, no_traffic: bool) -> anyhow::Result<()> {
    let _log_guard = init_tracing(&dir.join(".naap"));
    let engine = Engine::start(dir).await?;
    let api = tokio::spawn(crate::api::server::serve(
        engine.clone(),
        socket_path(&engine.state_dir()),
    ));
    let ready = wait_until_serving(&engine, Duration::from_secs(30)).await;
    stage_next_version(dir, &engine);
    let router = engine.info().router.clone();
    if !no_traffic {
        tokio::spawn(background_traffic(router.clone()));
    }
    let socket = socket_path(&engine.state_dir());
    if interactive() {
        // The dashboard on the demo; quitting it offers to stop everything (the workspace
        // is temporary), or to keep the demo running for the CLI.
        let (theme, keymap) = crate::tui::run::load_look().map_err(|p| anyhow::anyhow!("{p}"))?;
        tokio::select! {
            result = crate::tui::run::run(&socket, dir, theme, keymap) => {
                if let Err(e) = result {
                    // The terminal failed under the dashboard: stop what this process
                    // runs before saying why, or its plugins would outlive it.
                    engine.shutdown(true).await;
                    let _ = api.await;
                    return Err(e);
                }
                if ask_stop().await {
                    sayln!("stopping the demo engine and its plugins …");
                    engine.shutdown(true).await;
                    let _ = api.await;
                    return Ok(());
                }
            }
            // The terminal went away (SIGHUP when an SSH session drops), SIGTERM, or
            // `naap stop`: the engine lives in this process, so its plugins would be left
            // behind. Give the terminal back and stop everything.
            stop_plugins = async {
                let stop_plugins = wait_for_stop(&engine, true).await;
                // Before the dashboard is dropped: after a hang-up its terminal is gone, and
                // the terminal's clean-up would write to that dead stderr and panic there.
                crate::tui::run::detach_stderr();
                stop_plugins
            } => {
                crate::tui::run::leave_terminal_quietly();
                engine.shutdown(stop_plugins).await;
                let _ = api.await;
                return Ok(());
            }
        }
    }
    print_welcome(dir, &engine, ready, !no_traffic);
    let stop_plugins = wait_for_stop(&engine, true).await;
    sayln!("\nstopping the demo engine and its plugins …");
    engine.shutdown(stop_plugins).await;
    let _ = api.await;
    Ok(())
}

/// expense-tracker 1.0.0 is live; its manifest now names 1.1.0, the next version ready to
/// deploy (the deploy form and `naap deploy expense-tracker` pick it up).
fn stage_next_version(dir: &Path, engine: &Engine) {
    let manifest = dir.join("plugins/expense-tracker/plugin.toml");
    let staged = std::fs::read_to_string(&manifest)
        .map(|text| text.replacen("version = \"1.0.0\"", "version = \"1.1.0\"", 1))
        .and_then(|text| std::fs::write(&manifest, text));
    if let Err(e) = staged {
        tracing::warn!("could not stage expense-tracker 1.1.0: {e}");
        return;
    }
    if let Err(e) = engine.refresh_plugin("expense-tracker") {
        tracing::warn!("could not reload the demo workspace: {e}");
    }
}

/// Both ends are a terminal: the demo opens the dashboard.
fn interactive() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// "Stop the demo?", default yes; anything but n/no stops it.
async fn ask_stop() -> bool {
    use std::io::Write;
    crate::cli::stdout::write_best_effort(format_args!(
        "Stop the demo engine and its plugins and remove the workspace? [Y/n] "
    ));
    let _ = std::io::stdout().flush();
    let answer = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await;
    match answer {
        Ok(Ok(line)) => !matches!(line.trim().to_ascii_lowercase().as_str(), "n" | "no"),
        _ => true,
    }
}

async fn wait_until_serving(engine: &Engine, timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if engine.status(None).is_ok_and(|r| all_serving(&r)) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

fn all_serving(report: &StatusReport) -> bool {
    report.plugins.iter().all(|p| {
        p.slots
            .iter()
            .any(|s| s.weight > 0 && s.health == crate::core::types::Health::Healthy)
    })
}

/// About 20 requests a second to each plugin, from a handful of users, so the metrics
/// move and sticky routing has users to stick.
async fn background_traffic(router: String) {
    let Ok(client) = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
    else {
        return;
    };
    let paths = [
        "/expenses/api/items",
        "/expenses/api/items/2",
        "/checkout/api/items",
        "/checkout/api/items/9",
    ];
    let mut tick = tokio::time::interval(Duration::from_millis(25));
    let mut n: u64 = 0;
    loop {
        tick.tick().await;
        n += 1;
        let url = format!(
            "http://{router}{}",
            paths[(n % paths.len() as u64) as usize]
        );
        let user = format!("user-{}", n % 7);
        let client = client.clone();
        tokio::spawn(async move {
            let _ = client.get(url).header("x-user-id", user).send().await;
        });
    }
}

fn print_welcome(dir: &Path, engine: &Engine, ready: bool, traffic: bool) {
    let info = engine.info();
    let router = &info.router;
    sayln!("naap demo · workspace {}", dir.display());
    sayln!("  router   http://{router}");
    sayln!("           /expenses → expense-tracker (blue-green)");
    sayln!("           /checkout → checkout (canary 10% → 50% → 100%)");
    if let Some(admin) = &info.admin {
        sayln!("  metrics  http://{admin}/metrics");
    }
    if !ready {
        sayln!("  (plugins are still starting; `naap status` shows them)");
    }
    if traffic {
        sayln!("\nIn another terminal (background traffic: ~20 requests/s per plugin):");
    } else {
        sayln!("\nIn another terminal (no background traffic: --no-traffic):");
    }
    if let Some(alias) = alias_line() {
        sayln!("  {alias}");
    }
    sayln!("  export NAAP_WORKSPACE={}", shell_quote(dir));
    sayln!("  naap status --watch");
    sayln!("  curl -si http://{router}/expenses/api/items");
    sayln!("  naap deploy expense-tracker                   # 1.1.0; blue stays warm");
    sayln!("  naap rollback expense-tracker --yes           # instant flip back");
    sayln!("  naap traffic expense-tracker blue=90 green=10");
    sayln!("  naap deploy checkout --version 2.5.0          # canary steps, judged");
    sayln!("  naap deploy checkout --version 2.5.0-flaky    # 20% errors: rolled back");
    sayln!("  naap logs checkout -f --level warn");
    sayln!("  naap history expense-tracker");
    sayln!(
        "  naap generate {} --name expense-claims   # plugin.md → a plugin",
        shell_quote(&dir.join("expense-tracker.plugin.md"))
    );
    sayln!(
        "  naap reload                                   # loads and deploys it: /expense-claims"
    );
    sayln!("\nCtrl-C stops the demo and its plugins and removes the workspace.");
}

/// When `naap` on PATH is not this binary (e.g. under `cargo run`), an alias makes the
/// printed commands work as written.
fn alias_line() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("naap"))
            .find(|p| p.is_file())
    });
    let same = on_path
        .and_then(|p| p.canonicalize().ok())
        .is_some_and(|p| exe.canonicalize().is_ok_and(|e| e == p));
    (!same).then(|| format!("alias naap={}", shell_quote(&exe)))
}

fn shell_quote(path: &Path) -> String {
    let s = path.display().to_string();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
