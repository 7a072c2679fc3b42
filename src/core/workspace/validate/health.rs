//! `[health]`: check kind, path, interval and timeout, thresholds.

use std::time::Duration;

use serde_spanned::Spanned;

use super::positive;
use crate::core::workspace::duration::show;
use crate::core::workspace::model::{HealthCheck, HealthSpec};
use crate::core::workspace::problem::Report;
use crate::core::workspace::raw::RawHealth;
use crate::core::workspace::reader::Field;
use crate::core::workspace::suggest;

const DEFAULT_HEALTH_PATH: &str = "/health";
const DEFAULT_INTERVAL: Duration = Duration::from_secs(2);
/// The default timeout, or the interval when that is shorter (Kubernetes' default
/// is 1s too, and it lets a timeout equal the period).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
const DEFAULT_UNHEALTHY_THRESHOLD: u32 = 3;
const DEFAULT_HEALTHY_THRESHOLD: u32 = 1;

/// `[health]`.
pub(super) fn health(h: &RawHealth, r: &mut Report) -> HealthSpec {
    let tcp = match &h.kind {
        Field::Present(k) => match k.get_ref().as_str() {
            "http" => false,
            "tcp" => true,
            other => {
                r.at(
                    &k.span(),
                    "health.kind",
                    format!("unknown health check kind `{other}`"),
                    suggest::hint(other, &["http", "tcp"]),
                );
                false
            }
        },
        _ => false,
    };
    let check = if tcp {
        if let Field::Present(p) = &h.path {
            r.at(
                &p.span(),
                "health.path",
                "`path` only applies to http health checks",
                "remove path, or set kind = \"http\"",
            );
        }
        HealthCheck::Tcp
    } else {
        let path = match &h.path {
            Field::Present(p) => {
                let text = p.get_ref();
                if !text.starts_with('/') || text.chars().any(char::is_whitespace) {
                    r.at(
                        &p.span(),
                        "health.path",
                        format!("health path `{text}` must start with \"/\" and have no spaces"),
                        format!("e.g. path = \"/{}\"", text.trim().trim_start_matches('/')),
                    );
                }
                text.clone()
            }
            _ => DEFAULT_HEALTH_PATH.to_string(),
        };
        HealthCheck::Http { path }
    };
    let interval = positive(r, &h.interval, "health.interval", DEFAULT_INTERVAL);
    // Derived from the interval, so that no valid interval fails on a default.
    let timeout = positive(
        r,
        &h.timeout,
        "health.timeout",
        DEFAULT_TIMEOUT.min(interval),
    );
    if let Field::Present(span) = &h.timeout
        && timeout > interval
    {
        let (i, t) = (show(interval), show(timeout));
        r.at(
            &span.span(),
            "health.timeout",
            format!("timeout {t} is longer than interval {i}"),
            format!("a check may take at most the interval: timeout = \"{i}\" or less, or raise the interval"),
        );
    }
    HealthSpec {
        check,
        interval,
        timeout,
        unhealthy_threshold: threshold(
            r,
            &h.unhealthy_threshold,
            "health.unhealthy_threshold",
            DEFAULT_UNHEALTHY_THRESHOLD,
        ),
        healthy_threshold: threshold(
            r,
            &h.healthy_threshold,
            "health.healthy_threshold",
            DEFAULT_HEALTHY_THRESHOLD,
        ),
    }
}

fn threshold(r: &mut Report, value: &Field<Spanned<i64>>, field: &str, default: u32) -> u32 {
    let Field::Present(n) = value else {
        return default;
    };
    match u32::try_from(*n.get_ref()) {
        Ok(t) if t >= 1 => t,
        _ => {
            r.at(
                &n.span(),
                field,
                format!(
                    "threshold must be between 1 and {}, got {}",
                    u32::MAX,
                    n.get_ref()
                ),
                format!(
                    "e.g. {} = {default}",
                    field.rsplit('.').next().unwrap_or(field)
                ),
            );
            default
        }
    }
}
