//! `naap init` and `naap validate`: they work on files and need no engine.

use super::output::{Exit, print_json};
use super::{Cli, context};
use crate::core::workspace;

pub fn init(cli: &Cli, dir: Option<std::path::PathBuf>, force: bool) -> anyhow::Result<()> {
    let dir = match dir.or_else(|| cli.workspace.clone()) {
        Some(d) => d,
        None => std::env::current_dir()?,
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    match workspace::init(&dir, force) {
        Ok(files) => {
            if cli.json {
                return print_json(&files);
            }
            for file in &files {
                outln!("wrote {}", file.display())?;
            }
            outln!(
                "\nnext: `naap validate`, then `naap serve` (or any command: it starts the engine)"
            )?;
            Ok(())
        }
        Err(problems) => {
            noteln!("{problems}");
            Err(Exit(1).into())
        }
    }
}

pub fn validate(cli: &Cli) -> anyhow::Result<()> {
    let root = context::workspace_root(cli)?;
    match workspace::load(&root) {
        Ok(ws) => {
            if cli.json {
                return print_json(
                    &serde_json::json!({"ok": true, "plugins": ws.plugins.iter().map(|p| &p.name).collect::<Vec<_>>(), "problems": []}),
                );
            }
            outln!(
                "{}: ok ({} plugin{})",
                ws.file.display(),
                ws.plugins.len(),
                if ws.plugins.len() == 1 { "" } else { "s" }
            )?;
            Ok(())
        }
        Err(problems) => {
            if cli.json {
                let list: Vec<_> = problems
                    .0
                    .iter()
                    .map(|p| serde_json::json!({"file": p.file, "line": p.line, "column": p.column, "field": p.field, "message": p.message, "hint": p.hint}))
                    .collect();
                print_json(&serde_json::json!({"ok": false, "problems": list}))?;
            } else {
                noteln!("{problems}");
                noteln!(
                    "{} problem{} found",
                    problems.0.len(),
                    if problems.0.len() == 1 { "" } else { "s" }
                );
            }
            Err(Exit(1).into())
        }
    }
}
