//! A request cut into words the router can match: lower case, contractions spelled out
//! ("don't" → "do not", "what's" → "what is", possessive "'s" dropped), each word with its
//! dictionary form ("rolled" → "roll", "deployments" → "deploy") and whether that form is
//! a past tense, and the clause it sits in (commas, "and", "but", "then" end a clause).

/// One word of a request.
#[derive(Clone, Debug)]
pub(super) struct Word {
    /// As written (lower case, contractions spelled out).
    pub text: String,
    /// The dictionary form of the verbs and nouns the router knows; else `text`.
    pub lemma: String,
    /// A past tense or participle ("rolled", "reverted", "held").
    pub past: bool,
    /// A plural noun of an action ("rollbacks", "deploys"): a question about history.
    pub plural: bool,
    pub clause: usize,
    /// The whole whitespace-separated chunk it came from, as typed (lower case, closing
    /// punctuation trimmed): a version is taken from here whole, so `2.0$(reboot)` stays
    /// what it is and is refused, rather than read as `2.0`.
    pub chunk: String,
}

/// A request as words.
#[derive(Debug)]
pub(super) struct Words {
    pub words: Vec<Word>,
    /// It has a question mark.
    pub question_mark: bool,
}

impl Words {
    pub fn new(text: &str) -> Words {
        let lower: String = text
            .to_lowercase()
            .chars()
            .map(|c| match c {
                '\u{2019}' | '\u{2018}' | '`' => '\'',
                c => c,
            })
            .collect();
        let question_mark = lower.contains('?');
        let mut words = Vec::new();
        let mut clause = 0;
        for chunk in lower.split_whitespace() {
            let whole = chunk
                .trim_end_matches(|c| ",;!?:.".contains(c))
                .trim_matches(|c| "\"'()[]<>\u{201c}\u{201d}\u{2018}\u{2019}".contains(c));
            // Split off punctuation; what ends a clause ends it after this chunk's words.
            let mut piece = String::new();
            let mut pieces: Vec<(String, bool)> = Vec::new();
            for c in chunk.chars() {
                if c.is_alphanumeric() || "-._%'+=/".contains(c) {
                    piece.push(c);
                } else {
                    let ends = ",;!?:()".contains(c);
                    pieces.push((std::mem::take(&mut piece), ends));
                }
            }
            pieces.push((piece, false));
            for (piece, ends_clause) in pieces {
                // A full stop ends a sentence; the dots inside `2.5.0` do not.
                let trimmed = piece.trim_matches(|c| c == '.' || c == '\'');
                let full_stop = piece.ends_with('.');
                for w in expand(trimmed) {
                    if ["and", "but", "then", "so", "or", "also"].contains(&w.as_str()) {
                        clause += 1;
                        continue;
                    }
                    let (lemma, past, plural) = lemma(&w);
                    words.push(Word {
                        lemma: lemma.unwrap_or(&w).to_string(),
                        text: w,
                        past,
                        plural,
                        clause,
                        chunk: whole.to_string(),
                    });
                }
                if ends_clause || full_stop {
                    clause += 1;
                }
            }
        }
        Words {
            words,
            question_mark,
        }
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The lemma at `i`, or "" past the end.
    pub fn at(&self, i: usize) -> &str {
        self.words.get(i).map_or("", |w| w.lemma.as_str())
    }

    /// The lemma before `i`, or "" at the start.
    pub fn prev(&self, i: usize) -> &str {
        i.checked_sub(1).map_or("", |k| self.at(k))
    }

    /// The word as written at `i`, or "" past the end.
    pub fn text(&self, i: usize) -> &str {
        self.words.get(i).map_or("", |w| w.text.as_str())
    }

    /// The chunk of the word at `i`, or "" past the end.
    pub fn chunk(&self, i: usize) -> &str {
        self.words.get(i).map_or("", |w| w.chunk.as_str())
    }

    pub fn has(&self, lemma: &str) -> bool {
        self.find(lemma).is_some()
    }

    pub fn any(&self, lemmas: &[&str]) -> bool {
        lemmas.iter().any(|l| self.has(l))
    }

    pub fn find(&self, lemma: &str) -> Option<usize> {
        self.words.iter().position(|w| w.lemma == lemma)
    }

    /// Whether the lemmas from `i` on are `seq`.
    pub fn seq_at(&self, i: usize, seq: &[&str]) -> bool {
        seq.iter().enumerate().all(|(k, l)| self.at(i + k) == *l)
    }

    /// Where `seq` (lemmas) starts, the first time.
    pub fn find_seq(&self, seq: &[&str]) -> Option<usize> {
        (0..self.len()).find(|&i| self.seq_at(i, seq))
    }

    pub fn has_seq(&self, seq: &[&str]) -> bool {
        self.find_seq(seq).is_some()
    }

    pub fn clause(&self, i: usize) -> usize {
        self.words.get(i).map_or(usize::MAX, |w| w.clause)
    }

    /// The indices of the words of `i`'s clause before `i`, nearest first.
    pub fn before_in_clause(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        let clause = self.clause(i);
        (0..i).rev().take_while(move |&k| self.clause(k) == clause)
    }
}

/// Contractions spelled out: "don't" → do not, "what's" → what is, "checkout's" →
/// checkout.
fn expand(w: &str) -> Vec<String> {
    let two = |a: &str, b: &str| vec![a.to_string(), b.to_string()];
    match w {
        "" => return Vec::new(),
        "won't" | "wont" => return two("will", "not"),
        "can't" | "cant" | "cannot" => return two("can", "not"),
        "shan't" => return two("shall", "not"),
        "let's" | "lets" => return two("let", "us"),
        "dont" | "didnt" | "doesnt" | "isnt" | "arent" | "wasnt" | "werent" | "shouldnt"
        | "wouldnt" | "couldnt" | "havent" | "hasnt" | "hadnt" | "mustnt" => {
            return two(w.trim_end_matches("nt"), "not");
        }
        "whats" => return two("what", "is"),
        _ => {}
    }
    if let Some(stem) = w.strip_suffix("n't") {
        return two(stem, "not");
    }
    for (suffix, word) in [
        ("'re", "are"),
        ("'ve", "have"),
        ("'ll", "will"),
        ("'d", "would"),
        ("'m", "am"),
    ] {
        if let Some(stem) = w.strip_suffix(suffix) {
            return two(stem, word);
        }
    }
    if let Some(stem) = w.strip_suffix("'s") {
        return match stem {
            "what" | "it" | "that" | "how" | "where" | "who" | "there" | "here" | "when"
            | "why" | "he" | "she" | "everything" | "nothing" => two(stem, "is"),
            // A possessive: "checkout's p99" is checkout's.
            _ => vec![stem.to_string()],
        };
    }
    vec![w.to_string()]
}

/// Verbs the router knows, in their dictionary form; the regular forms (-s, -ed, -ing,
/// doubled consonants) are recognised from these.
const VERBS: &[&str] = &[
    "roll",
    "revert",
    "restore",
    "downgrade",
    "promote",
    "advance",
    "finish",
    "complete",
    "finalize",
    "finalise",
    "abort",
    "cancel",
    "stop",
    "kill",
    "scrap",
    "terminate",
    "end",
    "ditch",
    "pause",
    "halt",
    "freeze",
    "suspend",
    "resume",
    "unpause",
    "unfreeze",
    "continue",
    "proceed",
    "deploy",
    "ship",
    "release",
    "launch",
    "push",
    "upgrade",
    "update",
    "install",
    "shift",
    "move",
    "route",
    "bump",
    "direct",
    "steer",
    "split",
    "dial",
    "increase",
    "raise",
    "lower",
    "reduce",
    "decrease",
    "drop",
    "drain",
    "switch",
    "flip",
    "return",
    "fail",
    "happen",
    "change",
    "crash",
    "step",
    "back",
    "empty",
    "evacuate",
    "allocate",
    "assign",
    "point",
    "redirect",
    "add",
    "skip",
    "call",
    "wrap",
    "rollback",
    "undo",
    "redeploy",
    "trigger",
];

/// Irregular and noun forms: (form, lemma, past).
const FORMS: &[(&str, &str, bool)] = &[
    ("undid", "undo", true),
    ("undone", "undo", true),
    ("undoing", "undo", false),
    ("undoes", "undo", false),
    ("froze", "freeze", true),
    ("frozen", "freeze", true),
    ("held", "hold", true),
    ("holding", "hold", false),
    ("holds", "hold", false),
    ("sent", "send", true),
    ("sending", "send", false),
    ("sends", "send", false),
    ("gave", "give", true),
    ("given", "give", true),
    ("giving", "give", false),
    ("gives", "give", false),
    ("went", "go", true),
    ("gone", "go", true),
    ("going", "go", false),
    ("goes", "go", false),
    ("fell", "fall", true),
    ("fallen", "fall", true),
    ("falling", "fall", false),
    ("took", "take", true),
    ("taken", "take", true),
    ("taking", "take", false),
    ("takes", "take", false),
    ("putting", "put", false),
    ("puts", "put", false),
    ("setting", "set", false),
    ("sets", "set", false),
    ("cutting", "cut", false),
    ("cuts", "cut", false),
    ("broke", "break", true),
    ("broken", "break", true),
    ("deployment", "deploy", false),
    ("promotion", "promote", false),
    ("reversion", "revert", false),
    ("rollout", "rollout", false),
    ("canaries", "canary", false),
    ("per", "per", false),
    ("percentage", "percent", false),
    ("pct", "percent", false),
    ("%", "percent", false),
];

/// Nouns whose plural asks about history.
const ACTION_NOUNS: &[&str] = &[
    "rollback",
    "deploy",
    "deployment",
    "release",
    "rollout",
    "promotion",
    "revert",
];

/// `(lemma, past, plural)` of a word; `None` keeps the word itself.
fn lemma(w: &str) -> (Option<&'static str>, bool, bool) {
    if let Some(&(_, lemma, past)) = FORMS.iter().find(|(form, _, _)| *form == w) {
        return (Some(lemma), past, false);
    }
    if let Some(stem) = w.strip_suffix('s')
        && let Some(&noun) = ACTION_NOUNS.iter().find(|n| **n == stem)
    {
        let lemma = match noun {
            "deployment" => "deploy",
            "promotion" => "promote",
            n => n,
        };
        return (Some(lemma), false, true);
    }
    for &verb in VERBS {
        let e = verb.ends_with('e');
        let stem = if e { &verb[..verb.len() - 1] } else { verb };
        let Some(rest) = w.strip_prefix(stem) else {
            continue;
        };
        let last = &verb[verb.len() - 1..];
        let rest = match rest.strip_prefix(last) {
            // A doubled last consonant: "stopped", "shipping", "cancelled".
            Some(r) if !e && (r == "ed" || r == "ing") => r,
            _ => rest,
        };
        let known = if e {
            ["e", "es", "ed", "ing"].contains(&rest)
        } else {
            ["", "s", "es", "ed", "ing"].contains(&rest)
        };
        if known {
            return (Some(verb), rest == "ed", false);
        }
    }
    (None, false, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verb_forms_have_their_dictionary_form_and_tense() {
        for (form, want, past) in [
            ("rolled", "roll", true),
            ("rolling", "roll", false),
            ("promoted", "promote", true),
            ("promoting", "promote", false),
            ("promotes", "promote", false),
            ("stopped", "stop", true),
            ("stopping", "stop", false),
            ("shipped", "ship", true),
            ("cancelled", "cancel", true),
            ("canceled", "cancel", true),
            ("deployments", "deploy", false),
            ("deploys", "deploy", false),
            ("rollbacks", "rollback", false),
            ("held", "hold", true),
            ("reverted", "revert", true),
            ("pauses", "pause", false),
            ("paused", "pause", true),
            ("moving", "move", false),
            ("continued", "continue", true),
            ("halted", "halt", true),
            ("drained", "drain", true),
            ("checkout", "checkout", false),
            ("green", "green", false),
            ("ended", "end", true),
        ] {
            let (lemma, is_past, _) = lemma(form);
            assert_eq!((lemma.unwrap_or(form), is_past), (want, past), "{form}");
        }
    }

    #[test]
    fn contractions_are_spelled_out_and_punctuation_ends_clauses() {
        let w = Words::new("Please don't roll back expense-tracker's 2.5.0, what's up?");
        let texts: Vec<&str> = w.words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "please",
                "do",
                "not",
                "roll",
                "back",
                "expense-tracker",
                "2.5.0",
                "what",
                "is",
                "up"
            ]
        );
        assert_eq!(w.clause(6), 0);
        assert_eq!(w.clause(7), 1);
        assert!(w.question_mark);
    }
}
