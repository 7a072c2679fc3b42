//! The log pane's memory: a bounded ring of lines and, kept up to date as lines arrive, the
//! positions of the lines that pass the current filter. Drawing a screenful is then a slice
//! of that index, whatever the buffer holds, and changing the filter rescans once.

use crate::core::logs::{LogLine, LogQuery};
use crate::core::types::Level;
use std::collections::VecDeque;

/// Lines the dashboard keeps (across plugins); the engine keeps more for `naap logs`.
pub const LOG_VIEW_CAPACITY: usize = 100_000;

#[derive(Debug)]
pub struct LogView {
    capacity: usize,
    lines: VecDeque<LogLine>,
    /// Position (counting every line ever pushed) of `lines[0]`.
    first: u64,
    /// Positions of the lines that pass `filter`, ascending.
    matching: VecDeque<u64>,
    filter: LogQuery,
    /// Follow the newest line; when false the view stays at `anchor`.
    pub follow: bool,
    /// While not following: the position of the bottom line shown.
    anchor: Option<u64>,
    /// The engine's number of the newest line; older or repeated lines are dropped (the
    /// backlog fetched on connect overlaps the live stream).
    last_seq: Option<u64>,
}

impl LogView {
    pub fn new(capacity: usize) -> LogView {
        LogView {
            capacity: capacity.max(1),
            lines: VecDeque::with_capacity(capacity.min(4096)),
            first: 0,
            matching: VecDeque::new(),
            filter: LogQuery::default(),
            follow: true,
            anchor: None,
            last_seq: None,
        }
    }

    /// Forgets every line (a new connection brings its own backlog); keeps the filter.
    pub fn clear(&mut self) {
        self.first += self.lines.len() as u64;
        self.lines.clear();
        self.matching.clear();
        self.anchor = None;
        self.follow = true;
        self.last_seq = None;
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The newest `n` lines whatever the filter, oldest first (for the operator's answers).
    pub fn recent(&self, n: usize) -> Vec<&LogLine> {
        self.lines
            .iter()
            .skip(self.lines.len().saturating_sub(n))
            .collect()
    }

    /// How many lines pass the filter.
    pub fn matching_len(&self) -> usize {
        self.matching.len()
    }

    pub fn filter(&self) -> &LogQuery {
        &self.filter
    }

    /// Adds a line, dropping the oldest when full.
    pub fn push(&mut self, line: LogLine) {
        if self.last_seq.is_some_and(|last| line.seq <= last) {
            return;
        }
        self.last_seq = Some(line.seq);
        if self.lines.len() == self.capacity {
            self.lines.pop_front();
            if self.matching.front() == Some(&self.first) {
                self.matching.pop_front();
            }
            self.first += 1;
        }
        let position = self.first + self.lines.len() as u64;
        if self.filter.matches(&line) {
            self.matching.push_back(position);
        }
        self.lines.push_back(line);
    }

    /// Applies a new filter: one scan of the buffer.
    pub fn set_filter(&mut self, filter: LogQuery) {
        self.filter = filter;
        self.matching = self
            .lines
            .iter()
            .enumerate()
            .filter(|(_, line)| self.filter.matches(line))
            .map(|(i, _)| self.first + i as u64)
            .collect();
        self.anchor = None;
        self.follow = true;
    }

    fn line_at(&self, position: u64) -> Option<&LogLine> {
        let index = position.checked_sub(self.first)?;
        self.lines.get(usize::try_from(index).ok()?)
    }

    /// Index into `matching` of the bottom line shown.
    fn bottom(&self) -> Option<usize> {
        if self.matching.is_empty() {
            return None;
        }
        let last = self.matching.len() - 1;
        match (self.follow, self.anchor) {
            (false, Some(anchor)) => Some(
                self.matching
                    .partition_point(|p| *p <= anchor)
                    .saturating_sub(1)
                    .min(last),
            ),
            _ => Some(last),
        }
    }

    /// The lines to draw in `rows` rows, oldest first, ending at the bottom line.
    pub fn visible(&self, rows: usize) -> Vec<&LogLine> {
        let Some(bottom) = self.bottom() else {
            return Vec::new();
        };
        let top = (bottom + 1).saturating_sub(rows);
        (top..=bottom)
            .filter_map(|i| self.matching.get(i).and_then(|p| self.line_at(*p)))
            .collect()
    }

    /// Scrolls by `delta` matching lines (negative: up, towards older lines). Scrolling up
    /// stops following; scrolling back to the newest line follows again.
    pub fn scroll(&mut self, delta: i64) {
        let Some(bottom) = self.bottom() else {
            return;
        };
        let last = self.matching.len() - 1;
        let target = (bottom as i64 + delta).clamp(0, last as i64) as usize;
        if target == last && delta > 0 {
            self.follow = true;
            self.anchor = None;
        } else {
            self.follow = false;
            self.anchor = self.matching.get(target).copied();
        }
    }

    /// Stops or resumes following.
    pub fn toggle_follow(&mut self) {
        if self.follow {
            self.follow = false;
            self.anchor = self.matching.back().copied();
        } else {
            self.follow = true;
            self.anchor = None;
        }
    }

    /// Moves the bottom line to the next (`forward`) or previous error at or above `min`,
    /// among the matching lines. Returns false when there is none.
    pub fn jump_to_level(&mut self, min: Level, forward: bool) -> bool {
        let Some(bottom) = self.bottom() else {
            return false;
        };
        let is_hit = |i: &usize| {
            self.matching
                .get(*i)
                .and_then(|p| self.line_at(*p))
                .is_some_and(|l| l.level >= min)
        };
        let found = if forward {
            (bottom + 1..self.matching.len()).find(is_hit)
        } else {
            (0..bottom).rev().find(is_hit)
        };
        match found {
            Some(i) => {
                self.follow = false;
                self.anchor = self.matching.get(i).copied();
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::types::{LogSource, SlotName};
    use chrono::Utc;

    fn line(seq: u64, plugin: &str, level: Level, message: &str) -> LogLine {
        LogLine {
            seq,
            ts: Utc::now(),
            plugin: plugin.to_string(),
            slot: Some(SlotName::Blue),
            source: LogSource::Stdout,
            level,
            message: message.to_string(),
            fields: None,
        }
    }

    fn messages(view: &LogView, rows: usize) -> Vec<String> {
        view.visible(rows)
            .iter()
            .map(|l| l.message.clone())
            .collect()
    }

    #[test]
    fn follows_the_newest_lines_and_stays_bounded() {
        let mut view = LogView::new(5);
        for i in 0..12 {
            view.push(line(i, "shop", Level::Info, &format!("m{i}")));
        }
        assert_eq!(view.len(), 5);
        assert_eq!(messages(&view, 3), ["m9", "m10", "m11"]);
        assert_eq!(messages(&view, 10), ["m7", "m8", "m9", "m10", "m11"]);
    }

    #[test]
    fn a_filter_keeps_its_index_as_lines_arrive_and_leave() {
        let mut view = LogView::new(6);
        let mut query = LogQuery::for_plugin("shop");
        query.min_level = Some(Level::Warn);
        view.set_filter(query);
        for i in 0..10 {
            let level = if i % 3 == 0 {
                Level::Error
            } else {
                Level::Info
            };
            view.push(line(
                i,
                if i == 9 { "other" } else { "shop" },
                level,
                &format!("m{i}"),
            ));
        }
        // Lines 4..=9 are kept; of those, 6 is a shop error (9 is another plugin's).
        assert_eq!(messages(&view, 10), ["m6"]);
        assert_eq!(view.matching_len(), 1);
    }

    #[test]
    fn scrolling_up_holds_the_view_while_lines_arrive() {
        let mut view = LogView::new(100);
        for i in 0..20 {
            view.push(line(i, "shop", Level::Info, &format!("m{i}")));
        }
        view.scroll(-5);
        assert!(!view.follow);
        assert_eq!(messages(&view, 2), ["m13", "m14"]);
        view.push(line(20, "shop", Level::Info, "m20"));
        assert_eq!(messages(&view, 2), ["m13", "m14"]);
        view.scroll(100);
        assert!(view.follow);
        assert_eq!(messages(&view, 1), ["m20"]);
    }

    #[test]
    fn lines_seen_twice_are_dropped_and_clear_starts_over() {
        let mut view = LogView::new(10);
        for i in [1, 2, 3, 2, 3, 4] {
            view.push(line(i, "shop", Level::Info, &format!("m{i}")));
        }
        assert_eq!(messages(&view, 10), ["m1", "m2", "m3", "m4"]);
        view.clear();
        assert!(view.is_empty());
        // A restarted engine numbers from the start again.
        view.push(line(1, "shop", Level::Info, "again"));
        assert_eq!(messages(&view, 10), ["again"]);
    }

    #[test]
    fn jumps_between_errors() {
        let mut view = LogView::new(100);
        for i in 0..30 {
            let level = if i == 5 || i == 12 {
                Level::Error
            } else {
                Level::Info
            };
            view.push(line(i, "shop", level, &format!("m{i}")));
        }
        assert!(view.jump_to_level(Level::Error, false));
        assert_eq!(messages(&view, 1), ["m12"]);
        assert!(view.jump_to_level(Level::Error, false));
        assert_eq!(messages(&view, 1), ["m5"]);
        assert!(!view.jump_to_level(Level::Error, false));
        assert!(view.jump_to_level(Level::Error, true));
        assert_eq!(messages(&view, 1), ["m12"]);
    }

    #[test]
    fn refiltering_a_full_buffer_is_one_scan() {
        let mut view = LogView::new(LOG_VIEW_CAPACITY);
        for i in 0..LOG_VIEW_CAPACITY as u64 + 10 {
            let level = if i % 1000 == 0 {
                Level::Error
            } else {
                Level::Info
            };
            view.push(line(i, "shop", level, "GET /api/items 200"));
        }
        view.set_filter(LogQuery {
            grep: regex::Regex::new("items").ok(),
            min_level: Some(Level::Error),
            ..LogQuery::default()
        });
        assert_eq!(view.matching_len(), 100);
        assert_eq!(view.visible(50).len(), 50);
    }
}
