//! What a notification says: an Alertmanager-style JSON payload (webhook body, command
//! stdin), the `NAAP_ALERT_*` environment of a command, and the line the `log` channel
//! writes. Pure, so the shapes are tested without a network.

use crate::core::types::SlotName;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// One notification to deliver on each of `channels`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Notification {
    pub plugin: String,
    pub rule: String,
    /// `firing` (also for repeats) or `resolved`.
    pub status: &'static str,
    /// The transition behind it: `firing`, `repeat`, `resolved`.
    pub kind: &'static str,
    pub severity: String,
    pub labels: BTreeMap<String, String>,
    /// The numbers behind it, e.g. `error_rate 0.5 > 0.05 on green for 2s`.
    pub value: String,
    /// The manifest's `summary`, or the condition when it has none.
    pub summary: String,
    pub condition: String,
    pub slots: Vec<SlotName>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub channels: Vec<String>,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Notification {
    /// `plugin/rule`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.plugin, self.rule)
    }

    /// Alertmanager's labels plus naap's: `alertname`, `plugin`, `severity`, then the
    /// manifest's own (which cannot override the first three).
    fn all_labels(&self) -> BTreeMap<String, String> {
        let mut labels = self.labels.clone();
        labels.insert("alertname".into(), self.rule.clone());
        labels.insert("plugin".into(), self.plugin.clone());
        labels.insert("severity".into(), self.severity.clone());
        labels
    }

    /// The body posted to webhooks and piped to commands, shaped like Alertmanager's
    /// webhook payload (version 4) so existing receivers can read it.
    pub fn payload(&self) -> Value {
        let labels = self.all_labels();
        let slots: Vec<String> = self.slots.iter().map(|s| s.to_string()).collect();
        json!({
            "version": "4",
            "receiver": "naap",
            "status": self.status,
            "groupKey": self.id(),
            "generator": format!("naap {}", env!("CARGO_PKG_VERSION")),
            "commonLabels": labels,
            "alerts": [{
                "status": self.status,
                "labels": labels,
                "annotations": {
                    "summary": self.summary,
                    "value": self.value,
                    "condition": self.condition,
                },
                "startsAt": rfc3339(self.starts_at),
                // Alertmanager's "not ended" marker.
                "endsAt": self.ends_at.map_or_else(|| "0001-01-01T00:00:00Z".to_string(), rfc3339),
                "plugin": self.plugin,
                "slots": slots,
            }],
            "naap": {
                "plugin": self.plugin,
                "alert": self.rule,
                "kind": self.kind,
                "severity": self.severity,
                "slots": slots,
                "value": self.value,
            },
        })
    }

    /// The environment a `command:` channel runs with.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let slots: Vec<String> = self.slots.iter().map(|s| s.to_string()).collect();
        vec![
            ("NAAP_ALERT_STATUS", self.status.to_string()),
            ("NAAP_ALERT_KIND", self.kind.to_string()),
            ("NAAP_ALERT_NAME", self.rule.clone()),
            ("NAAP_ALERT_PLUGIN", self.plugin.clone()),
            ("NAAP_ALERT_SEVERITY", self.severity.clone()),
            ("NAAP_ALERT_SLOTS", slots.join(",")),
            ("NAAP_ALERT_VALUE", self.value.clone()),
            ("NAAP_ALERT_SUMMARY", self.summary.clone()),
        ]
    }

    /// The line the `log` channel writes, e.g.
    /// `alert web/errors firing (critical): error_rate 0.5 > 0.05 on green`.
    pub fn log_line(&self) -> String {
        let mut line = format!(
            "alert {} {} ({}): {}",
            self.id(),
            self.kind,
            self.severity,
            self.value
        );
        if self.summary != self.condition {
            line.push_str(" — ");
            line.push_str(&self.summary);
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Notification {
        Notification {
            plugin: "web".into(),
            rule: "errors".into(),
            status: "firing",
            kind: "firing",
            severity: "critical".into(),
            labels: [
                ("team".to_string(), "payments".to_string()),
                ("plugin".to_string(), "spoofed".to_string()),
            ]
            .into(),
            value: "error_rate 0.5 > 0.05 on green for 2s".into(),
            summary: "checkout fails".into(),
            condition: "error_rate > 0.05 for 2s".into(),
            slots: vec![SlotName::Green],
            starts_at: DateTime::from_timestamp(1_700_000_000, 0).expect("time"),
            ends_at: None,
            channels: vec!["log".into()],
        }
    }

    #[test]
    fn payload_is_alertmanager_shaped() {
        let p = sample().payload();
        assert_eq!(p["status"], "firing");
        assert_eq!(p["version"], "4");
        let alert = &p["alerts"][0];
        assert_eq!(alert["labels"]["alertname"], "errors");
        assert_eq!(alert["labels"]["plugin"], "web", "naap's labels win");
        assert_eq!(alert["labels"]["team"], "payments");
        assert_eq!(alert["labels"]["severity"], "critical");
        assert_eq!(alert["annotations"]["summary"], "checkout fails");
        assert_eq!(alert["startsAt"], "2023-11-14T22:13:20.000Z");
        assert_eq!(alert["endsAt"], "0001-01-01T00:00:00Z");
        assert_eq!(alert["slots"][0], "green");
        assert!(
            p["generator"]
                .as_str()
                .is_some_and(|g| g.starts_with("naap "))
        );
    }

    #[test]
    fn resolved_payload_carries_its_end() {
        let mut n = sample();
        n.status = "resolved";
        n.kind = "resolved";
        n.ends_at = Some(n.starts_at + chrono::Duration::seconds(90));
        let p = n.payload();
        assert_eq!(p["status"], "resolved");
        assert_eq!(p["alerts"][0]["endsAt"], "2023-11-14T22:14:50.000Z");
    }

    #[test]
    fn command_env_and_log_line_name_the_alert() {
        let n = sample();
        let env: BTreeMap<_, _> = n.env().into_iter().collect();
        assert_eq!(env["NAAP_ALERT_NAME"], "errors");
        assert_eq!(env["NAAP_ALERT_STATUS"], "firing");
        assert_eq!(env["NAAP_ALERT_SLOTS"], "green");
        assert_eq!(
            n.log_line(),
            "alert web/errors firing (critical): error_rate 0.5 > 0.05 on green for 2s — checkout fails"
        );
    }
}
