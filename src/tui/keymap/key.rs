//! One key with modifiers, as written in keymap.toml (`ctrl+r`, `shift+left`, `R`, `?`,
//! `enter`, `f1`) and as crossterm reports it.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::fmt;
use std::str::FromStr;

/// How a key is written, for error hints.
pub const KEY_HINT: &str = "write a key like \"r\", \"R\", \"?\", \"ctrl+r\", \"alt+x\", \"shift+left\", \"enter\", \"esc\", \"tab\", \"backtab\", \"space\", \"up\", \"pagedown\", \"home\" or \"f1\"";

/// A key that is not a character.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Named {
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    Delete,
    Insert,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Home,
    End,
    F(u8),
}

const NAMED: &[(&str, Named)] = &[
    ("enter", Named::Enter),
    ("esc", Named::Esc),
    ("tab", Named::Tab),
    ("backtab", Named::BackTab),
    ("backspace", Named::Backspace),
    ("delete", Named::Delete),
    ("insert", Named::Insert),
    ("up", Named::Up),
    ("down", Named::Down),
    ("left", Named::Left),
    ("right", Named::Right),
    ("pageup", Named::PageUp),
    ("pagedown", Named::PageDown),
    ("home", Named::Home),
    ("end", Named::End),
];

/// What is pressed: a character (case matters, so `R` is shift+r) or a named key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    Char(char),
    Named(Named),
}

/// A key with its modifiers. Shift is kept only for named keys: for characters the case
/// already says it, as terminals report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub code: Code,
    pub ctrl: bool,
    pub alt: bool,
    pub shift: bool,
}

impl Key {
    pub fn plain(code: Code) -> Key {
        Key {
            code,
            ctrl: false,
            alt: false,
            shift: false,
        }
    }

    /// A character typed as itself (no ctrl or alt): text in an input, not a command.
    pub fn is_printable(&self) -> bool {
        matches!(self.code, Code::Char(_)) && !self.ctrl && !self.alt
    }

    /// The key of a terminal key event, if it is one a binding can name.
    pub fn from_event(event: &KeyEvent) -> Option<Key> {
        let code = match event.code {
            KeyCode::Char(c) => Code::Char(c),
            KeyCode::Enter => Code::Named(Named::Enter),
            KeyCode::Esc => Code::Named(Named::Esc),
            KeyCode::Tab => Code::Named(Named::Tab),
            KeyCode::BackTab => Code::Named(Named::BackTab),
            KeyCode::Backspace => Code::Named(Named::Backspace),
            KeyCode::Delete => Code::Named(Named::Delete),
            KeyCode::Insert => Code::Named(Named::Insert),
            KeyCode::Up => Code::Named(Named::Up),
            KeyCode::Down => Code::Named(Named::Down),
            KeyCode::Left => Code::Named(Named::Left),
            KeyCode::Right => Code::Named(Named::Right),
            KeyCode::PageUp => Code::Named(Named::PageUp),
            KeyCode::PageDown => Code::Named(Named::PageDown),
            KeyCode::Home => Code::Named(Named::Home),
            KeyCode::End => Code::Named(Named::End),
            KeyCode::F(n) => Code::Named(Named::F(n)),
            _ => return None,
        };
        let m = event.modifiers;
        let shift_counts = matches!(code, Code::Named(n) if n != Named::BackTab);
        Some(Key {
            code,
            ctrl: m.contains(KeyModifiers::CONTROL),
            alt: m.contains(KeyModifiers::ALT),
            shift: shift_counts && m.contains(KeyModifiers::SHIFT),
        })
    }
}

impl FromStr for Key {
    type Err = String;

    fn from_str(text: &str) -> Result<Key, String> {
        if text.is_empty() {
            return Err("an empty key".to_string());
        }
        // "+" alone is the plus key; "ctrl++" is ctrl and plus.
        let (mods, last) = match text.strip_suffix("++") {
            Some(head) => (head, "+"),
            None => match text.rsplit_once('+') {
                Some((head, last)) if !last.is_empty() => (head, last),
                _ => ("", text),
            },
        };
        let mut key =
            Key::plain(parse_code(last).ok_or_else(|| format!("`{text}` is not a key I know"))?);
        for m in mods.split('+').filter(|m| !m.is_empty()) {
            match m.to_ascii_lowercase().as_str() {
                "ctrl" | "control" => key.ctrl = true,
                "alt" | "meta" => key.alt = true,
                "shift" => key.shift = true,
                other => {
                    return Err(format!(
                        "`{other}` in `{text}` is not a modifier (ctrl, alt, shift)"
                    ));
                }
            }
        }
        if let Code::Char(c) = key.code
            && key.shift
        {
            // Terminals send shift+r as `R`; say so rather than bind what never arrives.
            return Err(format!(
                "write `{text}` as the character it types, e.g. \"{}\"",
                c.to_uppercase()
            ));
        }
        if key.code == Code::Named(Named::BackTab) && key.shift {
            key.shift = false;
        }
        Ok(key)
    }
}

fn parse_code(text: &str) -> Option<Code> {
    let mut chars = text.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return Some(Code::Char(c));
    }
    let lower = text.to_ascii_lowercase();
    if lower == "space" {
        return Some(Code::Char(' '));
    }
    if let Some(n) = lower.strip_prefix('f').and_then(|n| n.parse::<u8>().ok())
        && (1..=24).contains(&n)
    {
        return Some(Code::Named(Named::F(n)));
    }
    NAMED
        .iter()
        .find(|(name, _)| *name == lower)
        .map(|(_, named)| Code::Named(*named))
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("ctrl+")?;
        }
        if self.alt {
            f.write_str("alt+")?;
        }
        if self.shift {
            f.write_str("shift+")?;
        }
        match self.code {
            Code::Char(' ') => f.write_str("space"),
            Code::Char(c) => write!(f, "{c}"),
            Code::Named(Named::F(n)) => write!(f, "f{n}"),
            Code::Named(named) => {
                let name = NAMED
                    .iter()
                    .find(|(_, n)| *n == named)
                    .map_or("?", |(name, _)| *name);
                f.write_str(name)
            }
        }
    }
}
