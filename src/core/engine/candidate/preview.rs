//! A candidate as a preview: its staged tree runs in a preview slot, reachable only with
//! `x-naap-slot`, for a person to try before accepting it. A candidate never reaches blue
//! or green unaccepted: what takes traffic is always what the plugin's source says.

use super::super::{Engine, EngineError};
use crate::core::hint::{Hint, Param};
use crate::core::types::SlotName;
use std::path::{Path, PathBuf};

/// Where a candidate's preview runs from and under which version.
pub(crate) struct CandidateSource {
    pub id: String,
    pub tree: PathBuf,
    /// The version the accept would derive (`1.4.0` → `1.4.1-ai.<id>`).
    pub version: String,
}

impl CandidateSource {
    /// The run directory inside the candidate's tree that `cwd` is inside the plugin's
    /// directory; a directory outside the plugin stays as it is.
    pub fn rebase(&self, plugin_dir: &Path, cwd: &Path) -> PathBuf {
        match cwd.strip_prefix(plugin_dir) {
            Ok(inside) => self.tree.join(inside),
            Err(_) => cwd.to_path_buf(),
        }
    }
}

impl Engine {
    /// The source of a preview of candidate `id` of `plugin`; refused unless it is a
    /// preview of an open candidate of that plugin.
    pub(crate) fn candidate_source(
        &self,
        plugin: &str,
        id: &str,
        preview: bool,
        manifest_version: &str,
    ) -> Result<CandidateSource, EngineError> {
        if !preview {
            return Err(EngineError::rejected(
                plugin,
                format!(
                    "candidate {id} deploys as a preview only; accept it first (candidate_accept) to roll it out to blue/green or as a canary"
                ),
            )
            .hint(Hint::switch_on(Param::Preview)));
        }
        let candidate = self.open_candidate(id)?;
        if candidate.plugin != plugin {
            return Err(EngineError::BadRequest(format!(
                "candidate {id} is a change to {}, not to {plugin}",
                candidate.plugin
            )));
        }
        let version = crate::core::version::candidate_version(manifest_version, id)
            .map_err(|e| {
                EngineError::rejected(
                    plugin,
                    format!("cannot derive a version from {manifest_version}: {e}; give one"),
                )
            })?
            .to_string();
        Ok(CandidateSource {
            id: id.to_string(),
            tree: self.candidate_tree(id),
            version,
        })
    }

    /// The preview slots that run from candidate `id`'s tree.
    pub(crate) fn candidate_previews(&self, plugin: &str, id: &str) -> Vec<SlotName> {
        let tree = self.candidate_tree(id);
        let plugins = self.lock_plugins();
        let Some(state) = plugins.get(plugin) else {
            return Vec::new();
        };
        state
            .slots
            .iter()
            .filter(|(name, slot)| {
                name.is_preview()
                    && slot
                        .spec
                        .as_ref()
                        .is_some_and(|s| s.run.cwd.starts_with(&tree))
            })
            .map(|(name, _)| *name)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_directory_moves_into_the_tree_only_from_inside_the_plugin() {
        let source = CandidateSource {
            id: "k3x9q2".into(),
            tree: PathBuf::from("/state/candidates/k3x9q2/tree"),
            version: "1.0.1-ai.k3x9q2".into(),
        };
        let plugin = Path::new("/ws/plugins/items");
        assert_eq!(
            source.rebase(plugin, Path::new("/ws/plugins/items/bin")),
            PathBuf::from("/state/candidates/k3x9q2/tree/bin")
        );
        assert_eq!(
            source.rebase(plugin, plugin),
            PathBuf::from("/state/candidates/k3x9q2/tree")
        );
        assert_eq!(
            source.rebase(plugin, Path::new("/opt/shared")),
            PathBuf::from("/opt/shared")
        );
    }
}
