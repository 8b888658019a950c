//! skiff's scheduler: binds pending pods to nodes, talking to the API server only
//! through the Kubernetes API (watches of pods and nodes, `pods/binding`, events and
//! pod status), as kube-scheduler does.
//!
//! One task owns the scheduling state (node cache and queue) and makes every
//! decision; bindings run concurrently and report back. A pod is assumed onto its
//! node as soon as it is chosen, so the next decision already counts it.

mod filters;
mod node_info;
mod queue;
mod recorder;
mod resources;
mod scheduler;
mod score;

use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use tokio::sync::mpsc;

pub use scheduler::feasible_to_find;

/// The `spec.schedulerName` this scheduler serves (the API server's default).
pub const SCHEDULER_NAME: &str = "default-scheduler";

/// How long the loop sleeps at most when idle, to retry pods left unschedulable
/// for five minutes.
const IDLE_TICK: Duration = Duration::from_secs(30);

/// Schedules pods until `shutdown` resolves.
pub async fn run(client: Client, shutdown: impl Future<Output = ()> + Send) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let pods =
        watcher(Api::<Pod>::all(client.clone()), watcher::Config::default()).default_backoff();
    let nodes =
        watcher(Api::<Node>::all(client.clone()), watcher::Config::default()).default_backoff();
    let pod_task = tokio::spawn(forward(pods, "pods", tx.clone(), |e| {
        scheduler::Input::Pods(Box::new(e))
    }));
    let node_task = tokio::spawn(forward(nodes, "nodes", tx.clone(), |e| {
        scheduler::Input::Nodes(Box::new(e))
    }));

    let mut scheduler = scheduler::Scheduler::new(client, tx);
    let mut shutdown = std::pin::pin!(shutdown);
    tracing::info!(scheduler = SCHEDULER_NAME, "scheduler started");
    // The loop holds a sender of its own channel (bindings report through it), so
    // `recv` never ends; the loop runs until shutdown.
    loop {
        while let Ok(input) = rx.try_recv() {
            scheduler.handle(input);
        }
        let (scheduled, wake) = scheduler.schedule_some();
        if scheduled > 0 {
            tokio::task::yield_now().await;
            continue;
        }
        let sleep = wake
            .map(|at| at.saturating_duration_since(std::time::Instant::now()))
            .unwrap_or(IDLE_TICK)
            .min(IDLE_TICK);
        tokio::select! {
            () = &mut shutdown => break,
            Some(input) = rx.recv() => scheduler.handle(input),
            () = tokio::time::sleep(sleep) => {}
        }
    }
    pod_task.abort();
    node_task.abort();
}

/// Passes a watch's events to the scheduling loop until the loop is gone.
async fn forward<K>(
    events: impl futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
    watch: &'static str,
    tx: mpsc::UnboundedSender<scheduler::Input>,
    wrap: fn(watcher::Event<K>) -> scheduler::Input,
) {
    let mut events = std::pin::pin!(events);
    while let Some(event) = events.next().await {
        match event {
            Ok(event) => {
                if tx.send(wrap(event)).is_err() {
                    return;
                }
            }
            Err(error) => tracing::warn!(%error, watch, "watch error, retrying"),
        }
    }
}
