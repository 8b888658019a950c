//! Concurrent writes and compaction against a real SQLite file.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use skiff_store::{Error, SqliteOptions, SqliteStore, Store};
use tempfile::TempDir;

fn open_store() -> (TempDir, Arc<SqliteStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("store.db"), SqliteOptions::default()).unwrap();
    (dir, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_get_unique_gap_free_revisions() {
    let (_dir, store) = open_store();
    let mut tasks = Vec::new();
    for writer in 0..8 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut revisions = Vec::new();
            for i in 0..500 {
                let key = format!("/w/{writer}/{}", i % 50);
                let value = Bytes::from(format!("{writer}-{i}"));
                let kv = if i < 50 {
                    store.create(&key, value).await.unwrap()
                } else {
                    let current = store.get(&key).await.unwrap().unwrap();
                    store
                        .update(&key, value, current.mod_revision)
                        .await
                        .unwrap()
                };
                revisions.push(kv.mod_revision);
            }
            revisions
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        let revisions = task.await.unwrap();
        assert!(
            revisions.windows(2).all(|w| w[0] < w[1]),
            "one writer's revisions go up"
        );
        all.extend(revisions);
    }
    all.sort_unstable();
    assert_eq!(all, (1..=4000).collect::<Vec<i64>>());
    assert_eq!(store.current_revision(), 4000);
    assert_eq!(store.count("/w/").await.unwrap(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_updates_with_one_expected_revision_let_exactly_one_win() {
    let (_dir, store) = open_store();
    let created = store
        .create("/race", Bytes::from_static(b"0"))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = Arc::clone(&store);
        let expected = created.mod_revision;
        tasks.push(tokio::spawn(async move {
            store
                .update("/race", Bytes::from(format!("{i}")), expected)
                .await
        }));
    }
    let mut winners = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => winners += 1,
            Err(Error::Conflict { current, .. }) => assert_eq!(current.mod_revision, 2),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners, 1);
    assert_eq!(store.current_revision(), 2);
}

#[tokio::test]
async fn reads_below_the_compacted_revision_fail_as_compacted() {
    let (_dir, store) = open_store();
    for i in 0..20 {
        store
            .create(&format!("/c/{i}"), Bytes::from_static(b"v"))
            .await
            .unwrap();
    }
    store.compact(10).await.unwrap();
    let list = store.list("/c/", None, None, Some(9)).await;
    assert!(matches!(
        list,
        Err(Error::Compacted {
            requested: 9,
            compacted: 10
        })
    ));
    let watch = store.watch("/c/", 9).await;
    assert!(matches!(
        watch,
        Err(Error::Compacted {
            requested: 9,
            compacted: 10
        })
    ));
    assert_eq!(
        store
            .list("/c/", None, None, Some(10))
            .await
            .unwrap()
            .items
            .len(),
        10
    );
}

#[tokio::test]
async fn compaction_of_a_long_history_keeps_every_current_value() {
    let (_dir, store) = open_store();
    let mut revision = 0;
    for i in 0..30 {
        store
            .create(&format!("/h/{i}"), Bytes::from_static(b"0"))
            .await
            .unwrap();
    }
    // Enough revisions for several compaction chunks.
    for round in 1..=60 {
        for i in 0..30 {
            let key = format!("/h/{i}");
            let current = store.get(&key).await.unwrap().unwrap();
            let kv = store.update(&key, Bytes::from(format!("{round}")), current.mod_revision);
            revision = kv.await.unwrap().mod_revision;
        }
        if round % 20 == 0 {
            store.compact(revision - 15).await.unwrap();
        }
    }
    let listed = store.list("/h/", None, None, None).await.unwrap();
    assert_eq!(listed.items.len(), 30);
    assert!(
        listed
            .items
            .iter()
            .all(|kv| kv.value == Bytes::from_static(b"60"))
    );
    let past = store
        .list("/h/", None, None, Some(store.compacted_revision()))
        .await
        .unwrap();
    assert_eq!(past.items.len(), 30);
}

#[tokio::test]
async fn periodic_compactor_keeps_the_newest_revisions() {
    let (_dir, store) = open_store();
    let compactor = store.spawn_compactor(Duration::from_millis(20), 10);
    for i in 0..100 {
        store
            .create(&format!("/p/{i}"), Bytes::from_static(b"v"))
            .await
            .unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while store.compacted_revision() != 90 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(store.compacted_revision(), 90);
    compactor.abort();
}

#[tokio::test]
async fn dropping_the_store_commits_queued_writes_before_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let store = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    let mut keys = HashSet::new();
    for i in 0..50 {
        let key = format!("/d/{i}");
        store.create(&key, Bytes::from_static(b"v")).await.unwrap();
        keys.insert(key);
    }
    drop(store);
    let store = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    let listed = store.list("/d/", None, None, None).await.unwrap();
    let found: HashSet<String> = listed.items.into_iter().map(|kv| kv.key).collect();
    assert_eq!(found, keys);
    assert_eq!(store.current_revision(), 50);
}
