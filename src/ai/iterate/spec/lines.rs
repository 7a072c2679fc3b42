//! The first pass over a plugin.md: numbered lines grouped under their `###` section, with
//! fenced code marked, so a `#` inside a code block is never taken for a heading.

/// What a line is, as far as headings and fences go.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum LineKind {
    Text,
    /// A ``` or ~~~ line that opens or closes a block.
    Fence,
    /// Inside a fenced block.
    Fenced,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Line<'a> {
    /// 1-based.
    pub number: usize,
    pub text: &'a str,
    pub kind: LineKind,
}

/// A `### Name` heading and the lines up to the next `##`/`###` heading.
#[derive(Debug)]
pub(super) struct Section<'a> {
    /// As written, e.g. `### User Stories`.
    pub heading: String,
    /// The name after the hashes, trimmed.
    pub name: String,
    pub line: usize,
    pub body: Vec<Line<'a>>,
}

/// A `## …` heading.
#[derive(Debug)]
pub(super) struct TopHeading {
    pub text: String,
    pub line: usize,
}

/// The document cut into its `##` headings and `###` sections.
pub(super) struct Outline<'a> {
    pub top: Vec<TopHeading>,
    pub sections: Vec<Section<'a>>,
    /// A fence opened at this line and never closed.
    pub open_fence: Option<usize>,
}

/// How many `#` start a heading line (`## x`), if it is one.
pub(super) fn heading_level(text: &str) -> Option<(usize, &str)> {
    let trimmed = text.trim_start();
    let hashes = trimmed.chars().take_while(|c| *c == '#').count();
    if hashes == 0 || hashes > 6 {
        return None;
    }
    let rest = &trimmed[hashes..];
    if rest.is_empty() || rest.starts_with([' ', '\t']) {
        Some((hashes, rest.trim()))
    } else {
        None
    }
}

fn fence_marker(text: &str) -> Option<&str> {
    let trimmed = text.trim_start();
    ["```", "~~~"].into_iter().find(|m| trimmed.starts_with(m))
}

pub(super) fn outline(text: &str) -> Outline<'_> {
    let mut top = Vec::new();
    let mut sections: Vec<Section> = Vec::new();
    let mut fence: Option<(&str, usize)> = None;
    for (i, raw) in text.lines().enumerate() {
        let number = i + 1;
        let kind = match (fence, fence_marker(raw)) {
            (Some((open, _)), Some(marker)) if marker == open => {
                fence = None;
                LineKind::Fence
            }
            (Some(_), _) => LineKind::Fenced,
            (None, Some(marker)) => {
                fence = Some((marker, number));
                LineKind::Fence
            }
            (None, None) => LineKind::Text,
        };
        if kind == LineKind::Text
            && let Some((level, name)) = heading_level(raw)
            && level <= 3
        {
            match level {
                // A `# Title` of the document says nothing naap needs.
                1 => {}
                2 => top.push(TopHeading {
                    text: name.to_string(),
                    line: number,
                }),
                _ => sections.push(Section {
                    heading: raw.trim().to_string(),
                    name: name.to_string(),
                    line: number,
                    body: Vec::new(),
                }),
            }
            if level == 2 {
                // Lines after a `##` heading belong to no section until the next `###`.
                sections.push(Section {
                    heading: String::new(),
                    name: String::new(),
                    line: number,
                    body: Vec::new(),
                });
            }
            continue;
        }
        if let Some(section) = sections.last_mut() {
            section.body.push(Line {
                number,
                text: raw,
                kind,
            });
        }
    }
    sections.retain(|s| !s.heading.is_empty());
    Outline {
        top,
        sections,
        open_fence: fence.map(|(_, line)| line),
    }
}

/// Consecutive non-blank text lines (not list items, not headings), joined with spaces:
/// markdown's paragraphs, each with the line it starts on.
pub(super) fn paragraphs<'a>(
    lines: impl IntoIterator<Item = &'a Line<'a>>,
) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for line in lines {
        let text = line.text.trim();
        let breaks = line.kind != LineKind::Text
            || text.is_empty()
            || list_item(line.text).is_some()
            || heading_level(text).is_some();
        if breaks {
            out.extend(current.take());
            continue;
        }
        match &mut current {
            Some((_, para)) => {
                para.push(' ');
                para.push_str(text);
            }
            None => current = Some((line.number, text.to_string())),
        }
    }
    out.extend(current);
    out
}

/// The text of a `- item` / `* item` / `+ item` line, and the column (1-based) it starts at.
pub(super) fn list_item(text: &str) -> Option<(&str, usize)> {
    let indent = text.len() - text.trim_start().len();
    let rest = &text[indent..];
    let mut chars = rest.chars();
    let bullet = chars.next()?;
    if !matches!(bullet, '-' | '*' | '+') {
        return None;
    }
    let after = &rest[1..];
    if !after.starts_with([' ', '\t']) {
        return None;
    }
    let item = after.trim_start();
    let column = text[..text.len() - item.len()].chars().count() + 1;
    Some((item.trim_end(), column))
}
