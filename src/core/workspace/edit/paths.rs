//! "Stays inside the plugin directory": the one check every edited path passes.

use std::path::{Component, Path, PathBuf};

/// `text` as a normalised path relative to `root`, when writing it cannot touch anything
/// outside `root`: not absolute, no `..`, no symlink (at any depth) that leads out, not
/// the directory itself, and not under a `protected` directory name (`.git`, `.naap`).
pub fn inside(root: &Path, text: &str, protected: &[&str]) -> Result<PathBuf, String> {
    const HINT: &str = "give a path relative to the plugin directory, e.g. src/app.py";
    if text.trim().is_empty() {
        return Err(format!("the path is empty; {HINT}"));
    }
    if text.contains('\0') {
        return Err(format!("the path contains a NUL character; {HINT}"));
    }
    let mut rel = PathBuf::new();
    for component in Path::new(text).components() {
        match component {
            Component::Normal(name) => {
                if let Some(name) = name.to_str()
                    && protected.contains(&name)
                {
                    return Err(format!(
                        "`{name}/` is naap's state, version-control data or a build cache, which edits may not touch"
                    ));
                }
                rel.push(name);
            }
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(format!("`..` leads out of the plugin directory; {HINT}"));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("`{text}` is an absolute path; {HINT}"));
            }
        }
    }
    if rel.as_os_str().is_empty() {
        return Err(format!(
            "`{text}` names the plugin directory itself; {HINT}"
        ));
    }
    let canonical_root = root.canonicalize().map_err(|e| {
        format!(
            "cannot resolve the plugin directory {}: {e}",
            root.display()
        )
    })?;
    // Every prefix that exists: a symlink on the way may point anywhere.
    let mut walked = root.to_path_buf();
    for component in rel.components() {
        walked.push(component);
        let Ok(meta) = std::fs::symlink_metadata(&walked) else {
            break; // the rest is new: created under what was checked so far
        };
        if meta.file_type().is_symlink() {
            let target = walked.canonicalize().map_err(|e| {
                format!("`{text}` goes through a symlink that cannot be resolved ({e}); edit the file it points to instead")
            })?;
            if !target.starts_with(&canonical_root) {
                return Err(format!(
                    "`{text}` goes through a symlink to {}, outside the plugin directory",
                    target.display()
                ));
            }
        }
    }
    Ok(rel)
}
