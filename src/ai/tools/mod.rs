//! The operator's tools: the engine's catalog (dispatched through the same socket client
//! as every face, audited as this face) and the read-only workspace tools.

pub mod workspace;

use super::policy::Policy;
use super::provider::ToolSpec;
use crate::api::catalog::{self, Effect};
use crate::api::{Call, Client};
use crate::core::types::Face;
use crate::core::workspace::Environment;
use std::path::PathBuf;
use tokio::sync::Mutex;

/// Where the tools act: an engine's socket and its workspace, as one face.
pub struct Tools {
    socket: PathBuf,
    root: PathBuf,
    face: Face,
    /// One connection, opened on first use and reopened after a failure.
    client: Mutex<Option<Client>>,
}

impl Tools {
    pub fn new(socket: PathBuf, root: PathBuf, face: Face) -> Tools {
        Tools {
            socket,
            root,
            face,
            client: Mutex::new(None),
        }
    }

    pub fn face(&self) -> Face {
        self.face
    }

    pub fn root(&self) -> &std::path::Path {
        &self.root
    }

    /// The tools offered to a model under `policy`: reads always, changes unless the mode
    /// is read-only, admin never.
    pub fn specs(&self, policy: &Policy) -> Vec<ToolSpec> {
        let mut specs: Vec<ToolSpec> = catalog::for_models()
            .filter(|c| c.effect == Effect::Read || policy.offers_changes())
            .map(|c| ToolSpec {
                name: c.method.to_string(),
                description: match c.effect {
                    Effect::Change => format!(
                        "{} (A change: calling it makes a proposal that a person must approve; it does not run by itself.)",
                        c.description
                    ),
                    Effect::Draft => format!(
                        "{} (A draft: it works on a candidate's staged copy and never touches live source or traffic.)",
                        c.description
                    ),
                    _ => c.description.to_string(),
                },
                parameters: c.params.clone(),
            })
            .collect();
        specs.extend(
            workspace::specs()
                .into_iter()
                .map(|(name, description, parameters)| ToolSpec {
                    name: name.to_string(),
                    description: description.to_string(),
                    parameters,
                }),
        );
        specs
    }

    /// Sends one call to the engine as this face.
    pub async fn engine(&self, call: Call) -> Result<serde_json::Value, String> {
        self.send(call, None, Reader::Model, None).await
    }

    /// [`Tools::engine`] for what a person reads (a proposal's dry run): an error is the
    /// engine's message without the hints in the model's terms, since a face shows its own.
    pub async fn engine_for_person(&self, call: Call) -> Result<serde_json::Value, String> {
        self.send(call, None, Reader::Person, None).await
    }

    /// Runs a call a person said yes to; `confirmed` is the environment they confirmed it
    /// in, when their face asked (a production workspace needs it for every change).
    pub async fn engine_confirmed(
        &self,
        call: Call,
        confirmed: Option<Environment>,
    ) -> Result<serde_json::Value, String> {
        self.send(call, None, Reader::Model, confirmed).await
    }

    /// Runs the call of an approved proposal; the engine's audit names the proposal.
    pub async fn engine_for_proposal(
        &self,
        call: Call,
        proposal: &str,
        confirmed: Option<Environment>,
    ) -> Result<serde_json::Value, String> {
        self.send(call, Some(proposal), Reader::Model, confirmed)
            .await
    }

    async fn send(
        &self,
        call: Call,
        proposal: Option<&str>,
        reader: Reader,
        confirmed: Option<Environment>,
    ) -> Result<serde_json::Value, String> {
        let mut slot = self.client.lock().await;
        if slot.is_none() {
            let client = Client::connect(&self.socket, self.face)
                .await
                .map_err(|e| e.to_string())?;
            *slot = Some(client);
        }
        let Some(client) = slot.as_mut() else {
            return Err("no connection to the engine".to_string());
        };
        let confirm = confirmed.map(|env| crate::api::production::confirmation_for(env, &call));
        let result = match proposal {
            Some(id) => client.call_for_proposal(call, id, confirm).await,
            None => client.call_confirmed(call, confirm).await,
        };
        result.map_err(|e| match &e {
            // The engine's hints, in the model's terms: the call and parameters to use.
            crate::api::ClientError::Api { message, hints, .. }
                if !hints.is_empty() && reader == Reader::Model =>
            {
                format!("{message} ({})", crate::api::hint::for_model_all(hints))
            }
            crate::api::ClientError::Api { .. } => e.to_string(),
            // A lost connection is reopened on the next call.
            _ => {
                *slot = None;
                e.to_string()
            }
        })
    }

    /// Runs a workspace tool (off the async threads: it reads files).
    pub async fn workspace(
        &self,
        name: &str,
        arguments: &serde_json::Value,
    ) -> Result<String, String> {
        let root = self.root.clone();
        let name = name.to_string();
        let arguments = arguments.clone();
        tokio::task::spawn_blocking(move || workspace::run(&root, &name, &arguments))
            .await
            .map_err(|e| format!("the workspace tool failed: {e}"))?
    }
}

/// Who reads an engine error: a model gets the hints as calls to make.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reader {
    Model,
    Person,
}
