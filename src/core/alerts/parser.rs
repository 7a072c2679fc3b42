//! Recursive-descent parser for the grammar documented in the module root.

use super::RuleError;
use super::ast::{Cmp, Expr, Metric, SlotSel};
use super::lexer::{Tok, Token, lex};
use super::rule::Rule;
use crate::core::types::Health;
use std::time::Duration;

/// Parses an alert condition such as `error_rate > 0.05 for 30s`.
pub fn parse(condition: &str) -> Result<Rule, RuleError> {
    let tokens = lex(condition)?;
    let end_column = condition.chars().count() + 1;
    if tokens.is_empty() {
        return Err(RuleError::new(
            1,
            "the condition is empty",
            "write a condition such as `error_rate > 0.05 for 30s`",
        ));
    }
    let mut p = Parser {
        tokens,
        pos: 0,
        end_column,
        depth: 0,
        timers: 0,
    };
    let expr = p.parse_or()?;
    let mut hold_for = Duration::ZERO;
    if p.peek_word("for") {
        let for_col = p.column();
        p.pos += 1;
        hold_for = p.duration("`for`", for_col)?;
    }
    if let Some(t) = p.tokens.get(p.pos) {
        return Err(trailing(t));
    }
    Ok(Rule::new(expr, hold_for, p.timers, condition))
}

fn trailing(t: &Token) -> RuleError {
    match &t.tok {
        Tok::RParen => RuleError::new(
            t.column,
            "unbalanced `)`: there is no `(` to close",
            "remove this `)` or add the matching `(`",
        ),
        Tok::Word(w) if w == "for" => RuleError::new(
            t.column,
            "a second `for` here has nothing to apply to",
            "use one `for` per comparison or group, e.g. `(a > 1 and b > 2) for 1m`",
        ),
        other => RuleError::new(
            t.column,
            format!("unexpected {} after a complete condition", describe(other)),
            "join conditions with `and` / `or`, or remove the extra text",
        ),
    }
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Word(w) => format!("`{w}`"),
        Tok::Number { text, .. } => format!("`{text}`"),
        Tok::Op(op) => format!("`{op}`"),
        Tok::Assign => "`=`".into(),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::LBrace => "`{`".into(),
        Tok::RBrace => "`}`".into(),
    }
}

const KEYWORDS: [&str; 2] = ["health", "restarts"];

/// Words that structure a condition and so can never start an atom.
const RESERVED: [&str; 4] = ["and", "or", "for", "in"];

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    end_column: usize,
    depth: usize,
    timers: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|t| &t.tok)
    }

    fn peek_word(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w == word)
    }

    fn column(&self) -> usize {
        self.tokens
            .get(self.pos)
            .map_or(self.end_column, |t| t.column)
    }

    fn parse_or(&mut self) -> Result<Expr, RuleError> {
        self.chain("or", Self::parse_and, Expr::Or)
    }

    fn parse_and(&mut self) -> Result<Expr, RuleError> {
        self.chain("and", Self::parse_atom, Expr::And)
    }

    fn chain(
        &mut self,
        word: &str,
        mut item: impl FnMut(&mut Self) -> Result<Expr, RuleError>,
        build: fn(Vec<Expr>) -> Expr,
    ) -> Result<Expr, RuleError> {
        let first = item(self)?;
        if !self.peek_word(word) {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.peek_word(word) {
            self.pos += 1;
            if self.peek().is_none() {
                return Err(RuleError::new(
                    self.end_column,
                    format!("expected a condition after `{word}`"),
                    format!("complete it, e.g. `... {word} p99_ms > 500`, or remove `{word}`"),
                ));
            }
            items.push(item(self)?);
        }
        Ok(build(items))
    }

    fn parse_atom(&mut self) -> Result<Expr, RuleError> {
        let column = self.column();
        let atom = match self.peek().cloned() {
            Some(Tok::LParen) => self.group(column)?,
            Some(Tok::Word(w)) if RESERVED.contains(&w.as_str()) => {
                return Err(RuleError::new(
                    column,
                    format!("expected a metric, `health`, `restarts` or `(`, found `{w}`"),
                    "conditions start with a metric, e.g. `error_rate > 0.05`",
                ));
            }
            Some(Tok::Word(w)) => {
                self.pos += 1;
                match w.as_str() {
                    "health" => self.health()?,
                    "restarts" => self.restarts()?,
                    _ => self.comparison(&w, column)?,
                }
            }
            Some(other) => {
                return Err(RuleError::new(
                    column,
                    format!(
                        "expected a metric, `health`, `restarts` or `(`, found {}",
                        describe(&other)
                    ),
                    "conditions start with a metric, e.g. `error_rate > 0.05`",
                ));
            }
            None => {
                return Err(RuleError::new(
                    column,
                    "expected a condition, found the end",
                    "write a condition such as `error_rate > 0.05`",
                ));
            }
        };
        self.maybe_for(atom)
    }

    /// A `for` that ends the whole condition (outside parentheses) belongs to the rule, not
    /// to the atom before it, so `a and b for 1m` times `a and b`.
    fn maybe_for(&mut self, atom: Expr) -> Result<Expr, RuleError> {
        if !self.peek_word("for") {
            return Ok(atom);
        }
        if self.depth == 0 && self.pos + 2 == self.tokens.len() {
            return Ok(atom);
        }
        let for_col = self.column();
        self.pos += 1;
        let hold = self.duration("`for`", for_col)?;
        if self.peek_word("for") {
            return Err(trailing(&self.tokens[self.pos]));
        }
        let timer = self.timers;
        self.timers += 1;
        Ok(Expr::For {
            inner: Box::new(atom),
            hold,
            timer,
        })
    }

    fn group(&mut self, open_col: usize) -> Result<Expr, RuleError> {
        self.pos += 1;
        self.depth += 1;
        let inner = self.parse_or()?;
        self.depth -= 1;
        match self.peek() {
            Some(Tok::RParen) => {
                self.pos += 1;
                Ok(inner)
            }
            Some(other) => Err(RuleError::new(
                self.column(),
                format!("expected `)` or `and`/`or`, found {}", describe(other)),
                format!("the `(` at column {open_col} is still open"),
            )),
            None => Err(RuleError::new(
                self.end_column,
                "unbalanced `(`: the condition ends before `)`",
                format!("close the `(` at column {open_col} with `)`"),
            )),
        }
    }

    fn comparison(&mut self, name: &str, column: usize) -> Result<Expr, RuleError> {
        let metric = Metric::from_name(name).ok_or_else(|| unknown_metric(name, column))?;
        let slot = self.slot_selector()?;
        let (cmp, cmp_col) = self.cmp(metric.as_str())?;
        let value = self.threshold(metric, cmp, cmp_col)?;
        Ok(Expr::Compare {
            metric,
            slot,
            cmp,
            value,
        })
    }

    fn slot_selector(&mut self) -> Result<SlotSel, RuleError> {
        if self.peek() != Some(&Tok::LBrace) {
            return Ok(SlotSel::Any);
        }
        let open = self.column();
        self.pos += 1;
        let hint = "write a slot selector as `{slot=canary}` (blue, green, live, canary or any)";
        match self.peek() {
            Some(Tok::Word(w)) if w == "slot" => self.pos += 1,
            _ => {
                return Err(RuleError::new(
                    self.column(),
                    "expected `slot` inside `{...}`",
                    hint,
                ));
            }
        }
        if self.peek() != Some(&Tok::Assign) {
            return Err(RuleError::new(
                self.column(),
                "expected `=` after `slot`",
                hint,
            ));
        }
        self.pos += 1;
        let col = self.column();
        let sel = match self.peek() {
            Some(Tok::Word(w)) => SlotSel::from_name(w).ok_or_else(|| {
                RuleError::new(
                    col,
                    format!("unknown slot selector `{w}`"),
                    "use blue, green, live, canary or any",
                )
            })?,
            _ => {
                return Err(RuleError::new(
                    col,
                    "expected a slot name after `slot=`",
                    hint,
                ));
            }
        };
        self.pos += 1;
        if self.peek() != Some(&Tok::RBrace) {
            return Err(RuleError::new(
                self.column(),
                "expected `}` to close the slot selector",
                format!("close the `{{` at column {open} with `}}`"),
            ));
        }
        self.pos += 1;
        Ok(sel)
    }

    fn cmp(&mut self, after: &str) -> Result<(Cmp, usize), RuleError> {
        let col = self.column();
        let cmp = match self.peek() {
            Some(Tok::Op(op)) => match *op {
                ">" => Cmp::Gt,
                ">=" => Cmp::Ge,
                "<" => Cmp::Lt,
                "<=" => Cmp::Le,
                "==" => Cmp::Eq,
                _ => Cmp::Ne,
            },
            Some(Tok::Assign) => {
                return Err(RuleError::new(
                    col,
                    "`=` is not a comparison",
                    "use `==` to compare for equality",
                ));
            }
            _ => {
                return Err(RuleError::new(
                    col,
                    format!(
                        "expected a comparison (`>`, `>=`, `<`, `<=`, `==`, `!=`) after `{after}`"
                    ),
                    format!("e.g. `{after} > 5`"),
                ));
            }
        };
        self.pos += 1;
        Ok((cmp, col))
    }

    fn number(&mut self, what: &str, after_col: usize) -> Result<(f64, String, usize), RuleError> {
        let col = self.column();
        match self.peek().cloned() {
            Some(Tok::Number { value, suffix, .. }) => {
                self.pos += 1;
                Ok((value, suffix, col))
            }
            found => Err(RuleError::new(
                col,
                match found {
                    Some(t) => format!("expected {what}, found {}", describe(&t)),
                    None => format!("expected {what} at the end of the condition"),
                },
                format!("put {what} after the operator at column {after_col}"),
            )),
        }
    }

    fn threshold(&mut self, metric: Metric, cmp: Cmp, cmp_col: usize) -> Result<f64, RuleError> {
        let what = format!("a number after `{}`", cmp.as_str());
        let (value, suffix, col) = self.number(&what, cmp_col)?;
        let unit = suffix.to_ascii_lowercase();
        let scaled = match (metric, unit.as_str()) {
            (_, "") => value,
            (Metric::ErrorRate, "%") => value / 100.0,
            (Metric::CpuPercent, "%") => value,
            (Metric::P50Ms | Metric::P95Ms | Metric::P99Ms, "ms") => value,
            (Metric::P50Ms | Metric::P95Ms | Metric::P99Ms, "s") => value * 1000.0,
            (Metric::RssMb, "mb" | "mib") => value,
            (Metric::RssMb, "gb" | "gib") => value * 1024.0,
            _ => {
                return Err(RuleError::new(
                    col,
                    format!("unit `{suffix}` does not fit `{}`", metric.as_str()),
                    unit_hint(metric).to_string(),
                ));
            }
        };
        if metric == Metric::ErrorRate && unit.is_empty() && value > 1.0 {
            return Err(RuleError::new(
                col,
                format!("error_rate is a fraction from 0 to 1, not {value}"),
                format!("write `{value}%` for {value} percent, or a fraction such as 0.05"),
            ));
        }
        Ok(scaled)
    }

    fn duration(&mut self, after: &str, after_col: usize) -> Result<Duration, RuleError> {
        let col = self.column();
        let hint = "write a duration such as `30s`, `1m`, `500ms` or `1h30m`";
        match self.peek().cloned() {
            Some(Tok::Number { text, suffix, .. }) => {
                if suffix.is_empty() {
                    return Err(RuleError::new(
                        col,
                        format!("`{text}` has no unit"),
                        format!("durations need a unit: `{text}s` or `{text}m`"),
                    ));
                }
                let d = humantime::parse_duration(&text).map_err(|e| {
                    RuleError::new(col, format!("`{text}` is not a duration: {e}"), hint)
                })?;
                self.pos += 1;
                Ok(d)
            }
            Some(other) => Err(RuleError::new(
                col,
                format!(
                    "expected a duration after {after}, found {}",
                    describe(&other)
                ),
                hint,
            )),
            None => Err(RuleError::new(
                col,
                format!("expected a duration after {after} (column {after_col})"),
                hint,
            )),
        }
    }

    fn restarts(&mut self) -> Result<Expr, RuleError> {
        let (cmp, cmp_col) = self.cmp("restarts")?;
        let what = format!("a restart count after `{}`", cmp.as_str());
        let (count, suffix, col) = self.number(&what, cmp_col)?;
        if !suffix.is_empty() || count.fract() != 0.0 {
            return Err(RuleError::new(
                col,
                "a restart count is a whole number",
                "e.g. `restarts > 3 in 10m`",
            ));
        }
        let in_col = self.column();
        if !self.peek_word("in") {
            return Err(RuleError::new(
                in_col,
                "expected `in` and a time window after the restart count",
                "e.g. `restarts > 3 in 10m`",
            ));
        }
        self.pos += 1;
        let window = self.duration("`in`", in_col)?;
        if window.is_zero() {
            return Err(RuleError::new(
                in_col,
                "the restart window is empty",
                "use a window such as `10m`",
            ));
        }
        Ok(Expr::Restarts { cmp, count, window })
    }

    fn health(&mut self) -> Result<Expr, RuleError> {
        let slot = self.slot_selector()?;
        let col = self.column();
        let equal = match self.peek() {
            Some(Tok::Op("==")) => true,
            Some(Tok::Op("!=")) => false,
            _ => {
                return Err(RuleError::new(
                    col,
                    "expected `==` or `!=` after `health`",
                    "e.g. `health == unhealthy`",
                ));
            }
        };
        self.pos += 1;
        let state_col = self.column();
        let state = match self.peek() {
            Some(Tok::Word(w)) if w == "healthy" => Health::Healthy,
            Some(Tok::Word(w)) if w == "unhealthy" => Health::Unhealthy,
            Some(Tok::Word(w)) if w == "unknown" => Health::Unknown,
            _ => {
                return Err(RuleError::new(
                    state_col,
                    "expected a health state",
                    "use healthy, unhealthy or unknown",
                ));
            }
        };
        self.pos += 1;
        Ok(Expr::Health { slot, equal, state })
    }
}

fn unit_hint(metric: Metric) -> &'static str {
    match metric {
        Metric::ErrorRate => "error_rate takes a fraction (0.05) or a percentage (5%)",
        Metric::Rps => "rps takes a plain number of requests per second",
        Metric::P50Ms | Metric::P95Ms | Metric::P99Ms => {
            "latencies take milliseconds (800 or 800ms) or seconds (1.5s)"
        }
        Metric::CpuPercent => "cpu_percent takes a number or a percentage (80 or 80%)",
        Metric::RssMb => "rss_mb takes MiB (512 or 512MB) or GiB (1.5GB)",
    }
}

fn unknown_metric(name: &str, column: usize) -> RuleError {
    let names = Metric::ALL.iter().map(|(_, n)| *n).chain(KEYWORDS);
    let best = names
        .map(|n| (edit_distance(name, n), n))
        .min_by_key(|(d, _)| *d);
    // `p99` is a prefix of `p99_ms`: that is a likelier intent than a small edit distance.
    let prefixed = Metric::ALL
        .iter()
        .map(|(_, n)| *n)
        .find(|n| name.len() >= 2 && n.starts_with(name));
    let hint = match (prefixed, best) {
        (Some(n), _) => format!("did you mean `{n}`?"),
        (None, Some((d, n))) if d <= 3 && d < name.len() => format!("did you mean `{n}`?"),
        (None, _) => "metrics are error_rate, rps, p50_ms, p95_ms, p99_ms, cpu_percent, rss_mb; also `health` and `restarts`".into(),
    };
    RuleError::new(column, format!("unknown metric `{name}`"), hint)
}

/// Levenshtein distance, for "did you mean" hints.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
