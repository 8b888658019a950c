//! SQLite schema, pragmas and connection setup for the embedded store.

use std::io;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::Durability;
use crate::{Error, Result};

/// Bumped when the tables change shape; a newer file is refused rather than misread.
const SCHEMA_VERSION: i64 = 1;

/// `kv` is the history: one row per write, the revision being the rowid. Deletions are
/// tombstone rows (`deleted = 1`) whose value is empty; the deleted value stays
/// reachable through `prev_revision`. `current` maps every live key to the revision
/// of its latest row, so reads at the current revision are a primary-key range scan
/// instead of a "latest row per key" aggregate over the whole history.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS kv (
    revision INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    create_revision INTEGER NOT NULL,
    prev_revision INTEGER NOT NULL,
    value BLOB NOT NULL,
    deleted INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS kv_key_revision ON kv (key, revision);
CREATE TABLE IF NOT EXISTS current (
    key TEXT PRIMARY KEY,
    revision INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
";

/// Waiting for a lock is only expected while SQLite recovers a WAL left by a crash.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Page cache per connection, in KiB (negative values are KiB for `cache_size`). Kept
/// small: the API server answers reads from its own watch cache, and every connection's
/// cache counts toward the server's resident memory.
const CACHE_KIB: i64 = 4 * 1024;

/// No memory map: with a growing WAL database every reader transaction would remap
/// it, and each munmap shoots down TLB entries on every core (seen as 10% of CPU in
/// kernel TLB flushes under a create load).
const MMAP_BYTES: i64 = 0;

/// The WAL file is truncated back to this size after a checkpoint.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// Statements cached per connection; the list queries come in a few shapes each.
const STATEMENT_CACHE: usize = 48;

/// Opens (creating if needed) the database the writer thread owns.
pub(super) fn open_writer(path: &Path, durability: Durability) -> Result<Connection> {
    let conn = Connection::open(path)?;
    enable_wal(&conn, path)?;
    set_durability(&conn, durability)?;
    // Checkpoints run on their own thread so the writer never stalls on the fsyncs.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    tune(&conn)?;
    conn.execute_batch(SCHEMA)?;
    check_version(&conn, path)?;
    Ok(conn)
}

/// Opens the connection that copies the WAL back into the database file.
pub(super) fn open_checkpointer(path: &Path, durability: Durability) -> Result<Connection> {
    let conn = Connection::open(path)?;
    set_durability(&conn, durability)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

fn set_durability(conn: &Connection, durability: Durability) -> Result<()> {
    let synchronous = match durability {
        Durability::Process => "NORMAL",
        Durability::PowerLoss => "FULL",
    };
    conn.pragma_update(None, "synchronous", synchronous)?;
    conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
    Ok(())
}

/// Opens a read-only connection to a database the writer has already set up.
pub(super) fn open_reader(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    tune(&conn)?;
    Ok(conn)
}

fn tune(conn: &Connection) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
    conn.pragma_update(None, "mmap_size", MMAP_BYTES)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

/// WAL lets readers run beside the writer and makes each commit one append; a file
/// system that refuses it would silently give us a rollback journal, so refuse instead.
fn enable_wal(conn: &Connection, path: &Path) -> Result<()> {
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if mode.eq_ignore_ascii_case("wal") {
        return Ok(());
    }
    Err(Error::Io(io::Error::new(
        io::ErrorKind::Unsupported,
        format!(
            "sqlite cannot use write-ahead logging for {} (journal mode {mode})",
            path.display()
        ),
    )))
}

fn check_version(conn: &Connection, path: &Path) -> Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO meta (name, value) VALUES ('schema_version', ?1)",
        [SCHEMA_VERSION],
    )?;
    let version: i64 = conn.query_row(
        "SELECT value FROM meta WHERE name = 'schema_version'",
        [],
        |row| row.get(0),
    )?;
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    Err(Error::Io(io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "store file {} has schema version {version}, this build reads {SCHEMA_VERSION}",
            path.display()
        ),
    )))
}
