//! Incidents: the engine opens one when a plugin rolls back on its own, a critical alert
//! fires, a slot gives up restarting (a crash loop) or a deploy fails, and joins the open
//! one of that plugin when more signals come. A person resolves it with a note. When one
//! opens that looks like past ones (same plugin, same signals, similar error lines), the
//! past resolutions come first, ranked, with what was done then: what an on-call wants
//! from PagerDuty's "similar incidents", from the engine that saw both.

use super::{Engine, EngineError, EngineEvent};
use crate::core::event_kind::EventKind;
use crate::core::logs::LogQuery;
use crate::core::store::{AuditResult, IncidentRecord};
use crate::core::types::{Face, Level};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// Error lines of the plugin read into an incident's fingerprint when it opens.
const FINGERPRINT_LINES: usize = 50;
/// How far back those lines go.
const FINGERPRINT_WINDOW: chrono::Duration = chrono::Duration::minutes(5);
/// Resolved incidents compared with a new one.
const COMPARED: usize = 200;
/// Past incidents shown as alike: at most this many, scoring at least `ALIKE`.
const SHOWN_ALIKE: usize = 3;
const ALIKE: f64 = 0.35;

/// `incidents`: of one plugin or all; open ones only unless `all`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentsRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
    /// Resolved ones too.
    #[serde(default)]
    pub all: bool,
}

/// `incident_show`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentRequest {
    pub id: i64,
}

/// `incident_resolve`: closes an open incident with how it was resolved.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    pub id: i64,
    /// How it was resolved, for the next person who sees one like it.
    pub note: String,
}

/// One incident in full: its signals and the actions taken while it was open (from the
/// audit log, with the face of each), the past incidents it looks like, and the Markdown.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IncidentReport {
    pub incident: IncidentRecord,
    pub timeline: Vec<TimelineEntry>,
    pub similar: Vec<SimilarIncident>,
    pub markdown: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub ts: DateTime<Utc>,
    /// `signal` or `action`.
    pub kind: String,
    pub face: Option<Face>,
    pub text: String,
}

/// A resolved incident like this one, and how it ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimilarIncident {
    pub id: i64,
    pub plugin: String,
    /// 0..=1: same plugin, same signals, similar error lines.
    pub score: f64,
    pub title: String,
    pub resolved_at: Option<DateTime<Utc>>,
    pub note: String,
    /// What was done while it was open (`rollback by dashboard`), oldest first.
    pub actions: Vec<String>,
}

impl SimilarIncident {
    /// `resolved: NOTE (then: rollback by dashboard)`: what fixed it, as every face says it.
    pub fn resolution(&self) -> String {
        let then = if self.actions.is_empty() {
            String::new()
        } else {
            format!(" (then: {})", self.actions.join(", "))
        };
        format!("resolved: {}{then}", self.note)
    }
}

/// An open incident as the status shows it, with the past ones it looks like first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpenIncident {
    pub id: i64,
    pub title: String,
    pub opened_at: DateTime<Utc>,
    pub signals: Vec<String>,
    pub similar: Vec<SimilarIncident>,
}

/// The signal an event is, if it opens or joins an incident.
fn signal_of(event: &crate::core::store::EventRecord) -> Option<String> {
    match &event.kind {
        EventKind::AutoRollback => Some("auto_rollback".into()),
        EventKind::SlotFailed => Some("crash_loop".into()),
        EventKind::DeployFailed => Some("deploy_failed".into()),
        EventKind::AlertFiring
            if event.data["severity"]
                .as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case("critical")) =>
        {
            Some(format!(
                "alert:{}",
                event.data["alert"].as_str().unwrap_or("?")
            ))
        }
        _ => None,
    }
}

/// Opens and joins incidents as the signals come.
pub(crate) async fn watch(engine: Engine) {
    engine.refresh_open_incidents();
    let mut events = engine.subscribe();
    loop {
        match events.recv().await {
            Ok(EngineEvent::Event(e)) => {
                if let (Some(signal), Some(plugin)) = (signal_of(&e), e.plugin.as_deref()) {
                    engine.on_signal(plugin, &signal, &e.message);
                }
            }
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!("incidents: {missed} events missed; signals among them are lost");
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

impl Engine {
    fn on_signal(&self, plugin: &str, signal: &str, detail: &str) {
        let result = (|| -> Result<(i64, bool), crate::core::store::StoreError> {
            let store = self.store();
            if let Some(open) = store.open_incident(plugin)? {
                store.add_signal(open.id, signal, detail)?;
                return Ok((open.id, false));
            }
            let fingerprint = self.fingerprint(plugin);
            Ok((
                store.open_new_incident(plugin, signal, detail, &fingerprint)?,
                true,
            ))
        })();
        match result {
            Ok((id, opened)) => {
                if opened {
                    self.record(
                        Some(plugin),
                        None,
                        EventKind::IncidentOpened,
                        format!("incident #{id} opened: {detail}"),
                        serde_json::json!({"incident": id, "signal": signal}),
                    );
                }
                self.refresh_open_incidents();
            }
            Err(e) => {
                tracing::error!("{plugin}: could not record the incident signal {signal}: {e}")
            }
        }
    }

    /// The plugin's recent error lines, normalised: what "similar error lines" compares.
    fn fingerprint(&self, plugin: &str) -> String {
        let lines = self.inner.logs.query(&LogQuery {
            plugin: plugin.to_string(),
            min_level: Some(Level::Error),
            since: Some(Utc::now() - FINGERPRINT_WINDOW),
            limit: FINGERPRINT_LINES,
            ..LogQuery::default()
        });
        let words: BTreeSet<String> = lines.iter().flat_map(|l| words(&l.message)).collect();
        words.into_iter().collect::<Vec<_>>().join(" ")
    }

    /// Rebuilds the status's view of the open incidents (after each signal and resolve).
    fn refresh_open_incidents(&self) {
        let open = match self.store().incidents(None, true, 1000) {
            Ok(open) => open,
            Err(e) => {
                tracing::error!("cannot read the open incidents: {e}");
                return;
            }
        };
        let mut shown = std::collections::BTreeMap::new();
        for incident in open {
            let similar = self.similar_to(&incident).unwrap_or_default();
            shown.insert(
                incident.plugin.clone(),
                OpenIncident {
                    id: incident.id,
                    title: incident.title.clone(),
                    opened_at: incident.opened_at,
                    signals: incident.signals.iter().map(|s| s.signal.clone()).collect(),
                    similar,
                },
            );
        }
        *self
            .inner
            .open_incidents
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = shown;
    }

    /// The open incident of `plugin`, as the status shows it.
    pub(crate) fn open_incident_of(&self, plugin: &str) -> Option<OpenIncident> {
        self.inner
            .open_incidents
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(plugin)
            .cloned()
    }

    /// Resolved incidents like `incident`, most alike first.
    fn similar_to(&self, incident: &IncidentRecord) -> Result<Vec<SimilarIncident>, EngineError> {
        let past = self.store().incidents(None, false, COMPARED)?;
        let mut ranked: Vec<SimilarIncident> = Vec::new();
        for other in past
            .iter()
            .filter(|p| p.id != incident.id && p.resolved_at.is_some())
        {
            let score = similarity(incident, other);
            if score < ALIKE {
                continue;
            }
            ranked.push(SimilarIncident {
                id: other.id,
                plugin: other.plugin.clone(),
                score: (score * 100.0).round() / 100.0,
                title: other.title.clone(),
                resolved_at: other.resolved_at,
                note: other.note.clone(),
                actions: self
                    .actions_during(other)?
                    .into_iter()
                    .map(|a| a.text)
                    .collect(),
            });
        }
        ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.id.cmp(&a.id)));
        ranked.truncate(SHOWN_ALIKE);
        Ok(ranked)
    }

    /// What people (and the engine) did to the plugin while the incident was open.
    fn actions_during(&self, incident: &IncidentRecord) -> Result<Vec<TimelineEntry>, EngineError> {
        let until = incident.resolved_at.unwrap_or_else(Utc::now);
        let audit = self.store().audit(Some(&incident.plugin), 500)?;
        Ok(audit
            .into_iter()
            .filter(|a| a.ts >= incident.opened_at && a.ts <= until)
            .filter(|a| a.result != AuditResult::Error && !a.action.starts_with("incident"))
            .map(|a| TimelineEntry {
                ts: a.ts,
                kind: "action".into(),
                face: Some(a.face),
                text: format!("{} by {}", a.action, a.face),
            })
            .collect())
    }

    /// Incidents newest first.
    pub fn incidents(&self, req: &IncidentsRequest) -> Result<Vec<IncidentRecord>, EngineError> {
        if let Some(plugin) = &req.plugin {
            self.require_plugin(plugin)?;
        }
        Ok(self
            .store()
            .incidents(req.plugin.as_deref(), !req.all, 200)?)
    }

    /// One incident with its timeline, the past ones like it, and its Markdown.
    pub fn incident_report(&self, id: i64) -> Result<IncidentReport, EngineError> {
        let incident = self.store().incident(id)?.ok_or_else(|| {
            EngineError::BadRequest(format!(
                "there is no incident #{id}; `incidents` lists them"
            ))
        })?;
        let mut timeline: Vec<TimelineEntry> = incident
            .signals
            .iter()
            .map(|s| TimelineEntry {
                ts: s.ts,
                kind: "signal".into(),
                face: Some(Face::Engine),
                text: format!("{}: {}", s.signal, s.detail),
            })
            .collect();
        timeline.extend(self.actions_during(&incident)?);
        timeline.sort_by_key(|t| t.ts);
        let similar = self.similar_to(&incident)?;
        let markdown = markdown(&incident, &timeline, &similar);
        Ok(IncidentReport {
            incident,
            timeline,
            similar,
            markdown,
        })
    }

    /// Resolves an open incident with a note; audited.
    pub fn resolve_incident(
        &self,
        req: &ResolveRequest,
        face: Face,
    ) -> Result<IncidentRecord, EngineError> {
        let result = self.resolve_inner(req, face);
        self.audit(
            face,
            "incident_resolve",
            result.as_ref().ok().map(|i| i.plugin.as_str()),
            serde_json::to_value(req).unwrap_or_default(),
            &result,
            |i| format!("incident #{} resolved", i.id),
        );
        result
    }

    fn resolve_inner(
        &self,
        req: &ResolveRequest,
        face: Face,
    ) -> Result<IncidentRecord, EngineError> {
        let note = req.note.trim();
        if note.is_empty() {
            return Err(EngineError::BadRequest(
                "a resolution needs a note saying what fixed it, for the next person who sees one like it".into(),
            ));
        }
        let Some(resolved) = self.store().resolve_incident(req.id, face, note)? else {
            let why = match self.store().incident(req.id)? {
                Some(_) => "is already resolved",
                None => "does not exist",
            };
            return Err(EngineError::BadRequest(format!(
                "incident #{} {why}; nothing changed",
                req.id
            )));
        };
        self.record(
            Some(&resolved.plugin),
            None,
            EventKind::IncidentResolved,
            format!("incident #{} resolved by {face}: {note}", resolved.id),
            serde_json::json!({"incident": resolved.id}),
        );
        self.refresh_open_incidents();
        Ok(resolved)
    }
}

/// How alike two incidents are (0..=1): the same plugin, the same signals (Jaccard), the
/// same words in their error lines (Jaccard).
pub fn similarity(a: &IncidentRecord, b: &IncidentRecord) -> f64 {
    let signals = |i: &IncidentRecord| -> BTreeSet<String> {
        i.signals.iter().map(|s| s.signal.clone()).collect()
    };
    let prints = |i: &IncidentRecord| -> BTreeSet<String> {
        i.fingerprint
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    let same_plugin = if a.plugin == b.plugin { 1.0 } else { 0.0 };
    0.35 * same_plugin
        + 0.35 * jaccard(&signals(a), &signals(b))
        + 0.30 * jaccard(&prints(a), &prints(b))
}

fn jaccard(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 0.0;
    }
    a.intersection(b).count() as f64 / a.union(b).count() as f64
}

/// The words of an error line that say what went wrong: lower case, numbers, ids and
/// addresses dropped (they differ between two incidents of the same cause).
fn words(line: &str) -> impl Iterator<Item = String> + '_ {
    line.split(|c: char| !c.is_alphanumeric() && c != '_')
        .filter(|w| w.len() >= 3 && !w.chars().any(|c| c.is_ascii_digit()))
        .map(str::to_lowercase)
}

fn markdown(i: &IncidentRecord, timeline: &[TimelineEntry], similar: &[SimilarIncident]) -> String {
    let stamp = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    let mut md = String::new();
    let _ = writeln!(md, "# Incident #{} — {}\n", i.id, i.plugin);
    let _ = writeln!(md, "- **Opened:** {} — {}", stamp(i.opened_at), i.title);
    match (i.resolved_at, i.resolved_by) {
        (Some(at), by) => {
            let _ = writeln!(
                md,
                "- **Resolved:** {}{}: {}",
                stamp(at),
                by.map(|f| format!(" by {f}")).unwrap_or_default(),
                i.note
            );
        }
        _ => {
            let _ = writeln!(md, "- **Status:** open");
        }
    }
    let _ = writeln!(md, "\n## Timeline\n");
    for t in timeline {
        let _ = writeln!(md, "- {} · {} · {}", stamp(t.ts), t.kind, t.text);
    }
    if !similar.is_empty() {
        let _ = writeln!(md, "\n## Looks like\n");
        for s in similar {
            let _ = writeln!(
                md,
                "- #{} ({}, {:.0} % alike): {} — {}",
                s.id,
                s.plugin,
                s.score * 100.0,
                s.title,
                s.resolution()
            );
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::store::SignalRecord;

    fn incident(plugin: &str, signals: &[&str], fingerprint: &str) -> IncidentRecord {
        IncidentRecord {
            id: 1,
            plugin: plugin.into(),
            title: String::new(),
            opened_at: Utc::now(),
            resolved_at: None,
            resolved_by: None,
            note: String::new(),
            fingerprint: fingerprint.into(),
            signals: signals
                .iter()
                .map(|s| SignalRecord {
                    ts: Utc::now(),
                    signal: s.to_string(),
                    detail: String::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn the_same_plugin_signal_and_errors_rank_above_a_different_cause() {
        let now = incident("shop", &["auto_rollback"], "connection database refused");
        let same = incident(
            "shop",
            &["auto_rollback"],
            "connection database refused timeout",
        );
        let other_cause = incident("shop", &["crash_loop"], "out memory");
        let other_plugin = incident("web", &["crash_loop"], "disk full");
        assert!(similarity(&now, &same) > 0.9, "{}", similarity(&now, &same));
        assert!(similarity(&now, &same) > similarity(&now, &other_cause));
        assert!(similarity(&now, &other_plugin) < ALIKE);
    }

    #[test]
    fn error_words_drop_what_differs_between_two_of_the_same() {
        let a: BTreeSet<String> = words("ERROR db 10.0.0.7:5432 refused (req 8f3a2c1)").collect();
        let b: BTreeSet<String> = words("error DB 10.0.0.9:5432 refused (req 77ab91e)").collect();
        assert_eq!(a, b);
    }
}
