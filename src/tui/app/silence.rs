//! The small form behind the silence key: how long, and why (a silence without a reason is
//! a trap for whoever is on call next).

use crate::api::protocol::Call;
use crate::tui::keymap::{Code, Key, Named};

#[derive(Clone, Debug, PartialEq)]
pub struct SilenceForm {
    /// `plugin/rule`.
    pub target: String,
    pub duration: String,
    pub comment: String,
    /// 0: duration, 1: comment.
    pub field: usize,
    /// Why the last Enter was refused.
    pub error: Option<String>,
}

impl SilenceForm {
    pub fn new(target: String) -> SilenceForm {
        SilenceForm {
            target,
            duration: "1h".to_string(),
            comment: String::new(),
            field: 1,
            error: None,
        }
    }

    /// Editing keys: tab moves between the fields, backspace deletes, characters type.
    pub fn key(&mut self, key: Key) {
        let text = if self.field == 0 {
            &mut self.duration
        } else {
            &mut self.comment
        };
        match key.code {
            Code::Named(Named::Tab | Named::BackTab | Named::Up | Named::Down) => {
                self.field = 1 - self.field;
            }
            Code::Named(Named::Backspace) => {
                text.pop();
            }
            Code::Char(c) if !key.ctrl && !key.alt => text.push(c),
            _ => {}
        }
    }

    /// The engine call, checked the way `naap alerts silence` checks it.
    pub fn call(&self, author: Option<String>) -> Result<Call, String> {
        let duration = self.duration.trim();
        humantime::parse_duration(duration)
            .map_err(|e| format!("`{duration}` is not a duration like 30m or 2h: {e}"))?;
        crate::command::to_call::silence_request(
            &self.target,
            duration.to_string(),
            self.comment.trim().to_string(),
            author,
        )
        .map(Call::Silence)
        .map_err(|e| e.0.replace("--comment", "the comment"))
    }
}
