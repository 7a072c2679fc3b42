//! Puts a generated plugin in place: the directory written under a temporary name and
//! renamed, then the `[[plugins]]` entry appended to naap.toml (written to a temporary file
//! and renamed). Any failure undoes what was done, so nothing is left half-written.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::scaffold::PluginFiles;
use crate::core::atomic_file::replace_file;
use crate::core::workspace;

/// Why a plugin could not be put in place. Every variant says what to do.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(
        "{path} already exists; naap generate writes a new directory\n  hint: pass --out DIR for another directory, or remove it"
    )]
    Exists { path: PathBuf },
    #[error(
        "the workspace already has a plugin named `{name}` ({file})\n  hint: pass --name ANOTHER-NAME, or rename the spec's `## Plugin:` heading"
    )]
    NameTaken { name: String, file: PathBuf },
    #[error(
        "the plugin `{other}` already serves route `{route}` ({file})\n  hint: pass --name ANOTHER-NAME (the route is /NAME)"
    )]
    RouteTaken {
        route: String,
        other: String,
        file: PathBuf,
    },
    #[error("the workspace's naap.toml has problems; fix them first:\n{0}")]
    Workspace(workspace::Problems),
    #[error("cannot write {path}: {why}\n  hint: check that the directory is writable")]
    Io { path: PathBuf, why: String },
    #[error(
        "{file}: cannot add the plugin's entry: {why}\n  hint: add `[[plugins]]` with `path = \"{path}\"` by hand"
    )]
    Register {
        file: PathBuf,
        path: String,
        why: String,
    },
}

/// What was written, for people and `--json`.
#[derive(Clone, Debug, Serialize)]
pub struct Written {
    pub plugin: String,
    pub route: String,
    /// The plugin directory (absolute).
    pub dir: PathBuf,
    /// Paths relative to `dir`.
    pub files: Vec<String>,
    /// naap.toml, when the plugin was registered in one.
    pub registered_in: Option<PathBuf>,
    /// The path written into naap.toml.
    pub entry_path: Option<String>,
    pub stories: usize,
    /// Criteria with a real test.
    pub checked: usize,
    /// Criteria whose test is skipped as still to implement.
    pub to_implement: usize,
}

/// Writes `files` into the new directory `dir` and, with a workspace `root`, registers it.
pub fn write_plugin(
    root: Option<&Path>,
    dir: &Path,
    files: &PluginFiles,
) -> Result<Written, WriteError> {
    let dir = std::path::absolute(dir).map_err(|e| io(dir, e))?;
    if dir.exists() {
        return Err(WriteError::Exists { path: dir });
    }
    if let Some(root) = root {
        check_free(root, files)?;
    }
    let parent = dir.parent().unwrap_or(Path::new("/")).to_path_buf();
    std::fs::create_dir_all(&parent).map_err(|e| io(&parent, e))?;
    let staging = parent.join(format!(
        ".{}.naap-generate-{}",
        files.name,
        std::process::id()
    ));
    let staged = stage(&staging, files);
    if let Err(e) = staged.and_then(|()| std::fs::rename(&staging, &dir).map_err(|e| io(&dir, e))) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    let (registered_in, entry_path) = match root {
        Some(root) => match register(root, &dir) {
            Ok((file, entry)) => (Some(file), Some(entry)),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        },
        None => (None, None),
    };
    let criteria = files.stories.stories.iter().flat_map(|s| &s.criteria);
    let to_implement = criteria
        .clone()
        .filter(|c| c.check == super::stories::Check::ToImplement)
        .count();
    Ok(Written {
        plugin: files.name.clone(),
        route: files.route.clone(),
        dir,
        files: files.files.iter().map(|(p, _)| p.clone()).collect(),
        registered_in,
        entry_path,
        stories: files.stories.stories.len(),
        checked: criteria.count() - to_implement,
        to_implement,
    })
}

fn io(path: &Path, e: std::io::Error) -> WriteError {
    WriteError::Io {
        path: path.to_path_buf(),
        why: e.to_string(),
    }
}

/// The name and route must be free in the workspace as it is now.
fn check_free(root: &Path, files: &PluginFiles) -> Result<(), WriteError> {
    let ws = workspace::load_lenient(root).map_err(WriteError::Workspace)?;
    for plugin in &ws.plugins {
        if plugin.name == files.name {
            return Err(WriteError::NameTaken {
                name: files.name.clone(),
                file: plugin.manifest_path.clone(),
            });
        }
        if let workspace::Route::Prefix { prefix, .. } = &plugin.route
            && *prefix == files.route
        {
            return Err(WriteError::RouteTaken {
                route: files.route.clone(),
                other: plugin.name.clone(),
                file: plugin.manifest_path.clone(),
            });
        }
    }
    if let Some(broken) = ws.broken.iter().find(|b| b.label() == files.name) {
        return Err(WriteError::NameTaken {
            name: files.name.clone(),
            file: broken.manifest_path.clone(),
        });
    }
    Ok(())
}

fn stage(staging: &Path, files: &PluginFiles) -> Result<(), WriteError> {
    for (rel, text) in &files.files {
        let path = staging.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        std::fs::write(&path, text).map_err(|e| io(&path, e))?;
    }
    Ok(())
}

/// Appends the entry to naap.toml, keeping every byte the person wrote; then checks that
/// the workspace loads with the new plugin in it, and puts the old file back if not.
fn register(root: &Path, dir: &Path) -> Result<(PathBuf, String), WriteError> {
    let file = root.join(workspace::WORKSPACE_FILE);
    let entry = entry_path(root, dir);
    let failed = |why: String| WriteError::Register {
        file: file.clone(),
        path: entry.clone(),
        why,
    };
    let before = std::fs::read_to_string(&file).map_err(|e| failed(e.to_string()))?;
    let after = with_plugin_entry(&before, &entry).map_err(&failed)?;
    replace_file(&file, &after).map_err(|e| failed(e.to_string()))?;
    let loaded = workspace::load_lenient(root);
    let problem = match &loaded {
        Ok(ws) if ws.broken.iter().any(|b| b.dir == canonical(dir)) => Some(format!(
            "the generated plugin.toml does not load:\n{}",
            ws.broken
                .iter()
                .find(|b| b.dir == canonical(dir))
                .map(|b| b.problems.to_string())
                .unwrap_or_default()
        )),
        Ok(_) => None,
        Err(problems) => Some(format!("the workspace no longer loads:\n{problems}")),
    };
    if let Some(why) = problem {
        let _ = replace_file(&file, &before);
        return Err(failed(why));
    }
    Ok((file, entry))
}

fn canonical(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// The plugin directory as naap.toml names it: relative to the root when inside it.
fn entry_path(root: &Path, dir: &Path) -> String {
    let root = canonical(root);
    let dir = canonical(dir);
    match dir.strip_prefix(&root) {
        Ok(rel) => rel.to_string_lossy().into_owned(),
        Err(_) => dir.to_string_lossy().into_owned(),
    }
}

/// naap.toml's text with a `[[plugins]]` entry for `path` appended. Fails when the result
/// would not be one more plugin entry (for instance when `plugins` is written inline).
pub fn with_plugin_entry(text: &str, path: &str) -> Result<String, String> {
    let count = |t: &str| -> Result<usize, String> {
        let table: toml::Table = t
            .parse()
            .map_err(|e: toml::de::Error| e.message().to_string())?;
        Ok(table
            .get("plugins")
            .and_then(|p| p.as_array())
            .map_or(0, Vec::len))
    };
    let before = count(text)?;
    let mut out = text.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push('\n');
    }
    out.push_str(&format!(
        "[[plugins]]\npath = {}\n",
        toml::Value::String(path.to_string())
    ));
    match count(&out) {
        Ok(n) if n == before + 1 => Ok(out),
        Ok(_) => Err("naap.toml lists its plugins in a way an appended entry cannot extend".into()),
        Err(e) => Err(format!(
            "naap.toml would not parse with the entry appended: {e}"
        )),
    }
}
