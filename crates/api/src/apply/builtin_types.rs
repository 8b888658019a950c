//! How server-side apply treats the fields of the built-in types, which k8s-openapi's
//! schemas do not say: the `+listType`, `+listMapKey`, `+mapType` and `+structType`
//! markers of the upstream v1.35 API types (k8s.io/api, apimachinery's meta/v1 and
//! apiextensions/v1), and the `+default` values of list-map key fields.
//!
//! Lists not named here are atomic, maps and structs granular.

/// A list-map key field and its schema default, which stands in for a missing key value.
pub(super) type KeyField = (&'static str, Option<&'static str>);

/// Lists owned item by item: definition, field and key fields (none for sets).
#[rustfmt::skip]
pub(super) const ASSOCIATIVE_LISTS: &[(&str, &str, &[KeyField])] = &[
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers", &[]),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "ownerReferences", &[("uid", None)]),
    ("io.k8s.api.apps.v1.DaemonSetStatus", "conditions", &[("type", None)]),
    ("io.k8s.api.apps.v1.DeploymentStatus", "conditions", &[("type", None)]),
    ("io.k8s.api.apps.v1.ReplicaSetStatus", "conditions", &[("type", None)]),
    ("io.k8s.api.apps.v1.StatefulSetStatus", "conditions", &[("type", None)]),
    ("io.k8s.api.batch.v1.PodFailurePolicyOnExitCodesRequirement", "values", &[]),
    ("io.k8s.api.batch.v1.UncountedTerminatedPods", "succeeded", &[]),
    ("io.k8s.api.batch.v1.UncountedTerminatedPods", "failed", &[]),
    ("io.k8s.api.core.v1.ComponentStatus", "conditions", &[("type", None)]),
    ("io.k8s.api.core.v1.Container", "ports", &[("containerPort", None), ("protocol", Some("TCP"))]),
    ("io.k8s.api.core.v1.Container", "env", &[("name", None)]),
    ("io.k8s.api.core.v1.Container", "volumeMounts", &[("mountPath", None)]),
    ("io.k8s.api.core.v1.Container", "volumeDevices", &[("devicePath", None)]),
    ("io.k8s.api.core.v1.ContainerRestartRuleOnExitCodes", "values", &[]),
    ("io.k8s.api.core.v1.ContainerStatus", "volumeMounts", &[("mountPath", None)]),
    ("io.k8s.api.core.v1.ContainerStatus", "allocatedResourcesStatus", &[("name", None)]),
    ("io.k8s.api.core.v1.EphemeralContainer", "ports", &[("containerPort", None), ("protocol", Some("TCP"))]),
    ("io.k8s.api.core.v1.EphemeralContainer", "env", &[("name", None)]),
    ("io.k8s.api.core.v1.EphemeralContainer", "volumeMounts", &[("mountPath", None)]),
    ("io.k8s.api.core.v1.EphemeralContainer", "volumeDevices", &[("devicePath", None)]),
    ("io.k8s.api.core.v1.NamespaceStatus", "conditions", &[("type", None)]),
    ("io.k8s.api.core.v1.NodeSpec", "podCIDRs", &[]),
    ("io.k8s.api.core.v1.NodeStatus", "conditions", &[("type", None)]),
    ("io.k8s.api.core.v1.NodeStatus", "addresses", &[("type", None)]),
    ("io.k8s.api.core.v1.PersistentVolumeClaimStatus", "conditions", &[("type", None)]),
    ("io.k8s.api.core.v1.PodSpec", "volumes", &[("name", None)]),
    ("io.k8s.api.core.v1.PodSpec", "initContainers", &[("name", None)]),
    ("io.k8s.api.core.v1.PodSpec", "containers", &[("name", None)]),
    ("io.k8s.api.core.v1.PodSpec", "ephemeralContainers", &[("name", None)]),
    ("io.k8s.api.core.v1.PodSpec", "imagePullSecrets", &[("name", Some(""))]),
    ("io.k8s.api.core.v1.PodSpec", "hostAliases", &[("ip", None)]),
    ("io.k8s.api.core.v1.PodSpec", "topologySpreadConstraints", &[("topologyKey", None), ("whenUnsatisfiable", None)]),
    ("io.k8s.api.core.v1.PodSpec", "schedulingGates", &[("name", None)]),
    ("io.k8s.api.core.v1.PodSpec", "resourceClaims", &[("name", None)]),
    ("io.k8s.api.core.v1.PodStatus", "conditions", &[("type", None)]),
    ("io.k8s.api.core.v1.PodStatus", "podIPs", &[("ip", None)]),
    ("io.k8s.api.core.v1.PodStatus", "resourceClaimStatuses", &[("name", None)]),
    ("io.k8s.api.core.v1.ReplicationControllerStatus", "conditions", &[("type", None)]),
    ("io.k8s.api.core.v1.ResourceRequirements", "claims", &[("name", None)]),
    ("io.k8s.api.core.v1.ResourceStatus", "resources", &[("resourceID", None)]),
    ("io.k8s.api.core.v1.ServiceAccount", "secrets", &[("name", None)]),
    ("io.k8s.api.core.v1.ServiceSpec", "ports", &[("port", None), ("protocol", Some("TCP"))]),
    ("io.k8s.api.core.v1.ServiceStatus", "conditions", &[("type", None)]),
    ("io.k8s.api.discovery.v1.Endpoint", "addresses", &[]),
    ("io.k8s.api.policy.v1.PodDisruptionBudgetStatus", "conditions", &[("type", None)]),
    ("io.k8s.api.storage.v1.CSIDriverSpec", "volumeLifecycleModes", &[]),
    ("io.k8s.api.storage.v1.CSINodeSpec", "drivers", &[("name", None)]),
    ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionStatus", "conditions", &[("type", None)]),
    ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps", "x-kubernetes-validations", &[("rule", None)]),
];

/// Types owned as a whole wherever they appear (`+structType=atomic`).
pub(super) const ATOMIC_TYPES: &[&str] = &[
    "io.k8s.api.core.v1.SecretReference",
    "io.k8s.api.core.v1.FileKeySelector",
    "io.k8s.api.core.v1.ObjectFieldSelector",
    "io.k8s.api.core.v1.ResourceFieldSelector",
    "io.k8s.api.core.v1.ConfigMapKeySelector",
    "io.k8s.api.core.v1.SecretKeySelector",
    "io.k8s.api.core.v1.NodeSelector",
    "io.k8s.api.core.v1.NodeSelectorTerm",
    "io.k8s.api.core.v1.TopologySelectorTerm",
    "io.k8s.api.core.v1.EndpointAddress",
    "io.k8s.api.core.v1.EndpointPort",
    "io.k8s.api.core.v1.ObjectReference",
    "io.k8s.api.core.v1.LocalObjectReference",
    "io.k8s.api.core.v1.TypedLocalObjectReference",
    "io.k8s.api.core.v1.ScopeSelector",
    "io.k8s.api.discovery.v1.EndpointPort",
    "io.k8s.api.autoscaling.v1.CrossVersionObjectReference",
    "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference",
    "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
];

/// Free-form types upstream's schema conversion treats as atomic whatever they hold.
pub(super) const UNTYPED_ATOMIC_TYPES: &[&str] = &["io.k8s.apimachinery.pkg.runtime.RawExtension"];

/// Map fields owned as a whole (`+mapType=atomic`).
pub(super) const ATOMIC_MAP_FIELDS: &[(&str, &str)] = &[
    ("io.k8s.api.core.v1.PodSpec", "nodeSelector"),
    ("io.k8s.api.core.v1.ReplicationControllerSpec", "selector"),
    ("io.k8s.api.core.v1.ServiceSpec", "selector"),
];

/// Fields of an atomic type that are nonetheless owned field by field
/// (`+structType=granular`).
pub(super) const GRANULAR_STRUCT_FIELDS: &[(&str, &str)] =
    &[("io.k8s.api.core.v1.PersistentVolumeSpec", "claimRef")];

/// The key fields of a list field, `Some(&[])` for sets, `None` for atomic lists.
pub(super) fn associative_list(definition: &str, field: &str) -> Option<&'static [KeyField]> {
    ASSOCIATIVE_LISTS
        .iter()
        .find(|(d, f, _)| *d == definition && *f == field)
        .map(|(_, _, keys)| *keys)
}
