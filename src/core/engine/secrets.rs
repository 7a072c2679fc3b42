//! `env_from` at the moment a gate or a slot starts: each reference read now, so a rotated
//! secret reaches the next start, and nothing but the reference is ever stored.

use super::state::DeploySpec;
use super::{Engine, EngineError};
use std::collections::BTreeMap;

impl Engine {
    /// The plugin's `env_from` values, read now. A file that cannot be read or a variable
    /// that is not set fails the start, naming the field and the reference.
    pub(crate) fn resolve_env_from(
        &self,
        plugin: &str,
        spec: &DeploySpec,
    ) -> Result<BTreeMap<String, String>, EngineError> {
        let mut values = BTreeMap::new();
        for (name, secret) in &spec.run.env_from {
            let value = secret.resolve().map_err(|why| {
                EngineError::rejected(
                    plugin,
                    format!(
                        "run.env_from.{name} = \"{secret}\": {why}; nothing was started. Create it, or fix the reference in the plugin's plugin.toml"
                    ),
                )
            })?;
            values.insert(name.clone(), value);
        }
        // Whatever the plugin or its gates print of them is masked in naap's log views.
        self.inner
            .logs
            .mask_values(plugin, values.values().cloned());
        Ok(values)
    }
}

/// What the gate cache key sees of the environment: `env` as expanded, and `env_from` by
/// reference only. A secret's value is left out, as BuildKit leaves `--mount=type=secret`
/// out of its cache keys: a build's output should not depend on a token, and a hash of a
/// short secret stored in the database could be tested against guesses. Rotating a secret
/// therefore does not rerun a passed gate; `naap deploy --no-cache` does.
pub(crate) fn gate_key_env(
    env: &BTreeMap<String, String>,
    spec: &DeploySpec,
) -> BTreeMap<String, String> {
    let mut key = env.clone();
    for (name, secret) in &spec.run.env_from {
        key.insert(format!("env_from:{name}"), secret.to_string());
    }
    key
}
