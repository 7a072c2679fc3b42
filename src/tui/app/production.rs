//! A production workspace in the dashboard: every change waits on a confirmation that says
//! PRODUCTION and names the plugin, and the person's yes travels with the call (the engine
//! refuses a change there without it). Elsewhere a change goes at once, as before.

use super::{App, Effect, Overlay, Proposal};
use crate::api::Call;
use crate::api::catalog::{Effect as CallEffect, dry_run_of, effect_of};
use crate::core::workspace::Environment;

impl App {
    /// The workspace's environment, as the engine last reported it.
    pub fn environment(&self) -> Environment {
        self.report
            .as_ref()
            .map(|r| r.engine.environment)
            .unwrap_or_default()
    }

    /// What a person's yes on a confirmation shown here confirms: the environment, in
    /// production (where every confirmation says so).
    pub(super) fn confirmed(&self) -> Option<Environment> {
        let environment = self.environment();
        environment.is_production().then_some(environment)
    }

    /// Sends an engine call; in production a change first asks, on a card that says so.
    pub(super) fn send(&mut self, label: String, call: Call) -> Vec<Effect> {
        if self.environment().is_production() && effect_of(&call) == CallEffect::Change {
            let plugin = call.plugin().map(str::to_string);
            let mut card = Proposal::for_call(
                call,
                vec![format!(
                    "this changes {} in a PRODUCTION workspace",
                    plugin.as_deref().unwrap_or("the workspace")
                )],
            );
            card.label = label;
            let preview = dry_run_of(&card.call).map(|_| Effect::Preview {
                call: card.call.clone(),
            });
            self.overlay = Overlay::Confirm(card);
            return preview.into_iter().collect();
        }
        self.send_confirmed(label, call)
    }

    /// Sends a call the person already said yes to (on a card that named the environment).
    pub(super) fn send_confirmed(&mut self, label: String, call: Call) -> Vec<Effect> {
        self.in_flight.push(label.clone());
        vec![Effect::Call {
            label,
            call,
            confirmed: self.confirmed(),
        }]
    }
}
