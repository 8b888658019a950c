//! A namespace's content: which resources it can hold, deleting them, and what is left.

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt, stream};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams};
use kube::discovery::{ApiCapabilities, ApiResource, Discovery, Scope, verbs};
use kube::{Client, ResourceExt};

/// How many resources are swept at once.
const CONCURRENT_RESOURCES: usize = 8;

/// A namespaced resource the controller can empty.
#[derive(Debug, Clone)]
pub struct Resource {
    api: ApiResource,
    /// Whether `deletecollection` is served; otherwise objects are deleted one by one.
    collection_delete: bool,
}

impl Resource {
    /// Upstream's `plural.group` form, `configmaps` for the core group.
    pub fn label(&self) -> String {
        if self.api.group.is_empty() {
            self.api.plural.clone()
        } else {
            format!("{}.{}", self.api.plural, self.api.group)
        }
    }
}

/// A resource whose deletion or listing failed.
#[derive(Debug)]
pub struct Failure {
    pub resource: String,
    pub source: kube::Error,
}

/// What one pass over a namespace's content did and found.
#[derive(Debug, Default)]
pub struct Sweep {
    /// Resources that could not be emptied or listed.
    pub failures: Vec<Failure>,
    /// Objects still present, by resource label.
    pub remaining: BTreeMap<String, usize>,
    /// Objects still present, by the finalizers they carry.
    pub finalizers: BTreeMap<String, usize>,
}

impl Sweep {
    /// True when the namespace holds nothing any more and nothing failed.
    pub fn is_clean(&self) -> bool {
        self.failures.is_empty() && self.remaining.is_empty()
    }

    fn add(&mut self, resource: &Resource, outcome: Result<Vec<Leftover>, kube::Error>) {
        let leftovers = match outcome {
            Ok(leftovers) => leftovers,
            Err(source) => {
                self.failures.push(Failure {
                    resource: resource.label(),
                    source,
                });
                return;
            }
        };
        if leftovers.is_empty() {
            return;
        }
        self.remaining.insert(resource.label(), leftovers.len());
        for finalizer in leftovers.into_iter().flat_map(|l| l.finalizers) {
            *self.finalizers.entry(finalizer).or_default() += 1;
        }
    }
}

/// An object still in the namespace after its deletion was requested.
#[derive(Debug)]
struct Leftover {
    finalizers: Vec<String>,
}

/// Every namespaced resource, in its preferred version, that can be listed and deleted.
pub async fn discover(client: &Client) -> Result<Vec<Resource>, kube::Error> {
    let discovery = Discovery::new(client.clone()).run_aggregated().await?;
    Ok(discovery
        .groups()
        .flat_map(|group| group.recommended_resources())
        .filter_map(|(api, caps)| deletable(api, &caps))
        .collect())
}

fn deletable(api: ApiResource, caps: &ApiCapabilities) -> Option<Resource> {
    let namespaced = matches!(caps.scope, Scope::Namespaced);
    let collection_delete = caps.supports_operation(verbs::DELETE_COLLECTION);
    let deletable = collection_delete || caps.supports_operation(verbs::DELETE);
    (namespaced && deletable && caps.supports_operation(verbs::LIST)).then_some(Resource {
        api,
        collection_delete,
    })
}

/// Requests the deletion of everything in `namespace` and reports what is still there.
pub async fn sweep(client: &Client, namespace: &str, resources: Vec<Resource>) -> Sweep {
    let outcomes: Vec<_> = stream::iter(resources)
        .map(|resource| {
            let api =
                Api::<DynamicObject>::namespaced_with(client.clone(), namespace, &resource.api);
            async move {
                let outcome = empty(&api, &resource).await;
                (resource, outcome)
            }
        })
        .buffer_unordered(CONCURRENT_RESOURCES)
        .collect()
        .await;
    let mut sweep = Sweep::default();
    for (resource, outcome) in outcomes {
        sweep.add(&resource, outcome);
    }
    sweep
}

/// Deletes every object of one resource (background propagation, as upstream does) and
/// lists what stays: objects held by finalizers or still shutting down.
async fn empty(
    api: &Api<DynamicObject>,
    resource: &Resource,
) -> Result<Vec<Leftover>, kube::Error> {
    if leftovers(api).await?.is_empty() {
        return Ok(Vec::new());
    }
    if resource.collection_delete {
        ignore_unserved(
            api.delete_collection(&DeleteParams::background(), &ListParams::default())
                .await
                .map(drop),
        )?;
    } else {
        delete_one_by_one(api).await?;
    }
    tracing::debug!(resource = %resource.label(), "deleted the collection");
    leftovers(api).await
}

async fn delete_one_by_one(api: &Api<DynamicObject>) -> Result<(), kube::Error> {
    let list = ignore_unserved(api.list_metadata(&ListParams::default()).await.map(Some))?;
    let names = list.into_iter().flatten().map(|o| o.name_any());
    stream::iter(names.map(Ok))
        .try_for_each(|name| async move {
            let deleted = api
                .delete(&name, &DeleteParams::background())
                .await
                .map(drop);
            tracing::debug!(object = %name, "deleted");
            ignore_unserved(deleted)
        })
        .await
}

async fn leftovers(api: &Api<DynamicObject>) -> Result<Vec<Leftover>, kube::Error> {
    let list = ignore_unserved(api.list_metadata(&ListParams::default()).await.map(Some))?;
    Ok(list
        .into_iter()
        .flatten()
        .map(|object| Leftover {
            finalizers: object.finalizers().to_vec(),
        })
        .collect())
}

/// Treats "not found" and "method not allowed" as nothing to do: an object or a
/// resource that went away between discovery and the request.
fn ignore_unserved<T: Default>(result: Result<T, kube::Error>) -> Result<T, kube::Error> {
    match result {
        Err(kube::Error::Api(status)) if matches!(status.code, 404 | 405) => Ok(T::default()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(scope: Scope, verbs: &[&str]) -> ApiCapabilities {
        ApiCapabilities {
            scope,
            subresources: Vec::new(),
            operations: verbs.iter().map(|v| v.to_string()).collect(),
        }
    }

    fn api(group: &str, plural: &str) -> ApiResource {
        ApiResource {
            group: group.into(),
            version: "v1".into(),
            api_version: if group.is_empty() {
                "v1".into()
            } else {
                format!("{group}/v1")
            },
            kind: "Thing".into(),
            plural: plural.into(),
        }
    }

    fn resource(plural: &str) -> Resource {
        Resource {
            api: api("", plural),
            collection_delete: true,
        }
    }

    #[test]
    fn labels_name_the_group_after_the_plural_except_for_the_core_group() {
        assert_eq!(resource("configmaps").label(), "configmaps");
        let deployments = Resource {
            api: api("apps", "deployments"),
            collection_delete: true,
        };
        assert_eq!(deployments.label(), "deployments.apps");
    }

    #[test]
    fn cluster_scoped_resources_are_not_swept() {
        let all = caps(Scope::Cluster, &["list", "delete", "deletecollection"]);
        assert!(deletable(api("", "nodes"), &all).is_none());
    }

    #[test]
    fn resources_without_list_or_delete_are_not_swept() {
        let read_only = caps(Scope::Namespaced, &["get", "list", "watch"]);
        assert!(deletable(api("", "things"), &read_only).is_none());
        let unlistable = caps(Scope::Namespaced, &["create", "delete", "deletecollection"]);
        assert!(deletable(api("", "bindings"), &unlistable).is_none());
    }

    #[test]
    fn resources_without_deletecollection_are_deleted_one_by_one() {
        let one_by_one = caps(Scope::Namespaced, &["list", "delete"]);
        let found = deletable(api("", "things"), &one_by_one).expect("sweepable");
        assert!(!found.collection_delete);
        let collection = caps(Scope::Namespaced, &["list", "deletecollection"]);
        let found = deletable(api("", "things"), &collection).expect("sweepable");
        assert!(found.collection_delete);
    }

    #[test]
    fn a_sweep_counts_objects_per_resource_and_per_finalizer() {
        let mut sweep = Sweep::default();
        let held = |f: &[&str]| Leftover {
            finalizers: f.iter().map(|s| s.to_string()).collect(),
        };
        sweep.add(&resource("configmaps"), Ok(vec![held(&["a/x"]), held(&[])]));
        sweep.add(&resource("secrets"), Ok(vec![held(&["a/x", "b/y"])]));
        sweep.add(&resource("pods"), Ok(Vec::new()));
        assert_eq!(
            sweep.remaining,
            BTreeMap::from([("configmaps".into(), 2), ("secrets".into(), 1)])
        );
        assert_eq!(
            sweep.finalizers,
            BTreeMap::from([("a/x".into(), 2), ("b/y".into(), 1)])
        );
        assert!(!sweep.is_clean());
    }

    #[test]
    fn a_sweep_with_a_failure_is_not_clean() {
        let mut sweep = Sweep::default();
        let gone = kube::Error::LinesCodecMaxLineLengthExceeded;
        sweep.add(&resource("configmaps"), Err(gone));
        assert!(sweep.remaining.is_empty());
        assert!(!sweep.is_clean());
        assert_eq!(sweep.failures[0].resource, "configmaps");
    }

    #[test]
    fn not_found_and_method_not_allowed_mean_nothing_to_do() {
        let status = |code| {
            kube::Error::Api(Box::new(kube::core::Status {
                code,
                ..Default::default()
            }))
        };
        assert_eq!(ignore_unserved::<u8>(Err(status(404))).ok(), Some(0));
        assert_eq!(ignore_unserved::<u8>(Err(status(405))).ok(), Some(0));
        assert!(ignore_unserved::<u8>(Err(status(500))).is_err());
    }
}
