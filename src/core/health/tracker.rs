//! Turns a stream of check results into health transitions.

use crate::core::types::Health;

pub(super) struct Tracker {
    health: Health,
    successes: u32,
    failures: u32,
    healthy_threshold: u32,
    unhealthy_threshold: u32,
}

impl Tracker {
    pub(super) fn new(healthy_threshold: u32, unhealthy_threshold: u32) -> Tracker {
        Tracker {
            health: Health::Unknown,
            successes: 0,
            failures: 0,
            healthy_threshold: healthy_threshold.max(1),
            unhealthy_threshold: unhealthy_threshold.max(1),
        }
    }

    pub(super) fn health(&self) -> Health {
        self.health
    }

    /// Records one check; returns the new health when it changed.
    pub(super) fn observe(&mut self, passed: bool) -> Option<Health> {
        let next = if passed {
            self.failures = 0;
            self.successes = self.successes.saturating_add(1);
            (self.successes >= self.healthy_threshold).then_some(Health::Healthy)
        } else {
            self.successes = 0;
            self.failures = self.failures.saturating_add(1);
            (self.failures >= self.unhealthy_threshold).then_some(Health::Unhealthy)
        };
        match next {
            Some(health) if health != self.health => {
                self.health = health;
                Some(health)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_gate_each_transition() {
        let mut t = Tracker::new(2, 3);
        assert_eq!(t.observe(true), None);
        assert_eq!(t.observe(true), Some(Health::Healthy));
        assert_eq!(t.observe(true), None);
        assert_eq!(t.observe(false), None);
        assert_eq!(t.observe(false), None);
        // A success in between resets the failure count.
        assert_eq!(t.observe(true), None);
        assert_eq!(t.observe(false), None);
        assert_eq!(t.observe(false), None);
        assert_eq!(t.observe(false), Some(Health::Unhealthy));
        assert_eq!(t.observe(false), None);
        assert_eq!(t.observe(true), None);
        assert_eq!(t.observe(true), Some(Health::Healthy));
    }

    #[test]
    fn unknown_can_go_straight_to_unhealthy_and_zero_thresholds_mean_one() {
        let mut t = Tracker::new(0, 0);
        assert_eq!(t.observe(false), Some(Health::Unhealthy));
        assert_eq!(t.observe(true), Some(Health::Healthy));
    }
}
