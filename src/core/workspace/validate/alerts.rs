//! `[[alerts]]`: names, severities, channels, and conditions parsed by the alert engine's
//! own parser, so a broken rule is reported at its column before anything runs.

use serde_spanned::Spanned;
use std::collections::BTreeMap;
use std::time::Duration;

use crate::core::alerts::DEFAULT_REPEAT_INTERVAL;

/// The built-in alert the rollback guard fires (`core::engine::alerting`).
const AUTO_ROLLBACK_ALERT: &str = "auto-rollback";

use crate::core::workspace::model::AlertSpec;
use crate::core::workspace::problem::Report;
use crate::core::workspace::raw::RawAlert;
use crate::core::workspace::reader::{Field, Span};
use crate::core::workspace::suggest;

const DEFAULT_SEVERITY: &str = "warning";
/// Shorter repeats than this are a typo or a pager storm, never intended.
const MIN_REPEAT: Duration = Duration::from_secs(1);
const SEVERITIES: [&str; 3] = ["info", "warning", "critical"];

/// `[[alerts]]`: every entry checked; conditions parsed with `core::alerts::parse`.
pub(super) fn alerts(raw: &[RawAlert], r: &mut Report) -> Vec<AlertSpec> {
    let mut out = Vec::with_capacity(raw.len());
    let mut seen: Vec<(String, String)> = Vec::new();
    for a in raw {
        let field = |key: &str| format!("{}.{key}", a.field);
        let name = required_text(r, &a.name, &a.span, &field("name"), "name = \"errors\"");
        if let Some(n) = &name
            && n.get_ref() == AUTO_ROLLBACK_ALERT
        {
            r.at(
                &n.span(),
                field("name"),
                format!("`{AUTO_ROLLBACK_ALERT}` is the name of naap's built-in alert"),
                "the automatic rollback guard fires it through this plugin's channels; give this alert another name, e.g. name = \"rollback-errors\"",
            );
        } else if let Some(n) = &name {
            if let Some((_, first)) = seen.iter().find(|(s, _)| s == n.get_ref()) {
                r.at(
                    &n.span(),
                    field("name"),
                    format!(
                        "duplicate alert name `{}` (also used by {first})",
                        n.get_ref()
                    ),
                    "give each alert of a plugin its own name",
                );
            } else {
                seen.push((n.get_ref().clone(), a.field.clone()));
            }
        }
        let condition = required_text(
            r,
            &a.condition,
            &a.span,
            &field("condition"),
            "condition = \"error_rate > 0.05 for 30s\"",
        );
        if let Some(c) = &condition {
            condition_problem(r, c, &field("condition"));
        }
        let severity = match &a.severity {
            Field::Present(s) if SEVERITIES.contains(&s.get_ref().as_str()) => s.get_ref().clone(),
            Field::Present(s) => {
                r.at(
                    &s.span(),
                    field("severity"),
                    format!("unknown severity `{}`", s.get_ref()),
                    suggest::hint(s.get_ref(), &SEVERITIES),
                );
                DEFAULT_SEVERITY.to_string()
            }
            _ => DEFAULT_SEVERITY.to_string(),
        };
        let channels = match &a.channels {
            Field::Present(list) => channels(r, list, &field("channels")),
            _ => vec!["log".to_string()],
        };
        let labels = match &a.labels {
            Field::Present(pairs) => labels(r, pairs, &field("labels")),
            _ => BTreeMap::new(),
        };
        let repeat_interval = match &a.repeat_interval {
            Field::Present(d) if !d.get_ref().is_zero() && *d.get_ref() < MIN_REPEAT => {
                r.at(
                    &d.span(),
                    field("repeat_interval"),
                    format!(
                        "a repeat interval under {}s would page every tick",
                        MIN_REPEAT.as_secs()
                    ),
                    "use e.g. repeat_interval = \"1h\", or \"0s\" to never repeat",
                );
                DEFAULT_REPEAT_INTERVAL
            }
            Field::Present(d) => *d.get_ref(),
            _ => DEFAULT_REPEAT_INTERVAL,
        };
        let summary = match &a.summary {
            Field::Present(s) if s.get_ref().trim().is_empty() => {
                r.at(
                    &s.span(),
                    field("summary"),
                    "must not be empty",
                    "leave `summary` out, or write a line for the on-call person",
                );
                None
            }
            Field::Present(s) => Some(s.get_ref().clone()),
            _ => None,
        };
        if let (Some(name), Some(condition)) = (name, condition) {
            out.push(AlertSpec {
                name: name.into_inner(),
                condition: condition.into_inner(),
                severity,
                channels,
                rollback: a.rollback.value().is_some_and(|b| *b.get_ref()),
                labels,
                repeat_interval,
                summary,
            });
        }
    }
    out
}

/// Label names follow Prometheus: `[a-zA-Z_][a-zA-Z0-9_]*`, so receivers accept them.
fn labels(
    r: &mut Report,
    pairs: &[(Spanned<String>, Spanned<String>)],
    field: &str,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (name, value) in pairs {
        let text = name.get_ref();
        let valid = text
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            r.at(
                &name.span(),
                format!("{field}.{text}"),
                format!("`{text}` is not a label name"),
                "use letters, digits and `_`, starting with a letter, e.g. team = \"payments\"",
            );
            continue;
        }
        out.insert(text.clone(), value.get_ref().clone());
    }
    out
}

fn channels(r: &mut Report, list: &Spanned<Vec<Spanned<String>>>, field: &str) -> Vec<String> {
    let hint = "use \"log\", \"webhook:http://HOST/PATH\" or \"command:CMD\"";
    if list.get_ref().is_empty() {
        r.at(
            &list.span(),
            field,
            "an alert needs at least one channel",
            hint,
        );
    }
    for (i, channel) in list.get_ref().iter().enumerate() {
        let text = channel.get_ref().as_str();
        if let Some(url) = text.strip_prefix("webhook:") {
            if let Err(why) = webhook_url_problem(url) {
                r.at(
                    &channel.span(),
                    format!("{field}[{i}]"),
                    format!("bad webhook URL `{url}`: {why}"),
                    "write e.g. \"webhook:https://hooks.example.com/naap\"",
                );
            }
            continue;
        }
        let ok = text == "log"
            || text
                .strip_prefix("command:")
                .is_some_and(|cmd| !cmd.trim().is_empty());
        if !ok {
            r.at(
                &channel.span(),
                format!("{field}[{i}]"),
                format!("unknown alert channel `{text}`"),
                hint,
            );
        }
    }
    list.get_ref().iter().map(|c| c.get_ref().clone()).collect()
}

/// Why a webhook URL cannot be posted to, checked with the same parser reqwest uses.
fn webhook_url_problem(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("scheme `{}` is not http or https", parsed.scheme()));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("no host".to_string());
    }
    Ok(())
}

/// Reports a condition the alert parser rejects, at the offending column when the value
/// is written without escapes (then the file's text is the string's text).
fn condition_problem(r: &mut Report, condition: &Spanned<String>, field: &str) {
    let Err(error) = crate::core::alerts::parse(condition.get_ref()) else {
        return;
    };
    let text = condition.get_ref();
    let span = condition.span();
    let offset = if text.contains(['\\', '"', '\'']) {
        0
    } else {
        // +1 for the opening quote; the parser counts columns in characters from 1.
        1 + text
            .char_indices()
            .nth(error.column.saturating_sub(1))
            .map_or(text.len(), |(i, _)| i)
    };
    let at = (span.start + offset).min(span.end)..span.end;
    r.at(&at, field, error.message, error.hint);
}

/// A required, non-empty string in an `[[array]]` entry.
fn required_text(
    r: &mut Report,
    value: &Field<Spanned<String>>,
    table_span: &Span,
    field: &str,
    example: &str,
) -> Option<Spanned<String>> {
    match value {
        Field::Present(v) if v.get_ref().trim().is_empty() => {
            r.at(
                &v.span(),
                field,
                "must not be empty",
                format!("e.g. {example}"),
            );
            None
        }
        Field::Present(v) => Some(v.clone()),
        Field::Absent => {
            let (table, key) = field.rsplit_once('.').unwrap_or(("", field));
            r.at(
                table_span,
                field,
                format!(
                    "missing required key `{key}` in [[{}]]",
                    table.split('[').next().unwrap_or(table)
                ),
                format!("add a line like: {example}"),
            );
            None
        }
        Field::Invalid => None,
    }
}
