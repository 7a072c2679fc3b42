//! Checks across plugins: names, routes and hosts must be unique in a workspace.

use std::collections::HashMap;

use serde_spanned::Spanned;

use super::model::Route;
use super::problem::{Problem, Source};

/// What one plugin.toml claims: its name and route, with where they are written.
pub(super) struct Claims<'s> {
    pub src: &'s Source,
    pub name: Option<Spanned<String>>,
    pub route: Option<Spanned<Route>>,
}

/// A problem at the second of each duplicated name, route or host, naming the first's file.
pub(super) fn duplicates(plugins: &[Claims]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut names: HashMap<&str, &Claims> = HashMap::new();
    let mut routes: HashMap<RouteKey, &Claims> = HashMap::new();
    for claims in plugins {
        if let Some(name) = &claims.name {
            match names.get(name.get_ref().as_str()) {
                Some(first) => problems.push(claims.src.problem(
                    &name.span(),
                    "plugin.name",
                    format!(
                        "plugin name `{}` is already used by {}",
                        name.get_ref(),
                        first.src.path.display()
                    ),
                    "plugin names must be unique in a workspace; rename one of them",
                )),
                None => {
                    names.insert(name.get_ref(), claims);
                }
            }
        }
        if let Some(route) = &claims.route {
            let key = RouteKey::of(route.get_ref());
            match routes.get(&key) {
                Some(first) => {
                    let owner = match &first.name {
                        Some(n) => {
                            format!("plugin `{}` ({})", n.get_ref(), first.src.path.display())
                        }
                        None => first.src.path.display().to_string(),
                    };
                    let (field, hint) = match route.get_ref() {
                        Route::Prefix { .. } => (
                            "plugin.route",
                            "give each plugin its own route; longer prefixes may nest under \
                             shorter ones, but not repeat them",
                        ),
                        Route::Host(_) => ("plugin.host", "give each plugin its own host"),
                    };
                    problems.push(claims.src.problem(
                        &route.span(),
                        field,
                        format!("{} is already used by {owner}", route.get_ref().describe()),
                        hint,
                    ));
                }
                None => {
                    routes.insert(key, claims);
                }
            }
        }
    }
    problems
}

/// Routes compare by what they match: the strip flag does not change which requests arrive.
#[derive(Hash, PartialEq, Eq)]
enum RouteKey {
    Prefix(String),
    Host(String),
}

impl RouteKey {
    fn of(route: &Route) -> Self {
        match route {
            Route::Prefix { prefix, .. } => RouteKey::Prefix(prefix.clone()),
            Route::Host(host) => RouteKey::Host(host.clone()),
        }
    }
}
