//! Durations written as humantime strings ("500ms", "2s", "30m", "1h").

use std::time::Duration;

/// Example shown in hints so users see the expected shape at once.
pub(super) const EXAMPLE: &str = "\"500ms\", \"2s\", \"30m\" or \"1h\"";

/// Parses a duration, returning a message that says what was wrong.
pub(super) fn parse(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("empty duration".to_string());
    }
    humantime::parse_duration(trimmed).map_err(|e| format!("invalid duration `{text}`: {e}"))
}

/// Human form for messages, e.g. "1s" or "1m 30s".
pub(super) fn show(d: std::time::Duration) -> String {
    humantime::format_duration(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
        assert_eq!(parse(" 1m 30s "), Ok(Duration::from_secs(90)));
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "  ", "5", "fast", "5 parsecs", "-1s", "1.5.2s"] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
        assert_eq!(show(Duration::from_secs(90)), "1m 30s");
    }
}
