//! Per-object exponential backoff for requeues.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Delays that double for each consecutive requeue of the same key, up to a ceiling.
#[derive(Debug)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    attempts: Mutex<HashMap<String, u32>>,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        Backoff {
            base,
            max,
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// The delay before the next attempt for `key`; each call doubles the following one.
    pub fn next(&self, key: &str) -> Duration {
        let mut attempts = self.attempts.lock().unwrap_or_else(PoisonError::into_inner);
        let n = attempts.entry(key.to_string()).or_insert(0);
        let delay = self
            .base
            .checked_mul(2u32.saturating_pow(*n))
            .map_or(self.max, |d| d.min(self.max));
        *n = n.saturating_add(1);
        delay
    }

    /// Whether `key` has been requeued since it was last forgotten.
    pub fn is_backing_off(&self, key: &str) -> bool {
        self.attempts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(key)
    }

    /// Starts `key` over at the base delay.
    pub fn forget(&self, key: &str) {
        self.attempts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff() -> Backoff {
        Backoff::new(Duration::from_millis(100), Duration::from_secs(1))
    }

    #[test]
    fn delays_double_until_the_ceiling() {
        let b = backoff();
        let delays: Vec<_> = (0..6).map(|_| b.next("a").as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn keys_back_off_independently() {
        let b = backoff();
        b.next("a");
        b.next("a");
        assert_eq!(b.next("b"), Duration::from_millis(100));
        assert!(b.is_backing_off("a"));
        assert!(!b.is_backing_off("c"));
    }

    #[test]
    fn forgetting_a_key_starts_it_over() {
        let b = backoff();
        b.next("a");
        b.next("a");
        b.forget("a");
        assert!(!b.is_backing_off("a"));
        assert_eq!(b.next("a"), Duration::from_millis(100));
    }

    #[test]
    fn many_attempts_stay_at_the_ceiling() {
        let b = backoff();
        for _ in 0..100 {
            b.next("a");
        }
        assert_eq!(b.next("a"), Duration::from_secs(1));
    }
}
