//! The garbage collector: deletes objects whose owners (ownerReferences) are all gone,
//! and carries out the two propagation policies that need the owner to wait:
//! `orphan` (the dependents lose their reference to the owner, then the owner goes)
//! and `foregroundDeletion` (the dependents are deleted first; the owner waits for
//! those that block its deletion).
//!
//! It watches the metadata of every listable, deletable resource the API serves
//! (found through discovery, again every few seconds so custom resources join),
//! keeps an owner → dependents graph, and decides in one loop. Before deleting a
//! dependent it confirms with a live read that each owner is really absent.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Client;
use kube::api::{
    Api, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions, PropagationPolicy,
};
use kube::core::{ApiResource, PartialObjectMeta};
use kube::discovery::{Discovery, Scope, verbs};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::Stop;

/// The controller's name in logs and errors.
pub const NAME: &str = "garbage-collector";

const ORPHAN: &str = "orphan";
const FOREGROUND: &str = "foregroundDeletion";

/// How often discovery runs again to find new (custom) resources.
const REDISCOVER: Duration = Duration::from_secs(5);
/// How soon work that failed is tried again.
const RETRY: Duration = Duration::from_secs(1);

type Meta = PartialObjectMeta<DynamicObject>;

/// A watch event and the index of its resource in `Collector::resources`.
type Input = (usize, watcher::Event<Meta>);

struct Watched {
    api: ApiResource,
    namespaced: bool,
    task: JoinHandle<()>,
    synced: bool,
    /// Uids seen since the watch's last `Init`.
    relist: Option<HashSet<String>>,
}

struct Node {
    resource: usize,
    namespace: Option<String>,
    name: String,
    owners: Vec<OwnerReference>,
    deleting: bool,
    finalizers: Vec<String>,
}

struct Collector {
    client: Client,
    tx: mpsc::UnboundedSender<Input>,
    resources: Vec<Watched>,
    /// (apiVersion, kind) → index in `resources`.
    kinds: HashMap<(String, String), usize>,
    nodes: HashMap<String, Node>,
    dependents: HashMap<String, HashSet<String>>,
    /// Dependents whose owners may all be gone.
    suspects: BTreeSet<String>,
    /// Owners being deleted with the orphan or foreground policy.
    deleting_owners: BTreeSet<String>,
}

/// Runs the collector until shutdown is requested; returns its name.
pub async fn run(client: Client, stop: Stop) -> &'static str {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut collector = Collector {
        client,
        tx,
        resources: Vec::new(),
        kinds: HashMap::new(),
        nodes: HashMap::new(),
        dependents: HashMap::new(),
        suspects: BTreeSet::new(),
        deleting_owners: BTreeSet::new(),
    };
    tracing::info!(controller = NAME, "controller started");
    let mut stopped = std::pin::pin!(stop.requested());
    let mut rediscover = tokio::time::interval(REDISCOVER);
    let mut retry = tokio::time::interval(RETRY);
    loop {
        tokio::select! {
            () = &mut stopped => break,
            _ = rediscover.tick() => collector.discover().await,
            Some((resource, event)) = rx.recv() => {
                collector.handle(resource, event);
                while let Ok((resource, event)) = rx.try_recv() {
                    collector.handle(resource, event);
                }
                collector.work().await;
            }
            _ = retry.tick() => collector.work().await,
        }
    }
    for watched in &collector.resources {
        watched.task.abort();
    }
    tracing::info!(controller = NAME, "controller stopped");
    NAME
}

impl Collector {
    async fn discover(&mut self) {
        let discovery = match Discovery::new(self.client.clone()).run_aggregated().await {
            Ok(d) => d,
            Err(error) => {
                tracing::debug!(%error, controller = NAME, "discovery failed");
                return;
            }
        };
        for (api, caps) in discovery.groups().flat_map(|g| g.recommended_resources()) {
            let usable = [verbs::LIST, verbs::WATCH, verbs::DELETE]
                .iter()
                .all(|v| caps.supports_operation(v));
            // Events own nothing and are many; upstream's collector skips them too.
            if !usable || api.plural == "events" {
                continue;
            }
            let key = (api.api_version.clone(), api.kind.clone());
            if self.kinds.contains_key(&key) {
                continue;
            }
            let index = self.resources.len();
            let tx = self.tx.clone();
            let stream = watcher::watcher(
                Api::<Meta>::all_with(self.client.clone(), &api),
                watcher::Config::default(),
            )
            .default_backoff();
            let task = tokio::spawn(async move {
                let mut stream = std::pin::pin!(stream);
                while let Some(event) = stream.next().await {
                    match event {
                        Ok(event) => {
                            if tx.send((index, event)).is_err() {
                                return;
                            }
                        }
                        Err(error) => tracing::debug!(%error, controller = NAME, "watch error"),
                    }
                }
            });
            self.kinds.insert(key, index);
            self.resources.push(Watched {
                api,
                namespaced: matches!(caps.scope, Scope::Namespaced),
                task,
                synced: false,
                relist: None,
            });
        }
    }

    fn handle(&mut self, resource: usize, event: watcher::Event<Meta>) {
        match event {
            watcher::Event::Init => self.resources[resource].relist = Some(HashSet::new()),
            watcher::Event::InitApply(meta) => {
                if let (Some(seen), Some(uid)) = (
                    self.resources[resource].relist.as_mut(),
                    meta.metadata.uid.clone(),
                ) {
                    seen.insert(uid);
                }
                self.apply(resource, meta);
            }
            watcher::Event::InitDone => {
                let seen = self.resources[resource].relist.take().unwrap_or_default();
                let gone: Vec<String> = self
                    .nodes
                    .iter()
                    .filter(|(uid, n)| n.resource == resource && !seen.contains(*uid))
                    .map(|(uid, _)| uid.clone())
                    .collect();
                for uid in gone {
                    self.remove(&uid);
                }
                self.resources[resource].synced = true;
                // Dependents of owners nobody has seen are suspects now.
                let orphans: Vec<String> = self
                    .nodes
                    .iter()
                    .filter(|(_, n)| n.owners.iter().any(|o| !self.nodes.contains_key(&o.uid)))
                    .map(|(uid, _)| uid.clone())
                    .collect();
                self.suspects.extend(orphans);
            }
            watcher::Event::Apply(meta) => self.apply(resource, meta),
            watcher::Event::Delete(meta) => {
                if let Some(uid) = meta.metadata.uid.clone() {
                    self.remove(&uid);
                }
            }
        }
    }

    fn apply(&mut self, resource: usize, meta: Meta) {
        let Some(uid) = meta.metadata.uid.clone() else {
            return;
        };
        let m = meta.metadata;
        let node = Node {
            resource,
            namespace: m.namespace,
            name: m.name.unwrap_or_default(),
            owners: m.owner_references.unwrap_or_default(),
            deleting: m.deletion_timestamp.is_some(),
            finalizers: m.finalizers.unwrap_or_default(),
        };
        if let Some(old) = self.nodes.get(&uid) {
            for owner in &old.owners {
                if let Some(set) = self.dependents.get_mut(&owner.uid) {
                    set.remove(&uid);
                }
            }
        }
        for owner in &node.owners {
            self.dependents
                .entry(owner.uid.clone())
                .or_default()
                .insert(uid.clone());
            if !self.nodes.contains_key(&owner.uid) {
                self.suspects.insert(uid.clone());
            }
        }
        let waits = node.deleting
            && node
                .finalizers
                .iter()
                .any(|f| f == ORPHAN || f == FOREGROUND);
        if waits {
            self.deleting_owners.insert(uid.clone());
        }
        self.nodes.insert(uid, node);
    }

    fn remove(&mut self, uid: &str) {
        let Some(node) = self.nodes.remove(uid) else {
            return;
        };
        for owner in &node.owners {
            if let Some(set) = self.dependents.get_mut(&owner.uid) {
                set.remove(uid);
            }
            // An owner waiting in foreground deletion may be free to go now.
            if self.nodes.get(&owner.uid).is_some_and(|o| o.deleting) {
                self.deleting_owners.insert(owner.uid.clone());
            }
        }
        if let Some(dependents) = self.dependents.get(uid) {
            self.suspects.extend(dependents.iter().cloned());
        }
    }

    fn all_synced(&self) -> bool {
        !self.resources.is_empty() && self.resources.iter().all(|r| r.synced)
    }

    fn api_of(&self, resource: usize, namespace: Option<&str>) -> Api<DynamicObject> {
        let watched = &self.resources[resource];
        match (watched.namespaced, namespace) {
            (true, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &watched.api),
            _ => Api::all_with(self.client.clone(), &watched.api),
        }
    }

    async fn work(&mut self) {
        if !self.all_synced() {
            return;
        }
        for uid in std::mem::take(&mut self.deleting_owners) {
            if let Err(error) = self.finish_owner(&uid).await {
                tracing::debug!(%error, controller = NAME, "owner deletion step failed, retrying");
                self.deleting_owners.insert(uid);
            }
        }
        for uid in std::mem::take(&mut self.suspects) {
            if let Err(error) = self.check_dependent(&uid).await {
                tracing::debug!(%error, controller = NAME, "dependent check failed, retrying");
                self.suspects.insert(uid);
            }
        }
    }

    /// Whether the owner exists: in the graph, or else by a live read (the graph may
    /// not have seen an owner created a moment ago). An owner of an unknown kind is
    /// taken to exist, so nothing is deleted on a guess.
    async fn owner_exists(
        &self,
        owner: &OwnerReference,
        namespace: Option<&str>,
    ) -> kube::Result<bool> {
        if self.nodes.contains_key(&owner.uid) {
            return Ok(true);
        }
        let Some(&resource) = self
            .kinds
            .get(&(owner.api_version.clone(), owner.kind.clone()))
        else {
            return Ok(true);
        };
        let found = self
            .api_of(resource, namespace)
            .get_metadata_opt(&owner.name)
            .await?;
        Ok(found.is_some_and(|o| o.metadata.uid.as_deref() == Some(owner.uid.as_str())))
    }

    async fn check_dependent(&mut self, uid: &str) -> kube::Result<()> {
        let Some(node) = self.nodes.get(uid) else {
            return Ok(());
        };
        if node.deleting || node.owners.is_empty() {
            return Ok(());
        }
        let namespace = node.namespace.clone();
        let mut absent = Vec::new();
        for owner in &node.owners {
            if !self.owner_exists(owner, namespace.as_deref()).await? {
                absent.push(owner.uid.clone());
            }
        }
        if absent.is_empty() {
            return Ok(());
        }
        let (resource, name) = (node.resource, node.name.clone());
        let api = self.api_of(resource, namespace.as_deref());
        if absent.len() == node.owners.len() {
            tracing::info!(controller = NAME, object = %name, "deleting an object whose owners are gone");
            let params = DeleteParams {
                propagation_policy: Some(PropagationPolicy::Background),
                preconditions: Some(Preconditions {
                    uid: Some(uid.to_string()),
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            return match api.delete(&name, &params).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
                Err(e) => Err(e),
            };
        }
        // Some owners live on: only the references to the gone ones are dropped.
        let kept: Vec<&OwnerReference> = node
            .owners
            .iter()
            .filter(|o| !absent.contains(&o.uid))
            .collect();
        drop_references(&api, &name, uid, &kept).await
    }

    async fn finish_owner(&mut self, uid: &str) -> kube::Result<()> {
        let Some(node) = self.nodes.get(uid) else {
            return Ok(());
        };
        if !node.deleting {
            return Ok(());
        }
        let owner_api = self.api_of(node.resource, node.namespace.as_deref());
        let owner_name = node.name.clone();
        let dependents: Vec<String> = self
            .dependents
            .get(uid)
            .map(|d| d.iter().cloned().collect())
            .unwrap_or_default();

        if node.finalizers.iter().any(|f| f == ORPHAN) {
            for dependent in &dependents {
                let Some(dep) = self.nodes.get(dependent) else {
                    continue;
                };
                let kept: Vec<&OwnerReference> =
                    dep.owners.iter().filter(|o| o.uid != uid).collect();
                let api = self.api_of(dep.resource, dep.namespace.as_deref());
                drop_references(&api, &dep.name, dependent, &kept).await?;
            }
            return remove_finalizer(&owner_api, &owner_name, uid, &node.finalizers, ORPHAN).await;
        }

        if node.finalizers.iter().any(|f| f == FOREGROUND) {
            let mut blocking = 0;
            for dependent in &dependents {
                let Some(dep) = self.nodes.get(dependent) else {
                    continue;
                };
                let blocks = dep
                    .owners
                    .iter()
                    .any(|o| o.uid == uid && o.block_owner_deletion == Some(true));
                if blocks {
                    blocking += 1;
                }
                if dep.deleting {
                    continue;
                }
                let policy = if blocks {
                    PropagationPolicy::Foreground
                } else {
                    PropagationPolicy::Background
                };
                let params = DeleteParams {
                    propagation_policy: Some(policy),
                    ..DeleteParams::default()
                };
                let api = self.api_of(dep.resource, dep.namespace.as_deref());
                match api.delete(&dep.name, &params).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => return Err(e),
                }
            }
            if blocking > 0 {
                // Comes back when a blocking dependent goes.
                return Ok(());
            }
            return remove_finalizer(&owner_api, &owner_name, uid, &node.finalizers, FOREGROUND)
                .await;
        }
        Ok(())
    }
}

/// Sets the object's ownerReferences to `kept`, guarded by its uid.
async fn drop_references(
    api: &Api<DynamicObject>,
    name: &str,
    uid: &str,
    kept: &[&OwnerReference],
) -> kube::Result<()> {
    let patch = json!({"metadata": {"uid": uid, "ownerReferences": kept}});
    match api
        .patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

async fn remove_finalizer(
    api: &Api<DynamicObject>,
    name: &str,
    uid: &str,
    finalizers: &[String],
    finalizer: &str,
) -> kube::Result<()> {
    let rest: Vec<&String> = finalizers.iter().filter(|f| *f != finalizer).collect();
    let patch = json!({"metadata": {"uid": uid, "finalizers": rest}});
    match api
        .patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}
