//! `[run] env_from`: environment variables whose values naap reads when it starts a gate or
//! a slot, from a file (`file:/run/secrets/token`) or from naap's own environment
//! (`env:API_TOKEN`). Only the reference is kept — in the manifest model, the stored run spec
//! and the gate cache key — never the value.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;

/// Where a secret's value is read from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum SecretRef {
    /// The whole file, minus one trailing newline (as Docker and Kubernetes secret files
    /// are usually written with one).
    File(PathBuf),
    /// A variable of the engine's environment.
    Env(String),
}

impl SecretRef {
    /// Parses `file:PATH` or `env:NAME`; a relative path is taken from `base`.
    pub fn parse(text: &str, base: &std::path::Path) -> Result<SecretRef, String> {
        if let Some(path) = text.strip_prefix("file:") {
            if path.is_empty() {
                return Err("`file:` needs a path".to_string());
            }
            return Ok(SecretRef::File(base.join(path)));
        }
        if let Some(name) = text.strip_prefix("env:") {
            if !is_env_name(name) {
                return Err(format!("`{name}` is not an environment variable name"));
            }
            return Ok(SecretRef::Env(name.to_string()));
        }
        Err(format!("`{text}` is neither `file:PATH` nor `env:NAME`"))
    }

    /// The secret's value now.
    pub fn resolve(&self) -> Result<String, String> {
        match self {
            SecretRef::File(path) => match std::fs::read_to_string(path) {
                Ok(text) => Ok(text.strip_suffix('\n').unwrap_or(&text).to_string()),
                Err(e) => Err(format!("cannot read {}: {e}", path.display())),
            },
            SecretRef::Env(name) => match std::env::var(name) {
                Ok(value) => Ok(value),
                Err(std::env::VarError::NotPresent) => Err(format!(
                    "the variable {name} is not set in the engine's environment"
                )),
                Err(std::env::VarError::NotUnicode(_)) => {
                    Err(format!("the variable {name} is not valid UTF-8"))
                }
            },
        }
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`, what a shell can name.
pub fn is_env_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::File(path) => write!(f, "file:{}", path.display()),
            SecretRef::Env(name) => write!(f, "env:{name}"),
        }
    }
}

impl From<SecretRef> for String {
    fn from(r: SecretRef) -> String {
        r.to_string()
    }
}

impl TryFrom<String> for SecretRef {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        // Stored references are absolute already.
        SecretRef::parse(&text, std::path::Path::new("/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_resolve_and_round_trip() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("token"), "s3cret\n").expect("write");
        let r = SecretRef::parse("file:token", dir.path()).expect("file");
        assert_eq!(r.resolve().as_deref(), Ok("s3cret"));
        let json = serde_json::to_string(&r).expect("json");
        assert!(!json.contains("s3cret"), "{json}");
        assert_eq!(serde_json::from_str::<SecretRef>(&json).expect("back"), r);
        let missing = SecretRef::parse("file:nope", dir.path()).expect("parse");
        assert!(missing.resolve().unwrap_err().contains("cannot read"));
        let unset = SecretRef::parse("env:NAAP_TEST_SURELY_UNSET_VAR", dir.path()).expect("env");
        assert!(unset.resolve().unwrap_err().contains("not set"));
        assert!(SecretRef::parse("vault:x", dir.path()).is_err());
        assert!(SecretRef::parse("env:1X", dir.path()).is_err());
        assert!(SecretRef::parse("file:", dir.path()).is_err());
    }
}
