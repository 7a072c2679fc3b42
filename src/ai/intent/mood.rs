//! Whether a request that names an action asks for it. Only a plain request does; a
//! negation ("don't roll back"), a question ("is it safe to roll back?"), a hypothetical
//! ("what happens if I promote") or a question about the past ("did it roll back?") only
//! mentions it, and is never a proposal.

use super::words::Words;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mood {
    /// Do it (as a card a person confirms).
    Request,
    /// Do not do it.
    Negated,
    /// A question or a hypothetical about doing it.
    Asked,
    /// A question or statement about what already happened.
    Past,
}

const WH: &[&str] = &[
    "what", "why", "how", "when", "which", "who", "where", "whats",
];
const AUX: &[&str] = &[
    "is", "are", "am", "was", "were", "do", "does", "did", "should", "shall", "can", "could",
    "would", "will", "may", "might", "must", "has", "have", "had", "shouldnt",
];
/// Words a sentence may start with before it says anything.
const FILLERS: &[&str] = &[
    "so", "ok", "okay", "hey", "um", "uh", "well", "hmm", "naap", "operator", "quick", "question",
    "also", "and", "right", "now",
];

/// The mood of the action named at word `at`.
pub(super) fn mood(w: &Words, at: usize) -> Mood {
    if past(w, at) && !hypothetical(w) {
        return Mood::Past;
    }
    if hypothetical(w) || asked_phrase(w) {
        return Mood::Asked;
    }
    let question_start = question_start(w);
    if negated(w, at) && !question_start {
        return Mood::Negated;
    }
    if question_start && !polite_start(w) {
        return Mood::Asked;
    }
    if w.question_mark && !polite_start(w) && !w.has("please") {
        return Mood::Asked;
    }
    Mood::Request
}

fn first_word(w: &Words) -> usize {
    (0..w.len())
        .find(|&i| !FILLERS.contains(&w.at(i)))
        .unwrap_or(0)
}

/// "is it…", "should I…", "what would…", "why…" (but not the imperative "do not…").
fn question_start(w: &Words) -> bool {
    let i = first_word(w);
    let first = w.at(i);
    if (first == "do" || first == "does") && w.at(i + 1) == "not" {
        return false;
    }
    WH.contains(&first) || AUX.contains(&first)
}

/// "can you…", "could you please…", "would you mind…": a request put as a question.
fn polite_start(w: &Words) -> bool {
    let i = first_word(w);
    let i = if w.at(i) == "please" { i + 1 } else { i };
    (["can", "could", "would", "will", "do"].contains(&w.at(i))
        && ["you", "u", "ya"].contains(&w.at(i + 1)))
        && !(w.at(i) == "do" && w.at(i + 2) != "mind")
}

/// Words that make any sentence a question about an action, whatever its form.
fn asked_phrase(w: &Words) -> bool {
    const ONE: &[&str] = &[
        "safe",
        "safely",
        "risky",
        "wise",
        "worth",
        "explain",
        "wonder",
        "mean",
        "means",
        "consequences",
        "danger",
        "dangerous",
        "hypothetically",
    ];
    const SEQS: &[&[&str]] = &[
        &["ok", "to"],
        &["okay", "to"],
        &["alright", "to"],
        &["fine", "to"],
        &["good", "idea"],
        &["bad", "idea"],
        &["tell", "me", "about"],
        &["tell", "me", "what"],
        &["what", "does"],
        &["what", "do"],
        &["what", "would"],
        &["what", "will"],
        &["how", "do"],
        &["how", "does"],
        &["how", "would"],
        &["should", "i"],
        &["should", "we"],
        &["do", "i", "need"],
        &["do", "we", "need"],
        &["is", "it", "time"],
        &["can", "i"],
        &["can", "we"],
        &["could", "i"],
        &["could", "we"],
        &["what", "about"],
        &["how", "about"],
    ];
    w.any(ONE) || SEQS.iter().any(|s| w.has_seq(s))
}

/// "if", "unless", "suppose", "what happens", "would" (not "would you", "I would like"),
/// "when" after the start ("roll back when errors rise" is a condition, not a request).
fn hypothetical(w: &Words) -> bool {
    const ONE: &[&str] = &[
        "if",
        "unless",
        "suppose",
        "supposing",
        "imagine",
        "hypothetically",
        "whether",
        "once",
        "might",
        "hypothetical",
    ];
    if w.any(ONE)
        || w.has_seq(&["as", "soon", "as"])
        || w.has_seq(&["in", "case"])
        || w.has_seq(&["what", "happen"])
    {
        return true;
    }
    (0..w.len()).any(|i| match w.at(i) {
        "would" | "could" => {
            !["you", "u", "like", "love", "prefer", "appreciate", "mind"].contains(&w.at(i + 1))
        }
        "when" => i > first_word(w),
        _ => false,
    })
}

/// "not", "never", "no need to", "without", "instead of", "rather than", "hold off on"
/// shortly before the action, in its clause.
fn negated(w: &Words, at: usize) -> bool {
    w.before_in_clause(at).take(6).any(|k| {
        let next = w.at(k + 1);
        match w.at(k) {
            "not" | "never" | "without" | "avoid" | "refrain" | "nobody" | "nor" => true,
            "no" => next == "need" || next == "more" || k + 1 == at || next == "one",
            "instead" => next == "of",
            "rather" => next == "than",
            "hold" => next == "off",
            "stop" => w.text(k + 1).ends_with("ing"),
            _ => false,
        }
    })
}

/// "did it…", "was it…", "has it been…", "it rolled back", "the last deploy", "any
/// rollbacks", "… ago".
fn past(w: &Words, at: usize) -> bool {
    let before: Vec<usize> = w.before_in_clause(at).collect();
    let aux = before.iter().any(|&k| {
        let next = w.at(k + 1);
        match w.at(k) {
            "did" | "was" | "were" | "been" => true,
            "has" | "have" | "had" => next != "to" && next != "got",
            _ => false,
        }
    });
    const CAUSES: &[&str] = &[
        "want", "wants", "need", "needs", "get", "like", "make", "please", "would", "have",
    ];
    let word = &w.words[at];
    let own_past = word.past && !before.iter().any(|&k| CAUSES.contains(&w.at(k)));
    let last = at > 0 && {
        let prev = w.at(at - 1);
        ["last", "latest", "previous", "recent", "prior", "first"].contains(&prev)
            || (prev == "the" && at > 1 && ["last", "latest"].contains(&w.at(at - 2)))
    };
    let when = (0..w.len()).any(|k| {
        [
            "ago",
            "yesterday",
            "earlier",
            "lately",
            "recently",
            "overnight",
        ]
        .contains(&w.at(k))
            || w.seq_at(k, &["last", "night"])
            || w.seq_at(k, &["last", "week"])
    });
    // "the rollback worked", "deploy failed": a report on an action, by its noun.
    let noun = [
        "rollback", "deploy", "release", "rollout", "promote", "revert",
    ]
    .contains(&w.at(at))
        && w.text(at) != "promote";
    let reported = w.words.get(at + 1).is_some_and(|n| n.past)
        || ["is", "was", "worked", "work", "done", "went"].contains(&w.at(at + 1));
    let determiner =
        at > 0 && ["the", "that", "this", "a", "your", "my", "our", "its"].contains(&w.at(at - 1));
    let report = noun && reported && (determiner || at == first_word(w));
    // "thanks for the rollback".
    let clause = w.clause(at);
    let thanks = (0..w.len())
        .any(|k| w.clause(k) == clause && ["thanks", "thank", "thx", "cheers"].contains(&w.at(k)));
    aux || own_past || last || word.plural || when || report || thanks
}
