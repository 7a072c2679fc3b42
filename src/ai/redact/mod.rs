//! The one redactor at the model boundary: every byte bound for a language-model provider
//! passes [`Redactor`] first (OPERATOR.md, rule 3).
//!
//! Two kinds of knowledge go into it:
//!
//! - **Known values** (`known.rs`): the plugin environment values that look secret and every
//!   value resolved from a secret reference (`env_from`), masked wherever they appear as
//!   `[redacted:NAME]`, so the model still learns *which* setting showed up in a log.
//! - **Patterns** (`patterns.rs`): API keys, `Authorization` and `Cookie` headers, bearer
//!   tokens, `password=`/`token:`-style pairs (plain, quoted, JSON, escaped JSON, command
//!   flags), credentials in URLs, JWTs and private-key PEM blocks, in any text.
//!
//! Masks keep the shape of what they hide: a vendor's public key prefix stays
//! (`sk-ant-api03-…[redacted]`, `ghp_…[redacted]`), a URL keeps its scheme, user and host
//! (`postgres://app:[redacted]@db:5432/orders`), a pair keeps its key and quotes
//! (`"password": "[redacted]"`). No part of a secret itself is ever kept.
//!
//! Deliberately *not* masked: UUIDs (request, slot and rollout ids the model needs to
//! correlate events; an id grants nothing by itself), hex digests and git hashes, version
//! numbers, IP addresses and ports, and secret *references* (`env:API_TOKEN`,
//! `file:/run/secrets/db`), which say where a secret lives, not what it is. There is no
//! generic "high entropy" rule: it would mask ids and digests the operator must quote back.
//! A known value that happens to be a UUID is still masked, because it is known.
//!
//! Redacting is idempotent: masks never match a rule again, so text that passed once passes
//! unchanged the second time (the operator redacts tool results, then whole requests).

mod known;
mod patterns;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::fmt;

pub use known::{KnownSecret, MIN_KNOWN_LEN, MIN_PLAIN_LEN, worth_masking};

use crate::core::workspace::Workspace;

/// What a mask hid, for reporting ("masked 2 API keys and 1 password").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RedactionKind {
    /// A plugin env value or a resolved secret reference.
    KnownValue,
    /// A `-----BEGIN … PRIVATE KEY-----` block.
    PrivateKey,
    /// The password of a URL with credentials (`postgres://user:pass@host`).
    UrlPassword,
    /// An `Authorization`/`Cookie` header value or a bearer token.
    AuthHeader,
    /// The value of a `password=`, `token:`, `api_key`… pair or command-line flag.
    KeyValue,
    /// A JSON Web Token.
    Jwt,
    /// A vendor API key (`sk-…`, `ghp_…`, `xoxb-…`, `AKIA…`…).
    ApiKey,
}

impl RedactionKind {
    pub const ALL: [RedactionKind; 7] = [
        RedactionKind::KnownValue,
        RedactionKind::PrivateKey,
        RedactionKind::UrlPassword,
        RedactionKind::AuthHeader,
        RedactionKind::KeyValue,
        RedactionKind::Jwt,
        RedactionKind::ApiKey,
    ];

    /// A short plural noun for reports.
    pub fn describe(self) -> &'static str {
        match self {
            RedactionKind::KnownValue => "workspace secrets",
            RedactionKind::PrivateKey => "private keys",
            RedactionKind::UrlPassword => "URL passwords",
            RedactionKind::AuthHeader => "auth headers or bearer tokens",
            RedactionKind::KeyValue => "secret key-value pairs",
            RedactionKind::Jwt => "JWTs",
            RedactionKind::ApiKey => "API keys",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// How many masks of each kind one or more redactions applied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Redactions {
    counts: [usize; RedactionKind::ALL.len()],
}

impl Redactions {
    pub fn get(&self, kind: RedactionKind) -> usize {
        self.counts[kind.index()]
    }

    pub fn total(&self) -> usize {
        self.counts.iter().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }

    /// The kinds that were masked at least once, with their counts.
    pub fn iter(&self) -> impl Iterator<Item = (RedactionKind, usize)> + '_ {
        RedactionKind::ALL
            .into_iter()
            .map(|k| (k, self.get(k)))
            .filter(|(_, n)| *n > 0)
    }

    /// Adds another report's counts to this one.
    pub fn add(&mut self, other: &Redactions) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts) {
            *mine += theirs;
        }
    }

    fn note(&mut self, kind: RedactionKind) {
        self.counts[kind.index()] += 1;
    }
}

impl fmt::Display for Redactions {
    /// `nothing masked`, or `3 masked (2 API keys, 1 JWTs)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("nothing masked");
        }
        write!(f, "{} masked (", self.total())?;
        for (i, (kind, n)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{n} {}", kind.describe())?;
        }
        f.write_str(")")
    }
}

/// Masks secrets in text and JSON. Cheap to share (`Clone` copies one compiled matcher);
/// the pattern rules are compiled once per process.
#[derive(Clone, Default)]
pub struct Redactor {
    known: Option<known::KnownValues>,
}

impl fmt::Debug for Redactor {
    // Never prints the values it knows.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("known_values", &self.known_count())
            .finish()
    }
}

impl Redactor {
    /// A redactor that masks these values wherever they appear, besides the patterns. Values
    /// shorter than [`MIN_KNOWN_LEN`] characters are ignored: masking every "abc" in
    /// every log line would garble the text while hiding next to nothing.
    pub fn new(known: impl IntoIterator<Item = KnownSecret>) -> Redactor {
        Redactor {
            known: known::KnownValues::build(known.into_iter().collect()),
        }
    }

    /// A redactor for this workspace: the env values of each plugin that pass
    /// [`worth_masking`], every `env_from` reference resolved in this process (a reference
    /// that does not resolve here is skipped: its value cannot be in this process's hands
    /// unless the engine sends it, and the patterns still apply), and alert webhook URLs
    /// (Slack- and Discord-style webhooks carry their secret in the path).
    pub fn for_workspace(workspace: &Workspace) -> Redactor {
        Redactor::new(known::from_workspace(workspace))
    }

    /// This redactor plus more known values (say, the provider's own API key).
    pub fn with(self, more: impl IntoIterator<Item = KnownSecret>) -> Redactor {
        let mut all = self.known.map(|k| k.into_secrets()).unwrap_or_default();
        all.extend(more);
        Redactor::new(all)
    }

    /// How many distinct values it masks besides the patterns.
    pub fn known_count(&self) -> usize {
        self.known.as_ref().map_or(0, |k| k.len())
    }

    /// `text` with every secret masked; borrowed when nothing needed masking.
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        self.redact_counted(text, &mut Redactions::default())
    }

    /// Like [`Redactor::redact`], adding what it masked to `counts`.
    pub fn redact_counted<'t>(&self, text: &'t str, counts: &mut Redactions) -> Cow<'t, str> {
        let mut text = Cow::Borrowed(text);
        if let Some(known) = &self.known {
            text = known.mask(text, counts);
        }
        patterns::mask_all(text, counts)
    }

    /// Masks every string in `value`, recursively: array items, object values, and object
    /// keys too. An object member whose key names a secret (`"password"`, `"api_key"`,
    /// `"GITHUB_TOKEN"`…) has its string or number value masked whole, since structure
    /// already says what it is.
    pub fn redact_json(&self, value: &mut serde_json::Value) -> Redactions {
        let mut counts = Redactions::default();
        self.redact_value(value, &mut counts);
        counts
    }

    fn redact_value(&self, value: &mut serde_json::Value, counts: &mut Redactions) {
        use serde_json::Value;
        match value {
            Value::String(s) => {
                if let Cow::Owned(masked) = self.redact_counted(s, counts) {
                    *s = masked;
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.redact_value(item, counts);
                }
            }
            Value::Object(map) => {
                let renamed: Vec<(String, String)> = map
                    .keys()
                    .filter_map(|k| match self.redact_counted(k, counts) {
                        Cow::Owned(masked) => Some((k.clone(), masked)),
                        Cow::Borrowed(_) => None,
                    })
                    .collect();
                for (old, new) in renamed {
                    if let Some(v) = map.remove(&old) {
                        map.insert(new, v);
                    }
                }
                // `{"name": "DB_PASSWORD", "value": "…"}`, as Kubernetes and many APIs list
                // environment variables.
                let named_secret = ["name", "key"].iter().any(|field| {
                    map.get(*field)
                        .and_then(|n| n.as_str())
                        .is_some_and(patterns::is_secret_key)
                });
                if named_secret
                    && let Some(v) = map.get_mut("value")
                    && patterns::mask_member(v)
                {
                    counts.note(RedactionKind::KeyValue);
                }
                for (key, member) in map.iter_mut() {
                    if patterns::is_secret_key(key) && patterns::mask_member(member) {
                        counts.note(RedactionKind::KeyValue);
                    } else {
                        self.redact_value(member, counts);
                    }
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}

/// The mask for a value with nothing worth keeping.
pub const MASK: &str = "[redacted]";

/// Whether `text` already holds one of our masks, so a rule leaves it alone.
fn already_masked(text: &str) -> bool {
    text.contains("[redacted")
}
