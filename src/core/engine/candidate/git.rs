//! When a plugin lives in a git repository, its candidates are also kept as a branch
//! there, `naap/candidate-<id>`, with a commit per step (each edit and fix), so the change
//! can be read, reviewed or merged with the tools people already use. The branch is built
//! with git's plumbing on temporary index files: the person's checkout, index and current
//! branch are never touched. The staged tree in the state directory stays what gates run
//! on and accept writes from; the branch mirrors it, and a failure to mirror is reported
//! on the candidate, never a reason to refuse an edit.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository a plugin directory is in, and the directory's path inside it.
#[derive(Clone, Debug, PartialEq)]
pub struct Repo {
    pub root: PathBuf,
    /// `plugins/shop`, or empty when the plugin is the repository's root.
    pub prefix: String,
}

/// The branch of candidate `id`.
pub fn branch(id: &str) -> String {
    format!("naap/candidate-{id}")
}

/// The repository `dir` is in, if it is in one with at least one commit.
pub fn repo_of(dir: &Path) -> Option<Repo> {
    let root = git(dir, &["rev-parse", "--show-toplevel"], &[]).ok()?;
    git(dir, &["rev-parse", "--verify", "--quiet", "HEAD"], &[]).ok()?;
    let root = PathBuf::from(root);
    let real_root = root.canonicalize().ok()?;
    let real_dir = dir.canonicalize().ok()?;
    let prefix = real_dir
        .strip_prefix(&real_root)
        .ok()?
        .to_string_lossy()
        .to_string();
    Some(Repo { root, prefix })
}

impl Repo {
    /// Starts the branch of candidate `id` at the repository's HEAD.
    pub fn start(&self, id: &str) -> Result<String, String> {
        let head = git(&self.root, &["rev-parse", "HEAD"], &[])?;
        let name = format!("refs/heads/{}", branch(id));
        git(&self.root, &["update-ref", &name, &head, ""], &[])?;
        Ok(head)
    }

    /// Commits `tree` (the candidate's staged copy of the plugin directory) on the
    /// candidate's branch, with `message`; returns the commit. The temporary index files
    /// go in `scratch` (the candidate's own directory) and are removed.
    pub fn commit(
        &self,
        id: &str,
        tree: &Path,
        scratch: &Path,
        message: &str,
    ) -> Result<String, String> {
        let staged_index = scratch.join("git-index-staged");
        let whole_index = scratch.join("git-index-whole");
        let result = self.commit_with(id, tree, &staged_index, &whole_index, message);
        let _ = std::fs::remove_file(&staged_index);
        let _ = std::fs::remove_file(&whole_index);
        result
    }

    fn commit_with(
        &self,
        id: &str,
        tree: &Path,
        staged_index: &Path,
        whole_index: &Path,
        message: &str,
    ) -> Result<String, String> {
        let name = format!("refs/heads/{}", branch(id));
        let parent = git(&self.root, &["rev-parse", "--verify", &name], &[])?;
        let staged_env = [("GIT_INDEX_FILE", staged_index)];
        let whole_env = [("GIT_INDEX_FILE", whole_index)];
        // The staged copy as a tree of its own (its own .gitignore files apply).
        let git_dir = git(&self.root, &["rev-parse", "--absolute-git-dir"], &[])?;
        let git_dir = format!("--git-dir={git_dir}");
        let work_tree = format!("--work-tree={}", tree.display());
        // What gates leave behind (caches, build output) is never part of a change.
        let excluded: Vec<String> = super::super::gate_inputs::ALWAYS_IGNORED_DIRS
            .iter()
            .map(|d| format!(":(exclude,glob)**/{d}/**"))
            .collect();
        let mut add = vec![git_dir.as_str(), work_tree.as_str(), "add", "-A", "--", "."];
        add.extend(excluded.iter().map(String::as_str));
        git(tree, &add, &staged_env)?;
        let staged = git(&self.root, &["write-tree"], &staged_env)?;
        // The branch's tree with the plugin's directory replaced by it.
        git(&self.root, &["read-tree", &parent], &whole_env)?;
        let whole = if self.prefix.is_empty() {
            staged
        } else {
            git(
                &self.root,
                &[
                    "rm",
                    "-r",
                    "-q",
                    "--cached",
                    "--ignore-unmatch",
                    "-f",
                    "--",
                    &self.prefix,
                ],
                &whole_env,
            )?;
            let prefix = format!("--prefix={}/", self.prefix);
            git(&self.root, &["read-tree", &prefix, &staged], &whole_env)?;
            git(&self.root, &["write-tree"], &whole_env)?
        };
        let commit = git_with_identity(
            &self.root,
            &["commit-tree", &whole, "-p", &parent, "-m", message],
        )?;
        git(&self.root, &["update-ref", &name, &commit, &parent], &[])?;
        Ok(commit)
    }
}

/// Runs git in `dir`; its trimmed stdout, or what it said on failure.
fn git(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> Result<String, String> {
    let mut command = Command::new("git");
    command.arg("-C").arg(dir).args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    run(command, args)
}

/// `git commit-tree` with an identity: the person's when git has one, else naap's own, so
/// a machine without `user.email` still gets its branch.
fn git_with_identity(dir: &Path, args: &[&str]) -> Result<String, String> {
    let mut command = Command::new("git");
    command.arg("-C").arg(dir).args(args);
    if git(dir, &["config", "user.email"], &[]).is_err() {
        let who = crate::core::identity::operator_name();
        command
            .env("GIT_AUTHOR_NAME", &who)
            .env("GIT_COMMITTER_NAME", &who)
            .env("GIT_AUTHOR_EMAIL", "naap@localhost")
            .env("GIT_COMMITTER_EMAIL", "naap@localhost");
    }
    run(command, args)
}

fn run(mut command: Command, args: &[&str]) -> Result<String, String> {
    let out = command
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "git {} failed: {}",
            args.iter()
                .find(|a| !a.starts_with("--"))
                .copied()
                .unwrap_or(""),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(dir: &Path, args: &[&str]) -> String {
        git(dir, args, &[]).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_candidate_branch_gets_a_commit_per_step_and_the_checkout_is_untouched() {
        let repo = tempfile::tempdir().unwrap();
        let root = repo.path();
        sh(root, &["init", "-q", "-b", "main"]);
        std::fs::create_dir_all(root.join("plugins/shop")).unwrap();
        std::fs::write(root.join("README.md"), "repo\n").unwrap();
        std::fs::write(root.join("plugins/shop/app.py"), "old\n").unwrap();
        sh(root, &["add", "-A"]);
        git_with_identity(root, &["commit", "-q", "-m", "first"]).unwrap();
        let head = sh(root, &["rev-parse", "HEAD"]);

        let found = repo_of(&root.join("plugins/shop")).expect("a repository");
        assert_eq!(found.prefix, "plugins/shop");
        assert_eq!(found.start("k3x9q2").unwrap(), head);

        let staged = tempfile::tempdir().unwrap();
        std::fs::write(staged.path().join("app.py"), "new\n").unwrap();
        std::fs::write(staged.path().join("test_app.py"), "t\n").unwrap();
        std::fs::create_dir(staged.path().join("__pycache__")).unwrap();
        std::fs::write(staged.path().join("__pycache__/app.pyc"), "x").unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let first = found
            .commit("k3x9q2", staged.path(), scratch.path(), "edit: +2 -1")
            .unwrap();
        std::fs::write(staged.path().join("app.py"), "newer\n").unwrap();
        let second = found
            .commit("k3x9q2", staged.path(), scratch.path(), "fix 1")
            .unwrap();

        let branch = "naap/candidate-k3x9q2";
        assert_eq!(sh(root, &["rev-parse", branch]), second);
        assert_eq!(sh(root, &["rev-parse", &format!("{second}^")]), first);
        assert_eq!(
            sh(root, &["show", &format!("{branch}:plugins/shop/app.py")]),
            "newer"
        );
        assert_eq!(
            sh(root, &["show", &format!("{branch}:README.md")]),
            "repo",
            "the rest of the repository is kept"
        );
        let files = sh(root, &["ls-tree", "-r", "--name-only", branch]);
        assert_eq!(
            files, "README.md\nplugins/shop/app.py\nplugins/shop/test_app.py",
            "gate caches are not committed"
        );
        // The person's branch, index and files are as they were.
        assert_eq!(sh(root, &["rev-parse", "HEAD"]), head);
        assert_eq!(sh(root, &["status", "--porcelain"]), "");
        assert_eq!(
            std::fs::read_to_string(root.join("plugins/shop/app.py")).unwrap(),
            "old\n"
        );
    }

    #[test]
    fn a_directory_outside_any_repository_has_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(repo_of(dir.path()), None);
    }
}
