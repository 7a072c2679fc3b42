//! The production guard: in a workspace whose naap.toml says `environment = "production"`,
//! the engine runs no change that a person has not confirmed, naming the environment and the
//! plugin. It sits at the socket, the one way in for every face (CLI, dashboard, operator,
//! MCP), so no face can forget it and no model can talk past it: a model's words never
//! carry a confirmation, only a face that asked its person does.

use super::catalog::{Effect, effect_of};
use super::protocol::{Call, Confirmation, Reply, Request};
use crate::core::engine::Engine;
use crate::core::hint::Hint;
use crate::core::workspace::Environment;

/// The error code of a change refused for want of a confirmation.
pub const NEEDS_CONFIRMATION: &str = "needs_confirmation";

/// The refusal, when `request` is a change the workspace's environment does not let run
/// without a matching confirmation.
pub fn refused(engine: &Engine, request: &Request) -> Option<Reply> {
    let environment = engine.environment();
    if !environment.is_production() || !changes_something(&request.call) {
        return None;
    }
    let plugin = plugin_of(engine, &request.call);
    // A face cannot name the plugin of a call whose wire form names none (a candidate's
    // accept); the person confirmed the environment, and the refusal named the plugin.
    let confirmed = request.confirm.as_ref().is_some_and(|c| {
        c.environment == environment
            && (c.plugin == plugin || (c.plugin.is_none() && request.call.plugin().is_none()))
    });
    (!confirmed).then(|| refusal(request, environment, plugin))
}

/// What the faces must confirm for this call: the environment and the plugin it names.
pub fn confirmation_for(environment: Environment, call: &Call) -> Confirmation {
    Confirmation {
        environment,
        plugin: call.plugin().map(str::to_string),
    }
}

fn changes_something(call: &Call) -> bool {
    match call {
        // Stopping the engine with its plugins takes every slot down.
        Call::Shutdown(r) => r.stop_plugins,
        other => effect_of(other) == Effect::Change,
    }
}

/// The plugin the call changes; a candidate's is the engine's to know.
fn plugin_of(engine: &Engine, call: &Call) -> Option<String> {
    match call {
        Call::CandidateAccept(r) => engine.candidate_plugin(&r.id),
        other => other.plugin().map(str::to_string),
    }
}

fn refusal(request: &Request, environment: Environment, plugin: Option<String>) -> Reply {
    let what = match &plugin {
        Some(plugin) => format!("{plugin} is in a {environment} workspace"),
        None => format!("this is a {environment} workspace"),
    };
    let given = match &request.confirm {
        None => String::new(),
        Some(c) if c.environment != environment => format!(
            " (the confirmation names {}, but the workspace is {environment})",
            c.environment
        ),
        Some(c) => format!(
            " (the confirmation names {}, not {})",
            c.plugin.as_deref().unwrap_or("no plugin"),
            plugin.as_deref().unwrap_or("-")
        ),
    };
    let mut reply = Reply::error(
        Some(request.id),
        NEEDS_CONFIRMATION,
        format!(
            "{what}: `{}` changes it, so a person must confirm it{given}; nothing changed",
            request.call.method()
        ),
    );
    if let Some(error) = &mut reply.error {
        error.hints = vec![Hint::Confirm {
            environment,
            plugin,
        }];
    }
    reply
}
