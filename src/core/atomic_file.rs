//! Replacing a file whole or not at all: a reader (a person, an editor, the engine reading
//! naap.toml) sees the old text or the new, never half of it.

use std::path::Path;

/// Writes `text` to a temporary file beside `file` (keeping `file`'s permissions), then
/// renames it over `file`; on failure the temporary file is removed and `file` is as it was.
pub fn replace_file(file: &Path, text: &str) -> std::io::Result<()> {
    let mut name = file
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".naap-tmp-{}", std::process::id()));
    let tmp = file.with_file_name(name);
    let written = std::fs::write(&tmp, text).and_then(|()| {
        if let Ok(meta) = std::fs::metadata(file) {
            let _ = std::fs::set_permissions(&tmp, meta.permissions());
        }
        std::fs::rename(&tmp, file)
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}
