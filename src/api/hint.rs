//! Hints for a language model: the engine call to make and its parameters, as the socket
//! spells them (`call logs with plugin="web", slot="gate"`). The operator and the MCP server
//! render an error's hints with [`for_model`].

use crate::core::hint::Hint;
use serde_json::{Value, json};

/// One hint as the call a model makes next.
pub fn for_model(hint: &Hint) -> String {
    match hint {
        Hint::RollbackToChosen { plugin } => {
            let p = [("plugin", json!(plugin))];
            format!(
                "{}, with `to` set to a version from {}",
                call_text("rollback", &p),
                call_text("history", &p)
            )
        }
        Hint::PromoteOrAbort { plugin } => {
            let p = [("plugin", json!(plugin))];
            format!(
                "{} to go on, or {} to go back to the stable version",
                call_text("promote", &p),
                call_text("abort", &p)
            )
        }
        Hint::Confirm { environment, .. } => format!(
            "this is a {environment} workspace: only a person can confirm this change; propose it and wait for their yes"
        ),
        Hint::SetParam { param, example } => match example {
            Some(example) => format!(
                "make the same call again with {}={} (for example)",
                param.name(),
                Value::from(example.as_str())
            ),
            None => format!("make the same call again with {}=true", param.name()),
        },
        _ => calls(hint)
            .iter()
            .map(|(method, params)| call_text(method, params))
            .collect::<Vec<_>>()
            .join(", or "),
    }
}

/// Several hints, one per line, for a tool result.
pub fn for_model_all(hints: &[Hint]) -> String {
    hints
        .iter()
        .map(|h| format!("hint: {}", for_model(h)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Parameters in the order a person reads them (the plugin first).
pub type Params = Vec<(&'static str, Value)>;

/// The socket calls a hint names: `(method, params)` as a request spells them.
/// [`Hint::SetParam`] names none (it changes the call just made).
pub fn calls(hint: &Hint) -> Vec<(&'static str, Params)> {
    let on = |method, plugin: &String| vec![(method, vec![("plugin", json!(plugin))])];
    match hint {
        Hint::ReadLogs { plugin, slot } => vec![(
            "logs",
            vec![("plugin", json!(plugin)), ("slot", json!(slot))],
        )],
        Hint::Deploy {
            plugin,
            version,
            force,
        } => {
            let mut p = vec![("plugin", json!(plugin))];
            if let Some(version) = version {
                p.push(("version", json!(version)));
            }
            if *force {
                p.push(("force", json!(true)));
            }
            vec![("deploy", p)]
        }
        Hint::Rollback { plugin } | Hint::RollbackToChosen { plugin } => on("rollback", plugin),
        Hint::PromoteOrAbort { plugin } => [on("promote", plugin), on("abort", plugin)].concat(),
        Hint::Pause { plugin } => on("pause", plugin),
        Hint::Resume { plugin } => on("resume", plugin),
        // A model reads the rollout's progress from the status; `subscribe` is not offered.
        Hint::Follow { plugin } => on("status", plugin),
        Hint::History { plugin } => on("history", plugin),
        Hint::Status {
            plugin: Some(plugin),
        } => on("status", plugin),
        Hint::Status { plugin: None } => vec![("status", Vec::new())],
        Hint::Alerts => vec![("alerts", Vec::new())],
        Hint::Reload => vec![("reload", Vec::new())],
        Hint::Enable { plugin } => on("plugin_enable", plugin),
        Hint::StopPreview { plugin, id } => vec![(
            "preview_stop",
            vec![("plugin", json!(plugin)), ("id", json!(id))],
        )],
        Hint::SetParam { .. } | Hint::Confirm { .. } => Vec::new(),
    }
}

fn call_text(method: &str, params: &[(&str, Value)]) -> String {
    if params.is_empty() {
        return format!("call {method}");
    }
    let args: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("call {method} with {}", args.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::protocol::Call;
    use crate::core::hint::Param;
    use crate::core::logs::LogOrigin;
    use crate::core::types::SlotName;

    fn every_hint() -> Vec<Hint> {
        let plugin = || "web".to_string();
        vec![
            Hint::ReadLogs {
                plugin: plugin(),
                slot: LogOrigin::Gate,
            },
            Hint::ReadLogs {
                plugin: plugin(),
                slot: LogOrigin::Slot(SlotName::Green),
            },
            Hint::Deploy {
                plugin: plugin(),
                version: Some("1.2.0".into()),
                force: true,
            },
            Hint::Deploy {
                plugin: plugin(),
                version: None,
                force: false,
            },
            Hint::Rollback { plugin: plugin() },
            Hint::RollbackToChosen { plugin: plugin() },
            Hint::PromoteOrAbort { plugin: plugin() },
            Hint::Pause { plugin: plugin() },
            Hint::Resume { plugin: plugin() },
            Hint::Follow { plugin: plugin() },
            Hint::History { plugin: plugin() },
            Hint::Status { plugin: None },
            Hint::Status {
                plugin: Some(plugin()),
            },
            Hint::Alerts,
            Hint::Reload,
            Hint::StopPreview {
                plugin: plugin(),
                id: "3fa91c".into(),
            },
            Hint::set(Param::Ttl, "2h"),
        ]
    }

    #[test]
    fn every_call_a_hint_names_is_a_real_request() {
        for hint in every_hint() {
            for (method, params) in calls(&hint) {
                let params: serde_json::Map<String, Value> = params
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect();
                let line = json!({"method": method, "params": params});
                let parsed: Result<Call, _> = serde_json::from_value(line.clone());
                assert!(parsed.is_ok(), "{hint:?} names {line}: {parsed:?}");
            }
        }
    }

    #[test]
    fn a_model_reads_the_call_and_its_parameters() {
        let logs = Hint::ReadLogs {
            plugin: "web".into(),
            slot: LogOrigin::Gate,
        };
        assert_eq!(
            for_model(&logs),
            r#"call logs with plugin="web", slot="gate""#
        );
        assert_eq!(
            for_model(&Hint::Deploy {
                plugin: "web".into(),
                version: Some("1.2.0".into()),
                force: true
            }),
            r#"call deploy with plugin="web", version="1.2.0", force=true"#
        );
        assert_eq!(for_model(&Hint::Reload), "call reload");
        assert_eq!(
            for_model(&Hint::set(Param::Ttl, "2h")),
            r#"make the same call again with ttl="2h" (for example)"#
        );
        assert_eq!(
            for_model(&Hint::switch_on(Param::Preview)),
            "make the same call again with preview=true"
        );
        assert_eq!(
            for_model(&Hint::PromoteOrAbort {
                plugin: "web".into()
            }),
            r#"call promote with plugin="web" to go on, or call abort with plugin="web" to go back to the stable version"#
        );
    }

    #[test]
    fn an_error_reply_carries_the_engine_hints_and_keeps_its_old_shape_without() {
        use crate::api::protocol::Reply;
        use crate::core::engine::EngineError;
        let gate = EngineError::GateFailed {
            plugin: "web".into(),
            gate: "test".into(),
            status: "exit 1".into(),
        };
        let reply = serde_json::to_value(Reply::from_engine(7, &gate)).unwrap();
        assert_eq!(
            reply["error"]["hints"],
            json!([{"do": "read_logs", "plugin": "web", "slot": "gate"}])
        );
        assert!(
            !reply["error"]["message"]
                .as_str()
                .unwrap()
                .contains("naap logs"),
            "{reply}"
        );
        let plain = serde_json::to_value(Reply::error(Some(1), "bad_request", "no")).unwrap();
        assert_eq!(
            plain["error"],
            json!({"code": "bad_request", "message": "no"})
        );
        // What an older engine sent still reads.
        let old: Reply = serde_json::from_str(
            r#"{"id":1,"ok":false,"error":{"code":"rejected","message":"web: no"}}"#,
        )
        .unwrap();
        assert!(old.error.unwrap().hints.is_empty());
    }

    #[test]
    fn no_hint_names_a_command_line() {
        for hint in every_hint() {
            let text = for_model(&hint);
            assert!(
                !text.contains("naap ") && !text.contains("--"),
                "{hint:?}: {text}"
            );
        }
    }
}
