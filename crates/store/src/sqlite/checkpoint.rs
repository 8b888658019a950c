//! Background WAL checkpoints: the writer asks for one after enough bytes were
//! committed, and a separate thread copies the WAL into the database file, so the
//! checkpoint's fsyncs never hold up a group commit.

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

use rusqlite::Connection;

/// Roughly SQLite's own automatic checkpoint interval (1000 pages of 4 KiB).
const CHECKPOINT_BYTES: usize = 4 * 1024 * 1024;

/// Per-write overhead counted on top of key and value: row header, index and
/// `current` entries.
const ROW_OVERHEAD: usize = 64;

pub(super) struct Checkpointer {
    requests: SyncSender<()>,
    thread: JoinHandle<()>,
    unflushed: usize,
}

impl Checkpointer {
    pub(super) fn start(conn: Connection) -> std::io::Result<Self> {
        // One slot: requests made while one is pending fold into it.
        let (requests, incoming) = mpsc::sync_channel(1);
        // A WAL left by a crash or a busy run is folded in right after opening.
        let _ = requests.try_send(());
        let thread = std::thread::Builder::new()
            .name("skiff-store-checkpoint".into())
            .spawn(move || run(conn, incoming))?;
        Ok(Checkpointer {
            requests,
            thread,
            unflushed: 0,
        })
    }

    /// Counts committed bytes and asks for a checkpoint when enough piled up.
    pub(super) fn wrote(&mut self, key_and_value: usize) {
        self.unflushed += key_and_value + ROW_OVERHEAD;
        if self.unflushed >= CHECKPOINT_BYTES {
            self.unflushed = 0;
            let _ = self.requests.try_send(());
        }
    }

    /// Waits for a running checkpoint; SQLite checkpoints the rest when the last
    /// connection closes.
    pub(super) fn stop(self) {
        drop(self.requests);
        if self.thread.join().is_err() {
            tracing::error!("store checkpoint thread panicked");
        }
    }
}

fn run(conn: Connection, requests: Receiver<()>) {
    while requests.recv().is_ok() {
        let outcome = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
        });
        match outcome {
            Ok((wal_pages, copied)) => tracing::trace!(wal_pages, copied, "wal checkpoint"),
            Err(error) => tracing::warn!(%error, "wal checkpoint failed"),
        }
    }
}
