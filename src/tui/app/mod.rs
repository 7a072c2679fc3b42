//! The dashboard's state and the one function that changes it. Terminal keys and engine
//! pushes arrive as [`Msg`]s; [`App::update`] changes the state and returns [`Effect`]s
//! (engine calls to make) for the event loop to run; rendering reads the state only.

mod alerts;
mod approvals;
mod deploy;
mod iterate;
mod operator;
#[cfg(test)]
mod operator_tests;
mod production;
#[cfg(test)]
mod proposal_tests;
mod silence;
mod stories;
mod traffic;

pub use crate::ai::proposal::Proposal;
use crate::core::workspace::Environment;
pub use alerts::{FADE_SECS, ShownAlert};
pub use deploy::DeployForm;
pub use iterate::CandidateView;
pub use operator::OperatorState;
pub use silence::SilenceForm;
pub use traffic::{FINE_STEP, STEP, TrafficEdit};

use crate::ai::operator::{OperatorEvent, Pending};
use crate::ai::session::ProposalRecord;
use crate::ai::transcript::Transcript;
use crate::api::protocol::Call;
use crate::core::engine::{EngineEvent, PluginStatus, StatusReport};
use crate::core::hint::Hint;
use crate::core::logs::{LogLine, LogOrigin, LogQuery};
use crate::core::store::EventRecord;
use crate::core::types::{Level, SlotName};
use crate::tui::keymap::{Action, Code, Context, Key, Keymap, Named};
use crate::tui::logview::{LOG_VIEW_CAPACITY, LogView};
use crate::tui::theme::Theme;
use chrono::{DateTime, Utc};
use ratatui_textarea::TextArea;
use std::collections::VecDeque;

/// Engine events kept for the event strip.
const RECENT_EVENTS: usize = 200;

/// The panes focus moves between, in `tab` order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pane {
    Plugins,
    Metrics,
    Logs,
    Alerts,
    Operator,
}

impl Pane {
    const ORDER: [Pane; 5] = [
        Pane::Plugins,
        Pane::Metrics,
        Pane::Logs,
        Pane::Alerts,
        Pane::Operator,
    ];

    fn step(self, forward: bool) -> Pane {
        let i = Pane::ORDER.iter().position(|p| *p == self).unwrap_or(0);
        let n = Pane::ORDER.len();
        Pane::ORDER[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }]
    }
}

/// Something the event loop hands to [`App::update`].
#[derive(Clone, Debug)]
pub enum Msg {
    Key(Key),
    Engine(EngineEvent),
    /// Connected (again) to the engine.
    Connected,
    /// The connection to the engine is gone; the loop keeps retrying.
    Disconnected(String),
    /// An engine call made for an [`Effect::Call`] finished; `hints` say what would help
    /// next (shown in the dashboard's terms with the result).
    Done {
        label: String,
        result: Result<String, String>,
        hints: Vec<Hint>,
    },
    /// Something happened in operator turn `turn` (see [`Effect::Ask`]).
    Operator {
        turn: u64,
        event: OperatorEvent,
    },
    /// Operator turn `turn` is over; `Err` when it failed outright.
    TurnEnded {
        turn: u64,
        result: Result<(), String>,
    },
    /// A step of the iterate run the operator pane started (see [`crate::ai::iterate`]).
    Timeline(crate::ai::iterate::pipeline::IterateEvent),
    /// A proposal that follows one a person ran (the canary after the accept).
    FollowUp(Pending),
    /// The stories asked for with [`Effect::Stories`], or why there are none.
    Stories(Result<crate::core::engine::StoriesReport, String>),
    /// The engine's dry run for the confirmation of the call hashed `hash`.
    Previewed {
        hash: String,
        lines: Vec<String>,
    },
    /// The proposals waiting in the session store (an MCP client's, `naap chat`'s, an
    /// earlier dashboard's), or why they cannot be read.
    Waiting(Result<Vec<ProposalRecord>, String>),
    /// Time passes (countdowns, fading notices).
    Tick(DateTime<Utc>),
    /// The terminal changed size.
    Redraw,
}

/// Work for the event loop.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Make this engine call; report back with [`Msg::Done`] under `label`.
    Call {
        label: String,
        call: Call,
        /// The environment the person confirmed the change in (a production workspace
        /// runs no change without it).
        confirmed: Option<Environment>,
    },
    /// Run operator turn `turn` on `text` as a task of its own, reporting with
    /// [`Msg::Operator`] and [`Msg::TurnEnded`]; `selected` is the plugin in view.
    Ask {
        turn: u64,
        text: String,
        selected: Option<String>,
    },
    /// Stop operator turn `turn` (drop its task); the pane already says "cancelled".
    CancelTurn {
        turn: u64,
    },
    /// A person said yes to an operator proposal: run it through the operator (audited as
    /// `ai`, its hash checked); report with [`Msg::Done`] under `label`.
    Approve {
        label: String,
        pending: Pending,
        confirmed: Option<Environment>,
    },
    /// A person said no to an operator proposal: record it; nothing runs.
    Reject {
        label: String,
        pending: Pending,
    },
    /// A person's yes or no, from the approvals list, to stored proposal `id`; report
    /// with [`Msg::Done`].
    DecideStored {
        id: String,
        approve: bool,
        confirmed: Option<Environment>,
    },
    /// Ask the engine for its dry run of `call` ([`Msg::Previewed`]) for the confirmation
    /// on screen.
    Preview {
        call: Call,
    },
    /// Ask the engine for `plugin`'s stories ([`Msg::Stories`]).
    Stories {
        plugin: String,
    },
    Quit,
}

/// A modal layer over the panes; it gets the keys first.
#[derive(Clone, Debug, PartialEq)]
pub enum Overlay {
    None,
    Help,
    Confirm(Proposal),
    /// `:` command line with what is typed so far.
    Command(String),
    /// `/` log filter being typed.
    Filter(String),
    /// `/` on the plugin list or the alerts: a filter being typed.
    Find(ListKind, String),
    /// Silencing the selected alert: for how long, and why.
    Silence(SilenceForm),
    /// Deploying the selected plugin: version and strategy.
    Deploy(DeployForm),
    /// The proposals waiting in the session store, with the one selected.
    Approvals(usize),
    /// The diff of the operator's candidate, scrolled this many lines.
    Diff(u16),
    /// The selected plugin's stories ([`App::stories`]), scrolled this many lines.
    Stories(u16),
}

/// The lists `/` narrows (elsewhere it filters the logs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListKind {
    Plugins,
    Alerts,
}

/// The result of the last action, shown in the status line.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub text: String,
    pub error: bool,
    pub at: DateTime<Utc>,
}

pub struct App {
    pub report: Option<StatusReport>,
    /// Name of the selected plugin (kept by name so a new plugin list keeps the selection).
    pub selected: Option<String>,
    pub focus: Pane,
    pub zoomed: bool,
    pub traffic: Option<TrafficEdit>,
    pub logs: LogView,
    /// The `/` filter text of the log pane, as typed.
    pub log_filter_text: String,
    /// The `/` filter of the plugin list: only plugins whose name contains it are shown.
    pub plugin_filter: String,
    /// The `/` filter of the alerts: plugin, rule or summary contains it.
    pub alert_filter: String,
    pub log_wrap: bool,
    pub log_timestamps: bool,
    pub events: VecDeque<EventRecord>,
    /// The alerts pane's rows, and the selected one.
    pub alerts: Vec<ShownAlert>,
    pub alert_cursor: usize,
    pub overlay: Overlay,
    /// `None` while connected; otherwise why not.
    pub disconnected: Option<String>,
    pub notice: Option<Notice>,
    pub keymap: Keymap,
    pub theme: Theme,
    pub now: DateTime<Utc>,
    /// Actions sent to the engine and not answered yet.
    pub in_flight: Vec<String>,
    /// The conversation with the operator, and what is being typed to it.
    pub operator: Transcript,
    pub input: TextArea<'static>,
    /// Who answers, the turn under way, its tokens and proposals.
    pub op: OperatorState,
    /// Proposals waiting in the session store for a person, oldest first.
    pub waiting: Vec<ProposalRecord>,
    /// The stories last asked for (`S`).
    pub stories: Option<crate::core::engine::StoriesReport>,
}

impl App {
    pub fn new(keymap: Keymap, theme: Theme, now: DateTime<Utc>) -> App {
        App {
            report: None,
            selected: None,
            focus: Pane::Plugins,
            zoomed: false,
            traffic: None,
            logs: LogView::new(LOG_VIEW_CAPACITY),
            log_filter_text: String::new(),
            plugin_filter: String::new(),
            alert_filter: String::new(),
            log_wrap: false,
            log_timestamps: true,
            events: VecDeque::new(),
            alerts: Vec::new(),
            alert_cursor: 0,
            overlay: Overlay::None,
            disconnected: Some("connecting to the engine…".to_string()),
            notice: None,
            keymap,
            theme,
            now,
            in_flight: Vec::new(),
            operator: Transcript::default(),
            input: TextArea::default(),
            op: OperatorState::default(),
            waiting: Vec::new(),
            stories: None,
        }
    }

    /// The selected plugin's status.
    pub fn plugin(&self) -> Option<&PluginStatus> {
        let report = self.report.as_ref()?;
        let name = self.selected.as_deref()?;
        report.plugins.iter().find(|p| p.name == name)
    }

    /// Which bindings apply now.
    pub fn context(&self) -> Context {
        match self.focus {
            Pane::Plugins if self.traffic.is_some() => Context::Traffic,
            Pane::Plugins => Context::Plugins,
            Pane::Metrics => Context::Global,
            Pane::Logs => Context::Logs,
            Pane::Alerts => Context::Alerts,
            Pane::Operator => Context::Operator,
        }
    }

    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        match msg {
            Msg::Key(key) => self.on_key(key),
            Msg::Engine(event) => {
                self.on_engine(event);
                Vec::new()
            }
            Msg::Connected => {
                // The new connection sends its own backlog of lines and events.
                self.disconnected = None;
                self.logs.clear();
                self.events.clear();
                Vec::new()
            }
            Msg::Redraw => Vec::new(),
            Msg::Disconnected(why) => {
                self.disconnected = Some(why);
                Vec::new()
            }
            Msg::Done {
                label,
                result,
                hints,
            } => {
                self.in_flight.retain(|l| *l != label);
                let then = crate::tui::hint::suffix(&hints, &self.keymap);
                let result = result.map(|t| t + &then).map_err(|t| t + &then);
                self.operator.resolve(&label, &result);
                match result {
                    Ok(text) => self.notify(text, false),
                    Err(text) => self.notify(format!("{label} failed: {text}"), true),
                }
                Vec::new()
            }
            Msg::Operator { .. } | Msg::TurnEnded { .. } => {
                self.on_operator_msg(msg);
                Vec::new()
            }
            Msg::Timeline(event) => {
                self.on_timeline(event);
                Vec::new()
            }
            Msg::FollowUp(pending) => {
                self.on_follow_up(pending);
                Vec::new()
            }
            Msg::Stories(report) => {
                self.on_stories(report);
                Vec::new()
            }
            Msg::Previewed { hash, lines } => {
                self.previewed(&hash, lines);
                Vec::new()
            }
            Msg::Waiting(list) => {
                self.on_waiting(list);
                Vec::new()
            }
            Msg::Tick(now) => {
                self.now = now;
                Vec::new()
            }
        }
    }

    fn notify(&mut self, text: String, error: bool) {
        self.notice = Some(Notice {
            text,
            error,
            at: self.now,
        });
    }

    fn on_engine(&mut self, event: EngineEvent) {
        match event {
            EngineEvent::Snapshot(report) => self.on_report(report),
            EngineEvent::Event(record) => {
                self.timeline_event(&record);
                if self.events.len() == RECENT_EVENTS {
                    self.events.pop_front();
                }
                self.events.push_back(record);
            }
            EngineEvent::Log(line) => self.on_log(line),
            EngineEvent::Lagged { missed } => self.notify(
                format!("{missed} updates were skipped while the dashboard was busy; the next snapshot catches up"),
                true,
            ),
        }
    }

    fn on_report(&mut self, report: StatusReport) {
        let still_there = self
            .selected
            .as_ref()
            .is_some_and(|name| report.plugins.iter().any(|p| p.name == *name));
        if !still_there {
            self.selected = report.plugins.first().map(|p| p.name.clone());
            self.traffic = None;
            self.refilter_logs();
        }
        self.alerts = alerts::merge(&self.alerts, &report, self.now);
        self.alert_cursor = self
            .alert_cursor
            .min(self.shown_alerts().len().saturating_sub(1));
        self.report = Some(report);
    }

    /// The alert under the cursor.
    pub fn selected_alert(&self) -> Option<&ShownAlert> {
        self.shown_alerts().get(self.alert_cursor).copied()
    }

    /// The alerts the pane shows: those whose plugin, rule or summary contains the filter.
    pub fn shown_alerts(&self) -> Vec<&ShownAlert> {
        let needle = self.alert_filter.trim().to_lowercase();
        self.alerts
            .iter()
            .filter(|a| {
                needle.is_empty()
                    || [&a.row.plugin, &a.row.rule, &a.row.summary]
                        .iter()
                        .any(|t| t.to_lowercase().contains(&needle))
            })
            .collect()
    }

    fn on_log(&mut self, line: LogLine) {
        self.logs.push(line);
    }

    /// The log filter: the selected plugin, plus what `/` and the level/slot keys set.
    fn refilter_logs(&mut self) {
        let mut query = self.logs.filter().clone();
        query.plugin = self.selected.clone().unwrap_or_default();
        self.logs.set_filter(query);
    }

    /// The plugins the list shows: those whose name contains the `/` filter.
    pub fn shown_plugins(&self) -> Vec<&PluginStatus> {
        let needle = self.plugin_filter.trim().to_lowercase();
        self.report
            .iter()
            .flat_map(|r| &r.plugins)
            .filter(|p| needle.is_empty() || p.name.to_lowercase().contains(&needle))
            .collect()
    }

    fn select(&mut self, delta: i64) {
        let shown: Vec<String> = self
            .shown_plugins()
            .iter()
            .map(|p| p.name.clone())
            .collect();
        if shown.is_empty() {
            return;
        }
        let current = self
            .selected
            .as_ref()
            .and_then(|n| shown.iter().position(|p| p == n))
            .unwrap_or(0) as i64;
        let next = (current + delta).rem_euclid(shown.len() as i64) as usize;
        self.selected = Some(shown[next].clone());
        self.traffic = None;
        self.refilter_logs();
    }

    fn on_key(&mut self, key: Key) -> Vec<Effect> {
        match std::mem::replace(&mut self.overlay, Overlay::None) {
            Overlay::None => {}
            Overlay::Help => return Vec::new(),
            Overlay::Confirm(c) => return self.on_confirm_key(key, c),
            Overlay::Command(text) => return self.on_text_key(key, text, true),
            Overlay::Filter(text) => return self.on_text_key(key, text, false),
            Overlay::Find(list, text) => return self.on_find_key(key, list, text),
            Overlay::Silence(form) => return self.on_silence_key(key, form),
            Overlay::Deploy(form) => return self.on_deploy_key(key, form),
            Overlay::Approvals(at) => return self.on_approvals_key(key, at),
            Overlay::Diff(scroll) => return self.on_diff_key(key, scroll),
            Overlay::Stories(scroll) => return self.on_stories_key(key, scroll),
        }
        if self.focus == Pane::Operator {
            return self.on_operator_key(key);
        }
        let Some(action) = self.keymap.action(self.context(), key) else {
            return Vec::new();
        };
        self.on_action(action)
    }

    /// What an action does; the headless tests drive the app through here too.
    pub fn on_action(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Quit => return vec![Effect::Quit],
            Action::Help => self.overlay = Overlay::Help,
            Action::Approvals => self.open_approvals(),
            Action::CandidateDiff => self.open_diff(),
            Action::Stories => return self.ask_stories(),
            Action::CommandLine => self.overlay = Overlay::Command(String::new()),
            Action::Filter if self.focus == Pane::Plugins => {
                self.overlay = Overlay::Find(ListKind::Plugins, self.plugin_filter.clone());
            }
            Action::Filter if self.focus == Pane::Alerts => {
                self.overlay = Overlay::Find(ListKind::Alerts, self.alert_filter.clone());
            }
            Action::Filter => {
                self.focus = Pane::Logs;
                self.overlay = Overlay::Filter(self.log_filter_text.clone());
            }
            Action::FocusNext => self.focus = self.focus.step(true),
            Action::FocusPrev => self.focus = self.focus.step(false),
            Action::Zoom => self.zoomed = !self.zoomed,
            Action::FocusOperator => self.focus = Pane::Operator,
            Action::Up => self.select(-1),
            Action::Down => self.select(1),
            Action::AlertUp => self.alert_cursor = self.alert_cursor.saturating_sub(1),
            Action::AlertDown => {
                self.alert_cursor =
                    (self.alert_cursor + 1).min(self.shown_alerts().len().saturating_sub(1));
            }
            Action::Traffic => {
                let Some(plugin) = self.plugin() else {
                    return Vec::new();
                };
                // Weight can only go to a slot that serves; say so now, not after Enter.
                let idle: Vec<String> = plugin
                    .slots
                    .iter()
                    .filter(|s| !s.serves())
                    .map(|s| s.slot.to_string())
                    .collect();
                if idle.is_empty() {
                    self.traffic = Some(TrafficEdit::start(plugin));
                } else {
                    let name = plugin.name.clone();
                    self.notify(
                        format!(
                            "{} of {name} does not serve, so traffic cannot be split; deploy a version there first (d or :deploy {name})",
                            idle.join(" and ")
                        ),
                        true,
                    );
                }
            }
            Action::SliderUp | Action::SliderDown => {
                if let Some(edit) = &mut self.traffic {
                    edit.focus_other();
                }
            }
            Action::Less => self.nudge(-(STEP as i32)),
            Action::More => self.nudge(STEP as i32),
            Action::LessFine => self.nudge(-(FINE_STEP as i32)),
            Action::MoreFine => self.nudge(FINE_STEP as i32),
            Action::Apply => return self.apply_traffic(),
            Action::Discard => self.traffic = None,
            Action::Rollback | Action::IncidentRollback => {
                if let Some(plugin) = self.plugin() {
                    let incident = action == Action::IncidentRollback;
                    let card = Proposal::rollback(plugin, incident);
                    // The card shows at once; the engine's dry run replaces its lines
                    // when it answers.
                    let call = card.call.clone();
                    self.overlay = Overlay::Confirm(card);
                    return vec![Effect::Preview { call }];
                }
            }
            Action::Deploy => {
                if let Some(plugin) = self.plugin() {
                    self.overlay = Overlay::Deploy(DeployForm::new(plugin));
                }
            }
            Action::Promote | Action::Abort => {
                let Some(plugin) = self.plugin() else {
                    return Vec::new();
                };
                match Proposal::steer(plugin, action == Action::Promote) {
                    Some(c) => self.overlay = Overlay::Confirm(c),
                    None => {
                        let text =
                            format!("no rollout of {} is running; d deploys one", plugin.name);
                        self.notify(text, true);
                    }
                }
            }
            Action::PauseResume => {
                let Some(plugin) = self.plugin() else {
                    return Vec::new();
                };
                let name = plugin.name.clone();
                return match &plugin.rollout {
                    Some(r) if r.paused => self.send(
                        format!("resume {name}"),
                        Call::Resume(crate::api::protocol::PluginRequest { plugin: name }),
                    ),
                    Some(_) => self.send(
                        format!("pause {name}"),
                        Call::Pause(crate::api::protocol::PluginRequest { plugin: name }),
                    ),
                    None => {
                        self.notify(format!("no rollout of {name} is running"), true);
                        Vec::new()
                    }
                };
            }
            Action::ScrollUp => self.logs.scroll(-1),
            Action::ScrollDown => self.logs.scroll(1),
            Action::PageUp => self.logs.scroll(-20),
            Action::PageDown => self.logs.scroll(20),
            Action::Follow => self.logs.toggle_follow(),
            Action::NextError | Action::PrevError => {
                let forward = action == Action::NextError;
                if !self.logs.jump_to_level(Level::Error, forward) {
                    let which = if forward { "newer" } else { "older" };
                    self.notify(format!("no {which} error in the log pane"), false);
                }
            }
            Action::Wrap => self.log_wrap = !self.log_wrap,
            Action::Timestamps => self.log_timestamps = !self.log_timestamps,
            Action::Level => {
                let mut query = self.logs.filter().clone();
                query.min_level = match query.min_level {
                    None => Some(Level::Info),
                    Some(Level::Trace | Level::Debug) => Some(Level::Info),
                    Some(Level::Info) => Some(Level::Warn),
                    Some(Level::Warn) => Some(Level::Error),
                    Some(Level::Error) => None,
                };
                self.logs.set_filter(query);
            }
            Action::Slot => {
                let mut query = self.logs.filter().clone();
                query.slot = match query.slot {
                    None => Some(LogOrigin::Slot(SlotName::Blue)),
                    Some(LogOrigin::Slot(SlotName::Blue)) => Some(LogOrigin::Slot(SlotName::Green)),
                    Some(LogOrigin::Slot(_)) => Some(LogOrigin::Gate),
                    Some(LogOrigin::Gate) => None,
                };
                self.logs.set_filter(query);
            }
            Action::Silence => match self.selected_alert() {
                Some(alert) => self.overlay = Overlay::Silence(SilenceForm::new(alert.target())),
                None => self.notify("no alert is selected".to_string(), false),
            },
            Action::Send | Action::Cancel | Action::Yes | Action::No => {
                return self.on_operator_action(action);
            }
            Action::Ack => {
                let Some(alert) = self.selected_alert() else {
                    self.notify("no alert is selected".to_string(), false);
                    return Vec::new();
                };
                if alert.row.state != "firing" {
                    let text = format!(
                        "{} is {}; only a firing alert can be acknowledged",
                        alert.target(),
                        alert.row.state
                    );
                    self.notify(text, true);
                    return Vec::new();
                }
                let target = alert.target();
                return match crate::command::to_call::ack_request(
                    &target,
                    Some(crate::core::identity::operator_name()),
                ) {
                    Ok(req) => self.send(format!("ack {target}"), Call::Ack(req)),
                    Err(e) => {
                        self.notify(e.0, true);
                        Vec::new()
                    }
                };
            }
        }
        Vec::new()
    }

    fn on_deploy_key(&mut self, key: Key, mut form: DeployForm) -> Vec<Effect> {
        match key.code {
            Code::Named(Named::Esc) => Vec::new(),
            Code::Named(Named::Enter) => match form.call() {
                Ok(call) => self.send(form.label(), call),
                Err(message) => {
                    form.error = Some(message);
                    self.overlay = Overlay::Deploy(form);
                    Vec::new()
                }
            },
            _ => {
                form.key(key);
                self.overlay = Overlay::Deploy(form);
                Vec::new()
            }
        }
    }

    fn on_silence_key(&mut self, key: Key, mut form: SilenceForm) -> Vec<Effect> {
        match key.code {
            Code::Named(Named::Esc) => Vec::new(),
            Code::Named(Named::Enter) => {
                match form.call(Some(crate::core::identity::operator_name())) {
                    Ok(call) => self.send(format!("silence {}", form.target), call),
                    Err(message) => {
                        form.error = Some(message);
                        self.overlay = Overlay::Silence(form);
                        Vec::new()
                    }
                }
            }
            _ => {
                form.key(key);
                self.overlay = Overlay::Silence(form);
                Vec::new()
            }
        }
    }

    fn nudge(&mut self, delta: i32) {
        if let Some(edit) = &mut self.traffic {
            edit.nudge(delta);
        }
    }

    fn apply_traffic(&mut self) -> Vec<Effect> {
        let Some(edit) = self.traffic.take() else {
            return Vec::new();
        };
        let changed = self.plugin().is_some_and(|p| edit.is_changed(p));
        if !changed {
            self.notify("the weights are unchanged; nothing sent".to_string(), false);
            return Vec::new();
        }
        let label = format!(
            "traffic {} blue={} green={}",
            edit.plugin,
            edit.weight(SlotName::Blue),
            edit.weight(SlotName::Green)
        );
        self.send(
            label,
            Call::Traffic(crate::api::protocol::TrafficRequest {
                plugin: edit.plugin.clone(),
                weights: edit.pending.clone(),
                dry_run: false,
            }),
        )
    }

    fn on_confirm_key(&mut self, key: Key, confirmation: Proposal) -> Vec<Effect> {
        match key.code {
            Code::Char('y') | Code::Char('Y') | Code::Named(Named::Enter) => {
                self.send_confirmed(confirmation.label, confirmation.call)
            }
            Code::Char('n') | Code::Char('N') | Code::Named(Named::Esc) => {
                self.notify("cancelled; nothing changed".to_string(), false);
                Vec::new()
            }
            _ => {
                // Any other key keeps the question up: a stray key must not answer it.
                self.overlay = Overlay::Confirm(confirmation);
                Vec::new()
            }
        }
    }

    /// Typing in the `:` command line (`command`) or the `/` filter.
    fn on_text_key(&mut self, key: Key, mut text: String, command: bool) -> Vec<Effect> {
        let reopen = |text: String| {
            if command {
                Overlay::Command(text)
            } else {
                Overlay::Filter(text)
            }
        };
        match key.code {
            Code::Named(Named::Esc) => Vec::new(),
            Code::Named(Named::Enter) if command => self.run_command(&text),
            Code::Named(Named::Enter) => {
                self.apply_log_filter(text);
                Vec::new()
            }
            Code::Named(Named::Backspace) => {
                text.pop();
                self.overlay = reopen(text);
                Vec::new()
            }
            Code::Char(c) if !key.ctrl && !key.alt => {
                text.push(c);
                self.overlay = reopen(text);
                Vec::new()
            }
            _ => {
                self.overlay = reopen(text);
                Vec::new()
            }
        }
    }

    /// Typing a list's filter; the list narrows as you type, Enter keeps it, Esc clears it.
    fn on_find_key(&mut self, key: Key, list: ListKind, mut text: String) -> Vec<Effect> {
        match key.code {
            Code::Named(Named::Esc) => text.clear(),
            Code::Named(Named::Enter) => {}
            Code::Named(Named::Backspace) => {
                text.pop();
                self.overlay = Overlay::Find(list, text.clone());
            }
            Code::Char(c) if !key.ctrl && !key.alt => {
                text.push(c);
                self.overlay = Overlay::Find(list, text.clone());
            }
            _ => self.overlay = Overlay::Find(list, text.clone()),
        }
        if list == ListKind::Alerts {
            self.alert_filter = text;
            self.alert_cursor = 0;
            return Vec::new();
        }
        self.plugin_filter = text;
        let shown: Vec<String> = self
            .shown_plugins()
            .iter()
            .map(|p| p.name.clone())
            .collect();
        if !shown.iter().any(|n| Some(n) == self.selected.as_ref())
            && let Some(first) = shown.first()
        {
            self.selected = Some(first.clone());
            self.traffic = None;
            self.refilter_logs();
        }
        Vec::new()
    }

    fn apply_log_filter(&mut self, text: String) {
        let mut query: LogQuery = self.logs.filter().clone();
        if text.trim().is_empty() {
            query.grep = None;
        } else {
            match regex::RegexBuilder::new(text.trim())
                .case_insensitive(true)
                .size_limit(1 << 20)
                .build()
            {
                Ok(re) => query.grep = Some(re),
                Err(e) => {
                    self.notify(
                        format!("`{}` is not a regular expression: {e}", text.trim()),
                        true,
                    );
                    self.overlay = Overlay::Filter(text);
                    return;
                }
            }
        }
        self.log_filter_text = text;
        self.logs.set_filter(query);
    }

    /// Runs a `:` command: the CLI's own words, parsed by the CLI's own parser.
    fn run_command(&mut self, text: &str) -> Vec<Effect> {
        match crate::command::line::parse(text) {
            // What a read shows is already in the panes; the line is for actions.
            Ok(Some((_, call)))
                if matches!(
                    call,
                    Call::Status(_) | Call::History(_) | Call::Logs(_) | Call::Alerts(_)
                ) =>
            {
                self.notify(
                    format!(
                        ":{} shows in the panes (tab moves between them); the line runs actions",
                        call.method()
                    ),
                    true,
                );
                Vec::new()
            }
            Ok(Some((label, call))) => self.send(label, call),
            Ok(None) => Vec::new(),
            Err(message) => {
                self.notify(message, true);
                Vec::new()
            }
        }
    }
}

/// The textarea's own key type for one of ours.
pub(super) fn textarea_input(key: Key) -> ratatui_textarea::Input {
    use ratatui_textarea::Key as T;
    let k = match key.code {
        Code::Char(c) => T::Char(c),
        Code::Named(Named::Backspace) => T::Backspace,
        Code::Named(Named::Delete) => T::Delete,
        Code::Named(Named::Left) => T::Left,
        Code::Named(Named::Right) => T::Right,
        Code::Named(Named::Up) => T::Up,
        Code::Named(Named::Down) => T::Down,
        Code::Named(Named::Home) => T::Home,
        Code::Named(Named::End) => T::End,
        Code::Named(Named::PageUp) => T::PageUp,
        Code::Named(Named::PageDown) => T::PageDown,
        Code::Named(Named::F(n)) => T::F(n),
        _ => T::Null,
    };
    ratatui_textarea::Input {
        key: k,
        ctrl: key.ctrl,
        alt: key.alt,
        shift: key.shift,
    }
}

#[cfg(test)]
pub(crate) mod tests;
