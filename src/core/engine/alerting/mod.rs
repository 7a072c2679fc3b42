//! Alert rules, live: every evaluation tick builds each plugin's sample from the slot state
//! and metrics, feeds the pure [`AlertEngine`], and acts on its transitions — persist,
//! record an event, notify (through the non-blocking notifier in `delivery`), and roll the
//! plugin back when a `rollback = true` rule starts firing.

mod commands;
pub(crate) mod delivery;
mod payload;
mod sample;

pub use commands::{AckRequest, AlertRow, AlertsReport, SilenceRequest};
pub(crate) use sample::note_restart;

use super::Engine;
use crate::core::alerts::{
    AlertEngine, AlertId, AlertRuleSpec, AlertTransition, Severity, TransitionKind, parse,
};
use crate::core::event_kind::EventKind;
use crate::core::store::{AckRecord, NewAlertTransition};
use crate::core::types::SlotName;
use crate::core::workspace::Workspace;
use chrono::{DateTime, Utc};
use payload::Notification;
use sample::{SlotInput, build_sample, matching_slots};
use std::collections::{BTreeMap, HashMap};

/// The name of the alert the automatic rollback guard fires.
pub const AUTO_ROLLBACK_ALERT: &str = "auto-rollback";

/// One plugin's rules, compiled from its manifest.
#[derive(Default)]
pub struct PluginRules {
    pub specs: Vec<AlertRuleSpec>,
    /// The manifest's `summary` of each rule, by index.
    pub summaries: Vec<Option<String>>,
    /// Rule name → index, so acting on a transition never scans the rules.
    pub index: HashMap<String, usize>,
}

impl PluginRules {
    /// Rules without manifest summaries (benchmarks, tests).
    pub fn new(specs: Vec<AlertRuleSpec>) -> Self {
        let summaries = vec![None; specs.len()];
        let mut rules = PluginRules {
            specs,
            summaries,
            index: HashMap::new(),
        };
        rules.reindex();
        rules
    }

    fn reindex(&mut self) {
        self.index = self
            .specs
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), i))
            .collect();
    }
}

/// Everything the engine keeps about alerts, behind one short-held mutex. Public so a
/// benchmark can drive exactly the engine's evaluation path ([`AlertsState::evaluate`]).
#[derive(Default)]
pub struct AlertsState {
    pub engine: AlertEngine,
    pub rules: BTreeMap<String, PluginRules>,
    /// When each firing alert started, for `startsAt` of its notifications.
    pub firing_since: HashMap<AlertId, DateTime<Utc>>,
    /// Open acknowledgements (also restored from the store after a restart).
    pub acks: HashMap<AlertId, AckRecord>,
}

/// What the engine does with one transition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    /// The event recorded, if any (repeats are only kept in the transition log).
    pub event: Option<EventKind>,
    pub notify: bool,
    pub rollback: bool,
}

/// Maps a transition to actions. Pending is recorded but never paged (Alertmanager does
/// not notify pending alerts); a silence mutes notifications but never a rollback.
pub(crate) fn plan(t: &AlertTransition) -> Plan {
    let (event, notify) = match t.kind {
        TransitionKind::Pending => (Some(EventKind::AlertPending), false),
        TransitionKind::Firing => (Some(EventKind::AlertFiring), !t.silenced),
        TransitionKind::Repeat => (None, !t.silenced),
        TransitionKind::Resolved => (Some(EventKind::AlertResolved), !t.silenced),
    };
    Plan {
        event,
        notify,
        rollback: t.kind == TransitionKind::Firing && t.rollback,
    }
}

pub(crate) fn kind_text(kind: TransitionKind) -> &'static str {
    match kind {
        TransitionKind::Pending => "pending",
        TransitionKind::Firing => "firing",
        TransitionKind::Repeat => "repeat",
        TransitionKind::Resolved => "resolved",
    }
}

/// Compiles the `[[alerts]]` of every plugin. Conditions were checked when the workspace
/// loaded; one that still fails to parse is skipped with an error rather than guessed at.
pub(crate) fn compile_rules(ws: &Workspace) -> BTreeMap<String, PluginRules> {
    let mut out = BTreeMap::new();
    for plugin in &ws.plugins {
        let mut rules = PluginRules::default();
        for alert in &plugin.alerts {
            let rule = match parse(&alert.condition) {
                Ok(rule) => rule,
                Err(e) => {
                    tracing::error!("{}: alert `{}` skipped: {e}", plugin.name, alert.name);
                    continue;
                }
            };
            let mut spec = AlertRuleSpec::new(
                alert.name.clone(),
                rule,
                alert.severity.parse().unwrap_or(Severity::Warning),
            );
            spec.labels = alert.labels.clone();
            spec.channels = alert.channels.clone();
            spec.rollback = alert.rollback;
            spec.repeat_interval = alert.repeat_interval;
            rules.specs.push(spec);
            rules.summaries.push(alert.summary.clone());
        }
        rules.reindex();
        out.insert(plugin.name.clone(), rules);
    }
    out
}

/// A transition with what its notification needs, gathered under the alerts lock.
pub struct Planned {
    pub transition: AlertTransition,
    /// The slots the rule holds on by itself.
    pub slots: Vec<SlotName>,
    pub summary: String,
    pub condition: String,
    pub starts_at: DateTime<Utc>,
}

impl AlertsState {
    /// One evaluation tick over `samples` (one per plugin) at `now`: the state machine
    /// steps every rule, and each transition is completed with what its notification
    /// needs. Cost is linear in the number of rules; only transitions allocate.
    pub fn evaluate(
        &mut self,
        samples: &[(String, crate::core::alerts::PluginSample)],
        now: DateTime<Utc>,
    ) -> Vec<Planned> {
        let AlertsState {
            engine,
            rules,
            firing_since,
            acks,
        } = self;
        let mut planned = Vec::new();
        for (plugin, sample) in samples {
            let Some(plugin_rules) = rules.get(plugin) else {
                continue;
            };
            for t in engine.evaluate(plugin, &plugin_rules.specs, sample, now) {
                let index = plugin_rules.index.get(&t.id.rule).copied();
                let spec = index.and_then(|i| plugin_rules.specs.get(i));
                let condition = spec
                    .map(|s| s.rule.source().to_string())
                    .unwrap_or_default();
                let summary = index
                    .and_then(|i| plugin_rules.summaries.get(i).cloned().flatten())
                    .unwrap_or_else(|| condition.clone());
                let slots = spec
                    .map(|s| matching_slots(&s.rule, sample, now))
                    .unwrap_or_default();
                match t.kind {
                    TransitionKind::Firing => {
                        firing_since.insert(t.id.clone(), now);
                        // Acknowledged before an engine restart: the ack still holds.
                        if acks.contains_key(&t.id) {
                            let _ = engine.ack(&t.id);
                        }
                    }
                    TransitionKind::Resolved => {
                        acks.remove(&t.id);
                    }
                    _ => {}
                }
                let starts_at = match t.kind {
                    TransitionKind::Resolved => firing_since.remove(&t.id).unwrap_or(now),
                    _ => firing_since.get(&t.id).copied().unwrap_or(now),
                };
                planned.push(Planned {
                    transition: t,
                    slots,
                    summary,
                    condition,
                    starts_at,
                });
            }
        }
        planned
    }
}

impl Engine {
    pub(crate) fn lock_alerts(&self) -> std::sync::MutexGuard<'_, AlertsState> {
        self.inner.alerts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Compiles the rules of the current workspace. Rules whose name is unchanged keep
    /// their state (pending timers, firing, acks); removed ones resolve on the next tick.
    pub(crate) fn reload_alert_rules(&self) {
        let rules = compile_rules(&self.workspace());
        let mut alerts = self.lock_alerts();
        let gone: Vec<String> = alerts
            .rules
            .keys()
            .filter(|p| !rules.contains_key(*p))
            .cloned()
            .collect();
        for plugin in gone {
            alerts.engine.forget_plugin(&plugin);
        }
        alerts.rules = rules;
    }

    /// Loads the silences and acknowledgements that outlived the previous engine.
    pub(crate) fn restore_alert_state(&self, now: DateTime<Utc>) {
        let (silences, acks) = {
            let store = self.store();
            (store.active_silences(now), store.open_acks())
        };
        let mut alerts = self.lock_alerts();
        match silences {
            Ok(silences) => {
                for s in silences {
                    alerts.engine.add_silence(commands::to_silence(&s));
                }
            }
            Err(e) => tracing::error!("could not restore alert silences: {e}"),
        }
        match acks {
            Ok(acks) => {
                for ack in acks {
                    alerts
                        .acks
                        .insert(AlertId::new(ack.plugin.clone(), ack.rule.clone()), ack);
                }
            }
            Err(e) => tracing::error!("could not restore alert acknowledgements: {e}"),
        }
    }

    /// One evaluation of every rule of every plugin at `now`.
    pub(crate) fn evaluate_alerts(&self, now: DateTime<Utc>) {
        let plugins_with_rules: Vec<String> = {
            let alerts = self.lock_alerts();
            alerts
                .rules
                .iter()
                .filter(|(_, r)| !r.specs.is_empty())
                .map(|(p, _)| p.clone())
                .collect()
        };
        if plugins_with_rules.is_empty() {
            return;
        }
        let samples: Vec<(String, crate::core::alerts::PluginSample)> = {
            let plugins = self.lock_plugins();
            plugins_with_rules
                .into_iter()
                .map(|name| {
                    let sample = self.sample_of(&plugins, &name);
                    (name, sample)
                })
                .collect()
        };
        let planned = self.lock_alerts().evaluate(&samples, now);
        for p in planned {
            self.act_on(p);
        }
    }

    /// What alert rules (and a runbook's `expect`) read of one plugin now.
    pub(crate) fn sample_of(
        &self,
        plugins: &BTreeMap<String, super::state::PluginState>,
        name: &str,
    ) -> crate::core::alerts::PluginSample {
        match plugins.get(name) {
            Some(state) => {
                let inputs: Vec<SlotInput> = state
                    .slots
                    .iter()
                    .map(|(slot, s)| SlotInput {
                        slot: *slot,
                        weight: s.weight,
                        process_state: s.process_state.0,
                        health: s.health.0,
                        cpu_percent: s.cpu_percent,
                        rss_bytes: s.rss_bytes,
                        metrics: self.inner.metrics.slot(name, *slot).snapshot(),
                    })
                    .collect();
                build_sample(&inputs, &state.restart_times)
            }
            None => Default::default(),
        }
    }

    fn act_on(&self, p: Planned) {
        let t = &p.transition;
        let what = plan(t);
        let kind = kind_text(t.kind);
        let new = NewAlertTransition {
            ts: t.at,
            plugin: t.id.plugin.clone(),
            rule: t.id.rule.clone(),
            kind: kind.to_string(),
            severity: t.severity.to_string(),
            summary: t.summary.clone(),
            silenced: t.silenced,
            labels: t.labels.clone(),
        };
        {
            let store = self.store();
            if let Err(e) = store.append_alert_transition(&new) {
                tracing::error!("could not record alert transition {}: {e}", t.id);
            }
            if t.kind == TransitionKind::Resolved
                && let Err(e) = store.clear_acks(&t.id.plugin, &t.id.rule, t.at)
            {
                tracing::error!("could not clear acknowledgements of {}: {e}", t.id);
            }
        }
        let slot = (p.slots.len() == 1).then(|| p.slots[0]);
        if let Some(event) = what.event {
            let muted = if t.silenced { " (silenced)" } else { "" };
            self.record(
                Some(&t.id.plugin),
                slot,
                event,
                format!("alert {} {kind}{muted}: {}", t.id.rule, t.summary),
                serde_json::json!({
                    "alert": t.id.rule,
                    "severity": t.severity,
                    "summary": t.summary,
                    "labels": t.labels,
                    "silenced": t.silenced,
                    "slots": p.slots,
                }),
            );
        }
        if what.notify {
            self.notify(Notification {
                plugin: t.id.plugin.clone(),
                rule: t.id.rule.clone(),
                status: if t.kind == TransitionKind::Resolved {
                    "resolved"
                } else {
                    "firing"
                },
                kind,
                severity: t.severity.to_string(),
                labels: t.labels.clone(),
                value: t.summary.clone(),
                summary: p.summary,
                condition: p.condition,
                slots: p.slots.clone(),
                starts_at: p.starts_at,
                ends_at: (t.kind == TransitionKind::Resolved).then_some(t.at),
                channels: t.channels.clone(),
            });
        }
        if what.rollback {
            self.start_automatic_rollback(
                &t.id.plugin,
                slot,
                format!("alert {} fired: {}", t.id.rule, t.summary),
            );
        }
    }

    /// Hands a notification to the notifier without waiting: a full queue drops it and
    /// records the drop, because evaluation must never stall behind a slow receiver.
    fn notify(&self, n: Notification) {
        if n.channels.iter().any(|c| c == "log") {
            delivery::deliver_log(self, &n);
        }
        if !delivery::needs_notifier(&n) {
            return;
        }
        if let Err(e) = self.inner.notify_tx.try_send(n) {
            let n = match e {
                tokio::sync::mpsc::error::TrySendError::Full(n)
                | tokio::sync::mpsc::error::TrySendError::Closed(n) => n,
            };
            self.record(
                Some(&n.plugin),
                None,
                EventKind::AlertNotifyFailed,
                format!(
                    "alert {} ({}) dropped: the notification queue is full",
                    n.id(),
                    n.kind
                ),
                serde_json::json!({"alert": n.rule, "kind": n.kind, "error": "queue full"}),
            );
        }
    }

    /// The alert the rollback guard fires when it rolls a plugin back: critical, through
    /// every channel the plugin's rules use (or `log` when it has none), unless silenced.
    pub(crate) fn fire_builtin_alert(&self, plugin: &str, slot: Option<SlotName>, summary: &str) {
        let now = Utc::now();
        let (channels, silenced) = {
            let alerts = self.lock_alerts();
            let mut channels: Vec<String> = Vec::new();
            if let Some(rules) = alerts.rules.get(plugin) {
                for c in rules.specs.iter().flat_map(|s| &s.channels) {
                    if !channels.contains(c) {
                        channels.push(c.clone());
                    }
                }
            }
            if channels.is_empty() {
                channels.push("log".to_string());
            }
            let silenced = alerts.engine.is_silenced(plugin, AUTO_ROLLBACK_ALERT, now);
            (channels, silenced)
        };
        let transition = AlertTransition {
            kind: TransitionKind::Firing,
            id: AlertId::new(plugin, AUTO_ROLLBACK_ALERT),
            severity: Severity::Critical,
            labels: BTreeMap::new(),
            channels,
            summary: summary.to_string(),
            rollback: false,
            silenced,
            at: now,
        };
        self.act_on(Planned {
            transition,
            slots: slot.into_iter().collect(),
            summary: "the automatic rollback guard rolled the plugin back".to_string(),
            condition: "[rollback] thresholds".to_string(),
            starts_at: now,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transition(kind: TransitionKind, silenced: bool, rollback: bool) -> AlertTransition {
        AlertTransition {
            kind,
            id: AlertId::new("web", "errors"),
            severity: Severity::Critical,
            labels: BTreeMap::new(),
            channels: vec!["log".into()],
            summary: String::new(),
            rollback,
            silenced,
            at: DateTime::from_timestamp(0, 0).expect("time"),
        }
    }

    #[test]
    fn transitions_map_to_events_notifications_and_rollbacks() {
        use TransitionKind::*;
        let p = |kind, silenced, rollback| plan(&transition(kind, silenced, rollback));
        assert_eq!(
            p(Pending, false, false),
            Plan {
                event: Some(EventKind::AlertPending),
                notify: false,
                rollback: false
            }
        );
        assert_eq!(
            p(Firing, false, true),
            Plan {
                event: Some(EventKind::AlertFiring),
                notify: true,
                rollback: true
            }
        );
        // A silence mutes the page, never the safety action.
        assert_eq!(
            p(Firing, true, true),
            Plan {
                event: Some(EventKind::AlertFiring),
                notify: false,
                rollback: true
            }
        );
        assert_eq!(
            p(Repeat, false, false),
            Plan {
                event: None,
                notify: true,
                rollback: false
            }
        );
        assert_eq!(
            p(Resolved, false, true),
            Plan {
                event: Some(EventKind::AlertResolved),
                notify: true,
                rollback: false
            }
        );
        assert!(!p(Resolved, true, false).notify);
    }

    fn sample_with_errors(rate: f64) -> crate::core::alerts::PluginSample {
        use crate::core::alerts::{PluginSample, SlotRole, SlotSample};
        PluginSample {
            slots: vec![SlotSample {
                slot: SlotName::Blue,
                role: SlotRole::Live,
                error_rate: rate,
                rps: 10.0,
                p50_ms: 1.0,
                p95_ms: 2.0,
                p99_ms: 3.0,
                cpu_percent: 1.0,
                rss_bytes: 1 << 20,
                health: crate::core::types::Health::Healthy,
                has_process: true,
            }],
            restart_times: Vec::new(),
        }
    }

    /// The benchmark's shape: 100 plugins × 100 rules, stepped tick by tick.
    #[test]
    fn ten_thousand_rules_step_together_and_only_transitions_are_planned() {
        let mut state = AlertsState::default();
        for p in 0..100 {
            let specs = (0..100)
                .map(|r| {
                    let rule = parse("error_rate > 0.05 for 1s").expect("rule");
                    AlertRuleSpec::new(format!("r{r}"), rule, Severity::Warning)
                })
                .collect();
            state.rules.insert(format!("p{p}"), PluginRules::new(specs));
        }
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).expect("time");
        let secs = |s| t0 + chrono::Duration::seconds(s);
        let bad: Vec<_> = (0..100)
            .map(|p| (format!("p{p}"), sample_with_errors(0.5)))
            .collect();
        let good: Vec<_> = (0..100)
            .map(|p| (format!("p{p}"), sample_with_errors(0.0)))
            .collect();
        assert!(state.evaluate(&good, secs(0)).is_empty());
        let pending = state.evaluate(&bad, secs(1));
        assert_eq!(pending.len(), 10_000);
        assert!(
            state.evaluate(&bad, secs(1)).is_empty(),
            "steady: nothing planned"
        );
        let firing = state.evaluate(&bad, secs(2));
        assert_eq!(firing.len(), 10_000);
        assert!(
            firing
                .iter()
                .all(|p| p.transition.kind == TransitionKind::Firing
                    && p.starts_at == secs(2)
                    && p.slots == [SlotName::Blue])
        );
        let resolved = state.evaluate(&good, secs(3));
        assert_eq!(resolved.len(), 10_000);
        assert!(resolved.iter().all(|p| p.starts_at == secs(2)));
        assert!(state.firing_since.is_empty());
    }

    #[test]
    fn an_ack_restored_from_the_store_holds_when_the_alert_fires_again() {
        let mut state = AlertsState::default();
        let rule = parse("error_rate > 0.05").expect("rule");
        state.rules.insert(
            "web".into(),
            PluginRules::new(vec![AlertRuleSpec::new("errors", rule, Severity::Critical)]),
        );
        let id = AlertId::new("web", "errors");
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).expect("time");
        state.acks.insert(
            id.clone(),
            AckRecord {
                plugin: "web".into(),
                rule: "errors".into(),
                author: "ana".into(),
                at: t0,
            },
        );
        let bad = [("web".to_string(), sample_with_errors(0.5))];
        let fired = state.evaluate(&bad, t0);
        assert_eq!(fired.len(), 1);
        assert!(state.engine.list(t0)[0].acked);
        // Acked: no repeats, however long it fires.
        let later = t0 + chrono::Duration::days(1);
        assert!(state.evaluate(&bad, later).is_empty());
        // Resolving clears the ack.
        let good = [("web".to_string(), sample_with_errors(0.0))];
        assert_eq!(state.evaluate(&good, later).len(), 1);
        assert!(state.acks.is_empty());
    }

    #[test]
    fn rules_compile_from_the_manifest_with_their_options() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("naap.toml"),
            "[[plugins]]\npath = \"web\"\n",
        )
        .expect("write");
        std::fs::create_dir(dir.path().join("web")).expect("mkdir");
        std::fs::write(
            dir.path().join("web/plugin.toml"),
            "[plugin]\nname = \"web\"\nversion = \"1\"\nroute = \"/web\"\n[run]\ncommand = \"x\"\n\
             [[alerts]]\nname = \"errors\"\ncondition = \"error_rate > 5% for 2s\"\nseverity = \"critical\"\n\
             rollback = true\nlabels = { team = \"payments\" }\nrepeat_interval = \"1h\"\nsummary = \"checkout fails\"\n\
             [[alerts]]\nname = \"slow\"\ncondition = \"p99_ms > 800\"\n",
        )
        .expect("write");
        let ws = crate::core::workspace::load(dir.path()).expect("load");
        let rules = compile_rules(&ws);
        let web = &rules["web"];
        assert_eq!(web.specs.len(), 2);
        let errors = &web.specs[0];
        assert_eq!(errors.severity, Severity::Critical);
        assert!(errors.rollback);
        assert_eq!(errors.labels["team"], "payments");
        assert_eq!(errors.repeat_interval, std::time::Duration::from_secs(3600));
        assert_eq!(errors.rule.hold_for(), std::time::Duration::from_secs(2));
        assert_eq!(web.summaries[0].as_deref(), Some("checkout fails"));
        assert_eq!(web.specs[1].severity, Severity::Warning);
        assert_eq!(web.specs[1].channels, ["log"]);
    }
}
