//! Version labels: the one rule every entry point checks (manifest, CLI, socket API,
//! dashboard form, operator) before a version can reach a command line, a log or the store.
//!
//! A version is 1 to 64 characters of `A-Z a-z 0-9 . _ + -`, starting with a letter or a
//! digit. That covers SemVer (`1.4.0-rc.1+build.5`), dates (`2024-05-01.1`) and git hashes,
//! and leaves out everything a shell, a path or a terminal gives meaning to.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Longest version accepted, in characters (= bytes: only ASCII is allowed).
pub const MAX_VERSION_LEN: usize = 64;

/// What a version may be, for hints.
pub const VERSION_RULE: &str = "a version is 1 to 64 of the characters A-Z a-z 0-9 . _ + -, \
     starting with a letter or digit, e.g. 1.4.0 or 2.5.0-rc.1";

/// A checked version label.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Version(String);

/// Why a text is not a version: what is wrong, and the rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionError {
    pub message: String,
    pub hint: String,
}

impl fmt::Display for VersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; {}", self.message, self.hint)
    }
}

impl std::error::Error for VersionError {}

impl Version {
    /// Checks `text` against the rule; the error says which character or length is wrong.
    pub fn parse(text: &str) -> Result<Version, VersionError> {
        let refuse = |message: String| {
            Err(VersionError {
                message,
                hint: VERSION_RULE.to_string(),
            })
        };
        if text.is_empty() {
            return refuse("the version is empty".to_string());
        }
        let shown = show(text);
        if let Some((at, bad)) = text
            .chars()
            .enumerate()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-')))
        {
            let what = if bad.is_whitespace() {
                "whitespace".to_string()
            } else if bad.is_control() {
                format!("the control character {:?}", bad)
            } else {
                format!("`{bad}`")
            };
            return refuse(format!(
                "version `{shown}` contains {what} (character {})",
                at + 1
            ));
        }
        if text.len() > MAX_VERSION_LEN {
            return refuse(format!(
                "version `{shown}` is {} characters long, more than {MAX_VERSION_LEN}",
                text.len()
            ));
        }
        if !text.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return refuse(format!(
                "version `{shown}` must start with a letter or digit"
            ));
        }
        Ok(Version(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The text in a message: control characters escaped, long texts cut.
fn show(text: &str) -> String {
    const MAX_SHOWN: usize = 40;
    let escaped: String = text.chars().flat_map(char::escape_debug).collect();
    if escaped.chars().count() <= MAX_SHOWN {
        escaped
    } else {
        let cut: String = escaped.chars().take(MAX_SHOWN).collect();
        format!("{cut}…")
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Version {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Version::parse(s)
    }
}

impl TryFrom<String> for Version {
    type Error = VersionError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Version::parse(&s)
    }
}

impl From<Version> for String {
    fn from(v: Version) -> String {
        v.0
    }
}

impl AsRef<str> for Version {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The version a candidate becomes when the person names none: the patch release after
/// `current`, with the candidate's id as a pre-release (`1.4.0` → `1.4.1-ai.k3x9q2`), so
/// it sorts after the version it changed and says where it came from. A version that
/// does not start with `MAJOR.MINOR.PATCH` keeps its text: `2024-05-01` → `2024-05-01-ai.k3x9q2`.
pub fn candidate_version(current: &str, id: &str) -> Result<Version, VersionError> {
    let mut parts = current.splitn(3, '.');
    let (major, minor) = (parts.next(), parts.next());
    let patch_digits: Option<String> = parts
        .next()
        .map(|rest| rest.chars().take_while(char::is_ascii_digit).collect());
    let semver = match (major, minor, patch_digits) {
        (Some(major), Some(minor), Some(patch))
            if [major, minor, patch.as_str()]
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) =>
        {
            patch
                .parse::<u64>()
                .ok()
                .map(|patch| format!("{major}.{minor}.{}", patch + 1))
        }
        _ => None,
    };
    let base = semver.unwrap_or_else(|| current.to_string());
    Version::parse(&format!("{base}-ai.{id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_usual_shapes() {
        for ok in [
            "1",
            "1.4.0",
            "2.5.0-rc.1+build.5",
            "2024-05-01.1",
            "v2",
            "3fa91c0",
            "a_b",
            &"9".repeat(64),
        ] {
            assert_eq!(Version::parse(ok).map(String::from), Ok(ok.to_string()));
        }
    }

    #[test]
    fn refuses_with_the_reason() {
        let cases = [
            ("", "empty"),
            ("x$(touch${IFS}/tmp/INJECTED)", "contains `$` (character 2)"),
            ("1.0 beta", "whitespace"),
            ("1.0\u{7}", "control character"),
            ("1.0\n", "whitespace"),
            ("1.0;rm", "`;`"),
            ("1.0'", "`'`"),
            ("é1", "`é`"),
            ("-1", "start with a letter or digit"),
            (".1", "start with a letter or digit"),
        ];
        for (text, fragment) in cases {
            let e = Version::parse(text).expect_err(text);
            assert!(e.message.contains(fragment), "{text:?}: {}", e.message);
            assert!(e.hint.contains("1 to 64"), "{text:?}: {}", e.hint);
        }
        let long = "1".repeat(300);
        let e = Version::parse(&long).expect_err("long");
        assert!(e.message.contains("300 characters"), "{}", e.message);
        assert!(e.message.chars().count() < 120, "cut: {}", e.message);
    }

    #[test]
    fn serde_refuses_what_parse_refuses() {
        let v: Version = serde_json::from_str("\"1.2.3\"").expect("ok");
        assert_eq!(v.as_str(), "1.2.3");
        let e = serde_json::from_str::<Version>("\"a;b\"").expect_err("bad");
        assert!(e.to_string().contains("`;`"), "{e}");
    }

    #[test]
    fn a_candidate_version_is_the_next_patch_with_the_id() {
        let derived = |v: &str| candidate_version(v, "k3x9q2").map(String::from);
        assert_eq!(derived("1.4.0"), Ok("1.4.1-ai.k3x9q2".to_string()));
        assert_eq!(derived("1.4.9-rc.1+b5"), Ok("1.4.10-ai.k3x9q2".to_string()));
        assert_eq!(
            derived("2024-05-01"),
            Ok("2024-05-01-ai.k3x9q2".to_string())
        );
        assert_eq!(derived("v2"), Ok("v2-ai.k3x9q2".to_string()));
        assert!(
            candidate_version(&"9".repeat(60), "k3x9q2").is_err(),
            "too long is refused"
        );
    }
}
