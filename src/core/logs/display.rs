//! Making plugin text safe to show on a terminal.

use std::borrow::Cow;
use std::fmt::Write;

/// Replaces control characters (C0 but tab, DEL, C1) with a visible `\xNN`, so a plugin's
/// output cannot move the cursor, erase the line (`\r`, `\x08`), ring the bell or suspend a
/// terminal's output (`\x1a` on some consoles) when it is shown. Tabs are kept: they are
/// layout, not control. ANSI escape sequences are removed earlier, when a line is parsed.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_escaped) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_escaped(c) {
            // Every control character is below U+00A0, so two hex digits always suffice.
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn is_escaped(c: char) -> bool {
    c.is_control() && c != '\t'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_made_visible_and_tabs_kept() {
        assert_eq!(escape_controls("plain text"), Cow::Borrowed("plain text"));
        assert_eq!(escape_controls("a\tb"), "a\tb");
        assert_eq!(escape_controls("x\x08y\x1az"), "x\\x08y\\x1az");
        assert_eq!(
            escape_controls("cr\rlf\n\x7f\u{9b}"),
            "cr\\x0dlf\\x0a\\x7f\\x9b"
        );
        assert_eq!(escape_controls("é ✓"), "é ✓");
    }
}
