//! Versioned key-value store: every write gets the next global revision, reads see
//! the current revision (or a retained past one), watches replay from any retained
//! revision and then follow live writes, and compaction drops old history.
//!
//! The [`Store`] trait is what the API server programs against; [`SqliteStore`] is
//! the embedded default backend.

mod error;
mod sqlite;
mod types;

pub use error::{Error, Result};
pub use sqlite::{Durability, SqliteOptions, SqliteStore};
pub use types::{Event, EventKind, KeyValue, ListResult, Revision, WatchStream};

use async_trait::async_trait;
use bytes::Bytes;

/// A versioned key-value store in the style of etcd's v3 API.
///
/// Keys are UTF-8 strings such as `/registry/pods/default/web`. Revisions are
/// global, start at 1 for the first write and increase by one per write.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The value stored under `key` at the current revision.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>>;

    /// Keys starting with `prefix`, in key order, strictly after `start_after` when given,
    /// at most `limit` of them when given. `at_revision` reads a retained past revision
    /// (for paginated lists); `None` reads the current one. Fails with
    /// [`Error::Compacted`] when `at_revision` was compacted away and with
    /// [`Error::FutureRevision`] when it is ahead of the store.
    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: Option<usize>,
        at_revision: Option<Revision>,
    ) -> Result<ListResult>;

    /// Number of live keys under `prefix` at the current revision.
    async fn count(&self, prefix: &str) -> Result<u64>;

    /// Stores `value` under `key` if no live value is there; [`Error::AlreadyExists`] otherwise.
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue>;

    /// Replaces the value under `key` if its `mod_revision` is `expected`.
    /// [`Error::NotFound`] if absent, [`Error::Conflict`] (carrying the current value)
    /// if the revision differs.
    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue>;

    /// Deletes `key`, guarded by its `mod_revision` when `expected` is given. Returns the
    /// deleted value with `mod_revision` set to the revision of the deletion.
    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue>;

    /// Events for keys under `prefix` with a revision strictly greater than `after`,
    /// first replayed from history, then live, each exactly once and in order.
    /// `after == 0` means "from now on". Fails with [`Error::Compacted`] when history
    /// after `after` is no longer retained.
    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream>;

    /// Drops history older than `revision`: superseded values and deletions at or
    /// below it. Current values are kept.
    async fn compact(&self, revision: Revision) -> Result<()>;

    /// The latest committed revision (0 for an empty store).
    fn current_revision(&self) -> Revision;

    /// The oldest revision a watch or a past-revision list can still start from.
    fn compacted_revision(&self) -> Revision;
}
