//! The alert state machine per (plugin, rule): pending → firing → resolved, with silences,
//! acknowledgements and repeat notifications. Time is injected.

use super::rule::{Rule, Timers, held_long_enough};
use super::sample::PluginSample;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// How often a firing, unacknowledged alert is re-sent when nothing sets another interval.
pub const DEFAULT_REPEAT_INTERVAL: Duration = Duration::from_secs(4 * 3600);

/// How urgent an alert is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        })
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "info" => Ok(Severity::Info),
            "warning" | "warn" => Ok(Severity::Warning),
            "critical" | "crit" => Ok(Severity::Critical),
            other => Err(format!(
                "unknown severity `{other}`: use info, warning or critical"
            )),
        }
    }
}

/// One alert rule of a plugin, ready to evaluate.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertRuleSpec {
    pub name: String,
    pub rule: Rule,
    pub severity: Severity,
    pub labels: BTreeMap<String, String>,
    /// `log`, `webhook:URL`, `command:CMD`; delivery is the caller's job.
    pub channels: Vec<String>,
    /// A Firing transition of this rule asks the engine to roll back.
    pub rollback: bool,
    /// Re-notify a firing, unacknowledged alert this often; zero never repeats.
    pub repeat_interval: Duration,
}

impl AlertRuleSpec {
    /// A rule with no labels or channels, no rollback and the default repeat interval.
    pub fn new(name: impl Into<String>, rule: Rule, severity: Severity) -> Self {
        AlertRuleSpec {
            name: name.into(),
            rule,
            severity,
            labels: BTreeMap::new(),
            channels: Vec::new(),
            rollback: false,
            repeat_interval: DEFAULT_REPEAT_INTERVAL,
        }
    }
}

/// Names one alert: `plugin/rule`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AlertId {
    pub plugin: String,
    pub rule: String,
}

impl AlertId {
    /// The alert of `rule` in `plugin`.
    pub fn new(plugin: impl Into<String>, rule: impl Into<String>) -> Self {
        AlertId {
            plugin: plugin.into(),
            rule: rule.into(),
        }
    }
}

impl fmt::Display for AlertId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.plugin, self.rule)
    }
}

impl FromStr for AlertId {
    type Err = AlertError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('/') {
            Some((p, r)) if !p.is_empty() && !r.is_empty() => Ok(AlertId::new(p, r)),
            _ => Err(AlertError::BadId(s.to_string())),
        }
    }
}

/// Where one alert stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum AlertState {
    Inactive,
    /// The condition holds but its `for` has not elapsed.
    Pending {
        since: DateTime<Utc>,
    },
    /// `last_notified` is None while every notification so far was silenced.
    Firing {
        since: DateTime<Utc>,
        last_notified: Option<DateTime<Utc>>,
    },
    Resolved {
        at: DateTime<Utc>,
    },
}

/// What changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransitionKind {
    Pending,
    Firing,
    Resolved,
    /// Still firing; re-notify (repeat interval elapsed, or a silence ended).
    Repeat,
}

/// A state change to record and, unless `silenced`, to notify on the rule's channels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertTransition {
    pub kind: TransitionKind,
    pub id: AlertId,
    pub severity: Severity,
    pub labels: BTreeMap<String, String>,
    pub channels: Vec<String>,
    /// The numbers behind it, e.g. `error_rate 0.12 > 0.05 on green for 30s`.
    pub summary: String,
    /// Firing of a `rollback = true` rule. Silences do not clear this: they mute
    /// notifications, not safety actions.
    pub rollback: bool,
    /// A silence matched: record it, send nothing.
    pub silenced: bool,
    pub at: DateTime<Utc>,
}

/// Names one silence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SilenceId(pub u64);

impl fmt::Display for SilenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Mutes notifications of matching alerts until `until`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    pub id: SilenceId,
    /// None matches every plugin.
    pub plugin: Option<String>,
    /// A rule name, or `*` for every rule.
    pub rule: String,
    pub until: DateTime<Utc>,
    pub by: String,
    pub comment: String,
}

impl Silence {
    fn matches(&self, plugin: &str, rule: &str) -> bool {
        self.plugin.as_deref().is_none_or(|p| p == plugin)
            && (self.rule == "*" || self.rule == rule)
    }
}

/// One alert as `naap alerts` shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertView {
    pub id: AlertId,
    pub state: AlertState,
    /// Seconds in the current state.
    pub age_secs: i64,
    pub severity: Severity,
    /// The summary of the last transition.
    pub summary: String,
    pub acked: bool,
    pub silenced_until: Option<DateTime<Utc>>,
    pub silence: Option<SilenceId>,
}

/// What went wrong with an alert command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertError {
    #[error("no alert `{0}`; the alerts list has the alert ids")]
    Unknown(AlertId),
    #[error("alert `{0}` is not firing, so there is nothing to acknowledge")]
    NotFiring(AlertId),
    #[error("no active silence {0}: it may have expired; the alerts list has the active silences")]
    UnknownSilence(SilenceId),
    #[error("`{0}` is not an alert id: write it as PLUGIN/RULE, e.g. `web/errors`")]
    BadId(String),
}

struct Entry {
    rule: String,
    severity: Severity,
    state: AlertState,
    /// Nested `for` timers of the rule.
    timers: Timers,
    /// When the timed condition started holding, for the rule-level `for`.
    holding_since: Option<DateTime<Utc>>,
    acked: bool,
    summary: String,
}

/// Every alert's state, silences and acknowledgements.
#[derive(Default)]
pub struct AlertEngine {
    plugins: HashMap<String, Vec<Entry>>,
    silences: Vec<Silence>,
    next_silence: u64,
}

impl AlertEngine {
    /// An engine with no alerts and no silences.
    pub fn new() -> Self {
        Self::default()
    }

    /// Evaluates `rules` of `plugin` against `sample` at `now`. Allocates only for new rules
    /// and for the transitions it returns. Rules no longer listed are dropped (resolving them
    /// if they were firing).
    pub fn evaluate(
        &mut self,
        plugin: &str,
        rules: &[AlertRuleSpec],
        sample: &PluginSample,
        now: DateTime<Utc>,
    ) -> Vec<AlertTransition> {
        self.silences.retain(|s| now < s.until);
        let mut out = Vec::new();
        if !self.plugins.contains_key(plugin) {
            self.plugins.insert(plugin.to_string(), Vec::new());
        }
        let silences = &self.silences;
        let Some(entries) = self.plugins.get_mut(plugin) else {
            return out; // just inserted; unreachable
        };
        let silenced = |rule: &str| silences.iter().any(|s| s.matches(plugin, rule));

        let aligned = entries.len() == rules.len()
            && entries.iter().zip(rules).all(|(e, r)| e.rule == r.name);
        if !aligned {
            // The rule list changed (first run, manifest reload): line the entries up with
            // the rules once, so every later tick finds rule i at entry i in O(1).
            realign(plugin, entries, rules, &silenced, now, &mut out);
        }

        for (idx, spec) in rules.iter().enumerate() {
            let entry = &mut entries[idx];
            entry.severity = spec.severity;
            let is_silenced = silenced(&spec.name);
            if let Some(kind) = step(entry, spec, sample, now, is_silenced) {
                let summary = spec.rule.summary(sample, now);
                entry.summary.clone_from(&summary);
                out.push(AlertTransition {
                    kind,
                    id: AlertId::new(plugin, spec.name.clone()),
                    severity: spec.severity,
                    labels: spec.labels.clone(),
                    channels: spec.channels.clone(),
                    summary,
                    rollback: spec.rollback && kind == TransitionKind::Firing,
                    silenced: is_silenced,
                    at: now,
                });
            }
        }
        out
    }

    /// Forgets every alert of a removed plugin.
    pub fn forget_plugin(&mut self, plugin: &str) {
        self.plugins.remove(plugin);
    }

    /// Mutes `rule` (`*` for all) of `plugin` (None for all) until `until`.
    pub fn silence(
        &mut self,
        plugin: Option<&str>,
        rule: &str,
        until: DateTime<Utc>,
        by: &str,
        comment: &str,
    ) -> SilenceId {
        self.next_silence += 1;
        let id = SilenceId(self.next_silence);
        self.silences.push(Silence {
            id,
            plugin: plugin.map(str::to_string),
            rule: rule.to_string(),
            until,
            by: by.to_string(),
            comment: comment.to_string(),
        });
        id
    }

    /// Adds a silence that already has an id (one restored from, or first written to, the
    /// store); later [`AlertEngine::silence`] ids continue above it.
    pub fn add_silence(&mut self, silence: Silence) {
        self.next_silence = self.next_silence.max(silence.id.0);
        self.silences.retain(|s| s.id != silence.id);
        self.silences.push(silence);
    }

    /// Whether a silence active at `now` mutes `plugin/rule`.
    pub fn is_silenced(&self, plugin: &str, rule: &str, now: DateTime<Utc>) -> bool {
        self.silences
            .iter()
            .any(|s| now < s.until && s.matches(plugin, rule))
    }

    /// Ends a silence before its time.
    pub fn unsilence(&mut self, id: SilenceId) -> Result<(), AlertError> {
        let before = self.silences.len();
        self.silences.retain(|s| s.id != id);
        if self.silences.len() == before {
            return Err(AlertError::UnknownSilence(id));
        }
        Ok(())
    }

    /// The silences still active at `now`.
    pub fn silences(&self, now: DateTime<Utc>) -> Vec<Silence> {
        self.silences
            .iter()
            .filter(|s| now < s.until)
            .cloned()
            .collect()
    }

    /// Stops repeats of a firing alert until it resolves and fires again.
    pub fn ack(&mut self, id: &AlertId) -> Result<(), AlertError> {
        let entry = self
            .plugins
            .get_mut(&id.plugin)
            .and_then(|es| es.iter_mut().find(|e| e.rule == id.rule))
            .ok_or_else(|| AlertError::Unknown(id.clone()))?;
        if !matches!(entry.state, AlertState::Firing { .. }) {
            return Err(AlertError::NotFiring(id.clone()));
        }
        entry.acked = true;
        Ok(())
    }

    /// Every alert that is not inactive: most severe first, then by id.
    pub fn list(&self, now: DateTime<Utc>) -> Vec<AlertView> {
        let mut views: Vec<AlertView> = self
            .plugins
            .iter()
            .flat_map(|(plugin, entries)| entries.iter().map(move |e| (plugin, e)))
            .filter(|(_, e)| e.state != AlertState::Inactive)
            .map(|(plugin, e)| {
                let since = match e.state {
                    AlertState::Pending { since } | AlertState::Firing { since, .. } => since,
                    AlertState::Resolved { at } => at,
                    AlertState::Inactive => now,
                };
                let silence = self
                    .silences
                    .iter()
                    .filter(|s| now < s.until && s.matches(plugin, &e.rule))
                    .max_by_key(|s| s.until);
                AlertView {
                    id: AlertId::new(plugin.clone(), e.rule.clone()),
                    state: e.state,
                    age_secs: (now - since).num_seconds().max(0),
                    severity: e.severity,
                    summary: e.summary.clone(),
                    acked: e.acked,
                    silenced_until: silence.map(|s| s.until),
                    silence: silence.map(|s| s.id),
                }
            })
            .collect();
        views.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
        views
    }
}

/// Reorders `entries` to match `rules` by name: kept entries keep their state, new rules
/// start inactive, and removed ones are dropped (reporting a Resolved if they were firing).
fn realign(
    plugin: &str,
    entries: &mut Vec<Entry>,
    rules: &[AlertRuleSpec],
    silenced: &dyn Fn(&str) -> bool,
    now: DateTime<Utc>,
    out: &mut Vec<AlertTransition>,
) {
    let mut old: HashMap<String, Entry> = entries.drain(..).map(|e| (e.rule.clone(), e)).collect();
    for spec in rules {
        let entry = old.remove(&spec.name).unwrap_or_else(|| Entry {
            rule: spec.name.clone(),
            severity: spec.severity,
            state: AlertState::Inactive,
            timers: Vec::new(),
            holding_since: None,
            acked: false,
            summary: String::new(),
        });
        entries.push(entry);
    }
    let mut removed: Vec<Entry> = old.into_values().collect();
    removed.sort_by(|a, b| a.rule.cmp(&b.rule));
    for e in removed {
        if matches!(e.state, AlertState::Firing { .. }) {
            out.push(AlertTransition {
                kind: TransitionKind::Resolved,
                id: AlertId::new(plugin, e.rule.clone()),
                severity: e.severity,
                labels: BTreeMap::new(),
                channels: Vec::new(),
                summary: "the rule was removed from the manifest".into(),
                rollback: false,
                silenced: silenced(&e.rule),
                at: now,
            });
        }
    }
}

/// Advances one alert; returns the transition to report, if any.
fn step(
    entry: &mut Entry,
    spec: &AlertRuleSpec,
    sample: &PluginSample,
    now: DateTime<Utc>,
    silenced: bool,
) -> Option<TransitionKind> {
    let rule = &spec.rule;
    if entry.timers.len() != rule.timer_count() {
        // The rule changed shape (manifest reloaded): restart its nested timers.
        entry.timers.clear();
        entry.timers.resize(rule.timer_count(), None);
    }
    let instant = rule.holds(sample, now);
    let timed = rule.holds_timed(sample, now, &mut entry.timers);
    if timed {
        entry.holding_since.get_or_insert(now);
    } else {
        entry.holding_since = None;
    }
    let fire = entry
        .holding_since
        .is_some_and(|since| held_long_enough(since, now, rule.hold_for()));
    let notified = if silenced { None } else { Some(now) };

    match entry.state {
        AlertState::Inactive | AlertState::Resolved { .. } | AlertState::Pending { .. } if fire => {
            entry.state = AlertState::Firing {
                since: now,
                last_notified: notified,
            };
            entry.acked = false;
            Some(TransitionKind::Firing)
        }
        AlertState::Inactive | AlertState::Resolved { .. } if instant || timed => {
            entry.state = AlertState::Pending { since: now };
            Some(TransitionKind::Pending)
        }
        AlertState::Pending { .. } if !(instant || timed) => {
            // Flapped back before `for` elapsed: Alertmanager drops pending alerts silently.
            entry.state = AlertState::Inactive;
            None
        }
        AlertState::Firing { .. } if !fire => {
            entry.state = AlertState::Resolved { at: now };
            entry.acked = false;
            Some(TransitionKind::Resolved)
        }
        AlertState::Firing {
            since,
            last_notified,
        } => {
            if entry.acked || silenced {
                return None;
            }
            let due = match last_notified {
                // Every earlier notification was silenced: the first real one goes out now.
                None => true,
                Some(at) => {
                    !spec.repeat_interval.is_zero()
                        && held_long_enough(at, now, spec.repeat_interval)
                }
            };
            if !due {
                return None;
            }
            entry.state = AlertState::Firing {
                since,
                last_notified: Some(now),
            };
            Some(TransitionKind::Repeat)
        }
        _ => None,
    }
}
