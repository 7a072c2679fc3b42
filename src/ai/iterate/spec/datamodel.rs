//! `### Data Model`: the fenced block of `Name { field: Type … }` entities.

use super::errors::Collector;
use super::lines::{Line, LineKind, Section};
use super::model::{Entity, Field, FieldType};
use super::parse::regex;

const TYPES_FIX: &str = "use UUID, String, Decimal, Int, Boolean, DateTime, Enum (a, b, c) or the \
                         name of an entity defined in this block";

/// Type names people write for the built-in ones.
const ALIASES: [(&str, &str); 12] = [
    ("Integer", "Int"),
    ("Number", "Decimal"),
    ("Float", "Decimal"),
    ("Double", "Decimal"),
    ("Money", "Decimal"),
    ("Bool", "Boolean"),
    ("Text", "String"),
    ("Str", "String"),
    ("Date", "DateTime"),
    ("Timestamp", "DateTime"),
    ("Uuid", "UUID"),
    ("Datetime", "DateTime"),
];

/// A character of the block with where it is.
#[derive(Clone, Copy)]
struct At {
    line: usize,
    column: usize,
    ch: char,
}

pub(super) fn entities(section: &Section, c: &mut Collector) -> Vec<Entity> {
    let blocks = fenced_blocks(&section.body);
    if blocks.is_empty() {
        c.error(
            section.line,
            "the data model has no fenced code block",
            "put the entities between ``` lines: ```\\nExpense {\\n  id: UUID\\n}\\n```",
        );
        return Vec::new();
    }
    let mut entities: Vec<Entity> = Vec::new();
    for block in blocks {
        for entity in read_block(&block, c) {
            if let Some(first) = entities.iter().find(|e| e.name == entity.name) {
                c.error(
                    entity.line,
                    format!(
                        "entity {} is defined twice (first at line {})",
                        entity.name, first.line
                    ),
                    "keep one definition and merge their fields",
                );
                continue;
            }
            entities.push(entity);
        }
    }
    if entities.is_empty() {
        c.error(
            section.line,
            "the data model's code block defines no entity",
            "write entities as `Name { field: Type }`, one field per line",
        );
    }
    check_references(&entities, c);
    entities
}

fn fenced_blocks<'a>(body: &'a [Line<'a>]) -> Vec<Vec<At>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<At>> = None;
    for line in body {
        match line.kind {
            LineKind::Fence => match current.take() {
                Some(block) => blocks.push(block),
                None => current = Some(Vec::new()),
            },
            LineKind::Fenced => {
                if let Some(block) = &mut current {
                    // `//` starts a comment to the end of the line.
                    let text = line.text.split("//").next().unwrap_or_default();
                    block.extend(text.chars().enumerate().map(|(i, ch)| At {
                        line: line.number,
                        column: i + 1,
                        ch,
                    }));
                    block.push(At {
                        line: line.number,
                        column: text.chars().count() + 1,
                        ch: '\n',
                    });
                }
            }
            LineKind::Text => {}
        }
    }
    // An unclosed fence is reported by the outline; read what it holds anyway.
    blocks.extend(current);
    blocks
}

fn read_block(block: &[At], c: &mut Collector) -> Vec<Entity> {
    let name_re = regex(r"^[A-Z][A-Za-z0-9_]*$");
    let mut out = Vec::new();
    let mut i = 0;
    while i < block.len() {
        if block[i].ch.is_whitespace() {
            i += 1;
            continue;
        }
        // An entity: its name, then `{`.
        let start = block[i];
        let open = block[i..].iter().position(|a| a.ch == '{' || a.ch == '\n');
        let name_end = open.map(|n| i + n).unwrap_or(block.len());
        let name: String = block[i..name_end].iter().map(|a| a.ch).collect();
        let name = name.trim().to_string();
        if name_end >= block.len() || block[name_end].ch != '{' {
            c.error_at(
                start.line,
                start.column,
                format!("`{name}` does not open an entity"),
                format!(
                    "write `{} {{` with the fields on the lines below and `}}` after them",
                    first_word(&name)
                ),
            );
            i = name_end + 1;
            continue;
        }
        if !name_re.is_match(&name) {
            c.error_at(
                start.line,
                start.column,
                format!("`{name}` is not an entity name"),
                "start it with a capital letter, letters and digits only, e.g. `Expense {`",
            );
        }
        let (fields, next) = read_fields(block, name_end + 1, &name, start.line, c);
        i = next;
        if fields.is_empty() {
            c.error(
                start.line,
                format!("entity {name} has no fields"),
                "add at least `id: UUID` between the braces",
            );
        }
        out.push(Entity {
            name,
            fields,
            line: start.line,
        });
    }
    out
}

fn first_word(text: &str) -> &str {
    text.split_whitespace().next().unwrap_or("Name")
}

/// The fields from `from` up to the entity's `}`; returns them and the index after `}`.
fn read_fields(
    block: &[At],
    from: usize,
    entity: &str,
    entity_line: usize,
    c: &mut Collector,
) -> (Vec<Field>, usize) {
    let mut fields: Vec<Field> = Vec::new();
    let mut piece: Vec<At> = Vec::new();
    let mut depth = 0usize;
    let mut i = from;
    let mut closed = false;
    while i < block.len() {
        let at = block[i];
        i += 1;
        match at.ch {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        let ends_piece = depth == 0 && matches!(at.ch, ',' | '\n' | '}');
        if !ends_piece {
            piece.push(at);
            continue;
        }
        if let Some(field) = field(&piece, entity, c) {
            if let Some(first) = fields.iter().find(|f| f.name == field.name) {
                c.error(
                    field.line,
                    format!(
                        "{entity}.{} is defined twice (first at line {})",
                        field.name, first.line
                    ),
                    "remove one of them",
                );
            } else {
                fields.push(field);
            }
        }
        piece.clear();
        if at.ch == '}' {
            closed = true;
            break;
        }
    }
    if !closed {
        c.error(
            entity_line,
            format!("`{entity} {{` is never closed"),
            "add a `}` line after its last field",
        );
    }
    (fields, i)
}

/// One `name: Type? (note)`; `None` (reported) when it is malformed or blank.
fn field(piece: &[At], entity: &str, c: &mut Collector) -> Option<Field> {
    let skip = piece.iter().position(|a| !a.ch.is_whitespace())?;
    let piece = &piece[skip..];
    let start = piece[0];
    let text: String = piece.iter().map(|a| a.ch).collect();
    let text = text.trim_end();
    let Some(colon) = piece.iter().position(|a| a.ch == ':') else {
        c.error_at(
            start.line,
            start.column,
            format!("{entity}: `{text}` has no type"),
            format!("write `{}: String` (name, colon, type)", first_word(text)),
        );
        return None;
    };
    let name: String = piece[..colon].iter().map(|a| a.ch).collect();
    let name = name.trim().to_string();
    if !regex(r"^[A-Za-z_][A-Za-z0-9_]*$").is_match(&name) {
        c.error_at(
            start.line,
            start.column,
            format!("{entity}: `{name}` is not a field name"),
            "use letters, digits and underscores, e.g. `submitted_at`",
        );
        return None;
    }
    let rest = &piece[colon + 1..];
    let Some(type_skip) = rest.iter().position(|a| !a.ch.is_whitespace()) else {
        c.error_at(
            start.line,
            start.column,
            format!("{entity}.{name} has no type after the colon"),
            TYPES_FIX,
        );
        return None;
    };
    let type_at = rest[type_skip];
    let type_text: String = rest[type_skip..].iter().map(|a| a.ch).collect();
    let parsed = field_type(type_text.trim_end()).map_err(|(message, fix)| {
        c.error_at(
            type_at.line,
            type_at.column,
            format!("{entity}.{name}: {message}"),
            fix,
        )
    });
    let (ty, optional, note) = parsed.ok()?;
    let default = match (&ty, note.as_deref().and_then(default_of)) {
        (FieldType::Enum(values), Some(value)) => {
            if !values.iter().any(|v| v == value) {
                c.error_at(
                    type_at.line,
                    type_at.column,
                    format!("{entity}.{name}: the default `{value}` is not one of its values"),
                    format!("use one of: {}", values.join(", ")),
                );
                return None;
            }
            Some(value.to_string())
        }
        _ => None,
    };
    if name == "id" && ty != FieldType::Uuid {
        c.error_at(
            type_at.line,
            type_at.column,
            format!(
                "{entity}.id is {}, but the service assigns ids as UUIDs",
                ty.describe()
            ),
            "write `id: UUID`, or name this field differently",
        );
        return None;
    }
    Some(Field {
        name,
        ty,
        optional,
        note,
        default,
        line: start.line,
    })
}

/// `default submitted` / `default: submitted` in a note.
fn default_of(note: &str) -> Option<&str> {
    let rest = note.trim().strip_prefix("default")?;
    let value = rest.trim_start_matches(':').trim();
    (!value.is_empty() && !value.contains(char::is_whitespace)).then_some(value)
}

type FieldParts = (FieldType, bool, Option<String>);

/// `Type`, `Type?`, `Enum (a, b)`, each with an optional `(note)` after it.
fn field_type(text: &str) -> Result<FieldParts, (String, String)> {
    let word_len = text
        .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
        .unwrap_or(text.len());
    let word = &text[..word_len];
    let mut rest = text[word_len..].trim_start();
    let ty = if word == "Enum" || word == "enum" {
        let Some(inner) = rest.strip_prefix('(') else {
            return Err((
                "Enum lists no values".into(),
                "write its values in parentheses: `Enum (submitted, approved, rejected)`".into(),
            ));
        };
        let Some(close) = inner.find(')') else {
            return Err((
                "Enum ( is never closed".into(),
                "add `)` after the last value".into(),
            ));
        };
        let values: Vec<String> = inner[..close]
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        rest = inner[close + 1..].trim_start();
        if values.is_empty() {
            return Err((
                "Enum () has no values".into(),
                "list them: `Enum (submitted, approved, rejected)`".into(),
            ));
        }
        let value_re = regex(r"^[A-Za-z0-9_.\-]+$");
        if let Some(bad) = values.iter().find(|v| !value_re.is_match(v)) {
            return Err((
                format!("enum value `{bad}` is not a single word"),
                "use letters, digits, `_`, `-` or `.`, e.g. `in_review`".into(),
            ));
        }
        if let Some(twice) = values
            .iter()
            .enumerate()
            .find(|(i, v)| values[..*i].contains(v))
            .map(|(_, v)| v)
        {
            return Err((
                format!("enum value `{twice}` is listed twice"),
                "list it once".into(),
            ));
        }
        FieldType::Enum(values)
    } else {
        match word {
            "UUID" => FieldType::Uuid,
            "String" => FieldType::String,
            "Decimal" => FieldType::Decimal,
            "Int" => FieldType::Int,
            "Boolean" => FieldType::Boolean,
            "DateTime" => FieldType::DateTime,
            "" => return Err(("has no type".into(), TYPES_FIX.into())),
            _ => {
                if let Some((_, real)) = ALIASES
                    .iter()
                    .find(|(alias, _)| alias.eq_ignore_ascii_case(word))
                {
                    return Err((format!("unknown type `{word}`"), format!("write `{real}`")));
                }
                if let Some(real) = ["UUID", "String", "Decimal", "Int", "Boolean", "DateTime"]
                    .iter()
                    .find(|t| t.eq_ignore_ascii_case(word))
                {
                    return Err((format!("unknown type `{word}`"), format!("write `{real}`")));
                }
                // Checked against the entities once all are read.
                FieldType::Reference(word.to_string())
            }
        }
    };
    let optional = match rest.strip_prefix('?') {
        Some(after) => {
            rest = after.trim_start();
            true
        }
        None => false,
    };
    let note = if rest.is_empty() {
        None
    } else if let Some(inner) = rest.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        Some(inner.trim().to_string())
    } else {
        return Err((
            format!("unexpected `{rest}` after the type"),
            "put a note in parentheses after the type, e.g. `amount: Decimal (in the expense's currency)`".into(),
        ));
    };
    Ok((ty, optional, note))
}

/// Every reference names an entity of the model.
fn check_references(entities: &[Entity], c: &mut Collector) {
    for entity in entities {
        for field in &entity.fields {
            if let FieldType::Reference(target) = &field.ty
                && !entities.iter().any(|e| &e.name == target)
            {
                c.error(
                    field.line,
                    format!(
                        "{}.{}: unknown type `{target}`, neither a built-in type nor an entity of the data model",
                        entity.name, field.name
                    ),
                    TYPES_FIX,
                );
            }
        }
    }
}
