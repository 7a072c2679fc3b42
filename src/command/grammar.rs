//! The command line, as users script against it. Names may grow, not break. One grammar
//! for every face: the shell, the dashboard's `:` line and the operator's slash commands.

use crate::core::engine::DeployRequest;
use crate::core::types::{SlotName, StrategyKind, Version};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "naap",
    version,
    about = "Deploy, shift traffic between, watch and roll back plugins"
)]
pub struct Cli {
    /// The workspace directory (holding naap.toml). Default: the nearest one above the
    /// current directory.
    #[arg(long, short = 'w', global = true, env = "NAAP_WORKSPACE")]
    pub workspace: Option<PathBuf>,

    /// Print stable JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,

    /// Fail instead of starting an engine in the background when none runs.
    #[arg(long, global = true)]
    pub no_start: bool,

    /// Answer yes to the confirmation of a change (and run an operator's proposals). In a
    /// production workspace only together with `--env production`, so a script cannot
    /// change production by accident.
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,

    /// The environment this command means to change (`production`, `staging`, `test`,
    /// `development`): a change is refused when the workspace's is another.
    #[arg(long, global = true, value_name = "ENV", value_parser = ["development", "test", "staging", "production"])]
    pub env: Option<String>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// A self-contained demo workspace with sample plugins and traffic.
    Demo {
        /// Do not generate background traffic.
        #[arg(long)]
        no_traffic: bool,
    },
    /// Run the engine for the workspace in the foreground.
    Serve {
        /// On exit leave slot processes running for the next engine to adopt.
        #[arg(long)]
        keep_plugins: bool,
    },
    /// Write a naap.toml and a sample plugin manifest.
    Init {
        /// Where to create the workspace (default: the current directory).
        dir: Option<PathBuf>,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
    /// Check the workspace; exit 1 with every problem listed.
    Validate,
    /// Write a plugin from a plugin.md spec and register it in naap.toml; `naap deploy
    /// NAME` then serves it. Offline it writes a Python scaffold (CRUD service, a test per
    /// acceptance criterion). Exit 2 with every problem of a malformed spec.
    Generate(GenerateArgs),
    /// Plugins, slots, weights, health and live metrics.
    Status {
        plugin: Option<String>,
        /// Redraw every second.
        #[arg(long)]
        watch: bool,
    },
    /// Deploy a version into the idle slot and move traffic to it.
    Deploy(DeployArgs),
    /// Manage preview slots (`naap deploy PLUGIN --preview` starts one).
    #[command(subcommand)]
    Preview(PreviewCommand),
    /// Incidents the engine opened (automatic rollback, critical alert, crash loop, failed
    /// deploy): list, show (with the past ones like it), resolve with a note.
    #[command(subcommand)]
    Incident(IncidentCommand),
    /// Runbooks (`runbooks/*.toml`): list them, show one with its last runs, run one as a
    /// saga (a failed step undoes the steps done, newest first).
    #[command(subcommand)]
    Runbook(RunbookCommand),
    /// Write what runs where, for people: `naap export deployed [--out DEPLOYED.md]`.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Every plugin with every version it has had; turn a plugin off and on again.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Run N processes per slot, live: `naap scale PLUGIN 3`.
    Scale {
        plugin: String,
        #[arg(value_parser = clap::value_parser!(u32).range(1..=64))]
        replicas: u32,
        /// Say what would change; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Rolling restart: every replica in turn drained, restarted and waited for.
    Restart {
        plugin: String,
        /// Only this slot (default: every running slot).
        #[arg(long, value_parser = parse_slot)]
        slot: Option<SlotName>,
        /// Say what would restart; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Canary: go on to the next step (releasing a pause); `--full` goes straight to 100 %.
    Promote {
        plugin: String,
        /// Skip the remaining steps: all traffic to the canary now.
        #[arg(long)]
        full: bool,
    },
    /// Canary: all traffic back to the stable slot; the canary slot is stopped.
    Abort { plugin: String },
    /// Canary: hold the rollout where it is; the step timer freezes.
    Pause { plugin: String },
    /// Canary: continue a paused rollout.
    Resume { plugin: String },
    /// Set traffic weights by hand: `naap traffic PLUGIN blue=90 green=10`.
    Traffic {
        plugin: String,
        #[arg(required = true, value_parser = parse_weight)]
        weights: Vec<(SlotName, u32)>,
        /// Say what the weights would become; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Move all traffic back to the previous version.
    Rollback {
        plugin: String,
        /// Roll back to this version instead of the previous one.
        #[arg(long, value_parser = parse_version)]
        to: Option<Version>,
        /// Say what the rollback would do; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Show a plugin's logs.
    Logs(LogsArgs),
    /// Rollouts, events and audit log of a plugin.
    History {
        plugin: String,
        #[arg(long, short = 'n', default_value_t = 50)]
        limit: usize,
    },
    /// Alert rules: list, silence, unsilence, acknowledge.
    Alerts {
        #[command(subcommand)]
        command: Option<AlertsCommand>,
    },
    /// Candidates: proposed changes kept apart from the live source until accepted.
    Candidates { plugin: Option<String> },
    /// A plugin's user stories (from its plugin.md): each criterion, its test, and how that
    /// test did when the test gate last ran.
    Stories { plugin: String },
    /// One candidate: show it, diff it against the live source, accept or discard it.
    #[command(subcommand)]
    Candidate(CandidateCommand),
    /// Re-read naap.toml and the plugin manifests: load added plugins, stop removed ones,
    /// apply changed ones; running slots of unchanged plugins are not touched.
    Reload,
    /// Stop the workspace's engine.
    Stop {
        /// Stop the plugins' slot processes too (they start again with the next engine).
        #[arg(long)]
        plugins: bool,
    },
    /// Ask the operator: `naap chat "why is checkout failing?"` answers one turn; with no
    /// message, an interactive session. Changes are proposals: printed, not run, unless
    /// --yes. Exit 0 answered, 1 failed, 2 bad arguments, 3 a proposal is waiting.
    Chat(ChatArgs),
    /// Change a plugin with the model: `naap iterate shop "make /api/items return the
    /// newest first"` edits a candidate, runs its gates, fixes what they report (up to
    /// `[ai] heal_attempts`), then proposes to accept it as a derived version and, once
    /// accepted, to deploy it as a canary. Without --yes it stops at the first proposal
    /// (exit 3; `naap approve ID` runs it). Exit 1 when the gates still fail.
    Iterate(IterateArgs),
    /// Serve naap's operator tools to an MCP client (stdio; `--listen` for streamable
    /// HTTP on loopback). A change becomes a proposal that waits for `naap approve ID`.
    Mcp(McpArgs),
    /// Run a waiting proposal (an MCP client's change) after showing it; `--list` lists
    /// the waiting ones.
    Approve {
        /// The proposal's id, as the MCP tool result gave it (p-…).
        #[arg(required_unless_present = "list", conflicts_with = "list")]
        id: Option<String>,
        /// List the waiting proposals instead.
        #[arg(long)]
        list: bool,
    },
    /// The proposals waiting for a yes or no (the same as `naap approve --list`).
    Approvals,
    /// Refuse a waiting proposal: it never runs.
    Reject {
        /// The proposal's id (p-…).
        id: String,
    },
    /// Shell completions for bash, zsh, fish, elvish or powershell, on stdout:
    /// `naap completions bash > /etc/bash_completion.d/naap`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// The manual page (roff) on stdout: `naap man | man -l -`.
    Man,
    /// The built-in sample plugin (used by `naap init` and the demo).
    #[command(hide = true)]
    SampleService(crate::sample_service::SampleArgs),
}

/// `naap mcp`: how far an MCP client may go, and where it connects.
#[derive(Args, Debug, Clone, Default)]
pub struct McpArgs {
    /// Run a change as soon as the MCP client calls it (its own confirmation is the
    /// yes); without it a change waits for `naap approve ID`. Still audited as `mcp`.
    #[arg(long, conflicts_with = "read_only")]
    pub allow_changes: bool,
    /// Offer no change tools at all: reads, resources and workspace tools only.
    #[arg(long)]
    pub read_only: bool,
    /// Serve streamable HTTP on this loopback address (`127.0.0.1:8765`) instead of
    /// stdio; clients must send the bearer token kept in the state directory.
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<String>,
}

/// `naap deploy`: the flags map one to one onto the engine's `DeployRequest`.
#[derive(Args, Debug, Clone)]
pub struct DeployArgs {
    pub plugin: String,
    /// The version label (default: the manifest's `plugin.version`).
    #[arg(long = "version", id = "deploy_version", value_parser = parse_version)]
    pub version: Option<Version>,
    #[arg(long, value_parser = parse_strategy)]
    pub strategy: Option<StrategyKind>,
    /// Say what would happen; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Run the build and test gates even when their inputs are unchanged since a pass.
    #[arg(long)]
    pub no_cache: bool,
    /// Start the version in a new preview slot, reachable only with the header
    /// `x-naap-slot: preview-<id>`; no traffic moves.
    #[arg(long)]
    pub preview: bool,
    /// How long the preview lives before it stops by itself (default 2h, at most 7d).
    #[arg(long, requires = "preview", value_parser = parse_preview_ttl)]
    pub ttl: Option<String>,
    /// Return once the rollout has started; follow it with `naap status PLUGIN --watch`.
    #[arg(long)]
    pub detach: bool,
    /// Deploy even when this version is already live (it starts anew in the idle
    /// slot, replacing a warm previous version there); without it that is a no-op.
    #[arg(long, conflicts_with = "preview")]
    pub force: bool,
    /// Preview a candidate's staged tree instead of the plugin's source (see
    /// `naap candidates`); the version defaults to the one its accept would derive.
    #[arg(long, value_name = "ID", requires = "preview")]
    pub candidate: Option<String>,
}

impl DeployArgs {
    pub fn request(&self) -> DeployRequest {
        DeployRequest {
            plugin: self.plugin.clone(),
            version: self.version.clone(),
            strategy: self.strategy,
            dry_run: self.dry_run,
            no_cache: self.no_cache,
            preview: self.preview,
            ttl: self.ttl.clone(),
            detach: self.detach,
            force: self.force,
            candidate: self.candidate.clone(),
        }
    }
}

/// `naap generate`.
#[derive(Args, Debug, Clone)]
pub struct GenerateArgs {
    /// The spec: `## Plugin: Name`, `### User Stories`, `### Data Model`, … (a plugin.md).
    pub spec: PathBuf,
    /// The plugin directory to create (default: plugins/NAME in the workspace).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The plugin's language; without a model only python (the offline scaffold).
    #[arg(long, default_value = "python", value_parser = ["python", "rust", "node"])]
    pub lang: String,
    /// The plugin name (default: from the `## Plugin:` heading, e.g. expense-tracker).
    #[arg(long)]
    pub name: Option<String>,
    /// Then have the model implement the stories on the scaffold, through a candidate,
    /// its gates and fixes, as `naap iterate` (the engine loads the plugin first).
    #[arg(long)]
    pub implement: bool,
    /// With --implement: the model provider, as for `naap chat`.
    #[arg(long, requires = "implement", value_parser = ["openai", "anthropic", "ollama"])]
    pub provider: Option<String>,
    #[arg(long, requires = "implement")]
    pub model: Option<String>,
    #[arg(long, requires = "implement")]
    pub base_url: Option<String>,
}

/// `naap chat`.
#[derive(Args, Debug, Clone, Default)]
pub struct ChatArgs {
    /// The message (several words are joined); none starts an interactive session.
    pub message: Vec<String>,
    /// Read only: the operator may look but proposes nothing.
    #[arg(long, conflicts_with = "suggest")]
    pub read_only: bool,
    /// Proposals are shown but cannot be run from here.
    #[arg(long)]
    pub suggest: bool,
    /// Which model provider answers (default: naap.toml `[ai]`, ~/.config/naap/ai.toml,
    /// NAAP_AI_PROVIDER; `offline` forces the intent router).
    #[arg(long, value_parser = ["openai", "anthropic", "ollama", "offline"])]
    pub provider: Option<String>,
    /// The model name, e.g. gpt-4o-mini, claude-sonnet-4-5, llama3.1.
    #[arg(long)]
    pub model: Option<String>,
    /// The provider's base URL, e.g. http://127.0.0.1:8080/v1 for a local llama.cpp.
    #[arg(long)]
    pub base_url: Option<String>,
    /// The plugin "it" means when the message names none.
    #[arg(long)]
    pub plugin: Option<String>,
    /// Print exactly what would be sent to the provider (redacted), send nothing.
    #[arg(long)]
    pub show_prompt: bool,
    /// Continue a session: its id, or none for the last one.
    #[arg(long, num_args = 0..=1, default_missing_value = "", value_name = "ID")]
    pub resume: Option<String>,
    /// List the stored sessions.
    #[arg(long, conflicts_with_all = ["message", "resume", "show_prompt"])]
    pub list: bool,
}

/// `naap iterate`.
#[derive(Args, Debug, Clone, Default)]
pub struct IterateArgs {
    /// The plugin to change.
    pub plugin: String,
    /// What to change, in words (several words are joined); optional with --retry.
    #[arg(required_unless_present = "retry")]
    pub instruction: Vec<String>,
    /// Try again after candidate ID, whose canary rolled back: the model is told its
    /// request and the verdict, and fixes forward from the source it left.
    #[arg(long, value_name = "ID")]
    pub retry: Option<String>,
    /// Ship the candidate as a preview (its staged tree in a preview slot, reachable only
    /// with `x-naap-slot`), not accepted: for a look first.
    #[arg(long, conflicts_with = "canary")]
    pub preview: bool,
    /// Ship it as a canary once accepted, under the plugin's analysis and automatic
    /// rollback (the default).
    #[arg(long)]
    pub canary: bool,
    /// The version the candidate becomes (default: the manifest's next patch with the
    /// candidate's id, `1.4.0` → `1.4.1-ai.<id>`).
    #[arg(long)]
    pub version: Option<String>,
    /// Which model provider writes the code (as for `naap chat`; offline cannot).
    #[arg(long, value_parser = ["openai", "anthropic", "ollama"])]
    pub provider: Option<String>,
    #[arg(long)]
    pub model: Option<String>,
    #[arg(long)]
    pub base_url: Option<String>,
}

/// `naap sample-service …` parsed on its own (see `launch`).
#[derive(Parser, Debug, Clone)]
#[command(
    name = "naap sample-service",
    bin_name = "naap sample-service",
    about = "The built-in sample plugin: a small HTTP service with /health and /api/items",
    disable_version_flag = true
)]
pub struct SampleCli {
    #[command(flatten)]
    pub args: crate::sample_service::SampleArgs,
}

#[derive(Subcommand, Debug, Clone)]
pub enum AlertsCommand {
    /// Pending, firing and resolved alerts, active silences and recent transitions.
    List {
        plugin: Option<String>,
        /// Recent transitions to include.
        #[arg(long, short = 'n', default_value_t = 20)]
        limit: usize,
    },
    /// Mute a plugin's alerts, or one rule's: `naap alerts silence web/errors --for 2h`.
    Silence {
        /// PLUGIN or PLUGIN/RULE.
        target: String,
        /// How long: 30m, 2h, 1d.
        #[arg(long = "for", value_parser = parse_silence_duration)]
        duration: String,
        /// Why, for whoever is on call next.
        #[arg(long)]
        comment: String,
        /// Who silences it (default: $USER, else the login name).
        #[arg(long, env = "USER")]
        author: Option<String>,
    },
    /// End a silence now.
    Unsilence {
        /// The silence id shown by `naap alerts list`.
        id: i64,
    },
    /// Acknowledge a firing alert: no more repeats until it resolves.
    Ack {
        /// PLUGIN/RULE.
        target: String,
        /// Who acknowledges it (default: $USER, else the login name).
        #[arg(long, env = "USER")]
        author: Option<String>,
    },
}

#[derive(Subcommand, Debug, Clone)]
pub enum CandidateCommand {
    /// Its instruction, status and history.
    Show { id: String },
    /// Its unified diff against the plugin's live source.
    Diff { id: String },
    /// Write it into the plugin's source as a version.
    Accept {
        id: String,
        /// The version it becomes (default: the next patch with the id, 1.4.1-ai.ID).
        #[arg(long = "version", id = "candidate_version", value_parser = parse_version)]
        version: Option<Version>,
        /// Say which files would be written; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Remove its staged tree; its history stays.
    Discard { id: String },
}

#[derive(Subcommand, Debug, Clone)]
pub enum IncidentCommand {
    /// Open incidents (of one plugin), newest first; `--all` for resolved ones too.
    List {
        plugin: Option<String>,
        #[arg(long)]
        all: bool,
    },
    /// One incident: signals, actions taken and by which face, the resolved incidents it
    /// looks like and how each was resolved. `--markdown` prints it as Markdown.
    Show {
        id: i64,
        #[arg(long)]
        markdown: bool,
    },
    /// Close an open incident with what fixed it.
    Resolve {
        id: i64,
        /// What fixed it, for the next person who sees one like it.
        #[arg(long)]
        note: String,
    },
}

#[derive(Subcommand, Debug, Clone)]
pub enum RunbookCommand {
    /// Every runbook of the workspace, checked.
    List,
    /// One runbook's steps, conditions, timeouts and compensations, and its last runs.
    Show { name: String },
    /// Run it: exit 0 when every step passed, 1 when one failed (the steps done are undone).
    Run {
        name: String,
        /// List what would run, in order, with each compensation; run nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand, Debug, Clone)]
pub enum ExportCommand {
    /// DEPLOYED.md: every plugin, its live and warm versions, route and URL, since when and
    /// by which face, its last rollouts and rollbacks. To stdout, or to `--out` (written
    /// whole or not at all). `[export] deployed_md` in naap.toml keeps one current.
    Deployed {
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug, Clone)]
pub enum PluginCommand {
    /// Every plugin (or one) with every known version: first deployed, last outcome, live.
    List { plugin: Option<String> },
    /// Stop a plugin's slots and close its route: the router answers 503 with a body that
    /// says so, its history is kept, and `enable` brings it back.
    Disable {
        plugin: String,
        /// Why, for the 503 body and the history.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Open a disabled plugin's route and start the version that served when it was
    /// disabled.
    Enable { plugin: String },
}

#[derive(Subcommand, Debug, Clone)]
pub enum PreviewCommand {
    /// Stop a preview before its TTL: `naap preview stop PLUGIN 3fa91c`.
    Stop {
        plugin: String,
        /// The preview's id, `3fa91c` or `preview-3fa91c` (see `naap status`).
        id: String,
    },
}

/// Checks `--ttl` before anything is sent, so a bad one is a usage error (exit 2).
fn parse_preview_ttl(s: &str) -> Result<String, String> {
    crate::core::engine::parse_ttl(Some(s)).map(|_| s.to_string())
}

#[derive(Args, Debug, Clone)]
pub struct LogsArgs {
    pub plugin: String,
    /// Keep printing new lines.
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// How many lines to show first.
    #[arg(long, short = 'n', default_value_t = 100)]
    pub lines: usize,
    /// Lowest level to show: trace, debug, info, warn, error.
    #[arg(long, value_parser = parse_level)]
    pub level: Option<crate::core::types::Level>,
    /// Only lines newer than this: `10m`, `1h`, or an RFC 3339 time.
    #[arg(long, value_parser = parse_since)]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Only this slot's lines: blue, green, preview-<id>, or gate (the build and test gates).
    #[arg(long, value_parser = parse_log_origin)]
    pub slot: Option<crate::core::logs::LogOrigin>,
    /// Only lines matching this regular expression.
    #[arg(long)]
    pub grep: Option<String>,
}

/// The shared version rule, so a bad `--version` is a usage error (exit 2) and nothing runs.
fn parse_version(s: &str) -> Result<Version, String> {
    Version::parse(s).map_err(|e| e.to_string())
}

fn parse_strategy(s: &str) -> Result<StrategyKind, String> {
    s.parse()
}

fn parse_level(s: &str) -> Result<crate::core::types::Level, String> {
    s.parse()
}

fn parse_log_origin(s: &str) -> Result<crate::core::logs::LogOrigin, String> {
    s.parse()
}

fn parse_slot(s: &str) -> Result<SlotName, String> {
    s.parse()
}

fn parse_weight(s: &str) -> Result<(SlotName, u32), String> {
    let Some((slot, pct)) = s.split_once('=') else {
        return Err(format!("`{s}` is not SLOT=PERCENT; write e.g. blue=90"));
    };
    let slot: SlotName = slot.parse()?;
    let pct = pct.trim().trim_end_matches('%');
    let pct: u32 = pct
        .parse()
        .map_err(|_| format!("`{pct}` is not a whole percentage; write e.g. {slot}=25"))?;
    if pct > 100 {
        return Err(format!("{slot}={pct} is over 100"));
    }
    Ok((slot, pct))
}

fn parse_silence_duration(s: &str) -> Result<String, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("`{s}` is not a duration ({e}); write e.g. 30m, 2h or 1d"))?;
    if d.is_zero() {
        return Err("a silence must last longer than 0s".to_string());
    }
    Ok(s.trim().to_string())
}

fn parse_since(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    let d = humantime::parse_duration(s)
        .map_err(|e| format!("`{s}` is neither a duration like 10m nor an RFC 3339 time: {e}"))?;
    let d = chrono::Duration::from_std(d).map_err(|_| format!("`{s}` is too long ago"))?;
    Ok(chrono::Utc::now() - d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn weights_parse_with_clear_errors() {
        assert_eq!(parse_weight("blue=90"), Ok((SlotName::Blue, 90)));
        assert_eq!(parse_weight("green=10%"), Ok((SlotName::Green, 10)));
        assert!(parse_weight("blue").unwrap_err().contains("SLOT=PERCENT"));
        assert!(parse_weight("red=1").unwrap_err().contains("unknown slot"));
        assert!(parse_weight("blue=101").unwrap_err().contains("over 100"));
        assert!(
            parse_weight("blue=x")
                .unwrap_err()
                .contains("whole percentage")
        );
    }

    #[test]
    fn silence_durations_are_checked() {
        assert_eq!(parse_silence_duration("2h"), Ok("2h".to_string()));
        assert!(
            parse_silence_duration("0s")
                .unwrap_err()
                .contains("longer than 0s")
        );
        assert!(
            parse_silence_duration("two hours")
                .unwrap_err()
                .contains("e.g. 30m")
        );
    }

    #[test]
    fn since_takes_durations_and_times() {
        assert!(parse_since("10m").is_ok());
        assert!(parse_since("2026-01-01T00:00:00Z").is_ok());
        assert!(parse_since("yesterday-ish").is_err());
    }
}
