//! A tenant's `queries_per_second`: statements beyond the rate wait their turn.
//!
//! A generic cell rate algorithm: each statement books the next slot of `1/rate` seconds on
//! one shared timeline, and waits until its slot is less than a second ahead. So a tenant
//! idle for a while may run a second's worth at once, and no more than the rate on average,
//! whatever number of clients it spreads them over. Waiting happens before a backend
//! connection is checked out for a new transaction, so a throttled tenant holds none.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub struct RateLimit {
    /// Time one statement takes of the budget.
    interval: Duration,
    /// How far ahead of now the timeline may run before statements wait.
    burst: Duration,
    /// When the budget booked so far is used up.
    booked_until: Mutex<Instant>,
}

impl RateLimit {
    /// `per_second` is at least 1 (checked with the configuration).
    pub fn new(per_second: u32) -> RateLimit {
        RateLimit {
            interval: Duration::from_secs(1) / per_second.max(1),
            burst: Duration::from_secs(1),
            booked_until: Mutex::new(Instant::now()),
        }
    }

    /// Books `statements`: when they may run.
    pub fn book(&self, statements: u32) -> Instant {
        let now = Instant::now();
        now + self.wait(statements, now)
    }

    /// How long statements booked at `now` wait.
    fn wait(&self, statements: u32, now: Instant) -> Duration {
        if statements == 0 {
            return Duration::ZERO;
        }
        let mut until = self
            .booked_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *until = (*until).max(now) + self.interval * statements;
        (*until - now).saturating_sub(self.burst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_of_statements_runs_at_once_and_the_rest_at_the_rate() {
        let limit = RateLimit::new(10);
        let start = Instant::now();
        assert_eq!(limit.wait(10, start), Duration::ZERO);
        assert_eq!(limit.wait(1, start), Duration::from_millis(100));
        assert_eq!(limit.wait(5, start), Duration::from_millis(600));
        // Time that passes unused refills the budget, up to a second's worth.
        let later = start + Duration::from_secs(10);
        assert_eq!(limit.wait(10, later), Duration::ZERO);
        assert_eq!(limit.wait(1, later), Duration::from_millis(100));
        assert_eq!(limit.wait(0, later), Duration::ZERO);
    }
}
