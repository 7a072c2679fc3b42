//! Everything naap writes is owner-only: the store, its WAL, the engine's logs, the slot
//! logs, `engine.out`. They hold plugin output, audit entries and run specs.
//!
//! The mechanism is the one daemons use (systemd's `UMask=0077`, sshd): the engine process
//! sets its umask to 077 before it creates anything, so every file it or its libraries
//! (SQLite, the log appender) create is 0600 and every directory 0700. Plugins, gates and
//! alert commands get the umask naap was started with back, so the files *they* create
//! keep the modes their authors expect. Files that already exist from an older naap are
//! narrowed once at start (only naap's own files in the state directory).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::OnceLock;

/// The umask naap was started with, saved by [`restrict_umask`].
static INHERITED_UMASK: OnceLock<libc::mode_t> = OnceLock::new();

/// Sets the process umask to 077, once; later calls do nothing.
pub fn restrict_umask() {
    INHERITED_UMASK.get_or_init(|| {
        // SAFETY: umask only swaps the process's file mode mask; it cannot fail.
        unsafe { libc::umask(0o077) }
    });
}

/// Makes a child process start with the umask naap inherited, not naap's own 077.
pub fn child_gets_inherited_umask(command: &mut tokio::process::Command) {
    let Some(&mask) = INHERITED_UMASK.get() else {
        return;
    };
    // SAFETY: umask is async-signal-safe and touches no memory; it runs between fork and
    // exec in the child only.
    unsafe {
        command.pre_exec(move || {
            libc::umask(mask);
            Ok(())
        });
    }
}

/// Narrows a file naap created to 0600 if it is wider; a missing file is fine.
pub fn make_owner_only(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() && meta.permissions().mode() & 0o077 != 0 => {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        }
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Narrows naap's own files in the state directory, written by an older naap with the
/// default umask: the store and its journal files, the engine lock and output, and every
/// file under `logs/` and `slots/`.
pub fn narrow_state_files(state_dir: &Path) {
    let mut files: Vec<std::path::PathBuf> = [
        "naap.db",
        "naap.db-wal",
        "naap.db-shm",
        "engine.lock",
        "engine.out",
    ]
    .iter()
    .map(|name| state_dir.join(name))
    .collect();
    for dir in ["logs", "slots"] {
        if let Ok(entries) = std::fs::read_dir(state_dir.join(dir)) {
            files.extend(entries.flatten().map(|e| e.path()));
        }
    }
    for file in files {
        if let Err(e) = make_owner_only(&file) {
            tracing::warn!("cannot make {} owner-only: {e}", file.display());
        }
    }
}
