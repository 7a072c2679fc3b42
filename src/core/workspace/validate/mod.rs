//! Turns a raw plugin.toml into a `PluginManifest`: required keys, value checks, defaults.
//! One submodule per table; this file ties them together and holds the shared helpers.

mod alerts;
mod analysis;
mod canary;
pub(crate) mod capacity;
mod health;
mod identity;
mod run;
mod traffic;

use std::path::Path;
use std::time::Duration;

use serde_spanned::Spanned;

use super::duration::show;
use super::model::{PluginManifest, Route};
use super::problem::Report;
use super::raw::RawPlugin;
use super::reader::{Field, Span};

use alerts::alerts;
use analysis::analysis;
use health::health;
use identity::{identity, sticky};
use run::run;
use traffic::{rollback, strategy};

/// What checking one plugin.toml produced. The name and route are kept even when the manifest
/// has other problems, so duplicate names and routes across plugins are still found.
pub(super) struct PluginOutcome {
    pub manifest: Option<PluginManifest>,
    pub name: Option<Spanned<String>>,
    pub route: Option<Spanned<Route>>,
}

/// Checks a plugin manifest; `dir` is the canonical plugin directory.
pub(super) fn plugin(
    raw: &RawPlugin,
    r: &mut Report,
    dir: &Path,
    manifest_path: &Path,
) -> PluginOutcome {
    let before = r.count();
    let (name, version, route) = identity(&raw.plugin, r, dir);
    let sticky = sticky(raw, r);
    let run = run(&raw.run, r, dir);
    let health = health(&raw.health, r);
    let strategy = strategy(&raw.strategy, r);
    let rollback = rollback(&raw.rollback, r);
    let alerts = alerts(&raw.alerts, r);
    let analysis = analysis(&raw.analysis, r, &strategy);
    let outlier = capacity::outlier(&raw.outlier, r);
    let resources = capacity::resources(&raw.resources, r);
    let run = run.map(|mut run| {
        run.resources = resources;
        run
    });
    let manifest = match (r.count() == before, &name, version, &route, run) {
        (true, Some(name), Some(version), Some(route), Some(run)) => Some(PluginManifest {
            name: name.get_ref().clone(),
            version,
            dir: dir.to_path_buf(),
            manifest_path: manifest_path.to_path_buf(),
            route: route.get_ref().clone(),
            sticky,
            run,
            health,
            strategy,
            rollback,
            alerts,
            analysis,
            outlier,
        }),
        _ => None,
    };
    PluginOutcome {
        manifest,
        name,
        route,
    }
}

/// Reports a required key missing from `table`, pointing at the table's header.
pub(super) fn missing(r: &mut Report, table_span: &Span, table: &str, key: &str, example: &str) {
    r.at(
        table_span,
        format!("{table}.{key}"),
        format!("missing required key `{key}` in [{table}]"),
        format!("add a line like: {example}"),
    );
}

/// The value, or `default` when absent or invalid (an invalid value is already reported).
pub(super) fn duration_or(value: &Field<Spanned<Duration>>, default: Duration) -> Duration {
    match value {
        Field::Present(d) => *d.get_ref(),
        _ => default,
    }
}

/// A duration that must not be zero (intervals and timeouts).
pub(super) fn positive(
    r: &mut Report,
    value: &Field<Spanned<Duration>>,
    field: &str,
    default: Duration,
) -> Duration {
    match value {
        Field::Present(d) if d.get_ref().is_zero() => {
            r.at(
                &d.span(),
                field,
                "must be longer than 0s",
                format!(
                    "e.g. {} = \"{}\"",
                    field.rsplit('.').next().unwrap_or(field),
                    show(default)
                ),
            );
            default
        }
        Field::Present(d) => *d.get_ref(),
        _ => default,
    }
}
