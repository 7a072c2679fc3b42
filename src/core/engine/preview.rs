//! Preview slots: `naap deploy PLUGIN --version V --preview [--ttl 2h]` runs a version in an
//! extra slot next to blue and green, for people to try before it takes any traffic.
//!
//! Design. A preview is `SlotName::Preview(id)`, a third kind of slot name rather than a
//! parallel set of types: the runtime, log lines, metrics, health checks and the engine's
//! slot map are keyed by `SlotName` and so carry previews (and tag them with their id)
//! without a change. What differs is kept at the few places where blue/green matter:
//! - weights: a preview is never weighted (`apply_weights` callers only name blue/green,
//!   `set_traffic` refuses previews, the router never counts them as eligible), so only a
//!   request with `x-naap-slot: preview-<id>` reaches one;
//! - persistence: the `slots` table admits only blue and green, so previews are stored in
//!   `previews` with their expiry (`persist_slots` routes them) and `reconcile` adopts or
//!   restarts them after an engine restart, keeping the expiry;
//! - lifetime: `expires_at` on the slot state; the monitor tick stops expired previews, and
//!   `naap preview stop PLUGIN ID` stops one early. A stopped preview is removed entirely.

use super::deploy::DeployTarget;
use super::report::ActionOutcome;
use super::{Engine, EngineError};
use crate::core::event_kind::EventKind;
use crate::core::hint::Hint;
use crate::core::types::{Face, PreviewId, SlotName};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How long a preview lives when `--ttl` is not given.
pub const DEFAULT_TTL: Duration = Duration::from_secs(2 * 3600);
/// The longest TTL: previews are for trying a version, not for running it.
pub const MAX_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// The shortest TTL; short enough for tests and demos.
pub const MIN_TTL: Duration = Duration::from_secs(1);

/// Stop a preview slot before its TTL.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StopPreviewRequest {
    pub plugin: String,
    /// `3fa91c` or `preview-3fa91c`.
    pub id: String,
}

/// Parses a preview's `ttl` (`90s`, `2h`, `3d`); `None` is the default.
pub fn parse_ttl(text: Option<&str>) -> Result<Duration, String> {
    let Some(text) = text else {
        return Ok(DEFAULT_TTL);
    };
    let ttl = humantime::parse_duration(text.trim())
        .map_err(|e| format!("ttl `{text}` is not a duration ({e}); write e.g. 30m, 2h or 3d"))?;
    if ttl < MIN_TTL {
        return Err(format!(
            "ttl `{text}` is too short: a preview lives at least 1s"
        ));
    }
    if ttl > MAX_TTL {
        return Err(format!(
            "ttl `{text}` is too long: a preview lives at most 7d; deploy the version for real to keep it"
        ));
    }
    Ok(ttl)
}

/// The previews whose deadline has come, given the time now (injected for tests).
pub fn expired_previews(
    previews: impl IntoIterator<Item = (SlotName, DateTime<Utc>)>,
    now: DateTime<Utc>,
) -> Vec<SlotName> {
    previews
        .into_iter()
        .filter(|(slot, expires_at)| slot.is_preview() && *expires_at <= now)
        .map(|(slot, _)| slot)
        .collect()
}

impl Engine {
    /// Starts a version in a new preview slot: gates (cached), start, wait for health. No
    /// weight changes; the preview is reachable only by its header.
    /// `to.slot` comes from `new_preview_slot`.
    pub(crate) async fn deploy_preview(
        &self,
        to: DeployTarget<'_>,
        ttl: Duration,
        face: Face,
    ) -> Result<ActionOutcome, EngineError> {
        let started = Instant::now();
        let DeployTarget {
            plugin,
            plugin_dir,
            version,
            spec,
            slot,
            no_cache,
        } = to;
        self.record(
            Some(plugin),
            Some(slot),
            EventKind::PreviewStarted,
            format!("starting {slot} of {plugin} {version} (by {face})"),
            serde_json::json!({"version": version, "ttl_s": ttl.as_secs()}),
        );
        // Nothing cancels a preview's start: a rollback concerns blue and green.
        let (_keep, mut cancel) = watch::channel(false);
        let result = async {
            // The version's spec is stored first, so a restarted engine can run the preview.
            let manifest_path = self
                .workspace()
                .plugin(plugin)
                .map(|m| m.manifest_path.clone())
                .unwrap_or_default();
            let spec_json = serde_json::to_string(spec).map_err(|e| {
                EngineError::rejected(plugin, format!("cannot serialise the run spec: {e}"))
            })?;
            {
                let store = self.store();
                store.upsert_plugin(plugin, &manifest_path)?;
                store.put_version(plugin, version, &spec_json)?;
            }
            let gates = self
                .run_gates(
                    plugin,
                    plugin_dir,
                    spec,
                    slot,
                    version,
                    no_cache,
                    &mut cancel,
                )
                .await?;
            self.launch_slot(plugin, slot, version, spec, None, None)
                .await?;
            // At the store's precision, so the expiry reads back the same after a restart.
            let expires_at = crate::core::store::now()
                + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(2));
            self.set_preview_expiry(plugin, slot, expires_at)?;
            self.wait_serving(plugin, slot, spec.run.startup_timeout, &mut cancel)
                .await?;
            Ok::<_, EngineError>((gates, expires_at))
        }
        .await;
        match result {
            Ok((gates, expires_at)) => {
                let summary = format!(
                    "{plugin} {version} runs in {slot} until {}; reach it with the header `x-naap-slot: {slot}`",
                    expires_at.format("%Y-%m-%d %H:%M:%S UTC"),
                );
                let hints = slot
                    .preview_id()
                    .map(|id| Hint::StopPreview {
                        plugin: plugin.to_string(),
                        id: id.to_string(),
                    })
                    .into_iter()
                    .collect();
                self.record(
                    Some(plugin),
                    Some(slot),
                    EventKind::PreviewReady,
                    summary.clone(),
                    serde_json::json!({"version": version, "expires_at": expires_at}),
                );
                Ok(ActionOutcome {
                    plugin: plugin.to_string(),
                    summary,
                    kind: "preview".to_string(),
                    slot: Some(slot),
                    version: Some(version.to_string()),
                    weights: self.weights(plugin),
                    elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
                    gates,
                    hints,
                })
            }
            Err(e) => {
                self.remove_preview(plugin, slot, "its start failed").await;
                Err(e)
            }
        }
    }

    /// Stops a preview before its TTL.
    pub async fn stop_preview(
        &self,
        req: StopPreviewRequest,
        face: Face,
    ) -> Result<ActionOutcome, EngineError> {
        let args = serde_json::to_value(&req).unwrap_or_default();
        let result = self.stop_preview_inner(&req, face).await;
        self.audit(
            face,
            "preview_stop",
            Some(&req.plugin),
            args,
            &result,
            |o| o.summary.clone(),
        );
        result
    }

    async fn stop_preview_inner(
        &self,
        req: &StopPreviewRequest,
        face: Face,
    ) -> Result<ActionOutcome, EngineError> {
        let started = Instant::now();
        let plugin = req.plugin.as_str();
        self.require_plugin(plugin)?;
        let id: PreviewId = req.id.parse().map_err(|e| {
            EngineError::rejected(plugin, e).hint(Hint::Status {
                plugin: Some(plugin.to_string()),
            })
        })?;
        let slot = SlotName::Preview(id);
        let version = self
            .lock_plugins()
            .get(plugin)
            .and_then(|p| p.slot(slot))
            .map(|s| s.version.clone().unwrap_or_default());
        let Some(version) = version else {
            return Err(EngineError::rejected(
                plugin,
                format!(
                    "{plugin} has no {slot}; its live previews: {}",
                    self.live_previews(plugin)
                ),
            ));
        };
        self.remove_preview(plugin, slot, &format!("stopped by {face}"))
            .await;
        Ok(ActionOutcome {
            plugin: plugin.to_string(),
            summary: format!("stopped {slot} of {plugin} {version}"),
            kind: "preview-stop".to_string(),
            slot: Some(slot),
            version: Some(version),
            weights: self.weights(plugin),
            elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
            gates: Vec::new(),
            hints: Vec::new(),
        })
    }

    /// "preview-3fa91c (2.0.0, until 14:05:00 UTC), …" or "none".
    pub(crate) fn live_previews(&self, plugin: &str) -> String {
        let plugins = self.lock_plugins();
        let list: Vec<String> = plugins
            .get(plugin)
            .map(|p| {
                p.slots
                    .iter()
                    .filter(|(slot, _)| slot.is_preview())
                    .map(|(slot, s)| {
                        format!(
                            "{slot} ({}, until {})",
                            s.version.as_deref().unwrap_or("?"),
                            s.expires_at
                                .map(|t| t.format("%H:%M:%S UTC").to_string())
                                .unwrap_or_default()
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        if list.is_empty() {
            "none".to_string()
        } else {
            list.join(", ")
        }
    }

    /// Stops the previews whose TTL has run out (called by the monitor tick).
    pub(crate) async fn expire_previews(&self, now: DateTime<Utc>) {
        let due: Vec<(String, SlotName)> = {
            let plugins = self.lock_plugins();
            plugins
                .iter()
                .flat_map(|(name, p)| {
                    let deadlines = p
                        .slots
                        .iter()
                        .filter_map(|(slot, s)| s.expires_at.map(|t| (*slot, t)));
                    expired_previews(deadlines, now)
                        .into_iter()
                        .map(move |slot| (name.clone(), slot))
                })
                .collect()
        };
        for (plugin, slot) in due {
            if let Some(s) = self
                .lock_plugins()
                .get_mut(&plugin)
                .and_then(|p| p.slots.get_mut(&slot))
            {
                s.expires_at = None;
            }
            // In the background: a preview drains before it stops, and the monitor that
            // calls this must not wait for it. Its expiry is cleared at once, so the next
            // tick does not remove it twice.
            let engine = self.clone();
            tokio::spawn(async move {
                engine
                    .remove_preview(&plugin, slot, "its TTL expired")
                    .await;
            });
        }
    }

    /// Stops a preview's process and forgets it: state, routes and store.
    pub(crate) async fn remove_preview(&self, plugin: &str, slot: SlotName, why: &str) {
        if !slot.is_preview() {
            return;
        }
        // Without an expiry the stop is not written back to `previews`.
        if let Some(s) = self
            .lock_plugins()
            .get_mut(plugin)
            .and_then(|p| p.slots.get_mut(&slot))
        {
            s.expires_at = None;
        }
        self.stop_slot(plugin, slot, why).await;
        if let Some(p) = self.lock_plugins().get_mut(plugin) {
            p.slots.remove(&slot);
        }
        self.inner.metrics.remove_slot(plugin, slot);
        let deleted = self.store().delete_preview(plugin, &slot.as_str());
        if let Err(e) = deleted {
            tracing::error!("could not forget {plugin}/{slot}: {e}");
        }
        self.publish_routes();
        self.record(
            Some(plugin),
            Some(slot),
            EventKind::PreviewRemoved,
            format!("{slot} of {plugin} removed: {why}"),
            serde_json::json!({"reason": why}),
        );
    }

    /// Sets (or restores) a preview's deadline and persists the preview.
    pub(crate) fn set_preview_expiry(
        &self,
        plugin: &str,
        slot: SlotName,
        expires_at: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        if let Some(s) = self
            .lock_plugins()
            .get_mut(plugin)
            .and_then(|p| p.slots.get_mut(&slot))
        {
            s.expires_at = Some(expires_at);
        }
        self.persist_slots(plugin, &[slot])
    }

    /// A preview slot with an id no slot of the plugin uses, reserved in the state.
    pub(crate) fn new_preview_slot(&self, plugin: &str) -> SlotName {
        let mut plugins = self.lock_plugins();
        let state = plugins.entry(plugin.to_string()).or_default();
        loop {
            let slot = SlotName::Preview(PreviewId(fastrand::u32(0..=PreviewId::MAX)));
            if state.slot(slot).is_none() {
                state.slot_mut(slot);
                return slot;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ttls_default_parse_and_are_bounded() {
        assert_eq!(parse_ttl(None), Ok(DEFAULT_TTL));
        assert_eq!(parse_ttl(Some("3s")), Ok(Duration::from_secs(3)));
        assert_eq!(parse_ttl(Some(" 2h ")), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_ttl(Some("7d")), Ok(MAX_TTL));
        for (bad, says) in [
            ("soon", "not a duration"),
            ("", "not a duration"),
            ("500ms", "too short"),
            ("8d", "too long"),
            ("-1h", "not a duration"),
        ] {
            let err = parse_ttl(Some(bad)).expect_err(bad);
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn only_previews_past_their_deadline_expire() {
        let now = Utc
            .with_ymd_and_hms(2026, 11, 22, 8, 0, 0)
            .single()
            .expect("time");
        let a = SlotName::Preview(PreviewId(0xa));
        let b = SlotName::Preview(PreviewId(0xb));
        let c = SlotName::Preview(PreviewId(0xc));
        let second = chrono::Duration::seconds(1);
        let previews = [
            (a, now - second),
            (b, now),
            (c, now + second),
            // Blue never expires, whatever a stray deadline says.
            (SlotName::Blue, now - second),
        ];
        assert_eq!(expired_previews(previews, now), vec![a, b]);
        assert_eq!(expired_previews(previews, now - second * 2), vec![]);
        assert_eq!(expired_previews(previews, now + second), vec![a, b, c]);
    }

    #[test]
    fn preview_ids_print_and_parse() {
        let slot = SlotName::Preview(PreviewId(0x3fa91c));
        assert_eq!(slot.to_string(), "preview-3fa91c");
        assert_eq!("preview-3fa91c".parse::<SlotName>(), Ok(slot));
        assert_eq!("3fa91c".parse::<PreviewId>(), Ok(PreviewId(0x3fa91c)));
        assert_eq!(
            serde_json::to_value(slot).expect("json"),
            serde_json::json!("preview-3fa91c")
        );
        assert!("preview-zz".parse::<SlotName>().is_err());
        assert!("preview-1234567".parse::<SlotName>().is_err());
        assert_eq!(
            SlotName::Preview(PreviewId(1)).to_string(),
            "preview-000001"
        );
    }
}
