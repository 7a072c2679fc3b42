//! The engine's state as MCP resources, JSON text read through the same read calls as the
//! tools: `naap://status`, `naap://alerts`, `naap://plugins/{name}/logs` and
//! `naap://plugins/{name}/history`.

use crate::ai::redact::Redactor;
use crate::ai::tools::Tools;
use crate::api::Call;
use crate::core::engine::{AlertsRequest, HistoryRequest, LogsRequest, StatusRequest};
use rmcp::ErrorData;
use rmcp::model::{ReadResourceResult, Resource, ResourceContents, ResourceTemplate};

const JSON: &str = "application/json";

/// The fixed resources and, for each plugin the engine runs, its logs and history.
pub async fn list(tools: &Tools) -> Vec<Resource> {
    let mut out = vec![
        Resource::new("naap://status", "status")
            .with_description("Every plugin's slots, weights, health, live metrics and rollout")
            .with_mime_type(JSON),
        Resource::new("naap://alerts", "alerts")
            .with_description("Alert rules and their state, silences and recent transitions")
            .with_mime_type(JSON),
    ];
    let status = tools.engine(Call::Status(StatusRequest::default())).await;
    let names: Vec<String> = status
        .ok()
        .and_then(|s| s.get("plugins").and_then(|p| p.as_array()).cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.get("name").and_then(|n| n.as_str()).map(str::to_string))
        .collect();
    for name in names {
        out.push(
            Resource::new(
                format!("naap://plugins/{name}/logs"),
                format!("{name} logs"),
            )
            .with_description(format!("{name}'s recent log lines, newest last"))
            .with_mime_type(JSON),
        );
        out.push(
            Resource::new(
                format!("naap://plugins/{name}/history"),
                format!("{name} history"),
            )
            .with_description(format!("{name}'s rollouts, events and audit records"))
            .with_mime_type(JSON),
        );
    }
    out
}

pub fn templates() -> Vec<ResourceTemplate> {
    vec![
        ResourceTemplate::new("naap://plugins/{name}/logs", "plugin logs")
            .with_description("A plugin's recent log lines, newest last")
            .with_mime_type(JSON),
        ResourceTemplate::new("naap://plugins/{name}/history", "plugin history")
            .with_description("A plugin's rollouts, events and audit records")
            .with_mime_type(JSON),
    ]
}

/// The call a resource URI reads, or why there is none.
pub fn call_of(uri: &str) -> Result<Call, String> {
    let path = uri
        .strip_prefix("naap://")
        .ok_or_else(|| format!("`{uri}` is not a naap:// resource"))?;
    match path.split('/').collect::<Vec<_>>().as_slice() {
        ["status"] => Ok(Call::Status(StatusRequest::default())),
        ["alerts"] => Ok(Call::Alerts(AlertsRequest {
            plugin: None,
            limit: 20,
        })),
        ["plugins", name, "logs"] if !name.is_empty() => {
            Ok(Call::Logs(LogsRequest::new(name.to_string())))
        }
        ["plugins", name, "history"] if !name.is_empty() => Ok(Call::History(HistoryRequest {
            plugin: name.to_string(),
            limit: 50,
        })),
        _ => Err(format!(
            "there is no resource `{uri}`; naap has naap://status, naap://alerts, naap://plugins/NAME/logs and naap://plugins/NAME/history"
        )),
    }
}

pub async fn read(
    tools: &Tools,
    redactor: &Redactor,
    uri: &str,
) -> Result<ReadResourceResult, ErrorData> {
    let call = call_of(uri).map_err(|e| ErrorData::resource_not_found(e, None))?;
    let mut value = tools
        .engine(call)
        .await
        .map_err(|e| ErrorData::internal_error(redactor.redact(&e).into_owned(), None))?;
    redactor.redact_json(&mut value);
    let text = serde_json::to_string_pretty(&value).unwrap_or_default();
    Ok(ReadResourceResult::new(vec![
        ResourceContents::text(text, uri).with_mime_type(JSON),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_map_to_read_calls() {
        assert_eq!(
            call_of("naap://status").map(|c| c.method().to_string()),
            Ok("status".to_string())
        );
        assert_eq!(
            call_of("naap://plugins/shop/history").map(|c| c.method().to_string()),
            Ok("history".to_string())
        );
        assert_eq!(
            call_of("naap://plugins/shop/logs").map(|c| c.method().to_string()),
            Ok("logs".to_string())
        );
        assert!(call_of("naap://plugins//logs").is_err());
        assert!(call_of("file:///etc/passwd").is_err());
        assert!(call_of("naap://shutdown").is_err());
    }
}
