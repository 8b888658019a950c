//! What the scheduler tells users: core/v1 Events (Scheduled, FailedScheduling) and
//! the PodScheduled=False condition of pods that fit nowhere. Written in the
//! background; when the API falls behind, events are dropped rather than slowing
//! scheduling down, as upstream's event broadcaster does.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, Pod};

use crate::filters::QueuedPod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;
use tokio::sync::mpsc;

use crate::SCHEDULER_NAME;

/// Records waiting to be written; beyond this they are dropped.
const BACKLOG: usize = 1000;
/// Writes in flight at once.
const CONCURRENCY: usize = 8;

enum Record {
    Event {
        pod: Arc<QueuedPod>,
        warning: bool,
        reason: &'static str,
        message: String,
    },
    Unschedulable {
        pod: Arc<QueuedPod>,
        message: String,
    },
}

/// The sending side; cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Record>,
    dropped: Arc<AtomicU64>,
}

impl Recorder {
    /// Starts the writer task.
    pub fn start(client: Client) -> Self {
        let (tx, rx) = mpsc::channel(BACKLOG);
        let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
        tokio::spawn(async move {
            stream
                .for_each_concurrent(CONCURRENCY, |record| {
                    let client = client.clone();
                    async move { write(client, record).await }
                })
                .await;
        });
        Recorder {
            tx,
            dropped: Arc::new(AtomicU64::new(0)),
        }
    }

    fn send(&self, record: Record) {
        if self.tx.try_send(record).is_err() {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(dropped, "event backlog full, dropping scheduler events");
            }
        }
    }

    pub fn scheduled(&self, pod: Arc<QueuedPod>, node: &str) {
        let message = format!(
            "Successfully assigned {}/{} to {node}",
            pod.namespace, pod.name
        );
        self.send(Record::Event {
            pod,
            warning: false,
            reason: "Scheduled",
            message,
        });
    }

    /// Records the failure as an event and, if it changed, in the pod's condition.
    pub fn failed(&self, pod: Arc<QueuedPod>, message: String) {
        self.send(Record::Event {
            pod: pod.clone(),
            warning: true,
            reason: "FailedScheduling",
            message: message.clone(),
        });
        if pod.unschedulable_message.as_deref() != Some(message.as_str()) {
            self.send(Record::Unschedulable { pod, message });
        }
    }
}

fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}

async fn write(client: Client, record: Record) {
    let result = match record {
        Record::Event {
            pod,
            warning,
            reason,
            message,
        } => {
            let (namespace, name) = (pod.namespace.clone(), pod.name.clone());
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let event = Event {
                metadata: ObjectMeta {
                    name: Some(format!("{name}.{stamp:x}")),
                    namespace: Some(namespace.clone()),
                    ..ObjectMeta::default()
                },
                involved_object: ObjectReference {
                    api_version: Some("v1".into()),
                    kind: Some("Pod".into()),
                    namespace: Some(namespace.clone()),
                    name: Some(name),
                    uid: Some(pod.uid.clone()),
                    resource_version: pod.resource_version.clone(),
                    ..ObjectReference::default()
                },
                reason: Some(reason.into()),
                message: Some(message),
                type_: Some(if warning { "Warning" } else { "Normal" }.into()),
                source: Some(EventSource {
                    component: Some(SCHEDULER_NAME.into()),
                    host: None,
                }),
                reporting_component: Some(SCHEDULER_NAME.into()),
                reporting_instance: Some(SCHEDULER_NAME.into()),
                action: Some(if warning { "Scheduling" } else { "Binding" }.into()),
                first_timestamp: Some(now()),
                last_timestamp: Some(now()),
                count: Some(1),
                ..Event::default()
            };
            Api::<Event>::namespaced(client, &namespace)
                .create(&PostParams::default(), &event)
                .await
                .map(drop)
        }
        Record::Unschedulable { pod, message } => {
            let (namespace, name) = (&pod.namespace, &pod.name);
            let patch = json!({"status": {"conditions": [{
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": message,
                "lastProbeTime": null,
                "lastTransitionTime": now(),
            }]}});
            Api::<Pod>::namespaced(client, namespace)
                .patch_status(name, &PatchParams::default(), &Patch::Strategic(patch))
                .await
                .map(drop)
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, "cannot record a scheduling outcome");
    }
}
