//! Domain types shared by every layer of the engine and by its clients.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The two long-lived slots of a plugin. A deploy goes to the idle one; the other stays warm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SlotName {
    Blue,
    Green,
}

impl SlotName {
    pub const ALL: [SlotName; 2] = [SlotName::Blue, SlotName::Green];

    pub fn other(self) -> SlotName {
        match self {
            SlotName::Blue => SlotName::Green,
            SlotName::Green => SlotName::Blue,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SlotName::Blue => "blue",
            SlotName::Green => "green",
        }
    }
}

impl fmt::Display for SlotName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SlotName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "blue" => Ok(SlotName::Blue),
            "green" => Ok(SlotName::Green),
            other => Err(format!(
                "unknown slot `{other}`: a plugin has the slots `blue` and `green`"
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
