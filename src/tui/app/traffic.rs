//! The traffic sliders of the selected plugin: pending weights beside the live ones, changed
//! by keys and sent to the engine only on apply, so a burst of key repeats is one request.

use crate::core::engine::PluginStatus;
use crate::core::types::SlotName;
use std::collections::BTreeMap;

/// Coarse and fine slider steps, in percent.
pub const STEP: u32 = 10;
pub const FINE_STEP: u32 = 1;

#[derive(Clone, Debug, PartialEq)]
pub struct TrafficEdit {
    pub plugin: String,
    /// The slider with focus.
    pub slot: SlotName,
    /// Pending weight of each slot; they always add up to 100.
    pub pending: BTreeMap<SlotName, u32>,
}

impl TrafficEdit {
    /// Sliders starting at the plugin's live weights, focus on the slot with most traffic.
    pub fn start(plugin: &PluginStatus) -> TrafficEdit {
        let mut pending: BTreeMap<SlotName, u32> = SlotName::ALL.iter().map(|s| (*s, 0)).collect();
        for slot in &plugin.slots {
            pending.insert(slot.slot, slot.weight);
        }
        let slot = plugin
            .slots
            .iter()
            .max_by_key(|s| s.weight)
            .map_or(SlotName::Blue, |s| s.slot);
        TrafficEdit {
            plugin: plugin.name.clone(),
            slot,
            pending,
        }
    }

    /// Moves the focused slider by `delta` percent; the other slot takes the rest.
    pub fn nudge(&mut self, delta: i32) {
        let current = self.pending.get(&self.slot).copied().unwrap_or(0) as i32;
        let next = (current + delta).clamp(0, 100) as u32;
        self.pending.insert(self.slot, next);
        self.pending.insert(self.slot.other(), 100 - next);
    }

    pub fn focus_other(&mut self) {
        self.slot = self.slot.other();
    }

    /// Whether the pending weights differ from what the plugin serves now.
    pub fn is_changed(&self, plugin: &PluginStatus) -> bool {
        plugin
            .slots
            .iter()
            .any(|s| self.pending.get(&s.slot).copied().unwrap_or(0) != s.weight)
    }

    pub fn weight(&self, slot: SlotName) -> u32 {
        self.pending.get(&slot).copied().unwrap_or(0)
    }
}
