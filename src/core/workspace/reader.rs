//! Typed, position-aware reads from a parsed TOML document.
//!
//! Every wrong type and unknown key becomes a problem and reading goes on, so one pass finds
//! all of them. (Deriving `Deserialize` would stop at the first wrong type, and a serde
//! catch-all for unknown keys loses the spans of the other fields.)

use std::ops::Range;
use std::time::Duration;

use serde_spanned::Spanned;
use toml::de::{DeTable, DeValue};

use super::duration;
use super::problem::Report;
use super::suggest;

/// A byte range in a file.
pub(crate) type Span = Range<usize>;

/// A field that may be absent, present with a wrong value (already reported), or present.
#[derive(Debug, Clone)]
pub(crate) enum Field<T> {
    Absent,
    Invalid,
    Present(T),
}

impl<T> Field<T> {
    pub fn value(&self) -> Option<&T> {
        match self {
            Field::Present(v) => Some(v),
            _ => None,
        }
    }

    pub fn is_absent(&self) -> bool {
        matches!(self, Field::Absent)
    }
}

/// A TOML table being read: where it is and its dotted name for messages.
#[derive(Clone)]
pub(crate) struct TableRef<'a, 'i> {
    pub table: &'a DeTable<'i>,
    pub span: Span,
    pub path: String,
}

impl<'a, 'i> TableRef<'a, 'i> {
    /// The document itself.
    pub fn root(doc: &'a Spanned<DeTable<'i>>) -> Self {
        TableRef {
            table: doc.get_ref(),
            span: doc.span(),
            path: String::new(),
        }
    }

    /// The dotted name of `key` in this table, e.g. `health.interval`.
    pub fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn get(&self, key: &str) -> Option<&'a Spanned<DeValue<'i>>> {
        self.table.get(key)
    }

    /// Reports every key not in `known`, with a "did you mean" hint when one is close.
    pub fn deny_unknown(&self, r: &mut Report, known: &[&str]) {
        for key in self.table.keys() {
            let name: &str = key.get_ref();
            if known.contains(&name) {
                continue;
            }
            let place = if self.path.is_empty() {
                "at the top level".to_string()
            } else {
                format!("in [{}]", self.path)
            };
            let hint = match suggest::closest(name, known) {
                Some(c) => format!("did you mean `{c}`?"),
                None => format!("known keys {place}: {}", suggest::quoted_list(known)),
            };
            r.at(
                &key.span(),
                self.field(name),
                format!("unknown key `{name}` {place}"),
                hint,
            );
        }
    }

    fn wrong_type(
        &self,
        r: &mut Report,
        key: &str,
        value: &Spanned<DeValue>,
        expected: &str,
        example: &str,
    ) {
        r.at(
            &value.span(),
            self.field(key),
            format!("expected {expected}, found {}", describe(value.get_ref())),
            format!("write it like: {key} = {example}"),
        );
    }

    pub fn string(&self, r: &mut Report, key: &str) -> Field<Spanned<String>> {
        let Some(value) = self.get(key) else {
            return Field::Absent;
        };
        match value.get_ref() {
            DeValue::String(s) => Field::Present(Spanned::new(value.span(), s.to_string())),
            _ => {
                self.wrong_type(r, key, value, "a string", "\"...\"");
                Field::Invalid
            }
        }
    }

    pub fn bool(&self, r: &mut Report, key: &str) -> Field<Spanned<bool>> {
        let Some(value) = self.get(key) else {
            return Field::Absent;
        };
        match value.get_ref() {
            DeValue::Boolean(b) => Field::Present(Spanned::new(value.span(), *b)),
            _ => {
                self.wrong_type(r, key, value, "a boolean", "true");
                Field::Invalid
            }
        }
    }

    pub fn integer(&self, r: &mut Report, key: &str) -> Field<Spanned<i64>> {
        let Some(value) = self.get(key) else {
            return Field::Absent;
        };
        match integer_value(r, &self.field(key), value) {
            Some(n) => Field::Present(Spanned::new(value.span(), n)),
            None => Field::Invalid,
        }
    }

    /// A float; integers are accepted too (`on_error_rate = 1`).
    pub fn float(&self, r: &mut Report, key: &str) -> Field<Spanned<f64>> {
        let Some(value) = self.get(key) else {
            return Field::Absent;
        };
        let parsed = match value.get_ref() {
            // Precision loss only matters beyond 2^53, far outside any sensible value here.
            DeValue::Integer(_) => integer_value(r, &self.field(key), value).map(|n| n as f64),
            DeValue::Float(f) => match f.as_str().parse::<f64>() {
                Ok(x) => Some(x),
                Err(_) => {
                    r.at(
                        &value.span(),
                        self.field(key),
                        format!("`{}` is not a number naap can read", f.as_str()),
                        "write a plain decimal, e.g. 0.05",
                    );
                    None
                }
            },
            _ => {
                self.wrong_type(r, key, value, "a number", "0.05");
                None
            }
        };
        match parsed {
            Some(x) => Field::Present(Spanned::new(value.span(), x)),
            None => Field::Invalid,
        }
    }

    /// A humantime duration string such as "2s".
    pub fn duration(&self, r: &mut Report, key: &str) -> Field<Spanned<Duration>> {
        let Some(value) = self.get(key) else {
            return Field::Absent;
        };
        let DeValue::String(text) = value.get_ref() else {
            r.at(
                &value.span(),
                self.field(key),
                format!(
                    "expected a duration string, found {}",
                    describe(value.get_ref())
                ),
                format!(
                    "durations are quoted with a unit, e.g. {key} = \"2s\" ({})",
                    duration::EXAMPLE
                ),
            );
            return Field::Invalid;
        };
        match duration::parse(text) {
            Ok(d) => Field::Present(Spanned::new(value.span(), d)),
            Err(message) => {
                r.at(
                    &value.span(),
                    self.field(key),
                    message,
                    format!("use a number with a unit: {}", duration::EXAMPLE),
                );
                Field::Invalid
            }
        }
    }

    /// An array of strings; wrong elements are reported one by one and skipped.
    pub fn string_list(&self, r: &mut Report, key: &str) -> Field<Spanned<Vec<Spanned<String>>>> {
        let Some(value) = self.get(key) else {
            return Field::Absent;
        };
        let DeValue::Array(items) = value.get_ref() else {
            self.wrong_type(r, key, value, "an array of strings", "[\"...\"]");
            return Field::Invalid;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut clean = true;
        for (i, item) in items.iter().enumerate() {
            match item.get_ref() {
                DeValue::String(s) => out.push(Spanned::new(item.span(), s.to_string())),
                other => {
                    clean = false;
                    r.at(
                        &item.span(),
                        format!("{}[{i}]", self.field(key)),
                        format!("expected a string, found {}", describe(other)),
                        "quote each element, e.g. [\"log\"]",
                    );
                }
            }
        }
        if clean {
            Field::Present(Spanned::new(value.span(), out))
        } else {
            Field::Invalid
        }
    }

    /// An array whose elements are integers or bare words (`[5, 25, "pause", 100]`);
    /// wrong elements are reported one by one.
    pub fn integer_or_word_list(
        &self,
        r: &mut Report,
        key: &str,
        example: &str,
    ) -> Field<Spanned<Vec<Spanned<IntOrWord>>>> {
        let Some(value) = self.get(key) else {
            return Field::Absent;
        };
        let DeValue::Array(items) = value.get_ref() else {
            self.wrong_type(r, key, value, "an array", example);
            return Field::Invalid;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut clean = true;
        for (i, item) in items.iter().enumerate() {
            let field = format!("{}[{i}]", self.field(key));
            let parsed = match item.get_ref() {
                DeValue::String(s) => Some(IntOrWord::Word(s.to_string())),
                _ => integer_value(r, &field, item).map(IntOrWord::Int),
            };
            match parsed {
                Some(v) => out.push(Spanned::new(item.span(), v)),
                None => clean = false,
            }
        }
        if clean {
            Field::Present(Spanned::new(value.span(), out))
        } else {
            Field::Invalid
        }
    }

    /// A table of string values (`env = { A = "b" }`); keys keep their spans.
    pub fn string_map(
        &self,
        r: &mut Report,
        key: &str,
    ) -> Field<Vec<(Spanned<String>, Spanned<String>)>> {
        let Some(value) = self.get(key) else {
            return Field::Absent;
        };
        let DeValue::Table(table) = value.get_ref() else {
            self.wrong_type(r, key, value, "a table of strings", "{ NAME = \"value\" }");
            return Field::Invalid;
        };
        let mut out = Vec::with_capacity(table.len());
        let mut clean = true;
        for (name, item) in table.iter() {
            let name_text: &str = name.get_ref();
            match item.get_ref() {
                DeValue::String(s) => out.push((
                    Spanned::new(name.span(), name_text.to_string()),
                    Spanned::new(item.span(), s.to_string()),
                )),
                other => {
                    clean = false;
                    r.at(
                        &item.span(),
                        format!("{}.{name_text}", self.field(key)),
                        format!("expected a string, found {}", describe(other)),
                        format!("quote the value, e.g. {name_text} = \"1\""),
                    );
                }
            }
        }
        if clean {
            Field::Present(out)
        } else {
            Field::Invalid
        }
    }

    /// A sub-table, e.g. `[health]`.
    pub fn table(&self, r: &mut Report, key: &str) -> Field<TableRef<'a, 'i>> {
        let Some(value) = self.get(key) else {
            return Field::Absent;
        };
        match value.get_ref() {
            DeValue::Table(table) => Field::Present(TableRef {
                table,
                span: value.span(),
                path: self.field(key),
            }),
            _ => {
                r.at(
                    &value.span(),
                    self.field(key),
                    format!("expected a table, found {}", describe(value.get_ref())),
                    format!("write it as a table with a [{}] header", self.field(key)),
                );
                Field::Invalid
            }
        }
    }

    /// An array of tables, e.g. `[[plugins]]`; each element is named `key[i]`.
    pub fn tables(&self, r: &mut Report, key: &str) -> Vec<TableRef<'a, 'i>> {
        let Some(value) = self.get(key) else {
            return Vec::new();
        };
        let hint = format!(
            "write each entry under its own [[{}]] header",
            self.field(key)
        );
        let DeValue::Array(items) = value.get_ref() else {
            r.at(
                &value.span(),
                self.field(key),
                format!(
                    "expected an array of tables, found {}",
                    describe(value.get_ref())
                ),
                hint,
            );
            return Vec::new();
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let path = format!("{}[{i}]", self.field(key));
            match item.get_ref() {
                DeValue::Table(table) => out.push(TableRef {
                    table,
                    span: item.span(),
                    path,
                }),
                other => r.at(
                    &item.span(),
                    path,
                    format!("expected a table, found {}", describe(other)),
                    hint.clone(),
                ),
            }
        }
        out
    }
}

/// One element of a mixed list.
#[derive(Clone, Debug, PartialEq)]
pub enum IntOrWord {
    Int(i64),
    Word(String),
}

/// Reads an integer value, reporting a wrong type or an out-of-range number under `field`.
fn integer_value(r: &mut Report, field: &str, value: &Spanned<DeValue>) -> Option<i64> {
    match value.get_ref() {
        DeValue::Integer(n) => match i64::from_str_radix(n.as_str(), n.radix()) {
            Ok(n) => Some(n),
            Err(_) => {
                r.at(
                    &value.span(),
                    field,
                    format!("integer `{}` is out of range", n.as_str()),
                    "use a smaller number",
                );
                None
            }
        },
        other => {
            r.at(
                &value.span(),
                field,
                format!("expected an integer, found {}", describe(other)),
                "write a whole number without quotes, e.g. 3",
            );
            None
        }
    }
}

/// "string `\"2s\"`"-style description of a found value for type errors.
fn describe(value: &DeValue) -> String {
    match value {
        DeValue::String(s) => format!("string \"{}\"", shorten(s)),
        // `as_str` rather than Display: Display panics on radixes the parser never produces.
        DeValue::Integer(n) => format!("integer {}", n.as_str()),
        DeValue::Float(f) => format!("float {}", f.as_str()),
        DeValue::Boolean(b) => format!("boolean {b}"),
        DeValue::Datetime(d) => format!("datetime {d}"),
        DeValue::Array(_) => "an array".to_string(),
        DeValue::Table(_) => "a table".to_string(),
    }
}

/// Keeps type-error messages one line long even for long string values.
fn shorten(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let cut: String = s.chars().take(MAX).collect();
        format!("{cut}…")
    }
}
