//! Read-only workspace tools: list and read a plugin's files, validate the workspace. They
//! never leave the plugin's directory (a path is resolved, then checked to be inside it),
//! never follow into the state directory, and cap what they return.

use crate::core::workspace::{self, Workspace};
use std::path::{Component, Path, PathBuf};

/// Files listed at most per call.
const MAX_FILES: usize = 500;
/// Bytes of one file returned at most.
pub const MAX_FILE_BYTES: usize = 64 * 1024;

pub const LIST_FILES: &str = "list_files";
pub const READ_FILE: &str = "read_file";
pub const VALIDATE: &str = "validate";

/// The tool specs, in the shape the catalog's are.
pub fn specs() -> Vec<(&'static str, &'static str, serde_json::Value)> {
    vec![
        (
            LIST_FILES,
            "List a plugin's files (paths relative to its directory, with sizes). Skips what .gitignore ignores.",
            serde_json::json!({
                "type": "object",
                "properties": {"plugin": {"type": "string", "description": "the plugin's name"}},
                "required": ["plugin"],
                "additionalProperties": false
            }),
        ),
        (
            READ_FILE,
            "Read one file of a plugin (a path relative to its directory, as list_files gives it). At most 64 KiB.",
            serde_json::json!({
                "type": "object",
                "properties": {
                    "plugin": {"type": "string"},
                    "path": {"type": "string", "description": "relative to the plugin's directory, e.g. plugin.toml or src/main.py"}
                },
                "required": ["plugin", "path"],
                "additionalProperties": false
            }),
        ),
        (
            VALIDATE,
            "Check naap.toml and every plugin.toml; list each problem with file, line and a fix.",
            serde_json::json!({"type": "object", "properties": {}, "additionalProperties": false}),
        ),
    ]
}

pub fn is_workspace_tool(name: &str) -> bool {
    matches!(name, LIST_FILES | READ_FILE | VALIDATE)
}

/// Runs a workspace tool; the text is what the model gets (before redaction).
pub fn run(root: &Path, name: &str, arguments: &serde_json::Value) -> Result<String, String> {
    match name {
        VALIDATE => Ok(match workspace::load(root) {
            Ok(ws) => format!(
                "the workspace is valid: {} plugin(s): {}",
                ws.plugins.len(),
                ws.plugins
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Err(problems) => format!("the workspace has problems:\n{problems}"),
        }),
        LIST_FILES => {
            let dir = plugin_dir(root, arguments)?;
            list(&dir)
        }
        READ_FILE => {
            let dir = plugin_dir(root, arguments)?;
            let relative = arguments
                .get("path")
                .and_then(|p| p.as_str())
                .ok_or("read_file needs `path`, relative to the plugin's directory")?;
            read(&dir, relative)
        }
        other => Err(format!("there is no workspace tool `{other}`")),
    }
}

fn plugin_dir(root: &Path, arguments: &serde_json::Value) -> Result<PathBuf, String> {
    let name = arguments
        .get("plugin")
        .and_then(|p| p.as_str())
        .ok_or("this tool needs `plugin`, the plugin's name")?;
    let ws: Workspace = workspace::load_lenient(root).map_err(|p| p.to_string())?;
    ws.plugins
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.dir.clone())
        .ok_or_else(|| {
            format!(
                "there is no plugin `{name}`; the workspace has: {}",
                ws.plugins
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

fn list(dir: &Path) -> Result<String, String> {
    let mut lines = Vec::new();
    let walker = ignore::WalkBuilder::new(dir).hidden(true).build();
    for entry in walker.flatten() {
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        if lines.len() == MAX_FILES {
            lines.push(format!("… more than {MAX_FILES} files; listing stops here"));
            break;
        }
        let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
        let relative = entry.path().strip_prefix(dir).unwrap_or(entry.path());
        lines.push(format!("{} ({size} bytes)", relative.display()));
    }
    lines.sort();
    Ok(lines.join("\n"))
}

fn read(dir: &Path, relative: &str) -> Result<String, String> {
    let path = Path::new(relative);
    if path.is_absolute()
        || path
            .components()
            .any(|c| matches!(c, Component::ParentDir | Component::Prefix(_)))
    {
        return Err(format!(
            "`{relative}` is not a path inside the plugin; give it relative to the plugin's directory, without `..`"
        ));
    }
    let full = dir.join(path);
    // Resolved, a symlink could still point out of the plugin: check where it lands.
    let resolved = full
        .canonicalize()
        .map_err(|e| format!("cannot read `{relative}`: {e}"))?;
    if !resolved.starts_with(dir) {
        return Err(format!("`{relative}` leads outside the plugin's directory"));
    }
    let bytes = std::fs::read(&resolved).map_err(|e| format!("cannot read `{relative}`: {e}"))?;
    if bytes.contains(&0) {
        return Err(format!(
            "`{relative}` is a binary file ({} bytes)",
            bytes.len()
        ));
    }
    let total = bytes.len();
    let shown = &bytes[..total.min(MAX_FILE_BYTES)];
    let mut text = String::from_utf8_lossy(shown).into_owned();
    if total > MAX_FILE_BYTES {
        text.push_str(&format!(
            "\n… [cut: the file has {total} bytes; only the first {MAX_FILE_BYTES} are shown]"
        ));
    }
    Ok(text)
}
