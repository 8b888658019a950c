//! The single writer thread: group commit of queued writes, revision assignment and
//! hand-off of committed events to watchers.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, TryRecvError};

use bytes::Bytes;
use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::oneshot;

use super::checkpoint::Checkpointer;
use super::compaction::Compaction;
use super::{Shared, queries};
use crate::{Error, Event, EventKind, KeyValue, Result, Revision};

/// Most writes committed in one transaction, so one burst cannot hold back the
/// replies of its first writers for long.
const MAX_BATCH: usize = 1024;

/// What a deleted history row is counted as towards the next WAL checkpoint.
const DELETED_ROW_BYTES: usize = 256;

pub(super) type WriteReply = oneshot::Sender<Result<KeyValue>>;

/// A request to the writer thread.
pub(super) enum Command {
    Write(WriteOp, WriteReply),
    Compact(Revision, oneshot::Sender<Result<()>>),
}

/// One guarded write.
pub(super) enum WriteOp {
    Create {
        key: String,
        value: Bytes,
    },
    Update {
        key: String,
        value: Bytes,
        expected: Revision,
    },
    Delete {
        key: String,
        expected: Option<Revision>,
    },
}

impl WriteOp {
    fn key(&self) -> &str {
        match self {
            WriteOp::Create { key, .. }
            | WriteOp::Update { key, .. }
            | WriteOp::Delete { key, .. } => key,
        }
    }

    /// The event this write makes at `revision` given what is stored now, or why the
    /// guard refuses it.
    fn plan(&self, current: Option<KeyValue>, revision: Revision) -> Result<Event> {
        match self {
            WriteOp::Create { key, value } => match current {
                Some(_) => Err(Error::AlreadyExists(key.clone())),
                None => {
                    let kv = KeyValue {
                        key: key.clone(),
                        value: value.clone(),
                        create_revision: revision,
                        mod_revision: revision,
                    };
                    Ok(Event {
                        kind: EventKind::Put,
                        kv,
                        prev: None,
                    })
                }
            },
            WriteOp::Update {
                key,
                value,
                expected,
            } => {
                let prev = guard(key, current, Some(*expected))?;
                let kv = KeyValue {
                    key: key.clone(),
                    value: value.clone(),
                    create_revision: prev.create_revision,
                    mod_revision: revision,
                };
                Ok(Event {
                    kind: EventKind::Put,
                    kv,
                    prev: Some(prev),
                })
            }
            WriteOp::Delete { key, expected } => {
                let prev = guard(key, current, *expected)?;
                let kv = KeyValue {
                    mod_revision: revision,
                    ..prev.clone()
                };
                Ok(Event {
                    kind: EventKind::Delete,
                    kv,
                    prev: Some(prev),
                })
            }
        }
    }
}

fn guard(key: &str, current: Option<KeyValue>, expected: Option<Revision>) -> Result<KeyValue> {
    let current = current.ok_or_else(|| Error::NotFound(key.to_owned()))?;
    match expected {
        Some(expected) if expected != current.mod_revision => Err(Error::Conflict {
            expected,
            current: Box::new(current),
        }),
        _ => Ok(current),
    }
}

/// What one transaction did: a reply per write and the events of those that passed.
struct Committed {
    outcomes: Vec<Result<KeyValue>>,
    events: Vec<Event>,
}

pub(super) struct Writer {
    conn: Connection,
    shared: Arc<Shared>,
    /// The last committed revision.
    revision: Revision,
    compaction: Compaction,
    checkpointer: Checkpointer,
}

impl Writer {
    pub(super) fn new(
        conn: Connection,
        shared: Arc<Shared>,
        revision: Revision,
        checkpointer: Checkpointer,
    ) -> Self {
        let compaction = Compaction::default();
        Writer {
            conn,
            shared,
            revision,
            compaction,
            checkpointer,
        }
    }

    /// Serves commands until every sender is gone, then ends all watches.
    pub(super) fn run(mut self, commands: Receiver<Command>) {
        while let Some(first) = self.next_command(&commands) {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match commands.try_recv() {
                    Ok(command) => batch.push(command),
                    Err(_) => break,
                }
            }
            self.handle(batch);
        }
        self.compaction.abandon();
        self.checkpointer.stop();
        self.shared.lock_watchers().close();
        tracing::debug!(revision = self.revision, "store writer stopped");
    }

    /// Blocks for the next command; while a compaction is running, idle time goes to it.
    fn next_command(&mut self, commands: &Receiver<Command>) -> Option<Command> {
        loop {
            if !self.compaction.is_running() {
                return commands.recv().ok();
            }
            match commands.try_recv() {
                Ok(command) => return Some(command),
                Err(TryRecvError::Empty) => self.compact_a_chunk(),
                Err(TryRecvError::Disconnected) => return None,
            }
        }
    }

    fn handle(&mut self, batch: Vec<Command>) {
        let mut writes = Vec::with_capacity(batch.len());
        let mut compactions = Vec::new();
        for command in batch {
            match command {
                Command::Write(op, reply) => writes.push((op, reply)),
                Command::Compact(revision, reply) => compactions.push((revision, reply)),
            }
        }
        if !writes.is_empty() {
            self.commit_writes(writes);
        }
        for (revision, reply) in compactions {
            self.compaction
                .request(&self.conn, &self.shared, self.revision, revision, reply);
        }
        // One chunk per batch keeps compaction moving under a steady write load.
        self.compact_a_chunk();
    }

    fn compact_a_chunk(&mut self) {
        let deleted = self.compaction.step(&mut self.conn);
        self.checkpointer.wrote(deleted * DELETED_ROW_BYTES);
    }

    fn commit_writes(&mut self, writes: Vec<(WriteOp, WriteReply)>) {
        let (ops, replies): (Vec<_>, Vec<_>) = writes.into_iter().unzip();
        match self.commit(&ops) {
            Ok(committed) => self.finish(committed, replies),
            Err(error) => {
                tracing::warn!(%error, writes = ops.len(), "group commit failed, retrying each write alone");
                self.commit_one_by_one(ops, replies);
            }
        }
    }

    /// After a failed group commit only the write that caused it should fail.
    fn commit_one_by_one(&mut self, ops: Vec<WriteOp>, replies: Vec<WriteReply>) {
        for (op, reply) in ops.into_iter().zip(replies) {
            match self.commit(std::slice::from_ref(&op)) {
                Ok(committed) => self.finish(committed, vec![reply]),
                Err(error) => {
                    self.resync_revision();
                    let _ = reply.send(Err(error.into()));
                }
            }
        }
    }

    /// Applies `ops` in order in one transaction, each passing write taking the next
    /// revision.
    fn commit(&mut self, ops: &[WriteOp]) -> rusqlite::Result<Committed> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut revision = self.revision;
        let mut committed = Committed {
            outcomes: Vec::with_capacity(ops.len()),
            events: Vec::with_capacity(ops.len()),
        };
        for op in ops {
            let current = queries::get(&tx, op.key())?;
            match op.plan(current, revision + 1) {
                Ok(event) => {
                    queries::record(&tx, &event)?;
                    revision += 1;
                    committed.outcomes.push(Ok(event.kv.clone()));
                    committed.events.push(event);
                }
                Err(refused) => committed.outcomes.push(Err(refused)),
            }
        }
        tx.commit()?;
        self.revision = revision;
        Ok(committed)
    }

    /// Publishes before replying, so an acknowledged write is already visible to
    /// `current_revision` and to every registered watcher.
    fn finish(&mut self, committed: Committed, replies: Vec<WriteReply>) {
        for event in &committed.events {
            self.checkpointer
                .wrote(event.kv.key.len() + event.kv.value.len());
        }
        if !committed.events.is_empty() {
            let mut watchers = self.shared.lock_watchers();
            self.shared.revision.store(self.revision, Ordering::Release);
            watchers.publish(&committed.events);
        }
        for (outcome, reply) in committed.outcomes.into_iter().zip(replies) {
            // The caller may have given up waiting; the write stands regardless.
            let _ = reply.send(outcome);
        }
    }

    fn resync_revision(&mut self) {
        match queries::revisions(&self.conn) {
            Ok((current, _)) => self.revision = current,
            Err(error) => tracing::warn!(%error, "cannot re-read the store revision"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(revision: Revision) -> Option<KeyValue> {
        Some(KeyValue {
            key: "/k".into(),
            value: Bytes::from_static(b"old"),
            create_revision: 2,
            mod_revision: revision,
        })
    }

    fn update(expected: Revision) -> WriteOp {
        WriteOp::Update {
            key: "/k".into(),
            value: Bytes::from_static(b"new"),
            expected,
        }
    }

    #[test]
    fn update_keeps_create_revision_and_reports_the_previous_value() {
        let event = update(5).plan(stored(5), 9).unwrap();
        assert_eq!((event.kv.create_revision, event.kv.mod_revision), (2, 9));
        assert_eq!(event.prev.unwrap().value, Bytes::from_static(b"old"));
    }

    #[test]
    fn update_with_a_stale_revision_conflicts_with_the_stored_value() {
        match update(4).plan(stored(5), 9) {
            Err(Error::Conflict {
                expected: 4,
                current,
            }) => assert_eq!(current.mod_revision, 5),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn delete_carries_the_last_value_at_the_deletion_revision() {
        let op = WriteOp::Delete {
            key: "/k".into(),
            expected: None,
        };
        let event = op.plan(stored(5), 9).unwrap();
        assert_eq!(event.kind, EventKind::Delete);
        assert_eq!(
            (event.kv.value.as_ref(), event.kv.mod_revision),
            (&b"old"[..], 9)
        );
    }

    #[test]
    fn writes_to_missing_keys_are_not_found() {
        assert!(matches!(update(1).plan(None, 3), Err(Error::NotFound(_))));
        let op = WriteOp::Delete {
            key: "/k".into(),
            expected: Some(1),
        };
        assert!(matches!(op.plan(None, 3), Err(Error::NotFound(_))));
    }
}
