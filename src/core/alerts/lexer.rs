//! Splits a condition into tokens, each with its 1-based character column.

use super::RuleError;

/// What a token is.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// A name or keyword: `error_rate`, `and`, `for`, `canary`.
    Word(String),
    /// A number, possibly glued to a unit or duration suffix: `0.05`, `5%`, `30s`, `1m30s`.
    /// `value` is the leading numeric part; `suffix` is everything glued after it.
    Number {
        text: String,
        value: f64,
        suffix: String,
    },
    /// A comparison operator: `>`, `>=`, `<`, `<=`, `==`, `!=`.
    Op(&'static str),
    /// A single `=` (only valid inside `{slot=...}`).
    Assign,
    LParen,
    RParen,
    LBrace,
    RBrace,
}

/// A token and where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub tok: Tok,
    /// 1-based column of the first character.
    pub column: usize,
}

/// Tokenises `src`; the first bad character is an error.
pub fn lex(src: &str) -> Result<Vec<Token>, RuleError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let (tok, len) = if c.is_ascii_alphabetic() || c == '_' {
            let len = run(&chars[i..], |c| c.is_ascii_alphanumeric() || c == '_');
            (Tok::Word(chars[i..i + len].iter().collect()), len)
        } else if c.is_ascii_digit() || (c == '.' && next_is_digit(&chars, i)) {
            lex_number(&chars[i..], column)?
        } else {
            lex_symbol(&chars, i)?
        };
        out.push(Token { tok, column });
        i += len;
    }
    Ok(out)
}

fn run(chars: &[char], pred: impl Fn(char) -> bool) -> usize {
    chars.iter().take_while(|c| pred(**c)).count()
}

fn next_is_digit(chars: &[char], i: usize) -> bool {
    chars.get(i + 1).is_some_and(|c| c.is_ascii_digit())
}

fn lex_number(chars: &[char], column: usize) -> Result<(Tok, usize), RuleError> {
    let int = run(chars, |c| c.is_ascii_digit());
    let mut num_len = int;
    if chars.get(num_len) == Some(&'.') {
        num_len += 1 + run(&chars[num_len + 1..], |c| c.is_ascii_digit());
    }
    let numeric: String = chars[..num_len].iter().collect();
    let value: f64 = numeric.parse().map_err(|_| RuleError {
        column,
        message: format!("`{numeric}` is not a number"),
        hint: "write numbers like `5`, `0.05` or `2.5`".into(),
    })?;
    // Units and durations are glued to the number (`5%`, `1m30s`, `512MB`).
    let suffix_len = run(&chars[num_len..], |c| {
        c.is_ascii_alphanumeric() || c == '%' || c == '.'
    });
    let total = num_len + suffix_len;
    Ok((
        Tok::Number {
            text: chars[..total].iter().collect(),
            value,
            suffix: chars[num_len..total].iter().collect(),
        },
        total,
    ))
}

fn lex_symbol(chars: &[char], i: usize) -> Result<(Tok, usize), RuleError> {
    let c = chars[i];
    let next = chars.get(i + 1).copied();
    let column = i + 1;
    let two = |tok| Ok((tok, 2));
    match (c, next) {
        ('>', Some('=')) => two(Tok::Op(">=")),
        ('<', Some('=')) => two(Tok::Op("<=")),
        ('=', Some('=')) => two(Tok::Op("==")),
        ('!', Some('=')) => two(Tok::Op("!=")),
        ('>', _) => Ok((Tok::Op(">"), 1)),
        ('<', _) => Ok((Tok::Op("<"), 1)),
        ('=', _) => Ok((Tok::Assign, 1)),
        ('(', _) => Ok((Tok::LParen, 1)),
        (')', _) => Ok((Tok::RParen, 1)),
        ('{', _) => Ok((Tok::LBrace, 1)),
        ('}', _) => Ok((Tok::RBrace, 1)),
        ('&', _) => Err(RuleError::new(
            column,
            "unexpected `&`",
            "combine conditions with `and`",
        )),
        ('|', _) => Err(RuleError::new(
            column,
            "unexpected `|`",
            "combine alternatives with `or`",
        )),
        ('-', _) => Err(RuleError::new(
            column,
            "unexpected `-`: negative numbers are not allowed",
            "metrics are never negative; compare against 0 or a positive number",
        )),
        ('!', _) => Err(RuleError::new(
            column,
            "unexpected `!`",
            "use `!=` for \"not equal\"; there is no `not` operator",
        )),
        _ => Err(RuleError::new(
            column,
            format!("unexpected character `{c}`"),
            "a condition is made of metric names, numbers, `> >= < <= == !=`, `and`, `or`, `for`, `in` and parentheses",
        )),
    }
}
