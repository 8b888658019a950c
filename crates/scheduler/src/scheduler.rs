//! The scheduling loop: one task owns the node cache and the queue, fed by the pod
//! and node watches and by the outcomes of bindings, which run concurrently.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::api::core::v1::{Binding, Node, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::PostParams;
use kube::runtime::watcher;
use kube::{Api, Client};
use tokio::sync::{Semaphore, mpsc};

use crate::SCHEDULER_NAME;
use crate::filters::{self, QueuedPod, Reason};
use crate::node_info::{Nodes, PodUsage};
use crate::queue::Queue;
use crate::recorder::Recorder;
use crate::score;

/// Bindings in flight at once.
const BINDING_CONCURRENCY: usize = 64;
/// Pods scheduled between two looks at the incoming events.
const BATCH: usize = 256;

/// What reaches the scheduling loop (boxed: pods and nodes are large).
pub enum Input {
    Pods(Box<watcher::Event<Pod>>),
    Nodes(Box<watcher::Event<Node>>),
    Bound {
        pod: Arc<QueuedPod>,
        node: String,
        result: Result<(), kube::Error>,
    },
}

pub struct Scheduler {
    client: Client,
    recorder: Recorder,
    nodes: Nodes,
    /// Pods counted on a node: bound, or assumed while their binding is in flight.
    placed: HashMap<String, PodUsage>,
    assumed: HashSet<String>,
    queue: Queue,
    next_start: usize,
    /// Relists in progress: the objects seen since `Init`.
    pod_relist: Option<Vec<Pod>>,
    node_relist: Option<Vec<Node>>,
    pods_synced: bool,
    nodes_synced: bool,
    bindings: Arc<Semaphore>,
    results: mpsc::UnboundedSender<Input>,
    /// Cheap pseudo-random state for breaking score ties.
    seed: u64,
}

fn uid(pod: &Pod) -> Option<&str> {
    pod.metadata.uid.as_deref()
}

fn node_name(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

fn is_ours(pod: &Pod) -> bool {
    let name = pod
        .spec
        .as_ref()
        .and_then(|s| s.scheduler_name.as_deref())
        .unwrap_or(SCHEDULER_NAME);
    name == SCHEDULER_NAME || name.is_empty()
}

/// How many feasible nodes to look for before scoring (upstream's adaptive
/// percentageOfNodesToScore): all of a small cluster, a shrinking share of a big one,
/// never fewer than 100.
pub fn feasible_to_find(nodes: usize) -> usize {
    const MIN: usize = 100;
    if nodes < MIN {
        return nodes;
    }
    let percent = 50usize.saturating_sub(nodes / 125).max(5);
    (nodes * percent / 100).max(MIN)
}

impl Scheduler {
    pub fn new(client: Client, results: mpsc::UnboundedSender<Input>) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64 | 1);
        Scheduler {
            recorder: Recorder::start(client.clone()),
            client,
            nodes: Nodes::default(),
            placed: HashMap::new(),
            assumed: HashSet::new(),
            queue: Queue::default(),
            next_start: 0,
            pod_relist: None,
            node_relist: None,
            pods_synced: false,
            nodes_synced: false,
            bindings: Arc::new(Semaphore::new(BINDING_CONCURRENCY)),
            results,
            seed,
        }
    }

    pub fn handle(&mut self, input: Input) {
        let now = Instant::now();
        match input {
            Input::Pods(event) => self.pod_event(*event, now),
            Input::Nodes(event) => self.node_event(*event, now),
            Input::Bound { pod, node, result } => self.bound(pod, node, result, now),
        }
    }

    fn pod_event(&mut self, event: watcher::Event<Pod>, now: Instant) {
        match event {
            watcher::Event::Init => self.pod_relist = Some(Vec::new()),
            watcher::Event::InitApply(pod) => match self.pod_relist.as_mut() {
                Some(list) => list.push(pod),
                None => self.pod_applied(pod, now),
            },
            watcher::Event::InitDone => {
                let pods = self.pod_relist.take().unwrap_or_default();
                let seen: HashSet<String> =
                    pods.iter().filter_map(uid).map(str::to_string).collect();
                let gone: Vec<String> = self
                    .placed
                    .keys()
                    .filter(|u| !seen.contains(*u) && !self.assumed.contains(*u))
                    .cloned()
                    .collect();
                for u in gone {
                    self.forget(&u, now);
                }
                for pod in pods {
                    self.pod_applied(pod, now);
                }
                self.pods_synced = true;
            }
            watcher::Event::Apply(pod) => self.pod_applied(pod, now),
            watcher::Event::Delete(pod) => {
                if let Some(u) = uid(&pod) {
                    let u = u.to_string();
                    self.queue.remove(&u);
                    self.assumed.remove(&u);
                    self.forget(&u, now);
                }
            }
        }
    }

    fn pod_applied(&mut self, pod: Pod, now: Instant) {
        let Some(u) = uid(&pod).map(str::to_string) else {
            return;
        };
        if is_terminal(&pod) {
            self.queue.remove(&u);
            self.forget(&u, now);
            return;
        }
        match node_name(&pod) {
            Some(node) => {
                self.queue.remove(&u);
                self.assumed.remove(&u);
                let moved = self.placed.get(&u).is_some_and(|p| p.node != node);
                if moved {
                    self.forget(&u, now);
                }
                if !self.placed.contains_key(&u) {
                    let usage = PodUsage::of(&pod, node);
                    self.nodes.add_pod(&u, &usage);
                    self.placed.insert(u, usage);
                }
            }
            None if self.assumed.contains(&u) => {
                // Our binding is in flight; its outcome decides.
            }
            None if is_ours(&pod) && pod.metadata.deletion_timestamp.is_none() => {
                if let Some(queued) = QueuedPod::of(&pod) {
                    self.queue.add_or_update(Arc::new(queued), now);
                }
            }
            None => self.queue.remove(&u),
        }
    }

    /// Takes a pod off its node; the freed room may let waiting pods fit.
    fn forget(&mut self, uid: &str, now: Instant) {
        if let Some(usage) = self.placed.remove(uid) {
            self.nodes.remove_pod(uid, &usage);
            self.queue.move_unschedulable(now);
        }
    }

    fn node_event(&mut self, event: watcher::Event<Node>, now: Instant) {
        match event {
            watcher::Event::Init => self.node_relist = Some(Vec::new()),
            watcher::Event::InitApply(node) => match self.node_relist.as_mut() {
                Some(list) => list.push(node),
                None => self.nodes.upsert(&node),
            },
            watcher::Event::InitDone => {
                let nodes = self.node_relist.take().unwrap_or_default();
                let seen: HashSet<&str> = nodes
                    .iter()
                    .filter_map(|n| n.metadata.name.as_deref())
                    .collect();
                let gone: Vec<String> = self
                    .nodes
                    .order
                    .iter()
                    .filter(|n| !seen.contains(n.as_str()))
                    .cloned()
                    .collect();
                for name in gone {
                    self.nodes.remove(&name);
                }
                for node in &nodes {
                    self.nodes.upsert(node);
                }
                self.nodes_synced = true;
                self.queue.move_unschedulable(now);
            }
            watcher::Event::Apply(node) => {
                self.nodes.upsert(&node);
                self.queue.move_unschedulable(now);
            }
            watcher::Event::Delete(node) => {
                if let Some(name) = node.metadata.name.as_deref() {
                    self.nodes.remove(name);
                }
            }
        }
    }

    fn bound(
        &mut self,
        pod: Arc<QueuedPod>,
        node: String,
        result: Result<(), kube::Error>,
        now: Instant,
    ) {
        let u = pod.uid.clone();
        match result {
            Ok(()) => {
                self.assumed.remove(&u);
                self.queue.remove(&u);
                tracing::debug!(pod = %pod.name, %node, "pod bound");
                self.recorder.scheduled(pod, &node);
            }
            Err(error) => {
                self.assumed.remove(&u);
                self.forget(&u, now);
                let gone = matches!(&error, kube::Error::Api(status) if status.code == 404 || status.code == 409);
                if gone {
                    // Deleted, or bound by someone else: the watch tells the rest.
                    self.queue.remove(&u);
                } else {
                    tracing::warn!(%error, pod = %pod.name, %node, "binding failed");
                    self.recorder
                        .failed(pod, format!("Binding rejected: {error}"));
                    self.queue.retry_later(&u, now);
                }
            }
        }
    }

    /// Whether both watches have delivered their first full list.
    pub fn ready(&self) -> bool {
        self.pods_synced && self.nodes_synced
    }

    /// Schedules up to [`BATCH`] queued pods; returns how many were popped and when
    /// a backed-off pod becomes due.
    pub fn schedule_some(&mut self) -> (usize, Option<Instant>) {
        if !self.ready() {
            return (0, None);
        }
        let wake = self.queue.tick(Instant::now());
        let mut done = 0;
        while done < BATCH {
            let Some(pod) = self.queue.pop() else {
                break;
            };
            done += 1;
            self.schedule_one(pod);
        }
        (done, wake)
    }

    fn schedule_one(&mut self, pod: Arc<QueuedPod>) {
        let now = Instant::now();
        let u = pod.uid.clone();
        let facts = &pod.facts;
        let total = self.nodes.order.len();
        if total == 0 {
            self.queue.unschedulable(&u, now);
            self.recorder
                .failed(pod, "no nodes available to schedule pods".to_string());
            return;
        }
        let wanted = feasible_to_find(total);
        let mut feasible = Vec::with_capacity(wanted.min(total));
        let mut reasons: BTreeMap<Reason, usize> = BTreeMap::new();
        let mut processed = 0;
        for i in 0..total {
            let name = &self.nodes.order[(self.next_start + i) % total];
            processed += 1;
            let Some(info) = self.nodes.infos.get(name) else {
                continue;
            };
            match filters::check(facts, info) {
                Ok(()) => {
                    feasible.push(info);
                    if feasible.len() >= wanted {
                        break;
                    }
                }
                Err(why) => {
                    for r in why {
                        *reasons.entry(r).or_default() += 1;
                    }
                }
            }
        }
        self.next_start = (self.next_start + processed) % total;

        if feasible.is_empty() {
            let mut parts: Vec<String> = reasons
                .iter()
                .map(|(reason, count)| format!("{count} {reason}"))
                .collect();
            parts.sort();
            let message = format!("0/{total} nodes are available: {}.", parts.join(", "));
            tracing::debug!(pod = %pod.name, %message, "pod does not fit");
            self.queue.unschedulable(&u, now);
            self.recorder.failed(pod, message);
            return;
        }

        let scores = score::scores(facts, &feasible);
        let best = scores.iter().copied().max().unwrap_or(0);
        let ties: Vec<usize> = (0..scores.len()).filter(|i| scores[*i] == best).collect();
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let chosen = feasible[ties[(self.seed % ties.len() as u64) as usize]]
            .name
            .clone();

        let usage = PodUsage::planned(facts, &chosen);
        self.nodes.add_pod(&u, &usage);
        self.placed.insert(u.clone(), usage);
        self.assumed.insert(u);
        self.bind(pod, chosen);
    }

    fn bind(&self, pod: Arc<QueuedPod>, node: String) {
        let client = self.client.clone();
        let permits = self.bindings.clone();
        let results = self.results.clone();
        tokio::spawn(async move {
            let _permit = permits.acquire_owned().await;
            let (namespace, name) = (pod.namespace.clone(), pod.name.clone());
            let binding = Binding {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(namespace.clone()),
                    uid: Some(pod.uid.clone()),
                    ..ObjectMeta::default()
                },
                target: ObjectReference {
                    api_version: Some("v1".into()),
                    kind: Some("Node".into()),
                    name: Some(node.clone()),
                    ..ObjectReference::default()
                },
            };
            let result = Api::<Pod>::namespaced(client, &namespace)
                .create_subresource::<_, serde_json::Value>(
                    "binding",
                    &name,
                    &PostParams::default(),
                    &binding,
                )
                .await
                .map(drop);
            let _ = results.send(Input::Bound { pod, node, result });
        });
    }
}

#[cfg(test)]
mod tests {
    use super::feasible_to_find;

    #[test]
    fn big_clusters_look_at_a_share_of_their_nodes() {
        assert_eq!(feasible_to_find(50), 50);
        assert_eq!(feasible_to_find(100), 100);
        assert_eq!(feasible_to_find(1000), 420);
        assert_eq!(feasible_to_find(5000), 500);
        assert_eq!(feasible_to_find(200), 100);
    }
}
