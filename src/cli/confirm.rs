//! Before the CLI changes something: which environment the engine serves, and, in a
//! production workspace, the person's confirmation naming it and the plugin: typed at a
//! terminal, or `--yes --env production` in a script. Without one the engine refuses the
//! change (`api::production`); this only asks first, so a person is not refused for want of
//! being asked.

use super::Cli;
use super::output::Usage;
use crate::api::protocol::Confirmation;
use crate::api::{Call, Client, ClientError};
use crate::core::workspace::Environment;
use serde::de::DeserializeOwned;
use std::io::{BufRead, IsTerminal, Write};

/// The environment a change goes into, and the person's confirmation when it needs one.
#[derive(Clone, Copy, Debug)]
pub struct Changing {
    pub environment: Environment,
    /// Set when the person confirmed (production only).
    pub confirmed: Option<Environment>,
}

impl Changing {
    /// The confirmation the engine wants with `call`, when the person gave one.
    pub fn confirmation(&self, call: &Call) -> Option<Confirmation> {
        self.confirmed
            .map(|env| crate::api::production::confirmation_for(env, call))
    }

    /// `[production] ` before each line that says what changed.
    pub fn prefix(&self) -> String {
        self.environment.line_prefix()
    }
}

/// The engine's environment (from `ping`).
pub async fn environment(client: &mut Client) -> Result<Environment, ClientError> {
    let pong = client.call(Call::Ping {}).await?;
    Ok(pong
        .get("environment")
        .and_then(|e| serde_json::from_value(e.clone()).ok())
        .unwrap_or_default())
}

/// Asks before `what` (e.g. "rollback") changes `plugin`; `Err` when the person said no or
/// `--env` names another environment. In production without a terminal and without
/// `--yes --env production` it returns no confirmation: the engine then refuses with a hint.
pub async fn before_change(
    cli: &Cli,
    client: &mut Client,
    what: &str,
    plugin: Option<&str>,
) -> anyhow::Result<Changing> {
    let environment = environment(client).await?;
    Ok(Changing {
        environment,
        confirmed: confirm(cli, environment, what, plugin)?,
    })
}

/// The same decision without a client, for faces that learnt the environment otherwise.
pub fn confirm(
    cli: &Cli,
    environment: Environment,
    what: &str,
    plugin: Option<&str>,
) -> anyhow::Result<Option<Environment>> {
    if let Some(meant) = &cli.env
        && meant != environment.name()
    {
        return Err(Usage(format!(
            "--env {meant}, but this workspace is {environment}; nothing changed\n  hint: check --workspace, or pass --env {environment}"
        ))
        .into());
    }
    if !environment.is_production() {
        return Ok(None);
    }
    if cli.yes {
        if cli.env.is_some() {
            return Ok(Some(environment));
        }
        noteln!("naap: --yes alone does not change production; add --env production");
        return Ok(None);
    }
    if cli.json || !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let word = plugin.unwrap_or("production");
    crate::cli::stdout::note(format_args!(
        "PRODUCTION: {what}{} in a production workspace. Type `{word}` to confirm: ",
        plugin.map(|p| format!(" changes {p}")).unwrap_or_default()
    ));
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if answer.trim() != word {
        noteln!("not confirmed; nothing changed");
        return Err(super::output::Exit(1).into());
    }
    Ok(Some(environment))
}

/// Sends a change: asks first in production, then sends it with the confirmation.
pub async fn call_change<T: DeserializeOwned>(
    cli: &Cli,
    client: &mut Client,
    call: Call,
) -> anyhow::Result<(T, Changing)> {
    let changing = before_change(cli, client, &call.method(), call.plugin()).await?;
    let confirm = changing.confirmation(&call);
    let value = client.call_confirmed(call, confirm).await?;
    let result = serde_json::from_value(value).map_err(|e| ClientError::Protocol(e.to_string()))?;
    Ok((result, changing))
}
