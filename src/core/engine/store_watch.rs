//! Notices when a failing store writes again. Writes clear the failure themselves, but an
//! idle engine may write nothing for hours, so while the store fails this tries a tiny write
//! every few seconds; while it is healthy the task only wakes on its timer.

use super::Engine;
use crate::core::event_kind::EventKind;
use std::time::Duration;
use tokio::sync::watch;

const PROBE_EVERY: Duration = Duration::from_secs(5);

pub(super) async fn run(engine: Engine, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(PROBE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        if engine.inner.store_health.is_ok() {
            continue;
        }
        if engine.store().probe_write().is_ok() {
            engine.record(
                None,
                None,
                EventKind::StoreRecovered,
                "the store writes again; changes made while it failed were not recorded",
                serde_json::Value::Null,
            );
        }
    }
}
