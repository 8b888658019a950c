//! Strategic-merge-patch metadata of the built-in types, which k8s-openapi's schemas lack.
//!
//! Clients such as `kubectl apply` read `x-kubernetes-patch-strategy` and
//! `x-kubernetes-patch-merge-key` from the OpenAPI v3 schemas to compute a strategic merge
//! patch; without them every list would be replaced whole. The entries are the
//! `patchStrategy`/`patchMergeKey` struct tags of the upstream v1.35 API types.

use serde_json::{Map, Value};

/// One field's patch metadata: upstream definition name, JSON field name, strategy and
/// merge key (absent for lists of scalars and for `retainKeys` on objects).
pub struct PatchMeta {
    pub definition: &'static str,
    pub field: &'static str,
    pub strategy: &'static str,
    pub merge_key: Option<&'static str>,
}

const fn m(
    definition: &'static str,
    field: &'static str,
    strategy: &'static str,
    merge_key: Option<&'static str>,
) -> PatchMeta {
    PatchMeta {
        definition,
        field,
        strategy,
        merge_key,
    }
}

const MERGE: &str = "merge";
const MERGE_RETAIN: &str = "merge,retainKeys";

/// Every field of the built-in types that is not replaced whole by a strategic merge patch.
#[rustfmt::skip]
pub const PATCH_META: &[PatchMeta] = &[
    m("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers", MERGE, None),
    m("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "ownerReferences", MERGE, Some("uid")),
    m("io.k8s.api.core.v1.PersistentVolumeClaimStatus", "conditions", MERGE, Some("type")),
    m("io.k8s.api.core.v1.Container", "ports", MERGE, Some("containerPort")),
    m("io.k8s.api.core.v1.Container", "env", MERGE, Some("name")),
    m("io.k8s.api.core.v1.Container", "volumeMounts", MERGE, Some("mountPath")),
    m("io.k8s.api.core.v1.Container", "volumeDevices", MERGE, Some("devicePath")),
    m("io.k8s.api.core.v1.ContainerStatus", "volumeMounts", MERGE, Some("mountPath")),
    m("io.k8s.api.core.v1.ContainerStatus", "allocatedResourcesStatus", MERGE, Some("name")),
    m("io.k8s.api.core.v1.EphemeralContainer", "ports", MERGE, Some("containerPort")),
    m("io.k8s.api.core.v1.EphemeralContainer", "env", MERGE, Some("name")),
    m("io.k8s.api.core.v1.EphemeralContainer", "volumeMounts", MERGE, Some("mountPath")),
    m("io.k8s.api.core.v1.EphemeralContainer", "volumeDevices", MERGE, Some("devicePath")),
    m("io.k8s.api.core.v1.PodSpec", "volumes", MERGE_RETAIN, Some("name")),
    m("io.k8s.api.core.v1.PodSpec", "initContainers", MERGE, Some("name")),
    m("io.k8s.api.core.v1.PodSpec", "containers", MERGE, Some("name")),
    m("io.k8s.api.core.v1.PodSpec", "ephemeralContainers", MERGE, Some("name")),
    m("io.k8s.api.core.v1.PodSpec", "imagePullSecrets", MERGE, Some("name")),
    m("io.k8s.api.core.v1.PodSpec", "hostAliases", MERGE, Some("ip")),
    m("io.k8s.api.core.v1.PodSpec", "topologySpreadConstraints", MERGE, Some("topologyKey")),
    m("io.k8s.api.core.v1.PodSpec", "schedulingGates", MERGE, Some("name")),
    m("io.k8s.api.core.v1.PodSpec", "resourceClaims", MERGE_RETAIN, Some("name")),
    m("io.k8s.api.core.v1.PodStatus", "conditions", MERGE, Some("type")),
    m("io.k8s.api.core.v1.PodStatus", "hostIPs", MERGE, Some("ip")),
    m("io.k8s.api.core.v1.PodStatus", "podIPs", MERGE, Some("ip")),
    m("io.k8s.api.core.v1.PodStatus", "resourceClaimStatuses", MERGE_RETAIN, Some("name")),
    m("io.k8s.api.core.v1.ReplicationControllerStatus", "conditions", MERGE, Some("type")),
    m("io.k8s.api.core.v1.ServiceStatus", "conditions", MERGE, Some("type")),
    m("io.k8s.api.core.v1.ServiceSpec", "ports", MERGE, Some("port")),
    m("io.k8s.api.core.v1.ServiceAccount", "secrets", MERGE, Some("name")),
    m("io.k8s.api.core.v1.NodeSpec", "podCIDRs", MERGE, None),
    m("io.k8s.api.core.v1.NodeStatus", "conditions", MERGE, Some("type")),
    m("io.k8s.api.core.v1.NodeStatus", "addresses", MERGE, Some("type")),
    m("io.k8s.api.core.v1.NamespaceStatus", "conditions", MERGE, Some("type")),
    m("io.k8s.api.core.v1.ComponentStatus", "conditions", MERGE, Some("type")),
    m("io.k8s.api.apps.v1.StatefulSetStatus", "conditions", MERGE, Some("type")),
    m("io.k8s.api.apps.v1.DeploymentSpec", "strategy", "retainKeys", None),
    m("io.k8s.api.apps.v1.DeploymentStatus", "conditions", MERGE, Some("type")),
    m("io.k8s.api.apps.v1.DaemonSetStatus", "conditions", MERGE, Some("type")),
    m("io.k8s.api.apps.v1.ReplicaSetStatus", "conditions", MERGE, Some("type")),
    m("io.k8s.api.batch.v1.JobStatus", "conditions", MERGE, Some("type")),
    m("io.k8s.api.policy.v1.PodDisruptionBudgetSpec", "selector", "replace", None),
    m("io.k8s.api.policy.v1.PodDisruptionBudgetStatus", "conditions", MERGE, Some("type")),
    m("io.k8s.api.storage.v1.CSINodeSpec", "drivers", MERGE, Some("name")),
];

/// The patch metadata of one field, if it has any.
pub fn lookup(definition: &str, field: &str) -> Option<&'static PatchMeta> {
    PATCH_META
        .iter()
        .find(|m| m.definition == definition && m.field == field)
}

/// Adds the patch extensions to the properties of `definition` that have metadata.
pub(super) fn annotate(definition: &str, schema: &mut Value) {
    let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for meta in PATCH_META.iter().filter(|m| m.definition == definition) {
        if let Some(Value::Object(property)) = properties.get_mut(meta.field) {
            insert_extensions(property, meta);
        }
    }
}

fn insert_extensions(property: &mut Map<String, Value>, meta: &PatchMeta) {
    if let Some(key) = meta.merge_key {
        property.insert("x-kubernetes-patch-merge-key".into(), key.into());
    }
    property.insert("x-kubernetes-patch-strategy".into(), meta.strategy.into());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_merge_by_name() {
        let meta = lookup("io.k8s.api.core.v1.PodSpec", "containers").unwrap();
        assert_eq!((meta.strategy, meta.merge_key), ("merge", Some("name")));
        assert!(lookup("io.k8s.api.core.v1.PodSpec", "tolerations").is_none());
    }

    #[test]
    fn annotate_marks_only_existing_properties() {
        let mut schema = serde_json::json!({
            "properties": {"containers": {"type": "array"}, "nodeName": {"type": "string"}}
        });
        annotate("io.k8s.api.core.v1.PodSpec", &mut schema);
        let containers = &schema["properties"]["containers"];
        assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        assert!(schema["properties"].get("volumes").is_none());
        assert!(
            schema["properties"]["nodeName"]
                .get("x-kubernetes-patch-strategy")
                .is_none()
        );
    }
}
