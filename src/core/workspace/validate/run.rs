//! `[run]`: commands, placeholders, environment, working directory, stop and start times.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_spanned::Spanned;

use super::{duration_or, missing, positive};
use crate::core::workspace::SecretRef;
use crate::core::workspace::model::RunSpec;
use crate::core::workspace::placeholders::check_template;
use crate::core::workspace::problem::{Report, Source};
use crate::core::workspace::raw::RawRun;
use crate::core::workspace::reader::{Field, Span};

const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(5);
const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
const COMMAND_EXAMPLE: &str = "command = \"./server --port {port}\"";

/// `[run]`.
pub(super) fn run(table: &Field<RawRun>, r: &mut Report, dir: &Path) -> Option<RunSpec> {
    let t = match table {
        Field::Present(t) => t,
        Field::Absent => {
            r.unplaced(
                "run",
                "missing table [run]",
                format!("add a [run] table with the command that starts the plugin, e.g. {COMMAND_EXAMPLE}"),
            );
            return None;
        }
        Field::Invalid => return None,
    };
    let command = match &t.command {
        Field::Present(c) => command(r, c, "run.command").then(|| c.get_ref().clone()),
        Field::Absent => {
            missing(r, &t.span, "run", "command", COMMAND_EXAMPLE);
            None
        }
        Field::Invalid => None,
    };
    let build = optional_command(r, &t.build, "run.build");
    let test = optional_command(r, &t.test, "run.test");
    let lint = optional_command(r, &t.lint, "run.lint");

    let env = env(r, &t.env);
    let env_from = env_from(r, &t.env_from, &env, dir);

    let cwd = match &t.cwd {
        Field::Present(c) => working_dir(r, c, dir),
        _ => Some(dir.to_path_buf()),
    };
    let stop_grace = duration_or(&t.stop_grace, DEFAULT_STOP_GRACE);
    let startup_timeout = positive(
        r,
        &t.startup_timeout,
        "run.startup_timeout",
        DEFAULT_STARTUP_TIMEOUT,
    );
    Some(RunSpec {
        command: command?,
        build,
        test,
        lint,
        env,
        env_from,
        cwd: cwd?,
        stop_grace,
        startup_timeout,
        replicas: super::capacity::replicas(r, &t.replicas),
        resources: Default::default(),
    })
}

/// Variables naap sets for every slot itself; a manifest value would be overwritten.
const SET_BY_NAAP: [(&str, &str); 4] = [
    (
        "PORT",
        "the slot's port: use {port} in the command, or read PORT",
    ),
    ("NAAP_PLUGIN", "the plugin's name: use {plugin}"),
    ("NAAP_SLOT", "the slot: use {slot}"),
    ("NAAP_VERSION", "the version being deployed: use {version}"),
];

type Pairs = Field<Vec<(Spanned<String>, Spanned<String>)>>;

/// Checks a variable name; true when it may be set.
fn variable_name(r: &mut Report, name: &Spanned<String>, field: &str) -> bool {
    let text = name.get_ref();
    if text.is_empty() || text.contains(['=', '\0']) {
        r.at(
            &name.span(),
            field,
            format!("invalid environment variable name `{text}`"),
            "use letters, digits and underscores, e.g. RUST_LOG",
        );
        return false;
    }
    if let Some((_, what)) = SET_BY_NAAP.iter().find(|(n, _)| n == text) {
        r.at(
            &name.span(),
            field,
            format!("naap sets {text} itself, to {what}"),
            format!(
                "remove {text}; naap always sets PORT, NAAP_PLUGIN, NAAP_SLOT and NAAP_VERSION"
            ),
        );
        return false;
    }
    true
}

/// `[run] env`: names checked, values are templates.
fn env(r: &mut Report, vars: &Pairs) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    if let Field::Present(vars) = vars {
        for (name, value) in vars {
            let field = format!("run.env.{}", name.get_ref());
            variable_name(r, name, &field);
            template(r, value, &field);
            env.insert(name.get_ref().clone(), value.get_ref().clone());
        }
    }
    env
}

/// `[run] env_from`: `file:PATH` (relative to the plugin directory) or `env:NAME`. Not
/// resolved here: secrets may only exist where the engine runs, and change between deploys.
fn env_from(
    r: &mut Report,
    vars: &Pairs,
    env: &BTreeMap<String, String>,
    dir: &Path,
) -> BTreeMap<String, SecretRef> {
    let mut out = BTreeMap::new();
    let Field::Present(vars) = vars else {
        return out;
    };
    for (name, value) in vars {
        let text = name.get_ref();
        let field = format!("run.env_from.{text}");
        if !variable_name(r, name, &field) {
            continue;
        }
        if env.contains_key(text) {
            r.at(
                &name.span(),
                field.as_str(),
                format!("{text} is set in both `env` and `env_from`"),
                "keep one: `env` for plain values, `env_from` for secrets",
            );
            continue;
        }
        match SecretRef::parse(value.get_ref(), dir) {
            Ok(secret) => {
                out.insert(text.clone(), secret);
            }
            Err(why) => r.at(
                &value.span(),
                field.as_str(),
                why,
                format!("write {text} = \"file:/run/secrets/token\" or {text} = \"env:{text}\""),
            ),
        }
    }
    out
}

/// Checks a command template; true when it is usable.
fn command(r: &mut Report, value: &Spanned<String>, field: &str) -> bool {
    if value.get_ref().trim().is_empty() {
        r.at(
            &value.span(),
            field,
            "command must not be empty",
            format!("e.g. {COMMAND_EXAMPLE}"),
        );
        return false;
    }
    template(r, value, field)
}

fn optional_command(r: &mut Report, value: &Field<Spanned<String>>, field: &str) -> Option<String> {
    match value {
        Field::Present(c) => command(r, c, field).then(|| c.get_ref().clone()),
        _ => None,
    }
}

/// Reports bad placeholders at their exact column; true when there were none.
fn template(r: &mut Report, value: &Spanned<String>, field: &str) -> bool {
    let mut ok = true;
    if value.get_ref().contains('\0') {
        ok = false;
        r.at(
            &value.span(),
            field,
            "contains a NUL character",
            "remove it: commands and environment values cannot hold NUL",
        );
    }
    for error in check_template(value.get_ref()) {
        ok = false;
        let span = inner_span(r.src, value, error.range);
        r.at(&span, field, error.message, error.hint);
    }
    ok
}

/// Maps a byte range of a string value to the source, when the value is written without
/// escapes (then the source between the quotes is the value itself); otherwise the value's
/// start is the best position there is.
fn inner_span(src: &Source, value: &Spanned<String>, range: Range<usize>) -> Span {
    let span = value.span();
    let written = src.text.get(span.clone()).unwrap_or("");
    for quote in ["\"\"\"", "'''", "\"", "'"] {
        if let Some(inner) = written
            .strip_prefix(quote)
            .and_then(|s| s.strip_suffix(quote))
        {
            if inner == value.get_ref() {
                let start = span.start + quote.len();
                return start + range.start..start + range.end;
            }
            break;
        }
    }
    span
}

fn working_dir(r: &mut Report, cwd: &Spanned<String>, dir: &Path) -> Option<PathBuf> {
    let text = cwd.get_ref();
    if text.is_empty() {
        r.at(
            &cwd.span(),
            "run.cwd",
            "cwd must not be empty",
            "leave cwd out to run in the plugin directory, or write cwd = \".\"",
        );
        return None;
    }
    let joined = dir.join(text);
    match std::fs::canonicalize(&joined) {
        Ok(abs) if abs.is_dir() => Some(abs),
        Ok(abs) => {
            r.at(
                &cwd.span(),
                "run.cwd",
                format!("`{text}` is not a directory ({})", abs.display()),
                "point cwd at a directory; relative paths start at the plugin directory",
            );
            None
        }
        Err(_) => {
            r.at(
                &cwd.span(),
                "run.cwd",
                format!("directory `{text}` does not exist ({})", joined.display()),
                "create it or fix the path; relative paths start at the plugin directory",
            );
            None
        }
    }
}
