//! `{port}`-style placeholders in run commands: expansion for the runtime, checks for `load`.

use std::ops::Range;

use super::shell::ShellContext;
use super::suggest;

/// The placeholder names a template may use.
pub const PLACEHOLDER_NAMES: [&str; 5] = ["port", "version", "slot", "plugin", "naap"];

/// Values for the placeholders of one slot's commands.
#[derive(Clone, Copy, Debug)]
pub struct Placeholders<'a> {
    /// `{port}`: the port the slot must listen on.
    pub port: u16,
    /// `{version}`: the version being deployed.
    pub version: &'a str,
    /// `{slot}`: `blue` or `green`.
    pub slot: &'a str,
    /// `{plugin}`: the plugin's name.
    pub plugin: &'a str,
    /// `{naap}`: the path of the naap binary.
    pub naap: &'a str,
}

impl Placeholders<'_> {
    fn value(&self, name: &str) -> Option<String> {
        Some(match name {
            "port" => self.port.to_string(),
            "version" => self.version.to_string(),
            "slot" => self.slot.to_string(),
            "plugin" => self.plugin.to_string(),
            "naap" => self.naap.to_string(),
            _ => return None,
        })
    }
}

/// Replaces {port} {version} {slot} {plugin} {naap}, and `{{` / `}}` with `{` / `}`, with
/// the values as they are: for environment values, which no shell reads.
///
/// Anything else in braces is kept verbatim; `load` rejects such templates, so this only
/// matters for templates that did not come from a validated manifest.
pub fn expand_placeholders(template: &str, vars: &Placeholders) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    walk(template, vars, |piece| match piece {
        Piece::Literal(text) => out.push_str(text),
        Piece::Value(value) => out.push_str(&value),
    });
    out
}

/// Like [`expand_placeholders`], for a command line run as `sh -c`: each value is quoted
/// for the place it lands in (bare, '…', "…", `…`), so no value can end a quote or start a
/// command, whoever wrote it.
pub fn expand_for_shell(template: &str, vars: &Placeholders) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut context = ShellContext::new();
    walk(template, vars, |piece| match piece {
        Piece::Literal(text) => {
            context.feed(text);
            out.push_str(text);
        }
        Piece::Value(value) => out.push_str(&context.quote(&value)),
    });
    out
}

/// A run of a template: text as the author wrote it (braces unescaped), or a value.
enum Piece<'t> {
    Literal(&'t str),
    Value(String),
}

fn walk<'t>(template: &'t str, vars: &Placeholders, mut emit: impl FnMut(Piece<'t>)) {
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        emit(Piece::Literal(&rest[..i]));
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("{{") {
            emit(Piece::Literal("{"));
            rest = after;
            continue;
        }
        if let Some(after) = tail.strip_prefix("}}") {
            emit(Piece::Literal("}"));
            rest = after;
            continue;
        }
        if let Some((name, after)) = tail.strip_prefix('{').and_then(|t| t.split_once('}'))
            && let Some(value) = vars.value(name)
        {
            emit(Piece::Value(value));
            rest = after;
            continue;
        }
        // `{` and `}` are one byte each, so slicing after it stays on a char boundary.
        emit(Piece::Literal(&tail[..1]));
        rest = &tail[1..];
    }
    emit(Piece::Literal(rest));
}

/// Something wrong with a template, at a byte range of the template text.
#[derive(Debug, PartialEq)]
pub(super) struct TemplateError {
    pub range: Range<usize>,
    pub message: String,
    pub hint: String,
}

const LITERAL_HINT: &str = "write `{{` and `}}` for literal braces";

/// Every unknown, empty, unclosed or unmatched placeholder in `template`.
pub(super) fn check_template(template: &str) -> Vec<TemplateError> {
    let mut errors = Vec::new();
    let mut pos = 0;
    while let Some(found) = template[pos..].find(['{', '}']) {
        let i = pos + found;
        let tail = &template[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            pos = i + 2;
            continue;
        }
        if tail.starts_with('}') {
            errors.push(TemplateError {
                range: i..i + 1,
                message: "unmatched `}`".to_string(),
                hint: LITERAL_HINT.to_string(),
            });
            pos = i + 1;
            continue;
        }
        let name_end = tail[1..].find(['{', '}']).map(|e| e + 1);
        match name_end {
            Some(end) if tail.as_bytes()[end] == b'}' => {
                let name = &tail[1..end];
                if !PLACEHOLDER_NAMES.contains(&name) {
                    let message = if name.is_empty() {
                        "empty placeholder `{}`".to_string()
                    } else {
                        format!("unknown placeholder `{{{name}}}`")
                    };
                    let known = PLACEHOLDER_NAMES
                        .iter()
                        .map(|n| format!("{{{n}}}"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let hint = match suggest::closest(name, &PLACEHOLDER_NAMES) {
                        Some(c) if !name.is_empty() => format!("did you mean `{{{c}}}`?"),
                        _ => format!("known placeholders: {known}; {LITERAL_HINT}"),
                    };
                    errors.push(TemplateError {
                        range: i..i + end + 1,
                        message,
                        hint,
                    });
                }
                pos = i + end + 1;
            }
            _ => {
                errors.push(TemplateError {
                    range: i..i + 1,
                    message: "unclosed `{`".to_string(),
                    hint: LITERAL_HINT.to_string(),
                });
                pos = i + 1;
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Placeholders<'static> {
        Placeholders {
            port: 40123,
            version: "1.3.0",
            slot: "green",
            plugin: "expense-tracker",
            naap: "/usr/bin/naap",
        }
    }

    #[test]
    fn expands_every_placeholder() {
        assert_eq!(
            expand_placeholders(
                "{naap} sample-service --port {port} --version {version} {slot} {plugin}",
                &vars()
            ),
            "/usr/bin/naap sample-service --port 40123 --version 1.3.0 green expense-tracker"
        );
    }

    #[test]
    fn doubled_braces_are_literal() {
        assert_eq!(
            expand_placeholders("awk '{{print $1}}' {{port}} {{{port}}}", &vars()),
            "awk '{print $1}' {port} {40123}"
        );
    }

    #[test]
    fn leaves_unknown_and_stray_braces_alone() {
        assert_eq!(
            expand_placeholders("{nope} { } }{ {port", &vars()),
            "{nope} { } }{ {port"
        );
        assert_eq!(expand_placeholders("", &vars()), "");
        assert_eq!(expand_placeholders("é{port}ü", &vars()), "é40123ü");
    }

    /// Runs `sh -c` on the template expanded with `naap` = `value`; returns what printf printed.
    fn shell_prints(template: &str, value: &str) -> String {
        let vars = Placeholders {
            naap: value,
            ..vars()
        };
        let command = expand_for_shell(template, &vars);
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&command)
            .output()
            .expect("run sh");
        assert!(out.status.success(), "{command}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    fn shell_values_are_quoted_for_the_place_they_land_in() {
        let dir = tempfile::tempdir().expect("dir");
        let marker = dir.path().join("INJECTED");
        let m = marker.display();
        let hostile = [
            format!("x$(touch {m})"),
            format!("x`touch {m}`"),
            format!("a'b; touch {m}; '"),
            format!("a\"; touch {m}; \""),
            format!("a\\\"$(touch {m})"),
            format!("sp ace;touch {m}|&>< *"),
            "it's \\ ok\nnewline".to_string(),
            String::new(),
        ];
        let templates = [
            ("bare", "printf %s {naap}"),
            ("single", "printf %s '{naap}'"),
            ("double", "printf %s \"{naap}\""),
            ("double, glued", "printf %s \"<{naap}>\""),
            ("backtick", "printf %s \"`printf %s {naap}`\""),
            ("subshell in double", "printf %s \"$(printf %s {naap})\""),
            ("subshell", "printf %s $(printf %s {naap} | wc -c)"),
        ];
        for value in &hostile {
            for (place, template) in templates {
                let printed = shell_prints(template, value);
                let expected = match place {
                    "double, glued" => format!("<{value}>"),
                    // Bare command substitution output is split into words by the shell.
                    "subshell" => value.len().to_string(),
                    // Command substitution drops trailing newlines; none of these ends in one.
                    _ => value.clone(),
                };
                assert_eq!(printed, expected, "{place}: {template} with {value:?}");
                assert!(!marker.exists(), "{place}: {value:?} ran a command");
            }
        }
    }

    #[test]
    fn plain_values_stay_unquoted() {
        assert_eq!(
            expand_for_shell("{naap} x --port {port} --version {version} {slot}", &vars()),
            "/usr/bin/naap x --port 40123 --version 1.3.0 green"
        );
        let spaced = Placeholders {
            naap: "/opt/my apps/naap",
            ..vars()
        };
        assert_eq!(
            expand_for_shell("{naap} x", &spaced),
            "'/opt/my apps/naap' x"
        );
        assert_eq!(
            expand_for_shell("\"{naap}\" x", &spaced),
            "\"/opt/my apps/naap\" x"
        );
    }

    #[test]
    fn accepts_valid_templates() {
        for ok in [
            "",
            "plain",
            "{naap} sample-service --port {port} --version {version}",
            "{{literal}} {slot}-{plugin}",
            "{{{port}}}",
        ] {
            assert_eq!(check_template(ok), vec![], "{ok:?}");
        }
    }

    #[test]
    fn reports_each_bad_placeholder_with_its_range() {
        let errors = check_template("run {prot} {} {port");
        let summary: Vec<_> = errors
            .iter()
            .map(|e| (e.range.clone(), e.message.as_str()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (4..10, "unknown placeholder `{prot}`"),
                (11..13, "empty placeholder `{}`"),
                (14..15, "unclosed `{`"),
            ]
        );
        assert_eq!(errors[0].hint, "did you mean `{port}`?");
        let stray = check_template("a } b");
        assert_eq!(stray[0].range, 2..3);
        assert_eq!(stray[0].message, "unmatched `}`");
    }
}
