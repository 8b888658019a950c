//! Compaction: drops the history no read at or after the compacted revision can need,
//! in short transactions between write batches, plus the periodic compactor.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, ffi, params};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::{Shared, SqliteStore, queries};
use crate::{Error, Result, Revision, Store};

/// History rows examined per transaction; small enough that a write batch queued
/// behind a chunk waits a few milliseconds at most.
const CHUNK_ROWS: i64 = 500;

/// The revision that closes the next chunk: the `CHUNK_ROWS`-th row after the cursor.
const CHUNK_END: &str = "SELECT revision FROM kv WHERE revision > ?1 AND revision <= ?2
    ORDER BY revision LIMIT 1 OFFSET ?3";

/// A row goes when it is a deletion at or below the target, or when a newer row of the
/// same key at or below the target supersedes it. What stays is, per key, the row a
/// read at the target revision needs, and everything after the target.
const DELETE_SUPERSEDED: &str = "DELETE FROM kv WHERE revision > ?1 AND revision <= ?2
    AND (deleted = 1 OR EXISTS (
        SELECT 1 FROM kv AS newer
        WHERE newer.key = kv.key AND newer.revision > kv.revision AND newer.revision <= ?3))";

type Waiter = oneshot::Sender<Result<()>>;

/// The writer's compaction in progress, if any.
#[derive(Default)]
pub(super) struct Compaction {
    job: Option<Job>,
}

struct Job {
    target: Revision,
    /// Rows at or below this revision have been examined.
    cursor: Revision,
    waiters: Vec<Waiter>,
}

impl Compaction {
    pub(super) fn is_running(&self) -> bool {
        self.job.is_some()
    }

    /// Records the new compacted revision at once, so reads below it fail from now on,
    /// and schedules the row deletion.
    pub(super) fn request(
        &mut self,
        conn: &Connection,
        shared: &Shared,
        current: Revision,
        revision: Revision,
        reply: Waiter,
    ) {
        if revision > current {
            let _ = reply.send(Err(Error::FutureRevision {
                requested: revision,
                current,
            }));
            return;
        }
        if revision <= shared.compacted.load(Ordering::Acquire) {
            match &mut self.job {
                Some(job) => job.waiters.push(reply),
                None => {
                    let _ = reply.send(Ok(()));
                }
            }
            return;
        }
        if let Err(error) = queries::set_compacted(conn, revision) {
            let _ = reply.send(Err(error.into()));
            return;
        }
        shared.compacted.store(revision, Ordering::Release);
        tracing::debug!(revision, "compaction started");
        // Rows kept by an earlier, lower target may be superseded now: start over.
        let mut waiters = self.job.take().map(|job| job.waiters).unwrap_or_default();
        waiters.push(reply);
        self.job = Some(Job {
            target: revision,
            cursor: 0,
            waiters,
        });
    }

    /// Deletes one chunk and returns how many rows went; answers the waiters when
    /// the last chunk is done.
    pub(super) fn step(&mut self, conn: &mut Connection) -> usize {
        let Some(job) = &mut self.job else { return 0 };
        match delete_chunk(conn, job.cursor, job.target) {
            Ok((deleted, Some(cursor))) => {
                job.cursor = cursor;
                deleted
            }
            Ok((deleted, None)) => {
                tracing::debug!(revision = job.target, "compaction finished");
                self.finish(|| Ok(()));
                deleted
            }
            Err(error) => {
                tracing::warn!(%error, revision = job.target, "compaction failed");
                self.finish(|| Err(Error::Sqlite(duplicate(&error))));
                0
            }
        }
    }

    /// Stops at shutdown. The compacted revision is already recorded; the rows left
    /// behind are removed by the next compaction.
    pub(super) fn abandon(&mut self) {
        self.finish(|| Err(Error::Closed));
    }

    fn finish(&mut self, outcome: impl Fn() -> Result<()>) {
        for waiter in self.job.take().map(|job| job.waiters).unwrap_or_default() {
            let _ = waiter.send(outcome());
        }
    }
}

/// Deletes what is superseded among the next `CHUNK_ROWS` rows after `cursor`;
/// returns how many rows went and the new cursor, `None` once the target is reached.
fn delete_chunk(
    conn: &mut Connection,
    cursor: Revision,
    target: Revision,
) -> rusqlite::Result<(usize, Option<Revision>)> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let end: Option<Revision> = tx
        .prepare_cached(CHUNK_END)?
        .query_row(params![cursor, target, CHUNK_ROWS - 1], |row| row.get(0))
        .optional()?;
    let upper = end.unwrap_or(target);
    let deleted = tx
        .prepare_cached(DELETE_SUPERSEDED)?
        .execute(params![cursor, upper, target])?;
    tx.commit()?;
    tracing::trace!(from = cursor, to = upper, deleted, "compaction chunk");
    Ok((deleted, (upper < target).then_some(upper)))
}

/// rusqlite errors are not `Clone`; every waiter gets its own copy of the failure.
fn duplicate(error: &rusqlite::Error) -> rusqlite::Error {
    match error {
        rusqlite::Error::SqliteFailure(code, message) => {
            rusqlite::Error::SqliteFailure(*code, message.clone())
        }
        other => rusqlite::Error::SqliteFailure(
            ffi::Error::new(ffi::SQLITE_ERROR),
            Some(other.to_string()),
        ),
    }
}

impl SqliteStore {
    /// Compacts every `interval` to the revision seen one interval earlier, but never
    /// into the newest `keep_revisions` revisions: history covers at least one
    /// interval and at least `keep_revisions` writes, whichever is more. Runs on the
    /// current tokio runtime until the store is dropped.
    pub fn spawn_compactor(
        self: &Arc<Self>,
        interval: Duration,
        keep_revisions: Revision,
    ) -> JoinHandle<()> {
        let store = Arc::downgrade(self);
        tokio::spawn(run_compactor(store, interval, keep_revisions))
    }
}

async fn run_compactor(store: Weak<SqliteStore>, interval: Duration, keep_revisions: Revision) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // The first tick fires at once; it only records where the first interval starts.
    ticker.tick().await;
    let mut previous = match store.upgrade() {
        Some(store) => store.current_revision(),
        None => return,
    };
    loop {
        ticker.tick().await;
        let Some(store) = store.upgrade() else { return };
        let current = store.current_revision();
        let target = compaction_target(previous, current, keep_revisions);
        previous = current;
        if target <= store.compacted_revision() {
            continue;
        }
        if let Err(error) = store.compact(target).await {
            tracing::warn!(%error, revision = target, "periodic compaction failed");
        }
    }
}

fn compaction_target(previous: Revision, current: Revision, keep_revisions: Revision) -> Revision {
    previous.min(current.saturating_sub(keep_revisions.max(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compaction_target_keeps_one_interval_and_the_newest_revisions() {
        assert_eq!(compaction_target(900, 1000, 50), 900);
        assert_eq!(compaction_target(990, 1000, 50), 950);
        assert_eq!(compaction_target(10, 20, 50), -30);
    }

    #[test]
    fn duplicated_sqlite_failures_keep_their_code() {
        let original = rusqlite::Error::SqliteFailure(ffi::Error::new(ffi::SQLITE_FULL), None);
        match duplicate(&original) {
            rusqlite::Error::SqliteFailure(code, None) => {
                assert_eq!(code.code, ffi::ErrorCode::DiskFull)
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
