//! The SQL behind reads, history replay and the writer's bookkeeping.

use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, Row, ToSql, params};

use crate::{Error, Event, EventKind, KeyValue, ListResult, Result, Revision};

const GET_CURRENT: &str = "SELECT c.revision, h.create_revision, h.value
    FROM current AS c JOIN kv AS h ON h.revision = c.revision
    WHERE c.key = ?1";

const REVISIONS: &str = "SELECT ifnull((SELECT max(revision) FROM kv), 0),
    ifnull((SELECT value FROM meta WHERE name = 'compacted'), 0)";

const INSERT_HISTORY: &str = "INSERT INTO kv
    (revision, key, create_revision, prev_revision, value, deleted)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

const UPSERT_CURRENT: &str = "INSERT INTO current (key, revision) VALUES (?1, ?2)
    ON CONFLICT (key) DO UPDATE SET revision = excluded.revision";

const DELETE_CURRENT: &str = "DELETE FROM current WHERE key = ?1";

const SET_COMPACTED: &str = "INSERT INTO meta (name, value) VALUES ('compacted', ?1)
    ON CONFLICT (name) DO UPDATE SET value = excluded.value";

const HISTORY_ROW: &str = "SELECT create_revision, value, deleted FROM kv WHERE revision = ?1";

/// The keys a list or count covers: under a prefix, optionally strictly after a key.
pub(super) struct KeyRange {
    lower: String,
    lower_inclusive: bool,
    /// Exclusive; `None` when every key above `lower` matches (empty prefix).
    upper: Option<String>,
}

impl KeyRange {
    pub(super) fn new(prefix: &str, start_after: Option<&str>) -> Self {
        match start_after {
            Some(after) if after >= prefix => KeyRange {
                lower: after.to_owned(),
                lower_inclusive: false,
                upper: prefix_end(prefix),
            },
            _ => KeyRange {
                lower: prefix.to_owned(),
                lower_inclusive: true,
                upper: prefix_end(prefix),
            },
        }
    }

    /// SQL conditions on `column`, with one `?` per value of [`KeyRange::params`].
    fn condition(&self, column: &str) -> String {
        let op = if self.lower_inclusive { ">=" } else { ">" };
        match self.upper {
            Some(_) => format!("{column} {op} ? AND {column} < ?"),
            None => format!("{column} {op} ?"),
        }
    }

    fn params(&self) -> Vec<&dyn ToSql> {
        let mut params: Vec<&dyn ToSql> = vec![&self.lower];
        if let Some(upper) = &self.upper {
            params.push(upper);
        }
        params
    }
}

/// The smallest string greater than every string starting with `prefix`, if any.
/// UTF-8 byte order is code point order, so bumping the last code point that can be
/// bumped (and dropping what follows it) gives the exclusive upper bound.
pub(super) fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = next_char(last) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

fn next_char(c: char) -> Option<char> {
    match c {
        '\u{D7FF}' => Some('\u{E000}'),
        char::MAX => None,
        _ => char::from_u32(c as u32 + 1),
    }
}

/// The value under `key` at the connection's snapshot.
pub(super) fn get(conn: &Connection, key: &str) -> rusqlite::Result<Option<KeyValue>> {
    let mut stmt = conn.prepare_cached(GET_CURRENT)?;
    stmt.query_row([key], |row| {
        Ok(KeyValue {
            key: key.to_owned(),
            mod_revision: row.get(0)?,
            create_revision: row.get(1)?,
            value: bytes(row, 2)?,
        })
    })
    .optional()
}

/// The latest revision and the compacted revision at the connection's snapshot.
pub(super) fn revisions(conn: &Connection) -> rusqlite::Result<(Revision, Revision)> {
    let (latest, compacted): (Revision, Revision) = conn
        .prepare_cached(REVISIONS)?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    // Compaction may drop the newest row (a deletion); the revision still happened.
    Ok((latest.max(compacted), compacted))
}

pub(super) fn count(conn: &Connection, prefix: &str) -> rusqlite::Result<u64> {
    let range = KeyRange::new(prefix, None);
    let sql = format!(
        "SELECT count(*) FROM current WHERE {}",
        range.condition("key")
    );
    let count: i64 = conn
        .prepare_cached(&sql)?
        .query_row(&*range.params(), |row| row.get(0))?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// A page of keys in `range`, read in one snapshot at `at` (or the current revision).
pub(super) fn list(
    conn: &mut Connection,
    range: &KeyRange,
    limit: Option<usize>,
    at: Option<Revision>,
) -> Result<ListResult> {
    let tx = conn.transaction()?;
    let (current, compacted) = revisions(&tx)?;
    let revision = match at {
        None => current,
        Some(requested) => check_readable(requested, current, compacted)?,
    };
    // One extra row tells whether more follow.
    let wanted = limit.map(|n| n.saturating_add(1));
    let mut items = if revision == current {
        list_current(&tx, range, wanted)?
    } else {
        list_past(&tx, range, wanted, revision)?
    };
    let more = limit.is_some_and(|n| items.len() > n);
    if let Some(n) = limit {
        items.truncate(n);
    }
    Ok(ListResult {
        items,
        revision,
        more,
    })
}

fn check_readable(requested: Revision, current: Revision, compacted: Revision) -> Result<Revision> {
    if requested > current {
        return Err(Error::FutureRevision { requested, current });
    }
    if requested < compacted || requested < 0 {
        return Err(Error::Compacted {
            requested,
            compacted,
        });
    }
    Ok(requested)
}

fn list_current(
    conn: &Connection,
    range: &KeyRange,
    wanted: Option<usize>,
) -> rusqlite::Result<Vec<KeyValue>> {
    let sql = format!(
        "SELECT c.key, c.revision, h.create_revision, h.value
         FROM current AS c JOIN kv AS h ON h.revision = c.revision
         WHERE {} ORDER BY c.key LIMIT ?",
        range.condition("c.key")
    );
    let limit = sql_limit(wanted);
    let mut params = range.params();
    params.push(&limit);
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(&*params, |row| {
        Ok(KeyValue {
            key: row.get(0)?,
            mod_revision: row.get(1)?,
            create_revision: row.get(2)?,
            value: bytes(row, 3)?,
        })
    })?;
    rows.collect()
}

/// Keys as they were at `revision`: the newest row of each key at or below it, unless
/// that row is a deletion. The aggregate runs on the (key, revision) index alone; the
/// chosen rows are then fetched by revision.
fn list_past(
    conn: &Connection,
    range: &KeyRange,
    wanted: Option<usize>,
    revision: Revision,
) -> rusqlite::Result<Vec<KeyValue>> {
    let sql = format!(
        "SELECT key, max(revision) FROM kv WHERE {} AND revision <= ?
         GROUP BY key ORDER BY key",
        range.condition("key")
    );
    let mut params = range.params();
    params.push(&revision);
    let mut latest = conn.prepare_cached(&sql)?;
    let mut fetch = conn.prepare_cached(HISTORY_ROW)?;
    let mut rows = latest.query(&*params)?;
    let mut items = Vec::new();
    while let Some(row) = rows.next()? {
        if wanted.is_some_and(|n| items.len() >= n) {
            break;
        }
        let key: String = row.get(0)?;
        let mod_revision: Revision = row.get(1)?;
        let (create_revision, value, deleted) = fetch.query_row([mod_revision], |r| {
            Ok((r.get::<_, Revision>(0)?, bytes(r, 1)?, r.get::<_, bool>(2)?))
        })?;
        if !deleted {
            items.push(KeyValue {
                key,
                value,
                create_revision,
                mod_revision,
            });
        }
    }
    Ok(items)
}

/// Events under a prefix after some revision, read from history for a watch.
pub(super) struct HistoryPage {
    pub(super) events: Vec<Event>,
    /// The revision the next page starts after.
    pub(super) resume_after: Revision,
    /// Every committed event in the snapshot has been read.
    pub(super) complete: bool,
}

pub(super) fn history_page(
    conn: &mut Connection,
    prefix: &str,
    after: Revision,
    limit: usize,
) -> Result<HistoryPage> {
    let tx = conn.transaction()?;
    let (current, compacted) = revisions(&tx)?;
    if after < compacted {
        return Err(Error::Compacted {
            requested: after,
            compacted,
        });
    }
    let events = history_events(&tx, prefix, after, limit)?;
    let complete = events.len() < limit;
    let resume_after = match events.last() {
        _ if complete => current.max(after),
        Some(last) => last.revision(),
        None => after,
    };
    Ok(HistoryPage {
        events,
        resume_after,
        complete,
    })
}

fn history_events(
    conn: &Connection,
    prefix: &str,
    after: Revision,
    limit: usize,
) -> rusqlite::Result<Vec<Event>> {
    // The unary `+` keeps SQLite on the rowid (revision) order instead of choosing the
    // key index and sorting: replays start near the newest revision.
    let range = KeyRange::new(prefix, None);
    let sql = format!(
        "SELECT h.revision, h.key, h.create_revision, h.value, h.deleted,
                p.revision, p.create_revision, p.value
         FROM kv AS h LEFT JOIN kv AS p ON p.revision = h.prev_revision
         WHERE h.revision > ? AND {} ORDER BY h.revision LIMIT ?",
        range.condition("+h.key")
    );
    let limit = sql_limit(Some(limit));
    let mut params: Vec<&dyn ToSql> = vec![&after];
    params.extend(range.params());
    params.push(&limit);
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(&*params, history_event)?;
    rows.collect()
}

fn history_event(row: &Row<'_>) -> rusqlite::Result<Event> {
    let key: String = row.get(1)?;
    let prev = match row.get::<_, Option<Revision>>(5)? {
        Some(mod_revision) => Some(KeyValue {
            key: key.clone(),
            value: bytes(row, 7)?,
            create_revision: row.get(6)?,
            mod_revision,
        }),
        None => None,
    };
    let deleted: bool = row.get(4)?;
    let (kind, value) = if deleted {
        (
            EventKind::Delete,
            prev.as_ref().map(|p| p.value.clone()).unwrap_or_default(),
        )
    } else {
        (EventKind::Put, bytes(row, 3)?)
    };
    let kv = KeyValue {
        key,
        value,
        create_revision: row.get(2)?,
        mod_revision: row.get(0)?,
    };
    Ok(Event { kind, kv, prev })
}

/// Writes the history row and the current-state change for one committed event.
pub(super) fn record(conn: &Connection, event: &Event) -> rusqlite::Result<()> {
    let kv = &event.kv;
    let prev_revision = event.prev.as_ref().map_or(0, |p| p.mod_revision);
    let (value, deleted): (&[u8], bool) = match event.kind {
        EventKind::Put => (&kv.value, false),
        EventKind::Delete => (&[], true),
    };
    conn.prepare_cached(INSERT_HISTORY)?.execute(params![
        kv.mod_revision,
        kv.key,
        kv.create_revision,
        prev_revision,
        value,
        deleted
    ])?;
    match event.kind {
        EventKind::Put => conn
            .prepare_cached(UPSERT_CURRENT)?
            .execute(params![kv.key, kv.mod_revision]),
        EventKind::Delete => conn.prepare_cached(DELETE_CURRENT)?.execute([&kv.key]),
    }?;
    Ok(())
}

pub(super) fn set_compacted(conn: &Connection, revision: Revision) -> rusqlite::Result<()> {
    conn.prepare_cached(SET_COMPACTED)?.execute([revision])?;
    Ok(())
}

fn bytes(row: &Row<'_>, index: usize) -> rusqlite::Result<Bytes> {
    Ok(Bytes::from(row.get::<_, Vec<u8>>(index)?))
}

/// SQLite reads a negative LIMIT as "no limit".
fn sql_limit(wanted: Option<usize>) -> i64 {
    wanted.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_bumps_the_last_character() {
        assert_eq!(
            prefix_end("/registry/pods/").as_deref(),
            Some("/registry/pods0")
        );
        assert_eq!(prefix_end("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
    }

    #[test]
    fn prefix_end_skips_trailing_maximal_characters() {
        assert_eq!(prefix_end("ab\u{10FFFF}").as_deref(), Some("ac"));
        assert_eq!(prefix_end("\u{10FFFF}"), None);
        assert_eq!(prefix_end(""), None);
    }

    #[test]
    fn key_range_starts_after_the_continue_key_only_inside_the_prefix() {
        let inside = KeyRange::new("/a/", Some("/a/x"));
        assert_eq!(
            (inside.lower.as_str(), inside.lower_inclusive),
            ("/a/x", false)
        );
        let before = KeyRange::new("/b/", Some("/a/x"));
        assert_eq!(
            (before.lower.as_str(), before.lower_inclusive),
            ("/b/", true)
        );
    }

    #[test]
    fn readable_revisions_lie_between_compacted_and_current() {
        assert_eq!(check_readable(5, 9, 3).ok(), Some(5));
        assert!(matches!(
            check_readable(10, 9, 3),
            Err(Error::FutureRevision { .. })
        ));
        assert!(matches!(
            check_readable(2, 9, 3),
            Err(Error::Compacted { .. })
        ));
    }
}
