//! Loading a workspace: naap.toml, then every plugin.toml it lists, then checks across them.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Component, Path, PathBuf};

use serde_spanned::Spanned;
use toml::de::DeTable;

use super::cross::{self, Claims};
use super::model::{BrokenPlugin, RouterConfig, Workspace};
use super::problem::{Problem, Problems, Report, Source, syntax_problems};
use super::raw::{self, RawWorkspace};
use super::reader::{Field, TableRef};
use super::validate;

/// The workspace file in a workspace root.
pub const WORKSPACE_FILE: &str = "naap.toml";
/// The manifest file in a plugin directory.
pub const PLUGIN_FILE: &str = "plugin.toml";

const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080));
const DEFAULT_STATE_DIR: &str = ".naap";

/// Loads and checks the workspace in `root` (the directory holding naap.toml).
///
/// Fails with every problem in naap.toml and all plugin.toml files, not just the first.
pub fn load(root: &Path) -> Result<Workspace, Problems> {
    let parts = read_parts(root)?;
    if parts.workspace_problems.is_empty() && parts.broken.is_empty() {
        return Ok(parts.workspace);
    }
    let mut problems = parts.workspace_problems;
    for broken in parts.broken {
        problems.extend(broken.problems.0);
    }
    let order: Vec<&Path> = std::iter::once(parts.workspace.file.as_path())
        .chain(parts.order.iter().map(PathBuf::as_path))
        .collect();
    let rank = |p: &Problem| {
        order
            .iter()
            .position(|f| *f == p.file)
            .unwrap_or(order.len())
    };
    problems.sort_by_key(|p| (rank(p), p.line, p.column));
    Err(Problems(problems))
}

/// Loads the workspace like `load`, but a plugin whose plugin.toml has problems is set
/// aside in `Workspace::broken` instead of failing the whole workspace: the engine serves
/// the good plugins and says which one is broken and why. Problems of naap.toml itself
/// (router, state directory, plugin paths) still fail the load.
pub fn load_lenient(root: &Path) -> Result<Workspace, Problems> {
    let parts = read_parts(root)?;
    if !parts.workspace_problems.is_empty() {
        let mut problems = parts.workspace_problems;
        problems.sort_by_key(|p| (p.line, p.column));
        return Err(Problems(problems));
    }
    let mut workspace = parts.workspace;
    workspace.broken = parts.broken;
    Ok(workspace)
}

/// What one read of the workspace found, problems attributed to the file they are in.
struct Parts {
    /// The good plugins, with `broken` left empty.
    workspace: Workspace,
    /// Problems of naap.toml.
    workspace_problems: Vec<Problem>,
    /// Plugins whose plugin.toml has problems, in naap.toml order.
    broken: Vec<BrokenPlugin>,
    /// The plugin.toml files in naap.toml order, for sorting problems.
    order: Vec<PathBuf>,
}

fn read_parts(root: &Path) -> Result<Parts, Problems> {
    let root = std::fs::canonicalize(root).map_err(|e| {
        Problem::unplaced(
            root.join(WORKSPACE_FILE),
            "",
            format!(
                "cannot open the workspace directory {}: {e}",
                root.display()
            ),
            "run `naap init` in a directory to create a workspace, or pass --workspace DIR",
        )
    })?;
    let file = root.join(WORKSPACE_FILE);
    let src = read_source(&file, "run `naap init` to create a workspace here")?;
    let (doc, errors) = DeTable::parse_recoverable(&src.text);
    if !errors.is_empty() {
        return Err(Problems(syntax_problems(&src, &errors)));
    }
    let mut report = Report::new(&src);
    let raw = raw::read_workspace(&TableRef::root(&doc), &mut report);
    let router = router(&raw, &mut report);
    let state_dir = state_dir(&raw, &mut report, &root);
    let environment = super::environment::environment(&raw.environment, &mut report);
    let deployed_md = deployed_md(&raw, &mut report, &root);
    let dirs = plugin_dirs(&raw, &mut report, &root);
    let workspace_problems = report.problems;

    let mut problems: Vec<Problem> = Vec::new();
    let mut sources = Vec::with_capacity(dirs.len());
    for dir in &dirs {
        let path = dir.join(PLUGIN_FILE);
        match read_source(&path, "check the file's permissions and encoding") {
            Ok(src) => sources.push((dir, src)),
            Err(problem) => problems.push(problem),
        }
    }
    let mut manifests = Vec::with_capacity(sources.len());
    let mut names = Vec::with_capacity(sources.len());
    let mut claims = Vec::with_capacity(sources.len());
    for (dir, src) in &sources {
        let (doc, errors) = DeTable::parse_recoverable(&src.text);
        if !errors.is_empty() {
            problems.extend(syntax_problems(src, &errors));
            continue;
        }
        let mut report = Report::new(src);
        let raw = raw::read_plugin(&TableRef::root(&doc), &mut report);
        let outcome = validate::plugin(&raw, &mut report, dir, &src.path);
        problems.extend(report.problems);
        manifests.extend(outcome.manifest);
        names.push((
            src.path.clone(),
            outcome.name.as_ref().map(|n| n.get_ref().clone()),
        ));
        claims.push(Claims {
            src,
            name: outcome.name,
            route: outcome.route,
        });
    }
    problems.extend(cross::duplicates(&claims));

    // A plugin is broken when any problem is in its plugin.toml (a duplicate name or route
    // is reported at the second plugin, so the first one keeps working).
    let mut broken = Vec::new();
    for dir in &dirs {
        let manifest_path = dir.join(PLUGIN_FILE);
        let mut mine: Vec<Problem> = problems
            .iter()
            .filter(|p| p.file == manifest_path)
            .cloned()
            .collect();
        if mine.is_empty() {
            continue;
        }
        mine.sort_by_key(|p| (p.line, p.column));
        let name = names
            .iter()
            .find(|(path, _)| *path == manifest_path)
            .and_then(|(_, name)| name.clone());
        broken.push(BrokenPlugin {
            name,
            dir: dir.clone(),
            manifest_path,
            problems: Problems(mine),
        });
    }
    let plugins = manifests
        .into_iter()
        .filter(|m| !broken.iter().any(|b| b.manifest_path == m.manifest_path))
        .collect();
    Ok(Parts {
        workspace: Workspace {
            root,
            file,
            state_dir,
            router,
            environment,
            deployed_md,
            plugins,
            broken: Vec::new(),
        },
        workspace_problems,
        broken,
        order: dirs.iter().map(|d| d.join(PLUGIN_FILE)).collect(),
    })
}

/// The nearest directory at or above `start` that holds a naap.toml.
pub fn find_root(start: &Path) -> Option<PathBuf> {
    let start = std::path::absolute(start).ok()?;
    start
        .ancestors()
        .find(|dir| dir.join(WORKSPACE_FILE).is_file())
        .map(Path::to_path_buf)
}

fn read_source(path: &Path, hint: &str) -> Result<Source, Problem> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Source::new(path.to_path_buf(), text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(Problem::unplaced(path, "", "file not found", hint))
        }
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => Err(Problem::unplaced(
            path,
            "",
            "not valid UTF-8 text",
            "TOML files must be UTF-8; re-save the file as UTF-8",
        )),
        Err(e) => Err(Problem::unplaced(
            path,
            "",
            format!("cannot read: {e}"),
            hint,
        )),
    }
}

fn router(raw: &RawWorkspace, r: &mut Report) -> RouterConfig {
    let listen = match &raw.listen {
        Field::Present(s) => address(r, s, "router.listen").unwrap_or(DEFAULT_LISTEN),
        _ => DEFAULT_LISTEN,
    };
    let admin = match &raw.admin {
        Field::Present(s) => address(r, s, "router.admin"),
        _ => None,
    };
    // Port 0 picks a free port for each listener, so equal port-0 addresses do not clash.
    if let (Some(admin), Field::Present(s)) = (admin, &raw.admin)
        && admin == listen
        && admin.port() != 0
    {
        r.at(
            &s.span(),
            "router.admin",
            format!("admin address {admin} is the same as router.listen"),
            "give the admin listener its own port, e.g. admin = \"127.0.0.1:8081\"",
        );
    }
    RouterConfig { listen, admin }
}

fn address(r: &mut Report, value: &Spanned<String>, field: &str) -> Option<SocketAddr> {
    let text = value.get_ref();
    match text.trim().parse::<SocketAddr>() {
        Ok(addr) => Some(addr),
        Err(_) => {
            let key = field.rsplit('.').next().unwrap_or(field);
            let hint = if text.contains("localhost") {
                format!("use an IP address, not a host name: {key} = \"127.0.0.1:8080\"")
            } else {
                format!("write IP:PORT, e.g. {key} = \"127.0.0.1:8080\" (port 0 picks a free port)")
            };
            r.at(
                &value.span(),
                field,
                format!("invalid address `{text}`: expected IP:PORT"),
                hint,
            );
            None
        }
    }
}

fn state_dir(raw: &RawWorkspace, r: &mut Report, root: &Path) -> PathBuf {
    match &raw.state_dir {
        Field::Present(s) if s.get_ref().trim().is_empty() => {
            r.at(
                &s.span(),
                "state.dir",
                "state directory must not be empty",
                format!("leave it out for the default, or write dir = \"{DEFAULT_STATE_DIR}\""),
            );
            root.join(DEFAULT_STATE_DIR)
        }
        Field::Present(s) => {
            let dir = normalise(&root.join(s.get_ref()));
            // The engine creates the directory; anything in the way that is not one fails
            // `naap serve` later, so say it now.
            if let Some(blocker) = dir.ancestors().find(|a| a.exists())
                && !blocker.is_dir()
            {
                r.at(
                    &s.span(),
                    "state.dir",
                    format!(
                        "state directory `{}` cannot be created: {} is a file",
                        s.get_ref(),
                        blocker.display()
                    ),
                    format!("point dir at a directory, e.g. dir = \"{DEFAULT_STATE_DIR}\""),
                );
            }
            dir
        }
        _ => root.join(DEFAULT_STATE_DIR),
    }
}

/// `[export] deployed_md`, resolved against the workspace root.
fn deployed_md(raw: &RawWorkspace, r: &mut Report, root: &Path) -> Option<PathBuf> {
    match &raw.deployed_md {
        Field::Present(s) if s.get_ref().trim().is_empty() || s.get_ref().ends_with('/') => {
            r.at(
                &s.span(),
                "export.deployed_md",
                "deployed_md must name a file",
                "e.g. deployed_md = \"DEPLOYED.md\" (relative to naap.toml), or leave it out",
            );
            None
        }
        Field::Present(s) => {
            let path = normalise(&root.join(s.get_ref()));
            if path.is_dir() {
                r.at(
                    &s.span(),
                    "export.deployed_md",
                    format!("`{}` is a directory", s.get_ref()),
                    "name a file in it, e.g. deployed_md = \"DEPLOYED.md\"",
                );
                return None;
            }
            Some(path)
        }
        _ => None,
    }
}

/// The canonical directory of each usable `[[plugins]]` entry, in order.
fn plugin_dirs(raw: &RawWorkspace, r: &mut Report, root: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<(PathBuf, &str)> = Vec::new();
    for entry in &raw.plugins {
        let field = format!("{}.path", entry.field);
        let path = match &entry.path {
            Field::Present(p) => p,
            Field::Absent => {
                r.at(
                    &entry.span,
                    field,
                    "missing required key `path` in [[plugins]]",
                    "add a line like: path = \"plugins/hello\"",
                );
                continue;
            }
            Field::Invalid => continue,
        };
        let text = path.get_ref();
        let span = path.span();
        if text.trim().is_empty() {
            r.at(
                &span,
                field,
                "plugin path must not be empty",
                "write the plugin directory relative to naap.toml, e.g. path = \"plugins/hello\"",
            );
            continue;
        }
        let joined = root.join(text);
        let dir = match std::fs::canonicalize(&joined) {
            Ok(dir) if dir.is_dir() => dir,
            Ok(_) => {
                r.at(
                    &span,
                    field,
                    format!("`{text}` is not a directory"),
                    "point path at the plugin directory that holds plugin.toml",
                );
                continue;
            }
            Err(_) => {
                r.at(
                    &span,
                    field,
                    format!(
                        "plugin directory `{text}` does not exist ({})",
                        joined.display()
                    ),
                    "create it or fix the path; it is relative to the directory of naap.toml",
                );
                continue;
            }
        };
        if !dir.join(PLUGIN_FILE).is_file() {
            r.at(
                &span,
                field,
                format!("`{text}` has no {PLUGIN_FILE}"),
                "add a plugin.toml there (`naap init` in an empty directory writes a sample), \
                 or fix the path",
            );
            continue;
        }
        if let Some((_, first)) = dirs.iter().find(|(d, _)| *d == dir) {
            r.at(
                &span,
                field,
                format!("plugin directory `{text}` is already listed as {first}"),
                "list each plugin once",
            );
            continue;
        }
        dirs.push((dir, entry.field.as_str()));
    }
    dirs.into_iter().map(|(d, _)| d).collect()
}

/// Removes `.` and resolves `..` without touching the file system (the directory may not exist yet).
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}
