//! The offline operator: an intent router over the engine's own status. Read-only answers
//! come back at once with the numbers; anything that would change something becomes a card
//! with the exact call, for a person to confirm.

use super::answer;
use super::intent::{Action, Intent, SlotWord, parse};
use super::proposal::Proposal;
use crate::api::protocol::Call;
use crate::core::engine::{PluginStatus, StatusReport};
use crate::core::logs::LogLine;
use crate::core::store::EventRecord;
use crate::core::types::{SlotName, Version};
use std::collections::BTreeMap;

/// What the operator answers.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    pub text: String,
    /// An action waiting for y/n.
    pub card: Option<Proposal>,
    /// Show this plugin's errors (of one slot, or all) in the log pane.
    pub show_errors: Option<(String, Option<SlotName>)>,
    /// "Is it safe to …?": the change explained, not proposed. The face that asks the
    /// engine puts its dry run in (see [`Explained::answer`]); `text` is the router's own
    /// estimate, for when there is no engine to ask.
    pub explained: Option<Explained>,
}

/// A change explained without being proposed.
#[derive(Clone, Debug, PartialEq)]
pub struct Explained {
    pub card: Proposal,
    /// What the status says about it (for a rollback: the version it goes back to).
    pub outlook: Option<String>,
    /// The words that propose it ("roll back checkout").
    pub phrase: String,
}

impl Explained {
    /// The answer, given what the engine's dry run said: its lines, or why it refuses.
    pub fn answer(&self, dry_run: Result<&[String], &str>) -> String {
        let mut text = match dry_run {
            Ok(lines) => {
                let mut text = format!(
                    "You asked, so I changed nothing. If you ask for it ({}), this happens:",
                    self.card.label
                );
                for line in lines {
                    text.push_str(&format!("\n• {line}"));
                }
                text
            }
            Err(why) => format!(
                "As things stand the engine would refuse it ({}): {why}\nI changed nothing.",
                self.card.label
            ),
        };
        // The outlook guesses from the status what the engine just answered for sure.
        if let (Some(outlook), Ok(_)) = (&self.outlook, dry_run) {
            text.push('\n');
            text.push_str(outlook);
        }
        if dry_run.is_ok() {
            text.push_str(&format!(
                "\nSay “{}” and I will show it as a card for you to confirm.",
                self.phrase
            ));
        }
        text
    }
}

impl Reply {
    fn text(text: impl Into<String>) -> Reply {
        Reply {
            text: text.into(),
            card: None,
            show_errors: None,
            explained: None,
        }
    }

    fn card(text: impl Into<String>, card: Proposal) -> Reply {
        Reply {
            text: text.into(),
            card: Some(card),
            show_errors: None,
            explained: None,
        }
    }
}

/// What the operator sees of the world when it answers.
pub struct World<'a> {
    pub report: Option<&'a StatusReport>,
    pub selected: Option<&'a str>,
    pub events: &'a [EventRecord],
    pub logs: &'a [&'a LogLine],
}

pub fn respond(text: &str, world: &World) -> Reply {
    answer_intent(parse(text, world.report, world.selected), text, world)
}

/// The reply to a recognised `intent` (`text` is what was said, for "I did not understand").
fn answer_intent(intent: Intent, text: &str, world: &World) -> Reply {
    let find = |name: &str| {
        world
            .report
            .and_then(|r| r.plugins.iter().find(|p| p.name == name))
    };
    match intent {
        Intent::Help => Reply::text(answer::HELP),
        Intent::Change {
            plugin,
            instruction,
        } => match find(&plugin) {
            Some(_) => Reply::text(format!(
                "Changing {plugin}'s code (“{}”) takes a language model, and the offline operator has none: configure one in [ai] (naap.toml, ~/.config/naap/ai.toml or NAAP_AI_PROVIDER) and ask again, or run `naap iterate {plugin} \"…\" --provider …`. I changed nothing.",
                crate::core::logs::escape_controls(&instruction)
            )),
            None => unknown_plugin(&plugin),
        },
        Intent::Retry { plugin, .. } => match find(&plugin) {
            Some(_) => Reply::text(format!(
                "Trying again on {plugin}'s code takes a language model, and the offline operator has none: configure one in [ai] and ask again, or run `naap iterate {plugin} --retry CANDIDATE --provider …`. I changed nothing."
            )),
            None => unknown_plugin(&plugin),
        },
        Intent::Finish { plugin } => finish(find(&plugin), &plugin),
        Intent::Explain { plugin, action } => explain(&plugin, &action, world),
        Intent::Declined { plugin, action } => {
            Reply::text(answer::declined(plugin.as_deref(), &action))
        }
        Intent::History { plugin, about } => match find(&plugin) {
            Some(p) => Reply::text(answer::history(p, about.as_ref(), world.events)),
            None => unknown_plugin(&plugin),
        },
        Intent::Metric {
            plugin,
            measure,
            slot,
        } => match find(&plugin) {
            Some(p) => Reply::text(answer::metric(
                p,
                measure,
                slot.and_then(|w| resolve_slot(p, w)),
            )),
            None => unknown_plugin(&plugin),
        },
        Intent::Unknown => Reply::text(format!(
            "I did not understand “{}”, so I changed nothing.\n{}",
            text.trim(),
            answer::HELP
        )),
        Intent::NoPlugin => Reply::text(format!(
            "Which plugin? Name one of: {}.",
            world
                .report
                .map(|r| r
                    .plugins
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default()
        )),
        Intent::Status { plugin } => match find(&plugin) {
            Some(p) => Reply::text(answer::status(p)),
            None => unknown_plugin(&plugin),
        },
        Intent::WhyFailing { plugin } => match find(&plugin) {
            Some(p) => Reply::text(answer::why_failing(p, world.events, world.logs)),
            None => unknown_plugin(&plugin),
        },
        Intent::ShowErrors { plugin, slot } => {
            let Some(p) = find(&plugin) else {
                return unknown_plugin(&plugin);
            };
            let slot = slot.and_then(|w| resolve_slot(p, w));
            Reply {
                text: answer::errors(&plugin, slot, world.logs),
                card: None,
                show_errors: Some((plugin, slot)),
                explained: None,
            }
        }
        Intent::Rollback { plugin } => match find(&plugin) {
            Some(p) => Reply::card(
                "This is what a rollback does:",
                Proposal::rollback(p, p.rollout.is_some()),
            ),
            None => unknown_plugin(&plugin),
        },
        Intent::Promote { plugin } => steer(find(&plugin), &plugin, true),
        Intent::Abort { plugin } => steer(find(&plugin), &plugin, false),
        Intent::Pause { plugin } => pause_resume(find(&plugin), &plugin, true),
        Intent::Resume { plugin } => pause_resume(find(&plugin), &plugin, false),
        Intent::Traffic {
            plugin,
            slot,
            percent,
        } => match find(&plugin) {
            Some(p) => traffic(p, slot, percent),
            None => unknown_plugin(&plugin),
        },
        Intent::Deploy { plugin, version } => match (find(&plugin), Version::parse(&version)) {
            // The same rule as every other face: a bad version never becomes a card.
            (Some(_), Err(e)) => Reply::text(format!("I cannot deploy that: {e}.")),
            (Some(p), Ok(version)) => Reply::card(
                "Deploying asks first:",
                Proposal {
                    title: format!("deploy {plugin} --version {version}"),
                    lines: vec![
                        format!(
                            "starts {version} in the idle slot with the {} strategy",
                            p.strategy
                        ),
                        "traffic moves only once it is healthy; gates run first".to_string(),
                    ],
                    label: format!("deploy {plugin} {version}"),
                    call: Call::Deploy(crate::api::protocol::DeployRequest {
                        plugin: plugin.clone(),
                        version: Some(version),
                        strategy: None,
                        dry_run: false,
                        no_cache: false,
                        preview: false,
                        ttl: None,
                        detach: true,
                        force: false,
                        candidate: None,
                    }),
                },
            ),
            (None, _) => unknown_plugin(&plugin),
        },
    }
}

fn unknown_plugin(name: &str) -> Reply {
    Reply::text(format!("There is no plugin {name} in this workspace."))
}

fn steer(plugin: Option<&PluginStatus>, name: &str, promote: bool) -> Reply {
    let Some(p) = plugin else {
        return unknown_plugin(name);
    };
    match Proposal::steer(p, promote) {
        Some(card) => Reply::card("This is what it does:", card),
        None => Reply::text(format!(
            "No rollout of {name} is running, so there is nothing to {}.",
            if promote { "promote" } else { "abort" }
        )),
    }
}

fn pause_resume(plugin: Option<&PluginStatus>, name: &str, pause: bool) -> Reply {
    let Some(p) = plugin else {
        return unknown_plugin(name);
    };
    let Some(r) = &p.rollout else {
        return Reply::text(format!("No rollout of {name} is running."));
    };
    let (verb, line, call) = if pause {
        (
            "pause",
            format!(
                "the rollout to {} stays at its current weight; the step timer freezes",
                r.to_version
            ),
            Call::Pause(crate::api::protocol::PluginRequest {
                plugin: name.to_string(),
            }),
        )
    } else {
        (
            "resume",
            format!(
                "the rollout to {} goes on from where it was held",
                r.to_version
            ),
            Call::Resume(crate::api::protocol::PluginRequest {
                plugin: name.to_string(),
            }),
        )
    };
    Reply::card(
        "This is what it does:",
        Proposal {
            title: format!("{verb} {name}"),
            lines: vec![line],
            label: format!("{verb} {name}"),
            call,
        },
    )
}

/// Which slot "the canary" or "stable" means now: the rollout's target, else the newer
/// slot that takes less traffic.
fn resolve_slot(plugin: &PluginStatus, word: SlotWord) -> Option<SlotName> {
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

fn traffic(plugin: &PluginStatus, word: SlotWord, percent: u32) -> Reply {
    if percent > 100 {
        return Reply::text(format!(
            "{percent}% is more than all of the traffic; say a number up to 100."
        ));
    }
    let Some(slot) = resolve_slot(plugin, word) else {
        return Reply::text(format!("{} has no slot I could call that.", plugin.name));
    };
    let serving = |s: SlotName| plugin.slots.iter().any(|x| x.slot == s && x.serves());
    let other = slot.other();
    let needs_other = percent < 100;
    if (percent > 0 && !serving(slot)) || (needs_other && !serving(other)) {
        let idle = if percent > 0 && !serving(slot) {
            slot
        } else {
            other
        };
        return Reply::text(format!(
            "{idle} of {} does not serve, so it cannot take traffic; deploy a version there first.",
            plugin.name
        ));
    }
    let weights: BTreeMap<SlotName, u32> = [(slot, percent), (other, 100 - percent)].into();
    let live = |s: SlotName| {
        plugin
            .slots
            .iter()
            .find(|x| x.slot == s)
            .map_or(0, |x| x.weight)
    };
    let version = |s: SlotName| {
        plugin
            .slots
            .iter()
            .find(|x| x.slot == s)
            .and_then(|x| x.version.clone())
            .unwrap_or_default()
    };
    let (blue, green) = (weights[&SlotName::Blue], weights[&SlotName::Green]);
    Reply::card(
        "This is the change:",
        Proposal {
            title: format!("traffic {} blue={blue} green={green}", plugin.name),
            lines: vec![
                format!("{slot} v{}: {}% → {percent}%", version(slot), live(slot)),
                format!(
                    "{other} v{}: {}% → {}%",
                    version(other),
                    live(other),
                    100 - percent
                ),
            ],
            label: format!("traffic {} blue={blue} green={green}", plugin.name),
            call: Call::Traffic(crate::api::protocol::TrafficRequest {
                plugin: plugin.name.clone(),
                weights,
                dry_run: false,
            }),
        },
    )
}

/// The canary straight to 100 % (`promote --full`).
fn finish(plugin: Option<&PluginStatus>, name: &str) -> Reply {
    let Some(p) = plugin else {
        return unknown_plugin(name);
    };
    let Some(r) = &p.rollout else {
        return Reply::text(format!(
            "No rollout of {name} is running, so there is nothing to finish."
        ));
    };
    let mut lines = vec![format!(
        "{} v{} takes all traffic now: the remaining steps and their analysis are skipped",
        r.to_slot, r.to_version
    )];
    if let Some(reason) = r.paused_reason.as_ref().filter(|_| r.paused) {
        lines.push(format!("it is held because: {reason}"));
    }
    Reply::card(
        "This is what it does:",
        Proposal {
            title: format!("Promote the canary of {name} to 100%?"),
            lines,
            label: format!("promote {name} --full"),
            call: Call::Promote(crate::api::protocol::PromoteRequest {
                plugin: name.to_string(),
                full: true,
            }),
        },
    )
}

/// A question or a hypothetical about an action: what it would do, from the card it would
/// be, and nothing changes.
fn explain(name: &str, action: &Action, world: &World) -> Reply {
    let Some(p) = world
        .report
        .and_then(|r| r.plugins.iter().find(|p| p.name == name))
    else {
        return unknown_plugin(name);
    };
    let Some(intent) = action.request(name.to_string()) else {
        return Reply::text(answer::incomplete(p, action));
    };
    let would = answer_intent(intent, "", world);
    let Some(card) = would.card else {
        return Reply::text(format!("{}\nI changed nothing.", would.text));
    };
    let explained = Explained {
        outlook: (*action == Action::Rollback).then(|| answer::rollback_outlook(p)),
        phrase: action.phrase(name),
        card,
    };
    // Without an engine to ask, the router's own lines.
    let estimate = explained.answer(Ok(&explained.card.lines));
    Reply {
        explained: Some(explained),
        ..Reply::text(estimate)
    }
}
