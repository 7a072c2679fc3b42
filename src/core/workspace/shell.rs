//! Quoting placeholder values for `sh -c`, whatever the value and wherever the template
//! author put the placeholder: bare, inside '…', inside "…" or inside `…`.
//!
//! Commands are shell text written by the manifest's author; a placeholder's value is data.
//! Pasting the value in unquoted let a version like `x$(touch /tmp/x)` run commands. So the
//! template is scanned as the shell would read it, and each value is quoted for the context
//! it lands in: a bare word gets single quotes (`'\''` for a quote inside, as `shlex.quote`
//! does; plain words like `1.4.0` or `/usr/bin/naap` stay as they are), inside single quotes
//! only `'` needs `'\''`, inside double quotes `\ $ ` "` get a backslash, and inside backticks
//! the result is escaped once more for the backtick's own backslash pass.
//!
//! The scanner follows quotes, backslashes, `$(…)` and backticks. It does not parse `case`
//! patterns, here-documents or comments; there a value is quoted as a bare word, which is
//! still a single word to the shell.

/// Where in the shell text the scanner stands.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Frame {
    /// Outside quotes, at the top or inside `$(…)`; counts `(` opened in it.
    Bare {
        parens: u32,
    },
    Single,
    Double,
    /// Inside `…` (old-style command substitution).
    Backtick,
}

/// Tracks the quoting context while the template's literal text is fed through it.
#[derive(Debug)]
pub(super) struct ShellContext {
    stack: Vec<Frame>,
    /// The previous character was an unquoted or double-quoted backslash.
    escaped: bool,
    /// The previous character was a `$` that may start `$(`.
    dollar: bool,
}

impl ShellContext {
    pub fn new() -> ShellContext {
        ShellContext {
            stack: vec![Frame::Bare { parens: 0 }],
            escaped: false,
            dollar: false,
        }
    }

    fn top(&self) -> Frame {
        self.stack
            .last()
            .copied()
            .unwrap_or(Frame::Bare { parens: 0 })
    }

    fn pop(&mut self) {
        if self.stack.len() > 1 {
            self.stack.pop();
        }
    }

    /// Reads literal template text.
    pub fn feed(&mut self, text: &str) {
        for c in text.chars() {
            self.feed_char(c);
        }
    }

    fn feed_char(&mut self, c: char) {
        let after_dollar = std::mem::take(&mut self.dollar);
        if std::mem::take(&mut self.escaped) {
            return;
        }
        match self.top() {
            Frame::Single => {
                if c == '\'' {
                    self.pop();
                }
            }
            Frame::Double => match c {
                '\\' => self.escaped = true,
                '"' => self.pop(),
                '$' => self.dollar = true,
                '(' if after_dollar => self.stack.push(Frame::Bare { parens: 0 }),
                '`' => self.stack.push(Frame::Backtick),
                _ => {}
            },
            frame @ (Frame::Bare { .. } | Frame::Backtick) => match c {
                '\\' => self.escaped = true,
                '\'' => self.stack.push(Frame::Single),
                '"' => self.stack.push(Frame::Double),
                '$' => self.dollar = true,
                '(' if after_dollar => self.stack.push(Frame::Bare { parens: 0 }),
                '`' if frame == Frame::Backtick => self.pop(),
                '`' => self.stack.push(Frame::Backtick),
                '(' => {
                    if let Some(Frame::Bare { parens }) = self.stack.last_mut() {
                        *parens += 1;
                    }
                }
                ')' => match self.stack.last_mut() {
                    Some(Frame::Bare { parens }) if *parens > 0 => *parens -= 1,
                    Some(Frame::Bare { .. }) => self.pop(),
                    _ => {}
                },
                _ => {}
            },
        }
    }

    /// `value` written so that the shell reads it back as exactly `value`, here.
    pub fn quote(&self, value: &str) -> String {
        let Some((innermost, outer)) = self.stack.split_last() else {
            return quote_word(value);
        };
        let mut text = match innermost {
            Frame::Bare { .. } | Frame::Backtick => quote_word(value),
            Frame::Single => value.replace('\'', r"'\''"),
            Frame::Double => escape(value, &['\\', '$', '`', '"']),
        };
        // Each enclosing backtick removes one level of backslashes before the inner shell
        // reads the text.
        let backticks = outer.iter().filter(|f| **f == Frame::Backtick).count()
            + usize::from(*innermost == Frame::Backtick);
        for _ in 0..backticks {
            text = escape(&text, &['\\', '$', '`']);
        }
        text
    }
}

/// One shell word: unchanged when it only has characters no shell treats specially,
/// otherwise in single quotes. `=` and `~` are left out of the plain set: a leading word
/// `A=b` would be an assignment, `~` a home directory.
pub(super) fn quote_word(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_@%+:,./-".contains(c));
    if plain {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

fn escape(value: &str, special: &[char]) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    for c in value.chars() {
        if special.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
