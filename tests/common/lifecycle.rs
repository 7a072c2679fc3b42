//! Helpers for the engine-lifecycle tests: making the store unwritable under a running
//! engine, and reading the engine's lock file.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// How the store was made unwritable; undone on drop so the temp dir can be removed.
pub enum Unwritable {
    /// `chattr +i` on these files: even the engine's open descriptors get EPERM on write.
    Immutable {
        files: Vec<PathBuf>,
        /// Removed on drop if still there: the temp dir's own removal fails on immutable
        /// files when a test panics before `undo`.
        workspace: PathBuf,
    },
    /// A small tmpfs mounted over the state directory before the engine started, filled up
    /// later by `fill_disk`.
    FullDisk { mount: PathBuf, filler: PathBuf },
}

/// Whether `chattr +i` works on files in `dir` (it needs root and a file system with
/// inode flags: ext4, xfs, btrfs, tmpfs ≥ 6.0).
pub fn chattr_works(dir: &Path) -> bool {
    let probe = dir.join(".chattr-probe");
    if std::fs::write(&probe, b"x").is_err() {
        return false;
    }
    let set = Command::new("chattr").arg("+i").arg(&probe).status();
    let immutable = set.is_ok_and(|s| s.success()) && std::fs::write(&probe, b"y").is_err();
    let _ = Command::new("chattr").arg("-i").arg(&probe).status();
    let _ = std::fs::remove_file(&probe);
    immutable
}

impl Unwritable {
    /// Chooses the mechanism before the engine starts: `chattr` when it works here,
    /// otherwise a 4 MiB tmpfs over `state_dir` (root only). Panics when neither works, so
    /// the test never passes without having broken the store.
    /// `NAAP_TEST_UNWRITABLE=full-disk` forces the tmpfs, to exercise the fallback.
    pub fn prepare(workspace: &Path, state_dir: &Path) -> Unwritable {
        let forced_full_disk =
            std::env::var("NAAP_TEST_UNWRITABLE").is_ok_and(|v| v == "full-disk");
        if !forced_full_disk && chattr_works(workspace) {
            return Unwritable::Immutable {
                files: Vec::new(),
                workspace: workspace.to_path_buf(),
            };
        }
        std::fs::create_dir_all(state_dir).expect("state dir");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4m", "naap-test"])
            .arg(state_dir)
            .output()
            .expect("run mount");
        assert!(
            mounted.status.success(),
            "cannot make the store unwritable here: chattr +i does not work in {} and mounting a tmpfs failed: {}",
            workspace.display(),
            String::from_utf8_lossy(&mounted.stderr)
        );
        Unwritable::FullDisk {
            mount: state_dir.to_path_buf(),
            filler: state_dir.join("filler"),
        }
    }

    /// Makes the database unwritable now, under the running engine.
    pub fn apply(&mut self, state_dir: &Path) {
        match self {
            Unwritable::Immutable { files, .. } => {
                for name in ["naap.db", "naap.db-wal", "naap.db-journal"] {
                    let file = state_dir.join(name);
                    if !file.exists() {
                        continue;
                    }
                    let status = Command::new("chattr")
                        .arg("+i")
                        .arg(&file)
                        .status()
                        .expect("run chattr");
                    assert!(status.success(), "chattr +i {}", file.display());
                    files.push(file);
                }
                assert!(
                    !files.is_empty(),
                    "no database file in {}",
                    state_dir.display()
                );
            }
            Unwritable::FullDisk { filler, .. } => {
                use std::io::Write;
                let mut file = std::fs::File::create(&*filler).expect("filler");
                let block = vec![0u8; 64 * 1024];
                while file.write_all(&block).is_ok() {}
                // Whatever is left is smaller than a block; take it too.
                while file.write_all(&[0u8; 512]).is_ok() {}
            }
        }
    }

    /// Makes the database writable again (the engine keeps running).
    pub fn undo(&mut self) {
        match self {
            Unwritable::Immutable { files, .. } => {
                for file in files.drain(..) {
                    let _ = Command::new("chattr").arg("-i").arg(&file).status();
                }
            }
            Unwritable::FullDisk { filler, .. } => {
                let _ = std::fs::remove_file(&*filler);
            }
        }
    }

    pub fn describe(&self) -> &'static str {
        match self {
            Unwritable::Immutable { .. } => "chattr +i on the database files",
            Unwritable::FullDisk { .. } => "a full tmpfs under the state directory",
        }
    }
}

impl Drop for Unwritable {
    fn drop(&mut self) {
        self.undo();
        match self {
            Unwritable::FullDisk { mount, .. } => {
                // Lazy: the engine may still hold files open while the test winds down.
                let _ = Command::new("umount").arg("-l").arg(&*mount).status();
                // The temp dir could not remove its mount point; the workspace holds it.
                if let Some(workspace) = mount.parent() {
                    let _ = std::fs::remove_dir_all(workspace);
                }
            }
            Unwritable::Immutable { workspace, .. } => {
                let _ = std::fs::remove_dir_all(&*workspace);
            }
        }
    }
}

/// The engine lock file's content: `pid start_time`.
pub fn lock_holder(state_dir: &Path) -> Option<(u32, Option<u64>)> {
    let text = std::fs::read_to_string(state_dir.join("engine.lock")).ok()?;
    let mut words = text.split_whitespace();
    let pid = words.next()?.parse().ok()?;
    Some((pid, words.next().and_then(|w| w.parse().ok())))
}

/// Whether a process with this pid exists (and is not a zombie).
pub fn process_runs(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}
