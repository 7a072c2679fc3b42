//! Self-healing: when a candidate's gate fails, the model gets the problems and tries a
//! fix, up to `[ai] heal_attempts` rounds. It stops early when a failure it already saw
//! comes back (stuck: one more round would most likely make the same fix again), and then
//! the candidate is handed to a person with its diff and the last failure.
//!
//! Pure bookkeeping; the pipeline runs the rounds.

use crate::core::engine::FailedGate;
use serde::Serialize;
use std::collections::BTreeSet;

/// How many of a failed gate's last output lines identify a failure with no problems.
const TAIL_LINES: usize = 20;

/// What makes two failures the same one: the gate and its problems, each by kind, file
/// and message, without line numbers (an edit above moves them) and with numbers in
/// messages folded (`1 failed in 0.05s`, `0x7f3a…`). Without problems, the output's last
/// lines folded the same way.
pub fn fingerprint(failure: &FailedGate) -> String {
    let mut parts: BTreeSet<String> = failure
        .problems
        .iter()
        .map(|p| format!("{}|{}|{}", p.kind, p.file, fold(&p.message)))
        .collect();
    if parts.is_empty() {
        let lines: Vec<&str> = failure
            .output
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let start = lines.len().saturating_sub(TAIL_LINES);
        parts.extend(lines[start..].iter().map(|l| fold(l)));
    }
    let mut key = failure.gate.clone();
    for part in parts {
        key.push('\n');
        key.push_str(&part);
    }
    key
}

/// Numbers and hex runs become `#`, whitespace runs one space.
fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_number = false;
    let mut in_space = false;
    for c in text.chars() {
        if c.is_ascii_digit() || (in_number && (c.is_ascii_hexdigit() || c == 'x' || c == '.')) {
            if !in_number {
                out.push('#');
            }
            in_number = true;
            in_space = false;
            continue;
        }
        in_number = false;
        if c.is_whitespace() {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
            continue;
        }
        in_space = false;
        out.push(c);
    }
    out.trim().to_string()
}

/// What to do after a gate failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum HealDecision {
    /// Ask the model for fix number `attempt` (1-based).
    Heal { attempt: u32 },
    /// This failure was seen before: stop, after `attempts` fixes.
    Stuck { attempts: u32 },
    /// Every allowed fix was tried.
    Exhausted { attempts: u32 },
}

/// The rounds of one candidate's healing.
#[derive(Clone, Debug)]
pub struct HealLoop {
    limit: u32,
    attempts: u32,
    seen: Vec<String>,
}

impl HealLoop {
    /// At most `limit` fixes (`[ai] heal_attempts`; 0 turns healing off).
    pub fn new(limit: u32) -> HealLoop {
        HealLoop {
            limit,
            attempts: 0,
            seen: Vec::new(),
        }
    }

    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Records `failure` and decides: another fix, stuck, or out of attempts.
    pub fn after_failure(&mut self, failure: &FailedGate) -> HealDecision {
        let key = fingerprint(failure);
        let again = self.seen.contains(&key);
        self.seen.push(key);
        if again {
            return HealDecision::Stuck {
                attempts: self.attempts,
            };
        }
        if self.attempts >= self.limit {
            return HealDecision::Exhausted {
                attempts: self.attempts,
            };
        }
        self.attempts += 1;
        HealDecision::Heal {
            attempt: self.attempts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::gate_problems::{GateProblem, ProblemFormat};

    fn failure(gate: &str, problems: &[(&str, u32, &str)], tail: &str) -> FailedGate {
        FailedGate {
            gate: gate.to_string(),
            status: "exit status 1".to_string(),
            duration_ms: 10,
            problems: problems
                .iter()
                .map(|(file, line, message)| GateProblem {
                    file: file.to_string(),
                    line: Some(*line),
                    col: None,
                    message: message.to_string(),
                    kind: "test_failure".to_string(),
                    format: ProblemFormat::Pytest,
                })
                .collect(),
            output: tail.to_string(),
        }
    }

    #[test]
    fn the_same_failure_coming_back_is_stuck_before_the_limit() {
        let mut heal = HealLoop::new(3);
        let first = failure(
            "test",
            &[("test_app.py", 12, "assert 3 == 4")],
            "1 failed in 0.05s",
        );
        assert_eq!(
            heal.after_failure(&first),
            HealDecision::Heal { attempt: 1 }
        );
        // The fix moved the line and changed the timing: still the same failure.
        let again = failure(
            "test",
            &[("test_app.py", 14, "assert 3 == 4")],
            "1 failed in 0.09s",
        );
        assert_eq!(
            heal.after_failure(&again),
            HealDecision::Stuck { attempts: 1 }
        );
    }

    #[test]
    fn different_failures_heal_until_the_limit() {
        let mut heal = HealLoop::new(2);
        let a = failure(
            "test",
            &[("test_app.py", 3, "NameError: name 'x' is not defined")],
            "",
        );
        let b = failure("test", &[("app.py", 9, "SyntaxError: invalid syntax")], "");
        let c = failure("build", &[], "error: something else entirely");
        assert_eq!(heal.after_failure(&a), HealDecision::Heal { attempt: 1 });
        assert_eq!(heal.after_failure(&b), HealDecision::Heal { attempt: 2 });
        assert_eq!(
            heal.after_failure(&c),
            HealDecision::Exhausted { attempts: 2 }
        );
        assert_eq!(heal.attempts(), 2);
    }

    #[test]
    fn without_problems_the_output_tail_identifies_the_failure() {
        let one = failure(
            "lint",
            &[],
            "checking…\nE: 3 files with problems\ntook 1.2s\n",
        );
        let same = failure(
            "lint",
            &[],
            "checking…\nE: 3 files with problems\ntook 4.7s\n",
        );
        let other = failure("lint", &[], "checking…\nE: config missing\n");
        assert_eq!(fingerprint(&one), fingerprint(&same));
        assert_ne!(fingerprint(&one), fingerprint(&other));
        // The gate is part of it.
        let build = failure(
            "build",
            &[],
            "checking…\nE: 3 files with problems\ntook 1.2s\n",
        );
        assert_ne!(fingerprint(&one), fingerprint(&build));
    }

    #[test]
    fn zero_attempts_hands_over_at_once() {
        let mut heal = HealLoop::new(0);
        let a = failure("test", &[("t.py", 1, "boom")], "");
        assert_eq!(
            heal.after_failure(&a),
            HealDecision::Exhausted { attempts: 0 }
        );
    }
}
