//! `naap generate SPEC.md`: a plugin from a plugin.md, written and registered in naap.toml.
//! Works on files only; `naap deploy NAME` then serves it.

use super::output::{Exit, Usage, print_json};
use super::{Cli, context};
use crate::ai::iterate::spec::{self, SpecErrors, scaffold::Lang, write};
use crate::command::grammar::GenerateArgs;
use crate::core::workspace;

pub fn generate(cli: &Cli, args: &GenerateArgs) -> anyhow::Result<()> {
    scaffold(cli, args).map(|_| ())
}

/// `--implement`: the scaffold, then the engine loads it, then `naap iterate` on it with
/// the spec's stories as the instruction: a candidate, its gates and fixes, and the
/// proposals to accept and ship it, each on a person's yes.
pub async fn generate_and_implement(cli: &Cli, args: &GenerateArgs) -> anyhow::Result<()> {
    let (written, plan) = scaffold(cli, args)?;
    if written.registered_in.is_none() {
        return Err(Usage(
            "--implement needs the plugin registered in a workspace, where the engine can run its gates\n  hint: run it inside a workspace (or pass --workspace DIR), without --out"
                .to_string(),
        )
        .into());
    }
    let mut client = context::connect(cli).await?;
    let (report, _): (crate::core::engine::ReloadReport, _) =
        super::confirm::call_change(cli, &mut client, crate::api::Call::Reload {}).await?;
    if !report.added.iter().any(|a| a.name == written.plugin) && !cli.json {
        noteln!(
            "naap: the engine already knew {}; its scaffold is what the model starts from",
            written.plugin
        );
    }
    drop(client);
    let iterate = crate::command::IterateArgs {
        plugin: written.plugin.clone(),
        instruction: vec![spec::implement_instruction(&plan)],
        provider: args.provider.clone(),
        model: args.model.clone(),
        base_url: args.base_url.clone(),
        ..Default::default()
    };
    super::iterate::iterate(cli, iterate).await
}

/// Writes the plugin for the spec (and registers it), saying so; exits 2 on a bad spec.
fn scaffold(cli: &Cli, args: &GenerateArgs) -> anyhow::Result<(write::Written, spec::Spec)> {
    let text = std::fs::read_to_string(&args.spec).map_err(|e| {
        Usage(format!(
            "cannot read the spec {}: {e}\n  hint: pass the path of a plugin.md file",
            args.spec.display()
        ))
    })?;
    let parsed = match spec::parse_spec(&args.spec, &text) {
        Ok(parsed) => parsed,
        Err(errors) => {
            spec_failed(cli, &errors)?;
            return Err(Exit(2).into());
        }
    };
    if !cli.json {
        for warning in &parsed.warnings {
            noteln!("warning: {warning}");
        }
    }
    let mut plan = parsed.spec;
    if let Some(name) = &args.name {
        if name.is_empty() || spec::plugin_name(name) != *name {
            return Err(Usage(format!(
                "--name `{name}` is not a plugin name\n  hint: use 1 to 40 lower-case letters, digits and dashes, e.g. --name expense-claims"
            ))
            .into());
        }
        plan.name = name.clone();
    }
    let lang: Lang = args.lang.parse().map_err(Usage)?;
    let files = spec::offline_files(&plan, &text, lang).map_err(|e| Usage(e.to_string()))?;

    let root = match &cli.workspace {
        Some(_) => Some(context::workspace_root(cli)?),
        None => std::env::current_dir()
            .ok()
            .and_then(|cwd| workspace::find_root(&cwd)),
    };
    let dir = match (&args.out, &root) {
        (Some(out), _) => out.clone(),
        (None, Some(root)) => root.join("plugins").join(&plan.name),
        (None, None) => anyhow::bail!(
            "no naap.toml here or in any directory above, so there is nowhere to register the plugin\n  hint: run it inside a workspace (or pass --workspace DIR), or pass --out DIR to write the plugin without registering it"
        ),
    };
    let written = write::write_plugin(root.as_deref(), &dir, &files)?;
    // With --implement, iterate's answer is the JSON document.
    if cli.json && args.implement {
        return Ok((written, plan));
    }
    if cli.json {
        let warnings: Vec<String> = parsed.warnings.iter().map(ToString::to_string).collect();
        print_json(&serde_json::json!({
            "ok": true,
            "written": written,
            "stories": files.stories,
            "warnings": warnings,
        }))?;
        return Ok((written, plan));
    }
    outln!(
        "wrote {} ({})",
        written.dir.display(),
        written.files.join(", ")
    )?;
    match (&written.registered_in, &written.entry_path) {
        (Some(file), Some(entry)) => outln!("registered in {} as {entry}", file.display())?,
        _ => outln!("not registered: no workspace; list it in a naap.toml to serve it")?,
    }
    outln!(
        "{} stor{}: {} criteria checked by the scaffold's tests, {} still to implement (skipped tests; see stories.json)",
        written.stories,
        if written.stories == 1 { "y" } else { "ies" },
        written.checked,
        written.to_implement
    )?;
    if written.registered_in.is_some() && !args.implement {
        outln!(
            "next: `naap deploy {name}` runs its gates and serves it under {route} (an engine that is already running loads it with `naap reload`)",
            name = written.plugin,
            route = written.route
        )?;
    }
    Ok((written, plan))
}

/// Every problem of the spec, then exit 2: a bad spec is a bad argument.
fn spec_failed(cli: &Cli, errors: &SpecErrors) -> anyhow::Result<()> {
    if cli.json {
        print_json(&serde_json::json!({"ok": false, "problems": errors.0}))?;
    } else {
        noteln!("{errors}");
        noteln!(
            "{} problem{} in the spec; nothing was written",
            errors.0.len(),
            if errors.0.len() == 1 { "" } else { "s" }
        );
    }
    Err(Exit(2).into())
}
