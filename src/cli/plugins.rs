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
                    .unwrap_or_else(|| "-".repeat(16)),
                v.last_outcome.as_deref().unwrap_or("-"),
            ));
        }
    }
    out
}
