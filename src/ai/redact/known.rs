//! Values the workspace tells us are secret, and the rule for which plugin env values
//! count as secret.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use super::{RedactionKind, Redactions};
use crate::core::workspace::{PLACEHOLDER_NAMES, Workspace};

/// Known values shorter than this are never masked (see [`super::Redactor::new`]).
pub const MIN_KNOWN_LEN: usize = 4;

/// Env values under a name that does not look secret are masked only from this length on.
pub const MIN_PLAIN_LEN: usize = 8;

/// One value to mask wherever it appears, and the name shown in its place.
#[derive(Clone, PartialEq, Eq)]
pub struct KnownSecret {
    /// Shown as `[redacted:NAME]`; letters, digits, `_`, `.`, `-` (others become `_`).
    pub name: Option<String>,
    pub value: String,
}

impl std::fmt::Debug for KnownSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnownSecret")
            .field("name", &self.name)
            .field("value", &"…")
            .finish()
    }
}

impl KnownSecret {
    pub fn named(name: impl Into<String>, value: impl Into<String>) -> KnownSecret {
        KnownSecret {
            name: Some(name.into()),
            value: value.into(),
        }
    }

    pub fn unnamed(value: impl Into<String>) -> KnownSecret {
        KnownSecret {
            name: None,
            value: value.into(),
        }
    }

    fn mask(&self) -> String {
        match &self.name {
            Some(name) => {
                let clean: String = name
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                format!("[redacted:{clean}]")
            }
            None => super::MASK.to_string(),
        }
    }
}

/// Whether the env value `value` of variable `key` is masked wherever it appears.
///
/// - Under a name that looks secret (`KEY`, `TOKEN`, `SECRET`, `PASSWORD`, `PASSWD`,
///   `PASSPHRASE`, `CREDENTIAL`, `AUTH`, `DSN`, `PRIVATE`, `COOKIE`, `SESSION`, `SALT`,
///   `SIGNATURE`, or a `…URL`/`…URI` whose value holds a password): always, from
///   [`MIN_KNOWN_LEN`] characters.
/// - A value holding a URL with a password: always.
/// - Anything else only from [`MIN_PLAIN_LEN`] characters, and never when it is a number or
///   version (`8080`, `1.2.3`), a boolean, an environment or log-level word (`production`,
///   `debug`), a path (`/var/lib/app`), an address (`127.0.0.1:8080`) or a URL without a
///   password. Those are not secrets, they appear all over ordinary logs, and masking them
///   would hide exactly what the operator needs to diagnose a plugin. Everything else a
///   person put in `env` (an opaque string of 8 or more characters) is masked: `env` is
///   stored with every deployed version, so secrets end up there despite the docs.
pub fn worth_masking(key: &str, value: &str) -> bool {
    let value = value.trim();
    let len = value.chars().count();
    if len < MIN_KNOWN_LEN || is_boolean(value) {
        return false;
    }
    if key_looks_secret(key) || has_url_password(value) {
        return true;
    }
    len >= MIN_PLAIN_LEN
        && !is_numeric(value)
        && !is_common_word(value)
        && !is_path(value)
        && !is_address(value)
        && !is_url(value)
}

fn key_looks_secret(key: &str) -> bool {
    static SECRET_KEY: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?i)key|token|secret|passw|passphrase|credential|auth|dsn|private|cookie|session|salt|signature",
        )
        .expect("static regex")
    });
    SECRET_KEY.is_match(key)
}

fn has_url_password(value: &str) -> bool {
    static URL_PASSWORD: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#@]*:[^\s/?#]+@").expect("static regex")
    });
    URL_PASSWORD.is_match(value)
}

fn is_boolean(value: &str) -> bool {
    ["true", "false", "yes", "no", "on", "off"]
        .iter()
        .any(|w| value.eq_ignore_ascii_case(w))
}

/// Digits with `.`, `_`, `-`, `:` or `+` between them: ports, sizes, versions, times.
fn is_numeric(value: &str) -> bool {
    let v = value.strip_prefix('v').unwrap_or(value);
    v.chars().any(|c| c.is_ascii_digit())
        && v.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | ':' | '+'))
}

fn is_common_word(value: &str) -> bool {
    const WORDS: [&str; 14] = [
        "production",
        "development",
        "staging",
        "localhost",
        "testing",
        "integration",
        "info",
        "debug",
        "warning",
        "error",
        "trace",
        "disabled",
        "enabled",
        "application/json",
    ];
    WORDS.iter().any(|w| value.eq_ignore_ascii_case(w))
}

fn is_path(value: &str) -> bool {
    ["/", "./", "../", "~/"]
        .iter()
        .any(|p| value.starts_with(p))
        && !value.contains(char::is_whitespace)
}

fn is_address(value: &str) -> bool {
    value.parse::<std::net::SocketAddr>().is_ok() || value.parse::<std::net::IpAddr>().is_ok()
}

fn is_url(value: &str) -> bool {
    value.contains("://") && !has_url_password(value) && !value.contains(char::is_whitespace)
}

/// The literal runs of an env template: the text between `{port}`-style placeholders,
/// braces unescaped. A value with a placeholder changes per slot, but its fixed parts are
/// what a person typed in.
fn literal_pieces(template: &str) -> Vec<String> {
    const OPEN: char = '\u{1}';
    const CLOSE: char = '\u{2}';
    const CUT: char = '\u{0}';
    let mut text = template
        .replace("{{", &OPEN.to_string())
        .replace("}}", &CLOSE.to_string());
    for name in PLACEHOLDER_NAMES {
        text = text.replace(&format!("{{{name}}}"), &CUT.to_string());
    }
    text.split(CUT)
        .map(|piece| piece.replace(OPEN, "{").replace(CLOSE, "}"))
        .filter(|piece| !piece.is_empty())
        .collect()
}

/// The secrets of every plugin of the workspace (see [`super::Redactor::for_workspace`]).
pub(super) fn from_workspace(workspace: &Workspace) -> Vec<KnownSecret> {
    let mut secrets = Vec::new();
    for plugin in &workspace.plugins {
        for (key, template) in &plugin.run.env {
            for piece in literal_pieces(template) {
                if worth_masking(key, &piece) {
                    secrets.push(KnownSecret::named(key, piece.trim()));
                }
            }
        }
        for (key, reference) in &plugin.run.env_from {
            if let Ok(value) = reference.resolve()
                && value.trim().chars().count() >= MIN_KNOWN_LEN
                && !is_boolean(value.trim())
            {
                secrets.push(KnownSecret::named(key, value));
            }
        }
        for alert in &plugin.alerts {
            for channel in &alert.channels {
                if let Some(url) = channel.strip_prefix("webhook:") {
                    secrets.push(KnownSecret::named("webhook", url.trim()));
                }
            }
        }
    }
    secrets
}

/// Compiled matchers for known values: alternations of the escaped literals, longest
/// first, which the regex crate runs as a multi-literal search (Aho-Corasick / Teddy).
/// Values go in chunks so that no single pattern can hit the regex size limit.
#[derive(Clone)]
pub(super) struct KnownValues {
    matchers: Vec<Matcher>,
    masks: HashMap<String, String>,
    secrets: Vec<KnownSecret>,
}

const VALUES_PER_MATCHER: usize = 256;

impl KnownValues {
    pub(super) fn build(secrets: Vec<KnownSecret>) -> Option<KnownValues> {
        let mut masks: HashMap<String, String> = HashMap::new();
        let mut kept = Vec::new();
        for secret in secrets {
            // A value with stray whitespace around it (a secret file with an extra final
            // newline) is masked in both forms.
            // And as it reads inside a JSON string (a multi-line secret file is `…\n…` in
            // a serialised request body), since a face may redact a whole body at once.
            let trimmed = secret.value.trim();
            let mut forms = vec![secret.value.clone(), trimmed.to_string()];
            for form in [secret.value.as_str(), trimmed] {
                if let Ok(quoted) = serde_json::to_string(form)
                    && let Some(inner) = quoted.strip_prefix('"').and_then(|q| q.strip_suffix('"'))
                {
                    forms.push(inner.to_string());
                }
            }
            for value in forms {
                if value.chars().count() >= MIN_KNOWN_LEN && !masks.contains_key(&value) {
                    masks.insert(value, secret.mask());
                }
            }
            kept.push(secret);
        }
        if masks.is_empty() {
            return None;
        }
        let mut values: Vec<&String> = masks.keys().collect();
        values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        let mut matchers = Vec::new();
        for chunk in values.chunks(VALUES_PER_MATCHER) {
            let alternation = chunk
                .iter()
                .map(|v| regex::escape(v))
                .collect::<Vec<_>>()
                .join("|");
            match Regex::new(&alternation) {
                Ok(matcher) => matchers.push(Matcher::Any(matcher)),
                // Too large after all (huge values): a plain search per value, so no value
                // is ever left out.
                Err(_) => matchers.extend(chunk.iter().map(|v| Matcher::Literal((*v).clone()))),
            }
        }
        Some(KnownValues {
            matchers,
            masks,
            secrets: kept,
        })
    }

    pub(super) fn len(&self) -> usize {
        self.masks.len()
    }

    pub(super) fn into_secrets(self) -> Vec<KnownSecret> {
        self.secrets
    }

    pub(super) fn mask<'t>(&self, mut text: Cow<'t, str>, counts: &mut Redactions) -> Cow<'t, str> {
        for matcher in &self.matchers {
            text = self.mask_with(matcher, text, counts);
        }
        text
    }

    fn mask_with<'t>(
        &self,
        matcher: &Matcher,
        text: Cow<'t, str>,
        counts: &mut Redactions,
    ) -> Cow<'t, str> {
        // Masks already in the text are skipped, so a value that happens to occur inside
        // one (`[redacted:API_TOKEN]` when some value is `API_TOKEN`) is not masked twice.
        let existing = mask_spans(&text);
        let mut out: Option<String> = None;
        let mut last = 0;
        for (start, end) in matcher.find_all(&text) {
            if existing.iter().any(|(s, e)| start < *e && *s < end) {
                continue;
            }
            let Some(mask) = self.masks.get(&text[start..end]) else {
                continue;
            };
            let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
            o.push_str(&text[last..start]);
            o.push_str(mask);
            last = end;
            counts.note(RedactionKind::KnownValue);
        }
        match out {
            None => text,
            Some(mut o) => {
                o.push_str(&text[last..]);
                Cow::Owned(o)
            }
        }
    }
}

#[derive(Clone)]
enum Matcher {
    /// Any of several values.
    Any(Regex),
    /// One value, searched as a plain string.
    Literal(String),
}

impl Matcher {
    /// Byte ranges of the non-overlapping matches, in order.
    fn find_all(&self, text: &str) -> Vec<(usize, usize)> {
        match self {
            Matcher::Any(re) => re.find_iter(text).map(|m| (m.start(), m.end())).collect(),
            Matcher::Literal(value) => text
                .match_indices(value.as_str())
                .map(|(i, v)| (i, i + v.len()))
                .collect(),
        }
    }
}

/// Byte ranges of the masks already in `text`.
fn mask_spans(text: &str) -> Vec<(usize, usize)> {
    static MASKS: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\[redacted(?::[A-Za-z0-9_.-]+)?\]").expect("static regex"));
    if !super::already_masked(text) {
        return Vec::new();
    }
    MASKS
        .find_iter(text)
        .map(|m| (m.start(), m.end()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_for_env_values() {
        // Secret-looking names: always, from 4 characters.
        assert!(worth_masking("API_TOKEN", "abcd"));
        assert!(worth_masking("DB_PASSWORD", "hunter2"));
        assert!(worth_masking(
            "SENTRY_DSN",
            "https://k@o1.ingest.sentry.io/2"
        ));
        assert!(worth_masking("STRIPE_KEY", "12345678"));
        assert!(!worth_masking("API_TOKEN", "abc"));
        assert!(!worth_masking("SECRET_ENABLED", "true"));
        // URLs with a password: always.
        assert!(worth_masking("DATABASE_URL", "postgres://app:pw@db/x"));
        assert!(worth_masking("UPSTREAM", "http://u:p@h"));
        // Other names: opaque strings of 8 or more.
        assert!(worth_masking("UPSTREAM_ID", "q8Zr1xkP0a"));
        assert!(worth_masking("GREETING", "hello world"));
        for plain in [
            "info",
            "production",
            "8080",
            "1.2.3",
            "v10.4.1",
            "2024-01-01",
            "/var/lib/app/data",
            "127.0.0.1:8080",
            "::1",
            "http://localhost:9000/api",
            "short",
            "yes",
        ] {
            assert!(!worth_masking("SETTING", plain), "{plain}");
        }
    }

    #[test]
    fn template_pieces_drop_placeholders_and_unescape_braces() {
        assert_eq!(
            literal_pieces("s3cret-{port}-tail{{x}}"),
            vec!["s3cret-".to_string(), "-tail{x}".to_string()]
        );
        assert_eq!(literal_pieces("{plugin}"), Vec::<String>::new());
        assert_eq!(literal_pieces("{{port}}"), vec!["{port}".to_string()]);
    }
}
