//! Pods waiting to be scheduled: an active queue ordered by priority then arrival, a
//! backoff area for pods that just failed, and the unschedulable pods that wait for
//! the cluster to change (upstream's three-part scheduling queue).

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::filters::QueuedPod;

/// Upstream's defaults: the first retry after 1 s, doubling up to 10 s.
const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// An unschedulable pod is retried after this long even if nothing changed.
pub const MAX_UNSCHEDULABLE: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Active,
    Backoff,
    Unschedulable,
    /// Popped and being scheduled or bound.
    InFlight,
}

struct Entry {
    pod: Arc<QueuedPod>,
    place: Place,
    /// Bumped on every queueing, so stale heap items are skipped.
    token: u64,
    attempts: u32,
    /// When the pod last failed (for its backoff and its unschedulable age).
    failed_at: Option<Instant>,
}

#[derive(PartialEq, Eq)]
struct Active {
    priority: i32,
    token: u64,
    uid: String,
}

impl Ord for Active {
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority
            .cmp(&other.priority)
            .then_with(|| other.token.cmp(&self.token))
    }
}

impl PartialOrd for Active {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Default)]
pub struct Queue {
    entries: HashMap<String, Entry>,
    active: BinaryHeap<Active>,
    backoff: BinaryHeap<Reverse<(Instant, u64, String)>>,
    next_token: u64,
}

impl Queue {
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Adds a pending pod, or takes a newer version of one already queued; an update
    /// may make an unschedulable pod schedulable, so it is retried (after its backoff).
    pub fn add_or_update(&mut self, pod: Arc<QueuedPod>, now: Instant) {
        let uid = pod.uid.clone();
        match self.entries.get_mut(&uid) {
            Some(entry) => {
                let changed = entry.pod.facts != pod.facts;
                entry.pod = pod;
                if entry.place == Place::Unschedulable && changed {
                    self.requeue(&uid, now);
                }
            }
            None => {
                self.entries.insert(
                    uid.clone(),
                    Entry {
                        pod,
                        place: Place::InFlight,
                        token: 0,
                        attempts: 0,
                        failed_at: None,
                    },
                );
                self.push_active(&uid);
            }
        }
    }

    pub fn remove(&mut self, uid: &str) {
        self.entries.remove(uid);
    }

    fn push_active(&mut self, uid: &str) {
        let Some(entry) = self.entries.get_mut(uid) else {
            return;
        };
        self.next_token += 1;
        entry.token = self.next_token;
        entry.place = Place::Active;
        let priority = entry.pod.priority;
        self.active.push(Active {
            priority,
            token: entry.token,
            uid: uid.to_string(),
        });
    }

    /// The next pod to schedule; it stays known (in flight) until it is bound,
    /// removed, or put back.
    pub fn pop(&mut self) -> Option<Arc<QueuedPod>> {
        while let Some(item) = self.active.pop() {
            let Some(entry) = self.entries.get_mut(&item.uid) else {
                continue;
            };
            if entry.place != Place::Active || entry.token != item.token {
                continue;
            }
            entry.place = Place::InFlight;
            return Some(entry.pod.clone());
        }
        None
    }

    fn backoff_of(attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(16);
        INITIAL_BACKOFF
            .saturating_mul(1 << doublings)
            .min(MAX_BACKOFF)
    }

    /// Marks a popped pod as not fitting anywhere: it waits for a cluster change.
    pub fn unschedulable(&mut self, uid: &str, now: Instant) {
        if let Some(entry) = self.entries.get_mut(uid) {
            entry.attempts += 1;
            entry.failed_at = Some(now);
            entry.place = Place::Unschedulable;
        }
    }

    /// Puts a popped pod back after an error (a failed binding): retried after its
    /// backoff.
    pub fn retry_later(&mut self, uid: &str, now: Instant) {
        if let Some(entry) = self.entries.get_mut(uid) {
            entry.attempts += 1;
            entry.failed_at = Some(now);
        }
        self.requeue(uid, now);
    }

    /// Active if its backoff is over, else into the backoff area.
    fn requeue(&mut self, uid: &str, now: Instant) {
        let Some(entry) = self.entries.get(uid) else {
            return;
        };
        let ready_at = entry
            .failed_at
            .map(|at| at + Queue::backoff_of(entry.attempts));
        match ready_at {
            Some(at) if at > now => {
                let entry = self.entries.get_mut(uid).expect("checked above");
                self.next_token += 1;
                entry.token = self.next_token;
                entry.place = Place::Backoff;
                self.backoff
                    .push(Reverse((at, entry.token, uid.to_string())));
            }
            _ => self.push_active(uid),
        }
    }

    /// The cluster changed in a way that may let unschedulable pods fit.
    pub fn move_unschedulable(&mut self, now: Instant) {
        let waiting: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| e.place == Place::Unschedulable)
            .map(|(uid, _)| uid.clone())
            .collect();
        for uid in waiting {
            self.requeue(&uid, now);
        }
    }

    /// Moves pods whose backoff ended to the active queue, and retries pods
    /// unschedulable for longer than [`MAX_UNSCHEDULABLE`]; returns when to look again.
    pub fn tick(&mut self, now: Instant) -> Option<Instant> {
        while let Some(Reverse((at, token, uid))) = self.backoff.peek().cloned() {
            if at > now {
                break;
            }
            self.backoff.pop();
            let current = self
                .entries
                .get(&uid)
                .is_some_and(|e| e.place == Place::Backoff && e.token == token);
            if current {
                self.push_active(&uid);
            }
        }
        let stale: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| {
                e.place == Place::Unschedulable
                    && e.failed_at.is_some_and(|at| now >= at + MAX_UNSCHEDULABLE)
            })
            .map(|(uid, _)| uid.clone())
            .collect();
        for uid in stale {
            self.push_active(&uid);
        }
        self.backoff.peek().map(|Reverse((at, ..))| *at)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(uid: &str, priority: i32) -> Arc<QueuedPod> {
        let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(json!({
            "metadata": {"name": uid, "uid": uid},
            "spec": {"containers": [], "priority": priority},
        }))
        .unwrap();
        Arc::new(QueuedPod::of(&pod).unwrap())
    }

    fn name(p: Option<Arc<QueuedPod>>) -> Option<String> {
        p.map(|p| p.name.clone())
    }

    #[test]
    fn higher_priority_first_then_arrival_order() {
        let now = Instant::now();
        let mut q = Queue::default();
        q.add_or_update(pod("a", 0), now);
        q.add_or_update(pod("b", 10), now);
        q.add_or_update(pod("c", 0), now);
        assert_eq!(name(q.pop()).as_deref(), Some("b"));
        assert_eq!(name(q.pop()).as_deref(), Some("a"));
        assert_eq!(name(q.pop()).as_deref(), Some("c"));
        assert!(q.pop().is_none());
    }

    #[test]
    fn unschedulable_pods_wait_for_a_change_and_their_backoff() {
        let start = Instant::now();
        let mut q = Queue::default();
        q.add_or_update(pod("a", 0), start);
        q.pop();
        q.unschedulable("a", start);
        assert!(q.pop().is_none(), "waits for the cluster to change");
        q.move_unschedulable(start);
        assert!(q.pop().is_none(), "still backing off");
        assert_eq!(q.tick(start), Some(start + INITIAL_BACKOFF));
        q.tick(start + INITIAL_BACKOFF);
        assert_eq!(name(q.pop()).as_deref(), Some("a"));

        q.unschedulable("a", start + INITIAL_BACKOFF);
        q.tick(start + INITIAL_BACKOFF + MAX_UNSCHEDULABLE);
        assert_eq!(
            name(q.pop()).as_deref(),
            Some("a"),
            "retried after five minutes"
        );
    }

    #[test]
    fn backoff_doubles_up_to_ten_seconds() {
        assert_eq!(Queue::backoff_of(1), Duration::from_secs(1));
        assert_eq!(Queue::backoff_of(3), Duration::from_secs(4));
        assert_eq!(Queue::backoff_of(9), MAX_BACKOFF);
    }

    #[test]
    fn removed_pods_are_never_popped() {
        let now = Instant::now();
        let mut q = Queue::default();
        q.add_or_update(pod("a", 0), now);
        q.remove("a");
        assert!(q.pop().is_none());
        assert_eq!(q.len(), 0);
    }
}
