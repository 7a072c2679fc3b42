//! `[plugin]` (name, version, route or host) and `[routing]` (stickiness).

use std::path::Path;

use serde_spanned::Spanned;

use super::missing;
use crate::core::types::Version;
use crate::core::workspace::model::{Route, Sticky};
use crate::core::workspace::problem::Report;
use crate::core::workspace::raw::{RawPlugin, RawPluginTable};
use crate::core::workspace::reader::Field;

/// `[plugin]`: name, version and route or host.
pub(super) fn identity(
    table: &Field<RawPluginTable>,
    r: &mut Report,
    dir: &Path,
) -> (
    Option<Spanned<String>>,
    Option<String>,
    Option<Spanned<Route>>,
) {
    let example = dir
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| is_plugin_name(n))
        .unwrap_or("my-plugin")
        .to_string();
    let t = match table {
        Field::Present(t) => t,
        Field::Absent => {
            r.unplaced(
                "plugin",
                "missing table [plugin]",
                format!(
                    "add a [plugin] table with name, version and route, e.g. name = \"{example}\""
                ),
            );
            return (None, None, None);
        }
        Field::Invalid => return (None, None, None),
    };

    let name = match &t.name {
        Field::Present(n) if is_plugin_name(n.get_ref()) => Some(n.clone()),
        Field::Present(n) => {
            r.at(
                &n.span(),
                "plugin.name",
                format!("invalid plugin name `{}`", n.get_ref()),
                "use 1 to 40 lower-case letters, digits and dashes, starting with a letter \
                 or digit, e.g. \"expense-tracker\"",
            );
            None
        }
        Field::Absent => {
            missing(
                r,
                &t.span,
                "plugin",
                "name",
                &format!("name = \"{example}\""),
            );
            None
        }
        Field::Invalid => None,
    };

    let version = match &t.version {
        // The same rule as `naap deploy --version`: the version reaches command lines.
        Field::Present(v) => match Version::parse(v.get_ref()) {
            Ok(version) => Some(version.into()),
            Err(e) => {
                r.at(
                    &v.span(),
                    "plugin.version",
                    e.message,
                    format!("{}; write e.g. version = \"0.1.0\"", e.hint),
                );
                None
            }
        },
        Field::Absent => {
            missing(r, &t.span, "plugin", "version", "version = \"0.1.0\"");
            None
        }
        Field::Invalid => None,
    };

    let route = match (&t.route, &t.host) {
        (Field::Present(_), Field::Present(host)) => {
            r.at(
                &host.span(),
                "plugin.host",
                "set either `route` or `host`, not both",
                "keep `route` to route by path prefix, or `host` to route by host name",
            );
            None
        }
        (Field::Present(prefix), _) => prefix_route(r, prefix, &t.strip_prefix),
        (_, Field::Present(host)) => {
            if let Field::Present(strip) = &t.strip_prefix {
                r.at(
                    &strip.span(),
                    "plugin.strip_prefix",
                    "`strip_prefix` only applies to a `route`, not to a `host`",
                    "remove strip_prefix",
                );
            }
            host_route(r, host)
        }
        (Field::Absent, Field::Absent) => {
            r.at(
                &t.span,
                "plugin.route",
                "missing `route` or `host` in [plugin]",
                format!(
                    "add a line like: route = \"/{example}\" (or host = \"{example}.localhost\")"
                ),
            );
            None
        }
        _ => None,
    };
    (name, version, route)
}

fn prefix_route(
    r: &mut Report,
    prefix: &Spanned<String>,
    strip: &Field<Spanned<bool>>,
) -> Option<Spanned<Route>> {
    let text = prefix.get_ref();
    if !text.starts_with('/') {
        r.at(
            &prefix.span(),
            "plugin.route",
            format!("route `{text}` must start with \"/\""),
            format!("write route = \"/{}\"", text.trim()),
        );
        return None;
    }
    if let Some(bad) = text
        .chars()
        .find(|c| c.is_whitespace() || matches!(c, '?' | '#'))
    {
        r.at(
            &prefix.span(),
            "plugin.route",
            format!("route `{text}` contains {bad:?}"),
            "a route is a plain path prefix such as \"/expenses\", without spaces, query or fragment",
        );
        return None;
    }
    let trimmed = text.trim_end_matches('/');
    let normalised = if trimmed.is_empty() { "/" } else { trimmed };
    let strip = match strip {
        Field::Present(s) => *s.get_ref(),
        _ => true,
    };
    Some(Spanned::new(
        prefix.span(),
        Route::Prefix {
            prefix: normalised.to_string(),
            strip,
        },
    ))
}

fn host_route(r: &mut Report, host: &Spanned<String>) -> Option<Spanned<Route>> {
    let text = host.get_ref();
    let lower = text.to_ascii_lowercase();
    let hint = "write a bare host name without scheme or port, e.g. host = \"expenses.localhost\"";
    let valid_chars = lower
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    if lower.is_empty() || !valid_chars || lower.split('.').any(str::is_empty) {
        r.at(
            &host.span(),
            "plugin.host",
            format!("invalid host `{text}`"),
            hint,
        );
        return None;
    }
    Some(Spanned::new(host.span(), Route::Host(lower)))
}

/// `[routing]`: at most one of sticky_header and sticky_cookie.
pub(super) fn sticky(raw: &RawPlugin, r: &mut Report) -> Option<Sticky> {
    match (&raw.sticky_header, &raw.sticky_cookie) {
        (Field::Present(_), Field::Present(cookie)) => {
            r.at(
                &cookie.span(),
                "routing.sticky_cookie",
                "set either `sticky_header` or `sticky_cookie`, not both",
                "keep the one that identifies a user in your requests",
            );
            None
        }
        (Field::Present(h), _) => token(
            r,
            h,
            "routing.sticky_header",
            "sticky_header = \"x-user-id\"",
        )
        .then(|| Sticky::Header(h.get_ref().to_ascii_lowercase())),
        (_, Field::Present(c)) => {
            token(r, c, "routing.sticky_cookie", "sticky_cookie = \"session\"")
                .then(|| Sticky::Cookie(c.get_ref().clone()))
        }
        _ => None,
    }
}

/// Header and cookie names are HTTP tokens; anything else could never match a request.
fn token(r: &mut Report, value: &Spanned<String>, field: &str, example: &str) -> bool {
    let text = value.get_ref();
    let ok = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c));
    if !ok {
        r.at(
            &value.span(),
            field,
            format!("`{text}` is not a valid header or cookie name"),
            format!("use letters, digits and dashes, e.g. {example}"),
        );
    }
    ok
}

/// `[a-z0-9][a-z0-9-]{0,39}`
fn is_plugin_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    first_ok
        && name.len() <= 40
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}
