//! The MCP tool annotations of each catalog call, from its effect and what it does.
//!
//! A read: `readOnlyHint` true (and idempotent). A change: `readOnlyHint` false, and
//! `destructiveHint` true when it moves or stops what serves users (deploy, rollback,
//! traffic, abort, preview_stop, reload: each can take a version out of service or put
//! one in; candidate_accept, which overwrites the plugin's source). Silence, ack and unsilence only change what alerts say; promote, pause and
//! resume steer a rollout the person already started, within its analysis and automatic
//! rollback: those are additive, `destructiveHint` false. `idempotentHint` is true where a
//! second identical call changes nothing more (setting weights, rolling back again, a
//! second abort, pause, resume, ack or unsilence, reload of the same files); false for
//! deploy, promote (each moves a step) and silence (each adds one).

use crate::api::catalog::{CallSpec, Effect};
use rmcp::model::ToolAnnotations;

/// Changes that can take a version out of service or put one in.
pub const DESTRUCTIVE: &[&str] = &[
    "candidate_accept",
    "deploy",
    "rollback",
    "traffic",
    "abort",
    "preview_stop",
    "reload",
];

/// Changes where a second identical call has no further effect.
const IDEMPOTENT: &[&str] = &[
    "rollback",
    "traffic",
    "abort",
    "pause",
    "resume",
    "preview_stop",
    "ack",
    "unsilence",
    "reload",
];

/// The annotations of `spec`; `pending` says a change waits for a person (so the title
/// says so, for clients that show it).
pub fn annotations(spec: &CallSpec, pending: bool) -> ToolAnnotations {
    match spec.effect {
        Effect::Read | Effect::Admin => read_only(spec.method),
        // Writes only a candidate's staged copy in the state directory.
        Effect::Draft => ToolAnnotations::with_title(spec.method)
            .read_only(false)
            .destructive(false)
            .idempotent(false)
            .open_world(false),
        Effect::Change => {
            let title = if pending {
                format!("{} (waits for approval)", spec.method)
            } else {
                spec.method.to_string()
            };
            ToolAnnotations::with_title(title)
                .read_only(false)
                .destructive(DESTRUCTIVE.contains(&spec.method))
                .idempotent(IDEMPOTENT.contains(&spec.method))
                .open_world(false)
        }
    }
}

/// The annotations of a tool that only reads (an engine read, a workspace tool).
pub fn read_only(name: &str) -> ToolAnnotations {
    ToolAnnotations::with_title(name)
        .read_only(true)
        .destructive(false)
        .idempotent(true)
        .open_world(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::catalog;

    #[test]
    fn every_change_has_a_decided_destructive_hint() {
        for spec in catalog::for_models() {
            let a = annotations(spec, true);
            match spec.effect {
                Effect::Read => {
                    assert_eq!(a.read_only_hint, Some(true), "{}", spec.method);
                    assert_eq!(a.destructive_hint, Some(false), "{}", spec.method);
                }
                _ => {
                    assert_eq!(a.read_only_hint, Some(false), "{}", spec.method);
                    assert!(a.destructive_hint.is_some(), "{}", spec.method);
                }
            }
        }
        for method in DESTRUCTIVE.iter().chain(IDEMPOTENT) {
            assert!(
                catalog::find(method).is_some(),
                "{method} is not in the catalog"
            );
        }
        let silence = catalog::find("silence").map(|s| annotations(s, false));
        assert_eq!(silence.and_then(|a| a.destructive_hint), Some(false));
    }
}
