//! The catalogue of resources the API serves: their group, version, kind, scope,
//! names, categories and subresources, as upstream's discovery documents them.

use std::sync::Arc;

/// A subresource served under `/<resource>/<name>/<subresource>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subresource {
    /// `status`: get, update and patch of `.status` only.
    Status,
    /// `scale`: an autoscaling/v1 Scale view of `.spec.replicas`.
    Scale,
    /// `binding` (pods only): create a Binding that sets `.spec.nodeName`.
    Binding,
    /// `finalize` (namespaces only): update of `.spec.finalizers`, which the namespace
    /// controller empties once the namespace's content is gone.
    Finalize,
}

impl Subresource {
    pub fn name(self) -> &'static str {
        match self {
            Subresource::Status => "status",
            Subresource::Scale => "scale",
            Subresource::Binding => "binding",
            Subresource::Finalize => "finalize",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "status" => Some(Subresource::Status),
            "scale" => Some(Subresource::Scale),
            "binding" => Some(Subresource::Binding),
            "finalize" => Some(Subresource::Finalize),
            _ => None,
        }
    }
}

/// One resource of one group-version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceInfo {
    /// API group, empty for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    /// Lower-case plural used in URLs (`pods`).
    pub plural: String,
    /// Lower-case singular (`pod`).
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub subresources: Vec<Subresource>,
    /// The definition behind a custom resource; `None` for built-in resources.
    pub custom: Option<Arc<CustomResource>>,
}

/// What the API needs to serve one version of a custom resource: its definition, parsed
/// once when the definition is served.
#[derive(Debug)]
pub struct CustomResource {
    /// The CustomResourceDefinition, as stored.
    pub crd: serde_json::Value,
    pub info: crate::crd::CrdInfo,
    /// The served version this resource stands for.
    pub version: crate::crd::CrdVersion,
    /// The version's structural schema (absent only for definitions stored without one).
    pub schema: Option<crate::crd::StructuralSchema>,
    /// The version objects are stored at; every served version shares the stored objects
    /// (conversion strategy None: only `apiVersion` differs).
    pub storage_version: String,
}

impl CustomResource {
    /// The served `version` of a definition, or `None` when the definition has no such
    /// version.
    pub fn new(crd: &serde_json::Value, version: &str) -> Option<Self> {
        let info = crate::crd::CrdInfo::from_value(crd);
        let served = info.version(version)?.clone();
        let schema = served.structural_schema().map(|s| {
            s.unwrap_or_else(|_| {
                crate::crd::StructuralSchema::parse_unchecked(
                    served.schema.as_ref().unwrap_or(&serde_json::Value::Null),
                )
            })
        });
        let storage_version = info.storage_version().map(|v| v.name.clone())?;
        Some(CustomResource {
            crd: crd.clone(),
            info,
            version: served,
            schema,
            storage_version,
        })
    }

    /// Whether the definition is being deleted (new objects are then refused).
    pub fn terminating(&self) -> bool {
        self.crd
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|t| !t.is_null())
    }
}

impl PartialEq for CustomResource {
    fn eq(&self, other: &Self) -> bool {
        self.crd == other.crd && self.version.name == other.version.name
    }
}

impl Eq for CustomResource {}

impl ResourceInfo {
    /// `v1` for the core group, `group/version` otherwise.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// `pods` for the core group, `deployments.apps` otherwise (upstream's GroupResource).
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub fn has_subresource(&self, sub: Subresource) -> bool {
        self.subresources.contains(&sub)
    }

    /// Key prefix of every object of this resource in the store, ending in `/`.
    pub fn storage_prefix(&self) -> String {
        let group = if self.group.is_empty() {
            "core"
        } else {
            &self.group
        };
        format!("/registry/{group}/{}/", self.plural)
    }

    /// Store key of one object.
    pub fn storage_key(&self, namespace: Option<&str>, name: &str) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("{}{ns}/{name}", self.storage_prefix()),
            _ => format!("{}{name}", self.storage_prefix()),
        }
    }

    /// Store key prefix of the objects of one namespace (or all, for `None`).
    pub fn namespace_prefix(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("{}{ns}/", self.storage_prefix()),
            _ => self.storage_prefix(),
        }
    }
}

struct Builtin {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
    categories: &'static [&'static str],
    subresources: &'static [Subresource],
}

use Subresource::{Binding, Finalize, Scale, Status};

const ALL: &[&str] = &["all"];

#[rustfmt::skip]
const BUILTINS: &[Builtin] = &[
    b("", "v1", "Namespace", "namespaces", false, &["ns"], &[], &[Status, Finalize]),
    b("", "v1", "Pod", "pods", true, &["po"], ALL, &[Status, Binding]),
    b("", "v1", "Service", "services", true, &["svc"], ALL, &[Status]),
    b("", "v1", "Endpoints", "endpoints", true, &["ep"], &[], &[]),
    b("", "v1", "ConfigMap", "configmaps", true, &["cm"], &[], &[]),
    b("", "v1", "Secret", "secrets", true, &[], &[], &[]),
    b("", "v1", "ServiceAccount", "serviceaccounts", true, &["sa"], &[], &[]),
    b("", "v1", "Event", "events", true, &["ev"], &[], &[]),
    b("", "v1", "Node", "nodes", false, &["no"], &[], &[Status]),
    b("", "v1", "PersistentVolume", "persistentvolumes", false, &["pv"], &[], &[Status]),
    b("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true, &["pvc"], &[], &[Status]),
    b("", "v1", "LimitRange", "limitranges", true, &["limits"], &[], &[]),
    b("", "v1", "ResourceQuota", "resourcequotas", true, &["quota"], &[], &[Status]),
    b("apps", "v1", "Deployment", "deployments", true, &["deploy"], ALL, &[Status, Scale]),
    b("apps", "v1", "ReplicaSet", "replicasets", true, &["rs"], ALL, &[Status, Scale]),
    b("apps", "v1", "StatefulSet", "statefulsets", true, &["sts"], ALL, &[Status, Scale]),
    b("apps", "v1", "DaemonSet", "daemonsets", true, &["ds"], ALL, &[Status]),
    b("apps", "v1", "ControllerRevision", "controllerrevisions", true, &[], &[], &[]),
    b("batch", "v1", "Job", "jobs", true, &[], ALL, &[Status]),
    b("batch", "v1", "CronJob", "cronjobs", true, &["cj"], ALL, &[Status]),
    b("coordination.k8s.io", "v1", "Lease", "leases", true, &[], &[], &[]),
    b("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", true, &[], &[], &[]),
    b("events.k8s.io", "v1", "Event", "events", true, &["ev"], &[], &[]),
    b("storage.k8s.io", "v1", "StorageClass", "storageclasses", false, &["sc"], &[], &[]),
    b("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true, &["pdb"], &[], &[Status]),
    b("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false, &["crd", "crds"], &["api-extensions"], &[Status]),
];

#[allow(clippy::too_many_arguments)]
const fn b(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
    categories: &'static [&'static str],
    subresources: &'static [Subresource],
) -> Builtin {
    Builtin {
        group,
        version,
        kind,
        plural,
        namespaced,
        short_names,
        categories,
        subresources,
    }
}

/// The built-in resources, in the order discovery lists them.
pub fn builtin_resources() -> Vec<Arc<ResourceInfo>> {
    BUILTINS
        .iter()
        .map(|b| {
            Arc::new(ResourceInfo {
                group: b.group.to_string(),
                version: b.version.to_string(),
                kind: b.kind.to_string(),
                plural: b.plural.to_string(),
                singular: b.kind.to_ascii_lowercase(),
                namespaced: b.namespaced,
                short_names: b.short_names.iter().map(|s| s.to_string()).collect(),
                categories: b.categories.iter().map(|s| s.to_string()).collect(),
                subresources: b.subresources.to_vec(),
                custom: None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_keys_separate_groups_and_namespaces() {
        let all = builtin_resources();
        let deploy = all.iter().find(|r| r.plural == "deployments").unwrap();
        assert_eq!(
            deploy.storage_key(Some("ns1"), "web"),
            "/registry/apps/deployments/ns1/web"
        );
        let ns = all.iter().find(|r| r.plural == "namespaces").unwrap();
        assert_eq!(
            ns.storage_key(Some("ignored"), "default"),
            "/registry/core/namespaces/default"
        );
        assert_eq!(deploy.api_version(), "apps/v1");
        assert_eq!(ns.api_version(), "v1");
    }
}
