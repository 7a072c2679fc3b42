//! What a session holds: its summary and its ordered entries.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::core::types::Face;

/// A session's number, stable for the life of the file (`naap chat --resume 12`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(pub i64);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for SessionId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().parse::<i64>() {
            Ok(n) if n > 0 => Ok(SessionId(n)),
            _ => Err(format!(
                "`{s}` is not a session number; `naap chat --list` lists them"
            )),
        }
    }
}

/// A proposal's id, unique across all sessions of a workspace (`naap approve p-7kq2m9xd`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProposalId(String);

impl ProposalId {
    /// `p-` and eight random characters from an alphabet without look-alikes (no 0/o, 1/l/i):
    /// 40 bits, short enough to type, and the store refuses a duplicate.
    pub fn generate() -> ProposalId {
        const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
        let tail: String = (0..8)
            .map(|_| char::from(ALPHABET[fastrand::usize(..ALPHABET.len())]))
            .collect();
        ProposalId(format!("p-{tail}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProposalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ProposalId {
    type Err = String;
    /// 1 to 64 letters, digits, `-` or `_`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty()
            || s.len() > 64
            || !s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        {
            return Err(format!(
                "`{s}` is not a proposal id (letters, digits, `-` and `_`, like p-7kq2m9xd)"
            ));
        }
        Ok(ProposalId(s.to_string()))
    }
}

impl TryFrom<String> for ProposalId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ProposalId> for String {
    fn from(id: ProposalId) -> String {
        id.0
    }
}

/// What a tool call does to the engine, as the catalog says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolEffect {
    /// Ran without asking.
    Read,
    /// Became a proposal instead of running.
    Change,
}

/// Where a proposal stands. `Waiting` → `Approved` | `Rejected` | `Failed`;
/// `Approved` → `Ran` | `Failed`. The rest are final.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProposalStatus {
    Waiting,
    Approved,
    Rejected,
    Ran,
    Failed,
}

impl ProposalStatus {
    pub const ALL: [ProposalStatus; 5] = [
        ProposalStatus::Waiting,
        ProposalStatus::Approved,
        ProposalStatus::Rejected,
        ProposalStatus::Ran,
        ProposalStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProposalStatus::Waiting => "waiting",
            ProposalStatus::Approved => "approved",
            ProposalStatus::Rejected => "rejected",
            ProposalStatus::Ran => "ran",
            ProposalStatus::Failed => "failed",
        }
    }

    /// The statuses a proposal may move to from this one.
    pub fn may_become(self, to: ProposalStatus) -> bool {
        use ProposalStatus::*;
        matches!(
            (self, to),
            (Waiting, Approved | Rejected | Failed) | (Approved, Ran | Failed)
        )
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            ProposalStatus::Rejected | ProposalStatus::Ran | ProposalStatus::Failed
        )
    }
}

impl fmt::Display for ProposalStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProposalStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProposalStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                format!("`{s}` is not a proposal status (waiting, approved, rejected, ran, failed)")
            })
    }
}

/// Who said yes or no, and from which face.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub face: Face,
    /// The person, as the face knows them (the login name for the CLI, an MCP client's
    /// name); may be empty.
    pub by: String,
    /// The environment the person confirmed the change in, when the face asked them
    /// (a production workspace runs no change without it). Not stored: it only travels
    /// with the call.
    #[serde(default, skip)]
    pub confirmed: Option<crate::core::workspace::Environment>,
}

/// A decision as stored, with its time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decided {
    pub face: Face,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// One tool call of the model and what it got back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolCallEntry {
    /// The provider's call id.
    pub id: String,
    pub name: String,
    pub arguments: serde_json::Value,
    pub effect: ToolEffect,
    /// Exactly the text sent back to the model: redacted, and cut to the result cap.
    pub result: String,
    /// Whether `result` was cut.
    pub truncated: bool,
}

/// A change waiting for (or decided by) a person.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProposalEntry {
    pub id: ProposalId,
    /// The call as on the socket: `{"method": …, "params": …}`.
    pub call: serde_json::Value,
    /// The engine's dry run of what it will do, a line each.
    pub preview: Vec<String>,
    /// The hash of the exact arguments shown, which the call that runs must match.
    pub argument_hash: String,
    pub status: ProposalStatus,
    /// What happened when it ran, or why it failed.
    pub outcome: Option<String>,
    /// Set once a person decided.
    pub decided: Option<Decided>,
}

/// Tokens of one turn, and what it cost when the provider's price is known.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TurnUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: Option<f64>,
}

/// One entry of a session's transcript.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SessionEntry {
    User { text: String },
    Assistant { text: String },
    ToolCall(ToolCallEntry),
    Proposal(ProposalEntry),
    Usage(TurnUsage),
}

impl SessionEntry {
    /// The name stored in the `kind` column, for queries and tools reading the file.
    pub fn kind(&self) -> &'static str {
        match self {
            SessionEntry::User { .. } => "user",
            SessionEntry::Assistant { .. } => "assistant",
            SessionEntry::ToolCall(_) => "tool_call",
            SessionEntry::Proposal(_) => "proposal",
            SessionEntry::Usage(_) => "usage",
        }
    }
}

/// An entry with its place and time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredEntry {
    /// 1, 2, 3… within its session.
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub entry: SessionEntry,
}

/// A session without its entries, for lists.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionSummary {
    pub id: SessionId,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    /// The face that started it.
    pub face: Face,
    /// `openai`, `anthropic`, `ollama` or `offline`.
    pub provider: String,
    pub model: String,
    /// The first line of the first request, cut to [`super::TITLE_CHARS`] characters.
    pub title: Option<String>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// The sum of the turns whose cost was known; `None` when none was.
    pub cost_usd: Option<f64>,
    pub entries: u64,
}

/// A whole session, entries in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub summary: SessionSummary,
    pub entries: Vec<StoredEntry>,
}

/// A proposal with the session it belongs to, as `pending_proposals` and `proposal` give it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProposalRecord {
    pub session: SessionId,
    /// The face of that session: who asked for the change.
    #[serde(default)]
    pub face: Face,
    /// Its entry's place in the session.
    pub seq: u64,
    pub created: DateTime<Utc>,
    pub proposal: ProposalEntry,
}
