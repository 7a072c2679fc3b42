//! The inputs a rule is evaluated against, injected by the caller (the monitor tick).

use crate::core::types::{Health, SlotName};
use chrono::{DateTime, Utc};

/// What a slot is doing in the rollout, for `{slot=live}` and `{slot=canary}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotRole {
    /// Serving as the promoted version.
    Live,
    /// Receiving a share of traffic as the new version under analysis.
    Canary,
    /// Warm or stopped, not part of the rollout.
    Idle,
}

/// One slot's current measurements.
#[derive(Clone, Debug, PartialEq)]
pub struct SlotSample {
    pub slot: SlotName,
    pub role: SlotRole,
    /// 0..1.
    pub error_rate: f64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub cpu_percent: f64,
    pub rss_bytes: u64,
    pub health: Health,
    /// Slots without a process are ignored by every atom (no data is not a breach).
    pub has_process: bool,
}

/// Everything the rules of one plugin can look at.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PluginSample {
    pub slots: Vec<SlotSample>,
    /// Recent restarts, for `restarts > N in D`; older entries are simply not counted.
    pub restart_times: Vec<DateTime<Utc>>,
}
