//! The raw contents of naap.toml and plugin.toml: every key typed and spanned, nothing checked
//! beyond types and unknown keys. `validate` turns these into the public model.

use std::time::Duration;

use serde_spanned::Spanned;

use super::problem::Report;
use super::reader::{Field, IntOrWord, Span, TableRef};

/// naap.toml as written.
pub(super) struct RawWorkspace {
    pub listen: Field<Spanned<String>>,
    pub admin: Field<Spanned<String>>,
    pub state_dir: Field<Spanned<String>>,
    pub environment: Field<Spanned<String>>,
    /// `[export] deployed_md`.
    pub deployed_md: Field<Spanned<String>>,
    pub plugins: Vec<RawPluginEntry>,
}

/// One `[[plugins]]` entry.
pub(super) struct RawPluginEntry {
    /// `plugins[i]`, for messages.
    pub field: String,
    pub span: Span,
    pub path: Field<Spanned<String>>,
}

/// plugin.toml as written.
pub(super) struct RawPlugin {
    pub plugin: Field<RawPluginTable>,
    pub sticky_header: Field<Spanned<String>>,
    pub sticky_cookie: Field<Spanned<String>>,
    pub run: Field<RawRun>,
    pub health: RawHealth,
    pub strategy: RawStrategy,
    pub rollback: RawRollback,
    pub alerts: Vec<RawAlert>,
    pub analysis: Field<RawAnalysis>,
    pub resources: RawResources,
    pub outlier: RawOutlier,
}

/// `[resources]`; every key is optional.
pub(super) struct RawResources {
    pub memory: Field<Spanned<String>>,
    pub cpu: Field<Spanned<f64>>,
    pub pids: Field<Spanned<i64>>,
    pub open_files: Field<Spanned<i64>>,
}

/// `[outlier_detection]`; every key is optional.
pub(super) struct RawOutlier {
    pub consecutive_errors: Field<Spanned<i64>>,
    pub base_ejection: Field<Spanned<Duration>>,
    pub max_ejection: Field<Spanned<Duration>>,
}

/// `[plugin]`.
pub(super) struct RawPluginTable {
    pub span: Span,
    pub name: Field<Spanned<String>>,
    pub version: Field<Spanned<String>>,
    pub route: Field<Spanned<String>>,
    pub host: Field<Spanned<String>>,
    pub strip_prefix: Field<Spanned<bool>>,
}

/// `[run]`.
pub(super) struct RawRun {
    pub span: Span,
    pub command: Field<Spanned<String>>,
    pub build: Field<Spanned<String>>,
    pub test: Field<Spanned<String>>,
    pub lint: Field<Spanned<String>>,
    pub env: Field<Vec<(Spanned<String>, Spanned<String>)>>,
    pub env_from: Field<Vec<(Spanned<String>, Spanned<String>)>>,
    pub cwd: Field<Spanned<String>>,
    pub stop_grace: Field<Spanned<Duration>>,
    pub startup_timeout: Field<Spanned<Duration>>,
    pub replicas: Field<Spanned<i64>>,
}

/// `[health]`; every key is optional, so an absent table reads as all-absent.
pub(super) struct RawHealth {
    pub kind: Field<Spanned<String>>,
    pub path: Field<Spanned<String>>,
    pub interval: Field<Spanned<Duration>>,
    pub timeout: Field<Spanned<Duration>>,
    pub unhealthy_threshold: Field<Spanned<i64>>,
    pub healthy_threshold: Field<Spanned<i64>>,
}

/// `[strategy]`.
pub(super) struct RawStrategy {
    pub kind: Field<Spanned<String>>,
    /// Percentages and `"pause"` steps.
    pub steps: Field<Spanned<Vec<Spanned<IntOrWord>>>>,
    pub step_weight: Field<Spanned<i64>>,
    pub max_weight: Field<Spanned<i64>>,
    pub step_interval: Field<Spanned<Duration>>,
}

/// `[rollback]`.
pub(super) struct RawRollback {
    pub on_error_rate: Field<Spanned<f64>>,
    pub on_latency_p99_ms: Field<Spanned<i64>>,
    pub on_health_check_fail: Field<Spanned<bool>>,
    pub keep_previous_warm: Field<Spanned<Duration>>,
}

/// `[analysis]`.
pub(super) struct RawAnalysis {
    pub span: Span,
    pub metrics: Field<Spanned<Vec<Spanned<String>>>>,
    pub tolerance: Field<Spanned<f64>>,
    pub pass_score: Field<Spanned<f64>>,
    pub marginal_score: Field<Spanned<f64>>,
    pub min_samples: Field<Spanned<i64>>,
    pub success_rate: Field<Spanned<f64>>,
    pub p99_ms: Field<Spanned<i64>>,
    pub health: Field<Spanned<bool>>,
    pub warmup_load: Field<Spanned<String>>,
    pub warmup_path: Field<Spanned<String>>,
}

/// One `[[alerts]]` entry.
pub(super) struct RawAlert {
    /// `alerts[i]`, for messages.
    pub field: String,
    pub span: Span,
    pub name: Field<Spanned<String>>,
    pub condition: Field<Spanned<String>>,
    pub severity: Field<Spanned<String>>,
    pub channels: Field<Spanned<Vec<Spanned<String>>>>,
    pub rollback: Field<Spanned<bool>>,
    pub labels: Field<Vec<(Spanned<String>, Spanned<String>)>>,
    pub repeat_interval: Field<Spanned<Duration>>,
    pub summary: Field<Spanned<String>>,
}

pub(super) fn read_workspace(doc: &TableRef, r: &mut Report) -> RawWorkspace {
    // `[ai]` belongs to the AI operator (`ai::config` reads it); the core only lets it be.
    doc.deny_unknown(
        r,
        &["environment", "router", "state", "export", "plugins", "ai"],
    );
    let environment = doc.string(r, "environment");
    let deployed_md = match doc.table(r, "export").value() {
        Some(t) => {
            t.deny_unknown(r, &["deployed_md"]);
            t.string(r, "deployed_md")
        }
        None => Field::Absent,
    };
    let router = doc.table(r, "router");
    let (listen, admin) = match router.value() {
        Some(t) => {
            t.deny_unknown(r, &["listen", "admin"]);
            (t.string(r, "listen"), t.string(r, "admin"))
        }
        None => (Field::Absent, Field::Absent),
    };
    let state_dir = match doc.table(r, "state").value() {
        Some(t) => {
            t.deny_unknown(r, &["dir"]);
            t.string(r, "dir")
        }
        None => Field::Absent,
    };
    let plugins = doc
        .tables(r, "plugins")
        .into_iter()
        .map(|t| {
            t.deny_unknown(r, &["path"]);
            RawPluginEntry {
                path: t.string(r, "path"),
                field: t.path,
                span: t.span,
            }
        })
        .collect();
    RawWorkspace {
        listen,
        admin,
        state_dir,
        environment,
        deployed_md,
        plugins,
    }
}

pub(super) fn read_plugin(doc: &TableRef, r: &mut Report) -> RawPlugin {
    doc.deny_unknown(
        r,
        &[
            "plugin",
            "routing",
            "run",
            "health",
            "strategy",
            "rollback",
            "alerts",
            "analysis",
            "resources",
            "outlier_detection",
        ],
    );
    let plugin = match doc.table(r, "plugin") {
        Field::Present(t) => {
            t.deny_unknown(r, &["name", "version", "route", "host", "strip_prefix"]);
            Field::Present(RawPluginTable {
                name: t.string(r, "name"),
                version: t.string(r, "version"),
                route: t.string(r, "route"),
                host: t.string(r, "host"),
                strip_prefix: t.bool(r, "strip_prefix"),
                span: t.span,
            })
        }
        Field::Absent => Field::Absent,
        Field::Invalid => Field::Invalid,
    };
    let (sticky_header, sticky_cookie) = match doc.table(r, "routing").value() {
        Some(t) => {
            t.deny_unknown(r, &["sticky_header", "sticky_cookie"]);
            (t.string(r, "sticky_header"), t.string(r, "sticky_cookie"))
        }
        None => (Field::Absent, Field::Absent),
    };
    RawPlugin {
        plugin,
        sticky_header,
        sticky_cookie,
        run: read_run(doc, r),
        health: read_health(doc, r),
        strategy: read_strategy(doc, r),
        rollback: read_rollback(doc, r),
        alerts: read_alerts(doc, r),
        analysis: read_analysis(doc, r),
        resources: read_resources(doc, r),
        outlier: read_outlier(doc, r),
    }
}

fn read_resources(doc: &TableRef, r: &mut Report) -> RawResources {
    let Some(t) = doc.table(r, "resources").value().cloned() else {
        return RawResources {
            memory: Field::Absent,
            cpu: Field::Absent,
            pids: Field::Absent,
            open_files: Field::Absent,
        };
    };
    t.deny_unknown(r, &["memory", "cpu", "pids", "open_files"]);
    RawResources {
        memory: t.string(r, "memory"),
        cpu: t.float(r, "cpu"),
        pids: t.integer(r, "pids"),
        open_files: t.integer(r, "open_files"),
    }
}

fn read_outlier(doc: &TableRef, r: &mut Report) -> RawOutlier {
    let Some(t) = doc.table(r, "outlier_detection").value().cloned() else {
        return RawOutlier {
            consecutive_errors: Field::Absent,
            base_ejection: Field::Absent,
            max_ejection: Field::Absent,
        };
    };
    t.deny_unknown(r, &["consecutive_errors", "base_ejection", "max_ejection"]);
    RawOutlier {
        consecutive_errors: t.integer(r, "consecutive_errors"),
        base_ejection: t.duration(r, "base_ejection"),
        max_ejection: t.duration(r, "max_ejection"),
    }
}

fn read_run(doc: &TableRef, r: &mut Report) -> Field<RawRun> {
    let t = match doc.table(r, "run") {
        Field::Present(t) => t,
        Field::Absent => return Field::Absent,
        Field::Invalid => return Field::Invalid,
    };
    t.deny_unknown(
        r,
        &[
            "command",
            "build",
            "test",
            "lint",
            "env",
            "env_from",
            "cwd",
            "stop_grace",
            "startup_timeout",
            "replicas",
        ],
    );
    Field::Present(RawRun {
        command: t.string(r, "command"),
        build: t.string(r, "build"),
        test: t.string(r, "test"),
        lint: t.string(r, "lint"),
        env: t.string_map(r, "env"),
        env_from: t.string_map(r, "env_from"),
        cwd: t.string(r, "cwd"),
        stop_grace: t.duration(r, "stop_grace"),
        startup_timeout: t.duration(r, "startup_timeout"),
        replicas: t.integer(r, "replicas"),
        span: t.span,
    })
}

fn read_health(doc: &TableRef, r: &mut Report) -> RawHealth {
    let Some(t) = doc.table(r, "health").value().cloned() else {
        return RawHealth {
            kind: Field::Absent,
            path: Field::Absent,
            interval: Field::Absent,
            timeout: Field::Absent,
            unhealthy_threshold: Field::Absent,
            healthy_threshold: Field::Absent,
        };
    };
    t.deny_unknown(
        r,
        &[
            "kind",
            "path",
            "interval",
            "timeout",
            "unhealthy_threshold",
            "healthy_threshold",
        ],
    );
    RawHealth {
        kind: t.string(r, "kind"),
        path: t.string(r, "path"),
        interval: t.duration(r, "interval"),
        timeout: t.duration(r, "timeout"),
        unhealthy_threshold: t.integer(r, "unhealthy_threshold"),
        healthy_threshold: t.integer(r, "healthy_threshold"),
    }
}

fn read_strategy(doc: &TableRef, r: &mut Report) -> RawStrategy {
    let Some(t) = doc.table(r, "strategy").value().cloned() else {
        return RawStrategy {
            kind: Field::Absent,
            steps: Field::Absent,
            step_weight: Field::Absent,
            max_weight: Field::Absent,
            step_interval: Field::Absent,
        };
    };
    t.deny_unknown(
        r,
        &[
            "kind",
            "steps",
            "step_weight",
            "max_weight",
            "step_interval",
        ],
    );
    RawStrategy {
        kind: t.string(r, "kind"),
        steps: t.integer_or_word_list(r, "steps", "[5, 25, \"pause\", 50, 100]"),
        step_weight: t.integer(r, "step_weight"),
        max_weight: t.integer(r, "max_weight"),
        step_interval: t.duration(r, "step_interval"),
    }
}

fn read_rollback(doc: &TableRef, r: &mut Report) -> RawRollback {
    let Some(t) = doc.table(r, "rollback").value().cloned() else {
        return RawRollback {
            on_error_rate: Field::Absent,
            on_latency_p99_ms: Field::Absent,
            on_health_check_fail: Field::Absent,
            keep_previous_warm: Field::Absent,
        };
    };
    t.deny_unknown(
        r,
        &[
            "on_error_rate",
            "on_latency_p99_ms",
            "on_health_check_fail",
            "keep_previous_warm",
        ],
    );
    RawRollback {
        on_error_rate: t.float(r, "on_error_rate"),
        on_latency_p99_ms: t.integer(r, "on_latency_p99_ms"),
        on_health_check_fail: t.bool(r, "on_health_check_fail"),
        keep_previous_warm: t.duration(r, "keep_previous_warm"),
    }
}

fn read_analysis(doc: &TableRef, r: &mut Report) -> Field<RawAnalysis> {
    let t = match doc.table(r, "analysis") {
        Field::Present(t) => t,
        Field::Absent => return Field::Absent,
        Field::Invalid => return Field::Invalid,
    };
    t.deny_unknown(
        r,
        &[
            "metrics",
            "tolerance",
            "pass_score",
            "marginal_score",
            "min_samples",
            "success_rate",
            "p99_ms",
            "health",
            "warmup_load",
            "warmup_path",
        ],
    );
    Field::Present(RawAnalysis {
        metrics: t.string_list(r, "metrics"),
        tolerance: t.float(r, "tolerance"),
        pass_score: t.float(r, "pass_score"),
        marginal_score: t.float(r, "marginal_score"),
        min_samples: t.integer(r, "min_samples"),
        success_rate: t.float(r, "success_rate"),
        p99_ms: t.integer(r, "p99_ms"),
        health: t.bool(r, "health"),
        warmup_load: t.string(r, "warmup_load"),
        warmup_path: t.string(r, "warmup_path"),
        span: t.span,
    })
}

fn read_alerts(doc: &TableRef, r: &mut Report) -> Vec<RawAlert> {
    doc.tables(r, "alerts")
        .into_iter()
        .map(|t| {
            t.deny_unknown(
                r,
                &[
                    "name",
                    "condition",
                    "severity",
                    "channels",
                    "rollback",
                    "labels",
                    "repeat_interval",
                    "summary",
                ],
            );
            RawAlert {
                name: t.string(r, "name"),
                condition: t.string(r, "condition"),
                severity: t.string(r, "severity"),
                channels: t.string_list(r, "channels"),
                rollback: t.bool(r, "rollback"),
                labels: t.string_map(r, "labels"),
                repeat_interval: t.duration(r, "repeat_interval"),
                summary: t.string(r, "summary"),
                field: t.path,
                span: t.span,
            }
        })
        .collect()
}
