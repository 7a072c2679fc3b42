//! Which acceptance criteria a scaffold can honestly check, and the stories list
//! (`stories.json`) that maps each story to its criteria and the test of each.
//!
//! A scaffold stores and validates records; it enforces no roles, computes no totals and
//! sends no mail. So a criterion gets a real test only when it speaks of the data model
//! (an entity, its fields, an enum's values) and of nothing the scaffold does not do; every
//! other criterion gets a test that is reported as skipped, "still to implement".

use serde::Serialize;

use super::model::{Criterion, Entity, FieldType, Spec, Story};

/// Words that say a criterion is about behaviour beyond storing and validating records.
const BEHAVIOUR_WORDS: [&str; 24] = [
    "only",
    "cannot",
    "can't",
    "never",
    "must not",
    "notif",
    "email",
    "mail",
    "total",
    "sum",
    "dashboard",
    "chart",
    "report",
    "month",
    "export",
    "permission",
    "log in",
    "login",
    "sorted",
    "newest",
    "search",
    "filter",
    "upload",
    "within",
];

/// What the test of one criterion checks.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Check {
    /// Create, read, list, update and delete records of the entity.
    Routes { entity: String },
    /// These fields are accepted and stored, required ones refused when missing, values
    /// of the wrong type refused.
    Fields { entity: String, fields: Vec<String> },
    /// The enum field takes these values and refuses others.
    EnumValues {
        entity: String,
        field: String,
        values: Vec<String>,
    },
    /// Nothing a scaffold can check: a skipped test names it.
    ToImplement,
}

impl Check {
    /// One line for people: what the test checks.
    pub fn describe(&self) -> String {
        match self {
            Check::Routes { entity } => {
                format!("scaffold check: the {entity} routes create, read, list, update and delete")
            }
            Check::Fields { entity, fields } => format!(
                "scaffold check: {entity} accepts and stores {}; refuses them missing (when required) or of the wrong type",
                fields.join(", ")
            ),
            Check::EnumValues {
                entity,
                field,
                values,
            } => format!(
                "scaffold check: {entity}.{field} takes {} and refuses other values",
                values.join(", ")
            ),
            Check::ToImplement => "still to implement: no scaffold test can check it".into(),
        }
    }
}

/// `stories.json`: every story with its criteria and the test of each.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoriesFile {
    pub plugin: String,
    /// The spec the plugin came from, as copied into the plugin directory.
    pub spec: String,
    /// The command that runs the tests, from the plugin directory.
    pub test_command: String,
    pub stories: Vec<StoryTests>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoryTests {
    pub id: String,
    pub title: String,
    pub line: usize,
    pub criteria: Vec<CriterionTest>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CriterionTest {
    pub text: String,
    /// Ticked in the spec.
    pub done: bool,
    pub line: usize,
    /// The unittest id, e.g. `tests.test_stories.StoryTests.test_us1_c2_…`.
    pub test: String,
    /// The test's method name.
    #[serde(skip)]
    pub method: String,
    pub check: Check,
    pub describes: String,
}

/// The module and class the tests live in (the Python file is `tests/test_stories.py`).
pub const TEST_CLASS: &str = "tests.test_stories.StoryTests";

/// Plans the test of every criterion of every story.
pub fn plan(spec: &Spec, spec_file: &str, test_command: &str) -> StoriesFile {
    let roles = role_words(spec);
    let stories = spec
        .stories
        .iter()
        .map(|story| StoryTests {
            id: story.id.clone(),
            title: story.title.clone(),
            line: story.line,
            criteria: story
                .criteria
                .iter()
                .enumerate()
                .map(|(i, criterion)| criterion_test(spec, story, i + 1, criterion, &roles))
                .collect(),
        })
        .collect();
    StoriesFile {
        plugin: spec.name.clone(),
        spec: spec_file.to_string(),
        test_command: test_command.to_string(),
        stories,
    }
}

fn criterion_test(
    spec: &Spec,
    story: &Story,
    index: usize,
    criterion: &Criterion,
    roles: &[String],
) -> CriterionTest {
    let check = classify(&criterion.text, &spec.entities, roles);
    let method = format!(
        "test_{}_c{index}_{}",
        story.id.to_ascii_lowercase().replace('-', ""),
        snake(&criterion.text, 48)
    );
    CriterionTest {
        text: criterion.text.clone(),
        done: criterion.done,
        line: criterion.line,
        test: format!("{TEST_CLASS}.{method}"),
        method,
        describes: check.describe(),
        check,
    }
}

/// The roles of the stories and permissions: access rules the scaffold does not enforce.
fn role_words(spec: &Spec) -> Vec<String> {
    let mut roles: Vec<String> = spec
        .stories
        .iter()
        .map(|s| s.role.to_lowercase())
        .chain(spec.permissions.iter().map(|p| p.role.to_lowercase()))
        .filter(|r| !r.is_empty())
        .collect();
    roles.sort();
    roles.dedup();
    roles
}

/// What a scaffold test can check of this criterion.
pub fn classify(text: &str, entities: &[Entity], roles: &[String]) -> Check {
    let lower = format!(" {} ", words_only(text));
    let says = |phrase: &str| lower.contains(&format!(" {phrase} "));
    let words: Vec<&str> = lower.split_whitespace().collect();
    // A behaviour word as a word's start ("notified"), a phrase as it is ("must not").
    let behaviour = |w: &&str| {
        if w.contains(' ') {
            says(w)
        } else {
            words.iter().any(|word| word.starts_with(*w))
        }
    };
    if BEHAVIOUR_WORDS.iter().any(behaviour) || roles.iter().any(|r| says(r)) {
        return Check::ToImplement;
    }
    let mentions_value = |value: &str| {
        let value = value.to_lowercase();
        words
            .iter()
            .any(|w| *w == value || (w.len() >= 5 && value.starts_with(w)))
    };
    let named = |entity: &Entity| {
        let phrase = words_only(&split_camel(&entity.name));
        says(&phrase) || says(&plural(&phrase))
    };
    let mentioned: Vec<&Entity> = entities.iter().filter(|e| named(e)).collect();
    // An enum value or a field may name its entity on its own ("approved", "receipt_url").
    let candidates: Vec<&Entity> = if mentioned.is_empty() {
        entities.iter().collect()
    } else {
        mentioned.clone()
    };
    for entity in &candidates {
        for field in &entity.fields {
            if let FieldType::Enum(values) = &field.ty {
                let hit: Vec<String> = values
                    .iter()
                    .filter(|v| mentions_value(v))
                    .cloned()
                    .collect();
                if !hit.is_empty() {
                    return Check::EnumValues {
                        entity: entity.name.clone(),
                        field: field.name.clone(),
                        values: hit,
                    };
                }
            }
        }
    }
    for entity in &candidates {
        let fields: Vec<String> = entity
            .fields
            .iter()
            .filter(|f| f.name != "id")
            .filter(|f| says(&f.name.replace('_', " ")) || says(&f.name.to_lowercase()))
            .map(|f| f.name.clone())
            .collect();
        if !fields.is_empty() {
            return Check::Fields {
                entity: entity.name.clone(),
                fields,
            };
        }
    }
    match mentioned.first() {
        Some(entity) => Check::Routes {
            entity: entity.name.clone(),
        },
        None => Check::ToImplement,
    }
}

/// Lower case, punctuation to spaces (apostrophes kept, so "can't" stays one word).
fn words_only(text: &str) -> String {
    text.chars()
        .map(|ch| {
            if ch.is_alphanumeric() || ch == '\'' || ch == '_' {
                ch.to_ascii_lowercase()
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// "ExpenseReport" → "Expense Report".
fn split_camel(name: &str) -> String {
    let mut out = String::new();
    for (i, ch) in name.chars().enumerate() {
        if i > 0 && ch.is_uppercase() {
            out.push(' ');
        }
        out.push(ch);
    }
    out
}

/// English plural of a lower-case word or phrase (its last word).
pub fn plural(word: &str) -> String {
    let consonant_y = word.ends_with('y')
        && !word.ends_with("ay")
        && !word.ends_with("ey")
        && !word.ends_with("oy")
        && !word.ends_with("uy");
    if consonant_y {
        format!("{}ies", &word[..word.len() - 1])
    } else if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|e| word.ends_with(e))
    {
        format!("{word}es")
    } else {
        format!("{word}s")
    }
}

/// The URL collection of an entity: "ExpenseReport" → "expense-reports".
pub fn collection(entity: &str) -> String {
    plural(&split_camel(entity).to_lowercase()).replace(' ', "-")
}

/// A Python identifier piece from text, at most `max` characters.
fn snake(text: &str, max: usize) -> String {
    let mut out = String::new();
    for ch in text.chars().flat_map(char::to_lowercase) {
        if ch.is_ascii_alphanumeric() {
            out.push(ch);
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    out.truncate(max);
    let out = out.trim_end_matches('_').to_string();
    if out.is_empty() {
        "criterion".into()
    } else {
        out
    }
}
