//! `naap alerts list | silence | unsilence | ack`: what every face can do with alerts.
//! Silences and acks are written to the store before they take effect, so an engine
//! restart never un-silences a pager.

use super::{AUTO_ROLLBACK_ALERT, AlertsState};
use crate::core::alerts::{
    AlertError, AlertId, AlertState, AlertView, Severity, Silence, SilenceId,
};
use crate::core::engine::{Engine, EngineError};
use crate::core::event_kind::EventKind;
use crate::core::hint::{Hint, Param};
use crate::core::store::{AckRecord, AlertTransitionRecord, NewSilence, SilenceRecord};
use crate::core::types::Face;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Longest silence: a forgotten one must not mute a plugin forever.
pub const MAX_SILENCE: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// One alert as `naap alerts list` shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertRow {
    pub plugin: String,
    pub rule: String,
    /// `pending`, `firing` or `resolved`.
    pub state: String,
    /// When it entered that state.
    pub since: DateTime<Utc>,
    pub severity: Severity,
    /// The numbers behind the last transition.
    pub summary: String,
    pub labels: BTreeMap<String, String>,
    pub rollback: bool,
    pub acked_by: Option<String>,
    pub silenced_until: Option<DateTime<Utc>>,
    pub silence_id: Option<i64>,
}

/// `naap alerts list`: alerts, active silences and recent transitions.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AlertsReport {
    pub alerts: Vec<AlertRow>,
    pub silences: Vec<SilenceRecord>,
    /// The last transitions, oldest first.
    pub history: Vec<AlertTransitionRecord>,
}

/// Mute `plugin` (every rule, or `rule`) for `duration` (humantime, e.g. `2h`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SilenceRequest {
    pub plugin: String,
    /// One rule's alerts only (default: every rule of the plugin).
    #[serde(default)]
    pub rule: Option<String>,
    /// How long: `30m`, `2h`, `1d`.
    pub duration: String,
    /// Why, for whoever is on call next.
    pub comment: String,
    /// Who silences it.
    pub author: String,
}

/// Stop the repeats of a firing alert.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AckRequest {
    pub plugin: String,
    /// The firing rule.
    pub rule: String,
    /// Who acknowledges it.
    pub author: String,
}

pub(super) fn to_silence(s: &SilenceRecord) -> Silence {
    Silence {
        id: SilenceId(u64::try_from(s.id).unwrap_or_default()),
        plugin: s.plugin.clone(),
        rule: s.rule.clone(),
        until: s.until,
        by: s.author.clone(),
        comment: s.comment.clone(),
    }
}

fn row(view: AlertView, alerts: &AlertsState) -> AlertRow {
    let (state, since) = match view.state {
        AlertState::Pending { since } => ("pending", since),
        AlertState::Firing { since, .. } => ("firing", since),
        AlertState::Resolved { at } => ("resolved", at),
        AlertState::Inactive => ("inactive", Utc::now()),
    };
    let spec = alerts
        .rules
        .get(&view.id.plugin)
        .and_then(|r| r.specs.iter().find(|s| s.name == view.id.rule));
    AlertRow {
        state: state.to_string(),
        since,
        severity: view.severity,
        summary: view.summary,
        labels: spec.map(|s| s.labels.clone()).unwrap_or_default(),
        rollback: spec.is_some_and(|s| s.rollback),
        acked_by: alerts.acks.get(&view.id).map(|a| a.author.clone()),
        silenced_until: view.silenced_until,
        silence_id: view.silence.and_then(|s| i64::try_from(s.0).ok()),
        plugin: view.id.plugin,
        rule: view.id.rule,
    }
}

fn invalid(message: impl Into<String>) -> EngineError {
    EngineError::Alert {
        message: message.into(),
        hints: Vec::new(),
    }
}

impl Engine {
    /// Alerts that are not inactive (of one plugin, or all), most severe first.
    pub(crate) fn alert_rows(&self, plugin: Option<&str>, now: DateTime<Utc>) -> Vec<AlertRow> {
        let alerts = self.lock_alerts();
        alerts
            .engine
            .list(now)
            .into_iter()
            .filter(|v| plugin.is_none_or(|p| p == v.id.plugin))
            .map(|v| row(v, &alerts))
            .collect()
    }

    /// `naap alerts list [PLUGIN]`.
    pub fn alerts(&self, plugin: Option<&str>, limit: usize) -> Result<AlertsReport, EngineError> {
        if let Some(p) = plugin {
            self.require_plugin(p)?;
        }
        let now = Utc::now();
        let mut alerts = self.alert_rows(plugin, now);
        // The built-in rollback alert is held by the last rollout's outcome, not by a rule.
        let names: Vec<String> = self
            .workspace()
            .plugins
            .iter()
            .map(|p| p.name.clone())
            .filter(|name| plugin.is_none_or(|p| p == name))
            .collect();
        for name in names {
            if let Some(row) = self
                .last_rollout(&name, now)?
                .and_then(|last| self.rollback_alert(&name, &last))
                && !alerts
                    .iter()
                    .any(|a| a.plugin == row.plugin && a.rule == row.rule)
            {
                alerts.insert(0, row);
            }
        }
        let store = self.store();
        let silences = store
            .active_silences(now)?
            .into_iter()
            .filter(|s| plugin.is_none_or(|p| s.plugin.as_deref().is_none_or(|sp| sp == p)))
            .collect();
        let history = store.alert_transitions(plugin, limit)?;
        Ok(AlertsReport {
            alerts,
            silences,
            history,
        })
    }

    /// Checks that `rule` is a rule of `plugin` (or the built-in rollback alert).
    fn require_rule(&self, plugin: &str, rule: &str) -> Result<(), EngineError> {
        self.require_plugin(plugin)?;
        if rule == AUTO_ROLLBACK_ALERT {
            return Ok(());
        }
        let alerts = self.lock_alerts();
        let names: Vec<&str> = alerts
            .rules
            .get(plugin)
            .map(|r| r.specs.iter().map(|s| s.name.as_str()).collect())
            .unwrap_or_default();
        if names.contains(&rule) {
            return Ok(());
        }
        let known = if names.is_empty() {
            format!("it has no [[alerts]] (only the built-in `{AUTO_ROLLBACK_ALERT}`)")
        } else {
            format!("its alerts: {}, {AUTO_ROLLBACK_ALERT}", names.join(", "))
        };
        Err(invalid(format!("{plugin} has no alert `{rule}`; {known}")))
    }

    /// `naap alerts silence PLUGIN[/RULE] --for D --comment WHY`.
    pub async fn silence(
        &self,
        req: SilenceRequest,
        face: Face,
    ) -> Result<SilenceRecord, EngineError> {
        let args = serde_json::to_value(&req).unwrap_or_default();
        let result = self.silence_inner(&req);
        self.audit(
            face,
            "alert_silence",
            Some(&req.plugin),
            args,
            &result,
            |s| format!("silence #{} until {}", s.id, s.until.to_rfc3339()),
        );
        result
    }

    fn silence_inner(&self, req: &SilenceRequest) -> Result<SilenceRecord, EngineError> {
        match &req.rule {
            Some(rule) => self.require_rule(&req.plugin, rule)?,
            None => self.require_plugin(&req.plugin)?,
        }
        let duration = humantime::parse_duration(req.duration.trim()).map_err(|e| {
            invalid(format!(
                "`{}` is not a duration ({e}); write e.g. 30m, 2h or 1d",
                req.duration
            ))
        })?;
        if duration.is_zero() || duration > MAX_SILENCE {
            return Err(invalid(format!(
                "a silence lasts more than 0s and at most 30d, not `{}`",
                req.duration
            )));
        }
        if req.comment.trim().is_empty() {
            return Err(invalid("a silence needs a comment saying why")
                .hint(Hint::set(Param::Comment, "known issue, fix deploying")));
        }
        if req.author.trim().is_empty() {
            return Err(invalid("a silence needs an author").hint(Hint::set(Param::Author, "ana")));
        }
        let span = chrono::Duration::from_std(duration).map_err(|e| invalid(e.to_string()))?;
        let new = NewSilence {
            plugin: Some(req.plugin.clone()),
            rule: req.rule.clone().unwrap_or_else(|| "*".to_string()),
            until: crate::core::store::now() + span,
            author: req.author.trim().to_string(),
            comment: req.comment.trim().to_string(),
        };
        let id = self.store().add_silence(&new)?;
        let record = SilenceRecord {
            id,
            plugin: new.plugin,
            rule: new.rule,
            until: new.until,
            author: new.author,
            comment: new.comment,
            created_at: Utc::now(),
            expired_at: None,
        };
        self.lock_alerts().engine.add_silence(to_silence(&record));
        self.record(
            Some(&req.plugin),
            None,
            EventKind::AlertSilenced,
            format!(
                "alerts {}/{} silenced #{id} until {} by {}: {}",
                req.plugin,
                record.rule,
                record.until.format("%Y-%m-%d %H:%M:%S UTC"),
                record.author,
                record.comment
            ),
            serde_json::json!({"silence": id, "rule": record.rule, "until": record.until}),
        );
        Ok(record)
    }

    /// `naap alerts unsilence ID`: ends a silence now; returns it as it ended.
    pub async fn unsilence(&self, id: i64, face: Face) -> Result<SilenceRecord, EngineError> {
        let result = self.unsilence_inner(id);
        let plugin = result.as_ref().ok().and_then(|s| s.plugin.clone());
        self.audit(
            face,
            "alert_unsilence",
            plugin.as_deref(),
            serde_json::json!({"id": id}),
            &result,
            |_| format!("silence #{id} expired"),
        );
        result
    }

    fn unsilence_inner(&self, id: i64) -> Result<SilenceRecord, EngineError> {
        let now = crate::core::store::now();
        let unknown = || {
            invalid(format!(
                "no active silence #{id}; it may have expired. The alerts list has the active silences"
            ))
            .hint(Hint::Alerts)
        };
        let mut silence = {
            let store = self.store();
            let found = store
                .active_silences(now)?
                .into_iter()
                .find(|s| s.id == id)
                .ok_or_else(unknown)?;
            if !store.expire_silence(id, now)? {
                return Err(unknown());
            }
            found
        };
        silence.expired_at = Some(now);
        let _ = self
            .lock_alerts()
            .engine
            .unsilence(SilenceId(u64::try_from(id).unwrap_or_default()));
        self.record(
            silence.plugin.as_deref(),
            None,
            EventKind::AlertUnsilenced,
            format!("silence #{id} ({}) expired by hand", silence.rule),
            serde_json::json!({"silence": id, "rule": silence.rule}),
        );
        Ok(silence)
    }

    /// `naap alerts ack PLUGIN/RULE`: no more repeats until it resolves.
    pub async fn ack(&self, req: AckRequest, face: Face) -> Result<AckRecord, EngineError> {
        let args = serde_json::to_value(&req).unwrap_or_default();
        let result = self.ack_inner(&req);
        self.audit(face, "alert_ack", Some(&req.plugin), args, &result, |a| {
            format!("{}/{} acknowledged by {}", a.plugin, a.rule, a.author)
        });
        result
    }

    fn ack_inner(&self, req: &AckRequest) -> Result<AckRecord, EngineError> {
        self.require_rule(&req.plugin, &req.rule)?;
        if req.author.trim().is_empty() {
            return Err(
                invalid("an acknowledgement needs an author").hint(Hint::set(Param::Author, "ana"))
            );
        }
        let id = AlertId::new(req.plugin.clone(), req.rule.clone());
        let firing = self
            .alert_rows(Some(&req.plugin), Utc::now())
            .iter()
            .any(|r| r.rule == req.rule && r.state == "firing");
        if !firing {
            return Err(invalid(format!(
                "alert {id} is not firing, so there is nothing to acknowledge"
            )));
        }
        let ack = AckRecord {
            plugin: req.plugin.clone(),
            rule: req.rule.clone(),
            author: req.author.trim().to_string(),
            at: crate::core::store::now(),
        };
        self.store().add_ack(&ack)?;
        {
            let mut alerts = self.lock_alerts();
            alerts.engine.ack(&id).map_err(|e| {
                let unknown = matches!(e, AlertError::Unknown(_));
                let error = invalid(e.to_string());
                if unknown {
                    error.hint(Hint::Alerts)
                } else {
                    error
                }
            })?;
            alerts.acks.insert(id.clone(), ack.clone());
        }
        self.record(
            Some(&req.plugin),
            None,
            EventKind::AlertAcked,
            format!("alert {} acknowledged by {}", req.rule, ack.author),
            serde_json::json!({"alert": req.rule, "by": ack.author}),
        );
        Ok(ack)
    }
}
