//! The pattern rules: secrets recognisable by their shape or by the name next to them.
//!
//! Each rule is one regex compiled once per process, and a function that builds the mask
//! from its captures, or declines (`None`) when the match is not a secret after all: a
//! status word (`token: expired`), a secret reference (`password = env:DB_PASSWORD`), code
//! (`token = self.next_token()`, `password: String`), or one of our own masks. Rules run
//! in order, most specific first, so `Authorization: Bearer eyJ…` is counted once, as a
//! header.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};

use super::{MASK, RedactionKind, Redactions, already_masked};

struct Rule {
    kind: RedactionKind,
    regex: Regex,
    mask: fn(&Captures) -> Option<String>,
}

/// The words that make a key name a secret's when it ends with one of them
/// (`DB_PASSWORD`, `client_secret`, `x-api-key`, `GITHUB_TOKEN`), but not `max_tokens`,
/// `token_count` or `password_min_length`. `pwd` and `pass` are left out: `PWD` is the
/// shell's working directory and `pass` is a test verdict.
const SECRET_WORDS: &str = r"password|passwd|passphrase|secret|token|api[_-]?key|(?:access|secret|private|signing|encryption|master)[_-]?key|credentials?|auth|dsn|connection[_-]?string";

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let rule = |kind, pattern: &str, mask: fn(&Captures) -> Option<String>| Rule {
        kind,
        // The patterns are constants of this file; the unit tests compile every one.
        regex: Regex::new(pattern).unwrap_or_else(|e| panic!("redaction rule {pattern}: {e}")),
        mask,
    };
    vec![
        rule(
            RedactionKind::PrivateKey,
            r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----((?s:.*?))(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\z)",
            mask_private_key,
        ),
        rule(
            RedactionKind::UrlPassword,
            r#"(?i)\b([a-z][a-z0-9+.-]{0,30}://)([^\s:/?#@"'<>\[\]\\]*):([^\s/?#"'<>\\]+)@"#,
            mask_url_password,
        ),
        rule(
            RedactionKind::AuthHeader,
            r#"(?i)\b((?:proxy-)?authorization\\?["']?\s*[:=]\s*\\?["']?)((?:bearer|basic|token|digest|negotiate|ntlm|apikey)\s+)?([^\s"'\\,;]+)"#,
            mask_authorization,
        ),
        rule(
            RedactionKind::AuthHeader,
            r#"(?i)\b((?:set-)?cookie\\?["']?\s*:\s*\\?["']?)([^\s;=,"'\\]+=[^\r\n"'\\]*)"#,
            mask_cookie,
        ),
        rule(
            RedactionKind::AuthHeader,
            r"(?i)\b(bearer\s+)([A-Za-z0-9._~+/-]{16,}=*)",
            mask_bearer,
        ),
        rule(
            RedactionKind::KeyValue,
            r#"(?i)(--(?:password|passwd|passphrase|token|secret|api-key|apikey|access-token|auth-token|client-secret)(?:\s+|=))("[^"]*"|'[^']*'|[^\s"']+)"#,
            mask_flag,
        ),
        rule(
            RedactionKind::KeyValue,
            &format!(
                r#"(?i)({SECRET_WORDS})((?:\\?["'])?\s*[:=]\s*)(\\"(?:[^"\\]|\\[^"])*\\"|"(?:[^"\\]|\\.)*"|'[^']*'|[^\s,;&"'`(){{}}\[\]<>|=:][^\s,;&"'`(){{}}\[\]<>|]*)([(\[<]?)"#
            ),
            mask_pair,
        ),
        rule(
            RedactionKind::Jwt,
            r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*",
            |_| Some("eyJ…[redacted]".to_string()),
        ),
        rule(
            RedactionKind::ApiKey,
            r"\b(sk-ant-(?:[a-z]+[0-9]+-)?|sk-(?:proj-|svcacct-|admin-)?|(?:sk|rk)_(?:live|test)_|gh[pousr]_|github_pat_|glpat-|xox[abposre]-|hf_|AKIA|ASIA|AIza)([A-Za-z0-9_-]{16,})",
            mask_api_key,
        ),
    ]
});

/// Runs every rule over `text`, adding what each masked to `counts`.
pub(super) fn mask_all<'t>(mut text: Cow<'t, str>, counts: &mut Redactions) -> Cow<'t, str> {
    for rule in RULES.iter() {
        text = apply(rule, text, counts);
    }
    text
}

fn apply<'t>(rule: &Rule, text: Cow<'t, str>, counts: &mut Redactions) -> Cow<'t, str> {
    let mut out: Option<String> = None;
    let mut last = 0;
    for caps in rule.regex.captures_iter(&text) {
        let Some(whole) = caps.get(0) else { continue };
        let Some(mask) = (rule.mask)(&caps) else {
            continue;
        };
        let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
        o.push_str(&text[last..whole.start()]);
        o.push_str(&mask);
        last = whole.end();
        counts.note(rule.kind);
    }
    match out {
        None => text,
        Some(mut o) => {
            o.push_str(&text[last..]);
            Cow::Owned(o)
        }
    }
}

fn group<'c>(caps: &'c Captures, i: usize) -> &'c str {
    caps.get(i).map_or("", |m| m.as_str())
}

fn mask_private_key(caps: &Captures) -> Option<String> {
    let label = group(caps, 1);
    if already_masked(group(caps, 2)) {
        return None;
    }
    Some(format!(
        "-----BEGIN {label}-----…{MASK}-----END {label}-----"
    ))
}

fn mask_url_password(caps: &Captures) -> Option<String> {
    if already_masked(group(caps, 3)) {
        return None;
    }
    Some(format!("{}{}:{MASK}@", group(caps, 1), group(caps, 2)))
}

fn mask_authorization(caps: &Captures) -> Option<String> {
    let scheme = group(caps, 2);
    let value = group(caps, 3);
    if already_masked(value) || (scheme.is_empty() && is_not_a_value(value)) {
        return None;
    }
    Some(format!("{}{scheme}{MASK}", group(caps, 1)))
}

fn mask_cookie(caps: &Captures) -> Option<String> {
    if already_masked(group(caps, 2)) {
        return None;
    }
    Some(format!("{}{MASK}", group(caps, 1)))
}

fn mask_bearer(caps: &Captures) -> Option<String> {
    let token = group(caps, 2);
    if already_masked(token) || !looks_random(token) {
        return None;
    }
    Some(format!("{}{MASK}", group(caps, 1)))
}

fn mask_flag(caps: &Captures) -> Option<String> {
    let flag = group(caps, 1);
    let (quote, inner) = unquote(group(caps, 2));
    let spaced = !flag.ends_with('=');
    if inner.is_empty()
        || already_masked(inner)
        || is_not_a_value(inner)
        || is_reference(inner)
        || (quote.is_empty() && inner.starts_with('-'))
        // `use --token to pass it`: after a space, a short word is prose, not a secret.
        || (spaced && quote.is_empty() && inner.chars().count() < 4)
    {
        return None;
    }
    Some(format!("{flag}{quote}{MASK}{quote}"))
}

fn mask_pair(caps: &Captures) -> Option<String> {
    // The match starts at the secret word: whatever comes before it in the key
    // (`GITHUB_` of `GITHUB_TOKEN`) stays as it is, and a pattern that starts with the
    // words lets the regex engine skip ahead to them.
    let word = group(caps, 1);
    let separator = group(caps, 2);
    let value = group(caps, 3);
    let trailer = group(caps, 4);
    let (quote, inner) = unquote(value);
    if inner.is_empty() || already_masked(inner) || is_not_a_value(inner) || is_reference(inner) {
        return None;
    }
    if quote.is_empty() && looks_like_code(word, inner, trailer) {
        return None;
    }
    Some(format!("{word}{separator}{quote}{MASK}{quote}{trailer}"))
}

fn mask_api_key(caps: &Captures) -> Option<String> {
    let prefix = group(caps, 1);
    let body = group(caps, 2);
    // Plain `sk-` and `hf_` also start ordinary slugs and identifiers (`hf_model_name`);
    // real keys of those vendors are random and carry digits.
    if (prefix == "sk-" || prefix == "hf_") && !looks_random(body) {
        return None;
    }
    Some(format!("{prefix}…{MASK}"))
}

/// Splits a value from its quotes: `"x"` → (`"`, `x`), `\"x\"` → (`\"`, `x`).
fn unquote(value: &str) -> (&'static str, &str) {
    for quote in ["\\\"", "\"", "'"] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|v| v.strip_suffix(quote))
        {
            return (quote, inner);
        }
    }
    ("", value)
}

/// Some letters and some digits: the least a random token has and a word lacks.
fn looks_random(text: &str) -> bool {
    text.chars().any(|c| c.is_ascii_digit()) && text.chars().any(|c| c.is_ascii_alphabetic())
}

/// A word that stands where a secret would but says something about it instead
/// (`token: expired`, `password: required`, `"secret": null`), a type (`password: string`),
/// or a placeholder someone already put there (`***`, `<token>`, `…`).
fn is_not_a_value(value: &str) -> bool {
    const WORDS: [&str; 41] = [
        "null",
        "none",
        "nil",
        "undefined",
        "true",
        "false",
        "yes",
        "no",
        "on",
        "off",
        "enabled",
        "disabled",
        "required",
        "optional",
        "missing",
        "unset",
        "set",
        "empty",
        "ok",
        "invalid",
        "expired",
        "valid",
        "present",
        "absent",
        "hidden",
        "masked",
        "redacted",
        "omitted",
        "n/a",
        "str",
        "string",
        "bool",
        "boolean",
        "int",
        "integer",
        "bytes",
        "number",
        "any",
        "object",
        "char",
        "text",
    ];
    let v = value.trim();
    WORDS.iter().any(|w| v.eq_ignore_ascii_case(w))
        || v.chars()
            .all(|c| matches!(c, '*' | 'x' | 'X' | '.' | '…' | '•' | '-' | '_'))
        || (v.starts_with('<') && v.ends_with('>'))
}

/// Where a secret lives rather than what it is: naap's secret references (`env:NAME`,
/// `file:PATH`), shell variables (`$NAME`, `${NAME}`) and template expressions.
fn is_reference(value: &str) -> bool {
    static SHELL_VAR: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^\$(?:[A-Za-z_][A-Za-z0-9_]*|\{[A-Za-z_][A-Za-z0-9_]*(?::?-[^}]*)?\})$")
            .unwrap_or_else(|e| panic!("shell variable rule: {e}"))
    });
    value.starts_with("env:")
        || value.starts_with("file:")
        || value.starts_with("{{")
        || value.starts_with("${{")
        || SHELL_VAR.is_match(value)
}

/// An unquoted value that is code, not a secret: a call or index (`os.urandom(32)`,
/// `env["TOKEN"]`), a generic or type name (`Option<String>`, `SecretString`), or an
/// expression naming the same thing (`cfg.password`, `self.api_key`).
fn looks_like_code(word: &str, value: &str, trailer: &str) -> bool {
    if !trailer.is_empty() {
        return true;
    }
    let is_type_name = value.starts_with(|c: char| c.is_ascii_uppercase())
        && value.chars().all(|c| c.is_ascii_alphabetic());
    let normalise = |s: &str| s.to_ascii_lowercase().replace(['_', '-'], "");
    is_type_name || normalise(value).contains(&normalise(word))
}

/// Whether an object key names a secret: ends with one of [`SECRET_WORDS`], or is an
/// `Authorization` / `Cookie` header.
pub(super) fn is_secret_key(key: &str) -> bool {
    static KEY: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(&format!(
            r"(?i)^(?:[a-z0-9_.-]*?(?:{SECRET_WORDS})|(?:proxy-)?authorization|(?:set-)?cookie)$"
        ))
        .unwrap_or_else(|e| panic!("secret key rule: {e}"))
    });
    KEY.is_match(key)
}

/// Masks a JSON member whose key names a secret, whole; false when there is nothing to
/// mask (a status word, a reference, a mask already, or a structure to walk into).
pub(super) fn mask_member(value: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::String(s)
            if !s.is_empty() && !already_masked(s) && !is_not_a_value(s) && !is_reference(s) =>
        {
            *s = MASK.to_string();
            true
        }
        Value::Number(_) => {
            *value = Value::String(MASK.to_string());
            true
        }
        _ => false,
    }
}

#[cfg(test)]
pub(super) fn rule_count() -> usize {
    RULES.len()
}
