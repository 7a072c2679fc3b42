//! The bearer token of `naap mcp --listen`: 32 random bytes from the kernel, hex, made on
//! first use and kept owner-only (0600) in the state directory, so only the user who runs
//! naap (and whom they give it to) can reach the HTTP server.

use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const TOKEN_FILE: &str = "mcp.token";

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(TOKEN_FILE)
}

/// The token, made now when there is none. A token file others can read is refused, not
/// used: it may have leaked.
pub fn load_or_create(state_dir: &Path) -> Result<String, String> {
    let file = path(state_dir);
    match std::fs::metadata(&file) {
        Ok(meta) => {
            if meta.permissions().mode() & 0o077 != 0 {
                return Err(format!(
                    "{} is readable by others (mode {:o}); delete it (a new token is made) or `chmod 600` it",
                    file.display(),
                    meta.permissions().mode() & 0o777
                ));
            }
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let token = text.trim().to_string();
            if token.len() < 32 {
                return Err(format!(
                    "{} holds no usable token; delete it and a new one is made",
                    file.display()
                ));
            }
            Ok(token)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(&file),
        Err(e) => Err(format!("cannot read {}: {e}", file.display())),
    }
}

fn create(file: &Path) -> Result<String, String> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| format!("cannot read random bytes for the token: {e}"))?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .map_err(|e| format!("cannot create {}: {e}", file.display()))?;
    out.write_all(format!("{token}\n").as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    Ok(token)
}

/// Compares in time independent of where the first difference is.
pub fn matches(given: &str, token: &str) -> bool {
    let (a, b) = (given.as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_made_once_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(load_or_create(dir.path()).unwrap(), first);
        let mode = std::fs::metadata(path(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(matches(&first, &first));
        assert!(!matches("nope", &first));
        std::fs::set_permissions(path(dir.path()), std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(load_or_create(dir.path()).is_err());
    }
}
