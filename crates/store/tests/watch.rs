//! Watches against a real SQLite file: replay, live delivery, ordering and slow readers.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use skiff_store::{
    Error, Event, EventKind, Revision, SqliteOptions, SqliteStore, Store, WatchStream,
};
use tempfile::TempDir;

const PATIENCE: Duration = Duration::from_secs(20);

fn open_store(opts: SqliteOptions) -> (TempDir, Arc<SqliteStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("store.db"), opts).unwrap();
    (dir, store)
}

/// A committed write as its writer saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Ack {
    revision: Revision,
    key: String,
    kind: EventKind,
}

impl Ack {
    fn of(event: &Event) -> Ack {
        Ack {
            revision: event.revision(),
            key: event.kv.key.clone(),
            kind: event.kind,
        }
    }
}

/// Creates, updates and deletes keys under `/w/{writer}/` and reports every write.
async fn churn(store: Arc<SqliteStore>, writer: usize, writes: usize) -> Vec<Ack> {
    let mut acks = Vec::with_capacity(writes);
    let mut i = 0;
    while acks.len() < writes {
        let key = format!("/w/{writer}/{}", i % 7);
        let value = Bytes::from(format!("{writer}-{i}"));
        let (kind, kv) = match store.get(&key).await.unwrap() {
            None => (EventKind::Put, store.create(&key, value).await.unwrap()),
            Some(kv) if i % 3 == 0 => (
                EventKind::Delete,
                store.delete(&key, Some(kv.mod_revision)).await.unwrap(),
            ),
            Some(kv) => (
                EventKind::Put,
                store.update(&key, value, kv.mod_revision).await.unwrap(),
            ),
        };
        acks.push(Ack {
            revision: kv.mod_revision,
            key,
            kind,
        });
        i += 1;
    }
    acks
}

async fn next(events: &mut WatchStream) -> Option<Result<Event, Error>> {
    tokio::time::timeout(PATIENCE, events.recv())
        .await
        .expect("watch stalled")
}

/// Reads events until one at `last` arrives.
async fn collect_until(events: &mut WatchStream, last: Revision) -> Vec<Ack> {
    let mut seen = Vec::new();
    while seen.last().is_none_or(|a: &Ack| a.revision < last) {
        let event = next(events)
            .await
            .expect("stream ended")
            .expect("watch failed");
        seen.push(Ack::of(&event));
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn watch_from_a_past_revision_delivers_every_event_once_in_order_while_writes_continue() {
    let (_dir, store) = open_store(SqliteOptions::default());
    let mut acks = churn(Arc::clone(&store), 99, 300).await;
    let start = 100;

    let writers: Vec<_> = (0..4)
        .map(|w| tokio::spawn(churn(Arc::clone(&store), w, 400)))
        .collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut all = store.watch("/w/", start).await.unwrap();
    let mut one = store.watch("/w/2/", start).await.unwrap();
    for writer in writers {
        acks.extend(writer.await.unwrap());
    }
    acks.sort_by_key(|a| a.revision);
    let last = acks.last().unwrap().revision;
    assert_eq!(last, 1900);

    let expected: Vec<Ack> = acks
        .iter()
        .filter(|a| a.revision > start)
        .cloned()
        .collect();
    assert_eq!(collect_until(&mut all, last).await, expected);
    let expected_one: Vec<Ack> = expected
        .iter()
        .filter(|a| a.key.starts_with("/w/2/"))
        .cloned()
        .collect();
    let last_one = expected_one.last().unwrap().revision;
    assert_eq!(collect_until(&mut one, last_one).await, expected_one);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn watches_started_at_random_moments_join_the_live_stream_without_gaps() {
    let (_dir, store) = open_store(SqliteOptions::default());
    let writers: Vec<_> = (0..4)
        .map(|w| tokio::spawn(churn(Arc::clone(&store), w, 500)))
        .collect();
    let mut watches = Vec::new();
    for round in 0..20 {
        tokio::time::sleep(Duration::from_millis(3)).await;
        let after = (store.current_revision() - round * 7).max(1);
        watches.push((after, store.watch("/w/", after).await.unwrap()));
    }
    let mut acks = Vec::new();
    for writer in writers {
        acks.extend(writer.await.unwrap());
    }
    acks.sort_by_key(|a| a.revision);
    let last = acks.last().unwrap().revision;
    for (after, mut events) in watches {
        let expected: Vec<Ack> = acks
            .iter()
            .filter(|a| a.revision > after)
            .cloned()
            .collect();
        assert_eq!(
            collect_until(&mut events, last).await,
            expected,
            "watch after {after}"
        );
    }
}

#[tokio::test]
async fn watch_from_now_sees_only_writes_made_after_it() {
    let (_dir, store) = open_store(SqliteOptions::default());
    store
        .create("/n/old", Bytes::from_static(b"1"))
        .await
        .unwrap();
    let mut events = store.watch("/n/", 0).await.unwrap();
    store
        .create("/other", Bytes::from_static(b"x"))
        .await
        .unwrap();
    let updated = store
        .update("/n/old", Bytes::from_static(b"2"), 1)
        .await
        .unwrap();
    let deleted = store.delete("/n/old", None).await.unwrap();

    let put = next(&mut events).await.unwrap().unwrap();
    assert_eq!((put.kind, put.kv.clone()), (EventKind::Put, updated));
    assert_eq!(put.prev.unwrap().value, Bytes::from_static(b"1"));
    let delete = next(&mut events).await.unwrap().unwrap();
    assert_eq!(
        (delete.kind, delete.kv.clone()),
        (EventKind::Delete, deleted)
    );
    assert_eq!(delete.prev.unwrap().mod_revision, 3);
    let silence = tokio::time::timeout(Duration::from_millis(50), events.recv()).await;
    assert!(silence.is_err(), "no further events");
}

#[tokio::test]
async fn replayed_events_match_the_live_ones() {
    let (_dir, store) = open_store(SqliteOptions::default());
    let mut live = store.watch("/", 0).await.unwrap();
    store
        .create("/r/a", Bytes::from_static(b"1"))
        .await
        .unwrap();
    store
        .update("/r/a", Bytes::from_static(b"2"), 1)
        .await
        .unwrap();
    store.delete("/r/a", Some(2)).await.unwrap();
    store
        .create("/r/a", Bytes::from_static(b"3"))
        .await
        .unwrap();

    let mut replayed = store.watch("/r/", 1).await.unwrap();
    let mut from_now = store.watch("/r/", 0).await.unwrap();
    store
        .create("/r/b", Bytes::from_static(b"4"))
        .await
        .unwrap();
    for _ in 0..5 {
        let expected = next(&mut live).await.unwrap().unwrap();
        if expected.revision() > 1 {
            assert_eq!(next(&mut replayed).await.unwrap().unwrap(), expected);
        }
    }
    let newest = next(&mut from_now).await.unwrap().unwrap();
    assert_eq!((newest.kv.key.as_str(), newest.revision()), ("/r/b", 5));
}

#[tokio::test]
async fn watch_from_the_compacted_revision_starts_right_after_it() {
    let (_dir, store) = open_store(SqliteOptions::default());
    for i in 0..10 {
        store
            .create(&format!("/c/{i}"), Bytes::from_static(b"v"))
            .await
            .unwrap();
    }
    store.delete("/c/3", None).await.unwrap();
    store.compact(8).await.unwrap();
    let mut events = store.watch("/c/", 8).await.unwrap();
    let revisions: Vec<Revision> = collect_until(&mut events, 11)
        .await
        .iter()
        .map(|a| a.revision)
        .collect();
    assert_eq!(revisions, [9, 10, 11]);
    assert!(matches!(
        store.watch("/c/", 7).await,
        Err(Error::Compacted { .. })
    ));
}

#[tokio::test]
async fn watcher_that_stops_reading_gets_too_slow_and_its_stream_ends() {
    let opts = SqliteOptions {
        watch_buffer: 4,
        ..SqliteOptions::default()
    };
    let (_dir, store) = open_store(opts);
    let mut events = store.watch("/s/", 0).await.unwrap();
    for i in 0..10 {
        store
            .create(&format!("/s/{i}"), Bytes::from_static(b"v"))
            .await
            .unwrap();
    }
    for revision in 1..=4 {
        assert_eq!(
            next(&mut events).await.unwrap().unwrap().revision(),
            revision
        );
    }
    assert!(matches!(
        next(&mut events).await,
        Some(Err(Error::WatcherTooSlow))
    ));
    assert!(next(&mut events).await.is_none());
    // The writer never waited for it.
    assert_eq!(store.current_revision(), 10);
}

#[tokio::test]
async fn watcher_that_caught_up_from_history_and_stops_reading_gets_too_slow() {
    let opts = SqliteOptions {
        watch_buffer: 4,
        ..SqliteOptions::default()
    };
    let (_dir, store) = open_store(opts);
    for i in 0..3 {
        store
            .create(&format!("/s/{i}"), Bytes::from_static(b"v"))
            .await
            .unwrap();
    }
    let mut events = store.watch("/s/", 1).await.unwrap();
    for revision in 2..=3 {
        assert_eq!(
            next(&mut events).await.unwrap().unwrap().revision(),
            revision
        );
    }
    // Replay is paced by the reader and never fails; give it time to go live first.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for i in 3..40 {
        store
            .create(&format!("/s/{i}"), Bytes::from_static(b"v"))
            .await
            .unwrap();
    }
    let mut revisions = Vec::new();
    loop {
        match next(&mut events).await {
            Some(Ok(event)) => revisions.push(event.revision()),
            Some(Err(Error::WatcherTooSlow)) => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(next(&mut events).await.is_none());
    assert_eq!(
        revisions,
        (4..4 + revisions.len() as Revision).collect::<Vec<_>>()
    );
    assert!(revisions.len() < 36);
}

#[tokio::test]
async fn replay_of_a_long_history_is_paced_by_the_reader() {
    let opts = SqliteOptions {
        watch_buffer: 4,
        ..SqliteOptions::default()
    };
    let (_dir, store) = open_store(opts);
    for i in 0..1500 {
        store
            .create(&format!("/l/{i}"), Bytes::from_static(b"v"))
            .await
            .unwrap();
    }
    let mut events = store.watch("/l/", 1).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let revisions: Vec<Revision> = collect_until(&mut events, 1500)
        .await
        .iter()
        .map(|a| a.revision)
        .collect();
    assert_eq!(revisions, (2..=1500).collect::<Vec<_>>());
}

#[tokio::test]
async fn compaction_that_overtakes_a_replay_ends_it_as_compacted() {
    let opts = SqliteOptions {
        watch_buffer: 4,
        ..SqliteOptions::default()
    };
    let (_dir, store) = open_store(opts);
    for i in 0..2500 {
        store
            .create(&format!("/o/{i}"), Bytes::from_static(b"v"))
            .await
            .unwrap();
    }
    let mut events = store.watch("/o/", 1).await.unwrap();
    store.compact(2500).await.unwrap();
    let mut revisions = Vec::new();
    loop {
        match next(&mut events).await {
            Some(Ok(event)) => revisions.push(event.revision()),
            Some(Err(Error::Compacted {
                compacted: 2500, ..
            })) => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(next(&mut events).await.is_none());
    assert_eq!(
        revisions,
        (2..2 + revisions.len() as Revision).collect::<Vec<_>>()
    );
    assert!(revisions.len() < 2499);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_write_reaches_a_hundred_watchers() {
    let (_dir, store) = open_store(SqliteOptions::default());
    let mut streams = Vec::new();
    for _ in 0..100 {
        streams.push(store.watch("/f/", 0).await.unwrap());
    }
    let written = store
        .create("/f/x", Bytes::from(vec![7u8; 1024]))
        .await
        .unwrap();
    for events in &mut streams {
        assert_eq!(next(events).await.unwrap().unwrap().kv, written);
    }
}
