//! A plugin's life beyond one deploy: every version it has had (`naap plugin list`), and
//! turning it off and on again. A disabled plugin keeps its history; its slots are stopped
//! (drained first, as any stop) and the router answers its route with 503 and a body that
//! says why, as a systemd unit that is stopped and masked; `enable` starts the version that
//! served when it was disabled.

use super::report::ActionOutcome;
use super::{Engine, EngineError};
use crate::core::event_kind::EventKind;
use crate::core::hint::Hint;
use crate::core::store::DisabledRecord;
use crate::core::types::{Face, SlotName, StrategyKind};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// `plugin_disable`: stop a plugin and close its route until it is enabled.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableRequest {
    pub plugin: String,
    /// Why, for the 503 body and the history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `plugins`: every plugin (or one) with every version it has had.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginsRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
}

/// One plugin's versions and whether it is on.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PluginVersions {
    pub plugin: String,
    /// The version with the most traffic now.
    pub live: Option<String>,
    /// Set while the plugin is disabled.
    pub disabled: Option<DisabledRecord>,
    /// Newest deploy first; never-deployed ones last.
    pub versions: Vec<KnownVersion>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KnownVersion {
    pub version: String,
    /// When the engine first recorded it (its first deploy).
    pub first_deployed: DateTime<Utc>,
    pub last_deployed: Option<DateTime<Utc>>,
    /// How its last rollout ended: succeeded, failed, rolled_back, aborted, running.
    pub last_outcome: Option<String>,
    pub live: bool,
}

/// How many rollouts per plugin `plugins` reads for the last outcomes.
const OUTCOME_ROLLOUTS: usize = 500;

impl Engine {
    /// The disabled record of `plugin`, if it is disabled.
    pub(crate) fn disabled(&self, plugin: &str) -> Option<DisabledRecord> {
        self.inner
            .disabled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(plugin)
            .cloned()
    }

    /// Refuses a change to a disabled plugin: it must be enabled first.
    pub(crate) fn require_enabled(&self, plugin: &str) -> Result<(), EngineError> {
        match self.disabled(plugin) {
            None => Ok(()),
            Some(d) => Err(EngineError::Rejected {
                plugin: plugin.to_string(),
                message: format!(
                    "it is disabled (since {}, by {}); nothing changed",
                    d.since.format("%Y-%m-%d %H:%M UTC"),
                    d.face
                ),
                hints: vec![Hint::Enable {
                    plugin: plugin.to_string(),
                }],
            }),
        }
    }

    /// The 503 body of a disabled plugin's route.
    pub(crate) fn closed_body(&self, plugin: &str) -> Option<String> {
        self.disabled(plugin).map(|d| {
            let reason = if d.reason.is_empty() {
                String::new()
            } else {
                format!(" ({})", d.reason)
            };
            format!(
                "naap: plugin {plugin} is disabled{reason} since {}; `naap plugin enable {plugin}` brings it back\n",
                d.since.format("%Y-%m-%d %H:%M UTC")
            )
        })
    }

    /// Every plugin of the workspace (or one) with its versions.
    pub fn plugin_versions(&self, only: Option<&str>) -> Result<Vec<PluginVersions>, EngineError> {
        if let Some(name) = only {
            self.require_plugin(name)?;
        }
        let names: Vec<String> = self
            .workspace()
            .plugins
            .iter()
            .map(|p| p.name.clone())
            .filter(|n| only.is_none_or(|o| o == n))
            .collect();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let live = self.live_version(&name);
            let store = self.store();
            let rollouts = store.rollouts(&name, OUTCOME_ROLLOUTS)?;
            let versions = store
                .versions(&name)?
                .into_iter()
                .map(|v| KnownVersion {
                    last_outcome: rollouts
                        .iter()
                        .filter(|r| r.to_version == v.version)
                        .max_by_key(|r| (r.started_at, r.id))
                        .map(|r| r.state.clone()),
                    live: live.as_deref() == Some(v.version.as_str()),
                    first_deployed: v.created_at,
                    last_deployed: v.last_deployed_at,
                    version: v.version,
                })
                .collect();
            drop(store);
            out.push(PluginVersions {
                disabled: self.disabled(&name),
                plugin: name,
                live,
                versions,
            });
        }
        Ok(out)
    }

    fn live_version(&self, plugin: &str) -> Option<String> {
        let plugins = self.lock_plugins();
        let state = plugins.get(plugin)?;
        state.slot(state.live_slot()?)?.version.clone()
    }

    /// Stops every slot of `plugin` and closes its route: the router answers 503 until
    /// [`Engine::enable_plugin`]. Refused while a rollout runs (abort it first).
    pub async fn disable_plugin(
        &self,
        req: DisableRequest,
        face: Face,
    ) -> Result<ActionOutcome, EngineError> {
        let args = serde_json::to_value(&req).unwrap_or_default();
        let ticket = self.audit_accept(face, "disable", Some(&req.plugin), args);
        let result = self.disable_inner(&req, face).await;
        self.audit_finish(ticket, &result, |o| o.summary.clone());
        result
    }

    async fn disable_inner(
        &self,
        req: &DisableRequest,
        face: Face,
    ) -> Result<ActionOutcome, EngineError> {
        let started = Instant::now();
        let plugin = req.plugin.as_str();
        self.require_plugin(plugin)?;
        if let Some(d) = self.disabled(plugin) {
            return Ok(self.lifecycle_outcome(
                plugin,
                "unchanged",
                format!(
                    "{plugin} is already disabled (since {}, by {})",
                    d.since.format("%Y-%m-%d %H:%M UTC"),
                    d.face
                ),
                started,
            ));
        }
        // Deploys, rollbacks and traffic changes of the plugin wait for this, and it for them.
        let op = self.op_lock(plugin);
        let Ok(_op) = op.try_lock() else {
            return Err(EngineError::Rejected {
                plugin: plugin.to_string(),
                message: "a deploy or rollback of it is running; nothing changed".to_string(),
                hints: vec![Hint::PromoteOrAbort {
                    plugin: plugin.to_string(),
                }],
            });
        };
        let (version, running) = {
            let plugins = self.lock_plugins();
            let state = plugins.get(plugin);
            let version = state
                .and_then(|s| s.live_slot().and_then(|l| s.slot(l)))
                .and_then(|s| s.version.clone());
            let running: Vec<SlotName> = state
                .map(|s| {
                    s.slots
                        .iter()
                        .filter(|(_, slot)| slot.handle.is_some())
                        .map(|(name, _)| *name)
                        .collect()
                })
                .unwrap_or_default();
            (version, running)
        };
        let reason = req.reason.clone().unwrap_or_default();
        let record = self
            .store()
            .set_disabled(plugin, face, version.as_deref(), &reason)?;
        self.inner
            .disabled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(plugin.to_string(), record);
        // The route closes before the slots drain: new requests get the 503 at once.
        self.publish_routes();
        for slot in &running {
            match slot.preview_id() {
                Some(id) => {
                    let stop = super::StopPreviewRequest {
                        plugin: plugin.to_string(),
                        id: id.to_string(),
                    };
                    if let Err(e) = self.stop_preview(stop, face).await {
                        tracing::warn!("disabling {plugin}: preview {id}: {e}");
                    }
                }
                None => self.stop_slot(plugin, *slot, "plugin disabled").await,
            }
        }
        let stopped: Vec<String> = running.iter().map(|s| s.to_string()).collect();
        let summary = format!(
            "disabled {plugin}{}: {}; the router answers 503 until `enable`",
            version
                .as_deref()
                .map(|v| format!(" (live version {v})"))
                .unwrap_or_default(),
            if stopped.is_empty() {
                "no slot was running".to_string()
            } else {
                format!("stopped {}", stopped.join(", "))
            }
        );
        self.record(
            Some(plugin),
            None,
            EventKind::PluginDisabled,
            summary.clone(),
            serde_json::json!({"version": version, "stopped": stopped, "reason": reason}),
        );
        let mut outcome = self.lifecycle_outcome(plugin, "disabled", summary, started);
        outcome.version = version;
        outcome.hints = vec![Hint::Enable {
            plugin: plugin.to_string(),
        }];
        Ok(outcome)
    }

    /// Opens a disabled plugin's route again and starts the version that served when it
    /// was disabled. When that start fails the plugin stays disabled, as it was.
    pub async fn enable_plugin(
        &self,
        req: super::PluginRequest,
        face: Face,
    ) -> Result<ActionOutcome, EngineError> {
        let args = serde_json::to_value(&req).unwrap_or_default();
        let ticket = self.audit_accept(face, "enable", Some(&req.plugin), args);
        let result = self.enable_inner(&req.plugin, face).await;
        self.audit_finish(ticket, &result, |o| o.summary.clone());
        result
    }

    async fn enable_inner(&self, plugin: &str, face: Face) -> Result<ActionOutcome, EngineError> {
        let started = Instant::now();
        self.require_plugin(plugin)?;
        let Some(record) = self.disabled(plugin) else {
            return Ok(self.lifecycle_outcome(
                plugin,
                "unchanged",
                format!("{plugin} is not disabled"),
                started,
            ));
        };
        let forget = |engine: &Engine| -> Result<(), EngineError> {
            engine.store().clear_disabled(plugin)?;
            engine
                .inner
                .disabled
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(plugin);
            Ok(())
        };
        forget(self)?;
        let version = match &record.version {
            Some(v) => Some(v.parse().map_err(|e| {
                EngineError::rejected(plugin, format!("its stored version `{v}`: {e}"))
            })?),
            None => None,
        };
        let deploy = super::DeployRequest {
            plugin: plugin.to_string(),
            version,
            strategy: Some(StrategyKind::Immediate),
            ..Default::default()
        };
        match self.deploy(deploy, face).await {
            Ok(deployed) => {
                let summary = format!("enabled {plugin}: {}", deployed.summary);
                self.record(
                    Some(plugin),
                    None,
                    EventKind::PluginEnabled,
                    summary.clone(),
                    serde_json::json!({"version": deployed.version}),
                );
                Ok(ActionOutcome {
                    summary,
                    kind: "enabled".to_string(),
                    elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
                    ..deployed
                })
            }
            Err(e) => {
                // Nothing half-applied: it stays off, with its record as it was.
                if let Err(store) = self.store().put_disabled(&record) {
                    tracing::error!("{plugin}: could not keep it disabled: {store}");
                }
                self.inner
                    .disabled
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(plugin.to_string(), record);
                self.publish_routes();
                Err(EngineError::rejected(
                    plugin,
                    format!("not enabled: its start failed, so it stays disabled: {e}"),
                ))
            }
        }
    }

    /// An answer about a plugin as a whole (no slot or version of its own).
    pub(super) fn lifecycle_outcome(
        &self,
        plugin: &str,
        kind: &str,
        summary: String,
        started: Instant,
    ) -> ActionOutcome {
        ActionOutcome {
            plugin: plugin.to_string(),
            summary,
            kind: kind.to_string(),
            slot: None,
            version: None,
            weights: self.weights(plugin),
            elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
            gates: Vec::new(),
            hints: Vec::new(),
        }
    }
}
