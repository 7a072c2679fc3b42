//! `[run] replicas`, `[resources]` and `[outlier_detection]`: how many processes a slot runs,
//! what each may use, and when the router takes a failing one out of rotation.

use serde_spanned::Spanned;

use super::positive;
use crate::core::workspace::model::{OutlierSpec, Resources};
use crate::core::workspace::problem::Report;
use crate::core::workspace::raw::{RawOutlier, RawResources};
use crate::core::workspace::reader::Field;

/// More processes than this per slot is a typo, not a plan, on one host.
pub const MAX_REPLICAS: u32 = 64;

/// `[run] replicas`: 1 by default.
pub(super) fn replicas(r: &mut Report, value: &Field<Spanned<i64>>) -> u32 {
    let Field::Present(n) = value else {
        return 1;
    };
    match u32::try_from(*n.get_ref()) {
        Ok(count) if (1..=MAX_REPLICAS).contains(&count) => count,
        _ => {
            r.at(
                &n.span(),
                "run.replicas",
                format!(
                    "replicas must be between 1 and {MAX_REPLICAS}, got {}",
                    n.get_ref()
                ),
                "e.g. replicas = 3 (processes per slot, each on its own port)",
            );
            1
        }
    }
}

/// `[resources]`.
pub(super) fn resources(raw: &RawResources, r: &mut Report) -> Resources {
    let memory_bytes = match &raw.memory {
        Field::Present(text) => match parse_bytes(text.get_ref()) {
            Some(0) | None => {
                r.at(
                    &text.span(),
                    "resources.memory",
                    format!("`{}` is not an amount of memory", text.get_ref()),
                    "write a number with a unit: \"256Mi\", \"1Gi\", \"512M\" (Ki, Mi, Gi are 1024-based)",
                );
                None
            }
            Some(bytes) => Some(bytes),
        },
        _ => None,
    };
    let cpu = match &raw.cpu {
        Field::Present(c) if !(c.get_ref().is_finite() && *c.get_ref() > 0.0) => {
            r.at(
                &c.span(),
                "resources.cpu",
                format!("cpu must be more than 0, got {}", c.get_ref()),
                "cpu = 0.5 is half of one core, cpu = 2 two cores",
            );
            None
        }
        Field::Present(c) => Some(*c.get_ref()),
        _ => None,
    };
    Resources {
        memory_bytes,
        cpu,
        pids: count(r, &raw.pids, "resources.pids", "pids = 256"),
        open_files: count(
            r,
            &raw.open_files,
            "resources.open_files",
            "open_files = 4096",
        ),
    }
}

fn count(r: &mut Report, value: &Field<Spanned<i64>>, field: &str, example: &str) -> Option<u64> {
    let Field::Present(n) = value else {
        return None;
    };
    match u64::try_from(*n.get_ref()) {
        Ok(v) if v >= 1 => Some(v),
        _ => {
            r.at(
                &n.span(),
                field,
                format!("must be at least 1, got {}", n.get_ref()),
                format!("e.g. {example}"),
            );
            None
        }
    }
}

/// `[outlier_detection]`.
pub(super) fn outlier(raw: &RawOutlier, r: &mut Report) -> OutlierSpec {
    let defaults = OutlierSpec::default();
    let consecutive_errors = match &raw.consecutive_errors {
        Field::Present(n) => match u32::try_from(*n.get_ref()) {
            Ok(v) => v,
            Err(_) => {
                r.at(
                    &n.span(),
                    "outlier_detection.consecutive_errors",
                    format!("must be 0 (off) or more, got {}", n.get_ref()),
                    "e.g. consecutive_errors = 5",
                );
                defaults.consecutive_errors
            }
        },
        _ => defaults.consecutive_errors,
    };
    let base_ejection = positive(
        r,
        &raw.base_ejection,
        "outlier_detection.base_ejection",
        defaults.base_ejection,
    );
    let max_ejection = positive(
        r,
        &raw.max_ejection,
        "outlier_detection.max_ejection",
        defaults.max_ejection.max(base_ejection),
    );
    if let Field::Present(m) = &raw.max_ejection
        && max_ejection < base_ejection
    {
        r.at(
            &m.span(),
            "outlier_detection.max_ejection",
            "max_ejection is shorter than base_ejection",
            "make max_ejection at least base_ejection",
        );
    }
    OutlierSpec {
        consecutive_errors,
        base_ejection,
        max_ejection: max_ejection.max(base_ejection),
    }
}

/// "256Mi" → 268435456; Ki/Mi/Gi/Ti are powers of 1024, K/M/G/T of 1000 (as Kubernetes).
pub fn parse_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor: f64 = match unit.trim() {
        "" => 1.0,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        "K" | "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        _ => return None,
    };
    let bytes = number * factor;
    if bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64 {
        Some(bytes as u64)
    } else {
        None
    }
}

/// 268435456 → "256Mi": the shortest exact 1024-based form, else bytes.
pub fn show_bytes(bytes: u64) -> String {
    for (unit, size) in [("Gi", 1u64 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)] {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    if bytes >= 1 << 20 {
        return format!("{:.1}Mi", bytes as f64 / (1u64 << 20) as f64);
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_read_like_kubernetes() {
        assert_eq!(parse_bytes("256Mi"), Some(256 << 20));
        assert_eq!(parse_bytes("1Gi"), Some(1 << 30));
        assert_eq!(parse_bytes("512M"), Some(512_000_000));
        assert_eq!(parse_bytes("1.5Gi"), Some(3 << 29));
        assert_eq!(parse_bytes("4096"), Some(4096));
        assert!(parse_bytes("lots").is_none());
        assert!(parse_bytes("12 parsecs").is_none());
        assert_eq!(show_bytes(256 << 20), "256Mi");
        assert_eq!(show_bytes(1 << 30), "1Gi");
    }
}
