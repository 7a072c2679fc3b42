//! The operator's policy, in code: what a model's tool call may do. A model cannot widen
//! it by anything it says; only the person starting the face picks the mode.

use crate::api::catalog::Effect;
use serde::{Deserialize, Serialize};

/// How far the operator may go in this face.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Reads run; each change becomes a proposal that runs on a person's yes.
    #[default]
    Confirm,
    /// Reads run; changes are refused, not even proposed.
    ReadOnly,
    /// Reads run; proposals are shown but cannot be run from this face.
    Suggest,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Mode, String> {
        match s {
            "confirm" => Ok(Mode::Confirm),
            "read-only" | "readonly" => Ok(Mode::ReadOnly),
            "suggest" => Ok(Mode::Suggest),
            other => Err(format!(
                "`{other}` is not a mode; use confirm, read-only or suggest"
            )),
        }
    }
}

/// What happens to one tool call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// A read: run it now.
    Run,
    /// A change: make it a proposal for a person.
    Propose,
    /// Not allowed here; the text is the tool result the model gets.
    Refuse(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub mode: Mode,
    /// Tool calls one turn may make; the next are answered with a cap message.
    pub max_tool_calls: usize,
    /// Bytes of one tool result sent to the model; the rest is cut, saying so.
    pub max_result_bytes: usize,
    /// Model requests in one turn (each tool round is one).
    pub max_rounds: usize,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            mode: Mode::Confirm,
            max_tool_calls: 12,
            max_result_bytes: 16 * 1024,
            max_rounds: 6,
        }
    }
}

impl Policy {
    pub fn decide(&self, effect: Effect) -> Decision {
        match (effect, self.mode) {
            (Effect::Read, _) => Decision::Run,
            (Effect::Change, Mode::ReadOnly) => Decision::Refuse(
                "refused: the operator runs read-only here, so changes are not even proposed; say what you would change and why instead".to_string(),
            ),
            (Effect::Change, Mode::Confirm | Mode::Suggest) => Decision::Propose,
            // A draft touches only a candidate's staged copy: nothing a person relies on
            // changes, so it needs no yes; but read-only means nothing at all is written.
            (Effect::Draft, Mode::ReadOnly) => Decision::Refuse(
                "refused: the operator runs read-only here, so it may not even edit a candidate; say what you would change and why instead".to_string(),
            ),
            (Effect::Draft, Mode::Confirm | Mode::Suggest) => Decision::Run,
            (Effect::Admin, _) => {
                Decision::Refuse("refused: that call is not available to the operator".to_string())
            }
        }
    }

    /// Whether a person may run a proposal from this face.
    pub fn proposals_runnable(&self) -> bool {
        self.mode == Mode::Confirm
    }

    /// Whether change tools are offered to the model at all.
    pub fn offers_changes(&self) -> bool {
        self.mode != Mode::ReadOnly
    }

    /// `text` cut to the result cap, saying so, on a character boundary.
    pub fn cap_result(&self, text: String) -> (String, bool) {
        if text.len() <= self.max_result_bytes {
            return (text, false);
        }
        let mut end = self.max_result_bytes;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let total = text.len();
        let mut cut = text[..end].to_string();
        cut.push_str(&format!(
            "\n… [cut: the result has {total} bytes; only the first {end} are shown. Ask for less: a plugin, a slot, a limit, a grep]"
        ));
        (cut, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_run_changes_wait_admin_never() {
        let confirm = Policy::default();
        assert_eq!(confirm.decide(Effect::Read), Decision::Run);
        assert_eq!(confirm.decide(Effect::Change), Decision::Propose);
        assert!(matches!(confirm.decide(Effect::Admin), Decision::Refuse(_)));
        let read_only = Policy {
            mode: Mode::ReadOnly,
            ..Policy::default()
        };
        assert!(matches!(
            read_only.decide(Effect::Change),
            Decision::Refuse(_)
        ));
        assert!(!read_only.offers_changes());
        let suggest = Policy {
            mode: Mode::Suggest,
            ..Policy::default()
        };
        assert_eq!(suggest.decide(Effect::Change), Decision::Propose);
        assert!(!suggest.proposals_runnable());
    }

    #[test]
    fn drafts_run_unasked_except_read_only() {
        assert_eq!(Policy::default().decide(Effect::Draft), Decision::Run);
        let suggest = Policy {
            mode: Mode::Suggest,
            ..Policy::default()
        };
        assert_eq!(suggest.decide(Effect::Draft), Decision::Run);
        let read_only = Policy {
            mode: Mode::ReadOnly,
            ..Policy::default()
        };
        assert!(matches!(
            read_only.decide(Effect::Draft),
            Decision::Refuse(why) if why.contains("read-only")
        ));
    }

    #[test]
    fn results_are_capped_on_a_char_boundary() {
        let policy = Policy {
            max_result_bytes: 5,
            ..Policy::default()
        };
        let (text, cut) = policy.cap_result("ééééé".to_string());
        assert!(cut);
        assert!(text.starts_with("éé"), "{text}");
        assert!(text.contains("[cut: the result has 10 bytes"));
    }
}
