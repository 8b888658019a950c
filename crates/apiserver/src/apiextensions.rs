//! Serves CustomResourceDefinitions: a loop inside the API server follows the stored
//! definitions, records their NamesAccepted and Established conditions, serves each
//! established definition's versions (REST, discovery, OpenAPI) and, when a definition
//! is deleted, deletes its objects before letting the definition go.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use skiff_api::{CustomResource, ResourceInfo, Subresource, crd};
use tokio::sync::broadcast::error::RecvError;

use crate::cache::CachedObject;
use crate::handlers::Api;
use crate::object;
use crate::openapi::OpenApi;
use crate::status::ApiError;

/// Where CustomResourceDefinitions are stored.
pub const CRD_PREFIX: &str = "/registry/apiextensions.k8s.io/customresourcedefinitions/";

/// The finalizer that holds a deleted definition until its objects are gone.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

/// How often a deleted definition's remaining objects are checked again.
const CLEANUP_RETRY: Duration = Duration::from_millis(500);

/// Why a definition's status was not recorded.
enum StatusError {
    /// The definition changed since the snapshot the status was computed from.
    Changed(skiff_store::Error),
    Failed(ApiError),
}

/// The definitions' follower.
pub struct Definitions {
    api: Arc<Api>,
    openapi: Arc<OpenApi>,
    /// Definitions whose objects are being deleted, by name.
    cleaning: Mutex<HashSet<String>>,
}

impl Definitions {
    /// Serves the stored definitions now, then follows their changes until the runtime
    /// stops.
    pub async fn start(api: Arc<Api>, openapi: Arc<OpenApi>) -> Arc<Self> {
        let definitions = Arc::new(Definitions {
            api,
            openapi,
            cleaning: Mutex::new(HashSet::new()),
        });
        let cache = definitions.api.cache.resource(CRD_PREFIX);
        let (_, mut events) = cache.snapshot_and_subscribe(CRD_PREFIX, 0);
        definitions.sync().await;
        let follower = definitions.clone();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                }
                while events.try_recv().is_ok() {}
                follower.sync().await;
            }
        });
        definitions
    }

    /// Brings status, served resources and OpenAPI in line with the stored definitions.
    async fn sync(self: &Arc<Self>) {
        let cache = self.api.cache.resource(CRD_PREFIX);
        let mut stored: Vec<(Arc<CachedObject>, Value)> = cache
            .snapshot(CRD_PREFIX, self.api.cache.revision())
            .objects
            .into_iter()
            .filter_map(|c| c.value().ok().map(|v| (c, v)))
            .collect();
        stored.sort_by_key(|(_, crd)| creation_order(crd));

        let mut served = Vec::new();
        let mut published = Vec::new();
        let now = object::now_rfc3339();
        for i in 0..stored.len() {
            let (cached, crd) = &stored[i];
            let others = stored.iter().filter(|(c, _)| c.key != cached.key);
            let status = desired_status(crd, others.map(|(_, v)| v), &now);
            let crd = match self.write_status(cached, crd, status).await {
                Ok(c) => c,
                // The definition changed after the snapshot: its event brings another
                // sync, and until then it is served as it stood.
                Err(StatusError::Changed(error)) => {
                    tracing::debug!(%error, crd = %object::name(crd), "definition changed while recording its status");
                    crd.clone()
                }
                Err(StatusError::Failed(error)) => {
                    tracing::warn!(%error, crd = %object::name(crd), "cannot record definition status");
                    crd.clone()
                }
            };
            if object::is_deleting(&crd) {
                self.clean_up(&crd);
            }
            if crd::is_condition_true(&crd, crd::ESTABLISHED) {
                served.extend(resources_of(&crd));
                published.push(crd.clone());
            }
            stored[i].1 = crd;
        }
        self.api.registry.set_custom(served);
        self.openapi.set_custom(published);
    }

    /// Writes the definition's new status if it changed; returns the definition as it
    /// now stands.
    async fn write_status(
        &self,
        cached: &CachedObject,
        crd: &Value,
        status: Value,
    ) -> Result<Value, StatusError> {
        if crd.get("status") == Some(&status) {
            return Ok(crd.clone());
        }
        let mut updated = crd.clone();
        updated["status"] = status;
        let bytes = object::encode_for_store(&mut updated).map_err(StatusError::Failed)?;
        let kv = self
            .api
            .store
            .update(&cached.key, bytes, cached.mod_revision)
            .await
            .map_err(|error| match error {
                skiff_store::Error::Conflict { .. } => StatusError::Changed(error),
                other => StatusError::Failed(other.into()),
            })?;
        object::set_resource_version(&mut updated, kv.mod_revision);
        tracing::debug!(crd = %object::name(crd), "definition status recorded");
        Ok(updated)
    }

    /// Starts deleting a deleted definition's objects, once per definition.
    fn clean_up(self: &Arc<Self>, crd: &Value) {
        let name = object::name(crd).to_string();
        if !object::finalizers(crd)
            .iter()
            .any(|f| f == CLEANUP_FINALIZER)
        {
            return;
        }
        if !self
            .cleaning
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.clone())
        {
            return;
        }
        let this = self.clone();
        let prefix = storage_prefix(crd);
        tokio::spawn(async move {
            loop {
                match this.delete_objects(&prefix).await {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, crd = %name, "cannot delete custom resources")
                    }
                }
                tokio::time::sleep(CLEANUP_RETRY).await;
            }
            if let Err(error) = this.release(&name).await {
                tracing::warn!(%error, crd = %name, "cannot release definition");
            }
            this.cleaning
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&name);
        });
    }

    /// Deletes the objects under `prefix` (or marks those with finalizers as deleted);
    /// returns how many were left.
    async fn delete_objects(&self, prefix: &str) -> Result<usize, ApiError> {
        self.api.cache.wait_fresh(None).await?;
        let objects = self
            .api
            .cache
            .resource(prefix)
            .snapshot(prefix, self.api.cache.revision())
            .objects;
        for cached in &objects {
            let mut obj = cached.value()?;
            let result = if object::finalizers(&obj).is_empty() {
                self.api
                    .store
                    .delete(&cached.key, Some(cached.mod_revision))
                    .await
                    .map(|_| ())
            } else if !object::is_deleting(&obj) {
                object::meta_mut(&mut obj).insert(
                    "deletionTimestamp".into(),
                    Value::String(object::now_rfc3339()),
                );
                object::meta_mut(&mut obj).insert("deletionGracePeriodSeconds".into(), 0.into());
                let bytes = object::encode_for_store(&mut obj)?;
                self.api
                    .store
                    .update(&cached.key, bytes, cached.mod_revision)
                    .await
                    .map(|_| ())
            } else {
                Ok(())
            };
            match result {
                Ok(()) | Err(skiff_store::Error::Conflict { .. }) => {}
                Err(skiff_store::Error::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(objects.len())
    }

    /// Removes the cleanup finalizer of a definition whose objects are gone, deleting
    /// the definition when no other finalizer holds it.
    async fn release(&self, name: &str) -> Result<(), ApiError> {
        let key = format!("{CRD_PREFIX}{name}");
        loop {
            let Some(kv) = self.api.store.get(&key).await? else {
                return Ok(());
            };
            let mut crd = object::decode_from_store(&kv.value, kv.mod_revision)?;
            let finalizers: Vec<String> = object::finalizers(&crd)
                .into_iter()
                .filter(|f| f != CLEANUP_FINALIZER)
                .collect();
            let result = if finalizers.is_empty() {
                self.api
                    .store
                    .delete(&key, Some(kv.mod_revision))
                    .await
                    .map(|_| ())
            } else {
                object::meta_mut(&mut crd).insert("finalizers".into(), finalizers.into());
                let bytes = object::encode_for_store(&mut crd)?;
                self.api
                    .store
                    .update(&key, bytes, kv.mod_revision)
                    .await
                    .map(|_| ())
            };
            match result {
                Err(skiff_store::Error::Conflict { .. }) => continue,
                Err(skiff_store::Error::NotFound(_)) => return Ok(()),
                other => return other.map_err(Into::into),
            }
        }
    }
}

/// The status a definition should have: the names it may use given the other
/// definitions of its group, NamesAccepted, Established once its names are accepted,
/// and Terminating while it is being deleted.
fn desired_status<'a>(crd: &Value, others: impl Iterator<Item = &'a Value>, now: &str) -> Value {
    let group = crd
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let taken = crd::TakenNames::of_group(group, others);
    let outcome = crd::compute_names(crd, &taken);
    let mut next = crd.clone();
    crd::set_accepted_names(&mut next, &outcome.accepted_names);
    crd::set_condition(&mut next, &outcome.names_accepted, now);
    if outcome.names_accepted.status == "True" {
        crd::set_condition(&mut next, &crd::established(), now);
    } else if !crd::is_condition_true(crd, crd::ESTABLISHED) {
        crd::set_condition(&mut next, &outcome.established, now);
    }
    if object::is_deleting(crd) {
        crd::set_condition(&mut next, &crd::terminating_in_progress(), now);
    }
    next.get("status").cloned().unwrap_or(Value::Null)
}

/// Definitions are served in creation order, so the older one keeps a contested name.
fn creation_order(crd: &Value) -> (String, String) {
    (
        object::meta_str(crd, "creationTimestamp")
            .unwrap_or_default()
            .to_string(),
        object::name(crd).to_string(),
    )
}

/// `/registry/<group>/<plural>/`, where the objects of a definition are stored.
fn storage_prefix(crd: &Value) -> String {
    let group = crd
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let plural = crd
        .pointer("/spec/names/plural")
        .and_then(Value::as_str)
        .unwrap_or_default();
    format!("/registry/{group}/{plural}/")
}

/// The served versions of an established definition, highest priority first, under
/// its accepted names.
fn resources_of(crd: &Value) -> Vec<Arc<ResourceInfo>> {
    let str_at = |p: &str| {
        crd.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let strings_at = |p: &str| -> Vec<String> {
        crd.pointer(p)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let info = crd::CrdInfo::from_value(crd);
    let mut served: Vec<&str> = info.served_versions().map(|v| v.name.as_str()).collect();
    served.sort_by_key(|v| version_priority(v));
    served
        .into_iter()
        .filter_map(|version| CustomResource::new(crd, version))
        .map(|custom| {
            let mut subresources = Vec::new();
            if custom.version.subresources.status {
                subresources.push(Subresource::Status);
            }
            if custom.version.subresources.scale.is_some() {
                subresources.push(Subresource::Scale);
            }
            let kind = str_at("/status/acceptedNames/kind");
            Arc::new(ResourceInfo {
                group: str_at("/spec/group"),
                version: custom.version.name.clone(),
                singular: match str_at("/status/acceptedNames/singular") {
                    s if s.is_empty() => kind.to_ascii_lowercase(),
                    s => s,
                },
                kind,
                plural: str_at("/status/acceptedNames/plural"),
                namespaced: str_at("/spec/scope") == "Namespaced",
                short_names: strings_at("/status/acceptedNames/shortNames"),
                categories: strings_at("/status/acceptedNames/categories"),
                subresources,
                custom: Some(Arc::new(custom)),
            })
        })
        .collect()
}

/// Sort key of a version name in upstream's order: GA before beta before alpha, higher
/// numbers first, then any other name alphabetically.
fn version_priority(name: &str) -> (u8, i64, i64, String) {
    let Some(rest) = name.strip_prefix('v') else {
        return (3, 0, 0, name.to_string());
    };
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let Ok(major) = rest[..digits].parse::<i64>() else {
        return (3, 0, 0, name.to_string());
    };
    let tail = &rest[digits..];
    let (level, minor) = if tail.is_empty() {
        (0, 0)
    } else if let Some(n) = tail.strip_prefix("beta") {
        (1, n.parse::<i64>().unwrap_or(-1))
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (2, n.parse::<i64>().unwrap_or(-1))
    } else {
        return (3, 0, 0, name.to_string());
    };
    if minor < 0 && level > 0 {
        return (3, 0, 0, name.to_string());
    }
    (level, -major, -minor, String::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_ga_then_beta_then_alpha_then_others() {
        let mut names = vec![
            "v1alpha1",
            "foo1",
            "v1beta1",
            "v2",
            "v1",
            "v2beta1",
            "v10beta3",
            "v11alpha2",
            "foo10",
        ];
        names.sort_by_key(|n| version_priority(n));
        assert_eq!(
            names,
            vec![
                "v2",
                "v1",
                "v10beta3",
                "v2beta1",
                "v1beta1",
                "v11alpha2",
                "v1alpha1",
                "foo1",
                "foo10"
            ]
        );
    }
}
