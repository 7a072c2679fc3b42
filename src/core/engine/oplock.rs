//! The per-plugin operation lock as a deploy takes it. Two deploys by people refuse each
//! other (their traffic steps would fight; the refusal says how to cancel). The engine's
//! own first start of a never-deployed plugin is different: it begins the moment `naap
//! serve` (or `naap reload`) loads the plugin, so a deploy sent right after would be
//! refused for something nobody asked for. Such a deploy waits behind it instead, and says
//! what it waits for.

use super::{Engine, EngineError};
use crate::core::event_kind::EventKind;
use crate::core::hint::Hint;
use crate::core::types::Face;
use std::time::Instant;
use tokio::sync::OwnedMutexGuard;

/// Who holds a plugin's operation lock for a deploy.
#[derive(Clone, Debug)]
pub(crate) struct OpHolder {
    pub face: Face,
    pub version: String,
    pub since: Instant,
}

/// The lock, released (and its holder cleared) on drop.
pub(crate) struct OpGuard {
    engine: Engine,
    plugin: String,
    _guard: OwnedMutexGuard<()>,
}

impl Drop for OpGuard {
    fn drop(&mut self) {
        if let Some(state) = self.engine.lock_plugins().get_mut(&self.plugin) {
            state.op_holder = None;
        }
    }
}

impl Engine {
    pub(crate) async fn lock_for_deploy(
        &self,
        plugin: &str,
        face: Face,
        version: &str,
    ) -> Result<OpGuard, EngineError> {
        let op = self.op_lock(plugin);
        let guard = match op.clone().try_lock_owned() {
            Ok(guard) => guard,
            Err(_) => {
                let holder = self
                    .lock_plugins()
                    .get(plugin)
                    .and_then(|s| s.op_holder.clone());
                match holder {
                    Some(first) if first.face == Face::Engine => {
                        self.record(
                            Some(plugin),
                            None,
                            EventKind::DeployWaiting,
                            format!(
                                "deploy of {plugin} {version} waits for the engine's first start of {plugin} {} (running for {:.1}s)",
                                first.version,
                                first.since.elapsed().as_secs_f64()
                            ),
                            serde_json::json!({"waiting_for": first.version}),
                        );
                        op.lock_owned().await
                    }
                    _ => {
                        return Err(EngineError::rejected(
                            plugin,
                            "another deploy, rollback or traffic change is in progress; wait for it, or roll back to cancel a deploy",
                        )
                        .hint(Hint::Rollback {
                            plugin: plugin.to_string(),
                        }));
                    }
                }
            }
        };
        if let Some(state) = self.lock_plugins().get_mut(plugin) {
            state.op_holder = Some(OpHolder {
                face,
                version: version.to_string(),
                since: Instant::now(),
            });
        }
        Ok(OpGuard {
            engine: self.clone(),
            plugin: plugin.to_string(),
            _guard: guard,
        })
    }
}
