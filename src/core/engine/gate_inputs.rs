//! The input hash of a gate: what a build or test run depends on, so a passed gate with the
//! same hash need not run again.
//!
//! The hash covers every file under the plugin directory (relative path, size and a hash of
//! the content), minus ignored ones, plus the expanded command, its environment, the
//! version being deployed and naap's own version. Always ignored: `.git/`, `.naap/`,
//! `target/`, `node_modules/` and `__pycache__/`; a `.naapignore` in the plugin directory
//! (gitignore syntax, parsed by the `ignore` crate that ripgrep uses) adds more — put build
//! outputs there, or every build changes the inputs of the next one.
//!
//! SHA-256 (`sha2`, pure Rust, already in the dependency tree through rustls) because the
//! hash is persisted in SQLite and must mean the same thing across naap releases and
//! machines; std's `DefaultHasher` makes no such promise. Plugins are small source trees,
//! so SHA-256's speed is not the bottleneck next to reading the files.

use ignore::WalkBuilder;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Directories never hashed, whatever `.naapignore` says: VCS data, naap's own state and
/// the usual build and dependency caches.
pub const ALWAYS_IGNORED_DIRS: &[&str] =
    &[".git", ".naap", "target", "node_modules", "__pycache__"];

/// The per-plugin ignore file, gitignore syntax.
pub const IGNORE_FILE: &str = ".naapignore";

/// Bumped when the layout of the hashed bytes changes, so old cache entries stop matching.
const SCHEME: &str = "naap-gate-inputs/1";

/// What a gate run is, apart from the files.
#[derive(Clone, Debug)]
pub struct GateInvocation<'a> {
    pub gate: &'a str,
    pub command: &'a str,
    pub env: &'a BTreeMap<String, String>,
    pub version: &'a str,
}

/// The hash of the plugin directory's files, computed once per deploy and shared by its
/// gates. Hex SHA-256.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeHash {
    pub hex: String,
    pub files: usize,
}

/// Walks `dir` and hashes every file that is not ignored, in path order (so the walk's
/// order does not matter). Unreadable files are an error: a gate must not be skipped on
/// inputs we could not see.
pub fn hash_tree(dir: &Path) -> Result<TreeHash, String> {
    let files = list_files(dir)?;
    hash_listed(&files)
}

/// The files a gate sees under `dir` (relative path, full path), in path order: the same
/// set the input hash covers, so a candidate's staged copy holds exactly these.
pub fn list_files(dir: &Path) -> Result<Vec<(PathBuf, PathBuf)>, String> {
    let mut files: Vec<(PathBuf, PathBuf)> = Vec::new();
    let walker = WalkBuilder::new(dir)
        // Only naap's own rules: no .gitignore, no global git excludes, no parent
        // directories' ignore files, hidden files included.
        .standard_filters(false)
        .parents(false)
        .follow_links(false)
        .add_custom_ignore_filename(IGNORE_FILE)
        .filter_entry(|entry| {
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            !(is_dir
                && entry.depth() > 0
                && entry
                    .file_name()
                    .to_str()
                    .is_some_and(|n| ALWAYS_IGNORED_DIRS.contains(&n)))
        })
        .build();
    for entry in walker {
        let entry = entry.map_err(|e| format!("cannot walk {}: {e}", dir.display()))?;
        let Some(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            continue;
        }
        let relative = entry
            .path()
            .strip_prefix(dir)
            .map_err(|e| {
                format!(
                    "{} is outside {}: {e}",
                    entry.path().display(),
                    dir.display()
                )
            })?
            .to_path_buf();
        files.push((relative, entry.path().to_path_buf()));
    }
    files.sort();
    Ok(files)
}

fn hash_listed(files: &[(PathBuf, PathBuf)]) -> Result<TreeHash, String> {
    let mut tree = Sha256::new();
    frame(&mut tree, SCHEME.as_bytes());
    for (relative, full) in files {
        frame(&mut tree, relative.as_os_str().as_encoded_bytes());
        let meta = std::fs::symlink_metadata(full)
            .map_err(|e| format!("cannot read {}: {e}", full.display()))?;
        if meta.file_type().is_symlink() {
            // A link is an input by where it points, not by what it points at.
            let target = std::fs::read_link(full)
                .map_err(|e| format!("cannot read link {}: {e}", full.display()))?;
            frame(&mut tree, b"link");
            frame(&mut tree, target.as_os_str().as_encoded_bytes());
        } else {
            frame(&mut tree, &meta.len().to_le_bytes());
            frame(&mut tree, &file_digest(full)?);
        }
    }
    Ok(TreeHash {
        hex: hex(&tree.finalize()),
        files: files.len(),
    })
}

/// The key a gate result is cached under: the tree hash plus everything else the run
/// depends on.
pub fn gate_input_hash(tree: &TreeHash, run: &GateInvocation<'_>) -> String {
    let mut h = Sha256::new();
    frame(&mut h, SCHEME.as_bytes());
    frame(&mut h, env!("CARGO_PKG_VERSION").as_bytes());
    frame(&mut h, tree.hex.as_bytes());
    frame(&mut h, run.gate.as_bytes());
    frame(&mut h, run.command.as_bytes());
    frame(&mut h, run.version.as_bytes());
    // A BTreeMap iterates in key order: the same env always hashes the same.
    for (key, value) in run.env {
        frame(&mut h, key.as_bytes());
        frame(&mut h, value.as_bytes());
    }
    hex(&h.finalize())
}

/// The first characters of a hash, as people read it in logs.
pub fn short_hash(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// Length-prefixed, so ("ab", "c") and ("a", "bc") hash differently.
fn frame(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// Hex SHA-256 of one file's content.
pub fn file_hash(path: &Path) -> Result<String, String> {
    file_digest(path).map(|d| hex(&d))
}

fn file_digest(path: &Path) -> Result<[u8; 32], String> {
    let mut file =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().into())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, body: &str) {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, body).expect("write");
    }

    fn plugin_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "naap.toml", "[plugin]\nname = \"p\"\n");
        write(dir.path(), "src/main.py", "print('hi')\n");
        dir
    }

    fn tree(dir: &Path) -> TreeHash {
        hash_tree(dir).expect("hash")
    }

    #[test]
    fn always_ignored_directories_do_not_change_the_hash() {
        let dir = plugin_dir();
        let before = tree(dir.path());
        for ignored in ALWAYS_IGNORED_DIRS {
            write(dir.path(), &format!("{ignored}/junk"), "x");
            write(dir.path(), &format!("src/{ignored}/nested"), "y");
        }
        assert_eq!(tree(dir.path()), before);
    }

    #[test]
    fn naapignore_patterns_do_not_change_the_hash_but_the_ignore_file_itself_does() {
        let dir = plugin_dir();
        write(dir.path(), IGNORE_FILE, "dist/\n*.log\n!keep.log\n");
        let before = tree(dir.path());
        write(dir.path(), "dist/bundle.js", "built");
        write(dir.path(), "src/debug.log", "noise");
        assert_eq!(tree(dir.path()), before);

        write(dir.path(), "keep.log", "negated: an input");
        assert_ne!(tree(dir.path()), before);

        let with_keep = tree(dir.path());
        write(
            dir.path(),
            IGNORE_FILE,
            "dist/\n*.log\n!keep.log\n# changed\n",
        );
        assert_ne!(tree(dir.path()), with_keep);
    }

    #[test]
    fn an_edit_a_new_file_a_rename_and_a_removal_each_change_the_hash() {
        let dir = plugin_dir();
        let mut seen = vec![tree(dir.path()).hex];
        write(dir.path(), "src/main.py", "print('hello')\n");
        seen.push(tree(dir.path()).hex);
        write(dir.path(), ".env.example", "A=1\n");
        seen.push(tree(dir.path()).hex);
        std::fs::rename(
            dir.path().join("src/main.py"),
            dir.path().join("src/app.py"),
        )
        .expect("rename");
        seen.push(tree(dir.path()).hex);
        std::fs::remove_file(dir.path().join(".env.example")).expect("rm");
        seen.push(tree(dir.path()).hex);
        let distinct: std::collections::BTreeSet<_> = seen.iter().collect();
        assert_eq!(distinct.len(), seen.len(), "{seen:?}");
    }

    #[test]
    fn file_creation_order_does_not_matter() {
        let files = [
            ("b.txt", "2"),
            ("a/z.txt", "1"),
            ("a/b.txt", "3"),
            ("c", "4"),
        ];
        let first = tempfile::tempdir().expect("tempdir");
        for (rel, body) in files {
            write(first.path(), rel, body);
        }
        let second = tempfile::tempdir().expect("tempdir");
        for (rel, body) in files.iter().rev() {
            write(second.path(), rel, body);
        }
        let (a, b) = (tree(first.path()), tree(second.path()));
        assert_eq!(a, b);
        assert_eq!(a.files, 4);
    }

    #[test]
    fn the_command_env_version_and_gate_are_part_of_the_key() {
        let dir = plugin_dir();
        let t = tree(dir.path());
        let env: BTreeMap<String, String> = [("MODE".to_string(), "fast".to_string())].into();
        let other_env: BTreeMap<String, String> = [("MODE".to_string(), "slow".to_string())].into();
        let base = GateInvocation {
            gate: "build",
            command: "make",
            env: &env,
            version: "1.0.0",
        };
        let key = gate_input_hash(&t, &base);
        assert_eq!(key, gate_input_hash(&t, &base.clone()), "deterministic");
        let variants = [
            GateInvocation {
                gate: "test",
                ..base.clone()
            },
            GateInvocation {
                command: "make all",
                ..base.clone()
            },
            GateInvocation {
                env: &other_env,
                ..base.clone()
            },
            GateInvocation {
                version: "1.0.1",
                ..base.clone()
            },
        ];
        for v in &variants {
            assert_ne!(gate_input_hash(&t, v), key, "{v:?}");
        }
        assert_eq!(key.len(), 64);
        assert_eq!(short_hash(&key).len(), 12);
    }
}
