//! Watchers: the writer hands committed events straight to each watcher's channel,
//! and a watch from a past revision replays history first, then joins that live
//! fan-out without a gap or a duplicate.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::{Shared, queries};
use crate::{Error, Event, Result, Revision};

/// Events read from history per SQLite read transaction during a replay.
const REPLAY_PAGE: usize = 1000;

pub(super) type EventSender = mpsc::Sender<Result<Event>>;

/// Every registered watcher. The writer publishes under this registry's lock and
/// stores the new current revision under it too, so a watcher registered "from now
/// on" sees exactly the events committed after the revision it read.
pub(super) struct Registry {
    watchers: Vec<Watcher>,
    next_id: u64,
    closed: bool,
    /// Events a replaying watcher may collect before it counts as too slow.
    pending_limit: usize,
}

struct Watcher {
    id: u64,
    prefix: String,
    /// Events at or below this revision were already delivered another way.
    after: Revision,
    sink: Sink,
}

enum Sink {
    /// Live: events go straight into the stream. Its last slot is kept free for the
    /// "too slow" error.
    Live(EventSender),
    /// Replaying from history: live events wait here until the replay catches up.
    Pending {
        events: Vec<Event>,
        overflowed: bool,
    },
}

impl Registry {
    pub(super) fn new(pending_limit: usize) -> Self {
        Registry {
            watchers: Vec::new(),
            next_id: 0,
            closed: false,
            pending_limit,
        }
    }

    pub(super) fn add_live(
        &mut self,
        prefix: &str,
        after: Revision,
        tx: EventSender,
    ) -> Result<()> {
        self.add(prefix, after, Sink::Live(tx)).map(drop)
    }

    pub(super) fn add_pending(&mut self, prefix: &str, after: Revision) -> Result<u64> {
        self.add(
            prefix,
            after,
            Sink::Pending {
                events: Vec::new(),
                overflowed: false,
            },
        )
    }

    fn add(&mut self, prefix: &str, after: Revision, sink: Sink) -> Result<u64> {
        if self.closed {
            return Err(Error::Closed);
        }
        self.next_id += 1;
        let id = self.next_id;
        self.watchers.push(Watcher {
            id,
            prefix: prefix.to_owned(),
            after,
            sink,
        });
        Ok(id)
    }

    /// Takes what a replaying watcher collected. Fails when it collected too much, and
    /// with [`Error::Closed`] when it is gone because the store closed.
    pub(super) fn take_pending(&mut self, id: u64) -> Result<Vec<Event>> {
        let watcher = self
            .watchers
            .iter_mut()
            .find(|w| w.id == id)
            .ok_or(Error::Closed)?;
        match &mut watcher.sink {
            Sink::Pending {
                overflowed: true, ..
            } => Err(Error::WatcherTooSlow),
            Sink::Pending { events, .. } => Ok(std::mem::take(events)),
            Sink::Live(_) => Ok(Vec::new()),
        }
    }

    /// Switches a replaying watcher to live delivery of events after `after`.
    pub(super) fn go_live(&mut self, id: u64, after: Revision, tx: EventSender) {
        if let Some(watcher) = self.watchers.iter_mut().find(|w| w.id == id) {
            watcher.after = after;
            watcher.sink = Sink::Live(tx);
        }
    }

    pub(super) fn remove(&mut self, id: u64) {
        self.watchers.retain(|w| w.id != id);
    }

    /// Hands committed events, in revision order, to every interested watcher.
    pub(super) fn publish(&mut self, events: &[Event]) {
        let limit = self.pending_limit;
        self.watchers.retain_mut(|w| w.deliver(events, limit));
    }

    /// Ends every stream; later watches fail with [`Error::Closed`].
    pub(super) fn close(&mut self) {
        self.closed = true;
        self.watchers.clear();
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.watchers.len()
    }
}

impl Watcher {
    /// Returns whether the watcher stays registered.
    fn deliver(&mut self, events: &[Event], pending_limit: usize) -> bool {
        let wanted = events
            .iter()
            .filter(|e| e.revision() > self.after && e.kv.key.starts_with(&self.prefix));
        for event in wanted {
            match &mut self.sink {
                Sink::Live(tx) => {
                    if tx.capacity() <= 1 {
                        // Never wait for a slow reader: end its stream with an error.
                        let _ = tx.try_send(Err(Error::WatcherTooSlow));
                        return false;
                    }
                    if tx.try_send(Ok(event.clone())).is_err() {
                        return false;
                    }
                }
                Sink::Pending { events, overflowed } => {
                    if events.len() >= pending_limit {
                        *overflowed = true;
                        break;
                    }
                    events.push(event.clone());
                }
            }
        }
        match &self.sink {
            Sink::Live(tx) => !tx.is_closed(),
            Sink::Pending { .. } => true,
        }
    }
}

/// Replays history after `after`, then joins the live fan-out. Runs as its own task;
/// the stream ends with the error that stopped it, or silently when the store closes
/// or the receiver is dropped.
pub(super) async fn replay(shared: Arc<Shared>, prefix: String, after: Revision, tx: EventSender) {
    let mut replay = Replay {
        shared,
        prefix,
        position: after,
        tx,
        pending: None,
    };
    let outcome = replay.run().await;
    if let Err(error) = outcome {
        if let Some(id) = replay.pending {
            replay.shared.lock_watchers().remove(id);
        }
        if !matches!(error, Error::Closed) {
            // The replay never fills the last slot, so this fits.
            let _ = replay.tx.try_send(Err(error));
        }
    }
}

struct Replay {
    shared: Arc<Shared>,
    prefix: String,
    /// Every event up to this revision has been sent.
    position: Revision,
    tx: EventSender,
    pending: Option<u64>,
}

impl Replay {
    async fn run(&mut self) -> Result<()> {
        // Most of the history is read before registering, so the pending buffer only
        // has to hold what is committed during the last short catch-up.
        self.catch_up().await?;
        let id = self
            .shared
            .lock_watchers()
            .add_pending(&self.prefix, self.position)?;
        self.pending = Some(id);
        self.catch_up().await?;
        self.drain_pending(id).await
    }

    /// Sends history until a read transaction finds nothing newer.
    async fn catch_up(&mut self) -> Result<()> {
        loop {
            let prefix = self.prefix.clone();
            let after = self.position;
            let page = self
                .shared
                .reads
                .run(move |conn| queries::history_page(conn, &prefix, after, REPLAY_PAGE))
                .await?;
            for event in page.events {
                self.send(event).await?;
            }
            self.position = self.position.max(page.resume_after);
            if page.complete {
                return Ok(());
            }
        }
    }

    /// Forwards what the writer collected meanwhile; once nothing is left, switches
    /// to live delivery under the registry lock so no event falls in between.
    async fn drain_pending(&mut self, id: u64) -> Result<()> {
        loop {
            let collected = {
                let mut watchers = self.shared.lock_watchers();
                let collected = watchers.take_pending(id)?;
                if collected.is_empty() {
                    watchers.go_live(id, self.position, self.tx.clone());
                    return Ok(());
                }
                collected
            };
            for event in collected {
                if event.revision() > self.position {
                    self.send(event).await?;
                }
            }
        }
    }

    /// Waits for two free slots and uses one, so the last slot stays free for an
    /// error after the switch to live delivery.
    async fn send(&mut self, event: Event) -> Result<()> {
        let revision = event.revision();
        let mut permits = self.tx.reserve_many(2).await.map_err(|_| Error::Closed)?;
        if let Some(permit) = permits.next() {
            permit.send(Ok(event));
        }
        self.position = self.position.max(revision);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::{EventKind, KeyValue};

    fn put(key: &str, revision: Revision) -> Event {
        let kv = KeyValue {
            key: key.to_owned(),
            value: Bytes::from_static(b"v"),
            create_revision: revision,
            mod_revision: revision,
        };
        Event {
            kind: EventKind::Put,
            kv,
            prev: None,
        }
    }

    #[test]
    fn live_watcher_gets_only_matching_events_after_its_revision() {
        let mut registry = Registry::new(10);
        let (tx, mut rx) = mpsc::channel(8);
        registry.add_live("/a/", 1, tx).unwrap();
        registry.publish(&[put("/a/x", 1), put("/b/x", 2), put("/a/y", 3)]);
        let got = rx.try_recv().unwrap().unwrap();
        assert_eq!((got.kv.key.as_str(), got.revision()), ("/a/y", 3));
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn full_live_watcher_receives_too_slow_and_is_dropped() {
        let mut registry = Registry::new(10);
        let (tx, mut rx) = mpsc::channel(3);
        registry.add_live("", 0, tx).unwrap();
        registry.publish(&[put("/k", 1), put("/k", 2), put("/k", 3), put("/k", 4)]);
        assert_eq!(registry.len(), 0);
        assert_eq!(rx.try_recv().unwrap().unwrap().revision(), 1);
        assert_eq!(rx.try_recv().unwrap().unwrap().revision(), 2);
        assert!(matches!(rx.try_recv().unwrap(), Err(Error::WatcherTooSlow)));
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn pending_watcher_collects_until_its_limit_then_reports_too_slow() {
        let mut registry = Registry::new(2);
        let id = registry.add_pending("", 0).unwrap();
        registry.publish(&[put("/k", 1), put("/k", 2)]);
        assert_eq!(registry.take_pending(id).unwrap().len(), 2);
        registry.publish(&[put("/k", 3), put("/k", 4), put("/k", 5)]);
        assert!(matches!(
            registry.take_pending(id),
            Err(Error::WatcherTooSlow)
        ));
    }

    #[test]
    fn dropped_receivers_are_forgotten_on_the_next_publish() {
        let mut registry = Registry::new(2);
        let (tx, rx) = mpsc::channel(4);
        registry.add_live("/a/", 0, tx).unwrap();
        drop(rx);
        registry.publish(&[put("/b/x", 1)]);
        assert_eq!(registry.len(), 0);
    }

    #[test]
    fn closed_registry_refuses_new_watchers() {
        let mut registry = Registry::new(2);
        registry.close();
        assert!(matches!(registry.add_pending("", 0), Err(Error::Closed)));
    }
}
