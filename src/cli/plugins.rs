//! `naap plugin list`: every plugin with every version it has had. (`disable` and
//! `enable` are changes like the others: `actions::act`.)

use super::output::print_json;
use super::{Cli, context};
use crate::api::Call;
use crate::core::engine::PluginVersions;

pub async fn list(cli: &Cli, call: Call) -> anyhow::Result<()> {
    let mut client = context::connect(cli).await?;
    let plugins: Vec<PluginVersions> = client.call_as(call).await?;
    if cli.json {
        return print_json(&plugins);
    }
    out!("{}", render(&plugins))
}

fn render(plugins: &[PluginVersions]) -> String {
    let mut out = String::new();
    for p in plugins {
        let state = match &p.disabled {
            Some(d) => format!(
                "DISABLED since {} by {}{}",
                d.since.format("%Y-%m-%d %H:%M UTC"),
                d.face,
                if d.reason.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", d.reason)
                }
            ),
            None => match &p.live {
                Some(v) => format!("live {v}"),
                None => "not serving".to_string(),
            },
        };
        out.push_str(&format!("{}  {state}\n", p.plugin));
        if p.versions.is_empty() {
            out.push_str("  no version deployed yet\n");
        }
        for v in &p.versions {
            out.push_str(&format!(
                "  {} {:<16} first {}  last {}  {}\n",
                if v.live { "▸" } else { " " },
                v.version,
                v.first_deployed.format("%Y-%m-%d %H:%M"),
                v.last_deployed
                    .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_else(|| format!("{:<16}", "never live")),
                v.last_outcome.as_deref().unwrap_or("-"),
            ));
        }
    }
    out
}

/// `naap export deployed [--out FILE]`: DEPLOYED.md to stdout, or into FILE whole (a
/// temporary file beside it, renamed over it) so a reader never sees half a page.
pub async fn export_deployed(
    cli: &Cli,
    call: Call,
    out: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let mut client = context::connect(cli).await?;
    let page: serde_json::Value = client.call_as(call).await?;
    let markdown = page["markdown"].as_str().unwrap_or_default();
    let Some(path) = out else {
        if cli.json {
            return print_json(&page);
        }
        return out!("{markdown}");
    };
    crate::core::atomic_file::replace_file(path, markdown).map_err(|e| {
            super::output::Usage(format!(
                "--out {}: cannot write it: {e}\n  hint: pass a file in a directory that exists and you can write",
                path.display()
            ))
        })?;
    if cli.json {
        return print_json(&serde_json::json!({"out": path, "bytes": markdown.len()}));
    }
    outln!("wrote {} ({} bytes)", path.display(), markdown.len())?;
    Ok(())
}
