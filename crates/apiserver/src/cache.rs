//! The watch cache: one store watch over every key feeds an in-memory copy of the
//! current objects per resource plus a window of recent events, so reads, lists and
//! watches are served from memory and each event is encoded once for all watchers.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Map, Value};
use skiff_store::{EventKind, KeyValue, Revision, Store};
use tokio::sync::{broadcast, watch};

use crate::object;
use crate::status::ApiError;

/// Every object key starts with this.
pub const REGISTRY_PREFIX: &str = "/registry/";

/// Events kept per resource for watches that resume from a past resourceVersion.
const HISTORY_LEN: usize = 10_000;

/// Live events buffered per watcher before it is considered too slow.
const BROADCAST_CAPACITY: usize = 4096;

/// How long a read waits for the cache to reach the store's revision.
const FRESHNESS_TIMEOUT: Duration = Duration::from_secs(3);

/// One object as the cache holds it: its JSON with the resourceVersion filled in.
#[derive(Debug)]
pub struct CachedObject {
    pub key: String,
    pub json: Bytes,
    pub labels: Map<String, Value>,
    pub mod_revision: Revision,
}

impl CachedObject {
    fn from_kv(kv: &KeyValue, revision: Revision) -> Result<Self, ApiError> {
        let obj = object::decode_from_store(&kv.value, revision)?;
        let labels = object::meta(&obj)
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let json = serde_json::to_vec(&obj).map_err(ApiError::internal)?;
        Ok(CachedObject {
            key: kv.key.clone(),
            json: json.into(),
            labels,
            mod_revision: revision,
        })
    }

    /// The object, decoded.
    pub fn value(&self) -> Result<Value, ApiError> {
        serde_json::from_slice(&self.json).map_err(ApiError::internal)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// A change to one object. For deletions `object` is the last state with the
/// resourceVersion of the deletion.
#[derive(Debug)]
pub struct CacheEvent {
    pub kind: EventType,
    pub object: Arc<CachedObject>,
    pub prev: Option<Arc<CachedObject>>,
    pub revision: Revision,
}

/// What a watcher receives live.
#[derive(Clone, Debug)]
pub enum Live {
    Event(Arc<CacheEvent>),
    /// The cache was rebuilt; watchers must end so clients relist.
    Reset,
}

struct ResourceState {
    objects: BTreeMap<String, Arc<CachedObject>>,
    history: VecDeque<Arc<CacheEvent>>,
    /// Every event of this resource after this revision is in `history`.
    oldest: Revision,
    /// Revision of the last event applied to this resource.
    revision: Revision,
}

/// The cache of one resource (one storage prefix).
pub struct ResourceCache {
    state: RwLock<ResourceState>,
    live: broadcast::Sender<Live>,
}

/// A consistent view of one resource's objects under a key prefix.
pub struct Snapshot {
    pub objects: Vec<Arc<CachedObject>>,
    pub revision: Revision,
}

/// Backlog and live feed for one watch.
pub struct Subscription {
    pub backlog: Vec<Arc<CacheEvent>>,
    pub live: broadcast::Receiver<Live>,
}

impl ResourceCache {
    fn new(oldest: Revision) -> Self {
        ResourceCache {
            state: RwLock::new(ResourceState {
                objects: BTreeMap::new(),
                history: VecDeque::new(),
                oldest,
                revision: oldest,
            }),
            live: broadcast::channel(BROADCAST_CAPACITY).0,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, ResourceState> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, ResourceState> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, key: &str) -> Option<Arc<CachedObject>> {
        self.read().objects.get(key).cloned()
    }

    /// The objects whose key starts with `prefix`, with the revision they were read at.
    pub fn snapshot(&self, prefix: &str, global: Revision) -> Snapshot {
        let state = self.read();
        let objects = state
            .objects
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix));
        Snapshot {
            objects: objects.map(|(_, v)| v.clone()).collect(),
            revision: state.revision.max(global),
        }
    }

    /// The current objects under `prefix` and the live feed after them, atomically.
    pub fn snapshot_and_subscribe(
        &self,
        prefix: &str,
        global: Revision,
    ) -> (Snapshot, broadcast::Receiver<Live>) {
        let state = self.read();
        let rx = self.live.subscribe();
        let objects = state
            .objects
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix));
        let snapshot = Snapshot {
            objects: objects.map(|(_, v)| v.clone()).collect(),
            revision: state.revision.max(global),
        };
        (snapshot, rx)
    }

    /// Events after `after` and the live feed that follows them, or 410 when the
    /// window no longer reaches back that far.
    pub fn subscribe_after(&self, after: Revision) -> Result<Subscription, ApiError> {
        let state = self.read();
        if after < state.oldest {
            return Err(ApiError::Gone {
                message: format!("too old resource version: {after} ({})", state.oldest),
            });
        }
        let live = self.live.subscribe();
        let start = state.history.partition_point(|e| e.revision <= after);
        let backlog: Vec<_> = state.history.range(start..).cloned().collect();
        Ok(Subscription { backlog, live })
    }

    /// Takes every live event already sent to `rx` and a revision that a bookmark may
    /// carry after them: no event of this resource at or below it is still to come.
    pub fn drain_for_bookmark(
        &self,
        rx: &mut broadcast::Receiver<Live>,
        global: &watch::Receiver<Revision>,
    ) -> (Vec<Result<Live, broadcast::error::TryRecvError>>, Revision) {
        let state = self.read();
        let mut drained = Vec::new();
        loop {
            match rx.try_recv() {
                Err(broadcast::error::TryRecvError::Empty) => break,
                Err(broadcast::error::TryRecvError::Closed) => {
                    drained.push(Err(broadcast::error::TryRecvError::Closed));
                    break;
                }
                item => drained.push(item),
            }
        }
        let revision = state.revision.max(*global.borrow());
        (drained, revision)
    }

    fn apply(&self, event: skiff_store::Event) -> Result<(), ApiError> {
        let revision = event.revision();
        let object = Arc::new(CachedObject::from_kv(&event.kv, revision)?);
        let mut state = self.write();
        let prev = match event.kind {
            EventKind::Put => state.objects.insert(event.kv.key.clone(), object.clone()),
            EventKind::Delete => state.objects.remove(&event.kv.key),
        };
        let kind = match (event.kind, &prev) {
            (EventKind::Delete, _) => EventType::Deleted,
            (EventKind::Put, None) => EventType::Added,
            (EventKind::Put, Some(_)) => EventType::Modified,
        };
        let cache_event = Arc::new(CacheEvent {
            kind,
            object,
            prev,
            revision,
        });
        state.history.push_back(cache_event.clone());
        if state.history.len() > HISTORY_LEN
            && let Some(dropped) = state.history.pop_front()
        {
            state.oldest = dropped.revision;
        }
        state.revision = revision;
        // Sent under the lock so that snapshots and subscriptions see no gap.
        let _ = self.live.send(Live::Event(cache_event));
        Ok(())
    }
}

/// All resource caches and the revision they have reached.
pub struct Cache {
    store: Arc<dyn Store>,
    resources: RwLock<HashMap<String, Arc<ResourceCache>>>,
    revision: watch::Sender<Revision>,
    /// The revision of the last full load: every event after it has been applied (or
    /// is being), so a prefix without a cache has had no event since.
    loaded_at: AtomicI64,
}

impl Cache {
    /// Loads every object from the store and starts following its changes.
    pub async fn start(store: Arc<dyn Store>) -> Result<Arc<Self>, ApiError> {
        let cache = Arc::new(Cache {
            store,
            resources: RwLock::new(HashMap::new()),
            revision: watch::channel(0).0,
            loaded_at: AtomicI64::new(0),
        });
        let revision = cache.load().await?;
        let follower = cache.clone();
        tokio::spawn(async move { follower.follow(revision).await });
        Ok(cache)
    }

    /// Reads every object into fresh resource caches; returns the revision read at.
    async fn load(&self) -> Result<Revision, ApiError> {
        let mut fresh: HashMap<String, ResourceState> = HashMap::new();
        let mut start_after: Option<String> = None;
        let mut at = None;
        loop {
            let page = self
                .store
                .list(REGISTRY_PREFIX, start_after.as_deref(), Some(5_000), at)
                .await?;
            let revision = page.revision;
            at = Some(revision);
            for kv in &page.items {
                let Some(prefix) = resource_prefix(&kv.key) else {
                    continue;
                };
                let object = Arc::new(CachedObject::from_kv(kv, kv.mod_revision)?);
                let state = fresh
                    .entry(prefix.to_string())
                    .or_insert_with(|| ResourceState {
                        objects: BTreeMap::new(),
                        history: VecDeque::new(),
                        oldest: revision,
                        revision,
                    });
                state.objects.insert(kv.key.clone(), object);
            }
            start_after = page.items.last().map(|kv| kv.key.clone());
            if !page.more {
                break;
            }
        }
        let revision = at.unwrap_or(0);
        self.loaded_at.store(revision, Ordering::Release);
        self.replace_all(fresh, revision);
        self.revision.send_replace(revision);
        Ok(revision)
    }

    fn replace_all(&self, mut fresh: HashMap<String, ResourceState>, revision: Revision) {
        let resources = self.resources.read().unwrap_or_else(|e| e.into_inner());
        for (prefix, cache) in resources.iter() {
            let mut state = cache.write();
            *state = fresh.remove(prefix).unwrap_or(ResourceState {
                objects: BTreeMap::new(),
                history: VecDeque::new(),
                oldest: revision,
                revision,
            });
            let _ = cache.live.send(Live::Reset);
        }
        drop(resources);
        let mut resources = self.resources.write().unwrap_or_else(|e| e.into_inner());
        for (prefix, state) in fresh {
            let cache = ResourceCache::new(revision);
            *cache.write() = state;
            resources.insert(prefix, Arc::new(cache));
        }
    }

    /// Applies store events forever; rebuilds from a fresh list when the watch breaks.
    async fn follow(self: Arc<Self>, mut revision: Revision) {
        loop {
            match self.store.watch(REGISTRY_PREFIX, revision).await {
                Ok(mut events) => {
                    while let Some(item) = events.recv().await {
                        match item {
                            Ok(event) => {
                                revision = event.revision();
                                self.apply(event);
                            }
                            Err(error) => {
                                tracing::warn!(%error, "watch cache lost its store watch");
                                break;
                            }
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, revision, "watch cache cannot watch the store")
                }
            }
            if Arc::strong_count(&self) == 1 {
                return;
            }
            match self.load().await {
                Ok(r) => revision = r,
                Err(error) => {
                    tracing::error!(%error, "watch cache cannot reload from the store");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    fn apply(&self, event: skiff_store::Event) {
        let revision = event.revision();
        if let Some(prefix) = resource_prefix(&event.kv.key) {
            let cache = self.resource(prefix);
            if let Err(error) = cache.apply(event) {
                tracing::error!(%error, revision, "watch cache cannot apply an event");
            }
        }
        self.revision.send_replace(revision);
    }

    /// The cache of the resource stored under `prefix` (`/registry/core/pods/`).
    pub fn resource(&self, prefix: &str) -> Arc<ResourceCache> {
        if let Some(c) = self
            .resources
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(prefix)
        {
            return c.clone();
        }
        let mut resources = self.resources.write().unwrap_or_else(|e| e.into_inner());
        // No event of this prefix came since the last load (it would have made the
        // cache), so its window reaches back to the load: a watch from a list the store
        // served before this cache existed still works.
        let oldest = self.loaded_at.load(Ordering::Acquire);
        resources
            .entry(prefix.to_string())
            .or_insert_with(|| Arc::new(ResourceCache::new(oldest)))
            .clone()
    }

    /// The revision the cache has applied.
    pub fn revision(&self) -> Revision {
        *self.revision.borrow()
    }

    /// Follows the revision the cache has applied.
    pub fn revision_receiver(&self) -> watch::Receiver<Revision> {
        self.revision.subscribe()
    }

    /// Waits until the cache has applied every write the store acknowledged so far
    /// (or `at_least`, when larger), so reads see the caller's own writes.
    pub async fn wait_fresh(&self, at_least: Option<Revision>) -> Result<Revision, ApiError> {
        let target = self.store.current_revision().max(at_least.unwrap_or(0));
        let mut rx = self.revision.subscribe();
        let wait = rx.wait_for(|r| *r >= target);
        match tokio::time::timeout(FRESHNESS_TIMEOUT, wait).await {
            Ok(Ok(r)) => Ok(*r),
            Ok(Err(_)) => Err(ApiError::ServiceUnavailable {
                message: "watch cache stopped".into(),
            }),
            Err(_) => Err(ApiError::Timeout {
                message: format!(
                    "Too large resource version: {target}, current: {}",
                    self.revision()
                ),
            }),
        }
    }
}

/// `/registry/GROUP/RESOURCE/` of a key.
pub fn resource_prefix(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(REGISTRY_PREFIX)?;
    let group_end = rest.find('/')?;
    let resource_end = rest[group_end + 1..].find('/')?;
    Some(&key[..REGISTRY_PREFIX.len() + group_end + 1 + resource_end + 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_prefix_keeps_group_and_resource() {
        assert_eq!(
            resource_prefix("/registry/core/pods/ns/web"),
            Some("/registry/core/pods/")
        );
        assert_eq!(
            resource_prefix("/registry/core/namespaces/x"),
            Some("/registry/core/namespaces/")
        );
        assert_eq!(resource_prefix("/other/x"), None);
        assert_eq!(resource_prefix("/registry/core"), None);
    }
}
