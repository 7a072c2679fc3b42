//! A parsed plugin.md: what the person asked for, with the line each part came from, so a
//! later step (the scaffold, a model's prompt, the dashboard's story list) can point back.

use serde::Serialize;

/// A whole plugin.md.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Spec {
    /// As written after `## Plugin:`, e.g. "Expense Tracker".
    pub display_name: String,
    /// The plugin name naap uses (`expense-tracker`), derived from the display name.
    pub name: String,
    /// The paragraph under `### Description` (lines joined with spaces).
    pub description: String,
    pub stories: Vec<Story>,
    /// Empty when the spec has no `### Data Model`.
    pub entities: Vec<Entity>,
    pub permissions: Vec<Permission>,
    pub integrations: Vec<Integration>,
    pub settings: Vec<Setting>,
}

impl Spec {
    /// The entity with this name (names are case-sensitive, as written).
    pub fn entity(&self, name: &str) -> Option<&Entity> {
        self.entities.iter().find(|e| e.name == name)
    }
}

/// `#### US-1: Title` and what follows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Story {
    /// `US-1`.
    pub id: String,
    pub title: String,
    /// The ROLE of "As a ROLE, I want ACTION, so that BENEFIT."
    pub role: String,
    pub action: String,
    pub benefit: String,
    pub criteria: Vec<Criterion>,
    pub line: usize,
}

/// One `- [ ]` / `- [x]` item under `**Acceptance Criteria:**`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Criterion {
    pub text: String,
    /// Ticked (`- [x]`) in the spec.
    pub done: bool,
    pub line: usize,
}

/// `Name { field: Type … }` in the data model block.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Entity {
    pub name: String,
    pub fields: Vec<Field>,
    pub line: usize,
}

impl Entity {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// `name: Type?` with an optional trailing `(note)`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: FieldType,
    /// Written with a `?`: may be absent or null.
    pub optional: bool,
    /// The trailing `(…)` note, without its parentheses.
    pub note: Option<String>,
    /// From a note `default VALUE` on an enum field: the value a new record gets when the
    /// field is left out.
    pub default: Option<String>,
    pub line: usize,
}

/// The types a field may have.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", content = "of", rename_all = "snake_case")]
pub enum FieldType {
    Uuid,
    String,
    Decimal,
    Int,
    Boolean,
    DateTime,
    /// `Enum (a, b, c)`: one of these values.
    Enum(Vec<String>),
    /// Another entity's name: the id of one of its records.
    Reference(String),
}

impl FieldType {
    /// How the type is written in a spec, for messages.
    pub fn describe(&self) -> String {
        match self {
            FieldType::Uuid => "UUID".into(),
            FieldType::String => "String".into(),
            FieldType::Decimal => "Decimal".into(),
            FieldType::Int => "Int".into(),
            FieldType::Boolean => "Boolean".into(),
            FieldType::DateTime => "DateTime".into(),
            FieldType::Enum(values) => format!("Enum ({})", values.join(", ")),
            FieldType::Reference(entity) => entity.clone(),
        }
    }
}

/// `- scope:role - what it may do`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Permission {
    pub scope: String,
    pub role: String,
    pub description: String,
    pub line: usize,
}

/// `- Name: purpose (required | optional)`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Integration {
    pub name: String,
    pub purpose: String,
    pub required: bool,
    pub line: usize,
}

/// `- name: Type (what it does)`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Setting {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub description: Option<String>,
    pub line: usize,
}
