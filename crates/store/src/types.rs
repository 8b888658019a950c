//! Values, events and results exchanged with a [`crate::Store`].

use bytes::Bytes;
use tokio::sync::mpsc;

/// A global store revision. 0 means "nothing written yet".
pub type Revision = i64;

/// One key with its value and the revisions that created and last modified it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Bytes,
    pub create_revision: Revision,
    pub mod_revision: Revision,
}

/// What a write did to a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// The key was created or updated.
    Put,
    /// The key was deleted.
    Delete,
}

/// One committed write, as a watcher sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    /// For a put, the new value; for a delete, the last value with `mod_revision`
    /// set to the revision of the deletion.
    pub kv: KeyValue,
    /// The value before this write, when there was one.
    pub prev: Option<KeyValue>,
}

impl Event {
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}

/// A page of a list.
#[derive(Clone, Debug, Default)]
pub struct ListResult {
    pub items: Vec<KeyValue>,
    /// The revision the list was read at.
    pub revision: Revision,
    /// More keys follow the last returned one.
    pub more: bool,
}

/// A stream of watch events. Dropping it cancels the watch. A watcher that falls too
/// far behind receives `Err(Error::Compacted)` or `Err(Error::WatcherTooSlow)` and the
/// stream ends.
pub type WatchStream = mpsc::Receiver<crate::Result<Event>>;
