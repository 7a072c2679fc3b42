//! The checked workspace model the rest of naap uses.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::core::types::StrategyKind;

/// A loaded, fully validated workspace.
#[derive(Clone, Debug, PartialEq)]
pub struct Workspace {
    /// The directory holding naap.toml (absolute, canonical).
    pub root: PathBuf,
    /// The naap.toml file.
    pub file: PathBuf,
    /// Where naap keeps its database, logs and socket (absolute).
    pub state_dir: PathBuf,
    /// The router's listeners.
    pub router: RouterConfig,
    /// `environment = "production"`: how careful every face must be before a change.
    pub environment: super::Environment,
    /// `[export] deployed_md`: the DEPLOYED.md kept current after every change (absolute).
    pub deployed_md: Option<PathBuf>,
    /// The plugins, in the order naap.toml lists them.
    pub plugins: Vec<PluginManifest>,
    /// Plugins whose plugin.toml has problems (only from `load_lenient`; `load` fails
    /// instead). The engine serves the others and reports these.
    pub broken: Vec<BrokenPlugin>,
}

/// A plugin listed in naap.toml whose plugin.toml cannot be used, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct BrokenPlugin {
    /// The name its manifest gives, when it could be read.
    pub name: Option<String>,
    /// The plugin directory (absolute, canonical).
    pub dir: PathBuf,
    /// Its plugin.toml.
    pub manifest_path: PathBuf,
    /// Every problem of that file, with line, column, field and hint.
    pub problems: super::problem::Problems,
}

impl BrokenPlugin {
    /// The name it goes by in messages: its manifest's, or its directory's.
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            self.dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| self.dir.display().to_string())
        })
    }
}

impl Workspace {
    /// The broken plugin with this name (or, when its name cannot be read, directory name).
    pub fn broken_plugin(&self, name: &str) -> Option<&BrokenPlugin> {
        self.broken.iter().find(|b| b.label() == name)
    }

    /// The plugin with this name.
    pub fn plugin(&self, name: &str) -> Option<&PluginManifest> {
        self.plugins.iter().find(|p| p.name == name)
    }
}

/// `[router]` of naap.toml.
#[derive(Clone, Debug, PartialEq)]
pub struct RouterConfig {
    /// Where the proxy listens for plugin traffic.
    pub listen: SocketAddr,
    /// Where /healthz and /metrics are served, if anywhere.
    pub admin: Option<SocketAddr>,
}

/// One plugin's manifest (plugin.toml), checked and with defaults filled in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PluginManifest {
    /// Unique name: `[a-z0-9][a-z0-9-]{0,39}`.
    pub name: String,
    /// The version the manifest describes.
    pub version: String,
    /// The plugin directory (absolute, canonical).
    pub dir: PathBuf,
    /// The plugin.toml file.
    pub manifest_path: PathBuf,
    /// Which requests the router sends to this plugin.
    pub route: Route,
    /// How requests of one user stick to one slot during a canary.
    pub sticky: Option<Sticky>,
    /// How to build, test and run it.
    pub run: RunSpec,
    /// How to check that a slot is healthy.
    pub health: HealthSpec,
    /// How a deploy moves traffic.
    pub strategy: StrategySpec,
    /// When to roll back automatically, and how long to keep the old slot.
    pub rollback: RollbackSpec,
    /// Alert rules, kept as data for the alert engine.
    pub alerts: Vec<AlertSpec>,
    /// How each canary step is judged; `None` without an `[analysis]` table (steps are then
    /// only timed and health-checked).
    pub analysis: Option<AnalysisSpec>,
    /// When the router ejects a failing replica.
    pub outlier: OutlierSpec,
}

/// Which requests go to a plugin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Route {
    /// Requests whose path starts with `prefix` (no trailing "/" except for "/" itself);
    /// with `strip`, the plugin sees the path without the prefix.
    Prefix { prefix: String, strip: bool },
    /// Requests for this host name (lower case, no port).
    Host(String),
}

impl Route {
    /// How the route reads in naap.toml terms, for messages and tables.
    pub fn describe(&self) -> String {
        match self {
            Route::Prefix { prefix, .. } => format!("route `{prefix}`"),
            Route::Host(host) => format!("host `{host}`"),
        }
    }
}

/// Stickiness key for canaries: the same value always reaches the same slot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Sticky {
    /// A request header name (lower case).
    Header(String),
    /// A cookie name.
    Cookie(String),
}

/// `[run]`: commands are templates; see `expand_placeholders`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// Starts one slot of the plugin.
    pub command: String,
    /// Build gate, run before a deploy.
    pub build: Option<String>,
    /// Test gate, run after the build (and the lint gate).
    pub test: Option<String>,
    /// Lint gate, run after the build and before the tests. Optional; versions stored
    /// before it existed decode without it.
    #[serde(default)]
    pub lint: Option<String>,
    /// Extra environment (values are templates too). Stored with each deployed version:
    /// put secrets in `env_from`.
    pub env: BTreeMap<String, String>,
    /// Environment read when a gate or slot starts, from a file or naap's environment;
    /// only the reference is stored.
    #[serde(default)]
    pub env_from: BTreeMap<String, super::SecretRef>,
    /// Working directory (absolute).
    pub cwd: PathBuf,
    /// Time between SIGTERM and SIGKILL.
    pub stop_grace: Duration,
    /// Time a new slot gets to become healthy.
    pub startup_timeout: Duration,
    /// Processes per slot, each on its own port; the router balances among the healthy
    /// ones. Versions stored before replicas existed ran one.
    #[serde(default = "one_replica")]
    pub replicas: u32,
    /// `[resources]`: limits on each process of a slot.
    #[serde(default)]
    pub resources: Resources,
}

fn one_replica() -> u32 {
    1
}

/// `[resources]`: what one replica may use. `None` leaves that resource unlimited.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    /// Memory in bytes (`memory = "256Mi"`).
    pub memory_bytes: Option<u64>,
    /// CPUs (`cpu = 0.5` is half of one core).
    pub cpu: Option<f64>,
    /// Processes and threads.
    pub pids: Option<u64>,
    /// Open file descriptors.
    pub open_files: Option<u64>,
}

impl Resources {
    /// Whether any limit is set.
    pub fn any(&self) -> bool {
        self.memory_bytes.is_some()
            || self.cpu.is_some()
            || self.pids.is_some()
            || self.open_files.is_some()
    }
}

/// `[outlier_detection]`: when the router takes a replica out of rotation by itself (Envoy's
/// outlier detection: consecutive errors, a growing ejection, then a probe).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutlierSpec {
    /// 5xx answers or connection errors in a row that eject a replica (0 turns it off).
    pub consecutive_errors: u32,
    /// The first ejection's length; each further one adds as much again.
    pub base_ejection: Duration,
    /// The longest ejection.
    pub max_ejection: Duration,
}

impl Default for OutlierSpec {
    fn default() -> Self {
        OutlierSpec {
            consecutive_errors: 5,
            base_ejection: Duration::from_secs(30),
            max_ejection: Duration::from_secs(300),
        }
    }
}

/// `[health]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthSpec {
    /// What a check does.
    pub check: HealthCheck,
    /// Time between checks.
    pub interval: Duration,
    /// Time one check may take; at most `interval` (by default 1s, or the interval when
    /// shorter).
    pub timeout: Duration,
    /// Failed checks in a row that make a slot unhealthy (>= 1).
    pub unhealthy_threshold: u32,
    /// Passed checks in a row that make a slot healthy (>= 1).
    pub healthy_threshold: u32,
}

/// The kind of health check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum HealthCheck {
    /// GET `path`; any 2xx passes.
    Http { path: String },
    /// A TCP connect to the slot's port passes.
    Tcp,
}

/// `[strategy]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StrategySpec {
    /// Immediate, blue-green or canary.
    pub kind: StrategyKind,
    /// Canary traffic percentages, strictly ascending, ending at 100; empty otherwise.
    /// Written as `steps = [...]` or as the `step_weight` + `max_weight` shorthand.
    pub steps: Vec<u32>,
    /// Indexes into `steps`: after that step, the rollout waits for `naap promote`
    /// (a `"pause"` written after it in `steps`).
    pub pause_after: Vec<usize>,
    /// Time between canary steps.
    pub step_interval: Duration,
}

/// `[rollback]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RollbackSpec {
    /// Roll back when the new slot's error rate exceeds this fraction (0 < x <= 1).
    pub on_error_rate: Option<f64>,
    /// Roll back when the new slot's p99 latency exceeds this many milliseconds.
    pub on_latency_p99_ms: Option<u64>,
    /// Roll back when the new slot fails its health checks.
    pub on_health_check_fail: bool,
    /// How long the previous slot stays running after a deploy (zero: stop it at once).
    pub keep_previous_warm: Duration,
}

/// One `[[alerts]]` rule, shape-checked only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertSpec {
    /// Unique within the plugin.
    pub name: String,
    /// Rule text, e.g. `error_rate > 0.05 for 30s`.
    pub condition: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// Each `log`, `webhook:URL` or `command:CMD`.
    pub channels: Vec<String>,
    /// Firing rolls the plugin back (as face `engine`).
    #[serde(default)]
    pub rollback: bool,
    /// Attached to every notification, e.g. `team = "payments"`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Re-notify a firing, unacknowledged alert this often; zero never repeats.
    #[serde(default = "default_repeat_interval")]
    pub repeat_interval: Duration,
    /// A line for people, sent with every notification.
    #[serde(default)]
    pub summary: Option<String>,
}

fn default_repeat_interval() -> Duration {
    crate::core::alerts::DEFAULT_REPEAT_INTERVAL
}

/// `[analysis]`: how the engine judges the canary against the stable slot after each step.
///
/// A *sample* is one second in which a slot served at least one request: the judge compares
/// the per-second error ratio and latency percentiles of the two slots over the step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnalysisSpec {
    /// Metrics the statistical judge compares: `error_rate`, `p50_ms`, `p99_ms`.
    pub metrics: Vec<String>,
    /// Tolerated relative shift of the canary's median against the baseline's (0.25 = 25 %).
    pub tolerance: f64,
    /// Score (0..=100) at or above which a step passes.
    pub pass_score: f64,
    /// Score at or above which a step is marginal rather than failed (<= `pass_score`).
    pub marginal_score: f64,
    /// Samples (seconds with traffic) each slot needs in a step; fewer is inconclusive.
    pub min_samples: u32,
    /// Threshold: lowest acceptable success rate of the canary over the step (0 < x <= 1).
    pub success_rate: Option<f64>,
    /// Threshold: highest acceptable p99 latency of the canary, in milliseconds.
    pub p99_ms: Option<u64>,
    /// Threshold: the canary must pass its health checks when the step is judged.
    pub health: bool,
    /// Requests per second the engine sends to each slot during a step, so a canary without
    /// user traffic can still be judged.
    pub warmup_load: Option<u32>,
    /// Path (below the route prefix) the warm-up requests GET; `None`: the prefix itself.
    pub warmup_path: Option<String>,
}

impl Default for AnalysisSpec {
    /// What an `[analysis]` table without keys means.
    fn default() -> Self {
        AnalysisSpec {
            metrics: vec!["error_rate".into(), "p50_ms".into(), "p99_ms".into()],
            tolerance: 0.25,
            pass_score: 95.0,
            marginal_score: 75.0,
            min_samples: 10,
            success_rate: None,
            p99_ms: None,
            health: true,
            warmup_load: None,
            warmup_path: None,
        }
    }
}
