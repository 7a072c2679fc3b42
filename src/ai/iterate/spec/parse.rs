//! plugin.md → [`Spec`]: every problem collected with its line, section and a fix.

use std::path::Path;

use regex::Regex;

use super::datamodel;
use super::errors::{Collector, SpecErrors, SpecWarning};
use super::lines::{Line, LineKind, Section, heading_level, list_item, outline, paragraphs};
use super::model::{Criterion, Integration, Permission, Setting, Spec, Story};

/// The sections a spec may have, as written in their headings.
const SECTIONS: [&str; 6] = [
    "Description",
    "User Stories",
    "Data Model",
    "Permissions",
    "Integrations",
    "Settings",
];

/// A parsed spec and what was set aside (unknown sections).
#[derive(Debug)]
pub struct Parsed {
    pub spec: Spec,
    pub warnings: Vec<SpecWarning>,
}

/// Parses the plugin.md text read from `file` (the name is used in messages only).
pub fn parse_spec(file: &Path, text: &str) -> Result<Parsed, SpecErrors> {
    let mut c = Collector::new(file.to_path_buf());
    let outline = outline(text);
    let (display_name, name) = plugin_heading(&outline.top, &mut c);
    if let Some(line) = outline.open_fence {
        c.error(
            line,
            "this code block is never closed",
            "add a closing ``` line after the block",
        );
    }

    let mut spec = Spec {
        display_name,
        name,
        description: String::new(),
        stories: Vec::new(),
        entities: Vec::new(),
        permissions: Vec::new(),
        integrations: Vec::new(),
        settings: Vec::new(),
    };
    let mut seen: Vec<(&str, usize)> = Vec::new();
    let mut has_stories = false;
    for section in &outline.sections {
        c.section = section.heading.clone();
        let Some(known) = SECTIONS
            .iter()
            .find(|s| s.eq_ignore_ascii_case(&section.name))
        else {
            c.warn(
                section.line,
                format!(
                    "`{}` is not a section naap reads; its text is ignored",
                    section.heading
                ),
                format!("the sections are ### {}", SECTIONS.join(", ### ")),
            );
            continue;
        };
        if let Some((_, first)) = seen.iter().find(|(s, _)| s == known) {
            c.error(
                section.line,
                format!("a second ### {known} section (the first is at line {first})"),
                "merge the two into one section",
            );
            continue;
        }
        seen.push((known, section.line));
        match *known {
            "Description" => spec.description = description(section, &mut c),
            "User Stories" => {
                has_stories = true;
                spec.stories = stories(section, &mut c);
            }
            "Data Model" => spec.entities = datamodel::entities(section, &mut c),
            "Permissions" => spec.permissions = permissions(section, &mut c),
            "Integrations" => spec.integrations = integrations(section, &mut c),
            _ => spec.settings = settings(section, &mut c),
        }
    }
    c.section.clear();
    if !has_stories {
        c.error(
            last_line(text),
            "the spec has no ### User Stories section",
            "add `### User Stories` with at least one `#### US-1: Title` story",
        );
    }
    if c.problems.is_empty() {
        return Ok(Parsed {
            spec,
            warnings: c.warnings,
        });
    }
    let mut problems = c.problems;
    problems.sort_by_key(|p| (p.line, p.column));
    Err(SpecErrors(problems))
}

fn last_line(text: &str) -> usize {
    text.lines().count().max(1)
}

/// `## Plugin: Display Name` → the display name and the plugin name derived from it.
fn plugin_heading(top: &[super::lines::TopHeading], c: &mut Collector) -> (String, String) {
    let mut found: Option<(String, String)> = None;
    for heading in top {
        let Some(rest) = strip_prefix_ignore_case(&heading.text, "Plugin:") else {
            c.error(
                heading.line,
                format!("`## {}` is not a plugin heading", heading.text),
                "a spec has one `## Plugin: Display Name` heading; use ### for its sections",
            );
            continue;
        };
        if found.is_some() {
            c.error(
                heading.line,
                "a second `## Plugin:` heading",
                "a spec describes one plugin: put the second one in its own file",
            );
            continue;
        }
        let display = rest.trim().to_string();
        if display.is_empty() {
            c.error(
                heading.line,
                "`## Plugin:` names no plugin",
                "write its name after the colon, e.g. `## Plugin: Expense Tracker`",
            );
            continue;
        }
        let name = plugin_name(&display);
        if name.is_empty() {
            c.error(
                heading.line,
                format!("`{display}` has no letters or digits to make a plugin name from"),
                "use a name such as `## Plugin: Expense Tracker` (it becomes `expense-tracker`)",
            );
            continue;
        }
        found = Some((display, name));
    }
    match found {
        Some(names) => names,
        None => {
            if top.is_empty() {
                c.error(
                    1,
                    "the spec has no `## Plugin:` heading",
                    "start it with `## Plugin: Display Name`",
                );
            }
            (String::new(), String::new())
        }
    }
}

/// "Expense Tracker!" → "expense-tracker": naap's plugin-name rule, at most 40 characters.
pub fn plugin_name(display: &str) -> String {
    let mut name = String::new();
    for ch in display.chars().flat_map(char::to_lowercase) {
        if ch.is_ascii_alphanumeric() {
            name.push(ch);
        } else if !name.is_empty() && !name.ends_with('-') {
            name.push('-');
        }
    }
    name.truncate(40);
    name.trim_end_matches('-').to_string()
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn description(section: &Section, c: &mut Collector) -> String {
    let paras = paragraphs(&section.body);
    if paras.is_empty() {
        c.error(
            section.line,
            "the description is empty",
            "write a paragraph under the heading saying what the plugin is for",
        );
        return String::new();
    }
    paras
        .into_iter()
        .map(|(_, p)| p)
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn stories(section: &Section, c: &mut Collector) -> Vec<Story> {
    let mut groups: Vec<(usize, &str, Vec<&Line>)> = Vec::new();
    for line in &section.body {
        if line.kind == LineKind::Text
            && let Some((4, heading)) = heading_level(line.text)
        {
            groups.push((line.number, heading, Vec::new()));
            continue;
        }
        match groups.last_mut() {
            Some((_, _, body)) => body.push(line),
            None if list_item(line.text).is_some() => c.error(
                line.number,
                "an item before the first story",
                "put it under a `#### US-1: Title` heading",
            ),
            None => {}
        }
    }
    if groups.is_empty() {
        c.error(
            section.line,
            "no user stories",
            "add a story: `#### US-1: Title`, the sentence \"As a ROLE, I want ACTION, so that \
             BENEFIT.\", then `**Acceptance Criteria:**` and `- [ ] …` items",
        );
    }
    let mut out: Vec<Story> = Vec::new();
    for (line, heading, body) in groups {
        let Some(story) = story(line, heading, &body, c) else {
            continue;
        };
        if let Some(first) = out.iter().find(|s| s.id == story.id) {
            c.error(
                line,
                format!("{} is used twice (first at line {})", story.id, first.line),
                "give each story its own number",
            );
            continue;
        }
        out.push(story);
    }
    out
}

fn story(line: usize, heading: &str, body: &[&Line], c: &mut Collector) -> Option<Story> {
    let heading_re = regex(r"^(US-\d+)\s*:\s*(\S.*)$");
    let Some(caps) = heading_re.captures(heading) else {
        let fix = if Regex::new(r"^US-\d+\s*:?\s*$").is_ok_and(|r| r.is_match(heading)) {
            "give it a title after the colon: `#### US-1: Submit an expense`"
        } else {
            "write story headings as `#### US-1: Title` (US- and a number, a colon, a title)"
        };
        c.error(
            line,
            format!("`#### {heading}` is not a story heading"),
            fix,
        );
        return None;
    };
    let id = caps[1].to_string();
    let title = caps[2].trim().to_string();

    let mut sentence: Option<(String, String, String)> = None;
    let mut marker_line: Option<usize> = None;
    let mut criteria = Vec::new();
    for (start, para) in paragraphs(body.iter().copied()) {
        if is_criteria_marker(&para) {
            marker_line = Some(start);
            continue;
        }
        if para.to_ascii_lowercase().starts_with("as a") {
            match user_sentence(&para) {
                Ok(parts) => sentence = Some(parts),
                Err(missing) => c.error(
                    start,
                    format!("{id}'s sentence has no {missing}"),
                    "write it as \"As a ROLE, I want ACTION, so that BENEFIT.\"",
                ),
            }
            // A malformed sentence was reported; do not also report it as missing.
            sentence.get_or_insert_with(Default::default);
        }
    }
    for line in body.iter().filter(|l| l.kind == LineKind::Text) {
        let Some((item, column)) = list_item(line.text) else {
            continue;
        };
        if marker_line.is_none_or(|m| m >= line.number) {
            c.error(
                line.number,
                format!("{id} has a list item before `**Acceptance Criteria:**`"),
                "put `**Acceptance Criteria:**` on its own line above the criteria",
            );
            continue;
        }
        match checkbox(item) {
            Some((done, text)) if !text.is_empty() => criteria.push(Criterion {
                text: text.to_string(),
                done,
                line: line.number,
            }),
            Some(_) => c.error_at(
                line.number,
                column,
                format!("{id} has an empty acceptance criterion"),
                "say what must hold after the checkbox: `- [ ] An expense without an amount is refused`",
            ),
            None => c.error_at(
                line.number,
                column,
                format!("{id}'s criterion `{item}` has no checkbox"),
                format!("write it as `- [ ] {item}` (or `- [x]` when it is done)"),
            ),
        }
    }
    match &sentence {
        None => c.error(
            line,
            format!("{id} has no \"As a …, I want …, so that ….\" sentence"),
            "write one under its #### heading",
        ),
        Some((role, _, _)) if role.is_empty() => return None,
        Some(_) => {}
    }
    match marker_line {
        None => c.error(
            line,
            format!("{id} has no acceptance criteria"),
            "add `**Acceptance Criteria:**` under the sentence, then `- [ ] …` items",
        ),
        Some(marker) if criteria.is_empty() => c.error(
            marker,
            format!("{id} lists no criteria under `**Acceptance Criteria:**`"),
            "add at least one `- [ ] …` item",
        ),
        Some(_) => {}
    }
    let (role, action, benefit) = sentence?;
    Some(Story {
        id,
        title,
        role,
        action,
        benefit,
        criteria,
        line,
    })
}

fn is_criteria_marker(text: &str) -> bool {
    let bare: String = text
        .chars()
        .filter(|ch| !matches!(ch, '*' | '_' | ':'))
        .collect();
    bare.trim().eq_ignore_ascii_case("acceptance criteria")
}

/// "As a ROLE, I want ACTION, so that BENEFIT." → its three parts, or the part missing.
fn user_sentence(text: &str) -> Result<(String, String, String), &'static str> {
    let lower = text.to_ascii_lowercase();
    let role_start = if lower.starts_with("as an ") {
        6
    } else if lower.starts_with("as a ") {
        5
    } else {
        return Err("role after \"As a\"");
    };
    let want = lower.find(", i want ").ok_or("\", I want …\"")?;
    let so = lower[want..]
        .find(", so that ")
        .map(|i| i + want)
        .ok_or("\", so that …\"")?;
    let role = text[role_start..want].trim();
    let action = text[want + 9..so].trim();
    let benefit = text[so + 10..].trim().trim_end_matches('.').trim();
    if role.is_empty() {
        return Err("role after \"As a\"");
    }
    if action.is_empty() {
        return Err("action after \"I want\"");
    }
    if benefit.is_empty() {
        return Err("benefit after \"so that\"");
    }
    Ok((role.into(), action.into(), benefit.into()))
}

/// `[ ] text` / `[x] text` → (ticked, text).
fn checkbox(item: &str) -> Option<(bool, &str)> {
    let rest = item.strip_prefix('[')?;
    let (mark, text) = rest.split_once(']')?;
    let done = match mark {
        " " | "" => false,
        "x" | "X" => true,
        _ => return None,
    };
    Some((done, text.trim()))
}

fn permissions(section: &Section, c: &mut Collector) -> Vec<Permission> {
    let re = regex(r"^([A-Za-z0-9_.\-]+):([A-Za-z0-9_.\-]+)\s+[-–—]\s+(\S.*)$");
    items(section)
        .filter_map(|(line, item, column)| {
            let Some(caps) = re.captures(item) else {
                c.error_at(
                    line,
                    column,
                    format!("`{item}` is not a permission"),
                    "write `- scope:role - what it may do`, e.g. `- expenses:manager - approve or reject expenses`",
                );
                return None;
            };
            Some(Permission {
                scope: caps[1].to_string(),
                role: caps[2].to_string(),
                description: caps[3].trim().to_string(),
                line,
            })
        })
        .collect()
}

fn integrations(section: &Section, c: &mut Collector) -> Vec<Integration> {
    let re = regex(r"(?i)^([^:]+):\s*(\S.*?)\s*\((required|optional)\)\s*$");
    items(section)
        .filter_map(|(line, item, column)| {
            let Some(caps) = re.captures(item) else {
                let fix = if item.contains(':') {
                    format!("end it with (required) or (optional): `- {item} (optional)`")
                } else {
                    "write `- Name: purpose (required)` or `(optional)`".to_string()
                };
                c.error_at(line, column, format!("`{item}` is not an integration"), fix);
                return None;
            };
            Some(Integration {
                name: caps[1].trim().to_string(),
                purpose: caps[2].to_string(),
                required: caps[3].eq_ignore_ascii_case("required"),
                line,
            })
        })
        .collect()
}

fn settings(section: &Section, c: &mut Collector) -> Vec<Setting> {
    let re = regex(
        r"^([A-Za-z_][A-Za-z0-9_.\-]*)\s*:\s*([A-Za-z][A-Za-z0-9_<>\[\]]*)\s*(?:\((.*)\))?\s*$",
    );
    items(section)
        .filter_map(|(line, item, column)| {
            let Some(caps) = re.captures(item) else {
                c.error_at(
                    line,
                    column,
                    format!("`{item}` is not a setting"),
                    "write `- name: Type (what it does)`, e.g. `- approval_limit: Decimal (amount above which a manager must approve)`",
                );
                return None;
            };
            Some(Setting {
                name: caps[1].to_string(),
                ty: caps[2].to_string(),
                description: caps.get(3).map(|m| m.as_str().trim().to_string()),
                line,
            })
        })
        .collect()
}

/// The list items of a section: (line, text, column).
fn items<'s>(section: &'s Section) -> impl Iterator<Item = (usize, &'s str, usize)> + 's {
    section
        .body
        .iter()
        .filter(|l| l.kind == LineKind::Text)
        .filter_map(|l| list_item(l.text).map(|(item, column)| (l.number, item, column)))
}

/// A regular expression written in this file; they are constants, checked by the tests.
pub(super) fn regex(pattern: &str) -> Regex {
    // Every pattern is a literal in this module, exercised by the unit tests: an invalid one
    // is a programming error, not a user's.
    Regex::new(pattern).expect("a valid built-in pattern")
}
