//! Measures the SQLite store through the `Store` trait: create throughput from
//! concurrent writers, write-to-watcher latency, and list time.
//!
//! `cargo run -p skiff-store --release --example store_bench -- [--writers 8]
//! [--keys 10000] [--value-size 1024] [--watchers 100] [--durability process|power-loss]`

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use skiff_store::{Durability, Revision, SqliteOptions, SqliteStore, Store};

struct Settings {
    writers: usize,
    keys: usize,
    value_size: usize,
    watchers: usize,
    durability: Durability,
}

impl Settings {
    fn from_args() -> Settings {
        let mut settings = Settings {
            writers: 8,
            keys: 10_000,
            value_size: 1024,
            watchers: 100,
            durability: Durability::Process,
        };
        let args: Vec<String> = std::env::args().skip(1).collect();
        for pair in args.chunks(2) {
            let [flag, value] = pair else { usage() };
            let number = || value.parse::<usize>().unwrap_or_else(|_| usage());
            match flag.as_str() {
                "--writers" => settings.writers = number().max(1),
                "--keys" => settings.keys = number(),
                "--value-size" => settings.value_size = number(),
                "--watchers" => settings.watchers = number(),
                "--durability" if value == "process" => settings.durability = Durability::Process,
                "--durability" if value == "power-loss" => {
                    settings.durability = Durability::PowerLoss
                }
                _ => usage(),
            }
        }
        settings
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: store_bench [--writers N] [--keys N] [--value-size BYTES] [--watchers N] \
         [--durability process|power-loss]"
    );
    std::process::exit(2)
}

/// When each revision's write was submitted, for latency measurements.
type Submitted = Arc<Mutex<HashMap<Revision, Instant>>>;

/// Creates `keys` keys under `prefix` from `writers` concurrent tasks; returns the
/// elapsed time and each write's own latency.
async fn create_keys(
    store: &Arc<dyn Store>,
    settings: &Settings,
    prefix: &str,
    submitted: Option<Submitted>,
) -> (Duration, Vec<Duration>) {
    let value = Bytes::from(vec![b'x'; settings.value_size]);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for writer in 0..settings.writers {
        let (store, value, submitted) = (Arc::clone(store), value.clone(), submitted.clone());
        let keys: Vec<String> = (writer..settings.keys)
            .step_by(settings.writers)
            .map(|i| format!("{prefix}{i:08}"))
            .collect();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(keys.len());
            for key in keys {
                let sent = Instant::now();
                let kv = store
                    .create(&key, value.clone())
                    .await
                    .expect("create failed");
                latencies.push(sent.elapsed());
                if let Some(submitted) = &submitted {
                    submitted.lock().unwrap().insert(kv.mod_revision, sent);
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("writer panicked"));
    }
    (started.elapsed(), latencies)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index]
}

fn report_latency(label: &str, mut samples: Vec<Duration>) {
    samples.sort_unstable();
    println!(
        "{label}: p50 {:.2?}  p99 {:.2?}  max {:.2?}  ({} samples)",
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        samples.last().copied().unwrap_or_default(),
        samples.len()
    );
}

async fn bench_writes(store: &Arc<dyn Store>, settings: &Settings) {
    let (elapsed, latencies) = create_keys(store, settings, "/bench/plain/", None).await;
    println!(
        "create {} keys of {} B from {} writers: {:.2?}, {:.0} writes/s",
        settings.keys,
        settings.value_size,
        settings.writers,
        elapsed,
        settings.keys as f64 / elapsed.as_secs_f64()
    );
    report_latency("  write latency", latencies);
}

/// Starts the watchers; each returns the arrival time of every event it saw.
async fn start_watchers(
    store: &Arc<dyn Store>,
    settings: &Settings,
) -> Vec<tokio::task::JoinHandle<Vec<(Revision, Instant)>>> {
    let mut watchers = Vec::new();
    for _ in 0..settings.watchers {
        let mut events = store
            .watch("/bench/watched/", 0)
            .await
            .expect("watch failed");
        let expected = settings.keys;
        watchers.push(tokio::spawn(async move {
            let mut arrivals = Vec::with_capacity(expected);
            while arrivals.len() < expected {
                match events.recv().await {
                    Some(Ok(event)) => arrivals.push((event.revision(), Instant::now())),
                    Some(Err(error)) => panic!("watcher failed: {error}"),
                    None => break,
                }
            }
            arrivals
        }));
    }
    watchers
}

async fn bench_watch(store: &Arc<dyn Store>, settings: &Settings) {
    let watchers = start_watchers(store, settings).await;
    let submitted: Submitted = Arc::default();
    let (elapsed, _) = create_keys(
        store,
        settings,
        "/bench/watched/",
        Some(Arc::clone(&submitted)),
    )
    .await;
    let mut delays = Vec::new();
    for watcher in watchers {
        let arrivals = watcher.await.expect("watcher panicked");
        let submitted = submitted.lock().unwrap();
        delays.extend(arrivals.iter().filter_map(|(revision, at)| {
            Some(at.saturating_duration_since(*submitted.get(revision)?))
        }));
    }
    println!(
        "create {} keys with {} watchers: {:.2?}, {:.0} writes/s",
        settings.keys,
        settings.watchers,
        elapsed,
        settings.keys as f64 / elapsed.as_secs_f64()
    );
    report_latency("  write submitted -> watcher received", delays);
}

async fn bench_lists(store: &Arc<dyn Store>, settings: &Settings) {
    let mut full = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        let page = store
            .list("/bench/plain/", None, None, None)
            .await
            .expect("list failed");
        full.push(started.elapsed());
        assert_eq!(page.items.len(), settings.keys);
    }
    report_latency(&format!("list {} keys", settings.keys), full);

    let revision = store.current_revision();
    let started = Instant::now();
    let (mut pages, mut start_after) = (0, None::<String>);
    loop {
        let page = store
            .list(
                "/bench/plain/",
                start_after.as_deref(),
                Some(500),
                Some(revision),
            )
            .await
            .expect("list failed");
        pages += 1;
        start_after = page.items.last().map(|kv| kv.key.clone());
        if !page.more {
            break;
        }
    }
    println!(
        "list in {pages} pages of 500 at revision {revision}: {:.2?}",
        started.elapsed()
    );

    let started = Instant::now();
    let count = store.count("/bench/plain/").await.expect("count failed");
    println!("count {count} keys: {:.2?}", started.elapsed());
}

#[tokio::main]
async fn main() {
    let settings = Settings::from_args();
    let dir = tempfile::tempdir().expect("no temporary directory");
    let opts = SqliteOptions {
        durability: settings.durability,
        ..SqliteOptions::default()
    };
    let sqlite = SqliteStore::open(&dir.path().join("bench.db"), opts).expect("open failed");
    println!(
        "store at {} ({:?})",
        dir.path().display(),
        settings.durability
    );
    let store: Arc<dyn Store> = sqlite.clone();

    bench_writes(&store, &settings).await;
    bench_lists(&store, &settings).await;
    bench_watch(&store, &settings).await;

    // Time a compaction of everything written so far.
    let started = Instant::now();
    store
        .compact(store.current_revision())
        .await
        .expect("compaction failed");
    println!(
        "compact {} revisions: {:.2?}",
        store.current_revision(),
        started.elapsed()
    );
    drop(store);
    sqlite.close().await;
}
