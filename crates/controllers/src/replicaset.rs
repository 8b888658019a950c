//! The ReplicaSet controller: keeps `spec.replicas` pods matching the selector, each
//! with a controller ownerReference to the set; adopts matching pods nobody controls,
//! releases controlled pods that stopped matching, creates missing pods in
//! slow-start batches (1, 2, 4, ...) and deletes extra ones (the least far along
//! first), then reports the counts in the status.
//!
//! Each reconcile lists the set's pods from the API (which reads its own writes), so
//! no expectations bookkeeping is needed against a stale cache.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::core::{Selector, SelectorExt};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde_json::json;

use crate::Stop;
use crate::backoff::Backoff;

/// The controller's name in logs and errors.
pub const NAME: &str = "replicaset";

/// Upstream's cap on pods created or deleted in one pass.
const BURST: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum ReplicaSetError {
    #[error("the selector of replicaset {0} is invalid")]
    Selector(String),
    #[error("failed to {action} for replicaset {name}")]
    Api {
        action: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
}

struct Context {
    client: Client,
    failing: Backoff,
}

/// Runs the controller until shutdown is requested; returns its name.
pub async fn run(client: Client, stop: Stop) -> &'static str {
    let context = Arc::new(Context {
        client: client.clone(),
        failing: Backoff::new(Duration::from_millis(500), Duration::from_secs(60)),
    });
    tracing::info!(controller = NAME, "controller started");
    let controller = Controller::new(
        Api::<ReplicaSet>::all(client.clone()),
        watcher::Config::default(),
    );
    let sets = controller.store();
    // Pods map to the set controlling them, or, with no controller, to every set
    // whose selector they match (which may adopt them).
    controller
        .watches(
            Api::<Pod>::all(client),
            watcher::Config::default(),
            move |pod: Pod| {
                let controlled = pod
                    .metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .find(|o| o.controller == Some(true))
                    .cloned();
                let namespace = pod.namespace();
                let labels = pod.metadata.labels.clone().unwrap_or_default();
                sets.state()
                    .into_iter()
                    .filter(|set| set.namespace() == namespace)
                    .filter(|set| match &controlled {
                        Some(owner) => set.uid().as_deref() == Some(owner.uid.as_str()),
                        None => set
                            .spec
                            .as_ref()
                            .and_then(|s| Selector::try_from(s.selector.clone()).ok())
                            .is_some_and(|sel| !sel.selects_all() && sel.matches(&labels)),
                    })
                    .map(|set| ObjectRef::from_obj(&*set))
                    .collect::<Vec<_>>()
            },
        )
        .graceful_shutdown_on(stop.clone().requested())
        .run(reconcile, error_policy, context)
        .take_until(stop.overdue())
        .for_each(|outcome| async move {
            if let Err(error) = outcome {
                tracing::debug!(%error, controller = NAME, "reconcile did not complete");
            }
        })
        .await;
    tracing::info!(controller = NAME, "controller stopped");
    NAME
}

fn controller_uid(pod: &Pod) -> Option<&str> {
    pod.metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
        .map(|o| o.uid.as_str())
}

fn is_active(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    pod.metadata.deletion_timestamp.is_none() && !matches!(phase, Some("Succeeded" | "Failed"))
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// How far along a pod is, lowest first: the order in which extra pods are deleted
/// (unscheduled, then pending, then not ready, then the youngest).
fn deletion_rank(pod: &Pod) -> (u8, u8, u8, std::cmp::Reverse<String>) {
    let scheduled = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .is_some_and(|n| !n.is_empty());
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    let created = pod
        .metadata
        .creation_timestamp
        .as_ref()
        .map(|t| t.0.to_string())
        .unwrap_or_default();
    (
        u8::from(scheduled),
        u8::from(phase == Some("Running")),
        u8::from(is_ready(pod)),
        std::cmp::Reverse(created),
    )
}

async fn reconcile(set: Arc<ReplicaSet>, context: Arc<Context>) -> Result<Action, ReplicaSetError> {
    let name = set.name_any();
    if set.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let namespace = set.namespace().unwrap_or_default();
    let uid = set.uid().unwrap_or_default();
    let spec = set.spec.clone().unwrap_or_default();
    let selector: Selector = spec
        .selector
        .clone()
        .try_into()
        .map_err(|_| ReplicaSetError::Selector(name.clone()))?;
    let pods_api = Api::<Pod>::namespaced(context.client.clone(), &namespace);
    let err = |action: &'static str| {
        let name = name.clone();
        move |source| ReplicaSetError::Api {
            action,
            name,
            source,
        }
    };
    let owner = set.controller_owner_ref(&()).map(|mut o| {
        o.block_owner_deletion = Some(true);
        o
    });
    let Some(owner) = owner else {
        return Ok(Action::await_change());
    };

    // Every pod of the namespace that is ours or could be: ours by controller
    // reference, or matching the selector.
    let pods = pods_api
        .list(&ListParams::default())
        .await
        .map_err(err("list pods"))?
        .items;
    let mut mine = Vec::new();
    for pod in pods {
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        let matches = !selector.selects_all() && selector.matches(&labels);
        match controller_uid(&pod) {
            Some(c) if c == uid && matches => mine.push(pod),
            Some(c) if c == uid => release(&pods_api, &pod, &uid)
                .await
                .map_err(err("release a pod"))?,
            None if matches && is_active(&pod) => {
                if let Some(adopted) = adopt(&pods_api, &pod, &owner)
                    .await
                    .map_err(err("adopt a pod"))?
                {
                    mine.push(adopted);
                }
            }
            _ => {}
        }
    }
    let active: Vec<&Pod> = mine.iter().filter(|p| is_active(p)).collect();
    let wanted = spec.replicas.unwrap_or(1).max(0) as usize;

    if active.len() < wanted {
        let missing = (wanted - active.len()).min(BURST);
        create_in_batches(&pods_api, &set, &owner, missing)
            .await
            .map_err(err("create pods"))?;
    } else if active.len() > wanted {
        let mut extra: Vec<&Pod> = active.clone();
        extra.sort_by_key(|p| deletion_rank(p));
        for pod in extra.into_iter().take((active.len() - wanted).min(BURST)) {
            match pods_api
                .delete(&pod.name_any(), &DeleteParams::default())
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(err("delete a pod")(e)),
            }
        }
    }

    // Status from what was seen this pass; the next pass (the pods' events) updates it.
    let labelled = mine
        .iter()
        .filter(|p| is_active(p))
        .filter(|p| {
            let labels = p.metadata.labels.clone().unwrap_or_default();
            let template = spec
                .template
                .as_ref()
                .and_then(|t| t.metadata.as_ref())
                .and_then(|m| m.labels.clone())
                .unwrap_or_default();
            template.iter().all(|(k, v)| labels.get(k) == Some(v))
        })
        .count();
    let ready = active.iter().filter(|p| is_ready(p)).count();
    let status = json!({"status": {
        "replicas": active.len(),
        "fullyLabeledReplicas": labelled,
        "readyReplicas": ready,
        "availableReplicas": ready,
        "observedGeneration": set.metadata.generation,
    }});
    let current = set.status.as_ref();
    let changed = current.is_none_or(|s| {
        s.replicas != active.len() as i32
            || s.ready_replicas.unwrap_or(0) != ready as i32
            || s.fully_labeled_replicas.unwrap_or(0) != labelled as i32
            || s.observed_generation != set.metadata.generation
    });
    if changed {
        Api::<ReplicaSet>::namespaced(context.client.clone(), &namespace)
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(status))
            .await
            .map_err(err("update the status"))?;
    }
    context.failing.forget(&name);
    Ok(Action::await_change())
}

/// Creates `count` pods from the template, 1, then 2, then 4 ... at a time, stopping
/// at the first failure as upstream's slow start does.
async fn create_in_batches(
    pods: &Api<Pod>,
    set: &ReplicaSet,
    owner: &OwnerReference,
    count: usize,
) -> Result<(), kube::Error> {
    let template = set
        .spec
        .as_ref()
        .and_then(|s| s.template.clone())
        .unwrap_or_default();
    let meta = template.metadata.unwrap_or_default();
    let pod = Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", set.name_any())),
            labels: meta.labels,
            annotations: meta.annotations,
            owner_references: Some(vec![owner.clone()]),
            ..ObjectMeta::default()
        },
        spec: template.spec,
        ..Pod::default()
    };
    let params = PostParams::default();
    let mut created = 0;
    let mut batch = 1;
    while created < count {
        let size = batch.min(count - created);
        let results =
            futures::future::join_all((0..size).map(|_| pods.create(&params, &pod))).await;
        created += size;
        if let Some(error) = results.into_iter().find_map(Result::err) {
            return Err(error);
        }
        batch *= 2;
    }
    Ok(())
}

/// Makes the set the pod's controller, guarded by the pod's uid; None if the pod
/// changed meanwhile.
async fn adopt(
    pods: &Api<Pod>,
    pod: &Pod,
    owner: &OwnerReference,
) -> Result<Option<Pod>, kube::Error> {
    let mut owners = pod.metadata.owner_references.clone().unwrap_or_default();
    owners.push(owner.clone());
    let patch = json!({"metadata": {"uid": pod.uid(), "ownerReferences": owners}});
    match pods
        .patch(
            &pod.name_any(),
            &PatchParams::default(),
            &Patch::Merge(patch),
        )
        .await
    {
        Ok(p) => Ok(Some(p)),
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(None),
        Err(e) => Err(e),
    }
}

/// Drops the set's reference from a pod that no longer matches its selector.
async fn release(pods: &Api<Pod>, pod: &Pod, uid: &str) -> Result<(), kube::Error> {
    let owners: Vec<&OwnerReference> = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .filter(|o| o.uid != uid)
        .collect();
    let patch = json!({"metadata": {"uid": pod.uid(), "ownerReferences": owners}});
    match pods
        .patch(
            &pod.name_any(),
            &PatchParams::default(),
            &Patch::Merge(patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

fn error_policy(set: Arc<ReplicaSet>, error: &ReplicaSetError, context: Arc<Context>) -> Action {
    let delay = context.failing.next(&set.name_any());
    tracing::warn!(%error, ?delay, "retrying");
    Action::requeue(delay)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(value: serde_json::Value) -> Pod {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn extra_pods_go_least_far_along_first() {
        let unscheduled = pod(json!({"metadata": {"name": "a"}, "spec": {"containers": []}}));
        let pending = pod(
            json!({"metadata": {"name": "b"}, "spec": {"containers": [], "nodeName": "n"},
            "status": {"phase": "Pending"}}),
        );
        let ready = pod(
            json!({"metadata": {"name": "c"}, "spec": {"containers": [], "nodeName": "n"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}),
        );
        let mut all = [&ready, &pending, &unscheduled];
        all.sort_by_key(|p| deletion_rank(p));
        let names: Vec<String> = all.iter().map(|p| p.name_any()).collect();
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[test]
    fn finished_and_deleting_pods_do_not_count() {
        assert!(!is_active(&pod(
            json!({"metadata": {"name": "a"}, "status": {"phase": "Succeeded"}})
        )));
        assert!(!is_active(&pod(
            json!({"metadata": {"name": "a", "deletionTimestamp": "2026-01-01T00:00:00Z"}})
        )));
        assert!(is_active(&pod(
            json!({"metadata": {"name": "a"}, "status": {"phase": "Running"}})
        )));
    }
}
