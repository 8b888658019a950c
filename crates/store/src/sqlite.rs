//! The embedded SQLite backend: one writer thread with group commit, pooled readers,
//! in-process watch fan-out and chunked compaction.
//!
//! Layout on disk: a history table with one row per revision (the revision is the
//! rowid), a `current` table mapping each live key to its latest revision, and a
//! `meta` table holding the compacted revision. A write's history row and its
//! `current` entry change in the same transaction, so a crash leaves either the whole
//! write or nothing of it.

mod checkpoint;
mod compaction;
mod pool;
mod queries;
mod schema;
mod watch;
mod writer;

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use self::checkpoint::Checkpointer;
use self::pool::ReadPool;
use self::queries::KeyRange;
use self::watch::Registry;
use self::writer::{Command, WriteOp, Writer};
use crate::{Error, KeyValue, ListResult, Result, Revision, Store, WatchStream};

/// How far an acknowledged write is guaranteed to survive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// Survives the process being killed (`synchronous = NORMAL` with WAL): a commit
    /// is in the operating system's hands before it is acknowledged, and fsync happens
    /// at checkpoints. A power loss may drop the last commits but never corrupts the
    /// file. The default: it covers crashes of the server process, and commits do not
    /// wait for the disk (about six times the write rate of `PowerLoss` when measured
    /// with `examples/store_bench.rs`).
    #[default]
    Process,
    /// Also survives a power loss (`synchronous = FULL`): every group commit waits
    /// for an fsync of the WAL.
    PowerLoss,
}

/// Settings for [`SqliteStore::open`].
#[derive(Clone, Debug)]
pub struct SqliteOptions {
    pub durability: Durability,
    /// Read-only connections, and so reads running at once.
    pub read_connections: usize,
    /// Events a watcher may have waiting before its stream ends with
    /// [`Error::WatcherTooSlow`].
    pub watch_buffer: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            durability: Durability::Process,
            read_connections: 4,
            watch_buffer: 10_000,
        }
    }
}

/// State shared by the store handle, the writer thread and watch replays.
struct Shared {
    /// The latest revision handed to watchers; only the writer stores it, under the
    /// watcher registry lock.
    revision: AtomicI64,
    compacted: AtomicI64,
    watchers: Mutex<Registry>,
    reads: Arc<ReadPool>,
    /// Channel size of a watch stream: the buffer plus the slot reserved for the error.
    watch_capacity: usize,
}

impl Shared {
    fn lock_watchers(&self) -> MutexGuard<'_, Registry> {
        self.watchers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A [`Store`] kept in one SQLite file.
pub struct SqliteStore {
    shared: Arc<Shared>,
    commands: Mutex<Option<Sender<Command>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl SqliteStore {
    /// Opens or creates the store at `path` (parent directories included) and starts
    /// its writer thread. Blocks while SQLite opens the file and recovers a WAL left
    /// by a crash; call it before serving, or from `spawn_blocking`.
    pub fn open(path: &Path, opts: SqliteOptions) -> Result<Arc<SqliteStore>> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let conn = schema::open_writer(path, opts.durability)?;
        let (revision, compacted) = queries::revisions(&conn)?;
        let buffer = opts.watch_buffer.max(1);
        let shared = Arc::new(Shared {
            revision: AtomicI64::new(revision),
            compacted: AtomicI64::new(compacted),
            // A replay may collect a few buffers' worth while it catches up.
            watchers: Mutex::new(Registry::new(buffer.saturating_mul(4))),
            reads: Arc::new(ReadPool::new(path.to_path_buf(), opts.read_connections)),
            watch_capacity: buffer + 1,
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let checkpointer = Checkpointer::start(schema::open_checkpointer(path, opts.durability)?)?;
        let writer = Writer::new(conn, Arc::clone(&shared), revision, checkpointer);
        let handle = std::thread::Builder::new()
            .name("skiff-store-writer".into())
            .spawn(move || writer.run(rx))?;
        tracing::info!(path = %path.display(), revision, compacted, "store opened");
        Ok(Arc::new(SqliteStore {
            shared,
            commands: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(handle)),
        }))
    }

    /// Stops accepting writes, lets the writer finish the queued ones and waits for
    /// it. Watch streams end. Later writes and watches fail with [`Error::Closed`].
    pub async fn close(&self) {
        let Some(handle) = self.stop_writer() else {
            return;
        };
        let joined = tokio::task::spawn_blocking(move || handle.join()).await;
        if !matches!(joined, Ok(Ok(()))) {
            tracing::error!("store writer thread panicked");
        }
    }

    /// Drops the command channel so the writer ends after draining it.
    fn stop_writer(&self) -> Option<JoinHandle<()>> {
        self.commands
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        self.writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    fn send(&self, command: Command) -> Result<()> {
        let commands = self.commands.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = commands.as_ref().ok_or(Error::Closed)?;
        tx.send(command).map_err(|_| Error::Closed)
    }

    async fn write(&self, op: WriteOp) -> Result<KeyValue> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Write(op, reply))?;
        answer.await.map_err(|_| Error::Closed)?
    }
}

impl Drop for SqliteStore {
    /// Waits for the writer to commit what is queued, so the file can be reopened at
    /// once without two writers. That is at most one batch or compaction chunk.
    fn drop(&mut self) {
        if let Some(handle) = self.stop_writer()
            && handle.join().is_err()
        {
            tracing::error!("store writer thread panicked");
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let key = key.to_owned();
        self.shared
            .reads
            .run(move |conn| Ok(queries::get(conn, &key)?))
            .await
    }

    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: Option<usize>,
        at_revision: Option<Revision>,
    ) -> Result<ListResult> {
        let range = KeyRange::new(prefix, start_after);
        self.shared
            .reads
            .run(move |conn| queries::list(conn, &range, limit, at_revision))
            .await
    }

    async fn count(&self, prefix: &str) -> Result<u64> {
        let prefix = prefix.to_owned();
        self.shared
            .reads
            .run(move |conn| Ok(queries::count(conn, &prefix)?))
            .await
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        self.write(WriteOp::Create {
            key: key.to_owned(),
            value,
        })
        .await
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue> {
        self.write(WriteOp::Update {
            key: key.to_owned(),
            value,
            expected,
        })
        .await
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue> {
        self.write(WriteOp::Delete {
            key: key.to_owned(),
            expected,
        })
        .await
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream> {
        let compacted = self.compacted_revision();
        if after < 0 || (after > 0 && after < compacted) {
            return Err(Error::Compacted {
                requested: after,
                compacted,
            });
        }
        let (tx, rx) = mpsc::channel(self.shared.watch_capacity);
        {
            let mut watchers = self.shared.lock_watchers();
            let current = self.shared.revision.load(Ordering::Acquire);
            if after == 0 || after >= current {
                watchers.add_live(prefix, after.max(current), tx)?;
                return Ok(rx);
            }
        }
        let shared = Arc::clone(&self.shared);
        tokio::spawn(watch::replay(shared, prefix.to_owned(), after, tx));
        Ok(rx)
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Compact(revision, reply))?;
        answer.await.map_err(|_| Error::Closed)?
    }

    fn current_revision(&self) -> Revision {
        self.shared.revision.load(Ordering::Acquire)
    }

    fn compacted_revision(&self) -> Revision {
        self.shared.compacted.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use tempfile::TempDir;

    use super::*;

    fn open_store() -> (TempDir, Arc<SqliteStore>) {
        let dir = tempfile::tempdir().unwrap();
        let store =
            SqliteStore::open(&dir.path().join("store.db"), SqliteOptions::default()).unwrap();
        (dir, store)
    }

    fn value(text: &'static str) -> Bytes {
        Bytes::from_static(text.as_bytes())
    }

    fn keys(result: &ListResult) -> Vec<&str> {
        result.items.iter().map(|kv| kv.key.as_str()).collect()
    }

    fn history_rows(dir: &TempDir) -> i64 {
        let conn = rusqlite::Connection::open(dir.path().join("store.db")).unwrap();
        conn.query_row("SELECT count(*) FROM kv", [], |row| row.get(0))
            .unwrap()
    }

    #[tokio::test]
    async fn created_value_is_read_back_with_its_revisions() {
        let (_dir, store) = open_store();
        let created = store.create("/a/one", value("1")).await.unwrap();
        assert_eq!((created.create_revision, created.mod_revision), (1, 1));
        assert_eq!(store.get("/a/one").await.unwrap(), Some(created));
        assert_eq!(store.get("/a/two").await.unwrap(), None);
        assert_eq!(store.current_revision(), 1);
    }

    #[tokio::test]
    async fn creating_an_existing_key_fails_without_taking_a_revision() {
        let (_dir, store) = open_store();
        store.create("/k", value("1")).await.unwrap();
        assert!(
            matches!(store.create("/k", value("2")).await, Err(Error::AlreadyExists(k)) if k == "/k")
        );
        assert_eq!(
            store
                .create("/other", value("3"))
                .await
                .unwrap()
                .mod_revision,
            2
        );
    }

    #[tokio::test]
    async fn update_at_the_current_revision_keeps_the_create_revision() {
        let (_dir, store) = open_store();
        store.create("/k", value("1")).await.unwrap();
        let updated = store.update("/k", value("2"), 1).await.unwrap();
        assert_eq!((updated.create_revision, updated.mod_revision), (1, 2));
        assert_eq!(store.get("/k").await.unwrap().unwrap().value, value("2"));
    }

    #[tokio::test]
    async fn update_at_a_stale_revision_conflicts_with_the_current_value() {
        let (_dir, store) = open_store();
        store.create("/k", value("1")).await.unwrap();
        store.update("/k", value("2"), 1).await.unwrap();
        match store.update("/k", value("3"), 1).await {
            Err(Error::Conflict {
                expected: 1,
                current,
            }) => {
                assert_eq!((current.value, current.mod_revision), (value("2"), 2));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn update_and_guarded_delete_of_a_missing_key_are_not_found() {
        let (_dir, store) = open_store();
        assert!(matches!(
            store.update("/k", value("1"), 1).await,
            Err(Error::NotFound(_))
        ));
        assert!(matches!(
            store.delete("/k", Some(1)).await,
            Err(Error::NotFound(_))
        ));
        assert!(matches!(
            store.delete("/k", None).await,
            Err(Error::NotFound(_))
        ));
        assert_eq!(store.current_revision(), 0);
    }

    #[tokio::test]
    async fn unguarded_delete_returns_the_last_value_at_the_deletion_revision() {
        let (_dir, store) = open_store();
        store.create("/k", value("1")).await.unwrap();
        store.update("/k", value("2"), 1).await.unwrap();
        let deleted = store.delete("/k", None).await.unwrap();
        assert_eq!(
            (deleted.value, deleted.create_revision, deleted.mod_revision),
            (value("2"), 1, 3)
        );
        assert_eq!(store.get("/k").await.unwrap(), None);
        let recreated = store.create("/k", value("4")).await.unwrap();
        assert_eq!(recreated.create_revision, 4);
    }

    #[tokio::test]
    async fn guarded_delete_at_a_stale_revision_conflicts() {
        let (_dir, store) = open_store();
        store.create("/k", value("1")).await.unwrap();
        assert!(matches!(
            store.delete("/k", Some(7)).await,
            Err(Error::Conflict { expected: 7, .. })
        ));
        assert_eq!(store.delete("/k", Some(1)).await.unwrap().mod_revision, 2);
    }

    #[tokio::test]
    async fn list_returns_only_keys_under_the_prefix_in_key_order() {
        let (_dir, store) = open_store();
        for key in ["/a/c", "/ab", "/a/a", "/b/a", "/a/b", "/a"] {
            store.create(key, value("v")).await.unwrap();
        }
        let listed = store.list("/a/", None, None, None).await.unwrap();
        assert_eq!(keys(&listed), ["/a/a", "/a/b", "/a/c"]);
        assert_eq!((listed.revision, listed.more), (6, false));
        assert_eq!(
            store.list("", None, None, None).await.unwrap().items.len(),
            6
        );
        assert_eq!(store.count("/a/").await.unwrap(), 3);
        assert_eq!(store.count("/a").await.unwrap(), 5);
    }

    #[tokio::test]
    async fn list_pages_continue_after_the_last_key_and_report_more() {
        let (_dir, store) = open_store();
        for i in 0..5 {
            store.create(&format!("/p/{i}"), value("v")).await.unwrap();
        }
        let first = store.list("/p/", None, Some(2), None).await.unwrap();
        assert_eq!((keys(&first), first.more), (vec!["/p/0", "/p/1"], true));
        let second = store
            .list("/p/", Some("/p/1"), Some(2), Some(first.revision))
            .await
            .unwrap();
        assert_eq!((keys(&second), second.more), (vec!["/p/2", "/p/3"], true));
        let last = store
            .list("/p/", Some("/p/3"), Some(2), Some(first.revision))
            .await
            .unwrap();
        assert_eq!((keys(&last), last.more), (vec!["/p/4"], false));
    }

    #[tokio::test]
    async fn list_at_a_past_revision_shows_the_state_of_that_revision() {
        let (_dir, store) = open_store();
        store.create("/k/a", value("a1")).await.unwrap();
        store.create("/k/b", value("b1")).await.unwrap();
        store.update("/k/a", value("a2"), 1).await.unwrap();
        store.delete("/k/b", None).await.unwrap();
        store.create("/k/c", value("c1")).await.unwrap();

        let at_two = store.list("/k/", None, None, Some(2)).await.unwrap();
        let values: Vec<_> = at_two
            .items
            .iter()
            .map(|kv| (kv.key.as_str(), kv.value.clone()))
            .collect();
        assert_eq!(values, [("/k/a", value("a1")), ("/k/b", value("b1"))]);
        assert_eq!(at_two.revision, 2);
        let at_four = store.list("/k/", None, None, Some(4)).await.unwrap();
        assert_eq!(keys(&at_four), ["/k/a"]);
        assert_eq!(at_four.items[0].mod_revision, 3);
        let paged = store.list("/k/", None, Some(1), Some(2)).await.unwrap();
        assert_eq!((keys(&paged), paged.more), (vec!["/k/a"], true));
    }

    #[tokio::test]
    async fn list_ahead_of_the_store_is_a_future_revision() {
        let (_dir, store) = open_store();
        store.create("/k", value("v")).await.unwrap();
        let result = store.list("/", None, None, Some(2)).await;
        assert!(matches!(
            result,
            Err(Error::FutureRevision {
                requested: 2,
                current: 1
            })
        ));
    }

    #[tokio::test]
    async fn compaction_drops_superseded_history_but_keeps_what_reads_need() {
        let (dir, store) = open_store();
        store.create("/k/a", value("a1")).await.unwrap(); // 1
        store.update("/k/a", value("a2"), 1).await.unwrap(); // 2
        store.create("/k/b", value("b1")).await.unwrap(); // 3
        store.delete("/k/b", None).await.unwrap(); // 4
        store.create("/k/c", value("c1")).await.unwrap(); // 5
        store.update("/k/c", value("c2"), 5).await.unwrap(); // 6

        store.compact(5).await.unwrap();
        assert_eq!(store.compacted_revision(), 5);
        // Left: a@2 (latest at 5), c@5 (needed at 5), c@6.
        assert_eq!(history_rows(&dir), 3);
        let at_five = store.list("/k/", None, None, Some(5)).await.unwrap();
        assert_eq!(keys(&at_five), ["/k/a", "/k/c"]);
        assert_eq!(at_five.items[1].value, value("c1"));
        let result = store.list("/k/", None, None, Some(4)).await;
        assert!(matches!(
            result,
            Err(Error::Compacted {
                requested: 4,
                compacted: 5
            })
        ));
        assert_eq!(store.get("/k/c").await.unwrap().unwrap().value, value("c2"));
    }

    #[tokio::test]
    async fn compacting_a_trailing_deletion_keeps_the_current_revision() {
        let (dir, store) = open_store();
        store.create("/k", value("v")).await.unwrap();
        store.delete("/k", None).await.unwrap();
        store.compact(2).await.unwrap();
        assert_eq!(history_rows(&dir), 0);
        let listed = store.list("/", None, None, None).await.unwrap();
        assert_eq!((listed.items.len(), listed.revision), (0, 2));
        assert_eq!(
            store.create("/k", value("w")).await.unwrap().mod_revision,
            3
        );
    }

    #[tokio::test]
    async fn compaction_beyond_the_current_revision_is_refused() {
        let (_dir, store) = open_store();
        store.create("/k", value("v")).await.unwrap();
        let result = store.compact(5).await;
        assert!(matches!(
            result,
            Err(Error::FutureRevision {
                requested: 5,
                current: 1
            })
        ));
        store.compact(1).await.unwrap();
        store.compact(1).await.unwrap();
        assert_eq!(store.compacted_revision(), 1);
    }

    #[tokio::test]
    async fn reopening_keeps_values_revisions_and_the_compacted_revision() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/store.db");
        {
            let store = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
            store.create("/k", value("1")).await.unwrap();
            store.update("/k", value("2"), 1).await.unwrap();
            store.compact(2).await.unwrap();
        }
        let store = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
        assert_eq!(
            (store.current_revision(), store.compacted_revision()),
            (2, 2)
        );
        assert_eq!(store.get("/k").await.unwrap().unwrap().value, value("2"));
        assert_eq!(
            store.create("/j", value("3")).await.unwrap().mod_revision,
            3
        );
    }

    #[tokio::test]
    async fn closed_store_refuses_writes_and_ends_watches() {
        let (_dir, store) = open_store();
        let mut events = store.watch("/", 0).await.unwrap();
        store.close().await;
        assert!(matches!(
            store.create("/k", value("v")).await,
            Err(Error::Closed)
        ));
        assert!(events.recv().await.is_none());
        assert!(matches!(store.watch("/", 0).await, Err(Error::Closed)));
    }
}
