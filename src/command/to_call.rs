//! The one mapping from a parsed command to the engine call it makes. The CLI, the
//! dashboard's `:` line and the operator's slash commands all go through it, so a flag
//! means the same thing in every face.

use super::grammar::{
    AlertsCommand, CandidateCommand, Command, IncidentCommand, PluginCommand, PreviewCommand,
    RunbookCommand,
};
use crate::api::Call;
use crate::api::protocol::{
    AckRequest, AlertsRequest, HistoryRequest, LogsRequest, PromoteRequest, RollbackRequest,
    SilenceRequest, StatusRequest, StopPreviewRequest, TrafficRequest, UnsilenceRequest,
};
use std::collections::BTreeMap;

/// Why a command that parsed cannot become a call; said in the command line's terms.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct CallError(pub String);

/// The engine call of `command`: `Ok(None)` for commands that are not one engine call
/// (serve, demo, init, validate, stop, logs --follow, status --watch, completions…).
pub fn to_call(command: &Command) -> Result<Option<Call>, CallError> {
    Ok(Some(match command {
        Command::Status {
            plugin,
            watch: false,
        } => Call::Status(StatusRequest {
            plugin: plugin.clone(),
        }),
        Command::Deploy(args) => Call::Deploy(args.request()),
        Command::Export(_) => Call::Deployed {},
        Command::Runbook(RunbookCommand::List) => Call::Runbooks {},
        Command::Runbook(RunbookCommand::Show { name }) => {
            Call::RunbookShow(crate::api::runbook::RunbookRequest {
                name: name.clone(),
                dry_run: false,
            })
        }
        Command::Runbook(RunbookCommand::Run { name, dry_run }) => {
            Call::RunbookRun(crate::api::runbook::RunbookRequest {
                name: name.clone(),
                dry_run: *dry_run,
            })
        }
        Command::Incident(IncidentCommand::List { plugin, all }) => {
            Call::Incidents(crate::core::engine::IncidentsRequest {
                plugin: plugin.clone(),
                all: *all,
            })
        }
        Command::Incident(IncidentCommand::Show { id, .. }) => {
            Call::IncidentShow(crate::core::engine::IncidentRequest { id: *id })
        }
        Command::Incident(IncidentCommand::Resolve { id, note }) => {
            Call::IncidentResolve(crate::core::engine::ResolveRequest {
                id: *id,
                note: note.clone(),
            })
        }
        Command::Plugin(PluginCommand::List { plugin }) => {
            Call::Plugins(crate::core::engine::PluginsRequest {
                plugin: plugin.clone(),
            })
        }
        Command::Plugin(PluginCommand::Disable { plugin, reason }) => {
            Call::PluginDisable(crate::core::engine::DisableRequest {
                plugin: plugin.clone(),
                reason: reason.clone(),
            })
        }
        Command::Scale {
            plugin,
            replicas,
            dry_run,
        } => Call::Scale(crate::core::engine::ScaleRequest {
            plugin: plugin.clone(),
            replicas: *replicas,
            dry_run: *dry_run,
        }),
        Command::Restart {
            plugin,
            slot,
            dry_run,
        } => Call::Restart(crate::core::engine::RestartRequest {
            plugin: plugin.clone(),
            slot: *slot,
            dry_run: *dry_run,
        }),
        Command::Plugin(PluginCommand::Enable { plugin }) => {
            Call::PluginEnable(crate::core::engine::PluginRequest {
                plugin: plugin.clone(),
            })
        }
        Command::Preview(PreviewCommand::Stop { plugin, id }) => {
            Call::PreviewStop(StopPreviewRequest {
                plugin: plugin.clone(),
                id: id.clone(),
            })
        }
        Command::Promote { plugin, full } => Call::Promote(PromoteRequest {
            plugin: plugin.clone(),
            full: *full,
        }),
        Command::Abort { plugin } => Call::Abort(Call::plugin_only(plugin)),
        Command::Pause { plugin } => Call::Pause(Call::plugin_only(plugin)),
        Command::Resume { plugin } => Call::Resume(Call::plugin_only(plugin)),
        Command::Traffic {
            plugin,
            weights,
            dry_run,
        } => Call::Traffic(TrafficRequest {
            plugin: plugin.clone(),
            weights: weights_once(weights)?,
            dry_run: *dry_run,
        }),
        Command::Rollback {
            plugin,
            to,
            dry_run,
            ..
        } => Call::Rollback(RollbackRequest {
            plugin: plugin.clone(),
            to: to.clone(),
            dry_run: *dry_run,
            reason: None,
        }),
        Command::Logs(args) if !args.follow => Call::Logs(LogsRequest {
            slot: args.slot,
            level: args.level,
            since: args.since,
            grep: args.grep.clone(),
            limit: args.lines,
            ..LogsRequest::new(&args.plugin)
        }),
        Command::History { plugin, limit } => Call::History(HistoryRequest {
            plugin: plugin.clone(),
            limit: *limit,
        }),
        Command::Reload => Call::Reload {},
        Command::Stories { plugin } => Call::Stories(crate::core::engine::PluginRequest {
            plugin: plugin.clone(),
        }),
        Command::Candidates { plugin } => {
            Call::Candidates(crate::api::protocol::CandidatesRequest {
                plugin: plugin.clone(),
            })
        }
        Command::Candidate(command) => {
            use crate::api::protocol::{CandidateAcceptRequest, CandidateRequest};
            let one = |id: &String| CandidateRequest { id: id.clone() };
            match command {
                CandidateCommand::Show { id } => Call::CandidateShow(one(id)),
                CandidateCommand::Diff { id } => Call::CandidateDiff(one(id)),
                CandidateCommand::Discard { id } => Call::CandidateDiscard(one(id)),
                CandidateCommand::Accept {
                    id,
                    version,
                    dry_run,
                } => Call::CandidateAccept(CandidateAcceptRequest {
                    id: id.clone(),
                    version: version.clone(),
                    dry_run: *dry_run,
                }),
            }
        }
        Command::Alerts { command } => match command {
            None => Call::Alerts(AlertsRequest {
                plugin: None,
                limit: 20,
            }),
            Some(AlertsCommand::List { plugin, limit }) => Call::Alerts(AlertsRequest {
                plugin: plugin.clone(),
                limit: *limit,
            }),
            Some(AlertsCommand::Silence {
                target,
                duration,
                comment,
                author,
            }) => Call::Silence(silence_request(
                target,
                duration.clone(),
                comment.clone(),
                author.clone(),
            )?),
            Some(AlertsCommand::Unsilence { id }) => Call::Unsilence(UnsilenceRequest { id: *id }),
            Some(AlertsCommand::Ack { target, author }) => {
                Call::Ack(ack_request(target, author.clone())?)
            }
        },
        _ => return Ok(None),
    }))
}

/// `blue=90 green=10` as a map; a slot given twice is refused rather than last-one-wins.
fn weights_once(
    weights: &[(crate::core::types::SlotName, u32)],
) -> Result<BTreeMap<crate::core::types::SlotName, u32>, CallError> {
    let mut seen = BTreeMap::new();
    for (slot, weight) in weights {
        if seen.insert(*slot, *weight).is_some() {
            return Err(CallError(format!(
                "{slot} is given twice; give each slot once, e.g. `blue=90 green=10`"
            )));
        }
    }
    Ok(seen)
}

/// The request of `naap alerts silence PLUGIN[/RULE]`.
pub fn silence_request(
    target: &str,
    duration: String,
    comment: String,
    author: Option<String>,
) -> Result<SilenceRequest, CallError> {
    let (plugin, rule) = match target.split_once('/') {
        Some((p, r)) => (p.to_string(), Some(r.to_string())),
        None => (target.to_string(), None),
    };
    if plugin.is_empty() || rule.as_deref() == Some("") {
        return Err(CallError(format!(
            "`{target}` is not PLUGIN or PLUGIN/RULE; write e.g. web or web/errors"
        )));
    }
    if comment.trim().is_empty() {
        return Err(CallError(
            "--comment must say why, e.g. --comment \"fix deploying\"".to_string(),
        ));
    }
    Ok(SilenceRequest {
        plugin,
        rule,
        duration,
        comment,
        author: author_or_login_name(author),
    })
}

/// The request of `naap alerts ack PLUGIN/RULE`.
pub fn ack_request(target: &str, author: Option<String>) -> Result<AckRequest, CallError> {
    let Some((plugin, rule)) = target
        .split_once('/')
        .filter(|(p, r)| !p.is_empty() && !r.is_empty())
    else {
        return Err(CallError(format!(
            "`{target}` is not PLUGIN/RULE; write e.g. web/errors"
        )));
    };
    Ok(AckRequest {
        plugin: plugin.to_string(),
        rule: rule.to_string(),
        author: author_or_login_name(author),
    })
}

/// `--author`, else $USER (via clap), else the login name (`operator_name`).
fn author_or_login_name(author: Option<String>) -> String {
    author
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(crate::core::identity::operator_name)
}
