//! Operational requests in plain words, recognised by keywords and a few patterns. Anything
//! it is not sure of is `Unknown`: the operator then says what it can do, and never guesses
//! an action.

use crate::core::engine::StatusReport;
use crate::core::types::SlotName;

/// Which slot a request names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotWord {
    Slot(SlotName),
    /// The slot a running rollout moves traffic to.
    Canary,
    /// The other one.
    Stable,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Intent {
    Rollback {
        plugin: String,
    },
    Promote {
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
    Help,
    /// A request that names no plugin while none is selected.
    NoPlugin,
    Unknown,
}

/// Reads `text` against the plugins in `report`; `selected` is the plugin in view, used
/// when the text names none.
pub fn parse(text: &str, report: Option<&StatusReport>, selected: Option<&str>) -> Intent {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || ",;!?".contains(c))
        .filter(|w| !w.is_empty())
        .collect();
    let has = |w: &str| words.contains(&w);
    let any = |ws: &[&str]| ws.iter().any(|w| has(w));
    let contains = |s: &str| lower.contains(s);

    if words.is_empty() {
        return Intent::Unknown;
    }
    if any(&["help"]) || contains("what can you do") {
        return Intent::Help;
    }
    let named = report.and_then(|r| {
        r.plugins
            .iter()
            .filter_map(|p| {
                words
                    .iter()
                    .position(|w| w.trim_matches('.') == p.name)
                    .map(|at| (at, p.name.clone()))
            })
            .min()
            .map(|(_, name)| name)
    });
    // "the canary" with no plugin named means the one plugin with a rollout under way.
    let running_canary = || {
        let mut rolling = report?.plugins.iter().filter(|p| p.rollout.is_some());
        match (rolling.next(), rolling.next()) {
            (Some(p), None) if any(&["canary", "rollout"]) => Some(p.name.clone()),
            _ => None,
        }
    };
    let Some(plugin) = named
        .or_else(running_canary)
        .or_else(|| selected.map(str::to_string))
    else {
        return Intent::NoPlugin;
    };
    let slot_word = || {
        if any(&["canary", "new"]) {
            Some(SlotWord::Canary)
        } else if any(&["stable", "old"]) {
            Some(SlotWord::Stable)
        } else if has("blue") {
            Some(SlotWord::Slot(SlotName::Blue))
        } else if has("green") {
            Some(SlotWord::Slot(SlotName::Green))
        } else {
            None
        }
    };

    if contains("roll back") || any(&["rollback", "revert"]) {
        return Intent::Rollback { plugin };
    }
    if contains("why")
        && any(&[
            "fail", "failing", "failed", "error", "errors", "down", "broken", "slow", "wrong",
            "red",
        ])
        || contains("what's wrong")
        || contains("what is wrong")
    {
        return Intent::WhyFailing { plugin };
    }
    if any(&["error", "errors", "failures", "exceptions"])
        && any(&["show", "list", "see", "from", "tail"])
    {
        return Intent::ShowErrors {
            plugin,
            slot: slot_word(),
        };
    }
    if has("promote") {
        return Intent::Promote { plugin };
    }
    if has("abort") || (has("cancel") && any(&["canary", "rollout", "deploy"])) {
        return Intent::Abort { plugin };
    }
    if any(&["resume", "unpause"]) {
        return Intent::Resume { plugin };
    }
    if any(&["pause", "hold"]) {
        return Intent::Pause { plugin };
    }
    if let Some(percent) = percent(&words, &lower)
        && any(&[
            "shift", "send", "move", "put", "route", "give", "set", "traffic",
        ])
        && let Some(slot) = slot_word()
    {
        return Intent::Traffic {
            plugin,
            slot,
            percent,
        };
    }
    if has("deploy") || has("ship") {
        if let Some(version) = words
            .iter()
            .map(|w| w.trim_start_matches('v'))
            .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()) && !w.ends_with('%'))
        {
            return Intent::Deploy {
                plugin,
                version: version.to_string(),
            };
        }
        return Intent::Unknown;
    }
    if any(&["status", "doing", "health", "healthy", "state"])
        || contains("how is")
        || contains("how's")
    {
        return Intent::Status { plugin };
    }
    Intent::Unknown
}

/// `25%`, `25 %`, `25 percent`, or "all" (100) / "none" (0) with "traffic".
fn percent(words: &[&str], lower: &str) -> Option<u32> {
    for (i, w) in words.iter().enumerate() {
        let number = w.trim_end_matches('%');
        let is_percent = w.ends_with('%')
            || words
                .get(i + 1)
                .is_some_and(|n| *n == "%" || n.starts_with("percent"));
        if is_percent && let Ok(n) = number.parse::<u32>() {
            return Some(n);
        }
    }
    if lower.contains("all traffic")
        || lower.contains("all the traffic")
        || lower.contains("everything")
    {
        return Some(100);
    }
    None
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
