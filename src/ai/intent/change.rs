//! A request to change a plugin's code ("make /api/items return the newest first", "add a
//! created_at field to expenses", "iterate checkout: log each refund"): work for the
//! iterate pipeline, never an operation. Recognised only when it opens with a verb of
//! change and says what in the code, or opens with "iterate"; "make it faster" is too
//! vague to hand a model as an edit and stays unknown.

use super::Intent;
use super::words::Words;

/// Verbs that open a request to change code. Not "return": "return to 2.4.0" is a rollback.
const CHANGE_VERBS: &[&str] = &[
    "make",
    "change",
    "add",
    "remove",
    "rename",
    "sort",
    "implement",
    "refactor",
    "rewrite",
    "validate",
    "support",
    "handle",
    "allow",
    "reject",
    "include",
    "limit",
    "paginate",
    "expose",
];

/// Words that say what in the code is to change.
const CODE_WORDS: &[&str] = &[
    "endpoint",
    "endpoints",
    "route",
    "routes",
    "field",
    "fields",
    "api",
    "response",
    "responses",
    "return",
    "json",
    "header",
    "headers",
    "function",
    "test",
    "tests",
    "column",
    "columns",
    "parameter",
    "parameters",
    "query",
    "validation",
    "message",
    "order",
    "sorted",
    "newest",
    "oldest",
    "page",
    "pagination",
];

/// The change `w` asks for, if it is one; `plugin` is the plugin it names or the one in
/// view. The instruction is the request as typed, less a leading "iterate PLUGIN:".
pub(super) fn change(w: &Words, text: &str, plugin: Option<String>) -> Option<Intent> {
    if let Some(rest) = retry(w, text) {
        return Some(match plugin {
            Some(plugin) => Intent::Retry {
                instruction: rest
                    .strip_prefix(plugin.as_str())
                    .unwrap_or(&rest)
                    .trim_start_matches([',', ':', ' '])
                    .to_string(),
                plugin,
            },
            None => Intent::NoPlugin,
        });
    }
    let explicit = w.text(0) == "iterate";
    let asks_change = CHANGE_VERBS.contains(&w.text(0))
        && !w.question_mark
        && (0..w.len()).any(|i| {
            CODE_WORDS.contains(&w.text(i))
                || w.chunk(i).starts_with('/')
                || w.text(i).contains('_')
        });
    if !explicit && !asks_change {
        return None;
    }
    let Some(plugin) = plugin else {
        return Some(Intent::NoPlugin);
    };
    let mut instruction = text.trim();
    if explicit {
        instruction = instruction["iterate".len()..].trim_start();
        if let Some(rest) = instruction.strip_prefix(plugin.as_str()) {
            instruction = rest;
        }
        instruction = instruction.trim_start_matches([':', ' ', ',']).trim();
    }
    if instruction.is_empty() {
        return None;
    }
    Some(Intent::Change {
        plugin,
        instruction: instruction.to_string(),
    })
}

/// "try again", "retry", "try once more" at the start (not a question): what follows it.
fn retry(w: &Words, text: &str) -> Option<String> {
    let words = if w.seq_at(0, &["try", "again"]) {
        2
    } else if w.text(0) == "retry" {
        1
    } else if w.seq_at(0, &["try", "once", "more"]) {
        3
    } else {
        return None;
    };
    if w.question_mark {
        return None;
    }
    // What was said after the opening words, as typed.
    let mut rest = text.trim();
    for _ in 0..words {
        rest = rest
            .split_once(char::is_whitespace)
            .map_or("", |(_, r)| r)
            .trim_start();
    }
    Some(
        rest.trim_start_matches([',', ':', '-', ' '])
            .trim()
            .to_string(),
    )
}
