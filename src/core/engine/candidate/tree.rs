//! The staged tree's files: copying the source in, writing edits, reading both sides for
//! a diff, and writing an accepted candidate back.

use super::super::gate_inputs::{file_hash, list_files};
use crate::core::workspace::edit::PlannedFile;
use std::collections::BTreeMap;
use std::path::Path;

/// Copies the files a gate sees from `source` into `dest` (symlinks as symlinks) and
/// returns each one's content hash by relative path.
pub(super) fn stage(source: &Path, dest: &Path) -> Result<BTreeMap<String, String>, String> {
    std::fs::create_dir_all(dest).map_err(|e| format!("cannot create {}: {e}", dest.display()))?;
    let mut hashes = BTreeMap::new();
    for (rel, full) in list_files(source)? {
        let target = dest.join(&rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        let meta = std::fs::symlink_metadata(&full)
            .map_err(|e| format!("cannot read {}: {e}", full.display()))?;
        if meta.file_type().is_symlink() {
            let link = std::fs::read_link(&full)
                .map_err(|e| format!("cannot read link {}: {e}", full.display()))?;
            std::os::unix::fs::symlink(&link, &target)
                .map_err(|e| format!("cannot copy link {}: {e}", full.display()))?;
            hashes.insert(
                rel.display().to_string(),
                format!("link:{}", link.display()),
            );
        } else {
            std::fs::copy(&full, &target)
                .map_err(|e| format!("cannot copy {}: {e}", full.display()))?;
            hashes.insert(rel.display().to_string(), file_hash(&full)?);
        }
    }
    Ok(hashes)
}

/// Writes planned edits: each file to a temporary sibling first, then every one renamed
/// into place, so a failed write (a full disk) leaves no file half-written.
pub(super) fn write_planned(tree: &Path, planned: &[PlannedFile]) -> Result<(), String> {
    let mut staged = Vec::new();
    for file in planned {
        let target = tree.join(&file.path);
        let temp = temp_sibling(&target);
        let written = target
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|_| std::fs::write(&temp, &file.after));
        if let Err(e) = written {
            for (temp, _) in &staged {
                let _ = std::fs::remove_file(temp);
            }
            let _ = std::fs::remove_file(&temp);
            return Err(format!(
                "cannot write {}: {e}; nothing was written",
                file.path.display()
            ));
        }
        staged.push((temp, target));
    }
    for (temp, target) in staged {
        std::fs::rename(&temp, &target)
            .map_err(|e| format!("cannot move {} into place: {e}", target.display()))?;
    }
    Ok(())
}

fn temp_sibling(path: &Path) -> std::path::PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".naap-edit");
    path.with_file_name(name)
}

type Files = BTreeMap<String, Vec<u8>>;

/// The content of every file of both trees, for a diff.
pub(super) fn read_both(source: &Path, tree: &Path) -> Result<(Files, Files), String> {
    Ok((read_all(source)?, read_all(tree)?))
}

fn read_all(dir: &Path) -> Result<Files, String> {
    let mut out = BTreeMap::new();
    for (rel, full) in list_files(dir)? {
        let meta = std::fs::symlink_metadata(&full)
            .map_err(|e| format!("cannot read {}: {e}", full.display()))?;
        let bytes = if meta.file_type().is_symlink() {
            let link = std::fs::read_link(&full)
                .map_err(|e| format!("cannot read link {}: {e}", full.display()))?;
            format!("symlink to {}\n", link.display()).into_bytes()
        } else {
            std::fs::read(&full).map_err(|e| format!("cannot read {}: {e}", full.display()))?
        };
        out.insert(rel.display().to_string(), bytes);
    }
    Ok(out)
}

/// The files of `source` that differ from `base` (added, removed or changed), by path.
pub(super) fn changed_since(
    source: &Path,
    base: &BTreeMap<String, String>,
) -> Result<Vec<String>, String> {
    let mut now = BTreeMap::new();
    for (rel, full) in list_files(source)? {
        let meta = std::fs::symlink_metadata(&full)
            .map_err(|e| format!("cannot read {}: {e}", full.display()))?;
        let hash = if meta.file_type().is_symlink() {
            let link = std::fs::read_link(&full)
                .map_err(|e| format!("cannot read link {}: {e}", full.display()))?;
            format!("link:{}", link.display())
        } else {
            file_hash(&full)?
        };
        now.insert(rel.display().to_string(), hash);
    }
    let mut changed: Vec<String> = now
        .iter()
        .filter(|(path, hash)| base.get(*path) != Some(*hash))
        .map(|(path, _)| path.clone())
        .collect();
    changed.extend(base.keys().filter(|p| !now.contains_key(*p)).cloned());
    changed.sort();
    Ok(changed)
}

/// Copies `written` from the staged tree into `source` and removes `removed` there.
pub(super) fn write_into(
    tree: &Path,
    source: &Path,
    written: &[String],
    removed: &[String],
) -> Result<(), String> {
    let planned: Vec<PlannedFile> = written
        .iter()
        .map(|rel| {
            let after = std::fs::read_to_string(tree.join(rel))
                .map_err(|e| format!("cannot read the candidate's {rel}: {e}"))?;
            Ok(PlannedFile {
                path: rel.into(),
                before: None,
                after,
            })
        })
        .collect::<Result<_, String>>()?;
    write_planned(source, &planned)?;
    for rel in removed {
        std::fs::remove_file(source.join(rel)).map_err(|e| format!("cannot remove {rel}: {e}"))?;
    }
    Ok(())
}
