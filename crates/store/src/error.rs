//! Store errors.

use crate::types::{KeyValue, Revision};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("key {0} not found")]
    NotFound(String),
    #[error("key {0} already exists")]
    AlreadyExists(String),
    /// The guarded write saw another revision; `current` is what is stored now.
    #[error("key {} was modified: expected revision {expected}, found {}", current.key, current.mod_revision)]
    Conflict {
        expected: Revision,
        current: Box<KeyValue>,
    },
    /// The requested revision is older than the compacted revision.
    #[error("revision {requested} has been compacted (oldest retained {compacted})")]
    Compacted {
        requested: Revision,
        compacted: Revision,
    },
    #[error("revision {requested} is ahead of the current revision {current}")]
    FutureRevision {
        requested: Revision,
        current: Revision,
    },
    #[error("watcher fell too far behind")]
    WatcherTooSlow,
    #[error("store is closed")]
    Closed,
    #[error("sqlite")]
    Sqlite(#[from] rusqlite::Error),
    #[error("io")]
    Io(#[from] std::io::Error),
}
