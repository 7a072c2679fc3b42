//! The engine: owns the workspace, the runtime, the router, health checks, metrics, logs and
//! the store. Every face (CLI, dashboard, AI operator, MCP) drives it through the same
//! methods, reached over the unix socket in `crate::api`.
//!
//! Concurrency model: plugin and slot state sit behind one short-held mutex that is never
//! held across an `.await`; long operations (deploys, rollbacks) take a per-plugin async lock
//! so two of them never interleave on one plugin; runtime and health events are applied by
//! one monitor task in arrival order.

mod alerting;
mod analysis;
mod audit;
mod canary;
pub mod candidate;
mod deploy;
mod deployed;
mod dry_run;
mod error;
mod event_log;
mod gate_inputs;
mod gates;
mod guard;
mod incidents;
mod judge;
mod lifecycle;
mod listening;
pub mod lock;
mod monitor;
mod oplock;
mod outcome;
mod preview;
mod reconcile;
mod recover;
mod reload;
mod replica_events;
mod replicas;
pub mod report;
mod requests;
mod rollout_control;
mod routes;
mod runbook_checks;
mod secrets;
mod state;
mod stop;
mod store_watch;
mod stories;
mod traffic;
mod warmup;

pub use alerting::{
    AUTO_ROLLBACK_ALERT, AckRequest, AlertRow, AlertsReport, AlertsState, Planned, PluginRules,
    SilenceRequest,
};
pub use analysis::{StepVerdict, outcome_word};
pub use audit::with_proposal;
pub use candidate::{
    AcceptOutcome, CandidateAcceptRequest, CandidateCreateRequest, CandidateDiff,
    CandidateEditRequest, CandidateGateRun, CandidateGatesRequest, CandidateReport,
    CandidateRequest, CandidatesRequest, EditOutcome, FailedGate,
};
pub use deploy::DeployRequest;
pub use error::EngineError;
pub use gates::{GateOutcome, GateReport};
pub use incidents::{
    IncidentReport, IncidentRequest, IncidentsRequest, OpenIncident, ResolveRequest,
    SimilarIncident, TimelineEntry,
};
pub use lifecycle::{DisableRequest, KnownVersion, PluginVersions, PluginsRequest};
pub use preview::{StopPreviewRequest, parse_ttl};
pub use reload::{AddedPlugin, ChangedPlugin, ReloadReport, RemovedPlugin};
pub use replicas::{RestartRequest, ScaleRequest};
pub use report::*;
pub use requests::*;
pub use rollout_control::RolloutCommand;
pub use state::DeploySpec;
pub use stories::{CriterionStatus, StoriesReport, StoryStatus, TestResult};
pub use traffic::{RollbackRequest, TrafficRequest};

use crate::core::event_kind::EventKind;
use crate::core::health::HealthChange;
use crate::core::logs::{LogHub, LogQuery};
use crate::core::metrics::MetricsRegistry;
use crate::core::router::OutlierEvent;
use crate::core::router::Router;
use crate::core::runtime::{LocalRuntime, RestartPolicy, RuntimeEvent};
use crate::core::store::{HealthCell, NewEvent, SlotRecord, Store};
use crate::core::types::{Level, SlotName};
use crate::core::workspace::{self, Workspace};
use chrono::Utc;
use state::PluginState;
use std::collections::BTreeMap;
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, watch};

/// Lines of log kept in memory per plugin.
const LOG_LINES_PER_PLUGIN: usize = 100_000;

/// A handle to the running engine; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    workspace: RwLock<Workspace>,
    store: Mutex<Store>,
    /// The store's health, readable without taking the store's lock.
    store_health: HealthCell,
    router: Arc<Router>,
    metrics: MetricsRegistry,
    logs: LogHub,
    runtime: LocalRuntime,
    http: reqwest::Client,
    events: broadcast::Sender<EngineEvent>,
    plugins: Mutex<BTreeMap<String, PluginState>>,
    /// Plugins a person disabled, as in the store (read there at start): kept here for the
    /// route table, which is rebuilt on every change of weights or health.
    disabled: Mutex<BTreeMap<String, crate::core::store::DisabledRecord>>,
    /// The open incident of each plugin, with the past ones it looks like (rebuilt by
    /// `incidents` after each signal and resolve, read by every status).
    open_incidents: Mutex<BTreeMap<String, incidents::OpenIncident>>,
    /// Alert rules, their state, silences and acks. Never held while taking `plugins`.
    alerts: Mutex<alerting::AlertsState>,
    /// The bounded queue to the alert notifier task.
    notify_tx: alerting::delivery::NotifySender,
    health_tx: mpsc::UnboundedSender<HealthChange>,
    info: EngineInfo,
    /// The naap binary, substituted for `{naap}` in plugin commands.
    naap_exe: String,
    shutdown: watch::Sender<bool>,
    /// A face asked the engine to stop: `Some(stop_plugins)`. The process that runs the
    /// engine (`naap serve`, `naap demo`) waits for it and performs the shutdown.
    stop_request: watch::Sender<Option<bool>>,
    /// Serialises `naap reload`s.
    reload_lock: tokio::sync::Mutex<()>,
    /// Held for the engine's lifetime: one engine per workspace.
    _lock: File,
}

/// Paths inside a workspace's state directory.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join("engine.sock")
}
pub fn database_path(state_dir: &Path) -> PathBuf {
    state_dir.join("naap.db")
}
pub fn slot_log_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("slots")
}

impl Engine {
    /// Loads the workspace, takes the engine lock, opens the store, binds the router, and
    /// reconciles with the slot processes that may still run from a previous engine.
    pub async fn start(root: &Path) -> Result<Engine, EngineError> {
        crate::core::private_files::restrict_umask();
        // One plugin's broken manifest does not keep the others from being served: it is
        // set aside and reported (status, and every request that names it).
        let ws = workspace::load_lenient(root)?;
        for broken in &ws.broken {
            tracing::warn!(
                "plugin {} is not loaded: its manifest has problems:\n{}",
                broken.label(),
                broken.problems
            );
        }
        create_private_dir(&ws.state_dir)?;
        create_private_dir(&slot_log_dir(&ws.state_dir))?;
        crate::core::private_files::narrow_state_files(&ws.state_dir);
        let lock = lock::take(&ws.state_dir).await?;
        let store = Store::open(&database_path(&ws.state_dir))?;

        let listener = bind(ws.router.listen, "router.listen", &ws.file).await?;
        let router_addr = listener
            .local_addr()
            .map_err(|e| EngineError::Start(e.to_string()))?;
        let admin = match ws.router.admin {
            Some(addr) => Some(bind(addr, "router.admin", &ws.file).await?),
            None => None,
        };
        let admin_addr = admin.as_ref().and_then(|l| l.local_addr().ok());

        let (runtime_tx, runtime_rx) = mpsc::unbounded_channel::<RuntimeEvent>();
        let (health_tx, health_rx) = mpsc::unbounded_channel::<HealthChange>();
        let logs = LogHub::new(LOG_LINES_PER_PLUGIN);
        let runtime = LocalRuntime::new(logs.clone(), RestartPolicy::default(), runtime_tx);
        let (events, _) = broadcast::channel(4096);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (stop_request, _) = watch::channel(None);
        let http = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(2)
            .build()
            .map_err(|e| EngineError::Start(format!("http client: {e}")))?;
        let naap_exe = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "naap".to_string());

        let info = EngineInfo {
            pid: std::process::id(),
            naap_version: env!("CARGO_PKG_VERSION").to_string(),
            workspace: ws.root.display().to_string(),
            started_at: Utc::now(),
            router: router_addr.to_string(),
            admin: admin_addr.map(|a| a.to_string()),
            containment: crate::core::runtime::containment_mechanism(),
            environment: ws.environment,
        };
        // Ejections are decided on the router's threads and recorded by the monitor.
        let (outlier_tx, outlier_rx) = mpsc::unbounded_channel::<OutlierEvent>();
        let router = Router::with_sinks(
            routes::upstream_failure_sink(logs.clone()),
            Some(std::sync::Arc::new(move |event: &OutlierEvent| {
                let _ = outlier_tx.send(event.clone());
            })),
        );
        let metrics = MetricsRegistry::default();
        let (notify_tx, notify_rx) = alerting::delivery::queue();
        let ws_root = ws.root.clone();
        let store_health = store.health();
        let disabled = store
            .disabled_plugins()
            .unwrap_or_else(|e| {
                tracing::error!("cannot read the disabled plugins: {e}");
                Vec::new()
            })
            .into_iter()
            .map(|d| (d.plugin.clone(), d))
            .collect();
        let engine = Engine {
            inner: Arc::new(Inner {
                workspace: RwLock::new(ws),
                store: Mutex::new(store),
                store_health,
                router: router.clone(),
                metrics: metrics.clone(),
                logs,
                runtime,
                http,
                events,
                plugins: Mutex::new(BTreeMap::new()),
                disabled: Mutex::new(disabled),
                open_incidents: Mutex::new(BTreeMap::new()),
                alerts: Mutex::new(alerting::AlertsState::default()),
                notify_tx,
                health_tx,
                info,
                naap_exe,
                shutdown,
                stop_request,
                reload_lock: tokio::sync::Mutex::new(()),
                _lock: lock,
            }),
        };

        engine.record(
            None,
            None,
            EventKind::EngineStarted,
            format!("engine started (pid {})", std::process::id()),
            serde_json::json!({"router": router_addr.to_string()}),
        );
        // Read before this engine audits anything: what is pending now, a crash cut.
        let interrupted = engine.interrupted_audit();
        engine.reload_alert_rules();
        engine.restore_alert_state(Utc::now());
        tokio::spawn(alerting::delivery::run(engine.clone(), notify_rx, ws_root));
        tokio::spawn(monitor::run(
            engine.clone(),
            runtime_rx,
            health_rx,
            outlier_rx,
        ));
        tokio::spawn(store_watch::run(engine.clone(), shutdown_rx.clone()));
        tokio::spawn(deployed::keep_current(engine.clone()));
        tokio::spawn(incidents::watch(engine.clone()));
        let recovered = engine.reconcile().await;
        engine.complete_interrupted(interrupted, &recovered);
        tokio::spawn(router.clone().serve(listener, shutdown_rx.clone()));
        if let Some(admin) = admin {
            tokio::spawn(crate::core::router::serve_admin(
                admin,
                metrics,
                router,
                shutdown_rx,
            ));
        }
        engine.deploy_never_deployed().await;
        Ok(engine)
    }

    pub fn info(&self) -> &EngineInfo {
        &self.inner.info
    }

    /// The workspace's environment as last loaded (a reload may change it).
    pub fn environment(&self) -> crate::core::workspace::Environment {
        self.workspace().environment
    }

    /// The workspace root (the directory of naap.toml).
    pub fn root(&self) -> PathBuf {
        self.workspace().root.clone()
    }

    pub fn state_dir(&self) -> PathBuf {
        self.workspace().state_dir.clone()
    }

    /// Events, status snapshots and log lines, as they happen.
    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.inner.events.subscribe()
    }

    pub fn subscribe_logs(&self) -> broadcast::Receiver<crate::core::logs::LogLine> {
        self.inner.logs.subscribe()
    }

    pub fn logs(&self, query: &LogQuery) -> Result<Vec<crate::core::logs::LogLine>, EngineError> {
        self.require_plugin(&query.plugin)?;
        Ok(self.inner.logs.query(query))
    }

    /// Rollouts, events and audit entries of one plugin, oldest first.
    pub fn history(&self, plugin: &str, limit: usize) -> Result<HistoryReport, EngineError> {
        self.require_plugin(plugin)?;
        let store = self.store();
        let mut rollouts = store.rollouts(plugin, limit)?;
        rollouts.reverse();
        let mut judgements = Vec::new();
        for rollout in &rollouts {
            judgements.extend(store.step_judgements(rollout.id)?);
        }
        Ok(HistoryReport {
            plugin: plugin.to_string(),
            rollouts,
            judgements,
            events: store.events(Some(plugin), None, limit)?,
            audit: store.audit(Some(plugin), limit)?,
        })
    }

    /// Stops serving. With `stop_plugins`, slot processes are stopped too (their desired
    /// state stays in the store, so the next engine starts them again); without, they keep
    /// running and the next engine adopts them.
    pub async fn shutdown(&self, stop_plugins: bool) {
        self.record(
            None,
            None,
            EventKind::EngineStopping,
            format!(
                "engine stopping ({})",
                if stop_plugins {
                    "stopping plugins"
                } else {
                    "plugins keep running"
                }
            ),
            serde_json::Value::Null,
        );
        let _ = self.inner.shutdown.send(true);
        let mut handles = Vec::new();
        // Extra replicas stop in either case: the store keeps no pid of theirs, so the next
        // engine could not adopt them; it starts them again once replica 0 serves.
        let mut extras = Vec::new();
        {
            let mut plugins = self.lock_plugins();
            for state in plugins.values_mut() {
                for slot in state.slots.values_mut() {
                    slot.checker = None;
                    if let Some(handle) = slot.handle.take() {
                        handles.push(handle);
                    }
                    for replica in &mut slot.replicas {
                        replica.checker = None;
                        extras.extend(replica.handle.take());
                    }
                }
            }
        }
        let mut stops = tokio::task::JoinSet::new();
        for handle in extras {
            stops.spawn(handle.stop());
        }
        if stop_plugins {
            for handle in handles {
                stops.spawn(handle.stop());
            }
        } else {
            for handle in handles {
                handle.detach();
            }
        }
        stops.join_all().await;
    }

    pub fn shutdown_requested(&self) -> watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }

    /// Asks the process running the engine to shut it down (see `stop_requests`).
    pub fn request_stop(&self, stop_plugins: bool) {
        let _ = self.inner.stop_request.send(Some(stop_plugins));
    }

    /// Resolves with `stop_plugins` when a face asked the engine to stop.
    pub async fn stop_requested(&self) -> bool {
        let mut rx = self.inner.stop_request.subscribe();
        loop {
            if let Some(stop_plugins) = *rx.borrow_and_update() {
                return stop_plugins;
            }
            if rx.changed().await.is_err() {
                return false;
            }
        }
    }

    // ---- shared helpers for the submodules ----

    pub(crate) fn workspace(&self) -> std::sync::RwLockReadGuard<'_, Workspace> {
        // A poisoned lock means a panic elsewhere already; the data is still consistent
        // because writers replace the whole workspace at once.
        self.inner
            .workspace
            .read()
            .unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        self.inner.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn lock_plugins(&self) -> MutexGuard<'_, BTreeMap<String, PluginState>> {
        self.inner.plugins.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn require_plugin(&self, name: &str) -> Result<(), EngineError> {
        let ws = self.workspace();
        if ws.plugin(name).is_some() {
            return Ok(());
        }
        if let Some(broken) = ws.broken_plugin(name) {
            return Err(EngineError::BrokenPlugin {
                plugin: name.to_string(),
                problems: broken.problems.clone(),
            });
        }
        let known: Vec<&str> = ws.plugins.iter().map(|p| p.name.as_str()).collect();
        Err(EngineError::UnknownPlugin {
            name: name.to_string(),
            known: if known.is_empty() {
                "(no plugins)".to_string()
            } else {
                known.join(", ")
            },
        })
    }

    /// Records an event durably, then tells subscribers. A store failure is logged, not
    /// fatal: an event is a record of a change that already happened. Public so embedders
    /// and the event-bus benchmark can put their own events on the bus.
    pub fn record(
        &self,
        plugin: Option<&str>,
        slot: Option<SlotName>,
        kind: EventKind,
        message: impl Into<String>,
        data: serde_json::Value,
    ) {
        let message = message.into();
        // The kind decides the level: the message's words are not a level.
        let (level, source) = event_log::event_line_style(&kind, &data);
        let tag = plugin.unwrap_or("-");
        let name = kind.as_str();
        match level {
            Level::Error => tracing::error!(plugin = tag, slot = ?slot, kind = name, "{message}"),
            Level::Warn => tracing::warn!(plugin = tag, slot = ?slot, kind = name, "{message}"),
            _ => tracing::info!(plugin = tag, slot = ?slot, kind = name, "{message}"),
        }
        let new = NewEvent {
            plugin: plugin.map(str::to_string),
            slot,
            kind: kind.clone(),
            message: message.clone(),
            data,
        };
        let stored = self.store().append_event(&new);
        match stored {
            Ok(record) => {
                let _ = self.inner.events.send(EngineEvent::Event(record));
            }
            Err(e) => tracing::error!("could not record event `{kind}`: {e}"),
        }
        if let Some(plugin) = plugin {
            self.inner.logs.push_line(crate::core::logs::LogLine {
                seq: 0,
                ts: Utc::now(),
                plugin: plugin.to_string(),
                slot,
                source,
                level,
                message,
                fields: None,
            });
        }
    }

    /// Writes the slots of a plugin to the store in one transaction.
    pub(crate) fn persist_slots(
        &self,
        plugin: &str,
        slots: &[SlotName],
    ) -> Result<(), EngineError> {
        let (records, previews): (Vec<SlotRecord>, Vec<(SlotRecord, _)>) = {
            let plugins = self.lock_plugins();
            let Some(state) = plugins.get(plugin) else {
                return Ok(());
            };
            let records = slots
                .iter()
                .filter(|name| !name.is_preview())
                .filter_map(|name| state.slot(*name).map(|s| slot_record(plugin, *name, s)))
                .collect();
            // Previews live in their own table, with their expiry; one without an expiry
            // is being torn down and is not written back.
            let previews = slots
                .iter()
                .filter(|name| name.is_preview())
                .filter_map(|name| {
                    let s = state.slot(*name)?;
                    Some((slot_record(plugin, *name, s), s.expires_at?))
                })
                .collect();
            (records, previews)
        };
        let store = self.store();
        if !records.is_empty() {
            store.save_slots(&records)?;
        }
        for (record, expires_at) in &previews {
            store.save_preview(record, *expires_at)?;
        }
        Ok(())
    }
}

fn slot_record(plugin: &str, name: SlotName, slot: &state::SlotState) -> SlotRecord {
    SlotRecord {
        plugin: plugin.to_string(),
        slot: name,
        version: slot.version.clone(),
        process_state: slot.process_state.0,
        health: slot.health.0,
        health_detail: slot.detail(),
        pid: slot.process.map(|p| p.pid),
        pid_start_time: slot.process.map(|p| p.start_time),
        port: slot.port,
        weight: slot.weight,
        started_at: slot.started_at,
        restarts: slot.restarts,
        updated_at: Utc::now(),
    }
}

async fn bind(addr: SocketAddr, field: &str, file: &Path) -> Result<TcpListener, EngineError> {
    TcpListener::bind(addr).await.map_err(|e| {
        EngineError::Start(format!(
            "{}: {field} = \"{addr}\": cannot listen: {e}\n  hint: another program (or another naap workspace) uses this address; pick a free port in {field}",
            file.display()
        ))
    })
}

fn create_private_dir(dir: &Path) -> Result<(), EngineError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)
        .and_then(|_| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)))
        .map_err(|e| {
            EngineError::Start(format!(
                "cannot create state directory {}: {e}",
                dir.display()
            ))
        })
}
