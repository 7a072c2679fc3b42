//! The alerts the dashboard shows: active ones from the engine's snapshot, plus ones that
//! resolved lately, kept a while so they fade out instead of vanishing mid-glance.

use crate::core::alerts::Severity;
use crate::core::engine::{AlertRow, StatusReport};
use chrono::{DateTime, Utc};

/// How long a resolved alert stays on screen.
pub const FADE_SECS: i64 = 120;

/// One row of the alerts pane.
#[derive(Clone, Debug, PartialEq)]
pub struct ShownAlert {
    pub row: AlertRow,
    /// When it left the engine's active list (it resolved); `None` while active.
    pub resolved_at: Option<DateTime<Utc>>,
}

impl ShownAlert {
    pub fn target(&self) -> String {
        format!("{}/{}", self.row.plugin, self.row.rule)
    }
}

/// Active alerts first (firing before pending, most severe first, oldest first), then the
/// fading resolved ones, newest first.
pub fn merge(
    previous: &[ShownAlert],
    report: &StatusReport,
    now: DateTime<Utc>,
) -> Vec<ShownAlert> {
    let mut active: Vec<ShownAlert> = report
        .plugins
        .iter()
        .flat_map(|p| p.alerts.iter().cloned())
        .map(|row| ShownAlert {
            row,
            resolved_at: None,
        })
        .collect();
    let is_active = |a: &ShownAlert| {
        active
            .iter()
            .any(|b| b.row.plugin == a.row.plugin && b.row.rule == a.row.rule)
    };
    let mut fading: Vec<ShownAlert> = previous
        .iter()
        .filter(|a| !is_active(a))
        .map(|a| ShownAlert {
            row: a.row.clone(),
            resolved_at: Some(a.resolved_at.unwrap_or(now)),
        })
        .filter(|a| {
            a.resolved_at
                .is_some_and(|t| (now - t).num_seconds() < FADE_SECS)
        })
        .collect();
    active.sort_by(|a, b| {
        let rank = |s: &ShownAlert| {
            (
                s.row.state != "firing",
                std::cmp::Reverse(severity_rank(s.row.severity)),
                s.row.since,
            )
        };
        rank(a).cmp(&rank(b))
    });
    fading.sort_by_key(|a| std::cmp::Reverse(a.resolved_at));
    active.extend(fading);
    active
}

fn severity_rank(s: Severity) -> u8 {
    match s {
        Severity::Info => 0,
        Severity::Warning => 1,
        Severity::Critical => 2,
    }
}
