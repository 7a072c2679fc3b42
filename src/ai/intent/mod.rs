//! Operational requests in plain words, recognised deterministically: no model, no
//! network, microseconds per request. The request is cut into [`words`]; [`actions`] finds
//! the actions it names (with their synonyms, versions and amounts); [`mood`] decides
//! whether it asks for one, or only mentions it in a negation, a question, a hypothetical
//! or a question about the past, which is never a proposal; [`asks`] reads the read-only
//! questions (why failing, errors, metrics, history, status). Anything it is not sure of
//! is `Unknown`: the operator then says what it can do, and never guesses an action.

mod actions;
mod asks;
mod change;
mod mood;
#[cfg(test)]
pub(crate) mod table;
mod words;

use crate::core::engine::{PluginStatus, StatusReport};
use crate::core::types::SlotName;
use mood::Mood;
use words::Words;

/// Which slot a request names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotWord {
    Slot(SlotName),
    /// The slot a running rollout moves traffic to.
    Canary,
    /// The other one.
    Stable,
}

/// An action a request names, with what it says of it. A request for it becomes the
/// matching [`Intent`]; a mention of it (a question, a negation, the past) carries it.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Rollback,
    /// One canary step on.
    Promote,
    /// The canary straight to 100 %.
    Finish,
    Abort,
    Pause,
    Resume,
    Traffic {
        slot: Option<SlotWord>,
        percent: Option<u32>,
    },
    Deploy {
        version: Option<String>,
    },
}

impl Action {
    /// The intent that asks for this action, when the request said enough to do it.
    pub fn request(&self, plugin: String) -> Option<Intent> {
        Some(match self {
            Action::Rollback => Intent::Rollback { plugin },
            Action::Promote => Intent::Promote { plugin },
            Action::Finish => Intent::Finish { plugin },
            Action::Abort => Intent::Abort { plugin },
            Action::Pause => Intent::Pause { plugin },
            Action::Resume => Intent::Resume { plugin },
            Action::Traffic {
                slot: Some(slot),
                percent: Some(percent),
            } => Intent::Traffic {
                plugin,
                slot: *slot,
                percent: *percent,
            },
            Action::Deploy {
                version: Some(version),
            } => Intent::Deploy {
                plugin,
                version: version.clone(),
            },
            Action::Traffic { .. } | Action::Deploy { .. } => return None,
        })
    }

    /// A request for this action on `plugin` that [`parse`] reads back as it.
    pub fn phrase(&self, plugin: &str) -> String {
        match self {
            Action::Rollback => format!("roll back {plugin}"),
            Action::Promote => format!("promote {plugin}"),
            Action::Finish => format!("promote {plugin} fully"),
            Action::Abort => format!("abort the rollout of {plugin}"),
            Action::Pause => format!("pause {plugin}"),
            Action::Resume => format!("resume {plugin}"),
            Action::Traffic { slot, percent } => {
                let slot = match slot {
                    Some(SlotWord::Slot(s)) => s.to_string(),
                    Some(SlotWord::Canary) => "the canary".to_string(),
                    Some(SlotWord::Stable) => "stable".to_string(),
                    None => "green".to_string(),
                };
                format!("give {}% of {plugin} to {slot}", percent.unwrap_or(25))
            }
            Action::Deploy { version } => {
                format!(
                    "deploy {plugin} {}",
                    version.as_deref().unwrap_or("VERSION")
                )
            }
        }
    }

    /// What it does, as a verb phrase: "roll back", "promote the canary of".
    pub fn verb(&self) -> String {
        match self {
            Action::Rollback => "roll back".into(),
            Action::Promote => "promote the canary of".into(),
            Action::Finish => "take to 100% the canary of".into(),
            Action::Abort => "abort the rollout of".into(),
            Action::Pause => "pause the rollout of".into(),
            Action::Resume => "resume the rollout of".into(),
            Action::Traffic { .. } => "change the traffic of".into(),
            Action::Deploy { version: Some(v) } => format!("deploy {v} of"),
            Action::Deploy { version: None } => "deploy".into(),
        }
    }
}

/// A number the engine reports about a plugin's slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    /// p50, p95 and p99 together.
    Latency,
    P50,
    P95,
    P99,
    ErrorRate,
    /// Requests per second.
    Rps,
    /// The traffic split.
    Weight,
    Health,
    Cpu,
    Memory,
    Restarts,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Intent {
    Rollback {
        plugin: String,
    },
    Promote {
        plugin: String,
    },
    /// Promote the canary straight to 100 % (`promote --full`).
    Finish {
        plugin: String,
    },
    Abort {
        plugin: String,
    },
    Pause {
        plugin: String,
    },
    Resume {
        plugin: String,
    },
    /// Give `percent` of the traffic to `slot`; the other slot gets the rest.
    Traffic {
        plugin: String,
        slot: SlotWord,
        percent: u32,
    },
    Deploy {
        plugin: String,
        version: String,
    },
    /// A question or a hypothetical about an action ("is it safe to roll back?", "what
    /// happens if I promote?"): answered with what it would do, and nothing changes.
    Explain {
        plugin: String,
        action: Action,
    },
    /// A request not to do something ("don't roll back"): nothing changes.
    Declined {
        plugin: Option<String>,
        action: Action,
    },
    /// What happened ("did it roll back?", "when was the last deploy?", "what changed?"),
    /// from the events and the last rollout; `about` narrows it to one kind of action.
    History {
        plugin: String,
        about: Option<Action>,
    },
    /// One number of a plugin's slots (of one slot, if it names one).
    Metric {
        plugin: String,
        measure: Measure,
        slot: Option<SlotWord>,
    },
    WhyFailing {
        plugin: String,
    },
    ShowErrors {
        plugin: String,
        slot: Option<SlotWord>,
    },
    Status {
        plugin: String,
    },
    /// A change to a plugin's code, for the iterate pipeline (a model writes it).
    Change {
        plugin: String,
        instruction: String,
    },
    /// "Try again": a new candidate that fixes the last one whose canary rolled back,
    /// told its verdict; `instruction` is anything said beyond "try again".
    Retry {
        plugin: String,
        instruction: String,
    },
    Help,
    /// A request that names no plugin while none is selected.
    NoPlugin,
    Unknown,
}

/// Reads `text` against the plugins in `report`; `selected` is the plugin in view, used
/// when the text names none (or says "it" or "this").
pub fn parse(text: &str, report: Option<&StatusReport>, selected: Option<&str>) -> Intent {
    let w = Words::new(text);
    if w.is_empty() {
        return Intent::Unknown;
    }
    let plugin = plugin(&w, report, selected);
    let status = plugin
        .as_deref()
        .and_then(|name| report?.plugins.iter().find(|p| p.name == name));
    // A change to the code first: its words ("the old order", "empty lists") would
    // otherwise read as traffic or a rollback.
    if let Some(change) = change::change(&w, text, plugin.clone()) {
        return change;
    }
    let weight_of = |word: SlotWord| status.and_then(|p| weight(p, word));
    let mentions = actions::mentions(&w, &weight_of);
    let moods: Vec<Mood> = mentions.iter().map(|m| mood::mood(&w, m.at)).collect();
    // "don't roll back, pause it", "the deploy failed, roll back": a later plain request
    // in another clause wins over a negation or a report; otherwise the first action named
    // decides.
    let chosen = match moods.first() {
        Some(Mood::Negated | Mood::Past) => (1..mentions.len())
            .find(|&k| {
                moods[k] == Mood::Request && w.clause(mentions[k].at) != w.clause(mentions[0].at)
            })
            .unwrap_or(0),
        _ => 0,
    };
    if let (Some(m), Some(&mood)) = (mentions.get(chosen), moods.get(chosen)) {
        let action = m.action.clone();
        return match (mood, plugin) {
            (Mood::Negated, plugin) => Intent::Declined { plugin, action },
            (_, None) => Intent::NoPlugin,
            (Mood::Asked, Some(plugin)) => Intent::Explain { plugin, action },
            (Mood::Past, Some(plugin)) => Intent::History {
                plugin,
                about: Some(action),
            },
            (Mood::Request, Some(plugin)) => action.request(plugin).unwrap_or(Intent::Unknown),
        };
    }
    asks::ask(&w, plugin)
}

/// The plugin a request names ("expense-tracker", "expense tracker", "checkout's"), else
/// the one running a canary when it says "the canary", else the plugin in view.
fn plugin(w: &Words, report: Option<&StatusReport>, selected: Option<&str>) -> Option<String> {
    let named = report.and_then(|r| {
        (0..w.len()).find_map(|i| {
            let one = w.text(i);
            let two = format!("{one}-{}", w.text(i + 1));
            r.plugins
                .iter()
                .find(|p| p.name == one || p.name == two || p.name.replace('_', "-") == two)
                .map(|p| p.name.clone())
        })
    });
    let running_canary = || {
        let mut rolling = report?.plugins.iter().filter(|p| p.rollout.is_some());
        match (rolling.next(), rolling.next()) {
            (Some(p), None) if w.any(&["canary", "rollout"]) => Some(p.name.clone()),
            _ => None,
        }
    };
    named
        .or_else(|| {
            // A selected plugin with a rollout of its own is "the canary" too.
            let own = selected
                .and_then(|s| report?.plugins.iter().find(|p| p.name == s))
                .is_some_and(|p| p.rollout.is_some());
            if own { None } else { running_canary() }
        })
        .or_else(|| selected.map(str::to_string))
}

/// Which slot "the canary" or "stable" means now: the rollout's target, else the newer
/// slot that takes less traffic.
pub fn resolve_slot(plugin: &PluginStatus, word: SlotWord) -> Option<SlotName> {
    let canary = plugin.rollout.as_ref().map(|r| r.to_slot).or_else(|| {
        plugin
            .slots
            .iter()
            .filter(|s| s.version.is_some())
            .min_by_key(|s| s.weight)
            .map(|s| s.slot)
    });
    match word {
        SlotWord::Slot(s) => Some(s),
        SlotWord::Canary => canary,
        SlotWord::Stable => canary.map(SlotName::other),
    }
}

/// The weight a slot takes now.
fn weight(plugin: &PluginStatus, word: SlotWord) -> Option<u32> {
    let slot = resolve_slot(plugin, word)?;
    Some(
        plugin
            .slots
            .iter()
            .find(|s| s.slot == slot)
            .map_or(0, |s| s.weight),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> StatusReport {
        serde_json::from_value(serde_json::json!({
            "engine": {"pid": 1, "naap_version": "0", "workspace": "/w", "started_at": "2026-11-22T02:00:00Z",
                       "router": "127.0.0.1:8080", "admin": null},
            "plugins": [
                {"name": "expense-tracker", "route": "/e", "manifest_version": "1", "strategy": "blue-green",
                 "live_version": "1", "slots": [], "rollout": null},
                {"name": "checkout", "route": "/c", "manifest_version": "1", "strategy": "canary",
                 "live_version": "1", "slots": [], "rollout": null}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn operational_requests_become_intents() {
        let r = report();
        let p = |t: &str| parse(t, Some(&r), Some("checkout"));
        let cases: Vec<(&str, Intent)> = vec![
            (
                "roll back expense-tracker",
                Intent::Rollback {
                    plugin: "expense-tracker".into(),
                },
            ),
            (
                "please rollback",
                Intent::Rollback {
                    plugin: "checkout".into(),
                },
            ),
            (
                "shift 25% to green",
                Intent::Traffic {
                    plugin: "checkout".into(),
                    slot: SlotWord::Slot(SlotName::Green),
                    percent: 25,
                },
            ),
            (
                "send 10 percent of expense-tracker to the canary",
                Intent::Traffic {
                    plugin: "expense-tracker".into(),
                    slot: SlotWord::Canary,
                    percent: 10,
                },
            ),
            (
                "put all traffic on blue",
                Intent::Traffic {
                    plugin: "checkout".into(),
                    slot: SlotWord::Slot(SlotName::Blue),
                    percent: 100,
                },
            ),
            (
                "why is checkout failing?",
                Intent::WhyFailing {
                    plugin: "checkout".into(),
                },
            ),
            (
                "what's wrong with expense-tracker",
                Intent::WhyFailing {
                    plugin: "expense-tracker".into(),
                },
            ),
            (
                "show errors from the canary",
                Intent::ShowErrors {
                    plugin: "checkout".into(),
                    slot: Some(SlotWord::Canary),
                },
            ),
            (
                "show me the errors",
                Intent::ShowErrors {
                    plugin: "checkout".into(),
                    slot: None,
                },
            ),
            (
                "promote checkout",
                Intent::Promote {
                    plugin: "checkout".into(),
                },
            ),
            (
                "abort the canary",
                Intent::Abort {
                    plugin: "checkout".into(),
                },
            ),
            (
                "pause the rollout",
                Intent::Pause {
                    plugin: "checkout".into(),
                },
            ),
            (
                "resume",
                Intent::Resume {
                    plugin: "checkout".into(),
                },
            ),
            (
                "deploy checkout v2.5.0",
                Intent::Deploy {
                    plugin: "checkout".into(),
                    version: "2.5.0".into(),
                },
            ),
            (
                "how is expense-tracker doing",
                Intent::Status {
                    plugin: "expense-tracker".into(),
                },
            ),
            ("help", Intent::Help),
            ("make it faster", Intent::Unknown),
            ("deploy checkout", Intent::Unknown),
            ("", Intent::Unknown),
        ];
        for (text, want) in cases {
            assert_eq!(p(text), want, "{text}");
        }
        assert_eq!(parse("roll back", Some(&r), None), Intent::NoPlugin);
    }
}
