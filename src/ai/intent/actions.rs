//! Where a request names an action, and which: the verbs and their synonyms ("revert",
//! "undo", "go back" for a rollback; "ship", "release", "roll out" for a deploy; "halt",
//! "freeze", "hold" for a pause…), the version anywhere in the sentence, and traffic in
//! its many shapes ("give 25 percent to green", "green to 25%", "move everything off the
//! canary", "drain green", "bump the canary by 10%"). Whether the request asks for the
//! action or only mentions it is [`super::mood`]'s question.

use super::words::Words;
use super::{Action, SlotWord};
use crate::core::types::SlotName;

/// An action named at word `at`.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Mention {
    pub at: usize,
    pub action: Action,
}

/// Every action the request names, in the order it names them. `weight_of` gives the
/// current weight of a slot of the plugin in question, for relative changes ("by 10%").
pub(super) fn mentions(w: &Words, weight_of: &dyn Fn(SlotWord) -> Option<u32>) -> Vec<Mention> {
    let mut found: Vec<Mention> = Vec::new();
    let mut add = |at: Option<usize>, action: Action| {
        if let Some(at) = at {
            found.push(Mention { at, action });
        }
    };
    // On a tie the first added wins: "stop sending traffic" is traffic, not an abort.
    if let Some((at, action)) = traffic(w, weight_of) {
        add(Some(at), action);
    }
    add(finish(w), Action::Finish);
    add(abort(w), Action::Abort);
    add(rollback(w), Action::Rollback);
    add(promote(w), Action::Promote);
    add(pause(w), Action::Pause);
    add(resume(w), Action::Resume);
    if let Some((at, action)) = deploy(w) {
        add(Some(at), action);
    }
    found.sort_by_key(|m| m.at);
    found
}

/// The words after `i` in its clause, up to `n` of them.
fn ahead(w: &Words, i: usize, n: usize) -> impl Iterator<Item = usize> + '_ {
    let clause = w.clause(i);
    (i + 1..w.len())
        .take_while(move |&k| w.clause(k) == clause)
        .take(n)
}

fn ahead_has(w: &Words, i: usize, n: usize, lemmas: &[&str]) -> bool {
    ahead(w, i, n).any(|k| lemmas.contains(&w.at(k)))
}

const ROLLOUT_WORDS: &[&str] = &[
    "canary",
    "rollout",
    "deploy",
    "release",
    "experiment",
    "plug",
    "upgrade",
];

fn rollback(w: &Words) -> Option<usize> {
    (0..w.len()).find(|&i| match w.at(i) {
        "rollback" | "revert" | "downgrade" | "undo" | "restore" => true,
        "roll" | "put" | "bring" | "switch" | "flip" | "go" | "fall" | "jump" | "get" | "step"
        | "move" | "send" | "take" => ahead(w, i, 3)
            .take_while(|&k| !["out", "forward", "traffic", "percent"].contains(&w.at(k)))
            .take_while(|&k| !w.text(k).ends_with('%'))
            .any(|k| {
                // "put traffic back on blue" moves traffic; "put it back on 1.3.0" rolls back.
                w.at(k) == "back"
                    && (w.at(i) == "roll" || w.at(k + 1) != "on" || version_at(w, k + 2).is_some())
            }),
        "back" => w.at(i + 1) == "out" && !ahead_has(w, i, 4, &["canary", "rollout", "experiment"]),
        // "switch to the previous version", "use the old one".
        "to" | "use" | "serve" | "run" => {
            let k = if w.at(i + 1) == "the" { i + 2 } else { i + 1 };
            ["previous", "prior", "old", "older", "last"].contains(&w.at(k))
                && ["version", "good", "known", "one", "release", "build"].contains(&w.at(k + 1))
                && !ahead_has(w, i, 6, &["percent"])
        }
        _ => false,
    })
}

/// "promote fully", "promote to 100".
fn full(w: &Words, i: usize) -> bool {
    ahead(w, i, 5).any(|k| {
        ["fully", "full", "completely", "100", "100%"].contains(&w.text(k))
            || w.seq_at(k, &["all", "the", "way"])
    })
}

fn promote(w: &Words) -> Option<usize> {
    (0..w.len()).find(|&i| match w.at(i) {
        "promote" => !full(w, i) && w.prev(i) != "fully",
        "advance" | "accelerate" => true,
        "fast-forward" => true,
        "next" => {
            w.at(i + 1) == "step"
                && (i == 0
                    || w.before_in_clause(i).take(3).any(|k| {
                        ["go", "move", "jump", "skip", "take", "proceed", "advance"]
                            .contains(&w.at(k))
                    }))
        }
        "skip" => ahead_has(w, i, 3, &["wait", "step", "ahead", "waiting"]),
        "step" => w.at(i + 1) == "up",
        "roll" | "push" | "fast" | "move" | "go" => {
            ahead_has(w, i, 3, &["forward", "ahead"]) && !(w.at(i) == "go" && w.at(i + 2) == "and")
        }
        "speed" => w.at(i + 1) == "up",
        _ => false,
    })
}

fn finish(w: &Words) -> Option<usize> {
    let slot_named = (0..w.len()).any(|i| slot_at(w, i).is_some() && w.at(i) != "canary");
    (0..w.len()).find(|&i| match w.at(i) {
        "finish" | "complete" | "finalize" | "finalise" => true,
        "wrap" => w.at(i + 1) == "up",
        "promote" => full(w, i),
        "fully" => w.at(i + 1) == "promote",
        "go" | "take" | "push" | "jump" | "bring" | "ramp" | "straight" => {
            !slot_named && full(w, i) && !ahead_has(w, i, 5, &["traffic"])
        }
        _ => false,
    })
}

fn abort(w: &Words) -> Option<usize> {
    (0..w.len()).find(|&i| match w.at(i) {
        "abort" => true,
        "cancel" => !ahead_has(w, i, 3, &["rollback", "hold", "pause", "alert", "silence"]),
        "stop" | "kill" | "scrap" | "terminate" | "end" | "ditch" | "drop" | "nuke" | "pull" => {
            ![
                "send", "route", "move", "give", "direct", "shift", "take", "at",
            ]
            .contains(&w.at(i + 1))
                && (ahead_has(w, i, 4, ROLLOUT_WORDS)
                    || (["it", "this"].contains(&w.at(i + 1)) && w.at(i) != "drop"))
        }
        "get" => w.seq_at(i + 1, &["rid", "of"]) && ahead_has(w, i, 5, ROLLOUT_WORDS),
        "call" => ahead_has(w, i, 4, &["off"]),
        "give" => w.at(i + 1) == "up",
        "back" => w.at(i + 1) == "out" && ahead_has(w, i, 4, &["canary", "rollout", "experiment"]),
        _ => false,
    })
}

fn pause(w: &Words) -> Option<usize> {
    (0..w.len()).find(|&i| match w.at(i) {
        "pause" | "halt" | "freeze" | "suspend" => true,
        "hold" => !["off", "up"].contains(&w.at(i + 1)) && !["the", "a"].contains(&w.prev(i)),
        "stop" => w.at(i + 1) == "at" || w.at(i + 1) == "here",
        _ => false,
    })
}

fn resume(w: &Words) -> Option<usize> {
    (0..w.len()).find(|&i| match w.at(i) {
        "resume" | "unpause" | "unfreeze" | "continue" | "proceed" | "unhold" | "un-pause" => true,
        // "what is going on" asks for the status.
        "carry" | "go" => w.at(i + 1) == "on" && w.text(i) != "going",
        "keep" => w.at(i + 1) == "go",
        "release" | "lift" | "end" => ahead_has(w, i, 3, &["hold", "pause", "freeze"]),
        "pick" => w.at(i + 1) == "up",
        "let" => ahead(w, i, 3).any(|k| ["run", "continue", "go", "proceed"].contains(&w.at(k))),
        _ => false,
    })
}

/// A version as people write it: `2.5.0`, `v2.5`, `3`.
fn version_at(w: &Words, i: usize) -> Option<String> {
    let t = w.text(i);
    let bare = t.strip_prefix('v').unwrap_or(t);
    let looks = bare.chars().next().is_some_and(|c| c.is_ascii_digit())
        && !bare.ends_with('%')
        && w.at(i + 1) != "percent"
        && (bare.contains('.') || bare.chars().all(|c| c.is_ascii_digit()));
    // The chunk as typed, whole: what Version::parse refuses stays refused.
    let chunk = w.chunk(i);
    looks.then(|| chunk.strip_prefix('v').unwrap_or(chunk).to_string())
}

fn deploy(w: &Words) -> Option<(usize, Action)> {
    let version = (0..w.len()).find_map(|i| version_at(w, i));
    let at = (0..w.len()).find(|&i| match w.at(i) {
        "deploy" | "ship" | "redeploy" => true,
        "release" | "launch" | "install" | "upgrade" | "update" | "push" => {
            version.is_some() && !ahead_has(w, i, 3, &["hold", "pause"])
        }
        "roll" => w.at(i + 1) == "out" || w.at(i + 2) == "out",
        "go" => w.at(i + 1) == "live" && version.is_some(),
        _ => false,
    })?;
    Some((at, Action::Deploy { version }))
}

fn slot_at(w: &Words, i: usize) -> Option<SlotWord> {
    Some(match w.at(i) {
        "canary" | "new" | "newer" | "newest" => SlotWord::Canary,
        "stable" | "old" | "older" | "previous" | "baseline" | "primary" | "production"
        | "prod" => SlotWord::Stable,
        "blue" => SlotWord::Slot(SlotName::Blue),
        "green" => SlotWord::Slot(SlotName::Green),
        _ => return None,
    })
}

fn number_word(w: &str) -> Option<u32> {
    Some(match w {
        "zero" => 0,
        "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "fifteen" => 15,
        "twenty" => 20,
        "thirty" => 30,
        "forty" => 40,
        "fifty" => 50,
        "sixty" => 60,
        "seventy" => 70,
        "eighty" => 80,
        "ninety" => 90,
        "hundred" | "a-hundred" => 100,
        "twenty-five" => 25,
        "seventy-five" => 75,
        _ => return None,
    })
}

/// The first amount of traffic the request names, and where: `25%`, `25 %`, `25
/// percent`, `twenty five percent`, "half", "a quarter", "all traffic", "everything",
/// "nothing", and a bare number after "to", "at" or "by".
fn amount(w: &Words) -> Option<(usize, u32)> {
    let is_percent = |k: usize| w.at(k) == "percent" || w.seq_at(k, &["per", "cent"]);
    for i in 0..w.len() {
        let t = w.text(i);
        if let Some(n) = t.strip_suffix('%').and_then(|n| n.parse().ok()) {
            return Some((i, n));
        }
        if let Ok(n) = t.parse::<u32>() {
            if is_percent(i + 1) {
                return Some((i, n));
            }
            let before = if i > 0 { w.at(i - 1) } else { "" };
            if ["to", "at", "by"].contains(&before) && n <= 100 {
                return Some((i, n));
            }
        }
        if let Some(n) = number_word(t) {
            let (n, next) = match number_word(w.text(i + 1)) {
                Some(units) if n >= 20 && units < 10 => (n + units, i + 2),
                _ => (n, i + 1),
            };
            if is_percent(next) {
                return Some((i, n));
            }
        }
        match w.at(i) {
            "half" => return Some((i, 50)),
            "quarter" => {
                return Some((
                    i,
                    if w.at(i.wrapping_sub(1)) == "three" {
                        75
                    } else {
                        25
                    },
                ));
            }
            "everything" => return Some((i, 100)),
            "all"
                if !w.seq_at(i, &["all", "the", "way"])
                    && [
                        "traffic", "the", "of", "requests", "to", "on", "onto", "request",
                    ]
                    .contains(&w.at(i + 1)) =>
            {
                return Some((i, 100));
            }
            "nothing" | "none" => return Some((i, 0)),
            "zero" if ["traffic", "requests"].contains(&w.at(i + 1)) => return Some((i, 0)),
            "no" if ["traffic", "requests"].contains(&w.at(i + 1)) => return Some((i, 0)),
            _ => {}
        }
    }
    None
}

const TRAFFIC_VERBS: &[&str] = &[
    "shift", "send", "move", "route", "put", "give", "set", "bump", "push", "direct", "steer",
    "split", "dial", "increase", "raise", "lower", "reduce", "decrease", "drop", "cut", "take",
    "allocate", "assign", "point", "redirect", "add", "switch", "flip", "make", "weight",
    "traffic", "ramp", "scale", "turn",
];
const METRIC_WORDS: &[&str] = &[
    "error",
    "errors",
    "rate",
    "latency",
    "p99",
    "p95",
    "p50",
    "cpu",
    "memory",
    "threshold",
    "above",
    "below",
    "exceed",
    "exceeds",
    "fail",
    "failure",
    "failures",
];

fn traffic(w: &Words, weight_of: &dyn Fn(SlotWord) -> Option<u32>) -> Option<(usize, Action)> {
    let verb = (0..w.len()).find(|&i| TRAFFIC_VERBS.contains(&w.at(i)));
    let amount = amount(w);
    // Where traffic is taken away: "off the canary", "away from blue", "drain green".
    // "off", "away from" and "from" need a verb or an amount ("errors from the canary"
    // moves nothing).
    let moved = verb.is_some() || amount.is_some() || w.has("traffic");
    let drain = (0..w.len()).find(|&i| match w.at(i) {
        "off" => moved && (i == 0 || !["call", "hold", "back", "turn"].contains(&w.at(i - 1))),
        "away" => moved && w.at(i + 1) == "from",
        "out" => moved && w.at(i + 1) == "of" && (i == 0 || w.at(i - 1) != "back"),
        "drain" | "empty" | "evacuate" => true,
        "stop" => ["send", "route", "direct", "give"].contains(&w.at(i + 1)),
        "from" => amount.is_some() || w.any(&["move", "take", "shift", "pull"]),
        _ => false,
    });
    let slots: Vec<(usize, SlotWord)> = (0..w.len())
        .filter_map(|i| slot_at(w, i).map(|s| (i, s)))
        .collect();
    // The slot after the drain word ("off the canary"), else the one before it ("take
    // green out of rotation").
    let source = drain.and_then(|d| {
        let same = |i: &usize| w.clause(*i) == w.clause(d);
        slots
            .iter()
            .find(|(i, _)| *i > d && same(i))
            .or_else(|| slots.iter().rev().find(|(i, _)| *i < d && same(i)))
            .map(|&(i, s)| (i, s))
    });
    let target = slots
        .iter()
        .find(|(i, _)| {
            Some(*i) != source.map(|s| s.0)
                && (1..=2).any(|back| {
                    *i >= back
                        && ["to", "on", "onto", "into", "for", "at", "toward", "towards"]
                            .contains(&w.at(i - back))
                })
        })
        .or_else(|| slots.iter().find(|(i, _)| Some(*i) != source.map(|s| s.0)))
        .map(|&(_, s)| s);
    let source = source.map(|(_, s)| s);
    let draining = w.at(drain.unwrap_or(usize::MAX)) != "from" || source.is_some();
    let drain = drain.filter(|_| draining);

    let start = [verb, amount.map(|a| a.0), drain]
        .into_iter()
        .flatten()
        .min()?;
    if let Some((at, _)) = amount
        && verb.is_none()
        && w.before_in_clause(at)
            .any(|k| ["is", "are", "was", "were", "be", "been"].contains(&w.at(k)))
    {
        // "why is the canary at 10%": a state, not a request.
        return None;
    }
    if amount.is_some() && w.any(METRIC_WORDS) && !w.any(&["traffic", "shift", "send", "route"]) {
        return None;
    }
    let percent = match amount {
        None if drain.is_some() => return source.map(|s| (start, traffic_action(s, Some(0)))),
        None => {
            // "switch to green", "cut over to blue": all of it.
            let over = w.any(&["switch", "flip", "cutover"]) || w.has_seq(&["cut", "over"]);
            let to_slot = slots.iter().any(|(i, _)| {
                *i > 0 && ["to", "onto"].contains(&w.at(i - 1))
                    || *i > 1 && w.at(i - 1) == "the" && w.at(i - 2) == "to"
            });
            // "switch to the previous version" is a rollback, not a traffic split.
            let version_named = slots.iter().any(|(i, _)| w.at(i + 1) == "version");
            if over && to_slot && !w.has("back") && !version_named {
                return target.map(|t| (start, traffic_action(t, Some(100))));
            }
            if w.has("traffic")
                && w.any(&[
                    "send", "route", "shift", "move", "direct", "redirect", "point",
                ])
                && target.is_some()
            {
                return target.map(|t| (start, traffic_action(t, None)));
            }
            return None;
        }
        Some((_, p)) => p,
    };
    let at = amount.map_or(0, |a| a.0);
    let before = if at > 0 { w.at(at - 1) } else { "" };
    let absolute = before == "to" || before == "at";
    let by = before == "by";
    let more = w.any(&["another", "more", "extra", "additional"]);
    let less = w.any(&["less", "fewer"]);
    let up = w.any(&["bump", "increase", "raise", "add", "up", "grow", "ramp"]);
    let down = w.any(&[
        "reduce", "lower", "decrease", "cut", "drop", "down", "shrink",
    ]);
    let relative = !absolute && (by || more || less || up || down);
    let delta = |slot: SlotWord, sign: i64| {
        weight_of(slot).map(|now| (i64::from(now) + sign * i64::from(percent)).clamp(0, 100) as u32)
    };
    let action = match (source, target) {
        // Everything off one slot: it gets none.
        (Some(s), _) if percent >= 100 => traffic_action(s, Some(0)),
        (Some(_), Some(t)) if !absolute => traffic_action(t, delta(t, 1)),
        (Some(s), None) => traffic_action(s, delta(s, -1)),
        (_, Some(t)) if relative => {
            traffic_action(t, delta(t, if less || (down && !up) { -1 } else { 1 }))
        }
        (_, Some(t)) => traffic_action(t, Some(percent)),
        (_, None) => {
            if verb.is_none() && !w.has("traffic") {
                return None;
            }
            Action::Traffic {
                slot: None,
                percent: Some(percent),
            }
        }
    };
    Some((start, action))
}

fn traffic_action(slot: SlotWord, percent: Option<u32>) -> Action {
    Action::Traffic {
        slot: Some(slot),
        percent,
    }
}
