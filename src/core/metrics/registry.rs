//! The set of every slot's metrics, shared by the router, the engine and the admin endpoint.

use super::{MetricsSnapshot, ReplicaStats, SlotMetrics};
use crate::core::types::SlotName;
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

type Slots = HashMap<(String, SlotName), Arc<SlotMetrics>>;
type Replicas = HashMap<(String, SlotName, u32), Arc<ReplicaStats>>;

/// Metrics of every plugin × slot (and replica); cloning shares the same registry.
#[derive(Clone, Default)]
pub struct MetricsRegistry {
    slots: Arc<RwLock<Slots>>,
    replicas: Arc<RwLock<Replicas>>,
}

impl std::fmt::Debug for MetricsRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsRegistry").finish_non_exhaustive()
    }
}

impl MetricsRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The metrics of a plugin's slot, created empty on first use.
    pub fn slot(&self, plugin: &str, slot: SlotName) -> Arc<SlotMetrics> {
        // Readers never leave the map half-written, so a poisoned lock is safe to reuse.
        let read = self.slots.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(m) = read.get(&(plugin.to_owned(), slot)) {
            return Arc::clone(m);
        }
        drop(read);
        let mut write = self.slots.write().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            write
                .entry((plugin.to_owned(), slot))
                .or_insert_with(|| Arc::new(SlotMetrics::new())),
        )
    }

    /// The counters and outlier state of one replica, created empty on first use. They
    /// outlive route tables, so a new table keeps a replica's outstanding requests and its
    /// ejection.
    pub fn replica(&self, plugin: &str, slot: SlotName, replica: u32) -> Arc<ReplicaStats> {
        let key = (plugin.to_owned(), slot, replica);
        let read = self.replicas.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(m) = read.get(&key) {
            return Arc::clone(m);
        }
        drop(read);
        let mut write = self
            .replicas
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(write.entry(key).or_default())
    }

    /// Forgets one replica (scaled away or restarted: a new process starts afresh).
    pub fn remove_replica(&self, plugin: &str, slot: SlotName, replica: u32) {
        let mut write = self
            .replicas
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        write.remove(&(plugin.to_owned(), slot, replica));
    }

    /// A snapshot of every slot, ordered by plugin then slot.
    pub fn snapshot_all(&self) -> Vec<(String, SlotName, MetricsSnapshot)> {
        // Snapshots are taken outside the registry lock so a slow snapshot never blocks
        // the creation of metrics for a new slot.
        self.entries()
            .into_iter()
            .map(|(p, s, m)| (p, s, m.snapshot()))
            .collect()
    }

    /// Every slot's metrics handle, ordered by plugin then slot.
    pub fn entries(&self) -> Vec<(String, SlotName, Arc<SlotMetrics>)> {
        let mut slots: Vec<(String, SlotName, Arc<SlotMetrics>)> = {
            let read = self.slots.read().unwrap_or_else(PoisonError::into_inner);
            read.iter()
                .map(|((p, s), m)| (p.clone(), *s, Arc::clone(m)))
                .collect()
        };
        slots.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        slots
    }

    /// Forgets every slot of a plugin (when the plugin is removed from the workspace).
    pub fn remove_plugin(&self, plugin: &str) {
        let mut write = self.slots.write().unwrap_or_else(PoisonError::into_inner);
        write.retain(|(p, _), _| p != plugin);
        let mut replicas = self
            .replicas
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        replicas.retain(|(p, _, _), _| p != plugin);
    }

    /// Forgets one slot (a removed preview: its id never comes back).
    pub fn remove_slot(&self, plugin: &str, slot: SlotName) {
        let mut write = self.slots.write().unwrap_or_else(PoisonError::into_inner);
        write.retain(|(p, s), _| !(p == plugin && *s == slot));
        let mut replicas = self
            .replicas
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        replicas.retain(|(p, s, _), _| !(p == plugin && *s == slot));
    }
}
