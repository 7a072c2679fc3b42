//! The stories view (`S`): a plugin made from a plugin.md, each user story with its
//! acceptance criteria, the test that covers each and how it did when the test gate last
//! ran, from the engine's `stories` call.

use super::{App, Effect, Overlay};
use crate::core::engine::StoriesReport;
use crate::tui::keymap::{Code, Key, Named};

impl App {
    pub(super) fn ask_stories(&mut self) -> Vec<Effect> {
        match self.selected.clone() {
            Some(plugin) => vec![Effect::Stories { plugin }],
            None => {
                self.notify("select a plugin first".to_string(), false);
                Vec::new()
            }
        }
    }

    pub(super) fn on_stories(&mut self, report: Result<StoriesReport, String>) {
        match report {
            Ok(report) => {
                self.stories = Some(report);
                self.overlay = Overlay::Stories(0);
            }
            Err(e) => self.notify(e, true),
        }
    }

    pub(super) fn on_stories_key(&mut self, key: Key, scroll: u16) -> Vec<Effect> {
        let rows = self.stories.as_ref().map_or(0, |r| {
            r.stories
                .iter()
                .map(|s| 1 + s.criteria.len())
                .sum::<usize>()
        }) as u16;
        let last = rows.saturating_sub(1);
        self.overlay = match key.code {
            Code::Named(Named::Esc) | Code::Char('q') | Code::Char('S') => Overlay::None,
            Code::Named(Named::Down) | Code::Char('j') => Overlay::Stories((scroll + 1).min(last)),
            Code::Named(Named::Up) | Code::Char('k') => Overlay::Stories(scroll.saturating_sub(1)),
            Code::Named(Named::PageDown) => Overlay::Stories((scroll + 10).min(last)),
            Code::Named(Named::PageUp) => Overlay::Stories(scroll.saturating_sub(10)),
            _ => Overlay::Stories(scroll),
        };
        Vec::new()
    }
}
