//! When to restart a crashed process, and when to give up on it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Restart backoff and crash-loop detection for a slot's process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestartPolicy {
    /// Wait before the first restart; doubles with each consecutive crash.
    pub initial_backoff: Duration,
    /// The longest wait between restarts.
    pub max_backoff: Duration,
    /// More exits than this within `crash_loop_window` is a crash loop: no more restarts.
    pub crash_loop_restarts: u32,
    /// The window over which exits are counted for crash-loop detection.
    pub crash_loop_window: Duration,
    /// A process that ran longer than this before exiting resets the backoff.
    pub stable_uptime: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            crash_loop_restarts: 5,
            crash_loop_window: Duration::from_secs(60),
            stable_uptime: Duration::from_secs(30),
        }
    }
}

impl RestartPolicy {
    /// The wait before restart number `attempt` (1-based): doubling from the initial
    /// backoff, capped at the maximum.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.initial_backoff
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff)
    }
}

/// What to do after an unexpected exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Decision {
    /// Restart after `delay`; `attempt` counts the restarts since the last stable run.
    Restart { attempt: u32, delay: Duration },
    /// A crash loop: `exits` exits within the window.
    GiveUp { exits: usize },
}

/// The exit history of one slot.
#[derive(Debug, Default)]
pub(super) struct CrashTracker {
    exits: VecDeque<Instant>,
    attempt: u32,
}

impl CrashTracker {
    /// Records an exit at `now` of a process that ran for `uptime` and decides what next.
    pub fn record(
        &mut self,
        now: Instant,
        uptime: Option<Duration>,
        policy: &RestartPolicy,
    ) -> Decision {
        if uptime.is_some_and(|up| up > policy.stable_uptime) {
            self.attempt = 0;
        }
        self.exits.push_back(now);
        while self
            .exits
            .front()
            .is_some_and(|&at| now.saturating_duration_since(at) > policy.crash_loop_window)
        {
            self.exits.pop_front();
        }
        if self.exits.len() > policy.crash_loop_restarts as usize {
            return Decision::GiveUp {
                exits: self.exits.len(),
            };
        }
        self.attempt = self.attempt.saturating_add(1);
        Decision::Restart {
            attempt: self.attempt,
            delay: policy.backoff(self.attempt),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RestartPolicy::default();
        let delays: Vec<u64> = (1..=9)
            .map(|a| policy.backoff(a).as_millis() as u64)
            .collect();
        assert_eq!(
            delays,
            vec![500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        assert_eq!(policy.backoff(0), Duration::from_millis(500));
        assert_eq!(policy.backoff(u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn crash_loop_gives_up_after_too_many_exits_in_the_window() {
        let policy = RestartPolicy::default();
        let mut tracker = CrashTracker::default();
        let t0 = Instant::now();
        for attempt in 1..=5 {
            let at = t0 + Duration::from_secs(attempt as u64);
            assert_eq!(
                tracker.record(at, Some(Duration::from_millis(100)), &policy),
                Decision::Restart {
                    attempt,
                    delay: policy.backoff(attempt)
                }
            );
        }
        assert_eq!(
            tracker.record(t0 + Duration::from_secs(6), Some(Duration::ZERO), &policy),
            Decision::GiveUp { exits: 6 }
        );
    }

    #[test]
    fn old_exits_leave_the_window_and_stable_runs_reset_backoff() {
        let policy = RestartPolicy::default();
        let mut tracker = CrashTracker::default();
        let t0 = Instant::now();
        for i in 0..5 {
            tracker.record(t0 + Duration::from_secs(i), None, &policy);
        }
        // Two minutes later the earlier exits are outside the window.
        let later = t0 + Duration::from_secs(120);
        assert_eq!(
            tracker.record(later, Some(Duration::from_secs(90)), &policy),
            Decision::Restart {
                attempt: 1,
                delay: Duration::from_millis(500)
            }
        );
        assert_eq!(
            tracker.record(
                later + Duration::from_secs(1),
                Some(Duration::from_secs(1)),
                &policy
            ),
            Decision::Restart {
                attempt: 2,
                delay: Duration::from_secs(1)
            }
        );
    }
}
