//! Domain types shared by every layer of the engine and by its clients.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

pub use super::version::{Version, VersionError};

/// A slot of a plugin: one of the two long-lived slots, blue and green (a deploy goes to
/// the idle one; the other stays warm), or a preview.
///
/// A preview is an extra slot started by `naap deploy --preview`: never weighted, reachable
/// only with `x-naap-slot: preview-<id>`, expiring by itself. It is a variant here rather
/// than a separate type so that everything keyed by a slot (runtime events, log lines,
/// metrics, health checks, the engine's slot map) carries previews unchanged; the places
/// where blue/green matter (weights, the `slots` table, rollouts) handle previews apart.
/// Its id is a small number so the type stays `Copy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum SlotName {
    Blue,
    Green,
    Preview(PreviewId),
}

/// The short id of a preview slot, shown as six hex digits (`preview-3fa91c`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PreviewId(pub u32);

impl PreviewId {
    /// Ids fit in six hex digits: short to type, and a plugin has few previews at once.
    pub const MAX: u32 = 0xFF_FFFF;
}

impl fmt::Display for PreviewId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06x}", self.0)
    }
}

impl FromStr for PreviewId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let s = s.strip_prefix("preview-").unwrap_or(s);
        match u32::from_str_radix(s, 16) {
            Ok(n) if !s.is_empty() && s.len() <= 6 && n <= PreviewId::MAX => Ok(PreviewId(n)),
            _ => Err(format!(
                "`{s}` is not a preview id: ids are six hex digits, e.g. 3fa91c; the status lists the previews"
            )),
        }
    }
}

impl SlotName {
    /// The long-lived slots; previews come and go.
    pub const ALL: [SlotName; 2] = [SlotName::Blue, SlotName::Green];

    /// The partner slot of blue or green. A preview has no partner and returns itself;
    /// callers that pair slots only ever hold blue or green.
    pub fn other(self) -> SlotName {
        match self {
            SlotName::Blue => SlotName::Green,
            SlotName::Green => SlotName::Blue,
            preview @ SlotName::Preview(_) => preview,
        }
    }

    /// `blue`, `green` or `preview-<id>`.
    pub fn as_str(self) -> std::borrow::Cow<'static, str> {
        match self {
            SlotName::Blue => "blue".into(),
            SlotName::Green => "green".into(),
            SlotName::Preview(id) => format!("preview-{id}").into(),
        }
    }

    pub fn is_preview(self) -> bool {
        matches!(self, SlotName::Preview(_))
    }

    pub fn preview_id(self) -> Option<PreviewId> {
        match self {
            SlotName::Preview(id) => Some(id),
            _ => None,
        }
    }
}

impl fmt::Display for SlotName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str())
    }
}

impl From<SlotName> for String {
    fn from(slot: SlotName) -> String {
        slot.as_str().into_owned()
    }
}

impl TryFrom<String> for SlotName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl FromStr for SlotName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "blue" => Ok(SlotName::Blue),
            "green" => Ok(SlotName::Green),
            other if other.starts_with("preview-") => other.parse().map(SlotName::Preview),
            other => Err(format!(
                "unknown slot `{other}`: a plugin has the slots `blue` and `green` (and previews, `preview-<id>`)"
            )),
        }
    }
}

/// What the process of a slot is doing, as the runtime sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProcessState {
    /// No process; the slot is idle.
    Stopped,
    /// Spawned, not yet seen healthy.
    Starting,
    /// Running (health is tracked separately).
    Running,
    /// Exited unexpectedly; waiting out the backoff before the next start.
    Restarting,
    /// Crash loop or failed start: the runtime gave up. Needs a new deploy.
    Failed,
    /// SIGTERM sent; waiting for the grace period.
    Stopping,
}

impl fmt::Display for ProcessState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            ProcessState::Stopped => "stopped",
            ProcessState::Starting => "starting",
            ProcessState::Running => "running",
            ProcessState::Restarting => "restarting",
            ProcessState::Failed => "failed",
            ProcessState::Stopping => "stopping",
        };
        f.write_str(s)
    }
}

/// The result of the slot's health checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Unknown,
    Healthy,
    Unhealthy,
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Health::Unknown => "unknown",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
        })
    }
}

/// Log severity, detected from a line's text or its JSON `level` field.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "trace" => Ok(Level::Trace),
            "debug" => Ok(Level::Debug),
            "info" => Ok(Level::Info),
            "warn" | "warning" => Ok(Level::Warn),
            "error" | "err" => Ok(Level::Error),
            other => Err(format!(
                "unknown level `{other}`: use one of trace, debug, info, warn, error"
            )),
        }
    }
}

/// Where a log line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogSource {
    Stdout,
    Stderr,
    /// Output of a build or test gate.
    Gate,
    /// A line the engine wrote about the plugin (deploys, restarts, health changes).
    Engine,
    /// An alert notification on the `log` channel.
    Alert,
}

/// How a deploy moves traffic to the new version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum StrategyKind {
    /// Start the new version, switch all traffic as soon as it answers, stop the old one.
    Immediate,
    /// Start the new version, wait for health checks, switch, keep the old one warm.
    BlueGreen,
    /// Weighted steps with analysis (progressive delivery).
    Canary,
}

impl fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StrategyKind::Immediate => "immediate",
            StrategyKind::BlueGreen => "blue-green",
            StrategyKind::Canary => "canary",
        })
    }
}

impl FromStr for StrategyKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "immediate" => Ok(StrategyKind::Immediate),
            "blue-green" | "bluegreen" | "blue_green" => Ok(StrategyKind::BlueGreen),
            "canary" => Ok(StrategyKind::Canary),
            other => Err(format!(
                "unknown strategy `{other}`: use immediate, blue-green or canary"
            )),
        }
    }
}

/// Which face asked for an action; recorded in the audit log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Face {
    #[default]
    Cli,
    Dashboard,
    Ai,
    Mcp,
    /// The engine itself (automatic rollback, reconcile, warm-slot expiry).
    Engine,
}

impl fmt::Display for Face {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Face::Cli => "cli",
            Face::Dashboard => "dashboard",
            Face::Ai => "ai",
            Face::Mcp => "mcp",
            Face::Engine => "engine",
        })
    }
}
