//! A writer process killed with SIGKILL mid-stream loses no acknowledged write and
//! leaves no partial object. The test binary re-runs itself as the writer child.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use skiff_store::{Durability, KeyValue, Revision, SqliteOptions, SqliteStore, Store};

/// Set in the child's environment: the store directory it writes to.
const CHILD_DIR: &str = "SKIFF_STORE_CRASH_DIR";
/// Set in the child's environment: a tag that keeps each round's keys apart.
const CHILD_ROUND: &str = "SKIFF_STORE_CRASH_ROUND";
const CHILD_TEST: &str = "child_process_writes_until_killed";

/// Acknowledged writes the parent waits for before it kills the child.
const ACKS_BEFORE_KILL: usize = 1500;
/// A child left behind by a failed parent stops on its own after this long.
const CHILD_LIFETIME: Duration = Duration::from_secs(60);

fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A value that names its key and version and ends with a checksum of the rest.
/// Sizes vary up to several pages so some values span SQLite overflow pages.
fn make_value(key: &str, version: u64) -> Bytes {
    let mut body = format!("{key}|{version}|").into_bytes();
    let size = 500 + (fnv1a(key.as_bytes()).wrapping_add(version) % 9000) as usize;
    let mut state = fnv1a(&body);
    while body.len() < size {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        body.push(b'a' + ((state >> 58) % 26) as u8);
    }
    let checksum = fnv1a(&body);
    body.extend_from_slice(format!("{checksum:016x}").as_bytes());
    Bytes::from(body)
}

/// The version a value carries, if it is whole and belongs to `key`.
fn check_value(key: &str, value: &[u8]) -> Option<u64> {
    let (body, checksum) = value.split_at_checked(value.len().checked_sub(16)?)?;
    if format!("{:016x}", fnv1a(body)).as_bytes() != checksum {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    let mut fields = text.splitn(3, '|');
    (fields.next()? == key).then_some(())?;
    fields.next()?.parse().ok()
}

/// One writer task of the child: creates its keys, then keeps updating them.
async fn child_writer(store: Arc<SqliteStore>, round: String, task: usize) {
    let keys: Vec<String> = (0..40)
        .map(|i| format!("/crash/{round}/{task}/{i}"))
        .collect();
    let mut stored: Vec<Option<KeyValue>> = vec![None; keys.len()];
    for version in 0.. {
        let slot = (version as usize) % keys.len();
        let key = &keys[slot];
        let value = make_value(key, version);
        let written = match &stored[slot] {
            None => store.create(key, value).await,
            Some(kv) => store.update(key, value, kv.mod_revision).await,
        }
        .expect("child write failed");
        let mut out = std::io::stdout().lock();
        writeln!(out, "ack {key} {version} {}", written.mod_revision).unwrap();
        out.flush().unwrap();
        drop(out);
        stored[slot] = Some(written);
    }
}

#[test]
fn child_process_writes_until_killed() {
    let (Ok(dir), Ok(round)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_ROUND)) else {
        return; // Only does something when the crash test starts it.
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let opts = SqliteOptions {
            durability: Durability::Process,
            ..SqliteOptions::default()
        };
        let store = SqliteStore::open(&Path::new(&dir).join("store.db"), opts).unwrap();
        for task in 0..4 {
            tokio::spawn(child_writer(Arc::clone(&store), round.clone(), task));
        }
        tokio::time::sleep(CHILD_LIFETIME).await;
    });
}

/// Kills the child when the parent fails before it meant to.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a child writer, reads its acknowledgements, kills it mid-stream and returns
/// the newest acknowledged (version, revision) per key.
fn run_and_kill_child(dir: &Path, round: &str) -> BTreeMap<String, (u64, Revision)> {
    let exe = std::env::current_exe().unwrap();
    let child = Command::new(exe)
        .args([CHILD_TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, dir)
        .env(CHILD_ROUND, round)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    let stdout = child.0.stdout.take().unwrap();
    let mut acked = BTreeMap::new();
    let mut count = 0;
    let started = Instant::now();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let Some(ack) = line.strip_prefix("ack ") else {
            continue;
        };
        let mut fields = ack.split(' ');
        let (key, version, revision) = (
            fields.next().unwrap(),
            fields.next().unwrap(),
            fields.next().unwrap(),
        );
        acked.insert(
            key.to_owned(),
            (version.parse().unwrap(), revision.parse().unwrap()),
        );
        count += 1;
        if count == ACKS_BEFORE_KILL {
            // SIGKILL on unix: no destructor, no flush, no graceful close.
            child.0.kill().unwrap();
        }
        assert!(started.elapsed() < CHILD_LIFETIME, "child wrote too slowly");
    }
    let status = child.0.wait().unwrap();
    assert!(!status.success(), "the child was killed, not finished");
    assert!(
        count >= ACKS_BEFORE_KILL,
        "child stopped early after {count} writes"
    );
    acked
}

/// Every acknowledged write is there, every stored value is whole, and the history
/// has no hole.
async fn verify(dir: &Path, acked: &BTreeMap<String, (u64, Revision)>) {
    let store = SqliteStore::open(&dir.join("store.db"), SqliteOptions::default()).unwrap();
    for (key, (version, revision)) in acked {
        let kv = store
            .get(key)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{key} lost"));
        let stored = check_value(key, &kv.value).unwrap_or_else(|| panic!("{key} is damaged"));
        assert!(
            stored >= *version && kv.mod_revision >= *revision,
            "{key} went back"
        );
    }
    let listed = store.list("/crash/", None, None, None).await.unwrap();
    for kv in &listed.items {
        assert!(
            check_value(&kv.key, &kv.value).is_some(),
            "{} is damaged",
            kv.key
        );
    }
    let current = store.current_revision();
    assert_eq!(listed.revision, current);
    let mut events = store.watch("/", 1).await.unwrap();
    for expected in 2..=current {
        let event = events.recv().await.unwrap().unwrap();
        assert_eq!(event.revision(), expected, "history has a hole");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_writer_loses_no_acknowledged_write_and_leaves_no_partial_value() {
    let dir = tempfile::tempdir().unwrap();
    let mut acked = BTreeMap::new();
    for round in ["first", "second"] {
        let path = dir.path().to_path_buf();
        let round_acks = tokio::task::spawn_blocking(move || run_and_kill_child(&path, round))
            .await
            .unwrap();
        acked.extend(round_acks);
        verify(dir.path(), &acked).await;
    }
}
